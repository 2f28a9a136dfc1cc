#include "sim/festival_scenario.h"

#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <algorithm>

namespace eleven::sim {

namespace {

// Reads `key` of `table` into `*out` if present; false (with `*error`) if it has the wrong type.
template <typename T>
bool Read(const toml::node_view<const toml::node>& table, const char* key, T* out, std::string* error) {
  auto node = table[key];
  if (!node) return true;
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = node.value<std::string>();
    if (!v) return *error = std::string(key) + " must be a string", false;
    *out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = node.value<bool>();
    if (!v) return *error = std::string(key) + " must be true or false", false;
    *out = *v;
  } else if constexpr (std::is_floating_point_v<T>) {
    auto v = node.value<double>();
    if (!v) return *error = std::string(key) + " must be a number", false;
    *out = *v;
  } else {
    auto v = node.value<int64_t>();
    if (!v || *v < 0) return *error = std::string(key) + " must be a non-negative integer", false;
    *out = static_cast<T>(*v);
  }
  return true;
}

template <typename T, size_t N>
bool ReadArray(const toml::node_view<const toml::node>& table, const char* key, std::array<T, N>* out,
               std::string* error) {
  auto node = table[key];
  if (!node) return true;
  const toml::array* array = node.as_array();
  if (array == nullptr || array->size() != N) {
    return *error = std::string(key) + " must be an array of " + std::to_string(N) + " numbers", false;
  }
  for (size_t i = 0; i < N; i++) {
    auto v = (*array)[i].value<double>();
    if (!v) return *error = std::string(key) + " must hold numbers", false;
    (*out)[i] = static_cast<T>(*v);
  }
  return true;
}

bool ReadCouriers(const toml::node_view<const toml::node>& table, Scenario* s, std::string* error) {
  const toml::array* list = table["couriers"].as_array();
  if (list == nullptr) return true;
  s->couriers.clear();
  for (const toml::node& item : *list) {
    const toml::array* c = item.as_array();
    auto name = c && c->size() == 5 ? (*c)[0].value<std::string>() : std::nullopt;
    auto mode = c && c->size() == 5 ? (*c)[1].value<std::string>() : std::nullopt;
    if (!name || !mode) return *error = "each courier is [name, mode, days, hourly capacity, cost]", false;
    CourierSpec spec;
    spec.name = *name;
    if (*mode == "express") spec.mode = wire::CourierMode::kExpress;
    else if (*mode == "air") spec.mode = wire::CourierMode::kCharterAir;
    else if (*mode == "rail") spec.mode = wire::CourierMode::kEuropeRail;
    else return *error = "courier mode must be express, air or rail, not " + *mode, false;
    spec.promised_days = static_cast<uint8_t>((*c)[2].value<int64_t>().value_or(0));
    spec.hourly_capacity = static_cast<uint32_t>((*c)[3].value<int64_t>().value_or(0));
    spec.cost_fen = (*c)[4].value<int64_t>().value_or(0);
    if (spec.promised_days == 0 || spec.hourly_capacity == 0 || spec.cost_fen <= 0 || spec.name.empty() ||
        spec.name.size() > 16) {
      return *error = "courier " + spec.name + ": days, capacity and cost must be positive, name 1..16 chars", false;
    }
    s->couriers.push_back(spec);
  }
  return true;
}

bool ReadDrops(const toml::table& root, Scenario* s, std::string* error) {
  const toml::array* list = root["drops"].as_array();
  if (list == nullptr) return true;
  s->drops.clear();
  for (const toml::node& item : *list) {
    if (!item.is_table()) return *error = "each [[drops]] entry must be a table", false;
    toml::node_view<const toml::node> t(item);
    DropSpec d;
    if (!Read(t, "name", &d.name, error) || !Read(t, "sku", &d.sku, error) ||
        !Read(t, "price_fen", &d.price_fen, error) || !Read(t, "quota", &d.quota, error) ||
        !Read(t, "seed_seconds", &d.seed_seconds, error) || !Read(t, "opens_at_s", &d.opens_at_s, error) ||
        !Read(t, "demand_per_s", &d.demand_per_s, error) || !Read(t, "demand_seconds", &d.demand_seconds, error)) {
      return false;
    }
    if (d.quota == 0 || d.price_fen <= 0 || d.demand_per_s <= 0 || d.demand_seconds <= 0) {
      return *error = "drop " + d.name + ": quota, price, demand_per_s and demand_seconds must be positive", false;
    }
    s->drops.push_back(d);
  }
  return true;
}

// [coupons] platform = [[name, "threshold" | "fixed", amount_fen, threshold_fen, count_share], ...]
bool ReadPlatformCoupons(const toml::node_view<const toml::node>& table, Scenario* s,
                         std::string* error) {
  const toml::array* list = table["platform"].as_array();
  if (list == nullptr) return true;
  s->platform_coupons.clear();
  for (const toml::node& item : *list) {
    const toml::array* c = item.as_array();
    const bool shaped = c != nullptr && c->size() == 5;
    auto name = shaped ? (*c)[0].value<std::string>() : std::nullopt;
    auto kind = shaped ? (*c)[1].value<std::string>() : std::nullopt;
    auto amount = shaped ? (*c)[2].value<int64_t>() : std::nullopt;
    auto threshold = shaped ? (*c)[3].value<int64_t>() : std::nullopt;
    auto share = shaped ? (*c)[4].value<double>() : std::nullopt;
    if (!name || !kind || !amount || !threshold || !share) {
      return *error =
                 "coupons.platform: each is [name, kind, amount_fen, threshold_fen, count_share]",
             false;
    }
    PlatformCouponSpec spec{*name, wire::CouponKind::kThreshold, *amount, *threshold, *share};
    if (*kind == "fixed")
      spec.kind = wire::CouponKind::kFixed;
    else if (*kind != "threshold")
      return *error = "coupons.platform: kind is threshold or fixed, not " + *kind, false;
    s->platform_coupons.push_back(spec);
  }
  return true;
}

bool ReadCurve(const toml::node_view<const toml::node>& table, Scenario* s, std::string* error) {
  const toml::array* list = table["curve"].as_array();
  if (list == nullptr) return true;
  s->curve.clear();
  for (const toml::node& item : *list) {
    const toml::array* p = item.as_array();
    auto t = p && p->size() == 2 ? (*p)[0].value<double>() : std::nullopt;
    auto share = p && p->size() == 2 ? (*p)[1].value<double>() : std::nullopt;
    if (!t || !share || *share < 0 || (!s->curve.empty() && *t <= s->curve.back().first)) {
      return *error = "traffic.curve is a list of [second, share] with rising seconds", false;
    }
    s->curve.emplace_back(*t, *share);
  }
  return true;
}

bool IsShare(double x) { return x >= 0 && x <= 1; }  // false for NaN too

Status CheckCoupons(const Scenario& s) {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("scenario: coupons." + what);
  };
  if (!s.coupons) return Status::Ok();
  if (!IsShare(s.coupon_order_share)) return bad("order_share must be 0..1");
  if (s.platform_coupons.size() > kPlatformCouponsMax) {
    return bad("platform holds at most " + std::to_string(kPlatformCouponsMax) + " coupons");
  }
  for (const PlatformCouponSpec& c : s.platform_coupons) {
    const bool fixed = c.kind == wire::CouponKind::kFixed;
    if (c.name.empty() || c.amount_fen <= 0 || c.amount_fen > wire::kPriceMaxFen ||
        (fixed ? c.threshold_fen != 0 : c.threshold_fen <= c.amount_fen)) {
      return bad("platform " + c.name +
                 ": a name, amount_fen 1..kPriceMaxFen, threshold_fen > amount_fen (fixed: 0)");
    }
    if (!(c.count_share > 0 && c.count_share <= 1))
      return bad("platform " + c.name + ": count_share must be in (0, 1]");
  }
  if (!IsShare(s.shop_coupon_share)) return bad("shop_share must be 0..1");
  if (s.shop_coupon_amount_fen <= 0 || s.shop_coupon_threshold_fen <= s.shop_coupon_amount_fen) {
    return bad("shop_amount_fen must be > 0 and shop_threshold_fen above it");
  }
  if (!(s.shop_coupon_count_share > 0 && s.shop_coupon_count_share <= 1))
    return bad("shop_count_share must be in (0, 1]");
  if (!IsShare(s.live_room_claim_share)) return bad("live_room_claim_share must be 0..1");
  if (!(s.live_room_discount_share > 0 && s.live_room_discount_share < 1)) {
    return bad("live_room_discount_share must be in (0, 1)");
  }
  if (!(s.live_room_count_share > 0 && s.live_room_count_share <= 1))
    return bad("live_room_count_share must be in (0, 1]");
  return Status::Ok();
}

