#include "engine/fulfilment/fulfilment.h"

#include <gtest/gtest.h>

#include <vector>

#include "engine/fulfilment/fulfilment_test_util.h"

namespace eleven::engine {
namespace {

using namespace testing;
using wire::Code;
using wire::CourierMode;
using wire::ParcelState;

constexpr uint64_t kT0 = 1'573'401'600'000'000;  // 2019-11-11 00:00 +08:00, in us since 1970
constexpr uint64_t kHour = fulfilment::kHourUs;

FulfilmentConfig SmallConfig() {
  FulfilmentConfig config;
  config.warehouse_count_max = 8;
  config.courier_count_max = 4;
  config.stock_entry_count_max = 64;
  config.sku_count_max = 64;
  config.parcel_count_max = 64;
  config.shipment_count_max = 64;
  config.backlog_count_max = 16;
  config.delivered_outbox_count_max = 8;
  config.hour_bucket_count = 4;
  return config;
}

Code Do(Fulfilment& f, const wire::Command& command, uint64_t now = kT0) {
  return f.Apply(command, now).code;
}

// One domestic courier covering everything, two warehouses: 1 at region 1 (0, 0) and 2 at
// region 3 (200, 0).
void Basic(Fulfilment& f, uint32_t hourly = 100) {
  ASSERT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, hourly, hourly * 24)), Code::ok);
  ASSERT_EQ(Do(f, WarehouseCommand(2, 3, 200, 0, hourly, hourly * 24)), Code::ok);
  ASSERT_EQ(Do(f, CourierCommand(10, "ZTO", CourierMode::kExpress, 2, 1000, 500, 1000, 1000)),
            Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(10, 0)), Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(10, 1)), Code::ok);
}

wire::ShipmentRecord Shipment(const Fulfilment& f, uint64_t order_id) {
  wire::ShipmentRecord s{};
  EXPECT_EQ(f.QueryShipment(order_id, &s), Code::ok);
  return s;
}

wire::ParcelRecord Parcel(const Fulfilment& f, uint64_t waybill) {
  wire::ParcelRecord p{};
  EXPECT_EQ(f.QueryParcel(waybill, &p), Code::ok);
  return p;
}

uint32_t Stock(const Fulfilment& f, uint64_t warehouse, uint64_t sku) {
  uint32_t units = 0;
  EXPECT_EQ(f.QueryStock(warehouse, sku, &units), Code::ok);
  return units;
}

TEST(FulfilmentRecords, StructureChecks) {
  wire::Command c = StockCommand(1, 2, 3);
  EXPECT_EQ(wire::CheckFulfilmentStructure(c), Code::ok);
  c.bytes[100] = 1;
  EXPECT_EQ(wire::CheckFulfilmentStructure(c), Code::reserved_nonzero);
  c = StockCommand(1, 2, 3);
  c.bytes[1] = 1;  // reserved0
  EXPECT_EQ(wire::CheckFulfilmentStructure(c), Code::reserved_nonzero);
  c.bytes[0] = 71;  // past the last defined fulfilment operation
  EXPECT_EQ(wire::CheckFulfilmentStructure(c), Code::invalid_operation);
  c.bytes[0] = 7;  // an order-engine operation
  EXPECT_EQ(wire::CheckFulfilmentStructure(c), Code::invalid_operation);
  EXPECT_EQ(wire::CodeName(Code::tracking_transition_invalid), "tracking_transition_invalid");
  EXPECT_EQ(wire::CodeHttpStatus(Code::shipment_backlogged), 202);
}

