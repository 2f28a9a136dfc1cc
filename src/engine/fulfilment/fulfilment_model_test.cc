// Randomised model-based test of Fulfilment: random orders, restocks, coverage changes,
// tracking events and time steps, with the invariants checked against a reference model
// after every batch. Prints its seed; ELEVEN_SEED=<n> replays, ELEVEN_LONG=1 runs longer.
// Also the determinism test: the same inputs give byte-identical results and equal digests.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_test_util.h"

namespace eleven::engine {
namespace {

using namespace testing;
using wire::Code;
using wire::ParcelState;
using S = ParcelState;

constexpr uint64_t kT0 = 1'573'401'600'000'000;
constexpr uint64_t kHour = fulfilment::kHourUs;
constexpr uint32_t kWarehouses = 6;  // the last one bonded
constexpr uint32_t kCouriers = 4;    // the last one a charter-air lane
constexpr uint64_t kSkus = 24;
constexpr uint16_t kRegions = 40;

// The tracking transitions as (from, event) pairs, written independently of the engine's
// table (docs/fulfilment.md, "Tracking").
const std::set<std::pair<S, S>> kReference = {
    {S::kAllocated, S::kPicked},         {S::kPicked, S::kPacked},
    {S::kPacked, S::kHandedToCourier},   {S::kHandedToCourier, S::kDepartedHub},
    {S::kArrivedHub, S::kDepartedHub},   {S::kException, S::kDepartedHub},
    {S::kDepartedHub, S::kArrivedHub},   {S::kException, S::kArrivedHub},
    {S::kArrivedHub, S::kOutForDelivery}, {S::kException, S::kOutForDelivery},
    {S::kOutForDelivery, S::kDelivered}, {S::kHandedToCourier, S::kException},
    {S::kDepartedHub, S::kException},    {S::kArrivedHub, S::kException},
    {S::kOutForDelivery, S::kException}, {S::kException, S::kReturned},
};

struct ModelParcel {
  uint64_t order_id;
  uint32_t warehouse;  // 1-based id
  uint32_t courier;
  ParcelState state;
  uint32_t events;
};

struct ModelOrder {
  OrderToShip order;
  bool allocated = false;
  std::vector<uint64_t> waybills;
  uint32_t terminal = 0;
  bool reported = false;
  bool cancelled = false;  // cancelled before it shipped (docs/returns.md)
};

class Scenario {
 public:
  Scenario(uint64_t seed, bool check) : rng_(seed), check_(check), f_(Config()) { Setup(); }

  static FulfilmentConfig Config() {
    FulfilmentConfig c;
    c.warehouse_count_max = 8;
    c.courier_count_max = 4;
    c.stock_entry_count_max = 256;
    c.sku_count_max = 64;
    c.parcel_count_max = 1 << 15;
    c.shipment_count_max = 1 << 14;
    c.backlog_count_max = 64;
    c.delivered_outbox_count_max = 4;
    c.hour_bucket_count = 6;
    c.drain_per_tick_max = 16;
    return c;
  }

  uint32_t Below(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_); }

  void Record(const void* data, size_t size) { results_.Update(data, size); }

  void ApplyChecked(const wire::Command& c) {
    wire::Result r = f_.Apply(c, now_);
    Record(&r, sizeof(r));
    EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
  }

  void Setup() {
    for (uint32_t w = 1; w <= kWarehouses; w++) {
      uint32_t hourly = 2 + Below(6);
      hourly_[w] = hourly;
      daily_[w] = hourly * (4 + Below(20));
      ApplyChecked(WarehouseCommand(w, static_cast<uint16_t>(1 + Below(kRegions)),
                                    static_cast<int32_t>(Below(800)), static_cast<int32_t>(Below(200)),
                                    hourly, daily_[w], w == kWarehouses));
    }
    for (uint32_t c = 1; c <= kCouriers; c++) {
      auto mode = c == kCouriers ? wire::CourierMode::kCharterAir : wire::CourierMode::kExpress;
      courier_hourly_[c] = 3 + Below(8);
      ApplyChecked(CourierCommand(c, "C", mode, static_cast<uint8_t>(1 + Below(5)),
                                  courier_hourly_[c], 100 + Below(900), c * 1'000'000,
                                  200 + Below(2000)));
      ApplyChecked(CoverageCommand(c, 0, 1 + Below(10), kRegions - Below(10)));
    }
    for (uint32_t i = 0; i < 60; i++) Restock();
  }

