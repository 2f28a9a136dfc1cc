// Allocation of paid orders to warehouses and couriers, waybills, the backlog and its drain.
// The rule is in docs/fulfilment.md ("Allocation"); the comments here say how it is done.
#include <algorithm>
#include <array>
#include <bit>

#include "base/assert.h"
#include "base/prefetch.h"
#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_state.h"

namespace eleven::engine {

using wire::Code;
using namespace fulfilment;

namespace {

// Set bits of a line mask. A table, because without -mpopcnt std::popcount is a library call.
constexpr auto kLineCount = [] {
  std::array<uint8_t, 256> table{};
  for (uint32_t m = 0; m < 256; m++) table[m] = static_cast<uint8_t>(std::popcount(m));
  return table;
}();

}  // namespace

Code Fulfilment::CheckOrder(const OrderToShip& order) const {
  if (order.order_id == 0) return Code::invalid_id;
  if (order.region == 0 || order.region > wire::kRegionMax) return Code::invalid_region;
  if (order.city_tier == 0 || order.city_tier > wire::kCityTierMax) return Code::invalid_city_tier;
  if (order.cross_border > 1) return Code::cross_border_invalid;
  if (order.line_count == 0 || order.line_count > wire::kOrderLineCountMax) {
    return Code::invalid_line_count;
  }
  if (!wire::AllZero(order.reserved0, sizeof(order.reserved0))) return Code::reserved_nonzero;
  for (uint32_t i = 0; i < wire::kOrderLineCountMax; i++) {
    const ShipLine& line = order.lines[i];
    if (line.reserved0 != 0) return Code::reserved_nonzero;
    if (i >= order.line_count) {
      // Unused lines are zero, so a backlogged order's bytes are a function of its lines.
      if (line.sku_id != 0 || line.quantity != 0) return Code::invalid_line_count;
      continue;
    }
    if (line.sku_id == 0) return Code::invalid_id;
    if (line.quantity == 0 || line.quantity > wire::kLineQuantityMax) return Code::invalid_quantity;
    for (uint32_t j = 0; j < i; j++) {
      if (order.lines[j].sku_id == line.sku_id) return Code::duplicate_line;
    }
  }
  return Code::ok;
}

Code Fulfilment::OnOrderPaid(const OrderToShip& order, uint64_t now_us) {
  // Start the cache misses of this order together rather than one after another: the
  // order's map slot, each line's SKU chain head, and the parcel slot likely to be written.
  shipment_by_order_.Prefetch(order.order_id);
  uint32_t lines = std::min<uint32_t>(order.line_count, wire::kOrderLineCountMax);
  for (uint32_t i = 0; i < lines; i++) sku_first_entry_.Prefetch(order.lines[i].sku_id);
  uint32_t next_parcel = parcel_free_count_ > 0 ? parcel_free_[parcel_free_count_ - 1] : parcel_high_;
  if (next_parcel < config_.parcel_count_max) {
    // A parcel is two cache lines, both written.
    const char* bytes = reinterpret_cast<const char*>(&parcels_[next_parcel]);
    eleven::PrefetchForWrite(bytes);
    eleven::PrefetchForWrite(bytes + 64);
  }
  AdvanceTime(now_us);
  Code code = CheckOrder(order);
  if (code != Code::ok) return code;
  if (shipment_by_order_.Find(order.order_id) != kNoValue) return Code::shipment_exists;
  if (!ShipmentRoom()) return Code::shipments_full;
  // Behind a non-empty backlog, so as not to overtake the orders already waiting.
  if (backlog_count_ == 0 && Allocate(order, kNoSlot) == Outcome::kAllocated) {
    CheckInvariants();
    return Code::ok;
  }
  code = Enqueue(order);
  CheckInvariants();
  return code;
}

Code Fulfilment::CheckTake(const OrderToShip& order) const {
  const Code code = CheckOrder(order);
  if (code != Code::ok) return code;
  if (shipment_by_order_.Find(order.order_id) != kNoValue) return Code::shipment_exists;
  if (!ShipmentRoom()) return Code::shipments_full;
  if (backlog_count_ == config_.backlog_count_max) return Code::shipment_backlog_full;
  return Code::ok;
}

Code Fulfilment::Enqueue(const OrderToShip& order) {
  ELEVEN_ASSERT(shipment_by_order_.Find(order.order_id) == kNoValue);
  if (backlog_count_ == config_.backlog_count_max) return Code::shipment_backlog_full;
  uint32_t shipment = TakeShipmentSlot(order.order_id);
  ELEVEN_ASSERT(shipment != kNoSlot);  // the caller checked ShipmentRoom()
  shipments_[shipment].state = wire::ShipmentState::kBacklogged;
  const uint32_t slot = (backlog_head_ + backlog_count_) % config_.backlog_count_max;
  backlog_[slot] = order;
  backlog_ids_[slot] = order.order_id;
  backlog_count_++;
  figures_.backlog_count_high = std::max<uint64_t>(figures_.backlog_count_high, backlog_count_);
  return Code::shipment_backlogged;
}

void Fulfilment::Tick(uint64_t now_us) {
  AdvanceTime(now_us);
  // An entry blocked by stock or coverage (which time alone does not fix) moves to the tail,
  // at most once per Tick; one blocked by capacity stops the drain, keeping FIFO order for
  // what frees with time.
  uint32_t rotations_left = backlog_count_;
  for (uint32_t attempt = 0; attempt < config_.drain_per_tick_max && backlog_count_ > 0;
       attempt++) {
    const OrderToShip& head = backlog_[backlog_head_];
    uint32_t shipment = shipment_by_order_.Find(head.order_id);
    ELEVEN_ASSERT(shipment != kNoValue);
    ELEVEN_ASSERT(shipments_[shipment].state == wire::ShipmentState::kBacklogged);
    Outcome outcome = Allocate(head, shipment);
    if (outcome == Outcome::kNoCapacity) break;
    if (outcome != Outcome::kAllocated) {
      if (rotations_left == 0) break;
      rotations_left--;
      uint32_t tail = (backlog_head_ + backlog_count_) % config_.backlog_count_max;
      backlog_[tail] = head;  // the same slot when the ring is full: a no-op
      backlog_ids_[tail] = head.order_id;
    }
    backlog_head_ = (backlog_head_ + 1) % config_.backlog_count_max;
    if (outcome == Outcome::kAllocated) backlog_count_--;
  }
  CheckInvariants();
}

// ---- Capacity ----

uint32_t Fulfilment::WarehouseRoom(const Warehouse& w) const {
  // Counters of an earlier hour or day are stale: that period's use no longer counts.
  uint32_t hour_used = w.hour_index == hour_index_ ? w.hour_used : 0;
  uint32_t day_used = w.day_index == day_index_ ? w.day_used : 0;
  ELEVEN_DASSERT(hour_used <= w.hourly_capacity && day_used <= w.daily_capacity);
  return std::min(w.hourly_capacity - hour_used, w.daily_capacity - day_used);
}

uint32_t Fulfilment::CourierParcelRoom(const Courier& c) const {
  uint32_t hour_used = c.hour_index == hour_index_ ? c.hour_used : 0;
  ELEVEN_DASSERT(hour_used <= c.hourly_capacity && c.waybill_issued <= c.waybill_count);
  uint64_t waybills_left = c.waybill_count - c.waybill_issued;
  return static_cast<uint32_t>(std::min<uint64_t>(c.hourly_capacity - hour_used, waybills_left));
}

bool Fulfilment::CourierServes(const Courier& c, const OrderToShip& order) const {
  ELEVEN_DASSERT(order.region >= 1 && order.region <= wire::kRegionMax);
  bool lane = c.mode != wire::CourierMode::kExpress;
  if (lane != (order.cross_border == 1)) return false;
  return ((c.coverage[order.region / 64] >> (order.region % 64)) & 1) != 0;
}

// Parcels the serving couriers can still take this hour (capped at a shipment's maximum);
// *any_serving = some serving courier still has waybill numbers.
uint32_t Fulfilment::CourierRoom(const OrderToShip& order, bool* any_serving) const {
  ELEVEN_ASSERT(any_serving != nullptr);
  *any_serving = false;
  uint32_t room = 0;
  for (uint32_t i = 0; i < courier_count_ && room < wire::kShipmentParcelCountMax; i++) {
    const Courier& c = couriers_[i];
    if (!CourierServes(c, order) || c.waybill_issued == c.waybill_count) continue;
    *any_serving = true;
    room += CourierParcelRoom(c);
  }
  return std::min(room, wire::kShipmentParcelCountMax);
}

uint32_t Fulfilment::ParcelRoom() const {
  uint32_t never_used = config_.parcel_count_max - parcel_high_;
  return parcel_free_count_ + never_used + retired_parcel_count_;
}

bool Fulfilment::ShipmentRoom() const {
  return shipment_free_count_ > 0 || shipment_high_ < config_.shipment_count_max ||
         retired_count_ > 0;
}

// ---- Choosing warehouses ----

void Fulfilment::ScanLine(const OrderToShip& order, uint32_t line) {
  const ShipLine& l = order.lines[line];
  int32_t px = region_points_[2 * order.region];
  int32_t py = region_points_[2 * order.region + 1];
  uint32_t entry = sku_first_entry_.Find(l.sku_id);
  // Bounded: a SKU's chain holds at most one entry per warehouse.
  for (uint32_t steps = 0; entry != kNoValue; steps++, entry = stock_[entry].next) {
    ELEVEN_ASSERT(steps < warehouse_count_);
    const StockEntry& e = stock_[entry];
    if (e.units < l.quantity) continue;  // a line is never split between warehouses
    const Warehouse& w = warehouses_[e.warehouse_index];
    bool bonded = (w.flags & static_cast<uint8_t>(wire::WarehouseFlags::kBonded)) != 0;
    if (bonded != (order.cross_border == 1)) continue;
    uint32_t& slot = candidate_of_warehouse_[e.warehouse_index];
    if (slot == kNoSlot) {
      ELEVEN_ASSERT(candidate_count_ < warehouse_count_);
      slot = candidate_count_++;
      Candidate& c = candidates_[slot];
      int64_t dx = int64_t{w.x_km} - px;
      int64_t dy = int64_t{w.y_km} - py;
      c = Candidate{e.warehouse_index, 0, 0, WarehouseRoom(w) > 0 ? uint8_t{1} : uint8_t{0}, 0,
                    dx * dx + dy * dy, {}};
      std::fill_n(c.entry, wire::kOrderLineCountMax, kNoSlot);
    }
    Candidate& c = candidates_[slot];
    c.lines_in_stock |= static_cast<uint8_t>(1u << line);
    if (c.has_room) c.lines_with_room |= static_cast<uint8_t>(1u << line);
    c.entry[line] = entry;
  }
}

void Fulfilment::ScanStock(const OrderToShip& order) {
  ELEVEN_ASSERT(candidate_count_ == 0);
  // Prefetch every line's first stock entry before walking any chain.
  for (uint32_t line = 0; line < order.line_count; line++) {
    uint32_t entry = sku_first_entry_.Find(order.lines[line].sku_id);
    if (entry != kNoValue) eleven::Prefetch(&stock_[entry]);
  }
  for (uint32_t line = 0; line < order.line_count; line++) ScanLine(order, line);
  ELEVEN_ASSERT(candidate_count_ <= warehouse_count_);
}

void Fulfilment::ClearCandidates() {
  for (uint32_t i = 0; i < candidate_count_; i++) {
    candidate_of_warehouse_[candidates_[i].warehouse_index] = kNoSlot;
  }
  candidate_count_ = 0;
}

// Greedy fewest splits: repeatedly take the warehouse that can ship the most of the lines
// still unassigned (then the nearest, then the first created). Returns the parcel count, or
// 0 if some line cannot be shipped from any warehouse with room.
uint32_t Fulfilment::PlanParcels(const OrderToShip& order, uint8_t* plan_masks,
                                 uint32_t* plan_slots) const {
  ELEVEN_ASSERT(plan_masks != nullptr && plan_slots != nullptr);
  uint32_t remaining = (1u << order.line_count) - 1;
  uint32_t count = 0;
  while (remaining != 0) {
    ELEVEN_ASSERT(count < order.line_count);  // every round takes at least one line
    uint32_t best = kNoSlot;
    int best_cover = 0;
    for (uint32_t i = 0; i < candidate_count_; i++) {
      const Candidate& c = candidates_[i];
      int cover = kLineCount[c.lines_with_room & remaining];
      if (cover == 0) continue;
      bool better = best == kNoSlot || cover > best_cover ||
                    (cover == best_cover && (c.distance_sq_km2 < candidates_[best].distance_sq_km2 ||
                                             (c.distance_sq_km2 == candidates_[best].distance_sq_km2 &&
                                              c.warehouse_index < candidates_[best].warehouse_index)));
      if (better) {
        best = i;
        best_cover = cover;
      }
    }
    if (best == kNoSlot) return 0;
    plan_masks[count] = static_cast<uint8_t>(candidates_[best].lines_with_room & remaining);
    plan_slots[count] = best;
    remaining &= ~uint32_t{plan_masks[count]};
    count++;
  }
  return count;
}

// ---- Choosing the courier ----

// The serving courier with room whose next parcel costs the least load-weighted score:
// (used this hour + 1) * score / hourly capacity, compared exactly by cross-multiplying;
// ties go to the first created. Cheap couriers fill first, but as they fill, the dearer
// ones become the better choice, so load spreads in proportion to capacity over score.
uint32_t Fulfilment::ChooseCourier(const OrderToShip& order) const {
  uint32_t best = kNoSlot;
  unsigned __int128 best_num = 0;
  uint64_t best_den = 1;
  for (uint32_t i = 0; i < courier_count_; i++) {
    const Courier& c = couriers_[i];
    if (!CourierServes(c, order) || CourierParcelRoom(c) == 0) continue;
    uint64_t used = c.hour_index == hour_index_ ? c.hour_used : 0;
    unsigned __int128 num = static_cast<unsigned __int128>(used + 1) * static_cast<uint64_t>(c.score_fen);
    uint64_t den = c.hourly_capacity;
    if (best == kNoSlot || num * best_den < best_num * den) {
      best = i;
      best_num = num;
      best_den = den;
    }
  }
  ELEVEN_ASSERT(best == kNoSlot || best < courier_count_);
  return best;
}

// ---- Commit ----

Fulfilment::Outcome Fulfilment::Allocate(const OrderToShip& order, uint32_t shipment_index) {
  ELEVEN_DASSERT(CheckOrder(order) == Code::ok);
  bool any_serving = false;
  uint32_t courier_room = CourierRoom(order, &any_serving);
  if (courier_room == 0) return any_serving ? Outcome::kNoCapacity : Outcome::kNoCourier;
  ScanStock(order);
  uint8_t masks[wire::kShipmentParcelCountMax];
  uint32_t slots[wire::kShipmentParcelCountMax];
  uint32_t count = PlanParcels(order, masks, slots);
  if (count == 0) {
    uint32_t in_stock = 0;
    for (uint32_t i = 0; i < candidate_count_; i++) in_stock |= candidates_[i].lines_in_stock;
    ClearCandidates();
    bool stock_enough = in_stock == (1u << order.line_count) - 1;
    return stock_enough ? Outcome::kNoCapacity : Outcome::kNoStock;
  }
  bool shipment_room = shipment_index != kNoSlot || ShipmentRoom();
  if (count > courier_room || count > ParcelRoom() || !shipment_room) {
    ClearCandidates();
    return Outcome::kNoCapacity;
  }
  if (shipment_index == kNoSlot) shipment_index = TakeShipmentSlot(order.order_id);
  ELEVEN_ASSERT(shipment_index != kNoSlot);
  Shipment& shipment = shipments_[shipment_index];
  shipment.state = wire::ShipmentState::kAllocated;
  shipment.parcel_count = static_cast<uint8_t>(count);
  uint32_t last = kNoSlot;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t parcel = CommitParcel(order, shipment_index, slots[i], masks[i]);
    parcels_[parcel].parcel_number = static_cast<uint8_t>(i + 1);
    if (last == kNoSlot) shipment.first_parcel = parcel;
    else parcels_[last].next_in_shipment = parcel;
    last = parcel;
  }
  ClearCandidates();
  figures_.shipments_allocated++;
  figures_.shipments_split += count > 1 ? 1 : 0;
  return Outcome::kAllocated;
}

