#include "replica/shape.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <type_traits>

#include "base/assert.h"
#include "storage/data_dir.h"

namespace eleven::replica {

namespace {

// fulfilment.milestones: a count and its ascending parcel counts (const when encoding).
template <typename Count, typename Parcel>
struct Milestones {
  Count* count;
  Parcel* parcels;
};
template <typename T>
inline constexpr bool kIsMilestones = false;
template <typename Count, typename Parcel>
inline constexpr bool kIsMilestones<Milestones<Count, Parcel>> = true;

// Calls visit(key, field) for every field of the shape, in manifest order. `S` is DataShape
// or const DataShape. The one list of keys: encoding, decoding and ShapeKeys all walk it.
template <typename S, typename Visit>
void VisitShape(S& s, Visit&& visit) {
  auto& e = s.engine;
  visit("engine.clock", s.clock);
  visit("engine.merchants_max", e.merchant_count_max);
  visit("engine.skus_max", e.sku_count_max);
  visit("engine.drops_max", e.drop_count_max);
  visit("engine.order_slots", e.order_slot_count);
  visit("engine.holdings_max", e.holding_count_max);
  visit("engine.pay_window_us", e.pay_window_us);
  visit("engine.batch_commands_max", e.batch_command_count_max);
  visit("engine.api_keys_max", e.api_key_count_max);
  visit("engine.coupons_max", e.coupon_count_max);
  visit("engine.coupon_claims_max", e.coupon_claim_count_max);
  visit("engine.coupon_orders_max", e.coupon_order_count_max);
  visit("engine.presales_max", e.presale_count_max);
  visit("engine.deposits_max", e.deposit_count_max);
  auto& l = e.ledger;
  visit("ledger.enabled", e.ledger_enabled);
  visit("ledger.accounts_max", l.account_count_max);
  visit("ledger.transfers_max", l.transfer_count_max);
  visit("ledger.buyers_max", l.buyer_count_max);
  visit("ledger.merchants_max", l.merchant_count_max);
  visit("ledger.orders_max", l.order_count_max);
  visit("ledger.plans_max", l.plan_count_max);
  visit("ledger.chain_length_max", l.chain_length_max);
  visit("ledger.expire_per_tick_max", l.expire_per_tick_max);
  visit("ledger.settle_per_tick_max", l.settle_per_tick_max);
  visit("ledger.commission_bp", l.commission_bp);
  visit("ledger.auto_confirm_us", l.auto_confirm_us);
  visit("ledger.instalment_period_us", l.instalment_period_us);
  visit("ledger.after_sales_window_us", l.after_sales_window_us);
  visit("ledger.merchant_fee_bp", l.merchant_fee_bp);
  visit("ledger.buyer_fee_bp", l.buyer_fee_bp);
  visit("ledger.buyer_credit_limit_default_fen", l.buyer_credit_limit_default_fen);
  auto& f = e.fulfilment;
  visit("fulfilment.enabled", e.fulfilment_enabled);
  visit("fulfilment.warehouses_max", f.warehouse_count_max);
  visit("fulfilment.couriers_max", f.courier_count_max);
  visit("fulfilment.stock_entries_max", f.stock_entry_count_max);
  visit("fulfilment.skus_max", f.sku_count_max);
  visit("fulfilment.parcels_max", f.parcel_count_max);
  visit("fulfilment.shipments_max", f.shipment_count_max);
  visit("fulfilment.backlog_max", f.backlog_count_max);
  visit("fulfilment.delivered_outbox_max", f.delivered_outbox_count_max);
  Milestones milestones{&f.milestone_count, &f.milestone_parcels[0]};
  visit("fulfilment.milestones", milestones);
  visit("fulfilment.hour_buckets", f.hour_bucket_count);
  visit("fulfilment.drain_per_tick_max", f.drain_per_tick_max);
  visit("fulfilment.promise_day_weight_fen", f.promise_day_weight_fen);
  visit("fulfilment.day_offset_us", f.day_offset_us);
}

std::string List(const uint64_t* values, size_t count) {
  std::string out = "[";
  for (size_t i = 0; i < count; i++) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

template <typename T>
std::string Encode(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, LogClock>) {
    return value == LogClock::kClient ? "\"client\"" : "\"wall\"";
  } else if constexpr (kIsMilestones<T>) {
    ELEVEN_ASSERT(*value.count <= wire::kMilestoneCountMax);
    return List(value.parcels, *value.count);
  } else if constexpr (std::is_array_v<T>) {
    uint64_t values[std::extent_v<T>];
    for (size_t i = 0; i < std::extent_v<T>; i++) values[i] = value[i];
    return List(values, std::extent_v<T>);
  } else {
    static_assert(std::is_integral_v<T>);
    return std::to_string(value);
  }
}

template <typename T>
bool ParseInteger(std::string_view text, T* value) {
  T parsed{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error != std::errc() || end != text.data() + text.size()) return false;
  *value = parsed;
  return true;
}

// "[a, b, ...]" -> at most `count_max` unsigned values.
bool ParseList(std::string_view text, size_t count_max, uint64_t* values, size_t* count) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
  text = text.substr(1, text.size() - 2);
  *count = 0;
  while (!text.empty()) {
    if (*count == count_max) return false;
    const size_t comma = text.find(", ");
    if (!ParseInteger(text.substr(0, comma), &values[*count])) return false;
    (*count)++;
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 2);
  }
  return true;
}