  void Restock() {
    uint32_t w = 1 + Below(kWarehouses);
    uint64_t sku = 1 + Below(kSkus);
    uint32_t units = 1 + Below(20);
    wire::Result r = f_.Apply(StockCommand(w, sku, units), now_);
    Record(&r, sizeof(r));
    EXPECT_EQ(r.code, Code::ok);
    stock_[{w, sku}] += units;
  }

  void PayOrder() {
    OrderToShip o{};
    // Now and then a repeat of an earlier order id: it must be refused.
    bool repeat = !orders_.empty() && Below(50) == 0;
    o.order_id = repeat ? 1 + Below(static_cast<uint32_t>(orders_.size())) : orders_.size() + 1;
    o.merchant_id = 1;
    o.region = static_cast<uint16_t>(1 + Below(kRegions));
    o.city_tier = static_cast<uint8_t>(1 + Below(5));
    o.cross_border = Below(8) == 0 ? 1 : 0;
    uint32_t lines = 1 + Below(4);
    std::set<uint64_t> used;
    for (uint32_t l = 0; l < lines; l++) {
      uint64_t sku = 1 + Below(kSkus);
      if (!used.insert(sku).second) continue;
      o.lines[o.line_count].sku_id = sku;
      o.lines[o.line_count].quantity = 1 + Below(3);
      o.line_count++;
    }
    Code code = f_.OnOrderPaid(o, now_);
    Record(&code, sizeof(code));
    if (repeat) {
      paid_codes_[code]++;
      EXPECT_EQ(code, Code::shipment_exists);
      return;
    }
    paid_codes_[code]++;
    if (code == Code::shipment_backlog_full) return;  // back-pressure: never accepted
    ASSERT_TRUE(code == Code::ok || code == Code::shipment_backlogged) << wire::CodeName(code);
    orders_.push_back(ModelOrder{o});
  }

  void TrackRandom() {
    if (parcels_.empty()) return;
    auto it = parcels_.begin();
    std::advance(it, Below(static_cast<uint32_t>(std::min<size_t>(parcels_.size(), 64))));
    // Mostly the next plausible step, sometimes any event (including invalid ones).
    auto event = static_cast<ParcelState>(1 + Below(11));
    if (Below(3) != 0) event = Plausible(it->second.state);
    uint64_t waybill = it->first;
    wire::Result r = f_.Apply(TrackCommand(waybill, event, Below(5)), now_);
    Record(&r, sizeof(r));
    ModelParcel& p = it->second;
    uint8_t e = static_cast<uint8_t>(event);
    Code expect = Code::ok;
    ModelOrder& order = orders_[p.order_id - 1];
    bool terminal = event == S::kDelivered || event == S::kReturned;
    if (e < 2 || e > 10) expect = Code::tracking_event_invalid;
    else if (kReference.count({p.state, event}) == 0) expect = Code::tracking_transition_invalid;
    else if (p.events == wire::kTimelineEventCountMax) expect = Code::parcel_timeline_full;
    else if (terminal && order.terminal + 1 == order.waybills.size() && outbox_ == 4) {
      expect = Code::delivery_outbox_full;
    }
    ASSERT_EQ(r.code, expect) << "state " << int(p.state) << " event " << int(e);
    track_codes_[expect]++;
    if (expect != Code::ok) return;
    p.state = event;
    p.events++;
    if (terminal && ++order.terminal == order.waybills.size()) outbox_++;
    // Terminal parcels leave the pick list, so live ones get the events.
    if (terminal) done_.insert(parcels_.extract(it));
  }

