// Fulfilment: warehouses with per-SKU stock, couriers and cross-border lanes, allocation of
// paid orders to warehouses and couriers under hourly and daily capacity, waybills, a FIFO
// backlog, tracking with checked transitions, and dispatch figures. The rules are written
// up in docs/fulfilment.md precisely enough to reimplement them and get the same waybills.
//
// Deterministic: the state after a call depends only on the state before it and the call's
// arguments (log time comes in as `now_us`; nothing reads a clock or randomness). Bounded:
// every table is sized from FulfilmentConfig and allocated by the constructor; no call
// allocates afterwards, and a full table answers with a result code.
//
// Not thread-safe: owned by the engine thread, like the rest of the state machine.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/big_array.h"
#include "base/bytes.h"
#include "base/fixed_map.h"
#include "base/hash.h"
#include "base/status.h"
#include "wire/fulfilment.h"
#include "wire/records.h"

namespace eleven::engine {

// Names that the rest of the engine shares a namespace with are kept in here.
namespace fulfilment {
// A hard bound on couriers: a courier index fits the parcel's uint8 and the per-parcel scan
// of couriers stays short (China has about a dozen national express companies plus lanes).
inline constexpr uint32_t kCourierCountLimit = 64;
// A hard bound on warehouses: the index fits the parcel's uint16.
inline constexpr uint32_t kWarehouseCountLimit = 65'535;
inline constexpr uint64_t kHourUs = 3'600'000'000ULL;
inline constexpr uint64_t kDayUs = 24 * kHourUs;
}  // namespace fulfilment

struct ShipLine {
  uint64_t sku_id;    // nonzero, distinct within an order
  uint32_t quantity;  // 1 .. wire::kLineQuantityMax
  uint32_t reserved0;
};

// What the order engine hands over for every paid order.
struct OrderToShip {
  uint64_t order_id;  // nonzero
  uint64_t merchant_id;
  uint16_t region;  // the buyer's province, 1 .. wire::kRegionMax
  uint8_t city_tier;     // 1 .. wire::kCityTierMax
  uint8_t cross_border;  // 1: bonded warehouse and a cross-border lane
  uint8_t line_count;    // 1 .. wire::kOrderLineCountMax
  uint8_t reserved0[3];
  ShipLine lines[wire::kOrderLineCountMax];
};
static_assert(sizeof(OrderToShip) == 152);

// True if a parcel in state `from` may take tracking event `event` (the state it leads to).
bool TrackingAllowed(wire::ParcelState from, wire::ParcelState event);

// The order engine's order as an OrderToShip (for the dispatcher: paid order -> shipment).
OrderToShip OrderToShipFromRecord(const wire::ShipOrder& record);

// An order all of whose parcels reached a terminal state (delivered or returned): the lead
// settles it with the merchant, refunding the returned lines (docs/returns.md). Reported once
// per order; a shipment cancelled before it shipped is not reported.
struct DeliveredOrder {
  uint64_t order_id;
  uint64_t at_us;  // log time of the last parcel's terminal event
  uint8_t parcel_count;
  uint8_t delivered_count;
  uint8_t returned_count;
  uint8_t returned_lines;  // the order's lines in returned parcels (bit i = order line i)
  uint8_t reserved0[4];
};

struct FulfilmentConfig {
  uint32_t warehouse_count_max = 256;  // Cainiao ran a few hundred warehouses in 2019
  uint32_t courier_count_max = 32;     // couriers and lanes, <= kCourierCountLimit
  uint32_t stock_entry_count_max = 1 << 18;  // (warehouse, SKU) pairs with stock
  uint32_t sku_count_max = 1 << 17;          // distinct SKUs stocked anywhere
  uint32_t parcel_count_max = 1 << 16;  // parcels in memory, live and retired (~400 B each)
  uint32_t shipment_count_max = 1 << 16;  // orders in memory (allocated or backlogged)
  uint32_t backlog_count_max = 1 << 14;   // orders waiting for capacity, stock or coverage
  uint32_t delivered_outbox_count_max = 1 << 12;  // DeliveredOrders not yet taken
  uint32_t hour_bucket_count = 48;     // hours of per-warehouse/courier figures kept
  uint32_t drain_per_tick_max = 4096;  // backlog entries one Tick tries (bounds its work)
  int64_t promise_day_weight_fen = 100;  // what one promised day costs in courier choice
  uint64_t day_offset_us = 8 * fulfilment::kHourUs;  // days roll at midnight UTC+8 (Beijing)
  uint32_t milestone_count = 0;          // <= wire::kMilestoneCountMax
  uint64_t milestone_parcels[wire::kMilestoneCountMax] = {};  // ascending, nonzero
};

class Fulfilment {
 public:
  // Allocates every table; asserts the config is sane.
  explicit Fulfilment(const FulfilmentConfig& config);
  ~Fulfilment();
  Fulfilment(const Fulfilment&) = delete;
  Fulfilment& operator=(const Fulfilment&) = delete;