TEST(Fulfilment, WarehouseValidation) {
  Fulfilment f(SmallConfig());
  EXPECT_EQ(Do(f, WarehouseCommand(0, 1, 0, 0, 1, 1)), Code::invalid_id);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 0, 0, 0, 1, 1)), Code::invalid_region);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 1000, 0, 0, 1, 1)), Code::invalid_region);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 1, 20'001, 0, 1, 1)), Code::coordinates_invalid);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 0, 1)), Code::warehouse_capacity_invalid);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 5, 4)), Code::warehouse_capacity_invalid);
  wire::Command c = WarehouseCommand(1, 1, 0, 0, 1, 1);
  c.bytes[1] = 2;  // an undefined flag
  EXPECT_EQ(Do(f, c), Code::warehouse_flags_invalid);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 1, 1)), Code::ok);
  EXPECT_EQ(Do(f, WarehouseCommand(1, 2, 0, 0, 1, 1)), Code::warehouse_exists);
  for (uint64_t id = 2; id <= 8; id++) EXPECT_EQ(Do(f, WarehouseCommand(id, 1, 0, 0, 1, 1)), Code::ok);
  EXPECT_EQ(Do(f, WarehouseCommand(9, 1, 0, 0, 1, 1)), Code::warehouses_full);
}

TEST(Fulfilment, StockAddsAndBounds) {
  Fulfilment f(SmallConfig());
  ASSERT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 1, 1)), Code::ok);
  EXPECT_EQ(Do(f, StockCommand(2, 5, 1)), Code::warehouse_not_found);
  EXPECT_EQ(Do(f, StockCommand(1, 0, 1)), Code::invalid_id);
  EXPECT_EQ(Do(f, StockCommand(1, 5, 0)), Code::invalid_quantity);
  wire::Result r = f.Apply(StockCommand(1, 5, 7), kT0);
  EXPECT_EQ(r.code, Code::ok);
  EXPECT_EQ(r.amount_fen, 7);
  EXPECT_EQ(f.Apply(StockCommand(1, 5, 3), kT0).amount_fen, 10);
  EXPECT_EQ(Stock(f, 1, 5), 10u);
  EXPECT_EQ(Stock(f, 1, 6), 0u);
  EXPECT_EQ(Do(f, StockCommand(1, 5, wire::kStockMax)), Code::warehouse_stock_overflow);
  EXPECT_EQ(Stock(f, 1, 5), 10u);
}

TEST(Fulfilment, CourierValidation) {
  Fulfilment f(SmallConfig());
  auto express = CourierMode::kExpress;
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", static_cast<CourierMode>(4), 2, 10, 5, 1, 10)),
            Code::courier_mode_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", express, 0, 10, 5, 1, 10)), Code::courier_promise_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", express, 2, 0, 5, 1, 10)), Code::courier_capacity_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", express, 2, 10, 0, 1, 10)), Code::courier_cost_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "", express, 2, 10, 5, 1, 10)), Code::courier_name_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", express, 2, 10, 5, 0, 10)), Code::waybill_range_invalid);
  EXPECT_EQ(Do(f, CourierCommand(1, "ZTO", express, 2, 10, 5, 100, 10)), Code::ok);
  EXPECT_EQ(Do(f, CourierCommand(1, "YTO", express, 2, 10, 5, 200, 10)), Code::courier_exists);
  EXPECT_EQ(Do(f, CourierCommand(2, "YTO", express, 2, 10, 5, 109, 10)), Code::waybill_range_overlap);
  EXPECT_EQ(Do(f, CourierCommand(2, "YTO", express, 2, 10, 5, 91, 10)), Code::waybill_range_overlap);
  EXPECT_EQ(Do(f, CourierCommand(2, "YTO", express, 2, 10, 5, 110, 10)), Code::ok);
  EXPECT_EQ(Do(f, CoverageCommand(3, 0)), Code::courier_not_found);
  EXPECT_EQ(Do(f, CoverageCommand(1, 2)), Code::coverage_block_invalid);
  EXPECT_EQ(Do(f, CoverageCommand(1, 0, 0, 5)), Code::invalid_region);  // region 0
  EXPECT_EQ(Do(f, CoverageCommand(1, 0)), Code::ok);
}

