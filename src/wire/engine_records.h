// Records that describe the engine as a whole, for queries (docs/protocol.md, get_stats and
// get_limits): its counters and the capacities it was started with. Little-endian, fixed
// size; the engine fills them (engine::StatsRecordOf, engine::LimitsOf).
#pragma once

#include <cstdint>

#include "wire/fulfilment.h"

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
};
static_assert(sizeof(LimitsRecord) == 96 + 8 * kMilestoneCountMax);

}  // namespace eleven::wire
