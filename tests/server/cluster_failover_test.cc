// Cluster failover with real processes (docs/cluster.md): 3 nats-servers and 3 `eleven
// serve` replicas on loopback, orders placed through the client with the three addresses,
// while a nemesis SIGKILLs and pauses (SIGSTOP/SIGCONT, the stand-in for a node cut off) the
// leader, a follower and a nats-server node. Two loads run through it: plain orders, and a
// flash sale (orders against a drop of 20,000 units, 2 per buyer, each acknowledged order then
// paid). The checker: every acknowledged order is there once, with its content; no order was
// applied twice; every acknowledged payment holds; the drop is not oversold, in total or per
// buyer, and its units add up; every replica ends with the same digest. The time to the next
// acknowledged write after each fault is printed, and the median and max over the leader's
// failovers. The default run does each fault once; ELEVEN_LONG=1 runs 200 drawn at random.
// ELEVEN_SEED replays the nemesis' draws (printed).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "base/test_seed.h"
#include "client/client.h"
#include "cluster/testing/nats_cluster.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kNodes = 3;
constexpr int kLeaseMs = 1000;
constexpr uint64_t kDropSku = 20;
constexpr uint64_t kDrop = 100;
constexpr uint32_t kDropQuota = 20000;
constexpr int64_t kDropPriceFen = 150;
constexpr uint64_t kDropKeyBase = uint64_t{1} << 40;

uint64_t DropBuyer(uint64_t key) { return 1000000 + key % 20000; }
uint16_t DropUnits(uint64_t key) { return uint16_t(1 + key % 2); }

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t n = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

