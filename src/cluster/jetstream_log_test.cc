// The JetStream log against a real 3-node nats-server cluster (docs/cluster.md): a deposed
// writer with many entries in flight has every one of them refused by the stream itself.
#include "cluster/jetstream_log.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "base/test_seed.h"
#include "cluster/init.h"
#include "cluster/testing/nats_cluster.h"
#include "engine/engine.h"
#include "replica/first_key.h"
#include "replica/replica.h"
#include "storage/fault_env.h"
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

  std::unique_ptr<JetStreamLog> NewLog(const std::string& local_copy_dir = "") {
    return std::make_unique<JetStreamLog>(nats_.get(), JetStreamLogOptions{.shard = "f",
                                                                           .replicas = 3,
                                                                           .command_count_max = 8190,
                                                                           .ack_timeout_ms = 5000,
                                                                           .local_copy_dir = local_copy_dir});
  }

  // The stream loses every entry after `keep` (as a crash of every nats-server before they
  // synced can make it): it is deleted and made again with its first `keep` messages, each
  // under its own message id.
  void LoseStreamTailAfter(uint64_t keep) {
    const std::string stream = StreamName("f");
    std::vector<natsMsg*> kept;
    for (uint64_t seq = 1; seq <= keep; seq++) {
      natsMsg* msg = nullptr;
      ASSERT_EQ(js_GetMsg(&msg, nats_->js(), stream.c_str(), seq, nullptr, nullptr), NATS_OK);
      kept.push_back(msg);
    }
    ASSERT_EQ(js_DeleteStream(nats_->js(), stream.c_str(), nullptr, nullptr), NATS_OK);
    ASSERT_TRUE(EnsureStream(nats_.get(), "f", 3).ok());
    for (natsMsg* msg : kept) {
      natsMsg* copy = nullptr;
      ASSERT_EQ(natsMsg_Create(&copy, SubjectName("f").c_str(), nullptr, natsMsg_GetData(msg),
                               natsMsg_GetDataLength(msg)),
                NATS_OK);
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, "Eleven-Shape", &value) == NATS_OK) {
        ASSERT_EQ(natsMsgHeader_Set(copy, "Eleven-Shape", value), NATS_OK);
      }
      const char* id = nullptr;
      ASSERT_EQ(natsMsgHeader_Get(msg, "Nats-Msg-Id", &id), NATS_OK);
      jsPubOptions options;
      jsPubOptions_Init(&options);
      options.MsgId = id;
      ASSERT_EQ(js_PublishMsg(nullptr, nats_->js(), copy, &options, nullptr), NATS_OK);
      natsMsg_Destroy(copy);
      natsMsg_Destroy(msg);
    }
  }

  // The message id the stream holds at `op`.
  std::string IdAt(uint64_t op) {
    natsMsg* msg = nullptr;
    EXPECT_EQ(js_GetMsg(&msg, nats_->js(), StreamName("f").c_str(), op, nullptr, nullptr), NATS_OK);
    const char* id = nullptr;
    std::string out = msg != nullptr && natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK ? id : "";
    natsMsg_Destroy(msg);
    return out;
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

  // A leader of term 1 with a local copy in `copy_dir` writes ops 2..11 (merchant <op> each).
  void WriteTermOneWithCopy(const std::string& copy_dir) {
    engine::Engine engine(SmallEngine());
    auto a = NewLog(copy_dir);
    replica::ReplayReport report;
    ASSERT_TRUE(a->Recover(&engine, nullptr, &report).ok());
    ASSERT_TRUE(a->Lead(1).ok());
    for (uint64_t op = 2; op <= 11; op++) ASSERT_TRUE(AppendMerchant(a.get(), op).ok());
    ASSERT_TRUE(a->Sync().ok());
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

// With a local copy (local_fsync), entries the stream lost after acknowledging them are
// published again, in order and under their own ids, by the next node that starts with the
// copy; followers then receive them as any entry.
TEST_F(JetStreamLogTest, ALocalCopyPublishesAgainWhatTheStreamLostAfterItsAck) {
  const std::string copy_dir = root_ + "/copy";
  ASSERT_NO_FATAL_FAILURE(WriteTermOneWithCopy(copy_dir));
  replica::ReplayReport report;
  std::vector<CopiedEntry> copied;
  ASSERT_TRUE(LocalCopy::ReadAll(Env::Default(), copy_dir, &copied).ok());
  ASSERT_EQ(copied.size(), 10u);
  EXPECT_EQ(copied.front().op, 2u);
  EXPECT_EQ(copied.front().previous_id, IdAt(1));
  EXPECT_EQ(copied.back().id, "1-11");

  LoseStreamTailAfter(6);
  uint64_t last = 0;
  ASSERT_TRUE(NewLog()->StreamLastOp(&last).ok());
  ASSERT_EQ(last, 6u);

  engine::Engine engine_b(SmallEngine());
  auto b = NewLog(copy_dir);
  ASSERT_TRUE(b->Recover(&engine_b, nullptr, &report).ok());
  EXPECT_EQ(engine_b.last_op(), 6u);
  EXPECT_EQ(b->restored_entries(), 5u);
  ASSERT_TRUE(b->StreamLastOp(&last).ok());
  EXPECT_EQ(last, 11u);
  for (uint64_t op = 7; op <= 11; op++) EXPECT_EQ(IdAt(op), "1-" + std::to_string(op));
  // B follows them like any entry: merchant <op> at op.
  for (uint64_t op = 7; op <= 11; op++) {
    FollowedEntry entry;
    ASSERT_TRUE(b->WaitFollowed(&entry, 5000)) << op;
    ASSERT_TRUE(entry.status.ok()) << entry.status.ToString();
    EXPECT_EQ(entry.op, op);
    ASSERT_EQ(entry.commands.size(), 1u);
    const wire::Command want = wire::MakeCreateMerchant(op, "CN", 0);
    EXPECT_EQ(std::memcmp(entry.commands[0].bytes, want.bytes, wire::kCommandSize), 0) << op;
  }
  // The copy is spent.
  ASSERT_TRUE(LocalCopy::ReadAll(Env::Default(), copy_dir, &copied).ok());
  EXPECT_TRUE(copied.empty());
}

// A copy that does not continue the stream (another writer went on after the loss) is not
// published: it is moved aside, and the stream is left as it is.
TEST_F(JetStreamLogTest, ALocalCopyThatDoesNotContinueTheStreamIsMovedAsideNotPublished) {
  const std::string copy_dir = root_ + "/copy";
  ASSERT_NO_FATAL_FAILURE(WriteTermOneWithCopy(copy_dir));
  replica::ReplayReport report;
  LoseStreamTailAfter(6);
  // Writer B, without A's copy, leads term 2 and writes op 7.
  engine::Engine engine_b(SmallEngine());
  auto b = NewLog();
  ASSERT_TRUE(b->Recover(&engine_b, nullptr, &report).ok());
  ASSERT_TRUE(b->Lead(2).ok());
  ASSERT_TRUE(AppendMerchant(b.get(), 7, 1007).ok());
  ASSERT_TRUE(b->Sync().ok());

  engine::Engine engine_c(SmallEngine());
  auto c = NewLog(copy_dir);
  ASSERT_TRUE(c->Recover(&engine_c, nullptr, &report).ok());
  EXPECT_EQ(engine_c.last_op(), 7u);
  EXPECT_EQ(c->restored_entries(), 0u);
  uint64_t last = 0;
  ASSERT_TRUE(c->StreamLastOp(&last).ok());
  EXPECT_EQ(last, 7u);
  EXPECT_EQ(IdAt(7), "2-7");
  EXPECT_FALSE(std::filesystem::exists(copy_dir));
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_)) {
    aside += e.path().filename().string().starts_with("copy.unrestored-7-");
  }
  EXPECT_EQ(aside, 1);
}

