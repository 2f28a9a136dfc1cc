// Fulfilment: construction, commands, tracking, queries and the digest. Allocation and the
// backlog are in fulfilment_allocate.cc.
#include "engine/fulfilment/fulfilment.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/assert.h"
#include "engine/fulfilment/fulfilment_state.h"

namespace eleven::engine {

using wire::Code;
using namespace fulfilment;
using wire::ParcelState;

namespace {

constexpr uint32_t Bit(ParcelState state) { return 1u << static_cast<uint8_t>(state); }

// For each event (= the state it leads to), the states a parcel may be in before it.
// Written out in docs/fulfilment.md; the model test checks it against its own list of pairs.
constexpr uint32_t kAllowedFrom[wire::kParcelStateMax + 1] = {
    0,                                                                 // none
    0,                                                                 // allocated
    Bit(ParcelState::kAllocated),                                      // picked
    Bit(ParcelState::kPicked),                                         // packed
    Bit(ParcelState::kPacked),                                         // handed_to_courier
    Bit(ParcelState::kHandedToCourier) | Bit(ParcelState::kArrivedHub) |
        Bit(ParcelState::kException),                                  // departed_hub
    Bit(ParcelState::kDepartedHub) | Bit(ParcelState::kException),     // arrived_hub
    Bit(ParcelState::kArrivedHub) | Bit(ParcelState::kException),      // out_for_delivery
    Bit(ParcelState::kOutForDelivery),                                 // delivered
    Bit(ParcelState::kHandedToCourier) | Bit(ParcelState::kDepartedHub) |
        Bit(ParcelState::kArrivedHub) | Bit(ParcelState::kOutForDelivery),  // exception
    Bit(ParcelState::kException),                                      // returned
    0,  // cancelled: not an event (CancelShipment), so never allowed
};

bool Terminal(ParcelState state) {
  return state == ParcelState::kDelivered || state == ParcelState::kReturned ||
         state == ParcelState::kCancelled;
}

// Printable ASCII, NUL-padded, at least one character.
bool NameValid(const char* name) {
  ELEVEN_ASSERT(name != nullptr);
  size_t length = 0;
  while (length < wire::kCourierNameSize && name[length] != '\0') {
    if (name[length] < 0x20 || name[length] > 0x7E) return false;
    length++;
  }
  for (size_t i = length; i < wire::kCourierNameSize; i++) {
    if (name[i] != '\0') return false;
  }
  return length > 0;
}

// The sort code printed on the label: the buyer's province and city tier.
uint32_t SortCode(uint16_t region, uint8_t city_tier) { return uint32_t{region} * 10 + city_tier; }

bool CoordinatesValid(int32_t x_km, int32_t y_km) {
  return x_km >= -wire::kCoordinateMaxKm && x_km <= wire::kCoordinateMaxKm &&
         y_km >= -wire::kCoordinateMaxKm && y_km <= wire::kCoordinateMaxKm;
}

}  // namespace

bool TrackingAllowed(ParcelState from, ParcelState event) {
  auto e = static_cast<uint8_t>(event);
  ELEVEN_ASSERT(static_cast<uint8_t>(from) <= wire::kParcelStateMax);
  if (e < wire::kTrackingEventMin || e > wire::kTrackingEventMax) return false;
  return (kAllowedFrom[e] & Bit(from)) != 0;
}

OrderToShip OrderToShipFromRecord(const wire::ShipOrder& record) {
  OrderToShip order{};
  order.order_id = record.order_id;
  order.merchant_id = record.merchant_id;
  order.region = record.region;
  order.city_tier = record.city_tier;
  order.cross_border = record.cross_border;
  order.line_count = record.line_count;
  for (uint32_t i = 0; i < wire::kOrderLineCountMax; i++) {
    order.lines[i].sku_id = record.sku_id[i];
    order.lines[i].quantity = record.quantity[i];
  }
  ELEVEN_ASSERT(order.order_id == record.order_id);
  return order;
}

Fulfilment::Fulfilment(const FulfilmentConfig& config)
    : config_(config),
      warehouse_index_(config.warehouse_count_max),
      courier_index_(config.courier_count_max),
      sku_first_entry_(config.sku_count_max),
      parcel_by_waybill_(config.parcel_count_max),
      shipment_by_order_(config.shipment_count_max) {
  ELEVEN_ASSERT(config.warehouse_count_max > 0 && config.warehouse_count_max <= kWarehouseCountLimit);
  ELEVEN_ASSERT(config.courier_count_max > 0 && config.courier_count_max <= kCourierCountLimit);
  ELEVEN_ASSERT(config.stock_entry_count_max > 0 && config.parcel_count_max > 0);
  ELEVEN_ASSERT(config.shipment_count_max > 0 && config.backlog_count_max > 0);
  ELEVEN_ASSERT(config.delivered_outbox_count_max > 0 && config.hour_bucket_count > 0);
  ELEVEN_ASSERT(config.drain_per_tick_max > 0 && config.promise_day_weight_fen >= 0);
  ELEVEN_ASSERT(config.promise_day_weight_fen <= wire::kCourierCostMaxFen);
  ELEVEN_ASSERT(config.day_offset_us < kDayUs);
  ELEVEN_ASSERT(config.milestone_count <= wire::kMilestoneCountMax);
  for (uint32_t i = 0; i < config.milestone_count; i++) {
    ELEVEN_ASSERT(config.milestone_parcels[i] > 0);
    ELEVEN_ASSERT(i == 0 || config.milestone_parcels[i] > config.milestone_parcels[i - 1]);
  }
  // BigArray maps zeroed memory: every byte, padding included, starts at zero.
  warehouses_ = BigArray<Warehouse>(config.warehouse_count_max);
  couriers_ = BigArray<Courier>(config.courier_count_max);
  stock_ = BigArray<StockEntry>(config.stock_entry_count_max);
  region_points_ = BigArray<int32_t>(2 * (wire::kRegionMax + 1));
  parcels_ = BigArray<Parcel>(config.parcel_count_max);
  timelines_ = BigArray<wire::TimelineEntry>(uint64_t{config.parcel_count_max} *
                                                       kStoredEventCountMax);
  parcel_free_ = BigArray<uint32_t>(config.parcel_count_max);
  retired_ = BigArray<uint32_t>(config.shipment_count_max);
  shipments_ = BigArray<Shipment>(config.shipment_count_max);
  shipment_free_ = BigArray<uint32_t>(config.shipment_count_max);
  backlog_ = BigArray<OrderToShip>(config.backlog_count_max);
  backlog_ids_ = BigArray<uint64_t>(config.backlog_count_max);
  outbox_ = BigArray<DeliveredOrder>(config.delivered_outbox_count_max);
  hour_of_bucket_ = BigArray<uint64_t>(config.hour_bucket_count);
  hour_counts_ = BigArray<HourCount>(uint64_t{config.hour_bucket_count} *
                                               (config.warehouse_count_max + config.courier_count_max));
  candidates_ = BigArray<Candidate>(config.warehouse_count_max);
  candidate_of_warehouse_ = BigArray<uint32_t>(config.warehouse_count_max);
  std::fill_n(candidate_of_warehouse_.get(), config.warehouse_count_max, kNoSlot);
  // Bucket b starts out holding hour b, whose counters are zero: every bucket is valid.
  for (uint32_t b = 0; b < config.hour_bucket_count; b++) hour_of_bucket_[b] = b;
  // The default region point: regions laid out row by row on a 32-wide grid, 100 km apart.
  for (uint32_t region = 1; region <= wire::kRegionMax; region++) {
    region_points_[2 * region] = static_cast<int32_t>((region - 1) % 32) * 100;
    region_points_[2 * region + 1] = static_cast<int32_t>((region - 1) / 32) * 100;
  }
  figures_.milestone_count = config.milestone_count;
  std::copy_n(config.milestone_parcels, wire::kMilestoneCountMax, figures_.milestone_parcels);
}

Fulfilment::~Fulfilment() = default;

void Fulfilment::AdvanceTime(uint64_t now_us) {
  // The sequencer stamps log entries with non-decreasing times; a step back is a bug there.
  ELEVEN_ASSERT(now_us >= now_us_);
  now_us_ = now_us;
  hour_index_ = now_us / kHourUs;
  day_index_ = (now_us + config_.day_offset_us) / kDayUs;
  ELEVEN_DASSERT(hour_index_ + 24 >= day_index_ * 24);  // the day offset is under a day
}

wire::Result Fulfilment::Apply(const wire::Command& command, uint64_t now_us) {
  AdvanceTime(now_us);
  wire::Result result{};
  result.operation = command.operation;
  result.at_us = now_us;
  Code code = wire::CheckFulfilmentStructure(command);
  if (code != Code::ok) {
    result.code = code;
    return result;
  }
  uint32_t units_after = 0;
  ParcelState state_after = ParcelState::kNone;
  switch (static_cast<uint8_t>(command.operation)) {
    case static_cast<uint8_t>(wire::kCreateWarehouse):
      result.id = wire::AsRecord<wire::CreateWarehouse>(command).warehouse_id;
      code = CreateWarehouse(wire::AsRecord<wire::CreateWarehouse>(command));
      break;
    case static_cast<uint8_t>(wire::kStockWarehouse):
      result.id = wire::AsRecord<wire::StockWarehouse>(command).warehouse_id;
      code = StockWarehouse(wire::AsRecord<wire::StockWarehouse>(command), &units_after);
      result.amount_fen = units_after;
      break;
    case static_cast<uint8_t>(wire::kCreateCourier):
      result.id = wire::AsRecord<wire::CreateCourier>(command).courier_id;
      code = CreateCourier(wire::AsRecord<wire::CreateCourier>(command));
      break;
    case static_cast<uint8_t>(wire::kSetCoverage):
      result.id = wire::AsRecord<wire::SetCoverage>(command).courier_id;
      code = SetCoverage(wire::AsRecord<wire::SetCoverage>(command));
      break;
    case static_cast<uint8_t>(wire::kSetRegionPoint):
      result.id = wire::AsRecord<wire::SetRegionPoint>(command).region;
      code = SetRegionPoint(wire::AsRecord<wire::SetRegionPoint>(command));
      break;
    case static_cast<uint8_t>(wire::kShipOrder): {
      OrderToShip order = OrderToShipFromRecord(wire::AsRecord<wire::ShipOrder>(command));
      result.id = order.order_id;
      code = OnOrderPaid(order, now_us);
      uint32_t shipment = shipment_by_order_.Find(order.order_id);
      if (code == Code::ok) result.amount_fen = shipments_[shipment].parcel_count;
      break;
    }
    case static_cast<uint8_t>(wire::kTrackParcel):
      result.id = wire::AsRecord<wire::TrackParcel>(command).waybill;
      code = Track(wire::AsRecord<wire::TrackParcel>(command), &state_after);
      break;
    default:
      ELEVEN_ASSERT(false);  // CheckFulfilmentStructure admits defined operations only
  }
  result.code = code;
  result.state = static_cast<wire::OrderState>(state_after);
  CheckInvariants();
  return result;
}

Code Fulfilment::CreateWarehouse(const wire::CreateWarehouse& record) {
  ELEVEN_ASSERT(record.operation == wire::kCreateWarehouse);
  if (record.warehouse_id == 0) return Code::invalid_id;
  if ((record.flags & ~wire::kWarehouseFlagsAll) != 0) return Code::warehouse_flags_invalid;
  if (record.region == 0 || record.region > wire::kRegionMax) return Code::invalid_region;
  if (record.city > wire::kCityCodeMax) return Code::city_code_invalid;
  if (!CoordinatesValid(record.x_km, record.y_km)) return Code::coordinates_invalid;
  if (record.hourly_capacity == 0 || record.hourly_capacity > wire::kWarehouseCapacityMax ||
      record.daily_capacity < record.hourly_capacity ||
      record.daily_capacity > wire::kWarehouseCapacityMax) {
    return Code::warehouse_capacity_invalid;
  }
  if (warehouse_index_.Find(record.warehouse_id) != kNoValue) return Code::warehouse_exists;
  if (warehouse_count_ == config_.warehouse_count_max) return Code::warehouses_full;
  uint32_t index = warehouse_count_;
  Warehouse& w = warehouses_[index];
  w.id = record.warehouse_id;
  w.x_km = record.x_km;
  w.y_km = record.y_km;
  w.hourly_capacity = record.hourly_capacity;
  w.daily_capacity = record.daily_capacity;
  w.region = record.region;
  w.city = record.city;
  w.flags = record.flags;
  bool inserted = warehouse_index_.Insert(record.warehouse_id, index);
  ELEVEN_ASSERT(inserted);  // the map holds warehouse_count_max entries
  warehouse_count_++;
  return Code::ok;
}

uint32_t Fulfilment::FindStockEntry(uint32_t warehouse_index, uint64_t sku_id) const {
  ELEVEN_DASSERT(warehouse_index < warehouse_count_);
  uint32_t entry = sku_first_entry_.Find(sku_id);
  // Bounded: a chain has at most one entry per warehouse.
  for (uint32_t steps = 0; entry != kNoValue; steps++) {
    ELEVEN_ASSERT(steps < warehouse_count_ && entry < stock_count_);
    if (stock_[entry].warehouse_index == warehouse_index) return entry;
    entry = stock_[entry].next;
  }
  return kNoSlot;
}

Code Fulfilment::StockWarehouse(const wire::StockWarehouse& record, uint32_t* units_after) {
  ELEVEN_ASSERT(record.operation == wire::kStockWarehouse && units_after != nullptr);
  if (record.sku_id == 0) return Code::invalid_id;
  if (record.units == 0 || record.units > wire::kStockMax) return Code::invalid_quantity;
  uint32_t warehouse = warehouse_index_.Find(record.warehouse_id);
  if (warehouse == kNoValue) return Code::warehouse_not_found;
  uint32_t entry = FindStockEntry(warehouse, record.sku_id);
  if (entry != kNoSlot) {
    if (stock_[entry].units > wire::kStockMax - record.units) return Code::warehouse_stock_overflow;
    stock_[entry].units += record.units;
    *units_after = stock_[entry].units;
    return Code::ok;
  }
  if (stock_count_ == config_.stock_entry_count_max) return Code::warehouse_stock_full;
  uint32_t* first = sku_first_entry_.FindValue(record.sku_id);
  if (first == nullptr && sku_first_entry_.full()) return Code::warehouse_stock_full;
  entry = stock_count_++;
  stock_[entry] = StockEntry{record.sku_id, warehouse, record.units, kNoSlot, 0};
  // New entries go to the front of the SKU's chain; allocation does not depend on the order.
  if (first != nullptr) {
    stock_[entry].next = *first;
    *first = entry;
  } else {
    bool inserted = sku_first_entry_.Insert(record.sku_id, entry);
    ELEVEN_ASSERT(inserted);
  }
  *units_after = record.units;
  return Code::ok;
}

Code Fulfilment::CreateCourier(const wire::CreateCourier& record) {
  ELEVEN_ASSERT(record.operation == wire::kCreateCourier);
  if (record.courier_id == 0) return Code::invalid_id;
  auto mode = static_cast<uint8_t>(record.mode);
  if (mode == 0 || mode > wire::kCourierModeMax) return Code::courier_mode_invalid;
  if (record.promised_days == 0 || record.promised_days > wire::kPromisedDaysMax) {
    return Code::courier_promise_invalid;
  }
  if (record.hourly_capacity == 0 || record.hourly_capacity > wire::kCourierCapacityMax) {
    return Code::courier_capacity_invalid;
  }
  if (record.cost_fen <= 0 || record.cost_fen > wire::kCourierCostMaxFen) {
    return Code::courier_cost_invalid;
  }
  if (!NameValid(record.name)) return Code::courier_name_invalid;
  if (record.waybill_first == 0 || record.waybill_count == 0 ||
      record.waybill_count > UINT64_MAX - record.waybill_first) {
    return Code::waybill_range_invalid;
  }
  if (courier_index_.Find(record.courier_id) != kNoValue) return Code::courier_exists;
  uint64_t end = record.waybill_first + record.waybill_count;
  for (uint32_t i = 0; i < courier_count_; i++) {
    const Courier& other = couriers_[i];
    bool apart = end <= other.waybill_first ||
                 other.waybill_first + other.waybill_count <= record.waybill_first;
    if (!apart) return Code::waybill_range_overlap;
  }
  if (courier_count_ == config_.courier_count_max) return Code::couriers_full;
  uint32_t index = courier_count_;
  Courier& c = couriers_[index];
  c.id = record.courier_id;
  c.cost_fen = record.cost_fen;
  c.score_fen = record.cost_fen + config_.promise_day_weight_fen * record.promised_days;
  c.waybill_first = record.waybill_first;
  c.waybill_count = record.waybill_count;
  std::memcpy(c.name, record.name, wire::kCourierNameSize);
  c.hourly_capacity = record.hourly_capacity;
  c.mode = record.mode;
  c.promised_days = record.promised_days;
  bool inserted = courier_index_.Insert(record.courier_id, index);
  ELEVEN_ASSERT(inserted && c.score_fen > 0);
  courier_count_++;
  return Code::ok;
}

Code Fulfilment::SetCoverage(const wire::SetCoverage& record) {
  ELEVEN_ASSERT(record.operation == wire::kSetCoverage);
  if (record.block >= wire::kCoverageBlockCount) return Code::coverage_block_invalid;
  // Region 0 does not exist, nor do regions past kRegionMax: their bits must be clear.
  uint32_t first = record.block * wire::kCoverageBlockRegions;
  for (uint32_t i = 0; i < wire::kCoverageBlockRegions; i++) {
    uint32_t region = first + i;
    bool set = (record.bits[i / 64] >> (i % 64)) & 1;
    if (set && (region == 0 || region > wire::kRegionMax)) return Code::invalid_region;
  }
  uint32_t index = courier_index_.Find(record.courier_id);
  if (index == kNoValue) return Code::courier_not_found;
  constexpr uint32_t kWordsPerBlock = wire::kCoverageBlockRegions / 64;
  static_assert(kWordsPerBlock == 8);
  std::copy_n(record.bits, kWordsPerBlock, couriers_[index].coverage + record.block * kWordsPerBlock);
  return Code::ok;
}

Code Fulfilment::SetRegionPoint(const wire::SetRegionPoint& record) {
  ELEVEN_ASSERT(record.operation == wire::kSetRegionPoint);
  if (record.region == 0 || record.region > wire::kRegionMax) return Code::invalid_region;
  if (!CoordinatesValid(record.x_km, record.y_km)) return Code::coordinates_invalid;
  region_points_[2 * record.region] = record.x_km;
  region_points_[2 * record.region + 1] = record.y_km;
  ELEVEN_ASSERT(region_points_[2 * record.region] == record.x_km);
  return Code::ok;
}

bool Fulfilment::IssuedWaybill(uint64_t waybill) const {
  for (uint32_t i = 0; i < courier_count_; i++) {
    const Courier& c = couriers_[i];
    if (waybill >= c.waybill_first && waybill - c.waybill_first < c.waybill_issued) return true;
  }
  return false;
}

Code Fulfilment::CheckTrack(const wire::TrackParcel& record, uint32_t* parcel_index) const {
  ELEVEN_ASSERT(parcel_index != nullptr);
  auto event = static_cast<uint8_t>(record.event);
  if (event < wire::kTrackingEventMin || event > wire::kTrackingEventMax) {
    return Code::tracking_event_invalid;
  }
  uint32_t index = parcel_by_waybill_.Find(record.waybill);
  if (index == kNoValue) {
    return IssuedWaybill(record.waybill) ? Code::parcel_evicted : Code::parcel_not_found;
  }
  const Parcel& parcel = parcels_[index];
  ELEVEN_ASSERT(parcel.waybill == record.waybill);
  if (!TrackingAllowed(parcel.state, record.event)) return Code::tracking_transition_invalid;
  if (parcel.event_count == wire::kTimelineEventCountMax) return Code::parcel_timeline_full;
  const Shipment& shipment = shipments_[parcel.shipment_index];
  bool completes = Terminal(record.event) && shipment.terminal_count + 1 == shipment.parcel_count;
  if (completes && outbox_count_ == config_.delivered_outbox_count_max) {
    return Code::delivery_outbox_full;
  }
  *parcel_index = index;
  return Code::ok;
}

Code Fulfilment::Track(const wire::TrackParcel& record, ParcelState* state_after) {
  uint32_t index = kNoSlot;
  Code code = CheckTrack(record, &index);
  if (code != Code::ok) return code;
  Parcel& parcel = parcels_[index];
  ELEVEN_ASSERT(parcel.event_count >= 1 && parcel.event_count <= kStoredEventCountMax);
  timelines_[uint64_t{index} * kStoredEventCountMax + parcel.event_count - 1] =
      wire::TimelineEntry{now_us_, record.hub, record.event, {}};
  parcel.event_count++;
  parcel.state = record.event;
  *state_after = record.event;
  if (record.event == ParcelState::kHandedToCourier) {
    HourCount* row = HourRow(hour_index_);
    row[parcel.warehouse_index].dispatched++;
    row[config_.warehouse_count_max + parcel.courier_index].dispatched++;
    figures_.parcels_dispatched++;
    for (uint32_t m = 0; m < figures_.milestone_count; m++) {
      if (figures_.milestone_parcels[m] == figures_.parcels_dispatched) {
        figures_.milestone_at_us[m] = now_us_;
      }
    }
  }
  if (!Terminal(record.event)) return Code::ok;
  Shipment& shipment = shipments_[parcel.shipment_index];
  shipment.terminal_count++;
  bool delivered = record.event == ParcelState::kDelivered;
  shipment.delivered_count += delivered ? 1 : 0;
  shipment.returned_count += delivered ? 0 : 1;
  if (!delivered) shipment.returned_lines |= parcel.order_lines;
  (delivered ? figures_.parcels_delivered : figures_.parcels_returned)++;
  ELEVEN_ASSERT(shipment.terminal_count <= shipment.parcel_count);
  if (shipment.terminal_count == shipment.parcel_count) {
    ELEVEN_ASSERT(outbox_count_ < config_.delivered_outbox_count_max);  // CheckTrack made sure
    uint32_t slot = (outbox_head_ + outbox_count_) % config_.delivered_outbox_count_max;
    outbox_[slot] = DeliveredOrder{shipment.order_id, now_us_,         shipment.parcel_count,
                                   shipment.delivered_count, shipment.returned_count,
                                   shipment.returned_lines,  {}};
    outbox_count_++;
    Retire(parcel.shipment_index);
  }
  return Code::ok;
}

uint32_t Fulfilment::TakeDelivered(std::span<DeliveredOrder> out) {
  uint32_t taken = 0;
  while (taken < out.size() && outbox_count_ > 0) {
    out[taken++] = outbox_[outbox_head_];
    outbox_[outbox_head_] = DeliveredOrder{};  // keep the digest independent of history
    outbox_head_ = (outbox_head_ + 1) % config_.delivered_outbox_count_max;
    outbox_count_--;
  }
  ELEVEN_ASSERT(taken <= out.size());
  return taken;
}

// ---- Figures ----

Fulfilment::HourCount* Fulfilment::HourRow(uint64_t hour_index) {
  uint32_t bucket = static_cast<uint32_t>(hour_index % config_.hour_bucket_count);
  uint64_t row_size = config_.warehouse_count_max + config_.courier_count_max;
  HourCount* row = &hour_counts_[bucket * row_size];
  if (hour_of_bucket_[bucket] != hour_index) {
    // Log time only moves forward, so a bucket is only ever reused for a later hour.
    ELEVEN_ASSERT(hour_of_bucket_[bucket] < hour_index);
    std::fill_n(row, row_size, HourCount{0, 0});
    hour_of_bucket_[bucket] = hour_index;
  }
  return row;
}

// The counters at `offset` in the row of `hour_index`: ok with the counts (zeros for a quiet
// hour inside the kept window), or hour_not_retained for hours outside it.
Code Fulfilment::HourCounts(uint64_t hour_index, uint32_t offset, HourCount* out) const {
  ELEVEN_ASSERT(out != nullptr);
  ELEVEN_ASSERT(offset < config_.warehouse_count_max + config_.courier_count_max);
  *out = HourCount{0, 0};
  bool kept = hour_index <= hour_index_ && hour_index_ - hour_index < config_.hour_bucket_count;
  if (!kept) return Code::hour_not_retained;
  uint32_t bucket = static_cast<uint32_t>(hour_index % config_.hour_bucket_count);
  // A bucket holding an older hour was not touched since: the asked hour was quiet.
  if (hour_of_bucket_[bucket] != hour_index) return Code::ok;
  uint64_t row_size = config_.warehouse_count_max + config_.courier_count_max;
  *out = hour_counts_[bucket * row_size + offset];
  return Code::ok;
}

Code Fulfilment::QueryWarehouseHour(uint64_t warehouse_id, uint64_t hour_index,
                                    wire::HourFigure* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = warehouse_index_.Find(warehouse_id);
  if (index == kNoValue) return Code::warehouse_not_found;
  HourCount counts{};
  Code code = HourCounts(hour_index, index, &counts);
  *out = wire::HourFigure{hour_index, warehouse_id, counts.allocated, counts.dispatched};
  return code;
}

Code Fulfilment::QueryCourierHour(uint64_t courier_id, uint64_t hour_index,
                                  wire::HourFigure* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = courier_index_.Find(courier_id);
  if (index == kNoValue) return Code::courier_not_found;
  HourCount counts{};
  Code code = HourCounts(hour_index, config_.warehouse_count_max + index, &counts);
  *out = wire::HourFigure{hour_index, courier_id, counts.allocated, counts.dispatched};
  return code;
}

wire::FiguresRecord Fulfilment::QueryFigures() const {
  wire::FiguresRecord figures = figures_;
  figures.backlog_count = backlog_count_;
  ELEVEN_ASSERT(figures.backlog_count <= figures.backlog_count_high);
  ELEVEN_ASSERT(figures.parcels_dispatched <= figures.parcels_allocated);
  return figures;
}

// ---- Queries ----

Code Fulfilment::QueryWarehouse(uint64_t warehouse_id, wire::WarehouseRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  const uint32_t index = warehouse_index_.Find(warehouse_id);
  if (index == kNoValue) return Code::warehouse_not_found;
  const Warehouse& w = warehouses_[index];
  *out = wire::WarehouseRecord{};
  out->warehouse_id = w.id;
  out->hour_index = w.hour_index;
  out->day_index = w.day_index;
  out->x_km = w.x_km;
  out->y_km = w.y_km;
  out->hourly_capacity = w.hourly_capacity;
  out->daily_capacity = w.daily_capacity;
  out->hour_used = w.hour_used;
  out->day_used = w.day_used;
  out->region = w.region;
  out->city = w.city;
  out->flags = w.flags;
  return Code::ok;
}

Code Fulfilment::QueryCourier(uint64_t courier_id, wire::CourierRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  const uint32_t index = courier_index_.Find(courier_id);
  if (index == kNoValue) return Code::courier_not_found;
  const Courier& c = couriers_[index];
  *out = wire::CourierRecord{};
  out->courier_id = c.id;
  out->cost_fen = c.cost_fen;
  out->waybill_first = c.waybill_first;
  out->waybill_count = c.waybill_count;
  out->waybill_issued = c.waybill_issued;
  std::memcpy(out->name, c.name, sizeof(out->name));
  out->hourly_capacity = c.hourly_capacity;
  for (const uint64_t word : c.coverage) out->regions_covered += static_cast<uint32_t>(std::popcount(word));
  out->mode = c.mode;
  out->promised_days = c.promised_days;
  return Code::ok;
}

Code Fulfilment::QueryParcel(uint64_t waybill, wire::ParcelRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = parcel_by_waybill_.Find(waybill);
  if (index == kNoValue) return IssuedWaybill(waybill) ? Code::parcel_evicted : Code::parcel_not_found;
  const Parcel& p = parcels_[index];
  ELEVEN_ASSERT(p.waybill == waybill && p.state != ParcelState::kNone);
  *out = wire::ParcelRecord{};
  out->waybill = p.waybill;
  out->order_id = p.order_id;
  out->warehouse_id = warehouses_[p.warehouse_index].id;
  out->courier_id = couriers_[p.courier_index].id;
  out->allocated_at_us = p.allocated_at_us;
  out->sort_code = SortCode(p.region, p.city_tier);
  const wire::TimelineEntry* events = &timelines_[uint64_t{index} * kStoredEventCountMax];
  for (uint32_t i = 0; i + 1 < p.event_count; i++) {
    if (events[i].state == ParcelState::kHandedToCourier) out->handed_at_us = events[i].at_us;
  }
  out->state = p.state;
  out->event_count = p.event_count;
  out->line_count = p.line_count;
  out->city_tier = p.city_tier;
  out->region = p.region;
  out->parcel_number = p.parcel_number;
  out->parcel_count = p.parcel_count;
  std::copy_n(p.sku_id, wire::kOrderLineCountMax, out->sku_id);
  std::copy_n(p.quantity, wire::kOrderLineCountMax, out->quantity);
  return Code::ok;
}

Code Fulfilment::QueryTimeline(uint64_t waybill, std::span<wire::TimelineEntry> out,
                               uint32_t* count) const {
  ELEVEN_ASSERT(count != nullptr);
  *count = 0;
  uint32_t index = parcel_by_waybill_.Find(waybill);
  if (index == kNoValue) return IssuedWaybill(waybill) ? Code::parcel_evicted : Code::parcel_not_found;
  const Parcel& p = parcels_[index];
  ELEVEN_ASSERT(p.event_count >= 1 && p.event_count <= wire::kTimelineEventCountMax);
  *count = static_cast<uint32_t>(std::min<size_t>(out.size(), p.event_count));
  if (*count == 0) return Code::ok;
  out[0] = wire::TimelineEntry{p.allocated_at_us, 0, ParcelState::kAllocated, {}};
  std::copy_n(&timelines_[uint64_t{index} * kStoredEventCountMax], *count - 1, out.begin() + 1);
  return Code::ok;
}

Code Fulfilment::QueryShipment(uint64_t order_id, wire::ShipmentRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = shipment_by_order_.Find(order_id);
  if (index == kNoValue) return Code::shipment_not_found;
  const Shipment& s = shipments_[index];
  *out = wire::ShipmentRecord{};
  out->order_id = order_id;
  out->state = s.state;
  if (s.state == wire::ShipmentState::kBacklogged) {
    // A query's work is bounded: the position is looked for among the first
    // kBacklogPositionScanMax waiting orders only; further back it reads as unknown.
    out->backlog_position = wire::kBacklogPositionUnknown;
    const uint32_t scan = std::min(backlog_count_, wire::kBacklogPositionScanMax);
    const uint32_t before_wrap = std::min(scan, config_.backlog_count_max - backlog_head_);
    auto found = [&](uint32_t position, uint32_t slot) {
      out->backlog_position = position;
      out->region = backlog_[slot].region;
      return Code::ok;
    };
    for (uint32_t i = 0; i < before_wrap; i++) {
      if (backlog_ids_[backlog_head_ + i] == order_id) return found(i, backlog_head_ + i);
    }
    for (uint32_t i = 0; i < scan - before_wrap; i++) {
      if (backlog_ids_[i] == order_id) return found(before_wrap + i, i);
    }
    return Code::ok;
  }
  uint32_t parcel = s.first_parcel;
  for (uint32_t n = 0; parcel != kNoSlot; n++) {
    ELEVEN_ASSERT(n < wire::kShipmentParcelCountMax);
    out->waybill[n] = parcels_[parcel].waybill;
    out->region = parcels_[parcel].region;
    out->parcel_count++;
    parcel = parcels_[parcel].next_in_shipment;
  }
  ELEVEN_ASSERT(out->parcel_count == s.parcel_count);
  return Code::ok;
}

Code Fulfilment::QueryStock(uint64_t warehouse_id, uint64_t sku_id, uint32_t* units) const {
  ELEVEN_ASSERT(units != nullptr);
  *units = 0;
  uint32_t warehouse = warehouse_index_.Find(warehouse_id);
  if (warehouse == kNoValue) return Code::warehouse_not_found;
  uint32_t entry = FindStockEntry(warehouse, sku_id);
  if (entry != kNoSlot) *units = stock_[entry].units;
  return Code::ok;
}

// ---- Digest and invariants ----

void Fulfilment::Digest(Digester& d) const {
  d.UpdateValue(now_us_);
  // Every count first: without them, where one list ends and the next begins is ambiguous
  // (the free list and the retired ring are both runs of uint32).
  for (uint64_t count : {uint64_t{warehouse_count_}, uint64_t{courier_count_}, uint64_t{stock_count_},
                         uint64_t{parcel_high_}, uint64_t{parcel_free_count_}, uint64_t{retired_count_},
                         uint64_t{retired_parcel_count_}, uint64_t{shipment_high_},
                         uint64_t{shipment_free_count_}, uint64_t{backlog_count_}, uint64_t{outbox_count_}}) {
    d.UpdateValue(count);
  }
  d.Update(warehouses_.get(), sizeof(Warehouse) * warehouse_count_);
  d.Update(couriers_.get(), sizeof(Courier) * courier_count_);
  d.Update(stock_.get(), sizeof(StockEntry) * stock_count_);
  d.Update(region_points_.get(), sizeof(int32_t) * 2 * (wire::kRegionMax + 1));
  d.Update(sku_first_entry_.slots(), sizeof(FixedMap<uint64_t>::Slot) * sku_first_entry_.slot_count());
  d.Update(parcels_.get(), sizeof(Parcel) * parcel_high_);
  d.Update(timelines_.get(), sizeof(wire::TimelineEntry) * kStoredEventCountMax * parcel_high_);
  d.Update(parcel_free_.get(), sizeof(uint32_t) * parcel_free_count_);
  for (uint32_t i = 0; i < retired_count_; i++) {
    d.UpdateValue(retired_[(retired_head_ + i) % config_.shipment_count_max]);
  }
  d.Update(shipments_.get(), sizeof(Shipment) * shipment_high_);
  d.Update(shipment_free_.get(), sizeof(uint32_t) * shipment_free_count_);
  for (uint32_t i = 0; i < backlog_count_; i++) {
    d.UpdateValue(backlog_[(backlog_head_ + i) % config_.backlog_count_max]);
  }
  for (uint32_t i = 0; i < outbox_count_; i++) {
    d.UpdateValue(outbox_[(outbox_head_ + i) % config_.delivered_outbox_count_max]);
  }
  d.Update(hour_of_bucket_.get(), sizeof(uint64_t) * config_.hour_bucket_count);
  d.Update(hour_counts_.get(), sizeof(HourCount) * config_.hour_bucket_count *
                                   (config_.warehouse_count_max + config_.courier_count_max));
  d.UpdateValue(figures_);
  ELEVEN_ASSERT(candidate_count_ == 0);  // scratch is empty between calls
}

// Cheap structural invariants, always checked after a command; the deep walk only in debug.
void Fulfilment::CheckInvariants() const {
  ELEVEN_ASSERT(backlog_count_ <= config_.backlog_count_max && candidate_count_ == 0);
  ELEVEN_ASSERT(parcel_by_waybill_.count() + parcel_free_count_ == parcel_high_);
  ELEVEN_ASSERT(shipment_by_order_.count() + shipment_free_count_ == shipment_high_);
  ELEVEN_ASSERT(retired_count_ <= shipment_by_order_.count());
  ELEVEN_ASSERT(retired_parcel_count_ <= parcel_by_waybill_.count());
#ifndef NDEBUG
  for (uint32_t i = 0; i < warehouse_count_; i++) {
    const Warehouse& w = warehouses_[i];
    ELEVEN_ASSERT(w.hour_used <= w.hourly_capacity && w.day_used <= w.daily_capacity);
  }
  for (uint32_t i = 0; i < courier_count_; i++) {
    const Courier& c = couriers_[i];
    ELEVEN_ASSERT(c.hour_used <= c.hourly_capacity && c.waybill_issued <= c.waybill_count);
  }
  for (uint32_t i = 0; i < stock_count_; i++) ELEVEN_ASSERT(stock_[i].units <= wire::kStockMax);
  for (uint32_t i = 0; i < backlog_count_; i++) {
    const uint32_t slot = (backlog_head_ + i) % config_.backlog_count_max;
    ELEVEN_ASSERT(backlog_ids_[slot] == backlog_[slot].order_id);
  }
#endif
}

}  // namespace eleven::engine