TEST(Fulfilment, AllocatesFromTheNearestWarehouseWithEverything) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(2, 100, 10)), Code::ok);
  // Region 3 sits at (200, 0): warehouse 2.
  ASSERT_EQ(f.OnOrderPaid(Order(7, 3, {{100, 2}}), kT0), Code::ok);
  wire::ShipmentRecord s = Shipment(f, 7);
  EXPECT_EQ(s.state, wire::ShipmentState::kAllocated);
  ASSERT_EQ(s.parcel_count, 1);
  wire::ParcelRecord p = Parcel(f, s.waybill[0]);
  EXPECT_EQ(p.warehouse_id, 2u);
  EXPECT_EQ(p.courier_id, 10u);
  EXPECT_EQ(p.waybill, 1000u);
  EXPECT_EQ(p.sort_code, 33u);  // region 3, tier 3
  EXPECT_EQ(p.state, ParcelState::kAllocated);
  EXPECT_EQ(Stock(f, 2, 100), 8u);
  EXPECT_EQ(Stock(f, 1, 100), 10u);
  // Region 1 at (0, 0): warehouse 1; the next waybill of the range.
  ASSERT_EQ(f.OnOrderPaid(Order(8, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(Parcel(f, 1001).warehouse_id, 1u);
  EXPECT_EQ(f.OnOrderPaid(Order(8, 1, {{100, 1}}), kT0), Code::shipment_exists);
  // A moved region point changes the choice.
  ASSERT_EQ(Do(f, RegionPointCommand(3, 10, 0)), Code::ok);
  ASSERT_EQ(f.OnOrderPaid(Order(9, 3, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(Parcel(f, 1002).warehouse_id, 1u);
}

TEST(Fulfilment, OrderValidation) {
  Fulfilment f(SmallConfig());
  Basic(f);
  EXPECT_EQ(f.OnOrderPaid(Order(0, 1, {{1, 1}}), kT0), Code::invalid_id);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 0, {{1, 1}}), kT0), Code::invalid_region);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{1, 1}}, false, 6), kT0), Code::invalid_city_tier);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {}), kT0), Code::invalid_line_count);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{0, 1}}), kT0), Code::invalid_id);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{1, 0}}), kT0), Code::invalid_quantity);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{1, 10'001}}), kT0), Code::invalid_quantity);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{1, 1}, {1, 2}}), kT0), Code::duplicate_line);
  OrderToShip bad = Order(1, 1, {{1, 1}});
  bad.cross_border = 2;
  EXPECT_EQ(f.OnOrderPaid(bad, kT0), Code::cross_border_invalid);
  EXPECT_EQ(f.backlog_count(), 0u);
}

TEST(Fulfilment, SplitsOnlyWhenNoWarehouseHoldsEverything) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(2, 100, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(2, 101, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(1, 102, 10)), Code::ok);
  // Region 1 is nearer warehouse 1, but only warehouse 2 holds both lines: one parcel from 2.
  ASSERT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}, {101, 1}}), kT0), Code::ok);
  wire::ShipmentRecord s = Shipment(f, 1);
  ASSERT_EQ(s.parcel_count, 1);
  EXPECT_EQ(Parcel(f, s.waybill[0]).warehouse_id, 2u);
  // 101 only at 2 and 102 only at 1: two parcels; 100 rides with the first chosen (2 covers
  // two lines, 1 covers two lines; equal cover, so the nearer, warehouse 1, goes first).
  ASSERT_EQ(f.OnOrderPaid(Order(2, 1, {{100, 1}, {101, 1}, {102, 1}}), kT0), Code::ok);
  s = Shipment(f, 2);
  ASSERT_EQ(s.parcel_count, 2);
  wire::ParcelRecord p1 = Parcel(f, s.waybill[0]);
  wire::ParcelRecord p2 = Parcel(f, s.waybill[1]);
  EXPECT_EQ(p1.warehouse_id, 1u);
  EXPECT_EQ(p1.line_count, 2);
  EXPECT_EQ(p1.sku_id[0], 100u);
  EXPECT_EQ(p1.sku_id[1], 102u);
  EXPECT_EQ(p2.warehouse_id, 2u);
  EXPECT_EQ(p2.line_count, 1);
  EXPECT_EQ(p2.sku_id[0], 101u);
  EXPECT_EQ(p1.parcel_number, 1);
  EXPECT_EQ(p2.parcel_number, 2);
  EXPECT_EQ(p2.parcel_count, 2);
  EXPECT_EQ(f.QueryFigures().shipments_split, 1u);
}

