// Fulfilment's state as bytes, for snapshots. The layout (version 2), chunk by chunk:
//
//   state     = head warehouses couriers stock region-points parcels timelines parcel-free
//               shipments shipment-free retired backlog outbox hour-of-bucket hour-counts
//               warehouse-map courier-map sku-map parcel-map shipment-map
//   head      = FulfilmentStateHead (below): magic "ELFF", version, every FulfilmentConfig
//               field, log time, every count, high-water mark and ring head, the figures
//   warehouses = Warehouse * warehouse_count   (fulfilment_state.h; likewise couriers, stock)
//   region-points = int32 * 2 * (kRegionMax + 1)
//   parcels   = Parcel * parcel_high;  timelines = TimelineEntry * kStoredEventCountMax *
//               parcel_high;  parcel-free = uint32 * parcel_free_count
//   shipments = Shipment * shipment_high;  shipment-free = uint32 * shipment_free_count
//   retired, backlog, outbox = the ring's live entries, oldest first, as two chunks: from the
//               head to the end of the array, then the part that wrapped to its start (the
//               entries go back to the same slots, so the ring heads are part of the state)
//   hour-of-bucket = uint64 * hour_bucket_count
//   hour-counts = HourCount * hour_bucket_count * (warehouse_count_max + courier_count_max)
//   *-map     = FixedMap<uint64_t>::Slot * the map's slot count (fixed by the config)
//
// Every record has explicit padding, so the bytes are the fields; tables are written as they
// lie in memory, in the machine's byte order. The allocation scratch (candidates) is empty
// between calls and is not part of the state.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "base/assert.h"
#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_state.h"
#include "engine/state_reader.h"

