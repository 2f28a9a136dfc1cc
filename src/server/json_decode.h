// The HTTP gateway's JSON request decoder: a request body (plus the id taken from the path)
// to command records. Strict: unknown fields, repeated fields, wrong types and values outside
// the record field's range are refused with a message naming the field; anything that fits
// the record goes to the engine, which checks the rest (and answers with a code).
// Pure (no I/O, no exceptions, no allocation but error messages), so it can be fuzzed alone
// (fuzz/json_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "wire/records.h"

namespace eleven::server {

// One per command route (docs/openapi.yaml); the path id each takes is named after it.
enum class JsonCommand : uint8_t {
  kCreateMerchant,         // POST /merchants
  kCreateSku,              // POST /skus
  kRestock,                // POST /skus/{id}/restock
  kSetPrice,               // POST /skus/{id}/price
  kCreateDrop,             // POST /drops
  kCloseDrop,              // POST /drops/{id}/close
  kPlaceOrder,             // POST /orders
  kPayOrder,               // POST /orders/{id}/pay
  kCancelOrder,            // POST /orders/{id}/cancel
  kCreateAccount,          // POST /accounts (an object, or an array of them: a batch)
  kCreateTransfer,         // POST /transfers (idem; linked chains are arrays)
  kDeposit,                // POST /buyers/{id}/deposit
  kSetBuyerCreditLimit,    // POST /buyers/{id}/credit-limit
  kWithdraw,               // POST /merchants/{id}/withdraw
  kSetMerchantCreditLine,  // POST /merchants/{id}/credit-line
  kDrawDown,               // POST /merchants/{id}/draw-down
  kRepayMerchantCredit,    // POST /merchants/{id}/repay
  kConfirmDelivery,        // POST /orders/{id}/confirm-delivery
  kRepayInstalment,        // POST /orders/{id}/plan/repay
  kAfterSalesRefund,       // POST /orders/{id}/after-sales-refund
  kCreateWarehouse,        // POST /warehouses
  kStockWarehouse,         // POST /warehouses/{id}/stock
  kCreateCourier,          // POST /couriers
  kSetCoverage,            // POST /couriers/{id}/coverage (one command per coverage block)
  kSetRegionPoint,         // POST /regions/{id}/point
  kTrackParcel,            // POST /parcels/{waybill}/events
  kCreateKey,              // POST /keys (the server fills in the secret's hash)
  kRevokeKey,              // POST /keys/{id}/revoke
  kCreateCoupon,           // POST /coupons
  kClaimCoupon,            // POST /coupons/{id}/claims
  kCreatePresale,          // POST /presales
  kPayDeposit,             // POST /presales/{id}/deposits
  kPayBalance,             // POST /presales/{id}/balance
};
inline constexpr uint8_t kJsonCommandCount = 33;

// Objects in one array body (a batch of accounts or transfers); also the most commands one
// body decodes to, so `out` below needs this many.
inline constexpr size_t kJsonCommandCountMax = 256;

// True for the routes whose body may be an array (a batch, applied in order; linked members
// form chains applied all-or-nothing).
bool JsonBatchAllowed(JsonCommand kind);

struct JsonDecodeError {
  std::string code;     // "invalid_json", "invalid_request" or an engine code name
  std::string message;  // what was wrong, naming the field
};

// Decodes `body` (which must have simdjson::SIMDJSON_PADDING readable bytes past its end, as
// padded_string_view promises) into out[0 .. *count). `path_id` is the id from the path (0
// if none). An empty body counts as {}. *batch says the body was an array (the reply lists
// every result). False with *error filled on any problem; nothing is then to be applied.
bool DecodeJsonCommands(JsonCommand kind, uint64_t path_id, simdjson::padded_string_view body,
                        simdjson::ondemand::parser* parser, std::span<wire::Command> out,
                        size_t* count, bool* batch, JsonDecodeError* error);

// POST /clock's body, {"at_us": <u64>} (client-clock mode's set_clock): the log time of the
// next batch, in µs since the Unix epoch. False with *error filled on any problem.
bool DecodeJsonClock(simdjson::padded_string_view body, simdjson::ondemand::parser* parser,
                     uint64_t* at_us, JsonDecodeError* error);

}  // namespace eleven::server
