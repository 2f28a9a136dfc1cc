#include "server/json_decode.h"

#include <array>
#include <limits>

#include "base/assert.h"
#include "server/json_names.h"
#include "wire/country.h"
#include "wire/access.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"
#include "wire/make.h"

namespace eleven::server {

namespace {

namespace od = simdjson::ondemand;

enum Field : uint8_t {
  // Orders.
  kMerchantId, kCountry, kOverseas, kSkuId, kPriceFen, kStock, kPerBuyerLimit, kQuantity,
  kDropId, kLivePriceFen, kQuota, kOpensAtUs, kClosesAtUs, kIdempotencyKey, kBuyerId,
  kRegion, kCityTier, kLines, kAmountFen, kPaymentMethod, kInstalmentPeriods,
  // Ledger.
  kAccountId, kLedger, kCode, kUserData, kTransferId, kDebitAccountId, kCreditAccountId,
  kPendingId, kTimeoutUs, kLimitFen, kWithholdBp, kPeriods, kLinked,
  kDebitsMustNotExceedCredits, kCreditsMustNotExceedDebits, kPending, kPostPending,
  kVoidPending, kBalancingDebit, kBalancingCredit, kRefundId,
  // Fulfilment.
  kWarehouseId, kCity, kXKm, kYKm, kHourlyCapacity, kDailyCapacity, kBonded, kUnits,
  kCourierId, kName, kMode, kPromisedDays, kCostFen, kWaybillFirst, kWaybillCount, kRegions,
  kEvent, kHub,
  // Access.
  kRole, kStorefrontId,
  // Coupons.
  kCouponId, kCouponKind, kCount, kThresholdFen, kStartsAtUs, kEndsAtUs, kCoupons,
  // Pre-sales.
  kPresaleId, kDepositFen, kDepositValueFen, kDepositStartsAtUs, kDepositEndsAtUs, kBalanceStartsAtUs,
  kBalanceEndsAtUs,
  kFieldCount
};
static_assert(kFieldCount <= 128, "field sets are 128-bit masks");

enum class Kind : uint8_t {
  kUnsigned,  // 0 .. max
  kSigned,    // min .. max
  kBool,
  kFlag,      // a boolean that sets bit `max` of the record's flags
  kCountry,   // two letters
  kText,      // a courier name: 1 .. kCourierNameSize bytes
  kEnum,      // a name from `names`; otherwise `enum_code`
  kLines,
  kRegions,
  kCoupons,   // a place order's coupon ids
};

struct FieldSpec {
  Field field;
  std::string_view name;
  Kind kind;
  uint64_t max = 0;
  int64_t min = 0;
  std::span<const std::string_view> names = {};
  std::string_view enum_code = {};
  // A domain range (min .. max) the engine checks with this code: refused here first, with a
  // message naming the field and the range.
  std::string_view range_code = {};
};

constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr uint64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr uint64_t kI64Max = std::numeric_limits<int64_t>::max();

constexpr FieldSpec U(Field f, std::string_view name, uint64_t max) { return {f, name, Kind::kUnsigned, max}; }
constexpr FieldSpec S(Field f, std::string_view name, int64_t min, uint64_t max) {
  return {f, name, Kind::kSigned, max, min};
}
// An unsigned or signed field whose valid range is the engine's, refused with its code.
constexpr FieldSpec UR(Field f, std::string_view name, uint64_t min, uint64_t max,
                       std::string_view code) {
  return {f, name, Kind::kUnsigned, max, int64_t(min), {}, {}, code};
}
constexpr FieldSpec SR(Field f, std::string_view name, int64_t min, int64_t max,
                       std::string_view code) {
  return {f, name, Kind::kSigned, uint64_t(max), min, {}, {}, code};
}
constexpr FieldSpec Flag(Field f, std::string_view name, uint8_t bit) { return {f, name, Kind::kFlag, bit}; }
constexpr FieldSpec Named(Field f, std::string_view name, std::span<const std::string_view> names,
                          std::string_view code) {
  return {f, name, Kind::kEnum, 0, 0, names, code};
}

constexpr std::array<FieldSpec, kFieldCount> kFields = {{
    U(kMerchantId, "merchant_id", UINT64_MAX),
    {kCountry, "country", Kind::kCountry},
    {kOverseas, "overseas", Kind::kBool},
    U(kSkuId, "sku_id", UINT64_MAX),
    SR(kPriceFen, "price_fen", 1, wire::kPriceMaxFen, "invalid_price"),
    UR(kStock, "stock", 0, wire::kStockMax, "invalid_quantity"),
    U(kPerBuyerLimit, "per_buyer_limit", UINT32_MAX),
    UR(kQuantity, "quantity", 1, wire::kStockMax, "invalid_quantity"),
    U(kDropId, "drop_id", UINT64_MAX),
    SR(kLivePriceFen, "live_price_fen", 1, wire::kPriceMaxFen, "invalid_price"),
    UR(kQuota, "quota", 1, wire::kStockMax, "invalid_quantity"),
    U(kOpensAtUs, "opens_at_us", UINT64_MAX),
    U(kClosesAtUs, "closes_at_us", UINT64_MAX),
    U(kIdempotencyKey, "idempotency_key", UINT64_MAX),
    U(kBuyerId, "buyer_id", UINT64_MAX),
    UR(kRegion, "region", 1, wire::kRegionMax, "invalid_region"),
    UR(kCityTier, "city_tier", 1, wire::kCityTierMax, "invalid_city_tier"),
    {kLines, "lines", Kind::kLines},
    S(kAmountFen, "amount_fen", kI64Min, kI64Max),
    Named(kPaymentMethod, "payment_method", kPaymentMethodNames, "invalid_payment_method"),
    U(kInstalmentPeriods, "instalment_periods", UINT8_MAX),
    U(kAccountId, "account_id", UINT64_MAX),
    U(kLedger, "ledger", UINT32_MAX),
    U(kCode, "code", UINT16_MAX),
    U(kUserData, "user_data", UINT64_MAX),
    U(kTransferId, "transfer_id", UINT64_MAX),
    U(kDebitAccountId, "debit_account_id", UINT64_MAX),
    U(kCreditAccountId, "credit_account_id", UINT64_MAX),
    U(kPendingId, "pending_id", UINT64_MAX),
    U(kTimeoutUs, "timeout_us", UINT64_MAX),
    S(kLimitFen, "limit_fen", kI64Min, kI64Max),
    U(kWithholdBp, "withhold_bp", UINT16_MAX),
    U(kPeriods, "periods", UINT8_MAX),
    Flag(kLinked, "linked", wire::kTransferLinked),  // = wire::kAccountLinked
    Flag(kDebitsMustNotExceedCredits, "debits_must_not_exceed_credits",
         wire::kDebitsMustNotExceedCredits),
    Flag(kCreditsMustNotExceedDebits, "credits_must_not_exceed_debits",
         wire::kCreditsMustNotExceedDebits),
    Flag(kPending, "pending", wire::kTransferPending),
    Flag(kPostPending, "post_pending_transfer", wire::kPostPendingTransfer),
    Flag(kVoidPending, "void_pending_transfer", wire::kVoidPendingTransfer),
    Flag(kBalancingDebit, "balancing_debit", wire::kBalancingDebit),
    Flag(kBalancingCredit, "balancing_credit", wire::kBalancingCredit),
    U(kRefundId, "refund_id", UINT64_MAX),
    U(kWarehouseId, "warehouse_id", UINT64_MAX),
    U(kCity, "city", UINT16_MAX),
    S(kXKm, "x_km", kI32Min, kI32Max),
    S(kYKm, "y_km", kI32Min, kI32Max),
    U(kHourlyCapacity, "hourly_capacity", UINT32_MAX),
    U(kDailyCapacity, "daily_capacity", UINT32_MAX),
    {kBonded, "bonded", Kind::kBool},
    UR(kUnits, "units", 1, wire::kStockMax, "invalid_quantity"),
    U(kCourierId, "courier_id", UINT64_MAX),
    {kName, "name", Kind::kText},
    Named(kMode, "mode", kCourierModeNames, "courier_mode_invalid"),
    U(kPromisedDays, "promised_days", UINT8_MAX),
    S(kCostFen, "cost_fen", kI64Min, kI64Max),
    U(kWaybillFirst, "waybill_first", UINT64_MAX),
    U(kWaybillCount, "waybill_count", UINT64_MAX),
    {kRegions, "regions", Kind::kRegions},
    Named(kEvent, "event",
          std::span(kParcelStateNames)
              .subspan(wire::kTrackingEventMin, wire::kTrackingEventMax - wire::kTrackingEventMin + 1),
          "tracking_event_invalid"),
    U(kHub, "hub", UINT32_MAX),
    Named(kRole, "role", kRoleNames, "invalid_role"),
    UR(kStorefrontId, "storefront_id", 1, wire::kStorefrontIdMax, "invalid_key_scope"),
    U(kCouponId, "coupon_id", UINT64_MAX),
    Named(kCouponKind, "kind", kCouponKindNames, "invalid_coupon"),
    UR(kCount, "count", 1, wire::kStockMax, "invalid_coupon"),
    S(kThresholdFen, "threshold_fen", kI64Min, kI64Max),
    U(kStartsAtUs, "starts_at_us", UINT64_MAX),
    U(kEndsAtUs, "ends_at_us", UINT64_MAX),
    {kCoupons, "coupons", Kind::kCoupons},
    U(kPresaleId, "presale_id", UINT64_MAX),
    S(kDepositFen, "deposit_fen", kI64Min, kI64Max),
    S(kDepositValueFen, "deposit_value_fen", kI64Min, kI64Max),
    U(kDepositStartsAtUs, "deposit_starts_at_us", UINT64_MAX),
    U(kDepositEndsAtUs, "deposit_ends_at_us", UINT64_MAX),
    U(kBalanceStartsAtUs, "balance_starts_at_us", UINT64_MAX),
    U(kBalanceEndsAtUs, "balance_ends_at_us", UINT64_MAX),
}};
static_assert(uint8_t{wire::kTransferLinked} == uint8_t{wire::kAccountLinked});

constexpr bool FieldsInOrder() {
  for (size_t f = 0; f < kFields.size(); f++) {
    if (kFields[f].field != f) return false;
  }
  return true;
}
static_assert(FieldsInOrder(), "kFields is indexed by Field");

using Fields = unsigned __int128;
constexpr Fields Bit(Field f) { return Fields{1} << f; }
template <typename... F>
constexpr Fields Set(F... f) {
  return (Bit(f) | ... | 0);
}

struct Spec {
  Fields allowed;
  Fields required;
};

constexpr Spec Needs(Fields required, Fields optional = 0) { return {required | optional, required}; }

constexpr Fields kAccountFlags = Set(kLinked, kDebitsMustNotExceedCredits, kCreditsMustNotExceedDebits);
constexpr Fields kTransferFlags =
    Set(kLinked, kPending, kPostPending, kVoidPending, kBalancingDebit, kBalancingCredit);
constexpr Fields kPartyTransfer = Set(kTransferId, kAmountFen);

// Indexed by JsonCommand.
constexpr std::array<Spec, kJsonCommandCount> kSpecs = {{
    Needs(Set(kMerchantId, kCountry), Set(kOverseas)),                                   // create merchant
    Needs(Set(kSkuId, kMerchantId, kPriceFen, kStock), Set(kPerBuyerLimit)),             // create sku
    Needs(Set(kQuantity)),                                                               // restock
    Needs(Set(kPriceFen)),                                                               // set price
    Needs(Set(kDropId, kSkuId, kLivePriceFen, kQuota, kOpensAtUs, kClosesAtUs), Set(kPerBuyerLimit)),
    Needs(0),                                                                            // close drop
    Needs(Set(kIdempotencyKey, kMerchantId, kBuyerId, kRegion, kCityTier, kLines), Set(kDropId, kCoupons)),
    Needs(Set(kAmountFen), Set(kPaymentMethod, kInstalmentPeriods)),                     // pay order
    Needs(0),                                                                            // cancel order
    Needs(Set(kAccountId, kLedger, kCode), Set(kUserData) | kAccountFlags),              // create account
    Needs(Set(kTransferId), Set(kDebitAccountId, kCreditAccountId, kAmountFen, kLedger, kCode, kPendingId,
                                kTimeoutUs, kUserData) | kTransferFlags),                // create transfer
    Needs(kPartyTransfer),                                                               // deposit
    Needs(Set(kLimitFen)),                                                               // buyer credit limit
    Needs(kPartyTransfer),                                                               // withdraw
    Needs(Set(kLimitFen), Set(kWithholdBp)),                                             // merchant credit line
    Needs(kPartyTransfer),                                                               // draw down
    Needs(kPartyTransfer),                                                               // repay merchant credit
    Needs(0),                                                                            // confirm delivery
    Needs(Set(kTransferId), Set(kPeriods)),                                              // repay instalment
    Needs(Set(kRefundId, kAmountFen)),                                                   // after-sales refund
    Needs(Set(kWarehouseId, kRegion, kXKm, kYKm, kHourlyCapacity, kDailyCapacity), Set(kCity, kBonded)),
    Needs(Set(kSkuId, kUnits)),                                                          // stock warehouse
    Needs(Set(kCourierId, kName, kMode, kPromisedDays, kHourlyCapacity, kCostFen, kWaybillFirst,
              kWaybillCount)),                                                           // create courier
    Needs(Set(kRegions)),                                                                // set coverage
    Needs(Set(kXKm, kYKm)),                                                              // set region point
    Needs(Set(kEvent), Set(kHub)),                                                       // track parcel
    Needs(Set(kRole), Set(kStorefrontId, kMerchantId, kCourierId)),                      // create key
    Needs(0),                                                                            // revoke key
    Needs(Set(kCouponId, kCouponKind, kAmountFen, kCount, kStartsAtUs, kEndsAtUs),
          Set(kMerchantId, kThresholdFen, kDropId)),                                     // create coupon
    Needs(Set(kBuyerId)),                                                                // claim coupon
    Needs(Set(kPresaleId, kSkuId, kPriceFen, kDepositFen, kDepositValueFen, kQuota, kDepositStartsAtUs,
              kDepositEndsAtUs, kBalanceStartsAtUs, kBalanceEndsAtUs),
          Set(kPerBuyerLimit)),                                                          // create presale
    Needs(Set(kBuyerId, kQuantity), Set(kPaymentMethod)),                                // pay deposit
    Needs(Set(kBuyerId, kAmountFen, kRegion, kCityTier), Set(kPaymentMethod, kInstalmentPeriods)),  // pay balance
}};
static_assert(static_cast<size_t>(JsonCommand::kPayBalance) + 1 == kJsonCommandCount);

struct Values {
  std::array<uint64_t, kFieldCount> u{};
  std::array<int64_t, kFieldCount> i{};
  uint8_t flags = 0;
  char country[2] = {0, 0};
  char name[wire::kCourierNameSize] = {};
  uint8_t line_count = 0;
  std::array<uint64_t, wire::kOrderLineCountMax> line_sku{};
  std::array<uint16_t, wire::kOrderLineCountMax> line_quantity{};
  uint8_t coupon_count = 0;
  std::array<uint64_t, wire::kOrderCouponCountMax> coupon{};
  // Coverage: bit r = region r, in blocks of kCoverageBlockRegions.
  std::array<uint64_t, wire::kCoverageBlockCount * wire::kCoverageBlockRegions / 64> regions{};
};

bool Fail(JsonDecodeError* error, std::string code, std::string message) {
  error->code = std::move(code);
  error->message = std::move(message);
  return false;
}

bool Invalid(JsonDecodeError* error, std::string message) {
  return Fail(error, "invalid_request", std::move(message));
}

std::string Name(Field field) { return std::string(kFields[field].name); }

// The JSON text of a value, as given (trimmed, at most 24 bytes), for a message. Read before
// the value is parsed: raw_json_token does not consume it.
std::string Given(od::value& value) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                            token.back() == '\t')) {
    token.remove_suffix(1);
  }
  return std::string(token.substr(0, 24));
}

