// Cancelling a paid order's shipment before it ships (docs/returns.md): a backlogged order
// leaves the backlog (its shipment completed with no parcel); an allocated one whose parcels are
// all still in the warehouse (allocated, picked or packed) has every parcel cancelled and its units
// put back.
#include <algorithm>

#include "base/assert.h"
#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_state.h"

namespace eleven::engine {

using wire::Code;
using wire::ParcelState;
using namespace fulfilment;

namespace {

bool InWarehouse(ParcelState state) {
  return state == ParcelState::kAllocated || state == ParcelState::kPicked ||
         state == ParcelState::kPacked;
}

}  // namespace

Code Fulfilment::CheckCancelShipment(uint64_t order_id) const {
  const uint32_t index = shipment_by_order_.Find(order_id);
  if (index == kNoValue) return Code::shipment_not_found;
  const Shipment& s = shipments_[index];
  if (s.state == wire::ShipmentState::kBacklogged) return Code::ok;
  if (s.state != wire::ShipmentState::kAllocated) return Code::shipment_dispatched;
  uint32_t parcel = s.first_parcel;
  for (uint32_t n = 0; parcel != kNoSlot; n++) {
    ELEVEN_ASSERT(n < s.parcel_count);
    const Parcel& p = parcels_[parcel];
    if (!InWarehouse(p.state)) return Code::shipment_dispatched;
    ELEVEN_ASSERT(p.event_count < wire::kTimelineEventCountMax);  // at most 3 events so far
    for (uint32_t line = 0; line < p.line_count; line++) {
      const uint32_t entry = FindStockEntry(p.warehouse_index, p.sku_id[line]);
      ELEVEN_ASSERT(entry != kNoSlot);  // entries are never removed
      if (stock_[entry].units > wire::kStockMax - p.quantity[line]) {
        return Code::warehouse_stock_overflow;
      }
    }
    parcel = p.next_in_shipment;
  }
  return Code::ok;
}

Code Fulfilment::CancelShipment(uint64_t order_id, uint64_t now_us) {
  AdvanceTime(now_us);
  const Code code = CheckCancelShipment(order_id);
  if (code != Code::ok) return code;
  const uint32_t index = shipment_by_order_.Find(order_id);
  if (shipments_[index].state == wire::ShipmentState::kBacklogged) {
    RemoveFromBacklog(order_id);
    // Completed with no parcel: the order id stays known (a repeat is shipment_exists)
    // until eviction, like any completed shipment.
    ELEVEN_ASSERT(shipments_[index].parcel_count == 0 && shipments_[index].first_parcel == kNoSlot);
    shipments_[index].state = wire::ShipmentState::kAllocated;
  } else {
    CancelParcels(index);
  }
  Retire(index);
  figures_.shipments_cancelled++;
  CheckInvariants();
  return Code::ok;
}

// Every parcel of the shipment: cancelled (a timeline entry says when), its units back.
void Fulfilment::CancelParcels(uint32_t shipment_index) {
  Shipment& s = shipments_[shipment_index];
  ELEVEN_ASSERT(s.state == wire::ShipmentState::kAllocated && s.terminal_count == 0);
  uint32_t parcel = s.first_parcel;
  for (uint32_t n = 0; parcel != kNoSlot; n++) {
    ELEVEN_ASSERT(n < s.parcel_count);
    Parcel& p = parcels_[parcel];
    for (uint32_t line = 0; line < p.line_count; line++) {
      const uint32_t entry = FindStockEntry(p.warehouse_index, p.sku_id[line]);
      ELEVEN_ASSERT(entry != kNoSlot);
      stock_[entry].units += p.quantity[line];
    }
    timelines_[uint64_t{parcel} * kStoredEventCountMax + p.event_count - 1] =
        wire::TimelineEntry{now_us_, 0, ParcelState::kCancelled, {}};
    p.event_count++;
    p.state = ParcelState::kCancelled;
    s.terminal_count++;
    parcel = p.next_in_shipment;
  }
  ELEVEN_ASSERT(s.terminal_count == s.parcel_count);
}

// Takes the order's entry out of the backlog ring, the entries behind it moving up one, so
// the others keep their order. O(backlog_count_max) at most.
void Fulfilment::RemoveFromBacklog(uint64_t order_id) {
  const uint32_t capacity = config_.backlog_count_max;
  uint32_t position = backlog_count_;
  for (uint32_t i = 0; i < backlog_count_; i++) {
    if (backlog_ids_[(backlog_head_ + i) % capacity] == order_id) {
      position = i;
      break;
    }
  }
  ELEVEN_ASSERT(position < backlog_count_);  // a backlogged shipment is queued exactly once
  for (uint32_t i = position; i + 1 < backlog_count_; i++) {
    const uint32_t to = (backlog_head_ + i) % capacity;
    const uint32_t from = (backlog_head_ + i + 1) % capacity;
    backlog_[to] = backlog_[from];
    backlog_ids_[to] = backlog_ids_[from];
  }
  const uint32_t last = (backlog_head_ + backlog_count_ - 1) % capacity;
  backlog_[last] = OrderToShip{};  // keep the ring's bytes a function of its entries
  backlog_ids_[last] = 0;
  backlog_count_--;
}

}  // namespace eleven::engine
