// Engine::NextDueUs: the earliest log time at which a batch, even an empty one, changes the
// state or what a query shows — a drop opening or closing, an unpaid order's deadline — so a
// server that writes an empty entry then (a tick) makes the change visible without a write.
#include <gtest/gtest.h>

#include <vector>

#include "engine/engine.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::OrderState;

constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kPayWindowUs = 60 * kSecond;

EngineConfig DueConfig() {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 8;
  config.drop_count_max = 4;
  config.order_slot_count = 16;
  config.holding_count_max = 8;
  config.pay_window_us = kPayWindowUs;
  config.batch_command_count_max = 16;
  return config;
}

class DueTest : public ::testing::Test {
 protected:
  DueTest() : engine_(DueConfig()) {}

  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  void Tick(uint64_t now_us) { Run(now_us, {}); }
  void Catalog() {
    for (const auto& r : Run(kSecond, {wire::MakeCreateMerchant(1, "CN", 0),
                                       wire::MakeCreateSku(10, 1, 500, 100, 0)})) {
      ASSERT_EQ(r.code, Code::ok);
    }
  }
  wire::Result Place(uint64_t now_us, uint64_t key) {
    return Run(now_us, {wire::MakePlaceOrder(key, 1, 100 + key, 11, 3, {{10, 1}})})[0];
  }
  OrderState State(uint64_t order_id) {
    wire::OrderRecord o{};
    EXPECT_EQ(engine_.GetOrder(order_id, &o), Code::ok);
    return o.state;
  }
  uint32_t Available() {
    wire::SkuRecord s{};
    EXPECT_EQ(engine_.GetSku(10, &s), Code::ok);
    return s.available;
  }

  Engine engine_;
};

TEST_F(DueTest, NothingIsDueWithoutDeadlines) {
  EXPECT_EQ(engine_.NextDueUs(), Engine::kNeverDue);
  Catalog();
  EXPECT_EQ(engine_.NextDueUs(), Engine::kNeverDue);
}

TEST_F(DueTest, AnUnpaidOrderIsDueAtItsDeadlineAndAnEmptyBatchExpiresIt) {
  Catalog();
  const wire::Result placed = Place(2 * kSecond, 1);
  ASSERT_EQ(placed.code, Code::ok);
  EXPECT_EQ(Available(), 99u);
  const uint64_t deadline = 2 * kSecond + kPayWindowUs;
  EXPECT_EQ(engine_.NextDueUs(), deadline);
  Tick(deadline - 1);
  EXPECT_EQ(State(placed.id), OrderState::kPending);
  EXPECT_EQ(engine_.NextDueUs(), deadline);
  Tick(deadline);
  EXPECT_EQ(State(placed.id), OrderState::kExpired);
  EXPECT_EQ(Available(), 100u);
  EXPECT_EQ(engine_.NextDueUs(), Engine::kNeverDue);
}

TEST_F(DueTest, PaidOrdersBeforeAPendingOneAreNotDue) {
  Catalog();
  const wire::Result first = Place(2 * kSecond, 1);
  const wire::Result second = Place(3 * kSecond, 2);
  ASSERT_EQ(Run(3 * kSecond, {wire::MakePayOrder(first.id, first.amount_fen)})[0].code, Code::ok);
  EXPECT_EQ(engine_.NextDueUs(), 3 * kSecond + kPayWindowUs);
  ASSERT_EQ(Run(4 * kSecond, {wire::MakeCancelOrder(second.id)})[0].code, Code::ok);
  EXPECT_EQ(engine_.NextDueUs(), Engine::kNeverDue)
      << "a final order's deadline would only move the expiry cursor";
}

TEST_F(DueTest, ADropIsDueWhenItOpensAndWhenItCloses) {
  Catalog();
  const uint64_t opens = 10 * kSecond;
  const uint64_t closes = 20 * kSecond;
  ASSERT_EQ(Run(2 * kSecond, {wire::MakeCreateDrop(5, 10, 400, 30, opens, closes, 0)})[0].code,
            Code::ok);
  wire::DropRecord d{};
  ASSERT_EQ(engine_.GetDrop(5, &d), Code::ok);
  EXPECT_EQ(d.state, wire::DropState::kScheduled);
  EXPECT_EQ(engine_.NextDueUs(), opens);
  Tick(opens);
  ASSERT_EQ(engine_.GetDrop(5, &d), Code::ok);
  EXPECT_EQ(d.state, wire::DropState::kOpen);
  EXPECT_EQ(engine_.NextDueUs(), closes);
  Tick(closes);
  ASSERT_EQ(engine_.GetDrop(5, &d), Code::ok);
  EXPECT_EQ(d.state, wire::DropState::kClosed);
  EXPECT_EQ(Available(), 100u) << "the unsold quota went back to the SKU";
  EXPECT_EQ(engine_.NextDueUs(), Engine::kNeverDue);
}

// Ticks at the due times do every deadline's work, one deadline each: the drop's opening and
// closing and each unpaid order's expiry, never one for a paid order's deadline.
TEST_F(DueTest, EveryTickAtTheDueTimeMakesProgress) {
  Catalog();
  uint64_t now = 2 * kSecond;
  for (uint64_t key = 1; key <= 12; key++) {
    const wire::Result r = Place(now, key);
    ASSERT_EQ(r.code, Code::ok);
    if (key % 3 == 0) {
      ASSERT_EQ(Run(now, {wire::MakePayOrder(r.id, r.amount_fen)})[0].code, Code::ok);
    }
    now += kSecond / 2;
  }
  ASSERT_EQ(
      Run(now, {wire::MakeCreateDrop(6, 10, 400, 5, now + kSecond, now + 2 * kSecond, 0)})[0].code,
      Code::ok);
  int ticks = 0;
  while (engine_.NextDueUs() != Engine::kNeverDue) {
    ASSERT_LT(ticks, 64) << "ticks without end";
    const uint64_t due = engine_.NextDueUs();
    ASSERT_GT(due, engine_.last_timestamp_us());
    Tick(due);
    ticks++;
  }
  EXPECT_EQ(ticks, 2 + 8);
  EXPECT_EQ(Available(), 100u - 4u) << "the 8 unpaid orders expired, the 4 paid ones stay sold";
}

}  // namespace
}  // namespace eleven::engine
