#include "report/report.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>

#ifndef ELEVEN_SOURCE_DIR
#error "ELEVEN_SOURCE_DIR must be defined by src/report/CMakeLists.txt"
#endif

namespace eleven::report {
namespace {

constexpr std::string_view kEchartsRelativePath = "node_modules/echarts/dist/echarts.min.js";
constexpr std::string_view kInstallHint =
    "run scripts/deps, or `npm ci --prefix web` in the source tree (needs node and npm), "
    "or point ELEVEN_WEB_DIR at a web/ folder where it has been run";

std::string ErrnoText(int error_number) { return std::strerror(error_number); }

// Reads the whole of a regular file of at most size_bytes_max bytes into *contents.
Status ReadFileBounded(const std::string& path, std::size_t size_bytes_max, std::string* contents) {
  assert(contents != nullptr);
  assert(size_bytes_max > 0);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error_number = errno;
    if (error_number == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": " + ErrnoText(error_number));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": not a regular file");
  }
  if (static_cast<std::size_t>(info.st_size) > size_bytes_max) {
    ::close(fd);
    return Status::InvalidArgument(path + ": " + std::to_string(info.st_size) +
                                   " bytes, more than the limit of " +
                                   std::to_string(size_bytes_max));
  }
  contents->resize(static_cast<std::size_t>(info.st_size));
  std::size_t done_bytes = 0;
  // Bounded: each pass reads at least one byte or leaves the loop.
  while (done_bytes < contents->size()) {
    const ssize_t n = ::read(fd, contents->data() + done_bytes, contents->size() - done_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error_number = n < 0 ? errno : 0;
      ::close(fd);
      return Status::IOError(path + ": short read" +
                             (error_number != 0 ? ": " + ErrnoText(error_number) : ""));
    }
    done_bytes += static_cast<std::size_t>(n);
  }
  ::close(fd);
  assert(done_bytes == contents->size());
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  std::size_t done_bytes = 0;
  while (done_bytes < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done_bytes, data.size() - done_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(path + ": write: " + ErrnoText(errno));
    done_bytes += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

// Writes data to a temporary file beside path, then renames it over path.
Status WriteFileWhole(const std::string& path, std::string_view data) {
  assert(!path.empty());
  const std::string temporary_path = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(temporary_path + ": " + ErrnoText(errno));
  Status status = WriteAll(fd, data, temporary_path);
  if (::close(fd) != 0 && status.ok()) {
    status = Status::IOError(temporary_path + ": close: " + ErrnoText(errno));
  }
  if (status.ok() && ::rename(temporary_path.c_str(), path.c_str()) != 0) {
    status = Status::IOError(path + ": rename: " + ErrnoText(errno));
  }
  if (!status.ok()) ::unlink(temporary_path.c_str());
  return status;
}

// True when text at index starts with word, ignoring ASCII case.
bool StartsWithNoCase(std::string_view text, std::size_t index, std::string_view word) {
  if (text.size() - index < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = text[index + i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != word[i]) return false;
  }
  return true;
}

Status CheckSummaryIsObject(std::string_view summary_json) {
  if (summary_json.size() > kSummarySizeBytesMax) {
    return Status::InvalidArgument("summary of " + std::to_string(summary_json.size()) +
                                   " bytes is over the limit of " +
                                   std::to_string(kSummarySizeBytesMax));
  }
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(summary_json.data(), summary_json.size());
  simdjson::dom::element root;
  const simdjson::error_code error = parser.parse(padded).get(root);
  if (error != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("summary is not valid JSON: ") +
                                   simdjson::error_message(error));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return Status::InvalidArgument("summary is JSON but not an object (docs/festival-summary.md)");
  }
  return Status::Ok();
}

struct Part {
  std::string_view marker;
  std::string text;  // already escaped
  std::size_t position = 0;
};

// Finds each part's marker in the template, which must hold it exactly once.
Status LocateMarkers(std::string_view template_html, std::span<Part> parts) {
  for (Part& part : parts) {
    const std::size_t first = template_html.find(part.marker);
    if (first == std::string_view::npos) {
      return Status::InvalidArgument("report template lacks the marker " +
                                     std::string(part.marker));
    }
    if (template_html.find(part.marker, first + 1) != std::string_view::npos) {
      return Status::InvalidArgument("report template holds the marker " +
                                     std::string(part.marker) + " more than once");
    }
    part.position = first;
  }
  return Status::Ok();
}

}  // namespace