TEST(Fulfilment, CrossBorderUsesBondedWarehousesAndLanes) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, WarehouseCommand(3, 31, 1000, 0, 10, 100, /*bonded=*/true)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(3, 100, 10)), Code::ok);
  // No lane yet: the order waits for a courier (coverage), not allocated domestically.
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}}, true), kT0), Code::shipment_backlogged);
  ASSERT_EQ(Do(f, CourierCommand(20, "CHARTER-AIR", CourierMode::kCharterAir, 5, 10, 3000, 5000, 100)),
            Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(20, 0)), Code::ok);
  f.Tick(kT0);
  EXPECT_EQ(f.backlog_count(), 0u);
  wire::ParcelRecord p = Parcel(f, 5000);
  EXPECT_EQ(p.warehouse_id, 3u);
  EXPECT_EQ(p.courier_id, 20u);
  // A domestic order never goes to the bonded warehouse or the lane.
  ASSERT_EQ(f.OnOrderPaid(Order(2, 31, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(Parcel(f, 1000).warehouse_id, 1u);
}

TEST(Fulfilment, CourierLoadSpreadsByScoreAndCapacity) {
  Fulfilment f(SmallConfig());
  ASSERT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 1000, 10000)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 1000)), Code::ok);
  // Scores (promise weight 100 fen/day): A = 300 + 200 = 500, B = 800 + 200 = 1000, equal
  // capacities: A takes 2 parcels for each of B's.
  ASSERT_EQ(Do(f, CourierCommand(1, "YTO", CourierMode::kExpress, 2, 100, 300, 1'000'000, 1000)), Code::ok);
  ASSERT_EQ(Do(f, CourierCommand(2, "SF", CourierMode::kExpress, 2, 100, 800, 2'000'000, 1000)), Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(1, 0)), Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(2, 0)), Code::ok);
  for (uint64_t o = 1; o <= 30; o++) ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::ok);
  wire::HourFigure a{}, b{};
  ASSERT_EQ(f.QueryCourierHour(1, kT0 / kHour, &a), Code::ok);
  ASSERT_EQ(f.QueryCourierHour(2, kT0 / kHour, &b), Code::ok);
  EXPECT_EQ(a.allocated, 20u);
  EXPECT_EQ(b.allocated, 10u);
  // Coverage limits the choice: B alone covers region 40.
  ASSERT_EQ(Do(f, CoverageCommand(1, 0, 1, 39)), Code::ok);
  ASSERT_EQ(f.OnOrderPaid(Order(31, 40, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(Parcel(f, Shipment(f, 31).waybill[0]).courier_id, 2u);
}

// The backlog is a ring of 16 here: after two drain from its head and six more join, its
// entries wrap around the ring's end, and each still reads its place in the queue.
TEST(Fulfilment, BacklogPositionsAcrossTheRingsEnd) {
  Fulfilment f(SmallConfig());
  Basic(f, /*hourly=*/1);  // two warehouses x 1 parcel an hour
  ASSERT_EQ(Do(f, StockCommand(1, 100, 100)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(2, 100, 100)), Code::ok);
  for (uint64_t o = 1; o <= 2; o++) ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::ok);
  for (uint64_t o = 3; o <= 14; o++) {
    ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::shipment_backlogged);
  }
  f.Tick(kT0 + kHour);  // two leave the head
  EXPECT_EQ(Shipment(f, 3).state, wire::ShipmentState::kAllocated);
  EXPECT_EQ(Shipment(f, 4).state, wire::ShipmentState::kAllocated);
  for (uint64_t o = 15; o <= 20; o++) {
    ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0 + kHour), Code::shipment_backlogged);
  }
  EXPECT_EQ(f.OnOrderPaid(Order(21, 1, {{100, 1}}), kT0 + kHour), Code::shipment_backlog_full);
  for (uint64_t o = 5; o <= 20; o++) {
    const wire::ShipmentRecord s = Shipment(f, o);
    EXPECT_EQ(s.state, wire::ShipmentState::kBacklogged) << o;
    EXPECT_EQ(s.backlog_position, o - 5) << o;
    EXPECT_EQ(s.region, 1u) << o;
  }
}