// "<name> must be <min>..<max>, not <given>".
bool OutOfRange(JsonDecodeError* error, std::string_view code, const std::string& name, int64_t min,
                uint64_t max, const std::string& given) {
  return Fail(
      error, std::string(code),
      name + " must be " + std::to_string(min) + ".." + std::to_string(max) + ", not " + given);
}

bool ReadNumber(od::value value, const FieldSpec& spec, Values* v, JsonDecodeError* error) {
  if (!spec.range_code.empty()) {
    const std::string given = Given(value);
    int64_t n = 0;
    uint64_t u = 0;
    const bool in_range = spec.kind == Kind::kSigned
                              ? value.get_int64().get(n) == simdjson::SUCCESS && n >= spec.min &&
                                    n <= int64_t(spec.max)
                              : value.get_uint64().get(u) == simdjson::SUCCESS &&
                                    u >= uint64_t(spec.min) && u <= spec.max;
    if (!in_range)
      return OutOfRange(error, spec.range_code, Name(spec.field), spec.min, spec.max, given);
    if (spec.kind == Kind::kSigned) {
      v->i[spec.field] = n;
    } else {
      v->u[spec.field] = u;
    }
    return true;
  }
  if (spec.kind == Kind::kUnsigned) {
    uint64_t n = 0;
    if (value.get_uint64().get(n) != simdjson::SUCCESS || n > spec.max) {
      return Invalid(error, Name(spec.field) + " must be an integer from 0 to " + std::to_string(spec.max));
    }
    v->u[spec.field] = n;
    return true;
  }
  int64_t n = 0;
  if (value.get_int64().get(n) != simdjson::SUCCESS || n < spec.min || n > static_cast<int64_t>(spec.max)) {
    return Invalid(error, Name(spec.field) + " must be an integer from " + std::to_string(spec.min) + " to " +
                              std::to_string(spec.max));
  }
  v->i[spec.field] = n;
  return true;
}