Status CheckPresale(const Scenario& s) {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("scenario: presale." + what);
  };
  if (!s.presale) return Status::Ok();
  if (!IsShare(s.presale_sku_share)) return bad("sku_share must be 0..1");
  if (!(s.presale_quota_share > 0 && s.presale_quota_share <= 1))
    return bad("quota_share must be in (0, 1]");
  if (!(s.presale_price_share > 0 && s.presale_price_share <= 1))
    return bad("price_share must be in (0, 1]");
  if (!(s.presale_deposit_inflation >= 1 && s.presale_deposit_share > 0 &&
        s.presale_deposit_share * s.presale_deposit_inflation < 1)) {
    return bad("deposit_share must be > 0, deposit_inflation >= 1, and their product below 1");
  }
  if (!IsShare(s.presale_buyer_share)) return bad("buyer_share must be 0..1");
  if (!IsShare(s.presale_forfeit_share)) return bad("forfeit_share must be 0..1");
  if (!(s.presale_balance_delay_mean_s >= 0 && s.presale_balance_delay_mean_s <= 86400)) {
    return bad("balance_delay_mean_s must be 0..86400");
  }
  // Up to the end of the after-sales window (15 days): a window past the run is allowed,
  // its forfeits just do not happen within the day.
  if (!(s.presale_balance_ends_at_s > 0 && s.presale_balance_ends_at_s <= 15 * 86400)) {
    return bad("balance_ends_at_s must be in (0, 1296000]");
  }
  return Status::Ok();
}