uint32_t Fulfilment::CommitParcel(const OrderToShip& order, uint32_t shipment_index, uint32_t slot,
                                  uint8_t lines_mask) {
  const Candidate& cand = candidates_[slot];
  Warehouse& w = warehouses_[cand.warehouse_index];
  ELEVEN_ASSERT(lines_mask != 0 && WarehouseRoom(w) > 0);
  uint32_t courier_index = ChooseCourier(order);
  ELEVEN_ASSERT(courier_index != kNoSlot);  // Allocate checked the couriers' room
  Courier& c = couriers_[courier_index];
  uint32_t index = TakeParcelSlot();
  Parcel& p = parcels_[index];
  ELEVEN_ASSERT(p.state == wire::ParcelState::kNone);
  for (uint32_t line = 0; line < order.line_count; line++) {
    if ((lines_mask >> line & 1) == 0) continue;
    StockEntry& e = stock_[cand.entry[line]];
    ELEVEN_ASSERT(e.units >= order.lines[line].quantity);
    e.units -= order.lines[line].quantity;
    p.sku_id[p.line_count] = order.lines[line].sku_id;
    p.quantity[p.line_count] = static_cast<uint16_t>(order.lines[line].quantity);
    p.line_count++;
  }
  // Roll the counters over to this hour and day before charging them.
  if (w.hour_index != hour_index_) {
    w.hour_index = hour_index_;
    w.hour_used = 0;
  }
  if (w.day_index != day_index_) {
    w.day_index = day_index_;
    w.day_used = 0;
  }
  w.hour_used++;
  w.day_used++;
  if (c.hour_index != hour_index_) {
    c.hour_index = hour_index_;
    c.hour_used = 0;
  }
  c.hour_used++;
  p.waybill = c.waybill_first + c.waybill_issued++;
  // The map slot of this courier's next waybill: by the time the courier is chosen again
  // the miss is paid (load spreads, so that is several parcels later).
  parcel_by_waybill_.Prefetch(c.waybill_first + c.waybill_issued);
  p.order_id = order.order_id;
  p.allocated_at_us = now_us_;
  p.shipment_index = shipment_index;
  p.next_in_shipment = kNoSlot;
  p.warehouse_index = static_cast<uint16_t>(cand.warehouse_index);
  p.region = order.region;
  p.courier_index = static_cast<uint8_t>(courier_index);
  p.state = wire::ParcelState::kAllocated;
  p.city_tier = order.city_tier;
  p.parcel_count = shipments_[shipment_index].parcel_count;
  p.order_lines = lines_mask;
  p.event_count = 1;
  bool inserted = parcel_by_waybill_.Insert(p.waybill, index);
  ELEVEN_ASSERT(inserted);  // waybill ranges never overlap and each number is issued once
  HourCount* row = HourRow(hour_index_);
  row[cand.warehouse_index].allocated++;
  row[config_.warehouse_count_max + courier_index].allocated++;
  figures_.parcels_allocated++;
  return index;
}