bool ReadLine(od::value value, int index, Values* v, JsonDecodeError* error) {
  od::object line;
  if (value.get_object().get(line) != simdjson::SUCCESS) {
    return Invalid(error, "lines[" + std::to_string(index) + "] must be an object");
  }
  uint32_t seen = 0;
  for (auto field : line) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad key");
    uint64_t n = 0;
    const bool is_sku = key == "sku_id";
    if (!is_sku && key != "quantity") {
      return Invalid(error, "unknown field lines[" + std::to_string(index) + "]." + std::string(key.substr(0, 64)));
    }
    const uint32_t bit = is_sku ? 1 : 2;
    if ((seen & bit) != 0) return Invalid(error, "repeated field lines[]." + std::string(key));
    seen |= bit;
    const std::string name = "lines[" + std::to_string(index) + "]." + std::string(key);
    od::value value = field.value();
    const std::string given = Given(value);
    if (is_sku) {
      if (value.get_uint64().get(n) != simdjson::SUCCESS) {
        return Invalid(error, name + " must be an unsigned integer, not " + given);
      }
    } else if (value.get_uint64().get(n) != simdjson::SUCCESS || n == 0 ||
               n > wire::kLineQuantityMax) {
      return OutOfRange(error, "invalid_quantity", name, 1, wire::kLineQuantityMax, given);
    }
    if (is_sku) {
      v->line_sku[index] = n;
    } else {
      v->line_quantity[index] = static_cast<uint16_t>(n);
    }
  }
  if (seen != 3) return Invalid(error, "each line needs sku_id and quantity");
  return true;
}

