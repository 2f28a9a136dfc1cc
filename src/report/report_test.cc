#include "report/report.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace eleven::report {
namespace {

ReportAssets FakeAssets() {
  ReportAssets assets;
  assets.template_html =
      "<html><style>/*@ELEVEN_REPORT_CSS@*/</style>"
      "<script type=\"application/json\">/*@ELEVEN_SUMMARY_JSON@*/</script>"
      "<script>/*@ELEVEN_ECHARTS_JS@*/</script><script>/*@ELEVEN_REPORT_JS@*/</script></html>";
  assets.echarts_js = "var echarts = {};";
  assets.report_js = "var s = '</script><!-- /*@ELEVEN_REPORT_CSS@*/';";
  assets.report_css = "body { color: black; }";
  return assets;
}

TEST(EscapeTest, ScriptEndTagsAndCommentOpenersAreBroken) {
  EXPECT_EQ(EscapeInlineScript("a</script>b</SCRIPT >c</Style>"),
            "a<\\/script>b<\\/SCRIPT >c<\\/Style>");
  EXPECT_EQ(EscapeInlineScript("x<!--y"), "x<\\!--y");
  EXPECT_EQ(EscapeInlineScript("a < b && c </div>"), "a < b && c </div>");
  EXPECT_EQ(EscapeInlineScript("<"), "<");
  EXPECT_EQ(EscapeInlineScript(""), "");
}

TEST(EscapeTest, JsonLessThanBecomesUnicodeEscape) {
  EXPECT_EQ(EscapeInlineJson(R"({"name":"</script><b>"})"), R"({"name":"\u003c/script>\u003cb>"})");
  EXPECT_EQ(EscapeInlineJson(R"({"a":1})"), R"({"a":1})");
}

TEST(RenderTest, InlinesEveryPartOnceAndEscapes) {
  std::string html;
  ASSERT_TRUE(RenderHtmlReport(R"({"drops":[{"name":"</script>"}]})", FakeAssets(), &html).ok());
  EXPECT_NE(html.find("body { color: black; }"), std::string::npos);
  EXPECT_NE(html.find(R"({"drops":[{"name":"\u003c/script>"}]})"), std::string::npos);
  EXPECT_NE(html.find("var echarts = {};"), std::string::npos);
  // The marker text inside report.js is left alone: substitution is one pass over the template.
  EXPECT_NE(html.find("var s = '<\\/script><\\!-- /*@ELEVEN_REPORT_CSS@*/';"), std::string::npos);
  // Exactly three script closers: the template's own.
  std::size_t closers = 0;
  for (std::size_t at = html.find("</script>"); at != std::string::npos;
       at = html.find("</script>", at + 1)) {
    ++closers;
  }
  EXPECT_EQ(closers, 3u);
  EXPECT_EQ(html.find("/*@ELEVEN_SUMMARY_JSON@*/"), std::string::npos);
}

TEST(RenderTest, RefusesBadSummaries) {
  std::string html;
  const Status not_json = RenderHtmlReport("{\"totals\": ", FakeAssets(), &html);
  EXPECT_EQ(not_json.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_json.message().find("not valid JSON"), std::string::npos);
  const Status not_object = RenderHtmlReport("[1, 2]", FakeAssets(), &html);
  EXPECT_EQ(not_object.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_object.message().find("not an object"), std::string::npos);
  EXPECT_TRUE(RenderHtmlReport("{}", FakeAssets(), &html).ok());
}

TEST(RenderTest, RefusesTemplatesWithoutEachMarkerOnce) {
  std::string html;
  ReportAssets missing = FakeAssets();
  missing.template_html = "<html><script>/*@ELEVEN_REPORT_JS@*/</script></html>";
  const Status lacks = RenderHtmlReport("{}", missing, &html);
  EXPECT_EQ(lacks.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(lacks.message().find("lacks the marker"), std::string::npos);
  ReportAssets twice = FakeAssets();
  twice.template_html += "/*@ELEVEN_ECHARTS_JS@*/";
  const Status doubled = RenderHtmlReport("{}", twice, &html);
  EXPECT_NE(doubled.message().find("more than once"), std::string::npos);
}

class WebDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("eleven_report_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "report");
    const ReportAssets assets = FakeAssets();
    Write(dir_ / "report/template.html", assets.template_html);
    Write(dir_ / "report/report.js", assets.report_js);
    Write(dir_ / "report/report.css", assets.report_css);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static void Write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(WebDirTest, MissingEchartsSaysWhatToRun) {
  const Status status = WriteHtmlReport("{}", dir_.string(), (dir_ / "out.html").string());
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("npm ci --prefix web"), std::string::npos);
  EXPECT_NE(status.message().find("scripts/deps"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.html"));
}

TEST_F(WebDirTest, WritesTheWholePage) {
  std::filesystem::create_directories(dir_ / "node_modules/echarts/dist");
  Write(dir_ / "node_modules/echarts/dist/echarts.min.js", "var echarts = {};");
  const std::string out = (dir_ / "out.html").string();
  ASSERT_TRUE(WriteHtmlReport(R"({"totals":{}})", dir_.string(), out).ok());
  std::ifstream in(out, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(R"({"totals":{}})"), std::string::npos);
  EXPECT_NE(text.str().find("var echarts = {};"), std::string::npos);
  const Status bad_dir = WriteHtmlReport("{}", dir_.string(), (dir_ / "no/such/out.html").string());
  EXPECT_EQ(bad_dir.code(), StatusCode::kIOError);
}

TEST(DefaultWebDirTest, EnvironmentWins) {
  ASSERT_EQ(::setenv("ELEVEN_WEB_DIR", "/somewhere/web", 1), 0);
  EXPECT_EQ(DefaultWebDir(), "/somewhere/web");
  ASSERT_EQ(::unsetenv("ELEVEN_WEB_DIR"), 0);
  EXPECT_TRUE(DefaultWebDir().ends_with("/web"));
}

}  // namespace
}  // namespace eleven::report
