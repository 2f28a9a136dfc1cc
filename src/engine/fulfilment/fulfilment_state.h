// Fulfilment's internal tables. Every struct has explicit padding (reserved fields), so its
// bytes are a function of its fields and the state digest is the same on every replica.
#pragma once

#include <type_traits>

#include "engine/fulfilment/fulfilment.h"

namespace eleven::engine {

namespace fulfilment {
inline constexpr uint32_t kNoSlot = 0xFFFFFFFFu;  // no index into a table
// Regions 0..1023 in a courier's coverage bitmap (region 0 is never covered).
inline constexpr uint32_t kCoverageWords = 16;
}  // namespace fulfilment
static_assert(fulfilment::kCoverageWords * 64 >= wire::kCoverageBlockRegions * wire::kCoverageBlockCount);
static_assert(wire::kCoverageBlockRegions * wire::kCoverageBlockCount > wire::kRegionMax);

struct Fulfilment::Warehouse {
  uint64_t id;
  uint64_t hour_index;  // the hour hour_used counts; another hour means 0 used
  uint64_t day_index;   // likewise for day_used
  int32_t x_km;
  int32_t y_km;
  uint32_t hourly_capacity;
  uint32_t daily_capacity;
  uint32_t hour_used;
  uint32_t day_used;
  uint16_t region;
  uint16_t city;
  uint8_t flags;
  uint8_t reserved0[3];
};

struct Fulfilment::Courier {
  uint64_t id;
  uint64_t hour_index;
  int64_t cost_fen;
  int64_t score_fen;  // cost_fen + promise_day_weight_fen * promised_days
  uint64_t waybill_first;
  uint64_t waybill_count;
  uint64_t waybill_issued;  // the next waybill is waybill_first + waybill_issued
  uint64_t coverage[fulfilment::kCoverageWords];
  char name[wire::kCourierNameSize];
  uint32_t hourly_capacity;
  uint32_t hour_used;
  wire::CourierMode mode;
  uint8_t promised_days;
  uint8_t reserved0[6];
};

struct Fulfilment::StockEntry {
  uint64_t sku_id;
  uint32_t warehouse_index;
  uint32_t units;
  uint32_t next;  // the next entry of the same SKU, or kNoSlot
  uint32_t reserved0;
};

// Exactly two cache lines, aligned: allocating a parcel writes these and nothing else (its
// timeline after the implied first entry lives apart, in timelines_).
struct alignas(64) Fulfilment::Parcel {
  uint64_t waybill;
  uint64_t order_id;
  uint64_t allocated_at_us;  // also the timeline's first entry (allocated, hub 0)
  uint64_t sku_id[wire::kOrderLineCountMax];
  uint16_t quantity[wire::kOrderLineCountMax];
  uint32_t shipment_index;
  uint32_t next_in_shipment;  // kNoSlot ends the shipment's list
  uint16_t warehouse_index;
  uint16_t region;
  uint8_t courier_index;
  wire::ParcelState state;  // kNone marks a free slot
  uint8_t city_tier;
  uint8_t line_count;
  uint8_t event_count;  // timeline entries including the implied first one
  uint8_t parcel_number;
  uint8_t parcel_count;
  uint8_t order_lines;  // the order's lines this parcel carries (bit i = order line i)
  uint8_t reserved0[4];
};
static_assert(sizeof(Fulfilment::Parcel) == 128);
// Timeline entries kept per parcel in timelines_: all but the implied first.
inline constexpr uint32_t kStoredEventCountMax = wire::kTimelineEventCountMax - 1;

struct Fulfilment::Shipment {
  uint64_t order_id;
  uint32_t first_parcel;  // kNoSlot while backlogged
  wire::ShipmentState state;  // kNone marks a free slot
  uint8_t parcel_count;       // parcels allocated
  uint8_t terminal_count;     // parcels delivered or returned
  uint8_t delivered_count;
  uint8_t returned_count;
  uint8_t returned_lines;  // order lines of the returned parcels (bit i = order line i)
  uint8_t reserved0[6];
};

// One warehouse's (or courier's) counters for one hour bucket.
struct Fulfilment::HourCount {
  uint32_t allocated;
  uint32_t dispatched;
};

// A warehouse that can serve some lines of the order being allocated.
struct Fulfilment::Candidate {
  uint32_t warehouse_index;
  uint8_t lines_with_room;  // lines it holds in stock, if it has capacity left (bit per line)
  uint8_t lines_in_stock;   // lines it holds in stock, capacity or not
  uint8_t has_room;         // 1 if it can ship one more parcel this hour and day
  uint8_t reserved0;
  int64_t distance_sq_km2;  // squared distance to the buyer's region point
  uint32_t entry[wire::kOrderLineCountMax];  // its stock entry per line (kNoSlot if none)
};

static_assert(std::has_unique_object_representations_v<Fulfilment::Warehouse>);
static_assert(std::has_unique_object_representations_v<Fulfilment::Courier>);
static_assert(std::has_unique_object_representations_v<Fulfilment::StockEntry>);
static_assert(std::has_unique_object_representations_v<Fulfilment::Parcel>);
static_assert(std::has_unique_object_representations_v<Fulfilment::Shipment>);
static_assert(std::has_unique_object_representations_v<OrderToShip>);
static_assert(std::has_unique_object_representations_v<DeliveredOrder>);

}  // namespace eleven::engine