namespace eleven::engine {

using namespace fulfilment;

namespace {

constexpr uint32_t kFulfilmentStateMagic = 0x46464C45;  // "ELFF"
// 2: parcels keep their order-line mask, shipments their returned lines, cancelled parcels.
constexpr uint32_t kFulfilmentStateVersion = 2;

struct FulfilmentStateHead {
  uint32_t magic;
  uint32_t version;
  // The configuration: a snapshot restores only into a module configured the same.
  uint32_t warehouse_count_max;
  uint32_t courier_count_max;
  uint32_t stock_entry_count_max;
  uint32_t sku_count_max;
  uint32_t parcel_count_max;
  uint32_t shipment_count_max;
  uint32_t backlog_count_max;
  uint32_t delivered_outbox_count_max;
  uint32_t hour_bucket_count;
  uint32_t drain_per_tick_max;
  uint32_t milestone_count;
  uint32_t reserved0;
  int64_t promise_day_weight_fen;
  uint64_t day_offset_us;
  uint64_t milestone_parcels[wire::kMilestoneCountMax];
  // The state's scalars.
  uint64_t now_us;
  uint64_t hour_index;
  uint64_t day_index;
  uint32_t warehouse_count;
  uint32_t courier_count;
  uint32_t stock_count;
  uint32_t sku_map_count;
  uint32_t parcel_high;
  uint32_t parcel_free_count;
  uint32_t shipment_high;
  uint32_t shipment_free_count;
  uint32_t retired_head;
  uint32_t retired_count;
  uint32_t retired_parcel_count;
  uint32_t backlog_head;
  uint32_t backlog_count;
  uint32_t outbox_head;
  uint32_t outbox_count;
  uint32_t reserved1;
  wire::FiguresRecord figures;
};
static_assert(std::has_unique_object_representations_v<FulfilmentStateHead>);
static_assert(std::has_unique_object_representations_v<Fulfilment::HourCount>);
static_assert(std::has_unique_object_representations_v<wire::TimelineEntry>);
static_assert(std::has_unique_object_representations_v<wire::FiguresRecord>);
static_assert(std::has_unique_object_representations_v<FixedMap<uint64_t>::Slot>);

// A ring's live entries as two chunks (the second empty unless they wrap).
template <typename T>
void PushRing(const T* ring, uint32_t capacity, uint32_t head, uint32_t count,
              std::vector<ByteSpan>* chunks) {
  ELEVEN_ASSERT(head < capacity && count <= capacity);
  const uint32_t first = std::min(count, capacity - head);
  chunks->push_back(Bytes(ring + head, sizeof(T) * first));
  chunks->push_back(Bytes(ring, sizeof(T) * (count - first)));
}

void PutConfig(const FulfilmentConfig& c, FulfilmentStateHead* h) {
  h->warehouse_count_max = c.warehouse_count_max;
  h->courier_count_max = c.courier_count_max;
  h->stock_entry_count_max = c.stock_entry_count_max;
  h->sku_count_max = c.sku_count_max;
  h->parcel_count_max = c.parcel_count_max;
  h->shipment_count_max = c.shipment_count_max;
  h->backlog_count_max = c.backlog_count_max;
  h->delivered_outbox_count_max = c.delivered_outbox_count_max;
  h->hour_bucket_count = c.hour_bucket_count;
  h->drain_per_tick_max = c.drain_per_tick_max;
  h->milestone_count = c.milestone_count;
  h->promise_day_weight_fen = c.promise_day_weight_fen;
  h->day_offset_us = c.day_offset_us;
  std::memcpy(h->milestone_parcels, c.milestone_parcels, sizeof h->milestone_parcels);
}

// The first FulfilmentConfig field in which the head differs from `c`, or nullptr.
const char* ConfigDifference(const FulfilmentStateHead& h, const FulfilmentConfig& c) {
  FulfilmentStateHead own{};
  PutConfig(c, &own);
  if (h.warehouse_count_max != own.warehouse_count_max) return "warehouse_count_max";
  if (h.courier_count_max != own.courier_count_max) return "courier_count_max";
  if (h.stock_entry_count_max != own.stock_entry_count_max) return "stock_entry_count_max";
  if (h.sku_count_max != own.sku_count_max) return "sku_count_max";
  if (h.parcel_count_max != own.parcel_count_max) return "parcel_count_max";
  if (h.shipment_count_max != own.shipment_count_max) return "shipment_count_max";
  if (h.backlog_count_max != own.backlog_count_max) return "backlog_count_max";
  if (h.delivered_outbox_count_max != own.delivered_outbox_count_max) {
    return "delivered_outbox_count_max";
  }
  if (h.hour_bucket_count != own.hour_bucket_count) return "hour_bucket_count";
  if (h.drain_per_tick_max != own.drain_per_tick_max) return "drain_per_tick_max";
  if (h.milestone_count != own.milestone_count) return "milestone_count";
  if (h.promise_day_weight_fen != own.promise_day_weight_fen) return "promise_day_weight_fen";
  if (h.day_offset_us != own.day_offset_us) return "day_offset_us";
  if (std::memcmp(h.milestone_parcels, own.milestone_parcels, sizeof own.milestone_parcels) != 0) {
    return "milestone_parcels";
  }
  return nullptr;
}

// The scalars must fit the configured tables and agree with each other (the head's config
// already equals ours). The map counts follow: live parcels and shipments are in the maps.
bool ScalarsFit(const FulfilmentStateHead& h) {
  const bool counts = h.warehouse_count <= h.warehouse_count_max &&
                      h.courier_count <= h.courier_count_max &&
                      h.stock_count <= h.stock_entry_count_max && h.sku_map_count <= h.sku_count_max &&
                      h.sku_map_count <= h.stock_count && h.parcel_high <= h.parcel_count_max &&
                      h.parcel_free_count <= h.parcel_high && h.shipment_high <= h.shipment_count_max &&
                      h.shipment_free_count <= h.shipment_high;
  const bool rings = h.retired_head < h.shipment_count_max &&
                     h.retired_count <= h.shipment_high - h.shipment_free_count &&
                     h.retired_parcel_count <= h.parcel_high - h.parcel_free_count &&
                     h.backlog_head < h.backlog_count_max && h.backlog_count <= h.backlog_count_max &&
                     h.outbox_head < h.delivered_outbox_count_max &&
                     h.outbox_count <= h.delivered_outbox_count_max;
  const bool time = h.hour_index == h.now_us / kHourUs &&
                    h.day_index == (h.now_us + h.day_offset_us) / kDayUs;
  const bool figures = h.figures.milestone_count == h.milestone_count &&
                       std::memcmp(h.figures.milestone_parcels, h.milestone_parcels,
                                   sizeof h.milestone_parcels) == 0;
  return counts && rings && time && figures && h.reserved0 == 0 && h.reserved1 == 0;
}


bool LinkOk(uint32_t index, uint32_t bound) { return index == kNoSlot || index < bound; }

}  // namespace

void Fulfilment::SnapshotChunks(std::vector<std::byte>* head, std::vector<ByteSpan>* chunks) const {
  ELEVEN_ASSERT(head != nullptr && chunks != nullptr);
  ELEVEN_ASSERT(candidate_count_ == 0);  // between calls only
  FulfilmentStateHead h{};
  h.magic = kFulfilmentStateMagic;
  h.version = kFulfilmentStateVersion;
  PutConfig(config_, &h);
  h.now_us = now_us_;
  h.hour_index = hour_index_;
  h.day_index = day_index_;
  h.warehouse_count = warehouse_count_;
  h.courier_count = courier_count_;
  h.stock_count = stock_count_;
  h.sku_map_count = sku_first_entry_.count();
  h.parcel_high = parcel_high_;
  h.parcel_free_count = parcel_free_count_;
  h.shipment_high = shipment_high_;
  h.shipment_free_count = shipment_free_count_;
  h.retired_head = retired_head_;
  h.retired_count = retired_count_;
  h.retired_parcel_count = retired_parcel_count_;
  h.backlog_head = backlog_head_;
  h.backlog_count = backlog_count_;
  h.outbox_head = outbox_head_;
  h.outbox_count = outbox_count_;
  h.figures = figures_;
  ELEVEN_ASSERT(ScalarsFit(h));  // checked right before it is written, as after it is read
  head->resize(sizeof h);
  std::memcpy(head->data(), &h, sizeof h);

  const uint64_t hour_row_size = uint64_t{config_.warehouse_count_max} + config_.courier_count_max;
  chunks->clear();
  chunks->push_back(Bytes(head->data(), head->size()));
  chunks->push_back(Bytes(warehouses_.get(), sizeof(Warehouse) * warehouse_count_));
  chunks->push_back(Bytes(couriers_.get(), sizeof(Courier) * courier_count_));
  chunks->push_back(Bytes(stock_.get(), sizeof(StockEntry) * stock_count_));
  chunks->push_back(Bytes(region_points_.get(), sizeof(int32_t) * 2 * (wire::kRegionMax + 1)));
  chunks->push_back(Bytes(parcels_.get(), sizeof(Parcel) * parcel_high_));
  chunks->push_back(Bytes(timelines_.get(),
                          sizeof(wire::TimelineEntry) * kStoredEventCountMax * parcel_high_));
  chunks->push_back(Bytes(parcel_free_.get(), sizeof(uint32_t) * parcel_free_count_));
  chunks->push_back(Bytes(shipments_.get(), sizeof(Shipment) * shipment_high_));
  chunks->push_back(Bytes(shipment_free_.get(), sizeof(uint32_t) * shipment_free_count_));
  PushRing(retired_.get(), config_.shipment_count_max, retired_head_, retired_count_, chunks);
  PushRing(backlog_.get(), config_.backlog_count_max, backlog_head_, backlog_count_, chunks);
  PushRing(outbox_.get(), config_.delivered_outbox_count_max, outbox_head_, outbox_count_, chunks);
  chunks->push_back(Bytes(hour_of_bucket_.get(), sizeof(uint64_t) * config_.hour_bucket_count));
  chunks->push_back(Bytes(hour_counts_.get(), sizeof(HourCount) * config_.hour_bucket_count * hour_row_size));
  chunks->push_back(Bytes(warehouse_index_.slots(), warehouse_index_.slot_bytes()));
  chunks->push_back(Bytes(courier_index_.slots(), courier_index_.slot_bytes()));
  chunks->push_back(Bytes(sku_first_entry_.slots(), sku_first_entry_.slot_bytes()));
  chunks->push_back(Bytes(parcel_by_waybill_.slots(), parcel_by_waybill_.slot_bytes()));
  chunks->push_back(Bytes(shipment_by_order_.slots(), shipment_by_order_.slot_bytes()));
}

Status Fulfilment::Restore(ByteSpan state) {
  // Only into a fresh module.
  ELEVEN_ASSERT(now_us_ == 0 && warehouse_count_ == 0 && courier_count_ == 0 && stock_count_ == 0);
  ELEVEN_ASSERT(parcel_high_ == 0 && shipment_high_ == 0 && backlog_count_ == 0 && outbox_count_ == 0);
  FulfilmentStateHead h{};
  if (state.size() < sizeof h) return Status::Corruption("fulfilment state: shorter than its head");
  std::memcpy(&h, state.data(), sizeof h);
  if (h.magic != kFulfilmentStateMagic) return Status::Corruption("fulfilment state: bad magic");
  if (h.version != kFulfilmentStateVersion) {
    return Status::Corruption("fulfilment state: unknown version " + std::to_string(h.version));
  }
  if (const char* field = ConfigDifference(h, config_); field != nullptr) {
    return Status::InvalidArgument(
        std::string("fulfilment snapshot taken with a different FulfilmentConfig::") + field +
        "; start with the configuration it was taken with");
  }
  if (!ScalarsFit(h)) return Status::Corruption("fulfilment state: inconsistent counts or time");
  const uint64_t hour_row_size = uint64_t{config_.warehouse_count_max} + config_.courier_count_max;
  StateReader in(state);
  FulfilmentStateHead skipped{};
  bool ok =
      in.Take(&skipped, sizeof skipped) &&
      in.Take(warehouses_.get(), sizeof(Warehouse) * h.warehouse_count) &&
      in.Take(couriers_.get(), sizeof(Courier) * h.courier_count) &&
      in.Take(stock_.get(), sizeof(StockEntry) * h.stock_count) &&
      in.Take(region_points_.get(), sizeof(int32_t) * 2 * (wire::kRegionMax + 1)) &&
      in.Take(parcels_.get(), sizeof(Parcel) * h.parcel_high) &&
      in.Take(timelines_.get(), sizeof(wire::TimelineEntry) * kStoredEventCountMax * h.parcel_high) &&
      in.Take(parcel_free_.get(), sizeof(uint32_t) * h.parcel_free_count) &&
      in.Take(shipments_.get(), sizeof(Shipment) * h.shipment_high) &&
      in.Take(shipment_free_.get(), sizeof(uint32_t) * h.shipment_free_count) &&
      in.TakeRing(retired_.get(), config_.shipment_count_max, h.retired_head, h.retired_count) &&
      in.TakeRing(backlog_.get(), config_.backlog_count_max, h.backlog_head, h.backlog_count) &&
      in.TakeRing(outbox_.get(), config_.delivered_outbox_count_max, h.outbox_head, h.outbox_count) &&
      in.Take(hour_of_bucket_.get(), sizeof(uint64_t) * config_.hour_bucket_count) &&
      in.Take(hour_counts_.get(), sizeof(HourCount) * config_.hour_bucket_count * hour_row_size) &&
      in.TakeMap(&warehouse_index_, h.warehouse_count) && in.TakeMap(&courier_index_, h.courier_count) &&
      in.TakeMap(&sku_first_entry_, h.sku_map_count) &&
      in.TakeMap(&parcel_by_waybill_, h.parcel_high - h.parcel_free_count) &&
      in.TakeMap(&shipment_by_order_, h.shipment_high - h.shipment_free_count);
  if (!ok || !in.AtEnd()) {
    return Status::Corruption("fulfilment state: tables do not match their counts");
  }
  for (uint32_t i = 0; i < h.backlog_count; i++) {
    const uint32_t slot = (h.backlog_head + i) % config_.backlog_count_max;
    backlog_ids_[slot] = backlog_[slot].order_id;
  }
  now_us_ = h.now_us;
  hour_index_ = h.hour_index;
  day_index_ = h.day_index;
  warehouse_count_ = h.warehouse_count;
  courier_count_ = h.courier_count;
  stock_count_ = h.stock_count;
  parcel_high_ = h.parcel_high;
  parcel_free_count_ = h.parcel_free_count;
  shipment_high_ = h.shipment_high;
  shipment_free_count_ = h.shipment_free_count;
  retired_head_ = h.retired_head;
  retired_count_ = h.retired_count;
  retired_parcel_count_ = h.retired_parcel_count;
  backlog_head_ = h.backlog_head;
  backlog_count_ = h.backlog_count;
  outbox_head_ = h.outbox_head;
  outbox_count_ = h.outbox_count;
  figures_ = h.figures;
  // Checked right after reading back: a state that breaks an invariant is never served.
  ELEVEN_RETURN_IF_ERROR(CheckRestoredTables());
  ELEVEN_RETURN_IF_ERROR(CheckRestoredParcels());
  ELEVEN_RETURN_IF_ERROR(CheckRestoredQueues());
  CheckInvariants();  // the module's own checks; the ones above imply them
  return Status::Ok();
}

// Warehouses, couriers and stock: found in their maps at their own index, counters within
// capacity, stock chains running to older entries (so every walk ends).
Status Fulfilment::CheckRestoredTables() const {
  for (uint32_t i = 0; i < warehouse_count_; i++) {
    const Warehouse& w = warehouses_[i];
    if (warehouse_index_.Find(w.id) != i || w.hour_used > w.hourly_capacity ||
        w.day_used > w.daily_capacity || w.hour_index > hour_index_ || w.day_index > day_index_) {
      return Status::Corruption("fulfilment state: a warehouse contradicts its map or capacity");
    }
  }
  for (uint32_t i = 0; i < courier_count_; i++) {
    const Courier& c = couriers_[i];
    if (courier_index_.Find(c.id) != i || c.hour_used > c.hourly_capacity ||
        c.waybill_issued > c.waybill_count || c.hour_index > hour_index_) {
      return Status::Corruption("fulfilment state: a courier contradicts its map or capacity");
    }
  }
  for (uint32_t i = 0; i < stock_count_; i++) {
    const StockEntry& e = stock_[i];
    bool linked = (e.next == kNoSlot || e.next < i) && e.warehouse_index < warehouse_count_;
    if (!linked || e.units > wire::kStockMax || sku_first_entry_.Find(e.sku_id) == kNoValue) {
      return Status::Corruption("fulfilment state: a stock entry is out of its chain");
    }
  }
  const FixedMap<uint64_t>::Slot* slots = sku_first_entry_.slots();
  for (uint64_t s = 0; s < sku_first_entry_.slot_count(); s++) {
    if (slots[s].value == kNoValue) continue;
    if (slots[s].value >= stock_count_ || stock_[slots[s].value].sku_id != slots[s].key) {
      return Status::Corruption("fulfilment state: the SKU map points at another SKU");
    }
  }
  return Status::Ok();
}

// Parcels and shipments: every used slot is in its map at its own index (with the map counts
// equal to the used slots, the maps are exactly the tables); free lists name free slots.
Status Fulfilment::CheckRestoredParcels() const {
  uint32_t live_parcels = 0;
  for (uint32_t i = 0; i < parcel_high_; i++) {
    const Parcel& p = parcels_[i];
    if (p.state == wire::ParcelState::kNone) continue;
    live_parcels++;
    bool links = p.shipment_index < shipment_high_ && p.warehouse_index < warehouse_count_ &&
                 p.courier_index < courier_count_ && LinkOk(p.next_in_shipment, parcel_high_);
    if (!links || parcel_by_waybill_.Find(p.waybill) != i || p.event_count == 0 ||
        p.event_count > wire::kTimelineEventCountMax) {
      return Status::Corruption("fulfilment state: a parcel contradicts its map or links");
    }
  }
  uint32_t live_shipments = 0;
  for (uint32_t i = 0; i < shipment_high_; i++) {
    const Shipment& s = shipments_[i];
    if (s.state == wire::ShipmentState::kNone) continue;
    live_shipments++;
    if (shipment_by_order_.Find(s.order_id) != i || !LinkOk(s.first_parcel, parcel_high_) ||
        s.terminal_count > s.parcel_count) {
      return Status::Corruption("fulfilment state: a shipment contradicts its map or links");
    }
  }
  if (live_parcels != parcel_by_waybill_.count() || live_shipments != shipment_by_order_.count()) {
    return Status::Corruption("fulfilment state: free slots and maps disagree");
  }
  for (uint32_t k = 0; k < parcel_free_count_; k++) {
    uint32_t i = parcel_free_[k];
    if (i >= parcel_high_ || parcels_[i].state != wire::ParcelState::kNone) {
      return Status::Corruption("fulfilment state: the parcel free list names a used slot");
    }
  }
  for (uint32_t k = 0; k < shipment_free_count_; k++) {
    uint32_t i = shipment_free_[k];
    if (i >= shipment_high_ || shipments_[i].state != wire::ShipmentState::kNone) {
      return Status::Corruption("fulfilment state: the shipment free list names a used slot");
    }
  }
  return Status::Ok();
}

// The rings and the hour buckets: retired shipments are completed and their parcels add up,
// every backlogged shipment is queued once, buckets hold past hours of their own residue.
Status Fulfilment::CheckRestoredQueues() const {
  uint64_t retired_parcels = 0;
  for (uint32_t k = 0; k < retired_count_; k++) {
    uint32_t i = retired_[(retired_head_ + k) % config_.shipment_count_max];
    if (i >= shipment_high_ || shipments_[i].state != wire::ShipmentState::kCompleted) {
      return Status::Corruption("fulfilment state: the retired ring names a live shipment");
    }
    retired_parcels += shipments_[i].parcel_count;
  }
  if (retired_parcels != retired_parcel_count_) {
    return Status::Corruption("fulfilment state: retired parcels do not add up");
  }
  uint32_t backlogged = 0;
  for (uint32_t i = 0; i < shipment_high_; i++) {
    backlogged += shipments_[i].state == wire::ShipmentState::kBacklogged ? 1 : 0;
  }
  for (uint32_t k = 0; k < backlog_count_; k++) {
    const OrderToShip& o = backlog_[(backlog_head_ + k) % config_.backlog_count_max];
    uint32_t i = shipment_by_order_.Find(o.order_id);
    if (i == kNoValue || shipments_[i].state != wire::ShipmentState::kBacklogged) {
      return Status::Corruption("fulfilment state: a backlog entry has no backlogged shipment");
    }
  }
  if (backlogged != backlog_count_) {
    return Status::Corruption("fulfilment state: backlogged shipments and the backlog disagree");
  }
  // A bucket never holds an hour past the next one that maps to it (HourRow asserts that).
  const uint32_t count = config_.hour_bucket_count;
  for (uint32_t b = 0; b < count; b++) {
    const uint64_t next_hour = hour_index_ + (b + count - hour_index_ % count) % count;
    if (hour_of_bucket_[b] % count != b || hour_of_bucket_[b] > next_hour) {
      return Status::Corruption("fulfilment state: an hour bucket holds a foreign hour");
    }
  }
  return Status::Ok();
}

}  // namespace eleven::engine
