// A festival scenario: a Singles' Day at a chosen scale, read from a TOML file
// (scenarios/*.toml; every key is described in docs/festival.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "wire/fulfilment.h"
#include "wire/records.h"

namespace eleven::sim {

struct CourierSpec {
  std::string name;
  wire::CourierMode mode = wire::CourierMode::kExpress;
  uint8_t promised_days = 3;
  uint32_t hourly_capacity = 1000;
  int64_t cost_fen = 300;
};

struct DropSpec {
  std::string name;
  std::string sku;
  int64_t price_fen = 0;
  uint32_t quota = 0;
  double seed_seconds = 0;  // how long the seed says it took to sell out
  double opens_at_s = 0;
  double demand_per_s = 0;  // buyers arriving for it per second while it runs
  double demand_seconds = 0;
};

// A platform coupon (docs/promotions.md): funded by the platform, good in any shop's basket.
struct PlatformCouponSpec {
  std::string name;  // "¥50 off from ¥300"
  wire::CouponKind kind = wire::CouponKind::kThreshold;
  int64_t amount_fen = 0;
  int64_t threshold_fen = 0;  // threshold coupons: > amount_fen; fixed coupons: 0
  double count_share = 0;     // coupons that may be claimed, as a share of buyers.count
};

// The most platform coupons a scenario may name: the festival keeps which of them each buyer
// has tried to claim in one byte per buyer.
inline constexpr size_t kPlatformCouponsMax = 8;

struct Scenario {
  std::string name = "unnamed";
  uint64_t seed = 1;
  double scale = 0.001;
  uint64_t simulated_seconds = 86400;
  uint32_t tick_ms = 100;
  bool realtime = false;
  bool durable = true;
  // When to take a background snapshot (seconds into the day); negative: none.
  double snapshot_at_s = 43200;
  // Who writes it (replica::ReplicaOptions::SnapshotMode): the follower, a second copy of
  // the state (twice its memory, the engine does not stop), or a forked child.
  bool snapshot_follower = false;

  uint32_t merchants = 1000;
  double overseas_share = 0.1;
  uint32_t countries = 78;
  uint32_t skus_per_merchant = 8;
  uint32_t stock_per_sku = 400;
  int64_t price_min_fen = 990;
  int64_t price_max_fen = 299900;

  uint32_t buyers = 100000;
  uint32_t regions = 31;
  std::array<double, 5> tier_shares = {0.07, 0.16, 0.37, 0.28, 0.12};
  double new_user_share = 0.3;

  double peak_orders_per_s_at_scale_1 = 545000;
  std::vector<std::pair<double, double>> curve;  // (second, share of the peak)
  double retry_share = 0.02;

  double pay_share = 0.93;
  double cancel_share = 0.02;
  double pay_delay_mean_s = 45;
  std::array<double, 4> method_shares = {0.55, 0.2, 0.2, 0.05};
  std::array<uint8_t, 4> instalment_periods = {3, 6, 12, 24};
  std::array<double, 4> instalment_period_shares = {0.35, 0.3, 0.2, 0.15};
  int64_t wallet_balance_max_fen = 400000;
  int64_t credit_limit_fen = 2000000;
  double merchant_credit_share = 0.3;
  int64_t merchant_credit_line_fen = 50000000;
  double merchant_credit_draw_share = 0.5;
  uint16_t merchant_credit_withhold_bp = 1000;

  uint32_t warehouses = 24;
  uint32_t warehouse_hourly_capacity = 2400;
  uint32_t bonded_warehouses = 3;
  std::vector<CourierSpec> couriers;
  double same_day_share = 0.2;
  // Returns and refunds (docs/returns.md): paid orders whose parcels all come back (exception,
  // then returned: the engine refunds them), and delivered orders given an after-sales
  // refund of after_sales_fraction of their amount by the merchant, hours later.
  double return_share = 0.05;
  double after_sales_share = 0.02;
  double after_sales_fraction = 0.3;
  double after_sales_delay_mean_s = 7200;

  std::vector<DropSpec> drops;

  // Coupons (docs/festival.md, "Coupons"): on when the scenario has a [coupons] section.
  // A share of the ordinary orders' buyers claim coupons first (commands; first come, first
  // served) and place the order with the ones they got; a share of a drop's buyers claim its
  // live-room coupon while the drop is open and use it on their drop order.
  bool coupons = false;
  double coupon_order_share = 0.3;  // ordinary orders whose buyer claims coupons first
  std::vector<PlatformCouponSpec> platform_coupons;
  double shop_coupon_share = 0.2;  // merchants with a shop coupon
  int64_t shop_coupon_amount_fen = 2000;
  int64_t shop_coupon_threshold_fen = 20000;
  double shop_coupon_count_share = 0.002;  // each shop's coupons, as a share of buyers.count
  double live_room_claim_share = 0.5;      // drop buyers who claim the room's coupon first
  double live_room_discount_share = 0.05;  // a live-room coupon's amount, of the drop price
  double live_room_count_share = 0.5;      // its count, of the drop's quota

  // Pre-sale (docs/festival.md, "Pre-sale"): on when the scenario has a [presale] section.
  // Deposits are paid the day before (before 00:00 in log time); balances from 00:00, in the
  // midnight surge, until balance_ends_at_s; unpaid deposits are forfeited then.
  bool presale = false;
  double presale_sku_share = 0.01;         // catalog SKUs with a pre-sale
  double presale_quota_share = 0.3;        // of their stock, moved into the pre-sale
  double presale_price_share = 0.9;        // the pre-sale price, of the list price
  double presale_deposit_share = 0.1;      // the deposit, of the pre-sale price
  double presale_deposit_inflation = 2.0;  // what a deposit counts for at the balance, per fen paid
  double presale_buyer_share = 0.4;        // buyers who paid a deposit (on one pre-sale each)
  double presale_forfeit_share = 0.15;     // of them, those who never pay the balance
  double presale_balance_delay_mean_s = 300;  // when the others pay it, after 00:00
  double presale_balance_ends_at_s = 3600;    // the balance window's end, after 00:00

  // The rate of ordinary orders at second t of the day (orders per simulated second).
  double OrdersPerSecondAt(double t_s) const;
  double peak_orders_per_s() const { return peak_orders_per_s_at_scale_1 * scale; }
};

// Reads and checks a scenario: every value in range, or InvalidArgument naming the key.
[[nodiscard]] Status LoadScenario(const std::string& path, Scenario* scenario);

}  // namespace eleven::sim
