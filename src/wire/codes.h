// Result codes: every refusal the engine can give has its own code. Codes are part of the
// wire format (docs/wire-format.md): a code, once released, keeps its number and meaning.
#pragma once

#include <cstdint>
#include <string_view>

namespace eleven::wire {

// The codes are listed in codes.inc (order engine, 0..99), ledger_codes.inc (100..199),
// fulfilment_codes.inc (200..299), access_codes.inc (300..399) and promotions_codes.inc
// (400..499), each line ELEVEN_CODE(name, number, http_status); the HTTP status is what the
// gateway answers with.
enum class Code : uint16_t {
#define ELEVEN_CODE(name, number, http) name = number,
#include "wire/codes.inc"
#include "wire/ledger_codes.inc"
#include "wire/fulfilment_codes.inc"
#include "wire/access_codes.inc"
#include "wire/promotions_codes.inc"
#undef ELEVEN_CODE
};

// "insufficient_stock" etc.; "unknown" for a number that is not a code.
std::string_view CodeName(Code code);
// The HTTP status the gateway answers with for this code.
int CodeHttpStatus(Code code);
// Parses a code name; returns false if it is none.
bool CodeFromName(std::string_view name, Code* code);

}  // namespace eleven::wire