TEST(Fulfilment, CapacityBacklogDrainsInOrderWhenTheHourRolls) {
  Fulfilment f(SmallConfig());
  Basic(f, /*hourly=*/2);  // two warehouses x 2 parcels an hour
  ASSERT_EQ(Do(f, StockCommand(1, 100, 100)), Code::ok);
  for (uint64_t o = 1; o <= 2; o++) ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(3, 1, {{100, 1}}), kT0), Code::shipment_backlogged);
  ASSERT_EQ(Do(f, StockCommand(2, 100, 100)), Code::ok);
  // Warehouse 2 has stock and room now, but order 4 must not overtake order 3.
  EXPECT_EQ(f.OnOrderPaid(Order(4, 1, {{100, 1}}), kT0), Code::shipment_backlogged);
  EXPECT_EQ(Shipment(f, 4).backlog_position, 1u);
  f.Tick(kT0);
  EXPECT_EQ(Shipment(f, 3).state, wire::ShipmentState::kAllocated);
  EXPECT_EQ(Shipment(f, 4).state, wire::ShipmentState::kAllocated);
  EXPECT_EQ(Parcel(f, Shipment(f, 3).waybill[0]).warehouse_id, 2u);
  // Both warehouses are full this hour: queue again; the next hour drains.
  for (uint64_t o = 5; o <= 7; o++) {
    EXPECT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0 + 10), Code::shipment_backlogged);
  }
  f.Tick(kT0 + kHour - 1);
  EXPECT_EQ(f.backlog_count(), 3u);
  f.Tick(kT0 + kHour);
  EXPECT_EQ(f.backlog_count(), 0u);
  EXPECT_EQ(Parcel(f, Shipment(f, 7).waybill[0]).allocated_at_us, kT0 + kHour);
  EXPECT_EQ(Parcel(f, Shipment(f, 7).waybill[0]).warehouse_id, 2u);
  EXPECT_EQ(f.QueryFigures().backlog_count_high, 3u);
  wire::HourFigure h{};
  ASSERT_EQ(f.QueryWarehouseHour(1, kT0 / kHour, &h), Code::ok);
  EXPECT_EQ(h.allocated, 2u);
  ASSERT_EQ(f.QueryWarehouseHour(1, kT0 / kHour + 1, &h), Code::ok);
  EXPECT_EQ(h.allocated, 2u);
  EXPECT_EQ(f.QueryWarehouseHour(1, kT0 / kHour + 2, &h), Code::hour_not_retained);
}

TEST(Fulfilment, DailyCapacityHolds) {
  Fulfilment f(SmallConfig());
  ASSERT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 2, 3)), Code::ok);
  ASSERT_EQ(Do(f, CourierCommand(10, "STO", CourierMode::kExpress, 2, 100, 500, 1, 1000)), Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(10, 0)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 100)), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(2, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(3, 1, {{100, 1}}), kT0 + kHour), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(4, 1, {{100, 1}}), kT0 + 2 * kHour), Code::shipment_backlogged);
  f.Tick(kT0 + 23 * kHour);
  EXPECT_EQ(f.backlog_count(), 1u);
  f.Tick(kT0 + 24 * kHour);  // kT0 is Beijing midnight: a new day
  EXPECT_EQ(f.backlog_count(), 0u);
}

