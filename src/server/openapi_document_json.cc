#include "server/openapi_document.h"

namespace eleven::server {

std::string_view OpenApiJson() {
  std::string_view text = kOpenApiYaml;
  while (!text.empty() && text.front() == '#') {
    const size_t end = text.find('\n');
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return text;
}

}  // namespace eleven::server