// A reply waits for the copy's fdatasync: a failed one fails Sync, so no reply is released.
TEST_F(JetStreamLogTest, ALocalCopyThatCannotSyncFailsTheLog) {
  FaultEnv env(Env::Default(), 1);
  env.Arm(FaultKind::kSyncError, FaultTrigger{.nth_call = 1, .path_substring = "/copy/"});
  auto a = std::make_unique<JetStreamLog>(nats_.get(), JetStreamLogOptions{.shard = "f",
                                                                          .replicas = 3,
                                                                          .command_count_max = 8190,
                                                                          .local_copy_dir = root_ + "/copy",
                                                                          .env = &env});
  engine::Engine engine(SmallEngine());
  replica::ReplayReport report;
  ASSERT_TRUE(a->Recover(&engine, nullptr, &report).ok());
  ASSERT_TRUE(a->Lead(1).ok());
  ASSERT_TRUE(AppendMerchant(a.get(), 2).ok());
  const Status failed = a->Sync();
  EXPECT_EQ(failed.code(), StatusCode::kIOError) << failed.ToString();
  // The log stays failed, whatever the stream does with the entry.
  EXPECT_FALSE(AppendMerchant(a.get(), 3).ok());
  EXPECT_FALSE(a->Sync().ok());
}

// Records cut short by a crash (appended, never synced, so never acknowledged) end a file's
// records; the whole ones before them are read.
TEST(LocalCopyTest, ATornTailEndsTheRecordsAndTheSyncedOnesAreRead) {
  const uint64_t seed = TestSeed("LocalCopyTest");
  const std::string dir = "/tmp/eleven-local-copy-test-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  FaultEnv env(Env::Default(), seed);
  {
    std::unique_ptr<LocalCopy> copy;
    ASSERT_TRUE(LocalCopy::Open(&env, dir, LocalCopyOptions{}, &copy).ok());
    std::vector<std::byte> message(300);
    for (uint64_t op = 2; op <= 6; op++) {
      message[0] = std::byte(op);
      ASSERT_TRUE(copy->Append(op, "1-" + std::to_string(op), "1-" + std::to_string(op - 1), message).ok());
    }
    ASSERT_TRUE(copy->Sync().ok());
    for (uint64_t op = 7; op <= 9; op++) {
      ASSERT_TRUE(copy->Append(op, "1-" + std::to_string(op), "1-" + std::to_string(op - 1), message).ok());
    }
    ASSERT_TRUE(env.PowerCut(PowerCutMode::kKeepRandomPrefix).ok());
  }
  // One file; each record is 330 bytes (12 of head, 8 of op, 2 + 3 of each id, 300).
  uint64_t size = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) size += e.file_size();
  ASSERT_GE(size, 5u * 330);
  std::vector<CopiedEntry> read;
  ASSERT_TRUE(LocalCopy::ReadAll(Env::Default(), dir, &read).ok());
  ASSERT_EQ(read.size(), size / 330) << size;  // a record cut short is not read
  for (size_t i = 0; i < read.size(); i++) {
    EXPECT_EQ(read[i].op, i + 2);
    EXPECT_EQ(read[i].id, "1-" + std::to_string(i + 2));
    EXPECT_EQ(read[i].previous_id, "1-" + std::to_string(i + 1));
    EXPECT_EQ(read[i].message.size(), 300u);
  }
  EXPECT_EQ(read[4].message[0], std::byte(6));
  ASSERT_TRUE(LocalCopy::RemoveAll(Env::Default(), dir).ok());
  ASSERT_TRUE(LocalCopy::ReadAll(Env::Default(), dir, &read).ok());
  EXPECT_TRUE(read.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eleven::cluster
