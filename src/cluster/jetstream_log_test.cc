// The JetStream log against a real 3-node nats-server cluster (docs/cluster.md): a deposed
// writer with many entries in flight has every one of them refused by the stream itself.
#include "cluster/jetstream_log.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cluster/init.h"
#include "cluster/testing/nats_cluster.h"
#include "engine/engine.h"
#include "replica/first_key.h"
#include "replica/replica.h"
#include "wire/make.h"
#include "wire/packed.h"

namespace eleven::cluster {
namespace {

engine::EngineConfig SmallEngine() {
  engine::EngineConfig c;
  c.merchant_count_max = 64;
  c.sku_count_max = 256;
  c.drop_count_max = 16;
  c.order_slot_count = 1 << 12;
  c.holding_count_max = 1 << 10;
  return c;
}

class JetStreamLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/eleven-jetstream-log-test-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    ASSERT_TRUE(
        testing::NatsCluster::Start({.nodes = 3, .dir = root_ + "/nats"}, &nats_cluster_).ok());
    ASSERT_TRUE(NatsConnection::Connect({.urls = nats_cluster_->urls()}, &nats_).ok());
    const std::string dir = root_ + "/data";
    ASSERT_TRUE(replica::FormatDataDir(Env::Default(), dir,
                                       replica::DataShape{SmallEngine(), replica::LogClock::kWall})
                    .ok());
    replica::ReplicaOptions options;
    options.engine = SmallEngine();
    std::array<uint8_t, wire::kSecretHashSize> hash{};
    hash[0] = 1;
    uint64_t key_id = 0;
    ASSERT_TRUE(replica::AddOperatorKey(Env::Default(), dir, options, hash, 1, &key_id).ok());
    const Status init = InitShard(nats_.get(), "f", 3, Env::Default(), dir);
    ASSERT_TRUE(init.ok()) << init.ToString();
  }
  void TearDown() override {
    nats_.reset();
    nats_cluster_.reset();
    std::filesystem::remove_all(root_);
  }

  std::unique_ptr<JetStreamLog> NewLog() {
    return std::make_unique<JetStreamLog>(
        nats_.get(),
        JetStreamLogOptions{
            .shard = "f", .replicas = 3, .command_count_max = 8190, .ack_timeout_ms = 5000});
  }

  // One entry holding a create_merchant (of `merchant_id`, default the op), packed as the
  // replica packs it.
  static Status AppendMerchant(JetStreamLog* log, uint64_t op, uint64_t merchant_id = 0) {
    const wire::Command command =
        wire::MakeCreateMerchant(merchant_id != 0 ? merchant_id : op, "CN", 0);
    std::byte packed[wire::kPackedCommandSizeMax];
    const size_t size = wire::PackCommands(std::span(&command, 1), packed);
    return log->Append(replica::LogEntry{
        .op = op, .timestamp_us = 1000 + op, .command_count = 1, .packed = ByteSpan(packed, size)});
  }

  std::string root_;
  std::unique_ptr<testing::NatsCluster> nats_cluster_;
  std::unique_ptr<NatsConnection> nats_;
};

