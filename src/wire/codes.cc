#include "wire/codes.h"

namespace eleven::wire {

std::string_view CodeName(Code code) {
  switch (code) {
#define ELEVEN_CODE(name, number, http) \
  case Code::name:                      \
    return #name;
#include "wire/codes.inc"
#include "wire/ledger_codes.inc"
#include "wire/fulfilment_codes.inc"
#include "wire/access_codes.inc"
#include "wire/promotions_codes.inc"
#undef ELEVEN_CODE
  }
  return "unknown";
}

int CodeHttpStatus(Code code) {
  switch (code) {
#define ELEVEN_CODE(name, number, http) \
  case Code::name:                      \
    return http;
#include "wire/codes.inc"
#include "wire/ledger_codes.inc"
#include "wire/fulfilment_codes.inc"
#include "wire/access_codes.inc"
#include "wire/promotions_codes.inc"
#undef ELEVEN_CODE
  }
  return 500;
}

bool CodeFromName(std::string_view name, Code* code) {
#define ELEVEN_CODE(code_name, number, http) \
  if (name == #code_name) {                  \
    *code = Code::code_name;                 \
    return true;                             \
  }
#include "wire/codes.inc"
#include "wire/ledger_codes.inc"
#include "wire/fulfilment_codes.inc"
#include "wire/access_codes.inc"
#include "wire/promotions_codes.inc"
#undef ELEVEN_CODE
  return false;
}

}  // namespace eleven::wire