  S Plausible(S s) {
    switch (s) {
      case S::kAllocated: return S::kPicked;
      case S::kPicked: return S::kPacked;
      case S::kPacked: return S::kHandedToCourier;
      case S::kHandedToCourier: return Below(8) == 0 ? S::kException : S::kDepartedHub;
      case S::kDepartedHub: return S::kArrivedHub;
      case S::kArrivedHub: return Below(2) == 0 ? S::kDepartedHub : S::kOutForDelivery;
      case S::kOutForDelivery: return Below(6) == 0 ? S::kException : S::kDelivered;
      case S::kException: return Below(2) == 0 ? S::kReturned : S::kOutForDelivery;
      default: return S::kPicked;
    }
  }

  // A paid order cancelled: allowed while backlogged or while every parcel is still in the
  // warehouse; the units come back to the warehouses (docs/returns.md).
  void CancelRandom() {
    if (orders_.empty()) return;
    ModelOrder& o = orders_[Below(static_cast<uint32_t>(orders_.size()))];
    const uint64_t id = o.order.order_id;
    wire::ShipmentRecord s{};
    Code expect = Code::ok;
    if (o.cancelled) {
      expect = Code::shipment_dispatched;  // completed
    } else {
      ASSERT_EQ(f_.QueryShipment(id, &s), Code::ok);
      if (s.state != wire::ShipmentState::kBacklogged && !o.allocated) Discover(o, s);
      for (uint64_t waybill : o.waybills) {
        auto it = parcels_.find(waybill);
        const bool in_warehouse = it != parcels_.end() && (it->second.state == S::kAllocated ||
                                                           it->second.state == S::kPicked ||
                                                           it->second.state == S::kPacked);
        if (!in_warehouse) expect = Code::shipment_dispatched;
      }
    }
    const Code code = f_.CancelShipment(id, now_);
    Record(&code, sizeof(code));
    ASSERT_EQ(code, expect) << "order " << id;
    track_codes_[Code(code)]++;
    if (code != Code::ok) return;
    o.cancelled = true;
    cancelled_orders_++;
    cancels_ok_ += 1;
    for (uint64_t waybill : o.waybills) {
      wire::ParcelRecord r{};
      ASSERT_EQ(f_.QueryParcel(waybill, &r), Code::ok);
      for (uint32_t l = 0; l < r.line_count; l++) stock_[{uint32_t(r.warehouse_id), r.sku_id[l]}] += r.quantity[l];
      ModelParcel p = parcels_.at(waybill);
      parcels_.erase(waybill);
      p.state = S::kCancelled;
      p.events++;
      cancelled_[waybill] = p;
    }
  }

  void TakeDelivered() {
    DeliveredOrder out[2];
    uint32_t n = f_.TakeDelivered(out);
    Record(out, sizeof(DeliveredOrder) * n);
    for (uint32_t i = 0; i < n; i++) {
      ModelOrder& o = orders_[out[i].order_id - 1];
      EXPECT_FALSE(o.reported);
      EXPECT_FALSE(o.cancelled);
      EXPECT_EQ(o.terminal, o.waybills.size());
      EXPECT_EQ(out[i].parcel_count, o.waybills.size());
      o.reported = true;
      outbox_--;
    }
  }

  void Step() {
    uint32_t r = Below(100);
    if (r < 35) PayOrder();
    else if (r < 75) TrackRandom();
    else if (r < 83) Restock();
    else if (r < 86) TakeDelivered();
    else if (r < 88) CancelRandom();
    else if (r < 90) {
      uint32_t c = 1 + Below(kCouriers);
      wire::Result res = f_.Apply(CoverageCommand(c, 0, 1 + Below(10), kRegions - Below(10)), now_);
      Record(&res, sizeof(res));
    } else {
      now_ += uint64_t{Below(40)} * 60'000'000;  // up to 39 minutes
    }
  }

  void Batch() {
    uint32_t steps = 5 + Below(30);
    for (uint32_t i = 0; i < steps && !::testing::Test::HasFatalFailure(); i++) Step();
    f_.Tick(now_);
    if (check_) CheckInvariants();
  }