std::string EscapeInlineScript(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    escaped.push_back(c);
    if (c != '<') continue;
    if (StartsWithNoCase(text, i + 1, "/script") || StartsWithNoCase(text, i + 1, "/style") ||
        StartsWithNoCase(text, i + 1, "!--")) {
      escaped.push_back('\\');
    }
  }
  assert(escaped.size() >= text.size());
  return escaped;
}

std::string EscapeInlineJson(std::string_view json) {
  constexpr std::string_view kEscapedLess = "\\u003c";
  std::string escaped;
  escaped.reserve(json.size() + 16);
  for (const char c : json) {
    if (c == '<') {
      escaped.append(kEscapedLess);
    } else {
      escaped.push_back(c);
    }
  }
  assert(escaped.find('<') == std::string::npos);
  return escaped;
}

Status LoadReportAssets(const std::string& web_dir, ReportAssets* assets) {
  assert(assets != nullptr);
  if (web_dir.empty()) return Status::InvalidArgument("web directory is empty");
  const std::string echarts_path = web_dir + "/" + std::string(kEchartsRelativePath);
  const Status echarts = ReadFileBounded(echarts_path, kAssetSizeBytesMax, &assets->echarts_js);
  if (echarts.code() == StatusCode::kNotFound) {
    return Status::FailedPrecondition("Apache ECharts is not installed (" + echarts_path +
                                      " is missing): " + std::string(kInstallHint));
  }
  ELEVEN_RETURN_IF_ERROR(echarts);
  const std::string page_dir = web_dir + "/report/";
  ELEVEN_RETURN_IF_ERROR(
      ReadFileBounded(page_dir + "template.html", kAssetSizeBytesMax, &assets->template_html));
  ELEVEN_RETURN_IF_ERROR(
      ReadFileBounded(page_dir + "report.js", kAssetSizeBytesMax, &assets->report_js));
  ELEVEN_RETURN_IF_ERROR(
      ReadFileBounded(page_dir + "report.css", kAssetSizeBytesMax, &assets->report_css));
  return Status::Ok();
}

Status RenderHtmlReport(std::string_view summary_json, const ReportAssets& assets,
                        std::string* html) {
  assert(html != nullptr);
  ELEVEN_RETURN_IF_ERROR(CheckSummaryIsObject(summary_json));
  std::array<Part, 4> parts = {{
      {kMarkerCss, EscapeInlineScript(assets.report_css)},
      {kMarkerSummary, EscapeInlineJson(summary_json)},
      {kMarkerEcharts, EscapeInlineScript(assets.echarts_js)},
      {kMarkerReportJs, EscapeInlineScript(assets.report_js)},
  }};
  ELEVEN_RETURN_IF_ERROR(LocateMarkers(assets.template_html, parts));
  // One pass over the template in marker order, so inlined text is never searched for markers.
  std::sort(parts.begin(), parts.end(),
            [](const Part& a, const Part& b) { return a.position < b.position; });
  std::size_t size_bytes = assets.template_html.size();
  for (const Part& part : parts) size_bytes += part.text.size();
  html->clear();
  html->reserve(size_bytes);
  std::size_t copied_up_to = 0;
  for (const Part& part : parts) {
    assert(part.position >= copied_up_to);  // markers cannot overlap: each is found once
    html->append(assets.template_html, copied_up_to, part.position - copied_up_to);
    html->append(part.text);
    copied_up_to = part.position + part.marker.size();
  }
  html->append(assets.template_html, copied_up_to);
  assert(html->size() <= size_bytes);
  return Status::Ok();
}

Status WriteHtmlReport(std::string_view summary_json, const std::string& web_dir,
                       const std::string& out_path) {
  if (out_path.empty()) return Status::InvalidArgument("report path is empty");
  ReportAssets assets;
  ELEVEN_RETURN_IF_ERROR(LoadReportAssets(web_dir, &assets));
  std::string html;
  ELEVEN_RETURN_IF_ERROR(RenderHtmlReport(summary_json, assets, &html));
  return WriteFileWhole(out_path, html);
}

std::string DefaultWebDir() {
  const char* from_environment = std::getenv("ELEVEN_WEB_DIR");
  if (from_environment != nullptr && from_environment[0] != '\0') return from_environment;
  return ELEVEN_SOURCE_DIR "/web";
}

}  // namespace eleven::report