bool ReadLines(od::value value, Values* v, JsonDecodeError* error) {
  od::array lines;
  if (value.get_array().get(lines) != simdjson::SUCCESS) return Invalid(error, "lines must be an array");
  int count = 0;
  for (auto element : lines) {
    od::value line;
    if (element.get(line) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad lines element");
    if (count == wire::kOrderLineCountMax) {
      return Fail(error, "invalid_line_count",
                  "an order has at most " + std::to_string(wire::kOrderLineCountMax) + " lines");
    }
    if (!ReadLine(line, count, v, error)) return false;
    count++;
  }
  if (count == 0) return Fail(error, "invalid_line_count", "an order has at least one line");
  v->line_count = static_cast<uint8_t>(count);
  return true;
}

// A place order's coupons: an array of at most kOrderCouponCountMax coupon ids.
bool ReadCoupons(od::value value, Values* v, JsonDecodeError* error) {
  od::array coupons;
  if (value.get_array().get(coupons) != simdjson::SUCCESS) return Invalid(error, "coupons must be an array");
  for (auto element : coupons) {
    uint64_t id = 0;
    if (v->coupon_count == wire::kOrderCouponCountMax) {
      return Fail(error, "invalid_coupon_count",
                  "an order redeems at most " + std::to_string(wire::kOrderCouponCountMax) +
                      " coupons (one platform, one shop)");
    }
    if (element.get_uint64().get(id) != simdjson::SUCCESS) {
      return Invalid(error, "coupons[] must be coupon ids (unsigned integers)");
    }
    v->coupon[v->coupon_count++] = id;
  }
  return true;
}

// A courier's regions: an array of region codes 1..kRegionMax (repeats are harmless; at most
// kRegionMax elements are read, so the loop is bounded).
bool ReadRegions(od::value value, Values* v, JsonDecodeError* error) {
  od::array regions;
  if (value.get_array().get(regions) != simdjson::SUCCESS) return Invalid(error, "regions must be an array");
  uint32_t count = 0;
  for (auto element : regions) {
    uint64_t region = 0;
    if (count++ == wire::kRegionMax) {
      return Invalid(error, "regions holds at most " + std::to_string(wire::kRegionMax) + " entries");
    }
    if (element.get_uint64().get(region) != simdjson::SUCCESS || region == 0 || region > wire::kRegionMax) {
      return Fail(error, "invalid_region", "regions[] must be integers from 1 to " + std::to_string(wire::kRegionMax));
    }
    v->regions[region / 64] |= uint64_t{1} << (region % 64);
  }
  return true;
}

bool ReadText(od::value value, const FieldSpec& spec, Values* v, JsonDecodeError* error) {
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) return Invalid(error, Name(spec.field) + " must be a string");
  if (spec.kind == Kind::kCountry) {
    if (s.size() != 2 || !wire::IsCountryCode(s.data())) {
      return Fail(
          error, "invalid_country",
          "country must be an ISO 3166-1 alpha-2 code in upper case (\"CN\", \"JP\", ...), not \"" +
              std::string(s.substr(0, 8)) + "\"");
    }
    v->country[0] = s[0];
    v->country[1] = s[1];
    return true;
  }
  if (spec.kind == Kind::kText) {
    if (s.empty() || s.size() > wire::kCourierNameSize) {
      return Fail(error, "courier_name_invalid",
                  "name must have 1 to " + std::to_string(wire::kCourierNameSize) + " characters");
    }
    std::memcpy(v->name, s.data(), s.size());
    return true;
  }
  uint8_t index = 0;
  if (!ValueOf(spec.names, s, &index)) {
    std::string list;
    for (std::string_view n : spec.names) list += n.empty() ? "" : (list.empty() ? "" : ", ") + std::string(n);
    return Fail(error, std::string(spec.enum_code), Name(spec.field) + " must be one of: " + list);
  }
  // The names of tracking events start at kTrackingEventMin; other tables at 0.
  v->u[spec.field] = index + (spec.field == kEvent ? wire::kTrackingEventMin : 0);
  return true;
}