  // Picks up parcels allocated since the last check, then checks everything.
  void CheckInvariants() {
    uint32_t backlogged = 0;
    for (ModelOrder& o : orders_) {
      wire::ShipmentRecord s{};
      ASSERT_EQ(f_.QueryShipment(o.order.order_id, &s), Code::ok);
      if (o.cancelled) {
        ASSERT_EQ(s.state, wire::ShipmentState::kCompleted);
        if (!o.allocated) {  // left the backlog with no parcel
          ASSERT_EQ(s.parcel_count, 0);
          continue;
        }
      }
      // Allocated or backlogged: never both, never neither.
      ASSERT_TRUE(s.state == wire::ShipmentState::kBacklogged ||
                  s.state == wire::ShipmentState::kAllocated ||
                  s.state == wire::ShipmentState::kCompleted);
      if (s.state == wire::ShipmentState::kBacklogged) {
        ASSERT_FALSE(o.allocated);
        backlogged++;
        continue;
      }
      if (!o.allocated) Discover(o, s);
      ASSERT_EQ(s.parcel_count, o.waybills.size());
      for (uint32_t i = 0; i < s.parcel_count; i++) ASSERT_EQ(s.waybill[i], o.waybills[i]);
    }
    ASSERT_EQ(backlogged, f_.backlog_count());
    for (auto& [hour_key, count] : warehouse_hour_) ASSERT_LE(count, hourly_[hour_key.first]);
    for (auto& [day_key, count] : warehouse_day_) ASSERT_LE(count, daily_[day_key.first]);
    for (auto& [hour_key, count] : courier_hour_) ASSERT_LE(count, courier_hourly_[hour_key.first]);
    for (auto& [key, units] : stock_) {
      ASSERT_GE(units, 0);
      uint32_t actual = 0;
      ASSERT_EQ(f_.QueryStock(key.first, key.second, &actual), Code::ok);
      ASSERT_EQ(int64_t{actual}, units) << "warehouse " << key.first << " sku " << key.second;
    }
    for (const auto* parcels : {&parcels_, &cancelled_}) {
      for (auto& [waybill, p] : *parcels) {
        wire::ParcelRecord r{};
        ASSERT_EQ(f_.QueryParcel(waybill, &r), Code::ok);
        ASSERT_EQ(r.state, p.state);
        ASSERT_EQ(r.event_count, p.events);
      }
    }
    ASSERT_EQ(f_.QueryFigures().shipments_cancelled, cancelled_orders_);
  }

  void Discover(ModelOrder& o, const wire::ShipmentRecord& s) {
    o.allocated = true;
    ASSERT_GE(s.parcel_count, 1);
    std::set<uint64_t> lines;
    for (uint32_t i = 0; i < s.parcel_count; i++) {
      uint64_t waybill = s.waybill[i];
      wire::ParcelRecord r{};
      ASSERT_EQ(f_.QueryParcel(waybill, &r), Code::ok);
      ASSERT_EQ(r.order_id, o.order.order_id);
      ASSERT_TRUE(all_waybills_.insert(waybill).second) << "waybill issued twice " << waybill;
      ASSERT_TRUE(waybill >= r.courier_id * 1'000'000 && waybill < r.courier_id * 1'000'000 + 2200);
      bool bonded = r.warehouse_id == kWarehouses;
      bool lane = r.courier_id == kCouriers;
      ASSERT_EQ(bonded, o.order.cross_border == 1);
      ASSERT_EQ(lane, o.order.cross_border == 1);
      uint64_t hour = r.allocated_at_us / kHour;
      uint64_t day = (r.allocated_at_us + 8 * kHour) / (24 * kHour);
      warehouse_hour_[{uint32_t(r.warehouse_id), hour}]++;
      warehouse_day_[{uint32_t(r.warehouse_id), day}]++;
      courier_hour_[{uint32_t(r.courier_id), hour}]++;
      for (uint32_t l = 0; l < r.line_count; l++) {
        ASSERT_TRUE(lines.insert(r.sku_id[l]).second);
        stock_[{uint32_t(r.warehouse_id), r.sku_id[l]}] -= r.quantity[l];
      }
      o.waybills.push_back(waybill);
      parcels_[waybill] = ModelParcel{o.order.order_id, uint32_t(r.warehouse_id),
                                      uint32_t(r.courier_id), S::kAllocated, 1};
    }
    ASSERT_EQ(lines.size(), o.order.line_count);  // each line in exactly one parcel
  }

