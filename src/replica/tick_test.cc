// Replica::Tick: an entry with no commands, stamped with the log time, does the time-driven
// work due by then (an unpaid order expires, its stock returns), becomes durable like any
// entry, and a recovery replaying it reaches the same state; the follower applies it too.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "replica/replica.h"
#include "storage/journal.h"
#include "storage/test_util.h"
#include "wire/make.h"

namespace eleven::replica {
namespace {

constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kPayWindowUs = 30 * kSecond;

ReplicaOptions TickOptions() {
  ReplicaOptions o;
  o.engine.merchant_count_max = 8;
  o.engine.sku_count_max = 64;
  o.engine.drop_count_max = 4;
  o.engine.order_slot_count = 1 << 10;
  o.engine.holding_count_max = 64;
  o.engine.batch_command_count_max = 64;
  o.engine.pay_window_us = kPayWindowUs;
  o.staging_size_bytes = 1 << 20;
  return o;
}

TEST(ReplicaTick, ATickIsADurableEntryThatRecoveryReplays) {
  testing::TempDir temp;
  const std::string dir = temp.File("data");
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(TickOptions())).ok());
  Digest128 digest{};
  uint64_t tick_op = 0;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, TickOptions(), &r, &report).ok());
    std::vector<wire::Command> batch{wire::MakeCreateMerchant(1, "CN", 0),
                                     wire::MakeCreateSku(1, 1, 100, 10, 0),
                                     wire::MakePlaceOrder(7, 1, 2, 11, 3, {{1, 4}})};
    std::vector<wire::Result> results(batch.size());
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(batch, kSecond, results, &op).ok());
    ASSERT_EQ(results[2].code, wire::Code::ok);
    const uint64_t order_id = results[2].id;
    ASSERT_EQ(r->engine().NextDueUs(), kSecond + kPayWindowUs);
    ASSERT_TRUE(r->Tick(kSecond + kPayWindowUs, &tick_op).ok());
    EXPECT_EQ(tick_op, op + 1);
    ASSERT_TRUE(r->WaitDurable(tick_op).ok());
    wire::OrderRecord order{};
    ASSERT_EQ(r->engine().GetOrder(order_id, &order), wire::Code::ok);
    EXPECT_EQ(order.state, wire::OrderState::kExpired);
    wire::SkuRecord sku{};
    ASSERT_EQ(r->engine().GetSku(1, &sku), wire::Code::ok);
    EXPECT_EQ(sku.available, 10u);
    EXPECT_EQ(r->engine().NextDueUs(), engine::Engine::kNeverDue);
    // A tick is refused nothing but time: one earlier than the last entry is stamped with it.
    uint64_t late_op = 0;
    ASSERT_TRUE(r->Tick(kSecond, &late_op).ok());
    EXPECT_EQ(r->engine().last_timestamp_us(), kSecond + kPayWindowUs);
    ASSERT_TRUE(r->WaitDurable(late_op).ok());
    digest = r->engine().Digest();
  }
  // The journal holds the ticks as entries with no commands.
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::Open(Env::Default(), dir, tick_op, &reader).ok());
  JournalEntry entry;
  bool done = false;
  ASSERT_TRUE(reader->Next(&entry, &done).ok());
  ASSERT_FALSE(done);
  EXPECT_EQ(entry.op, tick_op);
  EXPECT_EQ(entry.command_count, 0u);
  EXPECT_EQ(entry.timestamp_us, kSecond + kPayWindowUs);
  reader.reset();
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, TickOptions(), &r, &report).ok());
  EXPECT_EQ(report.entries_replayed, 3u);
  EXPECT_EQ(r->engine().last_op(), tick_op + 1);
  EXPECT_EQ(r->engine().Digest(), digest);
}

TEST(ReplicaTick, TheFollowerAppliesTicksAndSnapshotsTheirState) {
  testing::TempDir temp;
  const std::string dir = temp.File("data");
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(TickOptions())).ok());
  ReplicaOptions options = TickOptions();
  options.snapshot_mode = ReplicaOptions::SnapshotMode::kFollower;
  options.follower_interval_ms = 5;
  Digest128 digest{};
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, options, &r, &report).ok());
    std::vector<wire::Command> batch{wire::MakeCreateMerchant(1, "CN", 0),
                                     wire::MakeCreateSku(1, 1, 100, 10, 0),
                                     wire::MakePlaceOrder(7, 1, 2, 11, 3, {{1, 4}})};
    std::vector<wire::Result> results(batch.size());
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(batch, kSecond, results, &op).ok());
    ASSERT_TRUE(r->Tick(kSecond + kPayWindowUs, &op).ok());
    ASSERT_TRUE(r->StartSnapshot().ok());
    bool snapshot_done = false;
    SnapshotReport snap;
    ASSERT_TRUE(r->PollSnapshot(/*wait=*/true, &snapshot_done, &snap).ok());
    ASSERT_TRUE(snapshot_done);
    EXPECT_EQ(snap.op, op);
    digest = r->engine().Digest();
  }
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, options, &r, &report).ok());
  EXPECT_TRUE(report.snapshot_found);
  EXPECT_EQ(report.entries_replayed, 0u);
  EXPECT_EQ(r->engine().Digest(), digest);
}

}  // namespace
}  // namespace eleven::replica