Status Check(const Scenario& s) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument("scenario: " + what); };
  if (s.scale <= 0 || s.scale > 1) return bad("scale must be in (0, 1]");
  if (s.simulated_seconds == 0 || s.simulated_seconds > 86400) return bad("simulated_seconds must be 1..86400");
  if (s.tick_ms == 0 || s.tick_ms > 1000) return bad("tick_ms must be 1..1000");
  ELEVEN_RETURN_IF_ERROR(CheckCoupons(s));
  ELEVEN_RETURN_IF_ERROR(CheckPresale(s));
  if (!(s.return_share >= 0 && s.return_share <= 1)) return bad("returns.return_share must be 0..1");
  if (!(s.after_sales_share >= 0 && s.after_sales_share <= 1)) return bad("returns.after_sales_share must be 0..1");
  if (!(s.after_sales_fraction > 0 && s.after_sales_fraction <= 1)) {
    return bad("returns.after_sales_fraction must be in (0, 1]");
  }
  if (!(s.after_sales_delay_mean_s >= 0 && s.after_sales_delay_mean_s <= 86400)) {
    return bad("returns.after_sales_delay_mean_s must be 0..86400");
  }
  if (s.merchants == 0 || s.merchants > 1'000'000) return bad("catalog.merchants must be 1..1000000");
  if (s.skus_per_merchant == 0 || s.skus_per_merchant > 64) return bad("catalog.skus_per_merchant must be 1..64");
  if (s.buyers == 0 || s.buyers > 50'000'000) return bad("buyers.count must be 1..50000000");
  if (s.regions == 0 || s.regions > 999) return bad("buyers.regions must be 1..999");
  if (s.price_min_fen <= 0 || s.price_max_fen < s.price_min_fen) return bad("catalog prices must be 0 < min <= max");
  if (s.countries == 0 || s.countries > 200) return bad("catalog.countries must be 1..200");
  if (s.curve.empty()) return bad("traffic.curve must have points");
  if (s.couriers.empty()) return bad("fulfilment.couriers must not be empty");
  if (s.warehouses == 0 || s.bonded_warehouses >= s.warehouses) return bad("fulfilment needs warehouses, more than the bonded ones");
  return Status::Ok();
}

}  // namespace

