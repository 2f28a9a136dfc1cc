# Writes OUT, a C++ source holding the bytes of IN (docs/openapi.yaml) as
# eleven::server::kOpenApiYaml (openapi_document.h). Run as cmake -DIN=... -DOUT=... -P.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "// Generated from docs/openapi.yaml by src/server/embed_openapi.cmake: do not edit.
#include \"server/openapi_document.h\"

namespace eleven::server {
namespace {
constexpr unsigned char kBytes[] = {
${bytes}};
}  // namespace
const std::string_view kOpenApiYaml(reinterpret_cast<const char*>(kBytes), ${size});
}  // namespace eleven::server
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