  // One fulfilment command (operation 64..95). `now_us` is the log time; it never decreases.
  [[nodiscard]] wire::Result Apply(const wire::Command& command, uint64_t now_us);

  // A paid order: allocate it now (ok), or queue it in the backlog (shipment_backlogged), or
  // refuse it (a code; nothing changed). While the backlog is not empty new orders queue
  // behind it, so no order overtakes an earlier one.
  [[nodiscard]] wire::Code OnOrderPaid(const OrderToShip& order, uint64_t now_us);
  // Whether OnOrderPaid would take the order: ok, or the code it could refuse it with (a full
  // backlog refuses even an order that allocation might take). Changes nothing.
  [[nodiscard]] wire::Code CheckTake(const OrderToShip& order) const;

  // Advances log time and drains the backlog in order, trying at most drain_per_tick_max
  // entries. Call once per applied batch (or more often).
  void Tick(uint64_t now_us);

  // The paid order is cancelled before it shipped (docs/returns.md): ok if its shipment is
  // still backlogged (the entry leaves the backlog) or no parcel of it was handed to a
  // courier (every parcel becomes cancelled, its units go back to the warehouse stock); the
  // shipment is then completed (with no parcel if it was backlogged) and never reported;
  // shipment_not_found, shipment_dispatched, or warehouse_stock_overflow (a warehouse
  // restocked to kStockMax since) otherwise, changing nothing. Check* only checks.
  [[nodiscard]] wire::Code CheckCancelShipment(uint64_t order_id) const;
  [[nodiscard]] wire::Code CancelShipment(uint64_t order_id, uint64_t now_us);

  // Moves up to out.size() delivered orders, oldest first, out of the outbox; returns how
  // many. The dispatcher drains it after every batch, so replay drains at the same points.
  [[nodiscard]] uint32_t TakeDelivered(std::span<DeliveredOrder> out);

  // Digests all state (not the configuration), for determinism checks and replica audits.
  void Digest(Digester& digester) const;

  // ---- Snapshots (snapshot.cc; the layout is described there) ----
  // The whole state as byte ranges, for a snapshot; between calls only. Writes nothing but
  // its outputs: `head` receives a small fixed record (magic, version, the configuration,
  // every scalar of the state: time, counts, ring heads, figures) and must outlive the
  // chunks; `chunks` is cleared and gets `head` first, then every table, ring and map. The
  // concatenation of the chunks is the module's state, undrained outbox included. The table
  // chunks point into the live tables (nothing is copied) and stay valid until the next
  // Apply, OnOrderPaid, Tick or TakeDelivered.
  void SnapshotChunks(std::vector<std::byte>* head, std::vector<ByteSpan>* chunks) const;
  // Loads the concatenation of SnapshotChunks' chunks into this FRESH module (constructed
  // with the same config and not used since). InvalidArgument if the snapshot was taken with
  // a different configuration (the message names the field); Corruption if the magic or
  // version is wrong, the sizes or counts do not add up (every byte must be consumed, no
  // more), or the loaded state breaks an invariant (maps vs tables, links, rings, capacity
  // counters). After a failed Restore the module holds a partial state and must be
  // discarded.
  [[nodiscard]] Status Restore(ByteSpan state);

