// The festival's HTML report: one self-contained file drawn from the festival's JSON summary
// (docs/festival-summary.md), with Apache ECharts, the page's script, its style and the summary
// all inlined, so it opens offline, from a mail attachment or a CI artefact, and needs no
// network when viewed.
//
// The page's parts live in web/ (web/report/template.html, report.js, report.css, and ECharts
// from npm in web/node_modules, installed by `npm ci --prefix web`). These functions only glue
// them together; what the report shows is decided by web/report/report.js.
//
// Thread-safety: every function here is reentrant; none keeps state between calls.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace eleven::report {

// Limits on what is read and written, so a wrong path (a log file, /dev/zero) fails clearly
// instead of filling memory.
inline constexpr std::size_t kSummarySizeBytesMax = std::size_t{64} << 20;
inline constexpr std::size_t kAssetSizeBytesMax = std::size_t{16} << 20;

// The markers web/report/template.html holds, each exactly once, where the parts go.
inline constexpr std::string_view kMarkerCss = "/*@ELEVEN_REPORT_CSS@*/";
inline constexpr std::string_view kMarkerSummary = "/*@ELEVEN_SUMMARY_JSON@*/";
inline constexpr std::string_view kMarkerEcharts = "/*@ELEVEN_ECHARTS_JS@*/";
inline constexpr std::string_view kMarkerReportJs = "/*@ELEVEN_REPORT_JS@*/";

// The parts of the page, as read from web_dir.
struct ReportAssets {
  std::string template_html;  // web/report/template.html
  std::string echarts_js;     // web/node_modules/echarts/dist/echarts.min.js
  std::string report_js;      // web/report/report.js
  std::string report_css;     // web/report/report.css
};

// Reads the parts from web_dir. FailedPrecondition, naming the command to run, when ECharts
// has not been installed (`npm ci --prefix web`, done by scripts/deps); NotFound or IOError
// for the others.
Status LoadReportAssets(const std::string& web_dir, ReportAssets* assets);

// Builds the page in *html from the summary (which must be a JSON object: InvalidArgument
// otherwise, with simdjson's reason) and the parts (InvalidArgument when the template does not
// hold each marker exactly once). Inlined text is escaped so that it cannot end its
// <script>/<style> element early.
Status RenderHtmlReport(std::string_view summary_json, const ReportAssets& assets,
                        std::string* html);

// LoadReportAssets + RenderHtmlReport, then writes out_path whole (through a temporary file in
// the same directory renamed into place, so a reader never sees half a report).
Status WriteHtmlReport(std::string_view summary_json, const std::string& web_dir,
                       const std::string& out_path);

// $ELEVEN_WEB_DIR if set and not empty, else the source tree's web/ (fixed at compile time).
std::string DefaultWebDir();

// Escapes text inlined into a <script> or <style> element: every "</" that starts
// "</script" or "</style" (any case) becomes "<\/", and "<!--" becomes "<\!--", which is the
// same text to JavaScript strings, regular expressions and CSS, but not to the HTML parser.
std::string EscapeInlineScript(std::string_view text);

// Escapes JSON inlined into <script type="application/json">: every '<' becomes \u003c, which
// JSON.parse reads back as '<' (a '<' can only stand inside a JSON string).
std::string EscapeInlineJson(std::string_view json);

}  // namespace eleven::report
