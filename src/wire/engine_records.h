// Records that describe the engine as a whole, for queries (docs/protocol.md, get_stats,
// get_limits and get_sales): its counters, the capacities it was started with, and the sales
// figures. Little-endian, fixed size; the engine fills them (engine::StatsRecordOf,
// engine::LimitsOf, engine::Engine::QuerySales).
#pragma once

#include <cstdint>

#include "wire/fulfilment.h"
#include "wire/records.h"

namespace eleven::wire {

// engine::EngineStats, field for field.
struct StatsRecord {
  uint64_t orders_accepted;
  uint64_t orders_rejected;
  uint64_t orders_paid;
  uint64_t orders_cancelled;
  uint64_t orders_expired;
  uint64_t orders_replayed;
  int64_t gmv_placed_fen;
  int64_t gmv_paid_fen;
  uint64_t units_sold;
  uint64_t orders_delivered;
};
static_assert(sizeof(StatsRecord) == 80);

// The capacities and modules of engine::EngineConfig that decide what fits (and, being
// table sizes, what the state digest covers): two engines with equal limits fed the same
// log end with equal digests.
struct LimitsRecord {
  uint64_t pay_window_us;
  uint32_t merchant_count_max;
  uint32_t sku_count_max;
  uint32_t drop_count_max;
  uint32_t order_slot_count;
  uint32_t holding_count_max;
  uint32_t batch_command_count_max;
  uint8_t ledger_enabled;
  uint8_t fulfilment_enabled;
  uint8_t reserved[2];
  uint32_t milestone_count;
  // Ledger.
  uint32_t account_count_max;
  uint32_t transfer_count_max;
  uint32_t buyer_count_max;
  uint32_t ledger_merchant_count_max;
  uint32_t ledger_order_count_max;
  uint32_t plan_count_max;
  // Fulfilment.
  uint32_t warehouse_count_max;
  uint32_t courier_count_max;
  uint32_t stock_entry_count_max;
  uint32_t fulfilment_sku_count_max;
  uint32_t parcel_count_max;
  uint32_t shipment_count_max;
  uint32_t backlog_count_max;
  uint32_t delivered_outbox_count_max;
  uint64_t milestone_parcels[kMilestoneCountMax];
  // Coupons (docs/promotions.md).
  uint32_t coupon_count_max;
  uint32_t coupon_claim_count_max;
  uint32_t coupon_order_count_max;
  // Pre-sales.
  uint32_t presale_count_max;
  uint32_t deposit_count_max;
  uint32_t reserved1;
};
static_assert(sizeof(LimitsRecord) == 120 + 8 * kMilestoneCountMax);

// Sales figures (docs/read-side.md, "Live figures"), exact to the op a reply is answered at.
// A sale is counted when its order is paid: gross is its lines' value at list (or live)
// price, discounts its coupons' (docs/promotions.md), units its lines' quantities; refunds
// are what its buyer got back later (cancelled after payment, returned, after-sales).
// net = gross - discounts - refunds.
enum class SalesDimension : uint8_t {
  kTotal = 1,     // key 0
  kCityTier = 2,  // key 1 .. kCityTierMax (the buyer's city tier)
  kRegion = 3,    // key 1 .. kRegionMax (the buyer's region)
  kCountry = 4,   // key: the merchant's ISO 3166-1 alpha-2 code, its two letters in bytes 0, 1
  kDrop = 5,      // key: the drop id (orders placed in the drop)
};
struct SalesRecord {
  SalesDimension dimension;
  uint8_t reserved[7];
  uint64_t key;
  int64_t gross_fen;
  int64_t discounts_fen;
  int64_t refunds_fen;
  int64_t net_fen;
  uint64_t orders;  // paid orders
  uint64_t units;   // their units
};
static_assert(sizeof(SalesRecord) == 64);
// The request of get_sales: every dimension but drops in one reply, then up to `drop_limit`
// drops, the newest drops with a sale first.
struct SalesQuery {
  uint32_t drop_limit;  // 0 .. kSalesDropsMax
  uint32_t reserved;    // zero
};
inline constexpr uint32_t kSalesDropsMax = 1000;
// total + tiers + regions + every two-letter code: the most entries before the drops.
inline constexpr uint32_t kSalesFixedEntriesMax = 1 + kCityTierMax + kRegionMax + 26 * 26;

}  // namespace eleven::wire