bool ReadValue(const FieldSpec& spec, od::value value, Values* v, JsonDecodeError* error) {
  switch (spec.kind) {
    case Kind::kUnsigned:
    case Kind::kSigned: return ReadNumber(value, spec, v, error);
    case Kind::kBool:
    case Kind::kFlag: {
      bool b = false;
      if (value.get_bool().get(b) != simdjson::SUCCESS) return Invalid(error, Name(spec.field) + " must be a boolean");
      v->u[spec.field] = b;
      if (spec.kind == Kind::kFlag && b) v->flags |= static_cast<uint8_t>(spec.max);
      return true;
    }
    case Kind::kCountry:
    case Kind::kText:
    case Kind::kEnum: return ReadText(value, spec, v, error);
    case Kind::kLines: return ReadLines(value, v, error);
    case Kind::kRegions: return ReadRegions(value, v, error);
    case Kind::kCoupons: return ReadCoupons(value, v, error);
  }
  return Invalid(error, "unknown field kind");
}

bool ReadFields(od::object object, const Spec& spec, Values* v, JsonDecodeError* error) {
  Fields seen = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad object key");
    size_t f = 0;
    while (f < kFieldCount && kFields[f].name != key) f++;
    if (f == kFieldCount || (spec.allowed & Bit(Field(f))) == 0) {
      return Invalid(error, "unknown field " + std::string(key.substr(0, 64)));
    }
    if ((seen & Bit(Field(f))) != 0) return Invalid(error, "repeated field " + std::string(key));
    seen |= Bit(Field(f));
    od::value value;
    if (field.value().get(value) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad value");
    if (!ReadValue(kFields[f], value, v, error)) return false;
  }
  const Fields missing = spec.required & ~seen;
  if (missing != 0) {
    size_t f = 0;
    while ((missing & Bit(Field(f))) == 0) f++;
    return Invalid(error, "missing field " + Name(Field(f)));
  }
  return true;
}

wire::Command BuildOrderCommand(JsonCommand kind, uint64_t path_id, const Values& v) {
  const auto& u = v.u;
  switch (kind) {
    case JsonCommand::kCreateMerchant:
      return wire::MakeCreateMerchant(u[kMerchantId], v.country,
                                      u[kOverseas] ? static_cast<uint8_t>(wire::MerchantFlags::kOverseas) : 0);
    case JsonCommand::kCreateSku:
      return wire::MakeCreateSku(u[kSkuId], u[kMerchantId], v.i[kPriceFen], static_cast<uint32_t>(u[kStock]),
                                 static_cast<uint32_t>(u[kPerBuyerLimit]));
    case JsonCommand::kRestock: return wire::MakeRestock(path_id, static_cast<uint32_t>(u[kQuantity]));
    case JsonCommand::kSetPrice: return wire::MakeSetPrice(path_id, v.i[kPriceFen]);
    case JsonCommand::kCreateDrop:
      return wire::MakeCreateDrop(u[kDropId], u[kSkuId], v.i[kLivePriceFen], static_cast<uint32_t>(u[kQuota]),
                                  u[kOpensAtUs], u[kClosesAtUs], static_cast<uint32_t>(u[kPerBuyerLimit]));
    case JsonCommand::kCloseDrop: return wire::MakeCloseDrop(path_id);
    case JsonCommand::kPlaceOrder: {
      wire::Command c = wire::MakePlaceOrder(u[kIdempotencyKey], u[kMerchantId], u[kBuyerId],
                                             static_cast<uint16_t>(u[kRegion]),
                                             static_cast<uint8_t>(u[kCityTier]), {}, u[kDropId]);
      c.place_order.line_count = v.line_count;
      for (int l = 0; l < v.line_count; l++) {
        c.place_order.sku_id[l] = v.line_sku[l];
        c.place_order.quantity[l] = v.line_quantity[l];
      }
      for (int k = 0; k < v.coupon_count; k++) wire::AddCoupon(c, v.coupon[k]);
      return c;
    }
    case JsonCommand::kCreateCoupon:
      return wire::MakeCreateCoupon(u[kCouponId], u[kMerchantId], static_cast<wire::CouponKind>(u[kCouponKind]),
                                    v.i[kAmountFen], v.i[kThresholdFen], static_cast<uint32_t>(u[kCount]),
                                    u[kStartsAtUs], u[kEndsAtUs], u[kDropId]);
    case JsonCommand::kClaimCoupon: return wire::MakeClaimCoupon(path_id, u[kBuyerId]);
    case JsonCommand::kCreatePresale: {
      wire::Command c{};
      wire::CreatePresale& p = c.create_presale;
      p.operation = wire::Operation::kCreatePresale;
      p.per_buyer_limit = static_cast<uint32_t>(u[kPerBuyerLimit]);
      p.presale_id = u[kPresaleId];
      p.sku_id = u[kSkuId];
      p.price_fen = v.i[kPriceFen];
      p.deposit_fen = v.i[kDepositFen];
      p.deposit_value_fen = v.i[kDepositValueFen];
      p.quota = static_cast<uint32_t>(u[kQuota]);
      p.deposit_starts_us = u[kDepositStartsAtUs];
      p.deposit_ends_us = u[kDepositEndsAtUs];
      p.balance_starts_us = u[kBalanceStartsAtUs];
      p.balance_ends_us = u[kBalanceEndsAtUs];
      return c;
    }
    case JsonCommand::kPayDeposit: {
      wire::Command c{};
      c.pay_deposit.operation = wire::Operation::kPayDeposit;
      c.pay_deposit.payment_method = static_cast<uint8_t>(u[kPaymentMethod]);
      c.pay_deposit.quantity = static_cast<uint32_t>(u[kQuantity]);
      c.pay_deposit.presale_id = path_id;
      c.pay_deposit.buyer_id = u[kBuyerId];
      return c;
    }
    case JsonCommand::kPayBalance: {
      wire::Command c{};
      wire::PayBalance& b = c.pay_balance;
      b.operation = wire::Operation::kPayBalance;
      b.payment_method = static_cast<uint8_t>(u[kPaymentMethod]);
      b.instalment_periods = static_cast<uint8_t>(u[kInstalmentPeriods]);
      b.city_tier = static_cast<uint8_t>(u[kCityTier]);
      b.region = static_cast<uint16_t>(u[kRegion]);
      b.presale_id = path_id;
      b.buyer_id = u[kBuyerId];
      b.amount_fen = v.i[kAmountFen];
      return c;
    }
    case JsonCommand::kPayOrder:
      return wire::MakePayOrder(path_id, v.i[kAmountFen], static_cast<uint8_t>(u[kPaymentMethod]),
                                static_cast<uint8_t>(u[kInstalmentPeriods]));
    case JsonCommand::kCancelOrder: return wire::MakeCancelOrder(path_id);
    default: break;
  }
  ELEVEN_ASSERT(false);
  return wire::Command{};
}