// ---- Slots and eviction ----

uint32_t Fulfilment::TakeParcelSlot() {
  if (parcel_free_count_ == 0 && parcel_high_ == config_.parcel_count_max) EvictOldestRetired();
  if (parcel_free_count_ > 0) return parcel_free_[--parcel_free_count_];
  ELEVEN_ASSERT(parcel_high_ < config_.parcel_count_max);  // ParcelRoom() was checked
  return parcel_high_++;
}

uint32_t Fulfilment::TakeShipmentSlot(uint64_t order_id) {
  if (shipment_free_count_ == 0 && shipment_high_ == config_.shipment_count_max) {
    EvictOldestRetired();
  }
  uint32_t index = kNoSlot;
  if (shipment_free_count_ > 0) index = shipment_free_[--shipment_free_count_];
  else if (shipment_high_ < config_.shipment_count_max) index = shipment_high_++;
  if (index == kNoSlot) return kNoSlot;
  ELEVEN_ASSERT(shipments_[index].state == wire::ShipmentState::kNone);
  shipments_[index].order_id = order_id;
  shipments_[index].first_parcel = kNoSlot;
  bool inserted = shipment_by_order_.Insert(order_id, index);
  ELEVEN_ASSERT(inserted);  // the map holds shipment_count_max entries
  return index;
}