TEST(Fulfilment, StockBlockedOrderMovesAsideAndWaitsForRestock) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 100)), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{555, 1}}), kT0), Code::shipment_backlogged);
  EXPECT_EQ(f.OnOrderPaid(Order(2, 1, {{100, 1}}), kT0), Code::shipment_backlogged);
  f.Tick(kT0);
  EXPECT_EQ(Shipment(f, 2).state, wire::ShipmentState::kAllocated);
  EXPECT_EQ(Shipment(f, 1).state, wire::ShipmentState::kBacklogged);
  ASSERT_EQ(Do(f, StockCommand(2, 555, 1)), Code::ok);
  f.Tick(kT0);
  EXPECT_EQ(Shipment(f, 1).state, wire::ShipmentState::kAllocated);
  EXPECT_EQ(Stock(f, 2, 555), 0u);
}

TEST(Fulfilment, WaybillRangeRunsOut) {
  Fulfilment f(SmallConfig());
  ASSERT_EQ(Do(f, WarehouseCommand(1, 1, 0, 0, 100, 1000)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 100)), Code::ok);
  ASSERT_EQ(Do(f, CourierCommand(10, "EMS", CourierMode::kExpress, 3, 100, 500, 77, 2)), Code::ok);
  ASSERT_EQ(Do(f, CoverageCommand(10, 0)), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(2, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(3, 1, {{100, 1}}), kT0), Code::shipment_backlogged);
  EXPECT_EQ(Parcel(f, 77).order_id, 1u);
  EXPECT_EQ(Parcel(f, 78).order_id, 2u);
  wire::ParcelRecord p{};
  EXPECT_EQ(f.QueryParcel(79, &p), Code::parcel_not_found);
}

TEST(Fulfilment, TrackingJourneyTimelineAndDelivery) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  ASSERT_EQ(Do(f, StockCommand(2, 101, 10)), Code::ok);
  ASSERT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}, {101, 1}}), kT0), Code::ok);  // 2 parcels
  wire::ShipmentRecord s = Shipment(f, 1);
  ASSERT_EQ(s.parcel_count, 2);
  EXPECT_EQ(Do(f, TrackCommand(s.waybill[0], ParcelState::kPacked)), Code::tracking_transition_invalid);
  EXPECT_EQ(Do(f, TrackCommand(s.waybill[0], ParcelState::kAllocated)), Code::tracking_event_invalid);
  EXPECT_EQ(Do(f, TrackCommand(s.waybill[0], static_cast<ParcelState>(11))), Code::tracking_event_invalid);
  EXPECT_EQ(Do(f, TrackCommand(999'999, ParcelState::kPicked)), Code::parcel_not_found);
  const ParcelState journey[] = {ParcelState::kPicked,     ParcelState::kPacked,
                                 ParcelState::kHandedToCourier, ParcelState::kDepartedHub,
                                 ParcelState::kArrivedHub, ParcelState::kOutForDelivery,
                                 ParcelState::kDelivered};
  uint64_t t = kT0;
  for (ParcelState e : journey) {
    wire::Result r = f.Apply(TrackCommand(s.waybill[0], e, 571), t += 1000);
    ASSERT_EQ(r.code, Code::ok);
    EXPECT_EQ(static_cast<ParcelState>(r.state), e);
  }
  EXPECT_EQ(f.delivered_outbox_count(), 0u);  // the second parcel is still out
  EXPECT_EQ(Do(f, TrackCommand(s.waybill[0], ParcelState::kPicked), t), Code::tracking_transition_invalid);
  wire::TimelineEntry entries[wire::kTimelineEventCountMax];
  uint32_t count = 0;
  ASSERT_EQ(f.QueryTimeline(s.waybill[0], entries, &count), Code::ok);
  ASSERT_EQ(count, 8u);
  EXPECT_EQ(entries[0].state, ParcelState::kAllocated);
  EXPECT_EQ(entries[3].state, ParcelState::kHandedToCourier);
  EXPECT_EQ(entries[3].at_us, kT0 + 3000);
  EXPECT_EQ(entries[7].hub, 571u);
  EXPECT_EQ(Parcel(f, s.waybill[0]).handed_at_us, kT0 + 3000);
  // The second parcel: an exception, then returned. Now the order is complete.
  for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
                        ParcelState::kException, ParcelState::kReturned}) {
    ASSERT_EQ(Do(f, TrackCommand(s.waybill[1], e), t), Code::ok);
  }
  DeliveredOrder out[4];
  ASSERT_EQ(f.TakeDelivered(out), 1u);
  EXPECT_EQ(out[0].order_id, 1u);
  EXPECT_EQ(out[0].parcel_count, 2);
  EXPECT_EQ(out[0].delivered_count, 1);
  EXPECT_EQ(out[0].returned_count, 1);
  EXPECT_EQ(f.TakeDelivered(out), 0u);
  EXPECT_EQ(Shipment(f, 1).state, wire::ShipmentState::kCompleted);
  wire::FiguresRecord figures = f.QueryFigures();
  EXPECT_EQ(figures.parcels_dispatched, 2u);
  EXPECT_EQ(figures.parcels_delivered, 1u);
  EXPECT_EQ(figures.parcels_returned, 1u);
}