wire::Command PartyTransfer(wire::Operation operation, uint64_t party_id, const Values& v) {
  wire::LedgerCommand c{};
  c.party_transfer.operation = operation;
  c.party_transfer.transfer_id = v.u[kTransferId];
  c.party_transfer.party_id = party_id;
  c.party_transfer.amount_fen = v.i[kAmountFen];
  return wire::AsCommand(c);
}

wire::Command BuildLedgerCommand(JsonCommand kind, uint64_t path_id, const Values& v) {
  const auto& u = v.u;
  wire::LedgerCommand c{};
  switch (kind) {
    case JsonCommand::kCreateAccount: {
      wire::CreateAccount& a = c.create_account;
      a = {wire::kCreateAccount, v.flags, static_cast<uint16_t>(u[kCode]), static_cast<uint32_t>(u[kLedger]),
           u[kAccountId], u[kUserData], {}};
      break;
    }
    case JsonCommand::kCreateTransfer: {
      wire::CreateTransfer& t = c.create_transfer;
      t = {wire::kCreateTransfer, v.flags, static_cast<uint16_t>(u[kCode]), static_cast<uint32_t>(u[kLedger]),
           u[kTransferId], u[kDebitAccountId], u[kCreditAccountId], v.i[kAmountFen], u[kPendingId],
           u[kTimeoutUs], u[kUserData], {}};
      break;
    }
    case JsonCommand::kDeposit: return PartyTransfer(wire::kDeposit, path_id, v);
    case JsonCommand::kWithdraw: return PartyTransfer(wire::kWithdraw, path_id, v);
    case JsonCommand::kDrawDown: return PartyTransfer(wire::kDrawDown, path_id, v);
    case JsonCommand::kRepayMerchantCredit: return PartyTransfer(wire::kRepayMerchantCredit, path_id, v);
    case JsonCommand::kSetBuyerCreditLimit:
      c.set_buyer_credit_limit.operation = wire::kSetBuyerCreditLimit;
      c.set_buyer_credit_limit.buyer_id = path_id;
      c.set_buyer_credit_limit.limit_fen = v.i[kLimitFen];
      break;
    case JsonCommand::kSetMerchantCreditLine:
      c.set_merchant_credit_line.operation = wire::kSetMerchantCreditLine;
      c.set_merchant_credit_line.withhold_bp = static_cast<uint16_t>(u[kWithholdBp]);
      c.set_merchant_credit_line.merchant_id = path_id;
      c.set_merchant_credit_line.limit_fen = v.i[kLimitFen];
      break;
    case JsonCommand::kConfirmDelivery:
      c.order_money.operation = wire::kConfirmDelivery;
      c.order_money.order_id = path_id;
      break;
    case JsonCommand::kRepayInstalment:
      c.repay_instalment.operation = wire::kRepayInstalment;
      c.repay_instalment.periods = static_cast<uint8_t>(u[kPeriods]);
      c.repay_instalment.transfer_id = u[kTransferId];
      c.repay_instalment.order_id = path_id;
      break;
    case JsonCommand::kAfterSalesRefund:
      c.after_sales_refund.operation = wire::kAfterSalesRefund;
      c.after_sales_refund.refund_id = u[kRefundId];
      c.after_sales_refund.order_id = path_id;
      c.after_sales_refund.amount_fen = v.i[kAmountFen];
      break;
    default: ELEVEN_ASSERT(false);
  }
  return wire::AsCommand(c);
}