// Parses what Encode writes, and only that: the value must encode back to the same text.
template <typename T>
bool Decode(std::string_view text, T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text != "true" && text != "false") return false;
    value = text == "true";
  } else if constexpr (std::is_same_v<T, LogClock>) {
    if (text != "\"wall\"" && text != "\"client\"") return false;
    value = text == "\"client\"" ? LogClock::kClient : LogClock::kWall;
  } else if constexpr (kIsMilestones<T>) {
    uint64_t parcels[wire::kMilestoneCountMax] = {};
    size_t count = 0;
    if (!ParseList(text, wire::kMilestoneCountMax, parcels, &count)) return false;
    for (size_t i = 0; i < count; i++) {
      if (parcels[i] == 0 || (i > 0 && parcels[i] <= parcels[i - 1]))
        return false;  // ascending, nonzero
    }
    *value.count = uint32_t(count);
    for (size_t i = 0; i < wire::kMilestoneCountMax; i++) value.parcels[i] = parcels[i];
  } else if constexpr (std::is_array_v<T>) {
    uint64_t values[std::extent_v<T>];
    size_t count = 0;
    if (!ParseList(text, std::extent_v<T>, values, &count) || count != std::extent_v<T>)
      return false;
    for (size_t i = 0; i < count; i++) {
      if (values[i] > std::numeric_limits<std::remove_extent_t<T>>::max()) return false;
      value[i] = std::remove_extent_t<T>(values[i]);
    }
  } else {
    if (!ParseInteger(text, &value)) return false;
  }
  return Encode(value) == text;
}

}  // namespace

std::vector<std::string> ShapeKeys() {
  std::vector<std::string> keys;
  const DataShape shape;
  VisitShape(shape, [&](const char* key, const auto&) { keys.emplace_back(key); });
  return keys;
}

std::vector<ManifestEntry> ShapeToManifest(const DataShape& shape) {
  std::vector<ManifestEntry> entries;
  VisitShape(shape, [&](const char* key, const auto& value) {
    entries.push_back({key, Encode(value)});
  });
  return entries;
}

Status ShapeFromManifest(const std::string& path, const std::vector<ManifestEntry>& entries,
                         DataShape* shape) {
  ELEVEN_ASSERT(shape != nullptr);
  DataShape read;
  size_t found = 0;
  std::string error;
  VisitShape(read, [&](const char* key, auto&& value) {
    for (const ManifestEntry& entry : entries) {
      if (entry.key != key) continue;
      found++;
      if (!Decode(entry.value, value) && error.empty())
        error = key + std::string(" = ") + entry.value + " is not valid";
      return;
    }
    if (error.empty()) error = "no " + std::string(key);
  });
  if (error.empty() && found != entries.size()) {
    const std::vector<std::string> keys = ShapeKeys();
    for (const ManifestEntry& entry : entries) {
      if (std::find(keys.begin(), keys.end(), entry.key) == keys.end()) {
        error = "unknown key " + entry.key;
        break;
      }
    }
  }
  if (!error.empty()) return Status::Corruption("manifest " + path + ": " + error);
  ELEVEN_ASSERT(found == entries.size());  // every key found once, none unknown
  *shape = read;
  return Status::Ok();
}

Status ReadDataShape(Env* env, const std::string& dir, DataShape* shape) {
  ELEVEN_ASSERT(env != nullptr && shape != nullptr);
  std::vector<ManifestEntry> entries;
  const Status read = ReadManifest(env, dir, &entries);
  if (read.code() == StatusCode::kNotFound) {
    uint64_t size_bytes = 0;
    if (!env->GetFileSize(JoinPath(dir, kDataDirIdentityName), &size_bytes).ok()) {
      return Status::NotFound("data directory " + dir + " is missing or not formatted (no " +
                              kDataDirIdentityName +
                              " file); create it with `eleven format --data " + dir + "`");
    }
    return Status::FailedPrecondition(
        "data directory " + dir + " has no " + kManifestName +
        " (formatted by an older build): its shape (capacities, ledger, fulfilment, clock) is not "
        "recorded. "
        "Record the settings it was served with, once: `eleven format --adopt --data " +
        dir + " --config FILE` (docs/operations.md)");
  }
  ELEVEN_RETURN_IF_ERROR(read);
  return ShapeFromManifest(JoinPath(dir, kManifestName), entries, shape);
}

Status CheckShape(const std::string& dir, const DataShape& recorded, const DataShape& wanted,
                  const std::vector<ShapeKeySource>& given) {
  const std::vector<ManifestEntry> have = ShapeToManifest(recorded);
  const std::vector<ManifestEntry> want = ShapeToManifest(wanted);
  ELEVEN_ASSERT(have.size() == want.size());
  std::string contradictions;
  for (const ShapeKeySource& g : given) {
    size_t i = 0;
    while (i < have.size() && have[i].key != g.key) i++;
    ELEVEN_ASSERT(i < have.size());  // only manifest keys are given
    ELEVEN_ASSERT(want[i].key == g.key);
    if (have[i].value == want[i].value) continue;
    contradictions += (contradictions.empty() ? "" : "; ") + g.key + " = " + want[i].value + " " +
                      g.source + ", but the data directory " + dir + " was formatted with " +
                      have[i].value;
  }
  if (contradictions.empty()) return Status::Ok();
  return Status::FailedPrecondition(
      contradictions +
      " (a data directory keeps the shape it was formatted with; leave the "
      "key out to take the recorded value)");
}

std::vector<ShapeKeySource> AllShapeKeys(const std::string& source) {
  std::vector<ShapeKeySource> given;
  for (std::string& key : ShapeKeys()) given.push_back({std::move(key), source});
  return given;
}

}  // namespace eleven::replica
