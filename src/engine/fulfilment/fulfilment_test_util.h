// Builders of fulfilment commands for tests and the benchmark.
#pragma once

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "engine/fulfilment/fulfilment.h"

namespace eleven::engine::testing {

inline wire::Command WarehouseCommand(uint64_t id, uint16_t region, int32_t x_km, int32_t y_km,
                                      uint32_t hourly, uint32_t daily, bool bonded = false) {
  wire::CreateWarehouse r{};
  r.operation = wire::kCreateWarehouse;
  r.flags = bonded ? 1 : 0;
  r.city = 1;
  r.region = region;
  r.warehouse_id = id;
  r.x_km = x_km;
  r.y_km = y_km;
  r.hourly_capacity = hourly;
  r.daily_capacity = daily;
  return wire::ToCommand(r);
}

inline wire::Command StockCommand(uint64_t warehouse_id, uint64_t sku_id, uint32_t units) {
  wire::StockWarehouse r{};
  r.operation = wire::kStockWarehouse;
  r.units = units;
  r.warehouse_id = warehouse_id;
  r.sku_id = sku_id;
  return wire::ToCommand(r);
}

inline wire::Command CourierCommand(uint64_t id, const char* name, wire::CourierMode mode,
                                    uint8_t days, uint32_t hourly, int64_t cost_fen,
                                    uint64_t waybill_first, uint64_t waybill_count) {
  wire::CreateCourier r{};
  r.operation = wire::kCreateCourier;
  r.mode = mode;
  r.promised_days = days;
  r.hourly_capacity = hourly;
  r.courier_id = id;
  // NUL-padded, not NUL-terminated: a 16-character name fills the field.
  std::memcpy(r.name, name, std::min(std::strlen(name), sizeof(r.name)));
  r.cost_fen = cost_fen;
  r.waybill_first = waybill_first;
  r.waybill_count = waybill_count;
  return wire::ToCommand(r);
}

// Coverage of every region of `block`, or only of the regions in [first, last].
inline wire::Command CoverageCommand(uint64_t courier_id, uint8_t block, uint32_t first = 1,
                                     uint32_t last = wire::kRegionMax) {
  wire::SetCoverage r{};
  r.operation = wire::kSetCoverage;
  r.block = block;
  r.courier_id = courier_id;
  for (uint32_t i = 0; i < wire::kCoverageBlockRegions; i++) {
    uint32_t region = block * wire::kCoverageBlockRegions + i;
    if (region >= first && region <= last) r.bits[i / 64] |= uint64_t{1} << (i % 64);
  }
  return wire::ToCommand(r);
}

inline wire::Command RegionPointCommand(uint16_t region, int32_t x_km, int32_t y_km) {
  wire::SetRegionPoint r{};
  r.operation = wire::kSetRegionPoint;
  r.region = region;
  r.x_km = x_km;
  r.y_km = y_km;
  return wire::ToCommand(r);
}

inline wire::Command TrackCommand(uint64_t waybill, wire::ParcelState event, uint32_t hub = 0) {
  wire::TrackParcel r{};
  r.operation = wire::kTrackParcel;
  r.event = event;
  r.hub = hub;
  r.waybill = waybill;
  return wire::ToCommand(r);
}

inline OrderToShip Order(uint64_t order_id, uint16_t region,
                         std::initializer_list<std::pair<uint64_t, uint32_t>> lines,
                         bool cross_border = false, uint8_t city_tier = 3) {
  OrderToShip o{};
  o.order_id = order_id;
  o.merchant_id = 1;
  o.region = region;
  o.city_tier = city_tier;
  o.cross_border = cross_border ? 1 : 0;
  for (auto [sku, qty] : lines) {
    o.lines[o.line_count].sku_id = sku;
    o.lines[o.line_count].quantity = qty;
    o.line_count++;
  }
  return o;
}

}  // namespace eleven::engine::testing
