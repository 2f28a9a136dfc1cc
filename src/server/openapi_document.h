// The API's contract, docs/openapi.yaml, built into the server (embed_openapi.cmake), which
// serves it at GET /openapi.yaml as it is and at GET /openapi.json without its first line (a
// YAML comment; the rest is JSON).
#pragma once

#include <string_view>

namespace eleven::server {

extern const std::string_view kOpenApiYaml;

// The document as JSON: kOpenApiYaml after its comment lines.
std::string_view OpenApiJson();

}  // namespace eleven::server