wire::Command BuildFulfilmentCommand(JsonCommand kind, uint64_t path_id, const Values& v) {
  const auto& u = v.u;
  switch (kind) {
    case JsonCommand::kCreateWarehouse: {
      wire::CreateWarehouse w{};
      w.operation = wire::kCreateWarehouse;
      w.flags = u[kBonded] ? static_cast<uint8_t>(wire::WarehouseFlags::kBonded) : 0;
      w.city = static_cast<uint16_t>(u[kCity]);
      w.region = static_cast<uint16_t>(u[kRegion]);
      w.warehouse_id = u[kWarehouseId];
      w.x_km = static_cast<int32_t>(v.i[kXKm]);
      w.y_km = static_cast<int32_t>(v.i[kYKm]);
      w.hourly_capacity = static_cast<uint32_t>(u[kHourlyCapacity]);
      w.daily_capacity = static_cast<uint32_t>(u[kDailyCapacity]);
      return wire::ToCommand(w);
    }
    case JsonCommand::kStockWarehouse: {
      wire::StockWarehouse s{};
      s.operation = wire::kStockWarehouse;
      s.units = static_cast<uint32_t>(u[kUnits]);
      s.warehouse_id = path_id;
      s.sku_id = u[kSkuId];
      return wire::ToCommand(s);
    }
    case JsonCommand::kCreateCourier: {
      wire::CreateCourier c{};
      c.operation = wire::kCreateCourier;
      c.mode = static_cast<wire::CourierMode>(u[kMode]);
      c.promised_days = static_cast<uint8_t>(u[kPromisedDays]);
      c.hourly_capacity = static_cast<uint32_t>(u[kHourlyCapacity]);
      c.courier_id = u[kCourierId];
      std::memcpy(c.name, v.name, sizeof(c.name));
      c.cost_fen = v.i[kCostFen];
      c.waybill_first = u[kWaybillFirst];
      c.waybill_count = u[kWaybillCount];
      return wire::ToCommand(c);
    }
    case JsonCommand::kSetRegionPoint: {
      wire::SetRegionPoint p{};
      p.operation = wire::kSetRegionPoint;
      p.region = static_cast<uint16_t>(path_id);  // the caller refused path ids above u16
      p.x_km = static_cast<int32_t>(v.i[kXKm]);
      p.y_km = static_cast<int32_t>(v.i[kYKm]);
      return wire::ToCommand(p);
    }
    case JsonCommand::kTrackParcel: {
      wire::TrackParcel t{};
      t.operation = wire::kTrackParcel;
      t.event = static_cast<wire::ParcelState>(u[kEvent]);
      t.hub = static_cast<uint32_t>(u[kHub]);
      t.waybill = path_id;
      return wire::ToCommand(t);
    }
    default: break;
  }
  ELEVEN_ASSERT(false);
  return wire::Command{};
}

// The coverage of a courier, whole: one SetCoverage per block, applied in one batch.
size_t BuildCoverage(uint64_t courier_id, const Values& v, std::span<wire::Command> out) {
  constexpr size_t kWordsPerBlock = wire::kCoverageBlockRegions / 64;
  static_assert(sizeof(wire::SetCoverage::bits) == kWordsPerBlock * sizeof(uint64_t));
  for (uint8_t block = 0; block < wire::kCoverageBlockCount; block++) {
    wire::SetCoverage c{};
    c.operation = wire::kSetCoverage;
    c.block = block;
    c.courier_id = courier_id;
    std::memcpy(c.bits, v.regions.data() + block * kWordsPerBlock, sizeof(c.bits));
    out[block] = wire::ToCommand(c);
  }
  return wire::kCoverageBlockCount;
}

// Every command one decoded object stands for (one, or a courier's coverage blocks).
size_t Build(JsonCommand kind, uint64_t path_id, const Values& v, std::span<wire::Command> out) {
  ELEVEN_ASSERT(out.size() >= wire::kCoverageBlockCount);
  if (kind == JsonCommand::kSetCoverage) return BuildCoverage(path_id, v, out);
  if (kind == JsonCommand::kCreateKey) {
    // The scope is the id the role takes (CheckKeyScope refused any other); the engine checks
    // that the role has one and that it names an object.
    wire::CreateKey c{};
    c.operation = wire::kCreateKey;
    c.role = static_cast<wire::Role>(v.u[kRole]);
    c.scope_id = c.role == wire::Role::kStorefront ? v.u[kStorefrontId]
                 : c.role == wire::Role::kMerchant ? v.u[kMerchantId]
                 : c.role == wire::Role::kCourier  ? v.u[kCourierId]
                                                   : 0;
    out[0] = wire::ToCommand(c);
  } else if (kind == JsonCommand::kRevokeKey) {
    wire::RevokeKey c{};
    c.operation = wire::kRevokeKey;
    c.key_id = path_id;
    out[0] = wire::ToCommand(c);
  } else if (kind <= JsonCommand::kCancelOrder || kind >= JsonCommand::kCreateCoupon) {
    out[0] = BuildOrderCommand(kind, path_id, v);
  } else if (kind <= JsonCommand::kAfterSalesRefund) {
    out[0] = BuildLedgerCommand(kind, path_id, v);
  } else {
    out[0] = BuildFulfilmentCommand(kind, path_id, v);
  }
  return 1;
}