  // ---- Queries (read-only) ----
  [[nodiscard]] wire::Code QueryParcel(uint64_t waybill, wire::ParcelRecord* out) const;
  [[nodiscard]] wire::Code QueryWarehouse(uint64_t warehouse_id, wire::WarehouseRecord* out) const;
  [[nodiscard]] wire::Code QueryCourier(uint64_t courier_id, wire::CourierRecord* out) const;
  // Copies the parcel's timeline (oldest first) into `out`; `*count` = entries copied.
  [[nodiscard]] wire::Code QueryTimeline(uint64_t waybill, std::span<wire::TimelineEntry> out,
                                         uint32_t* count) const;
  [[nodiscard]] wire::Code QueryShipment(uint64_t order_id, wire::ShipmentRecord* out) const;
  [[nodiscard]] wire::Code QueryStock(uint64_t warehouse_id, uint64_t sku_id,
                                      uint32_t* units) const;
  [[nodiscard]] wire::Code QueryWarehouseHour(uint64_t warehouse_id, uint64_t hour_index,
                                              wire::HourFigure* out) const;
  [[nodiscard]] wire::Code QueryCourierHour(uint64_t courier_id, uint64_t hour_index,
                                            wire::HourFigure* out) const;
  wire::FiguresRecord QueryFigures() const;
  bool HasCourier(uint64_t courier_id) const { return courier_index_.Find(courier_id) != kNoValue; }
  uint32_t backlog_count() const { return backlog_count_; }
  uint32_t delivered_outbox_count() const { return outbox_count_; }

  // Internal tables (defined in fulfilment_state.h); public so the .cc helpers can name them.
  struct Warehouse;
  struct Courier;
  struct StockEntry;
  struct Parcel;
  struct Shipment;
  struct Candidate;
  struct HourCount;

 private:
  enum class Outcome : uint8_t { kAllocated, kNoCapacity, kNoStock, kNoCourier };

  // Commands.
  wire::Code CreateWarehouse(const wire::CreateWarehouse& record);
  wire::Code StockWarehouse(const wire::StockWarehouse& record, uint32_t* units_after);
  wire::Code CreateCourier(const wire::CreateCourier& record);
  wire::Code SetCoverage(const wire::SetCoverage& record);
  wire::Code SetRegionPoint(const wire::SetRegionPoint& record);
  wire::Code Track(const wire::TrackParcel& record, wire::ParcelState* state_after);
  wire::Code CheckTrack(const wire::TrackParcel& record, uint32_t* parcel_index) const;
  wire::Code CheckOrder(const OrderToShip& order) const;
  wire::Code Enqueue(const OrderToShip& order);
  void AdvanceTime(uint64_t now_us);

  // Allocation and the backlog (fulfilment_allocate.cc).
  Outcome Allocate(const OrderToShip& order, uint32_t shipment_index);
  uint32_t CourierRoom(const OrderToShip& order, bool* any_serving) const;
  void ScanStock(const OrderToShip& order);
  void ScanLine(const OrderToShip& order, uint32_t line);
  uint32_t PlanParcels(const OrderToShip& order, uint8_t* plan_masks, uint32_t* plan_slots) const;
  void ClearCandidates();
  uint32_t CommitParcel(const OrderToShip& order, uint32_t shipment_index, uint32_t slot,
                        uint8_t lines_mask);
  uint32_t ChooseCourier(const OrderToShip& order) const;
  uint32_t WarehouseRoom(const Warehouse& warehouse) const;
  uint32_t CourierParcelRoom(const Courier& courier) const;
  bool CourierServes(const Courier& courier, const OrderToShip& order) const;
  uint32_t ParcelRoom() const;
  bool ShipmentRoom() const;
  uint32_t TakeParcelSlot();
  uint32_t TakeShipmentSlot(uint64_t order_id);
  void EvictOldestRetired();
  void Retire(uint32_t shipment_index);
  // Cancellation before shipping (fulfilment_cancel.cc).
  void RemoveFromBacklog(uint64_t order_id);
  void CancelParcels(uint32_t shipment_index);
  HourCount* HourRow(uint64_t hour_index);
  wire::Code HourCounts(uint64_t hour_index, uint32_t offset, HourCount* out) const;
  uint32_t FindStockEntry(uint32_t warehouse_index, uint64_t sku_id) const;
  bool IssuedWaybill(uint64_t waybill) const;
  void CheckInvariants() const;
  // After a Restore (snapshot.cc): Corruption unless the loaded tables are consistent.
  Status CheckRestoredTables() const;
  Status CheckRestoredParcels() const;
  Status CheckRestoredQueues() const;