TEST(Fulfilment, TimelineIsBounded) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  ASSERT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}}), kT0), Code::ok);
  for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier}) {
    ASSERT_EQ(Do(f, TrackCommand(1000, e)), Code::ok);
  }
  // 4 events so far; hub hops until the timeline is full.
  uint32_t events = 4;
  while (events < wire::kTimelineEventCountMax) {
    ParcelState e = events % 2 == 0 ? ParcelState::kDepartedHub : ParcelState::kArrivedHub;
    ASSERT_EQ(Do(f, TrackCommand(1000, e)), Code::ok);
    events++;
  }
  EXPECT_EQ(Do(f, TrackCommand(1000, ParcelState::kDepartedHub)), Code::parcel_timeline_full);
  EXPECT_EQ(Parcel(f, 1000).event_count, wire::kTimelineEventCountMax);
}

TEST(Fulfilment, OutboxFullRefusesTheCompletingEvent) {
  FulfilmentConfig config = SmallConfig();
  config.delivered_outbox_count_max = 1;
  Fulfilment f(config);
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  for (uint64_t o = 1; o <= 2; o++) {
    ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::ok);
    for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
                          ParcelState::kDepartedHub, ParcelState::kArrivedHub,
                          ParcelState::kOutForDelivery}) {
      ASSERT_EQ(Do(f, TrackCommand(999 + o, e)), Code::ok);
    }
  }
  EXPECT_EQ(Do(f, TrackCommand(1000, ParcelState::kDelivered)), Code::ok);
  EXPECT_EQ(Do(f, TrackCommand(1001, ParcelState::kDelivered)), Code::delivery_outbox_full);
  EXPECT_EQ(Parcel(f, 1001).state, ParcelState::kOutForDelivery);
  DeliveredOrder out[1];
  ASSERT_EQ(f.TakeDelivered(out), 1u);
  EXPECT_EQ(Do(f, TrackCommand(1001, ParcelState::kDelivered)), Code::ok);
}

