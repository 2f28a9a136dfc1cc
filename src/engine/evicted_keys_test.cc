// The filter of the keys the order ring evicted (docs/archive.md, "Idempotency for the whole
// day"): a retry of an evicted order's key is answered archive_check and changes nothing; the
// same command marked archive-checked by the server places a new order; the filter is state
// (snapshots, digests); with no filter an evicted key is forgotten, as before.
#include <gtest/gtest.h>

#include <vector>

#include "engine/engine.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
constexpr uint64_t kSecond = 1'000'000;
constexpr uint32_t kRing = 8;

EngineConfig FilterConfig(uint64_t evicted_key_count_max) {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 16;
  config.drop_count_max = 4;
  config.order_slot_count = kRing;
  config.holding_count_max = 16;
  config.pay_window_us = 60 * kSecond;
  config.coupon_count_max = 4;
  config.coupon_claim_count_max = 4;
  config.coupon_order_count_max = 4;
  config.presale_count_max = 4;
  config.deposit_count_max = 4;
  config.evicted_key_count_max = evicted_key_count_max;
  return config;
}

class EvictedKeysTest : public ::testing::Test {
 protected:
  explicit EvictedKeysTest(uint64_t capacity = 4096) : config_(FilterConfig(capacity)), engine_(config_) {
    for (const auto& r : Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 1'000'000, 0)})) {
      EXPECT_EQ(r.code, Code::ok);
    }
  }
  std::vector<wire::Result> Run(std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_++, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  static wire::Command Order(uint64_t key, uint16_t quantity = 1) {
    return wire::MakePlaceOrder(key, 1, 7, 11, 2, {{10, quantity}}, 0);
  }
  // Places and pays orders under keys [first, first + count): paid orders are final, so the
  // ring reuses their slots.
  void PlacePaid(uint64_t first, uint64_t count) {
    for (uint64_t key = first; key < first + count; key++) {
      const wire::Result placed = Run({Order(key)})[0];
      ASSERT_EQ(placed.code, Code::ok);
      ASSERT_EQ(Run({wire::MakePayOrder(placed.id, placed.amount_fen)})[0].code, Code::ok);
    }
  }

  std::vector<std::byte> State() const {
    Engine::SnapshotParts parts;
    engine_.SnapshotChunks(&parts);
    std::vector<std::byte> state;
    for (ByteSpan c : parts.chunks) state.insert(state.end(), c.begin(), c.end());
    return state;
  }

  EngineConfig config_;
  Engine engine_;
  uint64_t now_ = kSecond;
};

TEST_F(EvictedKeysTest, AnEvictedKeyIsCheckedAgainstTheArchiveAndChangesNothing) {
  PlacePaid(1001, kRing);
  // Still in the ring: a replay.
  wire::Result replay = Run({Order(1001)})[0];
  EXPECT_EQ(replay.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(replay));
  PlacePaid(2001, kRing);  // the ring wraps: keys 1001..1008 leave it
  const uint64_t next_id = engine_.next_order_id();
  // A twin at the same state applies an empty entry where the engine applies the retry:
  // their digests must agree (the entry moved the op and the time on, nothing else).
  Engine twin(config_);
  ASSERT_TRUE(twin.Restore(State()).ok());
  const uint64_t at_us = now_;
  const wire::Result check = Run({Order(1001)})[0];
  EXPECT_EQ(check.code, Code::archive_check);
  EXPECT_EQ(check.id, 0u);
  EXPECT_EQ(engine_.next_order_id(), next_id);
  std::vector<wire::Result> none;
  ASSERT_EQ(twin.Apply(twin.last_op() + 1, at_us, {}, none), BatchError::kNone);
  EXPECT_EQ(twin.Digest(), engine_.Digest());
  wire::OrderRecord record{};
  EXPECT_EQ(engine_.GetOrderByKey(1001, &record), Code::order_not_found);

  // The server found no order under the key in the archive: the marked command places one.
  wire::Command marked = Order(1001);
  wire::MarkArchiveChecked(marked);
  const wire::Result placed = Run({marked})[0];
  EXPECT_EQ(placed.code, Code::ok);
  EXPECT_FALSE(wire::IsReplay(placed));
  EXPECT_EQ(placed.id, next_id);
  // Now in the ring again: a plain retry is a replay, not a check.
  replay = Run({Order(1001)})[0];
  EXPECT_EQ(replay.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(replay));
  EXPECT_EQ(replay.id, next_id);
}

// New keys pass the filter (these keys are no false positives of it; the rate is the filter's
// own test's), and the mark means nothing for a key the ring holds.
TEST_F(EvictedKeysTest, NewKeysAreOrdersAndTheMarkDoesNotBypassTheRing) {
  PlacePaid(1001, 2 * kRing);
  for (uint64_t key = 5001; key < 5001 + 64; key++) {
    const wire::Result r = Run({Order(key)})[0];
    EXPECT_EQ(r.code, Code::ok) << key;
    EXPECT_FALSE(wire::IsReplay(r));
    ASSERT_EQ(Run({wire::MakePayOrder(r.id, r.amount_fen)})[0].code, Code::ok);
  }
  wire::Command marked = Order(5001 + 63);
  wire::MarkArchiveChecked(marked);
  const wire::Result r = Run({marked})[0];
  EXPECT_EQ(r.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(r));
  // The mark is not the issuer: the command is still the local operator's.
  EXPECT_EQ(wire::IssuerOf(marked), 0u);
}

TEST_F(EvictedKeysTest, TheFilterIsInTheSnapshot) {
  PlacePaid(1001, 2 * kRing);
  const std::vector<std::byte> state = State();
  Engine restored(config_);
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  std::vector<wire::Result> results(1);
  const std::vector<wire::Command> retry = {Order(1001)};
  ASSERT_EQ(restored.Apply(restored.last_op() + 1, now_, retry, results), BatchError::kNone);
  EXPECT_EQ(results[0].code, Code::archive_check);
  // A snapshot restores only into an engine with the same filter capacity.
  Engine other(FilterConfig(8192));
  EXPECT_EQ(other.Restore(state).code(), StatusCode::kInvalidArgument);
}

class NoFilterTest : public EvictedKeysTest {
 protected:
  NoFilterTest() : EvictedKeysTest(0) {}
};

TEST_F(NoFilterTest, AnEvictedKeyIsForgotten) {
  PlacePaid(1001, 2 * kRing);
  const wire::Result r = Run({Order(1001)})[0];
  EXPECT_EQ(r.code, Code::ok);
  EXPECT_FALSE(wire::IsReplay(r));
}

}  // namespace
}  // namespace eleven::engine
