// Cluster mode end to end (docs/cluster.md): three in-process servers on one shard of a
// 3-node JetStream cluster started by the test (nats-server on loopback).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "client/keys.h"
#include "cluster/init.h"
#include "cluster/jetstream_log.h"
#include "cluster/local_copy.h"
#include "cluster/nats.h"
#include "cluster/node.h"
#include "cluster/object_store.h"
#include "cluster/testing/nats_cluster.h"
#include "replica/first_key.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

constexpr int kNodes = 3;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/eleven-cluster-test-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    ASSERT_TRUE(
        cluster::testing::NatsCluster::Start({.nodes = 3, .dir = root_ + "/nats"}, &nats_).ok());
    for (int i = 0; i < kNodes; i++) {
      configs_[i] = TestConfig(root_ + "/data" + std::to_string(i));
      ServerConfig::Cluster& c = configs_[i].cluster;
      c.enabled = true;
      c.nats = nats_->urls();
      c.shard = "t";
      c.node = "e" + std::to_string(i);
      c.lease_ms = 1000;
      // The stricter acks (docs/cluster.md); the nemesis test runs the default.
      c.local_fsync = true;
      configs_[i].snapshot_journal_bytes = 8 << 10;  // snapshots (and trimming) within a test
      ASSERT_TRUE(FormatForConfig(configs_[i]).ok());
    }
    // The shard's genesis: the first node's directory with its first operator key.
    replica::ReplicaOptions options;
    options.engine = configs_[0].engine;
    uint64_t key_id = 0;
    const client::KeySecretHash hash = client::HashKeySecret(client::NewKeySecret());
    ASSERT_TRUE(
        replica::AddOperatorKey(Env::Default(), configs_[0].data_dir, options, hash, 1, &key_id)
            .ok());
    std::unique_ptr<cluster::NatsConnection> connection;
    ASSERT_TRUE(cluster::NatsConnection::Connect({.urls = nats_->urls()}, &connection).ok());
    const Status init =
        cluster::InitShard(connection.get(), "t", 3, Env::Default(), configs_[0].data_dir);
    ASSERT_TRUE(init.ok()) << init.ToString();
    for (int i = 0; i < kNodes; i++) {
      const Status opened = Server::Open(configs_[i], &servers_[i]);
      ASSERT_TRUE(opened.ok()) << opened.ToString();
      ASSERT_TRUE(servers_[i]->Start().ok());
    }
  }

  void TearDown() override {
    for (auto& s : servers_) s.reset();
    nats_.reset();
    std::filesystem::remove_all(root_);
  }

  // The node that leads, once one does (-1 after 20 s).
  int WaitLeader() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      for (int i = 0; i < kNodes; i++) {
        if (servers_[i] && MetricValue(servers_[i]->http_port(), "eleven_cluster_leader") == 1)
          return i;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // Places `batches` x 100 orders through the leader (keys from `first_key`).
  void PlaceOrders(int leader, uint64_t first_key, int batches) {
    auto c = ConnectClient(servers_[leader]->binary_port());
    std::vector<wire::Result> results;
    for (int b = 0; b < batches; b++) {
      std::vector<wire::Command> orders;
      for (int i = 0; i < 100; i++) {
        const uint64_t key = first_key + uint64_t(b) * 100 + i;
        orders.push_back(wire::MakePlaceOrder(key, 1, key, 1, 1, {{10, 1}}));
      }
      ASSERT_TRUE(c->SubmitSync(orders, &results).ok());
      for (const auto& r : results) ASSERT_EQ(r.code, wire::Code::ok);
    }
  }

  // Waits until `node` reached the leader's op, then compares their digests.
  void ExpectSameDigest(int leader, int node) {
    const protocol::DigestRecord want = Digest(leader);
    protocol::DigestRecord got{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    do {
      got = Digest(node);
      if (got.op >= want.op) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(got.op, want.op) << "node " << node;
    EXPECT_EQ(got.digest_low, want.digest_low) << "node " << node;
    EXPECT_EQ(got.digest_high, want.digest_high) << "node " << node;
  }

  protocol::DigestRecord Digest(int node) {
    auto c = ConnectClient(servers_[node]->binary_port());
    protocol::DigestRecord d{};
    EXPECT_TRUE(c->GetDigest(&d).ok());
    return d;
  }

  std::string root_;
  std::unique_ptr<cluster::testing::NatsCluster> nats_;
  ServerConfig configs_[kNodes];
  std::unique_ptr<Server> servers_[kNodes];
};

TEST_F(ClusterTest, FollowersApplyTheLeadersEntriesAndEveryReplicaEndsWithTheSameDigest) {
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  auto c = ConnectClient(servers_[leader]->binary_port());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector<wire::Command>{wire::MakeCreateMerchant(1, "CN", 0),
                                                       wire::MakeCreateSku(10, 1, 9900, 100000, 0)},
                            &results)
                  .ok());
  for (const auto& r : results) ASSERT_EQ(r.code, wire::Code::ok);
  uint64_t accepted = 0;
  for (int batch = 0; batch < 20; batch++) {
    std::vector<wire::Command> orders;
    for (int i = 0; i < 100; i++) {
      const uint64_t key = uint64_t(batch) * 100 + i + 1;
      orders.push_back(wire::MakePlaceOrder(key, 1, 1000 + key, 1, 1, {{10, 1}}));
    }
    ASSERT_TRUE(c->SubmitSync(orders, &results).ok());
    for (const auto& r : results) accepted += r.code == wire::Code::ok;
  }
  EXPECT_EQ(accepted, 2000u);
  // The leader's local copy holds its entries (the merchant and SKU, 20 of orders).
  std::vector<cluster::CopiedEntry> copied;
  ASSERT_TRUE(cluster::LocalCopy::ReadAll(Env::Default(), configs_[leader].data_dir + "/cluster-copy", &copied).ok());
  EXPECT_EQ(copied.size(), 21u);
  const protocol::DigestRecord want = Digest(leader);
  for (int i = 0; i < kNodes; i++) {
    if (i == leader) continue;
    protocol::DigestRecord got{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      got = Digest(i);
      if (got.op >= want.op) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    // Nothing falls due during the test (the pay window is longer), so the leader writes no
    // tick: the follower stops at the leader's op.
    EXPECT_EQ(got.op, want.op) << "node " << i;
    EXPECT_EQ(got.digest_low, want.digest_low) << "node " << i;
    EXPECT_EQ(got.digest_high, want.digest_high) << "node " << i;
    EXPECT_GT(MetricValue(servers_[i]->http_port(), "eleven_cluster_followed_entries_total"), 20);
  }
}

// A follower's HTTP gateway sends writes on to the leader and hands back its reply; a write
// another node already sent on, and every binary write, is answered not_leader, naming the
// leader, and applies nothing here.
TEST_F(ClusterTest, AFollowerSendsHttpWritesOnToTheLeaderAndAnswersTheRestNotLeader) {
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kNodes;
  const uint16_t http = servers_[follower]->http_port();
  const std::string leader_http = "127.0.0.1:" + std::to_string(servers_[leader]->http_port());
  const protocol::DigestRecord before = Digest(follower);
  const std::string merchant = R"({"merchant_id":7,"country":"CN"})";
  const HttpReply refused = HttpCall(http, "POST", "/merchants", merchant, {{"Eleven-Forwarded-By", "e9"}});
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(Field(refused.body, "error"), "not_leader");
  EXPECT_EQ(refused.headers.count("Eleven-Leader") ? refused.headers.at("Eleven-Leader") : "", leader_http);
  const protocol::DigestRecord after = Digest(follower);
  EXPECT_EQ(after.op, before.op);
  EXPECT_EQ(after.digest_low, before.digest_low);
  EXPECT_EQ(after.digest_high, before.digest_high);
  // Reads are answered on the follower, saying the op they reflect.
  const HttpReply read = HttpCall(http, "GET", "/skus/1");
  ASSERT_TRUE(read.headers.count("Eleven-Op")) << read.status;
  EXPECT_EQ(read.headers.at("Eleven-Op"), std::to_string(after.op));

  // Sent on: the leader's reply, the first time and as a replay; the leader holds the order.
  const HttpReply created = HttpCall(http, "POST", "/merchants", merchant);
  EXPECT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.headers.count("Eleven-Leader") ? created.headers.at("Eleven-Leader") : "", leader_http);
  ASSERT_EQ(HttpCall(http, "POST", "/skus", R"({"sku_id":70,"merchant_id":7,"price_fen":500,"stock":10})").status,
            200);
  const std::string order =
      R"({"idempotency_key":77,"merchant_id":7,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":70,"quantity":1}]})";
  const HttpReply placed = HttpCall(http, "POST", "/orders", order);
  EXPECT_EQ(placed.status, 200) << placed.body;
  EXPECT_EQ(placed.idempotent_replayed, "");
  const HttpReply again = HttpCall(http, "POST", "/orders", order);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.idempotent_replayed, "true");
  EXPECT_EQ(Field(again.body, "order_id"), Field(placed.body, "order_id"));
  const HttpReply at_leader = HttpCall(servers_[leader]->http_port(), "POST", "/orders", order);
  EXPECT_EQ(at_leader.idempotent_replayed, "true") << at_leader.body;
  // A refusal comes back as the leader gave it.
  const HttpReply exists = HttpCall(http, "POST", "/merchants", merchant);
  EXPECT_EQ(exists.status, 409) << exists.body;
  EXPECT_EQ(Field(exists.body, "error"), "merchant_exists");
  EXPECT_EQ(MetricValue(http, "eleven_http_forwarded_total"), 5);
  EXPECT_EQ(MetricValue(http, "eleven_http_forward_failed_total"), 0);
  ExpectSameDigest(leader, follower);

  // The binary protocol: not_leader names the leader, and the client goes there.
  auto c = ConnectClient(servers_[follower]->binary_port(), 5000);
  std::vector<wire::Result> results;
  ASSERT_TRUE(
      c->SubmitSync(std::vector<wire::Command>{wire::MakeCreateMerchant(8, "CN", 0)}, &results)
          .ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_EQ(c->stats().redirects, 1u);
  EXPECT_EQ(MetricValue(http, "eleven_cluster_not_leader_total"), 7);

  // With forward_writes off the gateway answers not_leader itself.
  servers_[follower].reset();
  configs_[follower].cluster.forward_writes = false;
  ASSERT_TRUE(Server::Open(configs_[follower], &servers_[follower]).ok());
  ASSERT_TRUE(servers_[follower]->Start().ok());
  const HttpReply kept = HttpCall(servers_[follower]->http_port(), "POST", "/merchants", merchant);
  EXPECT_EQ(kept.status, 503);
  EXPECT_EQ(Field(kept.body, "error"), "not_leader");

  // The leader goes: a client of the third node's gateway is answered not_leader until a new
  // leader is found, then its write goes in (on that node, or sent on to it).
  const int third = (leader + 2) % kNodes;
  servers_[leader].reset();
  const std::string after_failover =
      R"({"idempotency_key":78,"merchant_id":7,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":70,"quantity":1}]})";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  HttpReply last;
  do {
    last = HttpCall(servers_[third]->http_port(), "POST", "/orders", after_failover);
    if (last.status == 200) break;
    ASSERT_EQ(last.status, 503) << last.body;
    ASSERT_EQ(Field(last.body, "error"), "not_leader") << last.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(last.status, 200) << last.body;
}