TEST_F(JetStreamLogTest, ADeposedWritersPipelinedEntriesAreAllRefusedByTheStream) {
  // Writer A (term 1) catches up to the genesis and writes ops 2..11.
  engine::Engine engine_a(SmallEngine());
  auto a = NewLog();
  replica::ReplayReport report;
  ASSERT_TRUE(a->Recover(&engine_a, nullptr, &report).ok());
  EXPECT_EQ(engine_a.last_op(), 1u);
  ASSERT_TRUE(a->Lead(1).ok());
  for (uint64_t op = 2; op <= 11; op++) ASSERT_TRUE(AppendMerchant(a.get(), op).ok());
  ASSERT_TRUE(a->Sync().ok());

  // Writer B (term 2) reads the stream to its end (op 11) and writes op 12.
  engine::Engine engine_b(SmallEngine());
  auto b = NewLog();
  ASSERT_TRUE(b->Recover(&engine_b, nullptr, &report).ok());
  EXPECT_EQ(engine_b.last_op(), 11u);
  ASSERT_TRUE(b->Lead(2).ok());
  ASSERT_TRUE(AppendMerchant(b.get(), 12, 1012).ok());
  ASSERT_TRUE(b->Sync().ok());
  // What B's replica applies with it (a merchant no entry of A's creates).
  const wire::Command b_command = wire::MakeCreateMerchant(1012, "CN", 0);
  wire::Result b_result{};
  ASSERT_EQ(engine_b.Apply(12, 1012, std::span(&b_command, 1), std::span(&b_result, 1)),
            engine::BatchError::kNone);

  // A, deposed without knowing it, pipelines 50 more entries: every one is refused.
  for (uint64_t op = 12; op < 62; op++) ASSERT_TRUE(AppendMerchant(a.get(), op).ok());
  const Status refused = a->Sync();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("refused by stream"), std::string::npos) << refused.ToString();
  uint64_t last = 0;
  ASSERT_TRUE(b->StreamLastOp(&last).ok());
  EXPECT_EQ(last, 12u);
  // A follower reading the stream sees B's entry at op 12 and nothing of A's after op 11.
  engine::Engine engine_c(SmallEngine());
  auto c = NewLog();
  ASSERT_TRUE(c->Recover(&engine_c, nullptr, &report).ok());
  EXPECT_EQ(engine_c.last_op(), 12u);
  EXPECT_EQ(engine_c.Digest(), engine_b.Digest());
  // And B goes on writing after it.
  ASSERT_TRUE(AppendMerchant(b.get(), 13).ok());
  EXPECT_TRUE(b->Sync().ok());
}

TEST_F(JetStreamLogTest, ANewLeaderWhoseReadIsStaleIsRefusedTooAndNothingLands) {
  engine::Engine engine_a(SmallEngine());
  engine::Engine engine_b(SmallEngine());
  auto a = NewLog();
  auto b = NewLog();
  replica::ReplayReport report;
  ASSERT_TRUE(a->Recover(&engine_a, nullptr, &report).ok());
  ASSERT_TRUE(b->Recover(&engine_b, nullptr, &report).ok());
  ASSERT_TRUE(a->Lead(1).ok());
  ASSERT_TRUE(b->Lead(2).ok());  // both read op 1 as the end
  ASSERT_TRUE(AppendMerchant(a.get(), 2).ok());
  ASSERT_TRUE(a->Sync().ok());
  // B's first entry expects the stream to end at op 1: refused (wrong last sequence).
  ASSERT_TRUE(AppendMerchant(b.get(), 2).ok());
  const Status refused = b->Sync();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  uint64_t last = 0;
  ASSERT_TRUE(a->StreamLastOp(&last).ok());
  EXPECT_EQ(last, 2u);
}

TEST_F(JetStreamLogTest, AStreamInitializedTwiceKeepsItsGenesisAndAnotherShapeIsRefused) {
  const std::string dir2 = root_ + "/data2";
  ASSERT_TRUE(replica::FormatDataDir(Env::Default(), dir2,
                                     replica::DataShape{SmallEngine(), replica::LogClock::kWall})
                  .ok());
  replica::ReplicaOptions options;
  options.engine = SmallEngine();
  std::array<uint8_t, wire::kSecretHashSize> hash{};
  hash[0] = 2;
  uint64_t key_id = 0;
  ASSERT_TRUE(replica::AddOperatorKey(Env::Default(), dir2, options, hash, 1, &key_id).ok());
  const Status again = InitShard(nats_.get(), "f", 3, Env::Default(), dir2);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  uint64_t last = 0;
  ASSERT_TRUE(NewLog()->StreamLastOp(&last).ok());
  EXPECT_EQ(last, 1u);
  // A replica whose directory has another shape refuses the stream.
  engine::EngineConfig other = SmallEngine();
  other.sku_count_max = 512;
  auto log = std::make_unique<JetStreamLog>(
      nats_.get(),
      JetStreamLogOptions{
          .shard = "f", .replicas = 3, .command_count_max = 8190, .shape = "engine.skus_max=512"});
  engine::Engine engine(other);
  replica::ReplayReport report;
  const Status recovered = log->Recover(&engine, nullptr, &report);
  EXPECT_EQ(recovered.code(), StatusCode::kFailedPrecondition) << recovered.ToString();
  EXPECT_NE(recovered.message().find("another shape"), std::string::npos) << recovered.ToString();
}

}  // namespace
}  // namespace eleven::cluster