void Fulfilment::Retire(uint32_t shipment_index) {
  Shipment& s = shipments_[shipment_index];
  ELEVEN_ASSERT(s.terminal_count == s.parcel_count && s.state == wire::ShipmentState::kAllocated);
  ELEVEN_ASSERT(retired_count_ < config_.shipment_count_max);
  s.state = wire::ShipmentState::kCompleted;
  retired_[(retired_head_ + retired_count_) % config_.shipment_count_max] = shipment_index;
  retired_count_++;
  retired_parcel_count_ += s.parcel_count;
}

// Drops the oldest completed shipment and its parcels from memory (queries then answer
// parcel_evicted / shipment_not_found); called only when a slot is needed.
void Fulfilment::EvictOldestRetired() {
  ELEVEN_ASSERT(retired_count_ > 0);
  uint32_t index = retired_[retired_head_];
  retired_head_ = (retired_head_ + 1) % config_.shipment_count_max;
  retired_count_--;
  Shipment& s = shipments_[index];
  ELEVEN_ASSERT(s.state == wire::ShipmentState::kCompleted);
  uint32_t parcel = s.first_parcel;
  for (uint32_t n = 0; parcel != kNoSlot; n++) {
    ELEVEN_ASSERT(n < s.parcel_count);
    uint32_t next = parcels_[parcel].next_in_shipment;
    bool erased = parcel_by_waybill_.Erase(parcels_[parcel].waybill);
    ELEVEN_ASSERT(erased);
    parcels_[parcel] = Parcel{};
    std::fill_n(&timelines_[uint64_t{parcel} * kStoredEventCountMax], kStoredEventCountMax,
                wire::TimelineEntry{});
    parcel_free_[parcel_free_count_++] = parcel;
    parcel = next;
  }
  retired_parcel_count_ -= s.parcel_count;
  figures_.parcels_evicted += s.parcel_count;
  bool erased = shipment_by_order_.Erase(s.order_id);
  ELEVEN_ASSERT(erased);
  s = Shipment{};
  shipment_free_[shipment_free_count_++] = index;
}

}  // namespace eleven::engine