// Runs `args` to its end; its exit status.
int RunToEnd(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Node {
  std::string dir, config, log;
  int binary = 0, http = 0;
  std::atomic<pid_t> pid{0};
};

class ClusterFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/eleven-cluster-failover-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    ASSERT_TRUE(
        cluster::testing::NatsCluster::Start({.nodes = 3, .dir = root_ + "/nats"}, &nats_).ok());
    const std::string shape = root_ + "/shape.toml";
    std::ofstream(shape) << "[engine]\nmerchants_max = 64\nskus_max = 256\ndrops_max = 16\n"
                            "order_slots = 262144\nholdings_max = 4096\n";
    for (int i = 0; i < kNodes; i++) {
      Node& n = nodes_[i];
      n.dir = root_ + "/data" + std::to_string(i);
      n.config = n.dir + ".toml";
      n.log = n.dir + ".log";
      n.binary = FreePort();
      n.http = FreePort();
      std::vector<std::string> format = {ELEVEN_BINARY, "format",   "--data",
                                         n.dir,         "--config", shape};
      if (i == 0) format.insert(format.end(), {"--key-file", root_ + "/key"});
      ASSERT_EQ(RunToEnd(format, n.log), 0);
      std::ofstream(n.config) << "[server]\nlisten = \"127.0.0.1:" << n.binary
                              << "\"\nhttp = \"127.0.0.1:" << n.http
                              << "\"\n[access]\nanonymous = \"operator\"\n[cluster]\nnats = \""
                              << nats_->urls() << "\"\nshard = \"f\"\nnode = \"e" << i
                              << "\"\nlease_ms = " << kLeaseMs << "\n";
      addresses_ += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(n.binary);
    }
    ASSERT_EQ(RunToEnd({ELEVEN_BINARY, "cluster", "init", "--data", nodes_[0].dir, "--nats",
                        nats_->urls(), "--shard", "f"},
                       root_ + "/init.log"),
              0);
    for (int i = 0; i < kNodes; i++) StartNode(i);
    supervisor_ = std::thread([this] { Supervise(); });
  }

  void TearDown() override {
    stopping_ = true;
    if (supervisor_.joinable()) supervisor_.join();
    for (Node& n : nodes_) {
      const pid_t pid = n.pid.exchange(0);
      if (pid > 0) {
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    nats_.reset();
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  void StartNode(int i) {
    Node& n = nodes_[i];
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(n.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(ELEVEN_BINARY, ELEVEN_BINARY, "serve", "--data", n.dir.c_str(), "--config",
            n.config.c_str(), nullptr);
      _exit(127);
    }
    n.pid = pid;
  }

  // A node that exits on its own (75: deposed, to rebuild) is started again, as a supervisor does.
  void Supervise() {
    while (!stopping_) {
      for (int i = 0; i < kNodes; i++) {
        const pid_t pid = nodes_[i].pid;
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid && !killed_[i]) {
          restarts_++;
          StartNode(i);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  int Leader() {
    for (int i = 0; i < kNodes; i++) {
      if (nodes_[i].pid > 0 && MetricValue(uint16_t(nodes_[i].http), "eleven_cluster_leader") == 1)
        return i;
    }
    return -1;
  }
  int WaitLeader(int not_node = -1) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      const int l = Leader();
      if (l >= 0 && l != not_node) return l;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  std::string root_;
  std::unique_ptr<cluster::testing::NatsCluster> nats_;
  Node nodes_[kNodes];
  std::string addresses_;
  std::thread supervisor_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> killed_[kNodes] = {};
  std::atomic<int> restarts_{0};
};

TEST_F(ClusterFailoverTest,
       NemesisKillsAndPausesLeadersFollowersAndNatsNodesAndNoAcknowledgedOrderIsLost) {
  const uint64_t seed = TestSeed("ClusterFailoverTest");
  std::mt19937_64 random(seed);
  ASSERT_GE(WaitLeader(), 0);

  client::ClientOptions options;
  options.address = addresses_;
  options.request_timeout_ms = 60000;
  options.silent_node_ms = 1500;  // a paused leader is left after this
  std::unique_ptr<client::Client> c;
  ASSERT_TRUE(client::Client::Connect(options, &c).ok());
  std::vector<wire::Result> results;
  const uint64_t now_us = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  ASSERT_TRUE(
      c->SubmitSync(
           std::vector<wire::Command>{
               wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 100, 1000000, 0),
               wire::MakeCreateSku(kDropSku, 1, 200, kDropQuota, 0),
               wire::MakeCreateDrop(kDrop, kDropSku, kDropPriceFen, kDropQuota, 0,
                                    now_us + 86400000000ull, 2)},
           &results)
          .ok());
  for (const wire::Result& r : results) ASSERT_EQ(r.code, wire::Code::ok);

  // The load: batches of 20 orders with fresh keys; what each acknowledged key got, and when.
  std::mutex mutex;
  std::map<uint64_t, uint64_t> acked;  // key -> order id
  // Each acknowledged plain batch: when it was sent, and when its answer came.
  std::vector<std::pair<Clock::time_point, Clock::time_point>> ack_times;
  uint64_t sent_keys = 0;
  std::atomic<bool> stop_load{false};
  std::thread load([&] {
    uint64_t next_key = 1;
    while (!stop_load) {
      std::vector<wire::Command> batch;
      for (int i = 0; i < 20; i++, next_key++)
        batch.push_back(wire::MakePlaceOrder(next_key, 1, next_key, 1, 1, {{10, 1}}));
      std::vector<wire::Result> r;
      const auto sent = Clock::now();
      const Status s = c->SubmitSync(batch, &r);
      std::lock_guard<std::mutex> lock(mutex);
      sent_keys = next_key - 1;
      if (!s.ok()) continue;  // unknown outcome: the checker looks these keys up too
      for (size_t i = 0; i < r.size(); i++) {
        if (r[i].code == wire::Code::ok) acked[batch[i].place_order.idempotency_key] = r[i].id;
      }
      ack_times.emplace_back(sent, Clock::now());
    }
  });
  // The flash sale: drop orders from 20,000 buyers, 1 or 2 units each; each acknowledged one is
  // paid in the next batch.
  std::map<uint64_t, uint64_t> drop_acked;  // key -> order id
  std::map<uint64_t, bool> paid_acked;      // order id -> its payment was acknowledged
  uint64_t drop_sent_keys = kDropKeyBase;
  std::thread sale([&] {
    uint64_t next_key = kDropKeyBase + 1;
    while (!stop_load) {
      std::vector<wire::Command> batch;
      for (int i = 0; i < 20; i++, next_key++) {
        batch.push_back(wire::MakePlaceOrder(next_key, 1, DropBuyer(next_key), 2, 3,
                                             {{kDropSku, DropUnits(next_key)}}, kDrop));
      }
      std::vector<wire::Result> r;
      Status s = c->SubmitSync(batch, &r);
      std::vector<wire::Command> pay;
      {
        std::lock_guard<std::mutex> lock(mutex);
        drop_sent_keys = next_key - 1;
        if (!s.ok()) continue;
        for (size_t i = 0; i < r.size(); i++) {
          if (r[i].code != wire::Code::ok) continue;
          drop_acked[batch[i].place_order.idempotency_key] = r[i].id;
          pay.push_back(wire::MakePayOrder(
              r[i].id, kDropPriceFen * DropUnits(batch[i].place_order.idempotency_key)));
        }
      }
      if (pay.empty()) continue;
      s = c->SubmitSync(pay, &r);
      if (!s.ok()) continue;
      std::lock_guard<std::mutex> lock(mutex);
      for (size_t i = 0; i < r.size(); i++) {
        if (r[i].code == wire::Code::ok) paid_acked[pay[i].pay_order.order_id] = true;
      }
    }
  });
  // The answer to the first batch sent after `t` (an answer already on its way when the fault
  // struck does not count; a batch in flight at `t` and answered after a failover is followed
  // by one sent after it, at most one round trip later).
  const auto first_ack_after = [&](Clock::time_point t) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& [sent, answered] : ack_times) {
          if (sent > t) return std::chrono::duration<double, std::milli>(answered - t).count();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1.0;
  };

  // The nemesis: faults one after another at random moments. The default run does each kind
  // once, in this order; ELEVEN_LONG=1 runs kLongFaults drawn at random.
  enum Fault {
    kKillLeader,
    kPauseLeader,
    kKillFollower,
    kPauseFollower,
    kKillNats,
    kPauseNats,
    kFaultKinds
  };
  const char* const kFaultNames[] = {"SIGKILL leader",      "SIGSTOP leader past its lease",
                                     "SIGKILL follower",    "SIGSTOP follower",
                                     "SIGKILL nats-server", "SIGSTOP nats-server"};
  const bool is_long =
      std::getenv("ELEVEN_LONG") != nullptr && std::string(std::getenv("ELEVEN_LONG")) == "1";
  constexpr int kLongFaults = 200;
  const int fault_count = is_long ? kLongFaults : kFaultKinds;
  std::vector<double> leader_failovers_ms;
  for (int f = 0; f < fault_count; f++) {
    const Fault fault = is_long ? Fault(random() % kFaultKinds) : Fault(f);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 1200));
    const int leader = WaitLeader();
    ASSERT_GE(leader, 0) << "no leader before fault " << f;
    const int follower = (leader + 1 + int(random() % 2)) % kNodes;
    const int nats_node = int(random() % 3);
    const auto at = Clock::now();
    double to_ack_ms = 0;
    switch (fault) {
      case kKillLeader:
      case kKillFollower: {
        const int node = fault == kKillLeader ? leader : follower;
        killed_[node] = true;
        const pid_t pid = nodes_[node].pid.exchange(0);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        to_ack_ms = first_ack_after(at);
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 1000));
        StartNode(node);  // as a supervisor does
        killed_[node] = false;
        break;
      }
      case kPauseLeader:
      case kPauseFollower: {
        // A leader past its lease finds it gone, or its entries refused, when it resumes,
        // and stops to rebuild (the supervisor starts it again).
        const int node = fault == kPauseLeader ? leader : follower;
        const pid_t pid = nodes_[node].pid;
        kill(pid, SIGSTOP);
        to_ack_ms = first_ack_after(at);
        std::this_thread::sleep_for(
            std::chrono::milliseconds(fault == kPauseLeader ? kLeaseMs : random() % 2000));
        kill(pid, SIGCONT);
        if (fault == kPauseLeader) {
          const auto deadline = Clock::now() + std::chrono::seconds(20);
          std::string log;
          while (Clock::now() < deadline) {
            std::ifstream in(nodes_[node].log);
            log.assign(std::istreambuf_iterator<char>(in), {});
            if (log.find("must stop") != std::string::npos) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
          EXPECT_NE(log.find("must stop"), std::string::npos)
              << "the resumed leader e" << node << " went on";
        }
        break;
      }
      case kKillNats:
        ASSERT_TRUE(nats_->Kill(nats_node).ok());
        to_ack_ms = first_ack_after(at);
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 2000));
        ASSERT_TRUE(nats_->Restart(nats_node).ok());
        break;
      case kPauseNats:
        ASSERT_TRUE(nats_->Pause(nats_node).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 2000));
        ASSERT_TRUE(nats_->Resume(nats_node).ok());
        to_ack_ms = first_ack_after(at);
        break;
      case kFaultKinds:
        break;
    }
    std::printf(
        "fault %d: %s (leader e%d, follower e%d, nats n%d): next acknowledged write after %.0f "
        "ms\n",
        f, kFaultNames[fault], leader, follower, nats_node, to_ack_ms);
    EXPECT_GE(to_ack_ms, 0) << "no write was acknowledged after fault " << f;
    if (fault == kKillLeader || fault == kPauseLeader) leader_failovers_ms.push_back(to_ack_ms);
  }
  std::sort(leader_failovers_ms.begin(), leader_failovers_ms.end());
  if (!leader_failovers_ms.empty()) {
    std::printf("leader failovers: %zu, median %.0f ms, max %.0f ms\n", leader_failovers_ms.size(),
                leader_failovers_ms[leader_failovers_ms.size() / 2], leader_failovers_ms.back());
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop_load = true;
  load.join();
  sale.join();

  // Every replica reaches the leader's op with the same digest.
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(c->Ping().ok());
  protocol::DigestRecord want{};
  {
    auto lc = ConnectClient(uint16_t(nodes_[leader].binary));
    ASSERT_TRUE(lc->GetDigest(&want).ok());
  }
  for (int i = 0; i < kNodes; i++) {
    protocol::DigestRecord got{};
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    do {
      std::unique_ptr<client::Client> nc;
      client::ClientOptions o;
      o.address = "127.0.0.1:" + std::to_string(nodes_[i].binary);
      o.reconnect_attempts_max = 5;
      if (client::Client::Connect(o, &nc).ok() && nc->GetDigest(&got).ok() && got.op >= want.op)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Clock::now() < deadline);
    EXPECT_EQ(got.op, want.op) << "node e" << i;
    EXPECT_EQ(got.digest_low, want.digest_low) << "node e" << i;
    EXPECT_EQ(got.digest_high, want.digest_high) << "node e" << i;
  }

  // Every acknowledged order is there with its id and content; no key placed twice.
  uint64_t found = 0;
  for (uint64_t key = 1; key <= sent_keys; key++) {
    wire::Code code{};
    wire::OrderRecord record{};
    ASSERT_TRUE(c->GetOrderByKey(key, &code, &record).ok());
    const auto it = acked.find(key);
    if (it != acked.end()) {
      ASSERT_EQ(code, wire::Code::ok) << "acknowledged key " << key << " is missing";
      EXPECT_EQ(record.order_id, it->second) << "key " << key;
      EXPECT_EQ(record.buyer_id, key);
      EXPECT_EQ(record.merchant_id, 1u);
    }
    found += code == wire::Code::ok;
  }
  // The flash sale: acknowledged orders and payments hold; units add up; nothing oversold.
  uint64_t drop_found = 0;
  uint64_t units_held = 0;  // by pending and paid drop orders
  uint64_t units_paid = 0;
  std::map<uint64_t, uint64_t> units_by_buyer;
  for (uint64_t key = kDropKeyBase + 1; key <= drop_sent_keys; key++) {
    wire::Code code{};
    wire::OrderRecord record{};
    ASSERT_TRUE(c->GetOrderByKey(key, &code, &record).ok());
    const auto it = drop_acked.find(key);
    if (it != drop_acked.end()) {
      ASSERT_EQ(code, wire::Code::ok) << "acknowledged drop order key " << key << " is missing";
      EXPECT_EQ(record.order_id, it->second) << "key " << key;
      EXPECT_EQ(record.drop_id, kDrop);
      EXPECT_EQ(record.quantity[0], DropUnits(key));
      if (paid_acked.count(record.order_id) != 0) {
        EXPECT_EQ(record.state, wire::OrderState::kPaid) << "acknowledged payment of " << key;
      }
    }
    if (code != wire::Code::ok || record.state == wire::OrderState::kRejected) continue;
    drop_found++;
    if (record.state == wire::OrderState::kPending || record.state == wire::OrderState::kPaid) {
      units_held += record.quantity[0];
      units_by_buyer[record.buyer_id] += record.quantity[0];
    }
    if (record.state == wire::OrderState::kPaid) units_paid += record.quantity[0];
  }
  wire::Code drop_code{};
  wire::DropRecord drop{};
  ASSERT_TRUE(c->GetDrop(kDrop, &drop_code, &drop).ok());
  ASSERT_EQ(drop_code, wire::Code::ok);
  EXPECT_EQ(uint64_t(drop.available) + drop.reserved + drop.sold + drop.returned, kDropQuota);
  EXPECT_EQ(units_held, uint64_t(drop.reserved) + drop.sold) << "drop units do not add up";
  EXPECT_EQ(units_paid, drop.sold);
  EXPECT_LE(units_held, kDropQuota) << "oversold";
  for (const auto& [buyer, units] : units_by_buyer) {
    EXPECT_LE(units, 2u) << "buyer " << buyer << " got past the per-buyer limit";
  }
  std::printf(
      "flash sale: %zu drop orders acknowledged, %llu present, %zu payments "
      "acknowledged, %llu of %u units sold, %llu reserved\n",
      drop_acked.size(), static_cast<unsigned long long>(drop_found), paid_acked.size(),
      static_cast<unsigned long long>(units_paid), kDropQuota,
      static_cast<unsigned long long>(drop.reserved));
  EXPECT_GT(paid_acked.size(), 100u);

  wire::StatsRecord stats{};
  ASSERT_TRUE(c->GetStats(&stats).ok());
  EXPECT_EQ(stats.orders_accepted, found + drop_found) << "an order was applied twice";
  EXPECT_GT(acked.size(), 100u);
  std::printf("%zu orders acknowledged, %llu present, %d restarts by the supervisor\n",
              acked.size(), static_cast<unsigned long long>(found), restarts_.load());
  EXPECT_GE(restarts_.load(), 1) << "no paused leader exited to rebuild";
}

}  // namespace
}  // namespace eleven::server::testing