bool IsBlank(std::string_view body) {
  for (char c : body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// An array body: each element an object of the route's fields, one command each.
bool ReadBatch(od::array array, JsonCommand kind, uint64_t path_id, std::span<wire::Command> out,
               size_t* count, JsonDecodeError* error) {
  const Spec& spec = kSpecs[static_cast<size_t>(kind)];
  for (auto element : array) {
    od::object object;
    if (*count == kJsonCommandCountMax) {
      return Invalid(error, "a batch holds at most " + std::to_string(kJsonCommandCountMax) + " objects");
    }
    if (element.get_object().get(object) != simdjson::SUCCESS) {
      return Invalid(error, "element " + std::to_string(*count) + " of the batch must be an object");
    }
    Values values;
    if (!ReadFields(object, spec, &values, error)) {
      error->message = "element " + std::to_string(*count) + ": " + error->message;
      return false;
    }
    *count += Build(kind, path_id, values, out.subspan(*count));
  }
  if (*count == 0) return Invalid(error, "a batch holds at least one object");
  return true;
}

// A create key names at most the one id its role takes.
bool CheckKeyScope(const Values& v, JsonDecodeError* error) {
  const auto role = static_cast<wire::Role>(v.u[kRole]);
  const Field fields[] = {kStorefrontId, kMerchantId, kCourierId};
  const wire::Role takes[] = {wire::Role::kStorefront, wire::Role::kMerchant, wire::Role::kCourier};
  for (size_t k = 0; k < 3; k++) {
    if (v.u[fields[k]] != 0 && role != takes[k]) {
      return Fail(error, "invalid_key_scope",
                  "a " + std::string(kRoleNames[v.u[kRole]]) + " key takes no " + Name(fields[k]));
    }
  }
  return true;
}

bool ReadDocument(od::document& doc, JsonCommand kind, uint64_t path_id, std::span<wire::Command> out,
                  size_t* count, bool* batch, JsonDecodeError* error) {
  od::json_type type;
  if (doc.type().get(type) != simdjson::SUCCESS) return Fail(error, "invalid_json", "the body is not JSON");
  if (type == od::json_type::array && JsonBatchAllowed(kind)) {
    od::array array;
    if (doc.get_array().get(array) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad array");
    *batch = true;
    if (!ReadBatch(array, kind, path_id, out, count, error)) return false;
  } else {
    od::object object;
    const std::string_view want = JsonBatchAllowed(kind) ? "a JSON object or array" : "a JSON object";
    if (doc.get_object().get(object) != simdjson::SUCCESS) {
      return Fail(error, "invalid_json", "the body must be " + std::string(want));
    }
    Values values;
    if (!ReadFields(object, kSpecs[static_cast<size_t>(kind)], &values, error)) return false;
    if (kind == JsonCommand::kCreateKey && !CheckKeyScope(values, error)) return false;
    *count = Build(kind, path_id, values, out);
  }
  const char* trailing = nullptr;  // current_location() fails once the input is used up
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return Fail(error, "invalid_json", "trailing content after the body");
  }
  return true;
}

}  // namespace

bool JsonBatchAllowed(JsonCommand kind) {
  return kind == JsonCommand::kCreateAccount || kind == JsonCommand::kCreateTransfer;
}

bool DecodeJsonCommands(JsonCommand kind, uint64_t path_id, simdjson::padded_string_view body,
                        simdjson::ondemand::parser* parser, std::span<wire::Command> out,
                        size_t* count, bool* batch, JsonDecodeError* error) {
  ELEVEN_ASSERT(parser != nullptr && count != nullptr && batch != nullptr && error != nullptr);
  ELEVEN_ASSERT(out.size() >= kJsonCommandCountMax && static_cast<size_t>(kind) < kJsonCommandCount);
  *count = 0;
  *batch = false;
  if (kind == JsonCommand::kSetRegionPoint && (path_id == 0 || path_id > wire::kRegionMax)) {
    return Fail(error, "invalid_region", "the region in the path must be 1 to " + std::to_string(wire::kRegionMax));
  }
  const Spec& spec = kSpecs[static_cast<size_t>(kind)];
  if (IsBlank(std::string_view(body.data(), body.length()))) {
    if (spec.required != 0) return Invalid(error, "a JSON object body is required");
    *count = Build(kind, path_id, Values{}, out);
  } else {
    od::document doc;
    if (parser->iterate(body).get(doc) != simdjson::SUCCESS) return Fail(error, "invalid_json", "the body is not JSON");
    if (!ReadDocument(doc, kind, path_id, out, count, batch, error)) {
      *count = 0;
      return false;
    }
  }
  ELEVEN_ASSERT(*count >= 1 && *count <= kJsonCommandCountMax);
  ELEVEN_ASSERT(out[0].operation != wire::Operation{0});
  return true;
}

bool DecodeJsonClock(simdjson::padded_string_view body, simdjson::ondemand::parser* parser,
                     uint64_t* at_us, JsonDecodeError* error) {
  ELEVEN_ASSERT(parser != nullptr && at_us != nullptr && error != nullptr);
  od::document doc;
  od::object object;
  if (parser->iterate(body).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(error, "invalid_json",
                "the body must be a JSON object {\"at_us\": <µs since the epoch>}");
  }
  bool found = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS)
      return Fail(error, "invalid_json", "the body is not JSON");
    if (key != "at_us")
      return Invalid(error,
                     "unknown field \"" + std::string(key) + "\"; the body is {\"at_us\": N}");
    if (found) return Invalid(error, "at_us given twice");
    if (field.value().get_uint64().get(*at_us) != simdjson::SUCCESS) {
      return Invalid(error, "at_us must be an unsigned integer (µs since the Unix epoch)");
    }
    found = true;
  }
  if (!found) return Invalid(error, "at_us is required");
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return Fail(error, "invalid_json", "trailing content after the body");
  }
  return true;
}

}  // namespace eleven::server
