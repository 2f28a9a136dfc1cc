// The engine loop's release rule: a request comes out of PopDone only once the op it saw is
// durable, in the order it went in; after a journal failure nothing it applied comes out as a
// success, and Stop() hands the rest back as replica_failed.
#include "server/engine_loop.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "replica/replica.h"
#include "storage/fault_env.h"
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
  explicit Fixture(Env* env) : dir(temp.File("data")) {  // Format creates it
    EXPECT_TRUE(replica::FormatDataDir(env, dir, replica::ShapeOf(SmallOptions())).ok());
    replica::RecoveryReport report;
    EXPECT_TRUE(replica::Replica::Open(env, dir, SmallOptions(), &replica, &report).ok());
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

TEST(EngineLoop, AfterAFailedSyncNothingAppliedIsReleasedAsASuccess) {
  FaultEnv env(Env::Default(), 1);
  Fixture f(&env);
  env.Arm(FaultKind::kSyncError, FaultTrigger{1, 0, "journal"});
  auto request = OrderRequest(7);
  f.loop->Push(request.get());
  // The loop applies the order and hands it to the sync thread, whose sync fails.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (f.replica->journal_failure().ok()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the sync never failed";
    std::this_thread::yield();
  }
  EXPECT_EQ(f.metrics.op_submitted.Get(), 2u) << "the order was applied";
  Request* done = nullptr;
  EXPECT_FALSE(f.loop->PopDone(&done)) << "an undurable result left";
  f.loop->Stop();
  ASSERT_TRUE(f.loop->PopDone(&done));
  EXPECT_EQ(done, request.get());
  EXPECT_EQ(done->status, protocol::FrameStatus::kReplicaFailed);
  EXPECT_FALSE(f.loop->PopDone(&done));
}

}  // namespace
}  // namespace eleven::server
