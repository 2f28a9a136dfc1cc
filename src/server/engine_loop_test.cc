// The engine loop's release rule: a request comes out of PopDone only once the op it saw is
// durable, in the order it went in; after a journal failure every request (waiting or later,
// write or read) comes out at once as replica_failed, and nothing later is applied.
#include "server/engine_loop.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "replica/replica.h"
#include "storage/fault_env.h"
#include "storage/snapshot.h"
#include "storage/test_util.h"
#include "wire/make.h"

namespace eleven::server {
namespace {

constexpr uint64_t kSecond = 1'000'000;

replica::ReplicaOptions SmallOptions() {
  replica::ReplicaOptions o;
  o.engine.merchant_count_max = 8;
  o.engine.sku_count_max = 64;
  o.engine.drop_count_max = 4;
  o.engine.order_slot_count = 1 << 12;
  o.engine.holding_count_max = 64;
  o.engine.batch_command_count_max = 256;
  o.staging_size_bytes = 1 << 20;
  return o;
}

// A submit request of one place order with key `key` (SKU 1 of merchant 1).
std::unique_ptr<Request> OrderRequest(uint64_t key) {
  auto r = std::make_unique<Request>();
  r->kind = RequestKind::kSubmit;
  r->count = 1;
  r->buffer.resize(protocol::kHeaderSize + wire::kCommandSize);
  const wire::Command order = wire::MakePlaceOrder(key, 1, 1 + key, 11, 3, {{1, 1}});
  std::memcpy(r->body(), &order, sizeof(order));
  return r;
}

struct Fixture {
  explicit Fixture(Env* env, const replica::ReplicaOptions& options = SmallOptions())
      : dir(temp.File("data")) {  // Format creates it
    EXPECT_TRUE(replica::FormatDataDir(env, dir, replica::ShapeOf(options)).ok());
    replica::RecoveryReport report;
    EXPECT_TRUE(replica::Replica::Open(env, dir, options, &replica, &report).ok());
    // The catalog, durable before the loop starts.
    std::vector<wire::Command> catalog{wire::MakeCreateMerchant(1, "CN", 0),
                                       wire::MakeCreateSku(1, 1, 100, 1000000, 0)};
    std::vector<wire::Result> results(catalog.size());
    uint64_t op = 0;
    EXPECT_TRUE(replica->Submit(catalog, kSecond, results, &op).ok());
    EXPECT_TRUE(replica->WaitDurable(op).ok());
    loop = std::make_unique<EngineLoop>(replica.get(), 1024, &metrics);
    EXPECT_TRUE(loop->Start().ok());
  }
  ~Fixture() {
    loop.reset();
    replica.reset();
  }
  // Waits (up to 10 s) for done_fd to be readable, then resets it.
  bool WaitDone() {
    pollfd pfd{loop->done_fd(), POLLIN, 0};
    if (poll(&pfd, 1, 10'000) != 1) return false;
    uint64_t value = 0;
    return read(loop->done_fd(), &value, sizeof(value)) == sizeof(value);
  }

  testing::TempDir temp;
  std::string dir;
  std::unique_ptr<replica::Replica> replica;
  EngineMetrics metrics;
  std::unique_ptr<EngineLoop> loop;
};

TEST(EngineLoop, RepliesLeaveDurableAndInOrder) {
  Fixture f(Env::Default());
  constexpr int kCount = 500;
  std::vector<std::unique_ptr<Request>> requests;
  for (int i = 0; i < kCount; i++) {
    requests.push_back(OrderRequest(1000 + i));
    f.loop->Push(requests.back().get());
  }
  int released = 0;
  while (released < kCount) {
    ASSERT_TRUE(f.WaitDone()) << "no wake-up after " << released << " replies";
    Request* done = nullptr;
    while (f.loop->PopDone(&done)) {
      ASSERT_EQ(done, requests[released].get()) << "out of order at " << released;
      EXPECT_EQ(done->status, protocol::FrameStatus::kOk);
      EXPECT_GE(done->op, 2u);  // after the catalog's op
      EXPECT_LE(done->op, f.replica->op_durable()) << "released before its op was durable";
      wire::Result result;
      std::memcpy(&result, done->body(), sizeof(result));
      EXPECT_EQ(result.code, wire::Code::ok);
      released++;
    }
  }
  Request* extra = nullptr;
  EXPECT_FALSE(f.loop->PopDone(&extra));
}

TEST(EngineLoop, AfterAFailedJournalWriteEveryRequestIsAnsweredFailedAtOnce) {
  FaultEnv env(Env::Default(), 1);
  Fixture f(&env);
  env.Arm(FaultKind::kNoSpace, FaultTrigger{1, 0, "journal"});
  auto request = OrderRequest(7);
  f.loop->Push(request.get());
  // The loop applies the order and hands it to the sync thread, whose write fails: the
  // request comes out failed without a Stop(), woken by the failure itself.
  Request* done = nullptr;
  ASSERT_TRUE(f.WaitDone()) << "the failure woke nobody";
  while (!f.loop->PopDone(&done)) ASSERT_TRUE(f.WaitDone()) << "the waiting write never came out";
  EXPECT_EQ(done, request.get());
  EXPECT_EQ(done->status, protocol::FrameStatus::kReplicaFailed);
  EXPECT_TRUE(f.loop->journal_failed());
  EXPECT_EQ(f.loop->journal_failure().code(), StatusCode::kNoSpace);
  EXPECT_EQ(f.metrics.op_submitted.Get(), 2u) << "the order was applied";
  // A later write is refused without being applied; a later read too, since the state holds
  // the order that never became durable.
  auto later = OrderRequest(8);
  auto query = std::make_unique<Request>();
  query->kind = RequestKind::kPing;
  query->count = 0;
  query->buffer.resize(protocol::kHeaderSize);
  f.loop->Push(later.get());
  f.loop->Push(query.get());
  std::vector<Request*> out;
  while (out.size() < 2) {
    ASSERT_TRUE(f.WaitDone()) << "a later request was not answered";
    while (f.loop->PopDone(&done)) out.push_back(done);
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], later.get());
  EXPECT_EQ(out[1], query.get());
  for (Request* r : out) EXPECT_EQ(r->status, protocol::FrameStatus::kReplicaFailed);
  EXPECT_EQ(f.metrics.op_submitted.Get(), 2u) << "a write was applied after the failure";
  EXPECT_EQ(f.replica->op_submitted(), 2u);
  f.loop->Stop();
  EXPECT_FALSE(f.loop->PopDone(&done));
}

// Waits (up to 20 s) until `done` holds; whether it did.
bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The journal replayed at start-up counts toward snapshot_journal_bytes: a server restarted
// with at least that much to replay snapshots at once, without a new write, so a server that
// crashes faster than it snapshots does not replay more at every restart.
TEST(EngineLoop, ReplayedJournalCountsTowardTheSnapshotTrigger) {
  testing::TempDir temp;
  const std::string dir = temp.File("data");
  ASSERT_TRUE(replica::FormatDataDir(Env::Default(), dir, replica::ShapeOf(SmallOptions())).ok());
  std::unique_ptr<replica::Replica> replica;
  replica::RecoveryReport report;
  ASSERT_TRUE(replica::Replica::Open(Env::Default(), dir, SmallOptions(), &replica, &report).ok());
  std::vector<wire::Command> batch{wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(1, 1, 100, 1000000, 0)};
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  ASSERT_TRUE(replica->Submit(batch, kSecond, results, &op).ok());
  for (uint64_t b = 0; b < 40; b++) {
    batch.clear();
    for (uint64_t i = 0; i < 20; i++) batch.push_back(wire::MakePlaceOrder(100 * b + i + 1, 1, 7, 11, 3, {{1, 1}}));
    ASSERT_TRUE(replica->Submit(batch, kSecond * (2 + b), results, &op).ok());
  }
  ASSERT_TRUE(replica->WaitDurable(op).ok());
  replica.reset();

  ASSERT_TRUE(replica::Replica::Open(Env::Default(), dir, SmallOptions(), &replica, &report).ok());
  EXPECT_EQ(report.entries_replayed, 41u);
  ASSERT_GT(report.bytes_replayed, 0u);
  EXPECT_EQ(replica->journal_bytes_replayed(), report.bytes_replayed);
  EngineMetrics metrics;
  {
    // A client clock: on the wall clock the orders' pay-by times (1970) are long past, and a
    // tick expiring them would come before the snapshot.
    EngineLoop loop(replica.get(), 1024, &metrics, protocol::ClockMode::kClient, report.bytes_replayed);
    ASSERT_TRUE(loop.Start().ok());
    EXPECT_TRUE(WaitUntil([&] { return metrics.snapshots.Get() == 1; }))
        << "no snapshot after replaying " << report.bytes_replayed << " bytes";
    EXPECT_EQ(metrics.snapshot_op.Get(), op);
  }
  std::vector<SnapshotFile> snapshots;
  ASSERT_TRUE(ListSnapshots(Env::Default(), dir, &snapshots).ok());
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].op, op);
  replica.reset();
}

// /metrics shows how far the snapshot follower is behind the durable journal.
TEST(EngineLoop, TheFollowersLagIsShown) {
  replica::ReplicaOptions options = SmallOptions();
  options.snapshot_mode = replica::ReplicaOptions::SnapshotMode::kFollower;
  options.follower_interval_ms = 0;  // it catches up only when a snapshot is asked for
  Fixture f(Env::Default(), options);
  std::vector<std::unique_ptr<Request>> requests;
  for (uint64_t i = 0; i < 5; i++) {
    requests.push_back(OrderRequest(100 + i));
    f.loop->Push(requests.back().get());
  }
  size_t released = 0;
  while (released < requests.size()) {
    ASSERT_TRUE(f.WaitDone());
    Request* done = nullptr;
    while (f.loop->PopDone(&done)) released++;
  }
  EXPECT_EQ(f.replica->op_followed(), 0u);  // its copy was made at Open, before the catalog
  EXPECT_TRUE(WaitUntil([&] { return f.metrics.snapshot_follower_lag_ops.Get() == f.replica->op_durable(); }))
      << f.metrics.snapshot_follower_lag_ops.Get() << " ops behind, op_durable " << f.replica->op_durable();
  EXPECT_GE(f.metrics.snapshot_follower_lag_ops.Get(), 2u);
}

}  // namespace
}  // namespace eleven::server
