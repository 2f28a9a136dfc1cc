// Snapshots of Fulfilment (snapshot.cc): a randomised run (warehouses, couriers, stock, paid
// orders allocated, split and backlogged, tracking up to delivered and returned, evictions,
// an outbox left undrained, hour and day rollovers) is snapshotted at several points and
// restored into fresh modules; from then on the original and every restored copy get the
// same calls and must give byte-identical results, answer queries alike (the maps are not
// in the digest) and end with equal digests. Then the refusals: another configuration,
// truncated, bad magic or version, trailing garbage, tables that contradict their maps.
//
// Prints its seed; ELEVEN_SEED=<n> replays the run.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_state.h"
#include "engine/fulfilment/fulfilment_test_util.h"

namespace eleven::engine {
namespace {

using namespace testing;
using wire::Code;
using S = wire::ParcelState;

constexpr uint64_t kT0 = 1'573'401'600'000'000;  // 2019-11-11 00:00 Beijing
constexpr uint64_t kMinute = 60'000'000;
constexpr uint32_t kWarehouses = 6;  // the last one bonded
constexpr uint32_t kCouriers = 4;    // the last one a charter-air lane
constexpr uint32_t kSkus = 20;
constexpr uint32_t kRegions = 30;

FulfilmentConfig SnapshotConfig() {
  FulfilmentConfig c;
  c.warehouse_count_max = 8;
  c.courier_count_max = 4;
  c.stock_entry_count_max = 256;
  c.sku_count_max = 64;
  c.parcel_count_max = 160;  // small: completed shipments get evicted to make room
  c.shipment_count_max = 96;
  c.backlog_count_max = 24;
  c.delivered_outbox_count_max = 4;
  c.hour_bucket_count = 6;
  c.drain_per_tick_max = 5;  // small: backlog work carries over between Ticks
  c.milestone_count = 3;
  c.milestone_parcels[0] = 1;
  c.milestone_parcels[1] = 50;
  c.milestone_parcels[2] = 400;
  return c;
}

Digest128 DigestOf(const Fulfilment& f) {
  Digester d;
  f.Digest(d);
  return d.Finish();
}

std::vector<std::byte> Snapshot(const Fulfilment& f) {
  std::vector<std::byte> head;
  std::vector<ByteSpan> chunks;
  f.SnapshotChunks(&head, &chunks);
  EXPECT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].data(), head.data());  // the head comes first
  std::vector<std::byte> state;
  for (ByteSpan chunk : chunks) state.insert(state.end(), chunk.begin(), chunk.end());
  return state;
}