double Scenario::OrdersPerSecondAt(double t_s) const {
  if (curve.empty()) return 0;
  if (t_s <= curve.front().first) return curve.front().second * peak_orders_per_s();
  for (size_t i = 1; i < curve.size(); i++) {
    if (t_s <= curve[i].first) {
      const auto [t0, a] = curve[i - 1];
      const auto [t1, b] = curve[i];
      return (a + (b - a) * (t_s - t0) / (t1 - t0)) * peak_orders_per_s();
    }
  }
  return curve.back().second * peak_orders_per_s();
}

Status LoadScenario(const std::string& path, Scenario* s) {
  toml::parse_result parsed = toml::parse_file(path);
  if (!parsed) {
    const auto& e = parsed.error();
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  toml::node_view<const toml::node> top(root);
  std::string error;
  std::string pace = "fast", durability = "durable", snapshot_mode = "fork";
  bool ok = Read(top, "name", &s->name, &error) && Read(top, "seed", &s->seed, &error) &&
            Read(top, "scale", &s->scale, &error) && Read(top, "simulated_seconds", &s->simulated_seconds, &error) &&
            Read(top, "tick_ms", &s->tick_ms, &error) && Read(top, "pace", &pace, &error) &&
            Read(top, "durability", &durability, &error) && Read(top, "snapshot_at_s", &s->snapshot_at_s, &error) &&
            Read(top, "snapshot_mode", &snapshot_mode, &error);
  auto c = top["catalog"];
  ok = ok && Read(c, "merchants", &s->merchants, &error) && Read(c, "overseas_share", &s->overseas_share, &error) &&
       Read(c, "countries", &s->countries, &error) && Read(c, "skus_per_merchant", &s->skus_per_merchant, &error) &&
       Read(c, "stock_per_sku", &s->stock_per_sku, &error) && Read(c, "price_min_fen", &s->price_min_fen, &error) &&
       Read(c, "price_max_fen", &s->price_max_fen, &error);
  auto b = top["buyers"];
  ok = ok && Read(b, "count", &s->buyers, &error) && Read(b, "regions", &s->regions, &error) &&
       ReadArray(b, "tier_shares", &s->tier_shares, &error) && Read(b, "new_user_share", &s->new_user_share, &error);
  auto t = top["traffic"];
  ok = ok && Read(t, "peak_orders_per_s_at_scale_1", &s->peak_orders_per_s_at_scale_1, &error) &&
       ReadCurve(t, s, &error) && Read(t, "retry_share", &s->retry_share, &error);
  auto p = top["payments"];
  ok = ok && Read(p, "pay_share", &s->pay_share, &error) && Read(p, "cancel_share", &s->cancel_share, &error) &&
       Read(p, "pay_delay_mean_s", &s->pay_delay_mean_s, &error) &&
       ReadArray(p, "method_shares", &s->method_shares, &error) &&
       ReadArray(p, "instalment_periods", &s->instalment_periods, &error) &&
       ReadArray(p, "instalment_period_shares", &s->instalment_period_shares, &error) &&
       Read(p, "wallet_balance_max_fen", &s->wallet_balance_max_fen, &error) &&
       Read(p, "credit_limit_fen", &s->credit_limit_fen, &error) &&
       Read(p, "merchant_credit_share", &s->merchant_credit_share, &error) &&
       Read(p, "merchant_credit_line_fen", &s->merchant_credit_line_fen, &error) &&
       Read(p, "merchant_credit_draw_share", &s->merchant_credit_draw_share, &error) &&
       Read(p, "merchant_credit_withhold_bp", &s->merchant_credit_withhold_bp, &error);
  auto f = top["fulfilment"];
  ok = ok && Read(f, "warehouses", &s->warehouses, &error) &&
       Read(f, "warehouse_hourly_capacity", &s->warehouse_hourly_capacity, &error) &&
       Read(f, "bonded_warehouses", &s->bonded_warehouses, &error) && ReadCouriers(f, s, &error) &&
       Read(f, "same_day_share", &s->same_day_share, &error) && ReadDrops(root, s, &error);
  auto r = top["returns"];
  ok = ok && Read(r, "return_share", &s->return_share, &error) &&
       Read(r, "after_sales_share", &s->after_sales_share, &error) &&
       Read(r, "after_sales_fraction", &s->after_sales_fraction, &error) &&
       Read(r, "after_sales_delay_mean_s", &s->after_sales_delay_mean_s, &error);
  if (auto co = top["coupons"]; ok && co) {
    s->coupons = true;
    ok = Read(co, "order_share", &s->coupon_order_share, &error) &&
         ReadPlatformCoupons(co, s, &error) &&
         Read(co, "shop_share", &s->shop_coupon_share, &error) &&
         Read(co, "shop_amount_fen", &s->shop_coupon_amount_fen, &error) &&
         Read(co, "shop_threshold_fen", &s->shop_coupon_threshold_fen, &error) &&
         Read(co, "shop_count_share", &s->shop_coupon_count_share, &error) &&
         Read(co, "live_room_claim_share", &s->live_room_claim_share, &error) &&
         Read(co, "live_room_discount_share", &s->live_room_discount_share, &error) &&
         Read(co, "live_room_count_share", &s->live_room_count_share, &error);
  }
  if (auto ps = top["presale"]; ok && ps) {
    s->presale = true;
    ok = Read(ps, "sku_share", &s->presale_sku_share, &error) &&
         Read(ps, "quota_share", &s->presale_quota_share, &error) &&
         Read(ps, "price_share", &s->presale_price_share, &error) &&
         Read(ps, "deposit_share", &s->presale_deposit_share, &error) &&
         Read(ps, "deposit_inflation", &s->presale_deposit_inflation, &error) &&
         Read(ps, "buyer_share", &s->presale_buyer_share, &error) &&
         Read(ps, "forfeit_share", &s->presale_forfeit_share, &error) &&
         Read(ps, "balance_delay_mean_s", &s->presale_balance_delay_mean_s, &error) &&
         Read(ps, "balance_ends_at_s", &s->presale_balance_ends_at_s, &error);
  }
  if (!ok) return Status::InvalidArgument(path + ": " + error);
  if (pace != "fast" && pace != "realtime") return Status::InvalidArgument(path + ": pace is fast or realtime");
  if (durability != "durable" && durability != "relaxed") {
    return Status::InvalidArgument(path + ": durability is durable or relaxed");
  }
  if (snapshot_mode != "fork" && snapshot_mode != "follower") {
    return Status::InvalidArgument(path + ": snapshot_mode is fork or follower");
  }
  s->realtime = pace == "realtime";
  s->durable = durability == "durable";
  s->snapshot_follower = snapshot_mode == "follower";
  return Check(*s);
}

}  // namespace eleven::sim
