// The HTTP gateway's JSON request decoder: a request body (plus the id taken from the path)
// to one command record. Strict: unknown fields, repeated fields, wrong types and values
// outside the record field's range are refused with a message naming the field; anything
// that fits the record goes to the engine, which checks the rest (and answers with a code).
// Pure (no I/O, no exceptions), so it can be fuzzed alone (fuzz/json_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "wire/records.h"

namespace eleven::server {

enum class JsonCommand : uint8_t {
  kCreateMerchant,  // POST /merchants
  kCreateSku,       // POST /skus
  kRestock,         // POST /skus/{id}/restock
  kSetPrice,        // POST /skus/{id}/price
  kCreateDrop,      // POST /drops
  kCloseDrop,       // POST /drops/{id}/close
  kPlaceOrder,      // POST /orders
  kPayOrder,        // POST /orders/{id}/pay
  kCancelOrder,     // POST /orders/{id}/cancel
};

struct JsonDecodeError {
  std::string code;     // "invalid_json", "invalid_request" or an engine code name
  std::string message;  // what was wrong, naming the field
};

// Decodes `body` (which must have simdjson::SIMDJSON_PADDING readable bytes past its end, as
// padded_string_view promises) into *out. `path_id` is the id from the path (0 if none). An
// empty body counts as {}. False with *error filled on any problem.
bool DecodeJsonCommand(JsonCommand kind, uint64_t path_id, simdjson::padded_string_view body,
                       simdjson::ondemand::parser* parser, wire::Command* out,
                       JsonDecodeError* error);

}  // namespace eleven::server