uint64_t SeedFromEnv() {
  const char* env = std::getenv("ELEVEN_SEED");
  uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("fulfilment snapshot test: seed %llu (replay: ELEVEN_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

// Drives the original module (modules_[0]) and its restored copies with the same calls,
// choosing each call from what the original shows (its waybills and parcel states).
class Driver {
 public:
  explicit Driver(uint64_t seed) : rng_(seed) {
    modules_.push_back(std::make_unique<Fulfilment>(SnapshotConfig()));
  }

  uint64_t Below(uint64_t n) { return rng_() % n; }

  void Apply(const wire::Command& command) {
    wire::Result first{};
    for (size_t i = 0; i < modules_.size(); i++) {
      wire::Result r = modules_[i]->Apply(command, now_);
      if (i == 0) first = r;
      ASSERT_EQ(0, std::memcmp(&first, &r, sizeof r)) << "copy " << i << ": " << wire::CodeName(r.code);
    }
    ok_ += first.code == Code::ok;
  }

  void Setup() {
    for (uint32_t w = 1; w <= kWarehouses; w++) {
      uint32_t hourly = 2 + uint32_t(Below(5));
      Apply(WarehouseCommand(w, uint16_t(1 + Below(kRegions)), int32_t(Below(900)),
                             int32_t(Below(300)), hourly, hourly * (3 + uint32_t(Below(10))),
                             w == kWarehouses));
    }
    for (uint32_t c = 1; c <= kCouriers; c++) {
      auto mode = c == kCouriers ? wire::CourierMode::kCharterAir : wire::CourierMode::kExpress;
      Apply(CourierCommand(c, "SF", mode, uint8_t(1 + Below(4)), 3 + uint32_t(Below(6)),
                           100 + int64_t(Below(900)), c * 1'000'000, 100'000));
      Apply(CoverageCommand(c, 0, 1, kRegions));
    }
    for (uint16_t r = 1; r <= 5; r++) Apply(RegionPointCommand(r, int32_t(Below(900)), int32_t(Below(300))));
    for (int i = 0; i < 40; i++) Restock();
  }

  void Restock() {
    Apply(StockCommand(1 + Below(kWarehouses), 1 + Below(kSkus), 1 + uint32_t(Below(30))));
  }

  void PayOrder() {
    OrderToShip o{};
    o.order_id = ++order_count_;
    o.merchant_id = 1 + Below(3);
    o.region = uint16_t(1 + Below(kRegions));
    o.city_tier = uint8_t(1 + Below(5));
    o.cross_border = Below(10) == 0 ? 1 : 0;
    uint32_t lines = 1 + uint32_t(Below(4));
    for (uint32_t l = 0; l < lines; l++) {
      uint64_t sku = 1 + Below(kSkus);
      bool repeat = false;
      for (uint32_t k = 0; k < o.line_count; k++) repeat = repeat || o.lines[k].sku_id == sku;
      if (repeat) continue;
      o.lines[o.line_count++] = ShipLine{sku, 1 + uint32_t(Below(3)), 0};
    }
    Code first = Code::ok;
    for (size_t i = 0; i < modules_.size(); i++) {
      Code code = modules_[i]->OnOrderPaid(o, now_);
      if (i == 0) first = code;
      ASSERT_EQ(code, first) << "copy " << i;
    }
    backlogged_ += first == Code::shipment_backlogged;
    if (first == Code::ok || first == Code::shipment_backlogged) accepted_.push_back(o.order_id);
  }

  S Plausible(S s) {
    switch (s) {
      case S::kAllocated: return S::kPicked;
      case S::kPicked: return S::kPacked;
      case S::kPacked: return S::kHandedToCourier;
      case S::kHandedToCourier: return Below(8) == 0 ? S::kException : S::kDepartedHub;
      case S::kDepartedHub: return S::kArrivedHub;
      case S::kArrivedHub: return Below(3) == 0 ? S::kDepartedHub : S::kOutForDelivery;
      case S::kOutForDelivery: return Below(8) == 0 ? S::kException : S::kDelivered;
      case S::kException: return Below(2) == 0 ? S::kReturned : S::kOutForDelivery;
      default: return S::kPicked;
    }
  }

  // A tracking event for a parcel of a recent order: mostly the next plausible step.
  void Track() {
    if (accepted_.empty()) return;
    uint64_t order_id = accepted_[accepted_.size() - 1 - Below(std::min<size_t>(accepted_.size(), 40))];
    wire::ShipmentRecord s{};
    if (modules_[0]->QueryShipment(order_id, &s) != Code::ok || s.parcel_count == 0) return;
    uint64_t waybill = s.waybill[Below(s.parcel_count)];
    wire::ParcelRecord p{};
    if (modules_[0]->QueryParcel(waybill, &p) != Code::ok) return;
    S event = Below(10) == 0 ? S(1 + Below(10)) : Plausible(p.state);
    Apply(TrackCommand(waybill, event, uint32_t(Below(100))));
  }

  void TakeDelivered() {
    DeliveredOrder first[3] = {};
    uint32_t first_count = 0;
    for (size_t i = 0; i < modules_.size(); i++) {
      DeliveredOrder out[3] = {};
      uint32_t n = modules_[i]->TakeDelivered(out);
      if (i == 0) {
        first_count = n;
        std::memcpy(first, out, sizeof out);
      }
      ASSERT_EQ(n, first_count);
      ASSERT_EQ(0, std::memcmp(first, out, sizeof out)) << "copy " << i;
    }
    delivered_ += first_count;
  }

  void Tick() {
    for (auto& m : modules_) m->Tick(now_);
  }

  // Every copy answers queries about a few orders and the figures alike.
  void CompareQueries() {
    for (int k = 0; k < 4 && order_count_ > 0; k++) {
      uint64_t order_id = 1 + Below(order_count_);
      wire::ShipmentRecord first{};
      Code first_code = modules_[0]->QueryShipment(order_id, &first);
      for (size_t i = 1; i < modules_.size(); i++) {
        wire::ShipmentRecord s{};
        ASSERT_EQ(modules_[i]->QueryShipment(order_id, &s), first_code);
        ASSERT_EQ(0, std::memcmp(&first, &s, sizeof s)) << "order " << order_id << " copy " << i;
      }
    }
    wire::FiguresRecord figures = modules_[0]->QueryFigures();
    for (size_t i = 1; i < modules_.size(); i++) {
      wire::FiguresRecord other = modules_[i]->QueryFigures();
      ASSERT_EQ(0, std::memcmp(&figures, &other, sizeof figures));
    }
  }

  void Step() {
    uint64_t r = Below(100);
    if (r < 12) PayOrder();
    else if (r < 72) Track();
    else if (r < 82) Restock();
    else if (r < 85) TakeDelivered();  // rarely: the outbox is often full, often not drained
    else if (r < 87) Apply(CoverageCommand(1 + Below(kCouriers), 0, 1 + Below(5), kRegions - Below(5)));
    else if (r < 97) now_ += Below(40) * kMinute;
    else now_ += Below(30) * 60 * kMinute;  // hours: buckets and days roll over
    if (Below(4) == 0) Tick();
  }

  // Restores a snapshot of the original into a fresh module that joins the run.
  void SnapshotAndJoin() {
    const Digest128 before = DigestOf(*modules_[0]);
    std::vector<std::byte> state = Snapshot(*modules_[0]);
    ASSERT_EQ(state, Snapshot(*modules_[0]));  // taking a snapshot changes nothing
    ASSERT_EQ(before, DigestOf(*modules_[0]));
    auto restored = std::make_unique<Fulfilment>(SnapshotConfig());
    Status s = restored->Restore(state);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(before, DigestOf(*restored));
    ASSERT_EQ(state, Snapshot(*restored));
    modules_.push_back(std::move(restored));
  }

  std::vector<std::unique_ptr<Fulfilment>> modules_;
  std::mt19937_64 rng_;
  uint64_t now_ = kT0;
  uint64_t order_count_ = 0;
  std::vector<uint64_t> accepted_;  // orders allocated or backlogged, in payment order
  uint64_t ok_ = 0, backlogged_ = 0, delivered_ = 0;
};

TEST(FulfilmentSnapshot, RestoredCopiesBehaveLikeTheOriginal) {
  const uint64_t seed = SeedFromEnv();
  Driver d(seed);
  ASSERT_NO_FATAL_FAILURE(d.SnapshotAndJoin());  // the empty state
  ASSERT_NO_FATAL_FAILURE(d.Setup());
  constexpr int kSteps = 3000;
  const int snapshot_at[] = {0, 200 + int(d.Below(600)), 1000 + int(d.Below(1000)), 2800};
  size_t next_snapshot = 0;
  for (int step = 0; step < kSteps; step++) {
    if (next_snapshot < std::size(snapshot_at) && step == snapshot_at[next_snapshot]) {
      next_snapshot++;
      ASSERT_NO_FATAL_FAILURE(d.SnapshotAndJoin()) << "step " << step << ", seed " << seed;
    }
    ASSERT_NO_FATAL_FAILURE(d.Step()) << "step " << step << ", seed " << seed;
    if (step % 50 == 0) {
      ASSERT_NO_FATAL_FAILURE(d.CompareQueries()) << "seed " << seed;
    }
  }
  // A quiet day of hourly Ticks: the backlog drains the same way everywhere.
  for (int h = 0; h < 24; h++) {
    d.now_ += 60 * kMinute;
    d.Tick();
  }
  ASSERT_NO_FATAL_FAILURE(d.TakeDelivered());
  ASSERT_NO_FATAL_FAILURE(d.CompareQueries());
  const Digest128 expected = DigestOf(*d.modules_[0]);
  for (size_t i = 1; i < d.modules_.size(); i++) EXPECT_EQ(expected, DigestOf(*d.modules_[i])) << i;
  // The run reached what it claims to test.
  wire::FiguresRecord figures = d.modules_[0]->QueryFigures();
  std::printf("%llu orders (%llu backlogged on arrival), %llu parcels allocated, %llu delivered, "
              "%llu returned, %llu evicted; %llu delivered orders taken\n",
              (unsigned long long)d.order_count_, (unsigned long long)d.backlogged_,
              (unsigned long long)figures.parcels_allocated, (unsigned long long)figures.parcels_delivered,
              (unsigned long long)figures.parcels_returned, (unsigned long long)figures.parcels_evicted,
              (unsigned long long)d.delivered_);
  EXPECT_GT(d.backlogged_, 0u);
  EXPECT_GT(figures.parcels_delivered, 0u);
  EXPECT_GT(figures.parcels_evicted, 0u);
  EXPECT_GT(figures.shipments_split, 0u);
  EXPECT_GT(d.delivered_, 0u);
}

class FulfilmentSnapshotRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    Driver d(42);
    d.Setup();
    for (int step = 0; step < 800; step++) d.Step();
    std::vector<std::byte> head;
    std::vector<ByteSpan> chunks;
    d.modules_[0]->SnapshotChunks(&head, &chunks);
    head_size_ = head.size();
    state_ = Snapshot(*d.modules_[0]);
  }
  Status RestoreInto(const FulfilmentConfig& config, const std::vector<std::byte>& state) {
    Fulfilment fresh(config);
    return fresh.Restore(state);  // discarded whatever the outcome
  }
  std::vector<std::byte> state_;
  size_t head_size_ = 0;
};

TEST_F(FulfilmentSnapshotRefusal, DifferentConfigurationIsInvalidArgument) {
  FulfilmentConfig config = SnapshotConfig();
  config.parcel_count_max++;
  Status s = RestoreInto(config, state_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("parcel_count_max"), std::string::npos) << s.message();
  config = SnapshotConfig();
  config.milestone_parcels[2]++;
  s = RestoreInto(config, state_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("milestone_parcels"), std::string::npos) << s.message();
  config = SnapshotConfig();
  config.day_offset_us = 0;
  EXPECT_EQ(RestoreInto(config, state_).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(RestoreInto(SnapshotConfig(), state_).ok());
}

TEST_F(FulfilmentSnapshotRefusal, DamagedBytesAreCorruption) {
  std::vector<std::byte> truncated(state_.begin(), state_.end() - 1);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), truncated).code(), StatusCode::kCorruption);
  std::vector<std::byte> short_head(state_.begin(), state_.begin() + 16);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), short_head).code(), StatusCode::kCorruption);
  std::vector<std::byte> longer = state_;
  longer.push_back(std::byte{0});
  EXPECT_EQ(RestoreInto(SnapshotConfig(), longer).code(), StatusCode::kCorruption);
  std::vector<std::byte> bad_magic = state_;
  bad_magic[3] ^= std::byte{0x80};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), bad_magic).code(), StatusCode::kCorruption);
  std::vector<std::byte> bad_version = state_;
  bad_version[4] ^= std::byte{2};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), bad_version).code(), StatusCode::kCorruption);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), {}).code(), StatusCode::kCorruption);
  // A snapshot of version 1 (before parcels kept their order lines) is refused.
  std::vector<std::byte> version_1 = state_;
  const uint32_t one = 1;
  std::memcpy(&version_1[4], &one, sizeof one);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), version_1).code(), StatusCode::kCorruption);
}

// Tables that contradict their maps or links, found by the checks after loading.
TEST_F(FulfilmentSnapshotRefusal, InconsistentTablesAreCorruption) {
  // The first warehouse record follows the head; its first field is the id.
  const size_t warehouse_at = head_size_;
  std::vector<std::byte> renamed = state_;
  renamed[warehouse_at] ^= std::byte{0x10};  // warehouse 1 becomes 17: its map disagrees
  EXPECT_EQ(RestoreInto(SnapshotConfig(), renamed).code(), StatusCode::kCorruption);
  // Time moved by an hour without the derived hour index: the head contradicts itself.
  std::vector<std::byte> later = state_;
  uint64_t now_us = 0;
  constexpr size_t kNowAt = 136;  // FulfilmentStateHead::now_us
  std::memcpy(&now_us, &later[kNowAt], sizeof now_us);
  ASSERT_GE(now_us, kT0);  // the offset above is right
  now_us += fulfilment::kHourUs;
  std::memcpy(&later[kNowAt], &now_us, sizeof now_us);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), later).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace eleven::engine
