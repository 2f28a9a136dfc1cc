// eleven_report_tool SUMMARY.json OUT.html: regenerates the festival's HTML report from a kept
// summary (docs/festival-summary.md). The page's parts come from $ELEVEN_WEB_DIR, else the
// source tree's web/.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "report/report.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int Run(const std::string& summary_path, const std::string& out_path) {
  std::ifstream in(summary_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "eleven_report_tool: cannot open %s\n", summary_path.c_str());
    return kExitFailure;
  }
  std::string summary;
  // Read at most one byte more than the limit so an oversized file is refused, not truncated.
  summary.resize(eleven::report::kSummarySizeBytesMax + 1);
  in.read(summary.data(), static_cast<std::streamsize>(summary.size()));
  if (in.bad()) {
    std::fprintf(stderr, "eleven_report_tool: cannot read %s\n", summary_path.c_str());
    return kExitFailure;
  }
  summary.resize(static_cast<std::size_t>(in.gcount()));
  const std::string web_dir = eleven::report::DefaultWebDir();
  const eleven::Status status = eleven::report::WriteHtmlReport(summary, web_dir, out_path);
  if (!status.ok()) {
    std::fprintf(stderr, "eleven_report_tool: %s\n", status.ToString().c_str());
    return kExitFailure;
  }
  std::printf("eleven: report written to %s\n", out_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: eleven_report_tool SUMMARY.json OUT.html\n"
                 "  builds the festival's self-contained HTML report from its JSON summary\n"
                 "  (web parts from $ELEVEN_WEB_DIR, default %s)\n",
                 eleven::report::DefaultWebDir().c_str());
    return kExitUsage;
  }
  return Run(argv[1], argv[2]);
}
