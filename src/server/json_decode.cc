#include "server/json_decode.h"

#include <array>
#include <limits>

#include "base/assert.h"
#include "wire/make.h"

namespace eleven::server {

namespace {

namespace od = simdjson::ondemand;

enum Field : uint8_t {
  kMerchantId, kCountry, kOverseas, kSkuId, kPriceFen, kStock, kPerBuyerLimit, kQuantity,
  kDropId, kLivePriceFen, kQuota, kOpensAtUs, kClosesAtUs, kIdempotencyKey, kBuyerId,
  kRegion, kCityTier, kLines, kAmountFen, kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "merchant_id", "country", "overseas", "sku_id", "price_fen", "stock", "per_buyer_limit",
    "quantity", "drop_id", "live_price_fen", "quota", "opens_at_us", "closes_at_us",
    "idempotency_key", "buyer_id", "region", "city_tier", "lines", "amount_fen"};
// The largest value each unsigned field's record slot holds (signed fields: int64).
constexpr std::array<uint64_t, kFieldCount> kFieldMax = {
    UINT64_MAX, 0, 0, UINT64_MAX, 0, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX, 0,
    UINT32_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT16_MAX, UINT8_MAX, 0, 0};

constexpr uint32_t Bit(Field f) { return 1u << f; }

struct Spec {
  uint32_t allowed;
  uint32_t required;
};

Spec SpecFor(JsonCommand kind) {
  switch (kind) {
    case JsonCommand::kCreateMerchant:
      return {Bit(kMerchantId) | Bit(kCountry) | Bit(kOverseas), Bit(kMerchantId) | Bit(kCountry)};
    case JsonCommand::kCreateSku: {
      const uint32_t required = Bit(kSkuId) | Bit(kMerchantId) | Bit(kPriceFen) | Bit(kStock);
      return {required | Bit(kPerBuyerLimit), required};
    }
    case JsonCommand::kRestock: return {Bit(kQuantity), Bit(kQuantity)};
    case JsonCommand::kSetPrice: return {Bit(kPriceFen), Bit(kPriceFen)};
    case JsonCommand::kCreateDrop: {
      const uint32_t required = Bit(kDropId) | Bit(kSkuId) | Bit(kLivePriceFen) | Bit(kQuota) |
                                Bit(kOpensAtUs) | Bit(kClosesAtUs);
      return {required | Bit(kPerBuyerLimit), required};
    }
    case JsonCommand::kPlaceOrder: {
      const uint32_t required = Bit(kIdempotencyKey) | Bit(kMerchantId) | Bit(kBuyerId) |
                                Bit(kRegion) | Bit(kCityTier) | Bit(kLines);
      return {required | Bit(kDropId), required};
    }
    case JsonCommand::kPayOrder: return {Bit(kAmountFen), Bit(kAmountFen)};
    case JsonCommand::kCloseDrop:
    case JsonCommand::kCancelOrder: return {0, 0};
  }
  return {0, 0};
}

struct Values {
  std::array<uint64_t, kFieldCount> u{};
  std::array<int64_t, kFieldCount> i{};
  char country[2] = {0, 0};
  bool overseas = false;
  uint8_t line_count = 0;
  std::array<uint64_t, wire::kOrderLineCountMax> line_sku{};
  std::array<uint16_t, wire::kOrderLineCountMax> line_quantity{};
};

bool Fail(JsonDecodeError* error, std::string code, std::string message) {
  error->code = std::move(code);
  error->message = std::move(message);
  return false;
}

bool Invalid(JsonDecodeError* error, std::string message) {
  return Fail(error, "invalid_request", std::move(message));
}

bool ReadUnsigned(od::value value, Field field, Values* v, JsonDecodeError* error) {
  uint64_t n = 0;
  if (value.get_uint64().get(n) != simdjson::SUCCESS || n > kFieldMax[field]) {
    return Invalid(error, std::string(kFieldNames[field]) + " must be an integer from 0 to " +
                              std::to_string(kFieldMax[field]));
  }
  v->u[field] = n;
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
      return Invalid(error, "unknown field lines[" + std::to_string(index) + "]." + std::string(key));
    }
    const uint32_t bit = is_sku ? 1 : 2;
    if ((seen & bit) != 0) return Invalid(error, "repeated field lines[]." + std::string(key));
    seen |= bit;
    const uint64_t max = is_sku ? UINT64_MAX : UINT16_MAX;
    if (field.value().get_uint64().get(n) != simdjson::SUCCESS || n > max) {
      return Invalid(error, "lines[]." + std::string(key) + " must be an integer from 0 to " + std::to_string(max));
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

bool ReadValue(Field field, od::value value, Values* v, JsonDecodeError* error) {
  switch (field) {
    case kCountry: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS || s.size() != 2) {
        return Invalid(error, "country must be a two-letter string");
      }
      v->country[0] = s[0];
      v->country[1] = s[1];
      return true;
    }
    case kOverseas:
      if (value.get_bool().get(v->overseas) != simdjson::SUCCESS) return Invalid(error, "overseas must be a boolean");
      return true;
    case kPriceFen:
    case kLivePriceFen:
    case kAmountFen:
      if (value.get_int64().get(v->i[field]) != simdjson::SUCCESS) {
        return Invalid(error, std::string(kFieldNames[field]) + " must be a 64-bit integer");
      }
      return true;
    case kLines: return ReadLines(value, v, error);
    default: return ReadUnsigned(value, field, v, error);
  }
}

bool ReadObject(od::document& doc, const Spec& spec, Values* v, JsonDecodeError* error) {
  od::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return Fail(error, "invalid_json", "the body must be a JSON object");
  uint32_t seen = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad object key");
    int f = 0;
    while (f < kFieldCount && kFieldNames[f] != key) f++;
    if (f == kFieldCount || (spec.allowed & Bit(Field(f))) == 0) {
      return Invalid(error, "unknown field " + std::string(key.substr(0, 64)));
    }
    if ((seen & Bit(Field(f))) != 0) return Invalid(error, "repeated field " + std::string(key));
    seen |= Bit(Field(f));
    od::value value;
    if (field.value().get(value) != simdjson::SUCCESS) return Fail(error, "invalid_json", "bad value");
    if (!ReadValue(Field(f), value, v, error)) return false;
  }
  const char* trailing = nullptr;  // current_location() fails once the input is used up
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return Fail(error, "invalid_json", "trailing content after the object");
  }
  const uint32_t missing = spec.required & ~seen;
  if (missing != 0) {
    int f = 0;
    while ((missing & Bit(Field(f))) == 0) f++;
    return Invalid(error, "missing field " + std::string(kFieldNames[f]));
  }
  return true;
}