TEST_F(ClusterTest, TheStreamIsTrimmedByTheReplicasSnapshotsAndARestartedOrWipedReplicaCatchesUp) {
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  auto c = ConnectClient(servers_[leader]->binary_port());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector<wire::Command>{wire::MakeCreateMerchant(1, "CN", 0),
                                                       wire::MakeCreateSku(10, 1, 100, 1000000, 0)},
                            &results)
                  .ok());
  PlaceOrders(leader, 1, 40);
  // Every replica snapshots (each 8 KiB of stream); the leader trims through the oldest.
  std::unique_ptr<cluster::NatsConnection> nats;
  ASSERT_TRUE(cluster::NatsConnection::Connect({.urls = nats_->urls()}, &nats).ok());
  cluster::JetStreamLog stream(nats.get(), {.shard = "t", .command_count_max = 8190});
  uint64_t first = 0;
  uint64_t last = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (uint64_t round = 0; std::chrono::steady_clock::now() < deadline; round++) {
    PlaceOrders(leader, 100000 + round * 100, 1);  // more entries, more snapshots
    ASSERT_TRUE(stream.StreamBounds(&first, &last).ok());
    if (first > 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_GT(first, 1u) << "the stream was never trimmed";
  std::printf("stream holds ops %llu..%llu\n", (unsigned long long)first, (unsigned long long)last);

  // A follower stopped and started again restores its snapshot and the stream after it.
  const int follower = (leader + 1) % kNodes;
  servers_[follower].reset();
  PlaceOrders(leader, 900000, 5);
  ASSERT_TRUE(Server::Open(configs_[follower], &servers_[follower]).ok());
  EXPECT_TRUE(servers_[follower]->recovery().snapshot_found);
  EXPECT_GE(servers_[follower]->recovery().snapshot_op + 1, first);
  ASSERT_TRUE(servers_[follower]->Start().ok());
  ExpectSameDigest(leader, follower);

  // A wiped replica finds the stream trimmed past it and restores the published snapshot,
  // which the stream continues (the leader trims no further than it).
  const int wiped = (leader + 2) % kNodes;
  servers_[wiped].reset();
  std::filesystem::remove_all(configs_[wiped].data_dir);
  ASSERT_TRUE(FormatForConfig(configs_[wiped]).ok());
  std::unique_ptr<cluster::ObjectStore> files;
  ASSERT_TRUE(
      cluster::ObjectStore::Open(nats.get(), cluster::SnapshotFilesBucketName("t"), 3, &files)
          .ok());
  cluster::ObjectInfo published;
  ASSERT_TRUE(files->Info(cluster::kPublishedSnapshotObject, &published).ok());
  const uint64_t published_op = std::stoull(published.headers[cluster::kPublishedSnapshotOpHeader]);
  ASSERT_TRUE(stream.StreamBounds(&first, &last).ok());
  EXPECT_GE(published_op + 1, first);
  const Status restored = Server::Open(configs_[wiped], &servers_[wiped]);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_TRUE(servers_[wiped]->recovery().snapshot_found);
  EXPECT_EQ(servers_[wiped]->recovery().snapshot_op, published_op);
  ASSERT_TRUE(servers_[wiped]->Start().ok());
  PlaceOrders(leader, 950000, 5);
  ExpectSameDigest(leader, wiped);

  // With nothing published, a wiped replica is refused, naming the op it needs.
  servers_[wiped].reset();
  std::filesystem::remove_all(configs_[wiped].data_dir);
  ASSERT_TRUE(FormatForConfig(configs_[wiped]).ok());
  ASSERT_EQ(js_PurgeStream(nats->js(), files->stream().c_str(), nullptr, nullptr), NATS_OK);
  std::unique_ptr<Server> refused;
  const Status opened = Server::Open(configs_[wiped], &refused);
  EXPECT_EQ(opened.code(), StatusCode::kFailedPrecondition) << opened.ToString();
  EXPECT_NE(opened.message().find("needs a snapshot at op"), std::string::npos)
      << opened.ToString();
}

}  // namespace
}  // namespace eleven::server::testing
