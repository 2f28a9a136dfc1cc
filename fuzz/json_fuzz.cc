// libFuzzer target: the HTTP gateway's JSON request decoder (src/server/json_decode.h) on
// arbitrary bodies for every route. It must either refuse with a code and a message, or
// produce a command whose reserved bytes are zero and whose operation matches the route.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/json_decode.h"
#include "wire/records.h"

using namespace eleven;

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

constexpr server::JsonCommand kRoutes[] = {
    server::JsonCommand::kCreateMerchant, server::JsonCommand::kCreateSku, server::JsonCommand::kRestock,
    server::JsonCommand::kSetPrice,       server::JsonCommand::kCreateDrop, server::JsonCommand::kCloseDrop,
    server::JsonCommand::kPlaceOrder,     server::JsonCommand::kPayOrder,  server::JsonCommand::kCancelOrder};
constexpr wire::Operation kOperations[] = {
    wire::Operation::kCreateMerchant, wire::Operation::kCreateSku,  wire::Operation::kRestock,
    wire::Operation::kSetPrice,       wire::Operation::kCreateDrop, wire::Operation::kCloseDrop,
    wire::Operation::kPlaceOrder,     wire::Operation::kPayOrder,   wire::Operation::kCancelOrder};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t route = data[0] % 9;
  simdjson::padded_string body(reinterpret_cast<const char*>(data + 1), size - 1);
  static simdjson::ondemand::parser parser;
  wire::Command command;
  server::JsonDecodeError error;
  if (server::DecodeJsonCommand(kRoutes[route], 77, body, &parser, &command, &error)) {
    Check(command.operation == kOperations[route]);
    const wire::Code structure = wire::CheckStructure(command);
    // Everything the decoder builds is structurally valid except a line count it passes on
    // for the engine to refuse; reserved bytes are always zero.
    Check(structure != wire::Code::reserved_nonzero && structure != wire::Code::invalid_operation);
  } else {
    Check(!error.code.empty() && !error.message.empty());
  }
  return 0;
}