  FulfilmentConfig config_;
  uint64_t now_us_ = 0;
  uint64_t hour_index_ = 0;  // now_us_ / kHourUs
  uint64_t day_index_ = 0;   // (now_us_ + day_offset_us) / kDayUs

  BigArray<Warehouse> warehouses_;
  uint32_t warehouse_count_ = 0;
  FixedMap<uint64_t> warehouse_index_;  // warehouse id -> index in warehouses_

  BigArray<Courier> couriers_;
  uint32_t courier_count_ = 0;
  FixedMap<uint64_t> courier_index_;  // courier id -> index in couriers_

  BigArray<StockEntry> stock_;  // append-only; entries are never removed
  uint32_t stock_count_ = 0;
  FixedMap<uint64_t> sku_first_entry_;  // sku id -> first stock entry of its chain

  BigArray<int32_t> region_points_;  // (x_km, y_km) per region 0..kRegionMax

  BigArray<Parcel> parcels_;
  // Per parcel slot, kTimelineEventCountMax - 1 entries: the events after allocation.
  BigArray<wire::TimelineEntry> timelines_;
  uint32_t parcel_high_ = 0;  // slots [0, parcel_high_) have been used at least once
  BigArray<uint32_t> parcel_free_;  // stack of freed slots
  uint32_t parcel_free_count_ = 0;
  FixedMap<uint64_t> parcel_by_waybill_;

  BigArray<Shipment> shipments_;
  uint32_t shipment_high_ = 0;
  BigArray<uint32_t> shipment_free_;
  uint32_t shipment_free_count_ = 0;
  FixedMap<uint64_t> shipment_by_order_;
  // Completed shipments, oldest first: evicted (with their parcels) only to make room.
  BigArray<uint32_t> retired_;
  uint32_t retired_head_ = 0;
  uint32_t retired_count_ = 0;
  uint32_t retired_parcel_count_ = 0;  // parcels of the retired shipments

  BigArray<OrderToShip> backlog_;  // FIFO ring
  // The backlog's order ids, slot for slot: a shipment query finds its backlog position by
  // scanning 8 bytes an entry, not 152. Derived (rebuilt on restore), not in the state.
  BigArray<uint64_t> backlog_ids_;
  uint32_t backlog_head_ = 0;
  uint32_t backlog_count_ = 0;

  BigArray<DeliveredOrder> outbox_;  // FIFO ring
  uint32_t outbox_head_ = 0;
  uint32_t outbox_count_ = 0;

  // Figures: hour_count_ rows of (warehouse_count_max + courier_count_max) counters.
  BigArray<uint64_t> hour_of_bucket_;
  BigArray<HourCount> hour_counts_;
  wire::FiguresRecord figures_{};

  // Allocation scratch, reset after every attempt: one candidate per warehouse touched.
  BigArray<Candidate> candidates_;
  uint32_t candidate_count_ = 0;
  BigArray<uint32_t> candidate_of_warehouse_;  // kNoValue when not a candidate
};

}  // namespace eleven::engine