  Digest128 Finish() {
    Digester d;
    f_.Digest(d);
    Digest128 state = d.Finish();
    results_.UpdateValue(state);
    return results_.Finish();
  }

  uint64_t orders() const { return orders_.size(); }
  uint64_t allocated() const { return all_waybills_.size(); }

 private:
  std::mt19937_64 rng_;
  bool check_;
  Fulfilment f_;
  uint64_t now_ = kT0;
  Digester results_;
  std::map<uint32_t, uint32_t> hourly_, daily_, courier_hourly_;
  std::map<std::pair<uint32_t, uint64_t>, int64_t> stock_;
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> warehouse_hour_, warehouse_day_, courier_hour_;
  std::vector<ModelOrder> orders_;
  std::map<uint64_t, ModelParcel> parcels_;  // not yet terminal
  std::map<uint64_t, ModelParcel> done_;
  std::map<uint64_t, ModelParcel> cancelled_;
  uint64_t cancelled_orders_ = 0;
  std::set<uint64_t> all_waybills_;
  uint32_t outbox_ = 0;

 public:
  std::map<Code, uint64_t> track_codes_, paid_codes_;
  uint64_t cancels_ok_ = 0;
};

uint64_t SeedFromEnv() {
  const char* env = std::getenv("ELEVEN_SEED");
  uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("fulfilment model test seed=%llu (replay with ELEVEN_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

bool Long() {
  const char* env = std::getenv("ELEVEN_LONG");
  return env != nullptr && env[0] == '1';
}

TEST(FulfilmentModel, InvariantsHoldAfterEveryBatch) {
  uint64_t seed = SeedFromEnv();
  uint32_t runs = Long() ? 400 : 24;
  uint64_t total_orders = 0, total_parcels = 0, cancels = 0;
  std::map<Code, uint64_t> codes;
  for (uint32_t run = 0; run < runs; run++) {
    Scenario scenario(seed + run, /*check=*/true);
    for (uint32_t b = 0; b < 300 && !HasFatalFailure(); b++) scenario.Batch();
    ASSERT_FALSE(HasFatalFailure()) << "seed " << seed << " run " << run;
    total_orders += scenario.orders();
    total_parcels += scenario.allocated();
    cancels += scenario.cancels_ok_;
    for (auto [code, n] : scenario.track_codes_) codes[code] += n;
    for (auto [code, n] : scenario.paid_codes_) codes[code] += n;
  }
  for (auto [code, n] : codes) {
    std::printf("  %s: %llu\n", std::string(wire::CodeName(code)).c_str(),
                static_cast<unsigned long long>(n));
  }
  // The run must have reached every path it checks, or it proves little.
  for (Code code : {Code::ok, Code::shipment_backlogged, Code::shipment_exists,
                    Code::tracking_event_invalid, Code::tracking_transition_invalid,
                    Code::parcel_timeline_full, Code::delivery_outbox_full,
                    Code::shipment_dispatched}) {
    EXPECT_GT(codes[code], 0u) << wire::CodeName(code);
  }
  std::printf("%u runs: %llu orders, %llu parcels allocated\n", runs,
              static_cast<unsigned long long>(total_orders),
              static_cast<unsigned long long>(total_parcels));
  EXPECT_GT(total_parcels, 0u);
  EXPECT_GT(cancels, 0u);  // cancellations before shipping were reached
}

TEST(FulfilmentModel, SameInputsGiveIdenticalResultsAndDigests) {
  uint64_t seed = SeedFromEnv();
  Scenario a(seed, /*check=*/false);
  Scenario b(seed, /*check=*/false);
  Scenario c(seed + 1, /*check=*/false);
  for (uint32_t i = 0; i < 200; i++) {
    a.Batch();
    b.Batch();
    c.Batch();
  }
  Digest128 da = a.Finish();
  EXPECT_EQ(da, b.Finish());
  EXPECT_FALSE(da == c.Finish());
}

}  // namespace
}  // namespace eleven::engine