wire::Command Build(JsonCommand kind, uint64_t path_id, const Values& v) {
  const auto& u = v.u;
  switch (kind) {
    case JsonCommand::kCreateMerchant:
      return wire::MakeCreateMerchant(u[kMerchantId], v.country,
                                      v.overseas ? static_cast<uint8_t>(wire::MerchantFlags::kOverseas) : 0);
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
      return c;
    }
    case JsonCommand::kPayOrder: return wire::MakePayOrder(path_id, v.i[kAmountFen]);
    case JsonCommand::kCancelOrder: return wire::MakeCancelOrder(path_id);
  }
  ELEVEN_ASSERT(false);
  return wire::Command{};
}

bool IsBlank(std::string_view body) {
  for (char c : body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

bool DecodeJsonCommand(JsonCommand kind, uint64_t path_id, simdjson::padded_string_view body,
                       simdjson::ondemand::parser* parser, wire::Command* out,
                       JsonDecodeError* error) {
  ELEVEN_ASSERT(parser != nullptr && out != nullptr && error != nullptr);
  const Spec spec = SpecFor(kind);
  Values values;
  if (!IsBlank(std::string_view(body.data(), body.length()))) {
    od::document doc;
    if (parser->iterate(body).get(doc) != simdjson::SUCCESS) {
      return Fail(error, "invalid_json", "the body is not JSON");
    }
    if (!ReadObject(doc, spec, &values, error)) return false;
  } else if (spec.required != 0) {
    return Invalid(error, "a JSON object body is required");
  }
  *out = Build(kind, path_id, values);
  ELEVEN_ASSERT(out->operation != wire::Operation{0});
  return true;
}

}  // namespace eleven::server