TEST(Fulfilment, CompletedShipmentsAreEvictedOnlyForRoom) {
  FulfilmentConfig config = SmallConfig();
  config.parcel_count_max = 2;
  config.shipment_count_max = 2;
  Fulfilment f(config);
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  auto deliver = [&](uint64_t waybill) {
    for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
                          ParcelState::kDepartedHub, ParcelState::kArrivedHub,
                          ParcelState::kOutForDelivery, ParcelState::kDelivered}) {
      ASSERT_EQ(Do(f, TrackCommand(waybill, e)), Code::ok);
    }
  };
  ASSERT_EQ(f.OnOrderPaid(Order(1, 1, {{100, 1}}), kT0), Code::ok);
  ASSERT_EQ(f.OnOrderPaid(Order(2, 1, {{100, 1}}), kT0), Code::ok);
  EXPECT_EQ(f.OnOrderPaid(Order(3, 1, {{100, 1}}), kT0), Code::shipments_full);
  deliver(1000);
  EXPECT_EQ(Parcel(f, 1000).state, ParcelState::kDelivered);  // still queryable
  ASSERT_EQ(f.OnOrderPaid(Order(3, 1, {{100, 1}}), kT0), Code::ok);
  wire::ParcelRecord p{};
  EXPECT_EQ(f.QueryParcel(1000, &p), Code::parcel_evicted);
  wire::ShipmentRecord s{};
  EXPECT_EQ(f.QueryShipment(1, &s), Code::shipment_not_found);
  EXPECT_EQ(f.QueryFigures().parcels_evicted, 1u);
  EXPECT_EQ(Do(f, TrackCommand(1000, ParcelState::kDelivered)), Code::parcel_evicted);
}

TEST(Fulfilment, MilestonesRecordWhenTheNthParcelLeft) {
  FulfilmentConfig config = SmallConfig();
  config.milestone_count = 2;
  config.milestone_parcels[0] = 1;
  config.milestone_parcels[1] = 3;
  Fulfilment f(config);
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  for (uint64_t o = 1; o <= 3; o++) ASSERT_EQ(f.OnOrderPaid(Order(o, 1, {{100, 1}}), kT0), Code::ok);
  for (uint64_t o = 1; o <= 3; o++) {
    uint64_t waybill = 999 + o;
    ASSERT_EQ(Do(f, TrackCommand(waybill, ParcelState::kPicked), kT0 + o * 100 - 1), Code::ok);
    ASSERT_EQ(Do(f, TrackCommand(waybill, ParcelState::kPacked), kT0 + o * 100 - 1), Code::ok);
    ASSERT_EQ(Do(f, TrackCommand(waybill, ParcelState::kHandedToCourier), kT0 + o * 100), Code::ok);
  }
  wire::FiguresRecord figures = f.QueryFigures();
  EXPECT_EQ(figures.milestone_at_us[0], kT0 + 100);
  EXPECT_EQ(figures.milestone_at_us[1], kT0 + 300);
  wire::HourFigure h{};
  ASSERT_EQ(f.QueryCourierHour(10, kT0 / kHour, &h), Code::ok);
  EXPECT_EQ(h.dispatched, 3u);
  EXPECT_EQ(h.allocated, 3u);
}

TEST(Fulfilment, ShipOrderCommandMatchesOnOrderPaid) {
  Fulfilment f(SmallConfig());
  Basic(f);
  ASSERT_EQ(Do(f, StockCommand(1, 100, 10)), Code::ok);
  wire::ShipOrder r{};
  r.operation = wire::kShipOrder;
  r.line_count = 1;
  r.city_tier = 4;
  r.region = 1;
  r.order_id = 42;
  r.sku_id[0] = 100;
  r.quantity[0] = 2;
  wire::Result result = f.Apply(wire::ToCommand(r), kT0);
  EXPECT_EQ(result.code, Code::ok);
  EXPECT_EQ(result.id, 42u);
  EXPECT_EQ(result.amount_fen, 1);
  EXPECT_EQ(Parcel(f, 1000).sort_code, 14u);
}

}  // namespace
}  // namespace eleven::engine
