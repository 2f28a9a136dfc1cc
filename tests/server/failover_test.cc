// The C++ client in a replica set (docs/protocol.md, "Failover"): fake nodes speak the real
// frame code (protocol.h) and answer every request not_leader (naming a leader, or none),
// replica_failed or shutting_down, the way followers and failing nodes do; real servers
// started in process sequence the writes. The client must end up on the node that serves,
// with every request applied exactly once (by idempotency key and by the engine's
// counters), and a redirect loop must end in a clear failure within its bound. `eleven
// bench` and `eleven festival` take the nodes in --connect.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "client/client.h"
#include "client/keys.h"
#include "client/protocol.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using client::Client;
using client::ClientOptions;
using protocol::FrameStatus;
using Clock = std::chrono::steady_clock;

constexpr int kPollMs = 10;
constexpr size_t kFakeReadSizeMax = 1 << 20;

// A node on an ephemeral loopback port that answers every request frame (authenticate too)
// with a status reply: not_leader with `leader` as its body, or replica_failed /
// shutting_down; or, given kOk, closes the connection instead (a node dying with the
// request). With an upstream port, it first forwards the frame to that server and reads
// its reply (the server applies it), then answers its own status anyway: a leader deposed
// after applying, whose client never hears the result. It keeps every frame it got.
class FakeNode {
 public:
  explicit FakeNode(FrameStatus status, std::string leader = "", uint16_t upstream_port = 0)
      : status_(status), upstream_port_(upstream_port), leader_(std::move(leader)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t size = sizeof(address);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size), 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeNode() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_leader(const std::string& leader) {
    std::lock_guard<std::mutex> lock(mutex_);
    leader_ = leader;
  }
  // The request frames received (header and body, as sent), in order.
  std::vector<std::vector<std::byte>> frames() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frames_;
  }
  size_t frame_count() const { return frames().size(); }

 private:
  struct Connection {
    int fd = -1;
    std::vector<std::byte> in;
  };

  void Run() {
    std::vector<Connection> connections;
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (const Connection& c : connections) fds.push_back({c.fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), kPollMs) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) connections.push_back({fd, {}});
      }
      for (size_t i = 1; i < fds.size(); i++) {
        if (fds[i].revents == 0) continue;
        Connection& c = connections[i - 1];
        if (!Serve(&c)) {
          close(c.fd);
          c.fd = -1;
        }
      }
      std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });
    }
    for (const Connection& c : connections) close(c.fd);
  }

  // Reads what arrived and answers each whole frame; false when the connection is over.
  bool Serve(Connection* c) {
    std::byte buffer[64 * 1024];
    const ssize_t got = read(c->fd, buffer, sizeof(buffer));
    if (got <= 0) return false;
    c->in.insert(c->in.end(), buffer, buffer + got);
    EXPECT_LE(c->in.size(), kFakeReadSizeMax);
    size_t at = 0;
    for (;;) {
      protocol::FrameHeader header;
      const protocol::ParseResult parsed =
          protocol::ParseRequest(std::span(c->in).subspan(at), protocol::FrameLimits{}, &header);
      if (parsed.state == protocol::ParseState::kNeedMore) break;
      if (parsed.state == protocol::ParseState::kError) {
        ADD_FAILURE() << "the client sent a bad frame: " << protocol::FrameStatusName(parsed.error);
        return false;
      }
      const std::span<const std::byte> frame = std::span(c->in).subspan(at, parsed.frame_size);
      std::string leader;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        frames_.emplace_back(frame.begin(), frame.end());
        leader = leader_;
      }
      if (upstream_port_ != 0) Forward(frame);
      if (status_ == FrameStatus::kOk) return false;
      const auto body = status_ == FrameStatus::kNotLeader ? std::as_bytes(std::span(leader))
                                                           : std::span<const std::byte>();
      const protocol::FrameHeader reply =
          protocol::MakeHeader(header.operation, status_, header.request_id, 0, body, 0);
      if (!SendAll(c->fd, &reply, sizeof(reply)) || !SendAll(c->fd, body.data(), body.size()))
        return false;
      at += parsed.frame_size;
    }
    c->in.erase(c->in.begin(), c->in.begin() + at);
    return true;
  }

  // Sends `frame` to the upstream server on a connection of its own and waits for its reply
  // (the server has then applied it, durably).
  void Forward(std::span<const std::byte> frame) {
    const int fd = ConnectLoopback(upstream_port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, frame.data(), frame.size()));
    std::vector<std::byte> reply(protocol::kHeaderSize);
    ASSERT_EQ(RecvSome(fd, reply.data(), reply.size(), 10000), reply.size()) << "no reply upstream";
    protocol::FrameHeader header;
    std::memcpy(&header, reply.data(), sizeof(header));
    ASSERT_LE(header.body_size, kFakeReadSizeMax);
    reply.resize(protocol::kHeaderSize + header.body_size);
    ASSERT_EQ(RecvSome(fd, reply.data() + protocol::kHeaderSize, header.body_size, 10000),
              header.body_size);
    close(fd);
    const protocol::ParseResult parsed = protocol::ParseReply(reply, kFakeReadSizeMax, &header);
    ASSERT_EQ(parsed.state, protocol::ParseState::kFrame);
    EXPECT_EQ(header.status, FrameStatus::kOk);
  }

  const FrameStatus status_;
  const uint16_t upstream_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string leader_;
  std::vector<std::vector<std::byte>> frames_;
  std::thread thread_;
};

std::string AddressOf(const Server& server) {
  return "127.0.0.1:" + std::to_string(server.binary_port());
}

std::unique_ptr<Client> ConnectTo(std::vector<std::string> addresses, const std::string& key = "",
                                  uint32_t attempts_max = 200) {
  ClientOptions options;
  options.addresses = std::move(addresses);
  options.key = key;
  options.request_timeout_ms = 20000;
  options.reconnect_attempts_max = attempts_max;
  std::unique_ptr<Client> c;
  const Status status = Client::Connect(options, &c);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return c;
}

std::vector<wire::Command> Catalog() {
  return {wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 1000, 0)};
}

wire::Command Order(uint64_t key) {
  return wire::MakePlaceOrder(key, 1, 100 + key, 7, 2, {{10, 1}});
}

wire::StatsRecord StatsOf(Client* c) {
  wire::StatsRecord stats{};
  const Status s = c->GetStats(&stats);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return stats;
}

// Each key names exactly one order, placed by that key's buyer.
void ExpectOneOrderPerKey(Client* c, uint64_t key_first, uint64_t key_last) {
  for (uint64_t key = key_first; key <= key_last; key++) {
    wire::Code code;
    wire::OrderRecord order{};
    ASSERT_TRUE(c->GetOrderByKey(key, &code, &order).ok());
    ASSERT_EQ(code, wire::Code::ok) << "key " << key;
    EXPECT_EQ(order.buyer_id, 100 + key);
  }
}

// A follower naming the leader (an address not in the client's list): the client goes
// there and re-sends everything the follower refused, byte for byte; each order is placed
// once.
TEST(Failover, AFollowerNamingTheLeaderSendsTheClientThere) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  FakeNode follower(FrameStatus::kNotLeader, AddressOf(*server));
  auto c = ConnectTo({follower.address()});  // no key: the connection to the follower opens
  ASSERT_NE(c, nullptr);

  // The catalog and 20 requests of 5 orders, all sent before any reply.
  constexpr uint64_t kRequests = 20, kPerRequest = 5;
  std::vector<std::future<client::SubmitOutcome>> outcomes;
  outcomes.push_back(c->Submit(Catalog()));
  for (uint64_t r = 0; r < kRequests; r++) {
    std::vector<wire::Command> orders;
    for (uint64_t i = 1; i <= kPerRequest; i++) orders.push_back(Order(r * kPerRequest + i));
    outcomes.push_back(c->Submit(orders));
  }
  std::set<uint64_t> order_ids;
  for (size_t r = 0; r < outcomes.size(); r++) {
    client::SubmitOutcome outcome = outcomes[r].get();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    for (const wire::Result& result : outcome.results) {
      EXPECT_EQ(result.code, wire::Code::ok);
      EXPECT_FALSE(wire::IsReplay(result));  // the follower applied nothing
      if (r > 0) order_ids.insert(result.id);
    }
  }
  EXPECT_EQ(order_ids.size(), kRequests * kPerRequest);
  ExpectOneOrderPerKey(c.get(), 1, kRequests * kPerRequest);
  const wire::StatsRecord stats = StatsOf(c.get());
  EXPECT_EQ(stats.orders_accepted, kRequests * kPerRequest);
  EXPECT_EQ(stats.orders_replayed, 0u);

  // The follower got the first request (the catalog) as the client built it, and answered
  // not_leader once: the client stayed on the leader after that.
  const auto frames = follower.frames();
  ASSERT_GE(frames.size(), 1u);
  const auto catalog = Catalog();
  const auto catalog_bytes = std::as_bytes(std::span(catalog));
  ASSERT_EQ(frames[0].size(), protocol::kHeaderSize + catalog_bytes.size());
  EXPECT_EQ(std::memcmp(frames[0].data() + protocol::kHeaderSize, catalog_bytes.data(),
                        catalog_bytes.size()),
            0);
  const client::ClientStats client_stats = c->stats();
  EXPECT_EQ(client_stats.redirects, 1u);
  EXPECT_GE(client_stats.resends, frames.size());
}

// With a key, the follower answers even authenticate not_leader: Connect follows it to the
// leader and authenticates there.
TEST(Failover, ConnectFollowsNotLeaderToTheLeaderAndAuthenticatesThere) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  std::string key;
  {
    auto anonymous = ConnectClient(server->binary_port());
    wire::Code code;
    uint64_t key_id = 0;
    ASSERT_TRUE(anonymous->CreateKey(wire::Role::kOperator, 0, &code, &key_id, &key).ok());
    ASSERT_EQ(code, wire::Code::ok);
  }
  FakeNode follower(FrameStatus::kNotLeader, AddressOf(*server));
  auto c = ConnectTo({follower.address()}, key);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->authenticated().key_id, 0u);
  EXPECT_EQ(c->stats().redirects, 1u);
  ASSERT_EQ(follower.frame_count(), 1u);
  protocol::FrameHeader first;
  std::memcpy(&first, follower.frames()[0].data(), sizeof(first));
  EXPECT_EQ(first.operation, protocol::Operation::kAuthenticate);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  EXPECT_EQ(results[1].code, wire::Code::ok);
}

// With several addresses, Connect passes over a node that refuses the key (one that has not
// applied its creation yet, say) to one that accepts it; when none does, it fails
// unauthenticated, naming them.
TEST(Failover, ConnectPassesOverANodeThatRefusesTheKey) {
  TempDataDir dir_a, dir_b;
  auto a = StartServer(TestConfig(dir_a.path()));
  auto b = StartServer(TestConfig(dir_b.path()));
  std::string key;
  {
    auto anonymous = ConnectClient(b->binary_port());
    wire::Code code;
    uint64_t key_id = 0;
    ASSERT_TRUE(anonymous->CreateKey(wire::Role::kOperator, 0, &code, &key_id, &key).ok());
    ASSERT_EQ(code, wire::Code::ok);
  }
  auto c = ConnectTo({AddressOf(*a), AddressOf(*b)}, key);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->authenticated().key_id, 0u);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);

  ClientOptions options;
  options.addresses = {AddressOf(*a), AddressOf(*a)};
  options.key = key;
  std::unique_ptr<Client> refused;
  const Status s = Client::Connect(options, &refused);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(
      s.message().find("unauthenticated: no node accepted the key: " + AddressOf(*a) + ": refused"),
      std::string::npos)
      << s.ToString();
  EXPECT_EQ(refused, nullptr);
}

// A node that takes the connection and never answers authenticate: Connect gives it
// connect_timeout_ms, then goes on to the next address.
TEST(Failover, ConnectPassesOverASilentNodeAfterItsTimeout) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  std::string key;
  {
    auto anonymous = ConnectClient(server->binary_port());
    wire::Code code;
    uint64_t key_id = 0;
    ASSERT_TRUE(anonymous->CreateKey(wire::Role::kOperator, 0, &code, &key_id, &key).ok());
  }
  // Listening, never accepting: the kernel completes the connection; nothing answers.
  const int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(silent, 4), 0);
  socklen_t size = sizeof(address);
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&address), &size), 0);
  ClientOptions options;
  options.addresses = {"127.0.0.1:" + std::to_string(ntohs(address.sin_port)), AddressOf(*server)};
  options.key = key;
  options.connect_timeout_ms = 300;
  const auto start = Clock::now();
  std::unique_ptr<Client> c;
  const Status s = Client::Connect(options, &c);
  const auto elapsed = Clock::now() - start;
  close(silent);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(elapsed, std::chrono::milliseconds(options.connect_timeout_ms));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_NE(c->authenticated().key_id, 0u);
}

// A node that knows no leader (an empty not_leader body): the next address is tried. The
// first address is dead: Connect skips it.
TEST(Failover, NotLeaderWithNoAddressTriesTheNextOne) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  FakeNode orphan(FrameStatus::kNotLeader, "");
  std::string dead;
  {
    FakeNode gone(FrameStatus::kNotLeader);
    dead = gone.address();
  }  // its port now refuses connections
  auto c = ConnectTo({dead, orphan.address(), AddressOf(*server)});
  ASSERT_NE(c, nullptr);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(1)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_EQ(orphan.frame_count(), 1u);  // the catalog, once; then the client stayed
  EXPECT_EQ(c->stats().redirects, 1u);
  EXPECT_EQ(StatsOf(c.get()).orders_accepted, 1u);
}

// Two nodes naming each other: the hunt ends after reconnect_attempts_max tries, each after
// reconnect_delay_ms but the first, with an error naming the loop; it never spins. Once the
// loop is broken (a node names the real leader), the next request gets through.
TEST(Failover, ARedirectLoopFailsWithinTheBound) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  FakeNode a(FrameStatus::kNotLeader), b(FrameStatus::kNotLeader);
  a.set_leader(b.address());
  b.set_leader(a.address());
  constexpr uint32_t kAttemptsMax = 10;
  ClientOptions options;
  options.addresses = {a.address()};
  options.reconnect_attempts_max = kAttemptsMax;
  options.reconnect_delay_ms = 20;
  std::unique_ptr<Client> c;
  ASSERT_TRUE(Client::Connect(options, &c).ok());
  const auto start = Clock::now();
  std::vector<wire::Result> results;
  const Status s = c->SubmitSync(Catalog(), &results);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("no node of " + a.address() + " serves"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("not_leader"), std::string::npos) << s.ToString();
  // Each try but the first waited: no spin. And it ended well before a timeout.
  EXPECT_GE(elapsed, std::chrono::milliseconds((kAttemptsMax - 1) * options.reconnect_delay_ms));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  const uint64_t redirects = c->stats().redirects;
  EXPECT_EQ(a.frame_count() + b.frame_count(), redirects);  // one request per try, each refused
  EXPECT_GE(redirects, kAttemptsMax);
  EXPECT_LE(redirects, kAttemptsMax + 1);

  // With a key, the same loop answered to authenticate fails Connect the same way.
  {
    ClientOptions keyed = options;
    keyed.key = client::NewKeySecret();
    std::unique_ptr<Client> refused;
    const Status connect = Client::Connect(keyed, &refused);
    EXPECT_EQ(connect.code(), StatusCode::kUnavailable) << connect.ToString();
    EXPECT_NE(connect.message().find("not_leader"), std::string::npos) << connect.ToString();
    EXPECT_EQ(refused, nullptr);
  }

  b.set_leader(AddressOf(*server));
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  EXPECT_EQ(results[1].code, wire::Code::ok);
}

// A node that applied the request and then answers replica_failed (or shutting_down), with
// several addresses: the request goes to the next node, whose engine answers it from the
// first application (replayed), so it is placed once. With one address the request fails,
// as before.
class GoingAwayTest : public ::testing::TestWithParam<FrameStatus> {};

TEST_P(GoingAwayTest, WithSeveralAddressesTheRequestGoesToTheNextNode) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  {
    auto setup = ConnectClient(server->binary_port());
    std::vector<wire::Result> results;
    ASSERT_TRUE(setup->SubmitSync(Catalog(), &results).ok());
  }
  FakeNode failing(GetParam(), "", server->binary_port());
  auto c = ConnectTo({failing.address(), AddressOf(*server)});
  ASSERT_NE(c, nullptr);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(7)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_TRUE(wire::IsReplay(results[0]));  // the failing node's upstream applied it first
  EXPECT_EQ(failing.frame_count(), 1u);
  ExpectOneOrderPerKey(c.get(), 7, 7);
  const wire::StatsRecord stats = StatsOf(c.get());
  EXPECT_EQ(stats.orders_accepted, 1u);
  EXPECT_EQ(stats.orders_replayed, 1u);
  EXPECT_EQ(c->stats().redirects, 0u);
  EXPECT_GE(c->stats().reconnects, 1u);

  auto alone = ConnectTo({failing.address()});
  ASSERT_NE(alone, nullptr);
  const Status s = alone->SubmitSync(std::vector{Order(8)}, &results);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(protocol::FrameStatusName(GetParam())), std::string::npos)
      << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Statuses, GoingAwayTest,
                         ::testing::Values(FrameStatus::kReplicaFailed, FrameStatus::kShuttingDown),
                         [](const auto& info) {
                           return std::string(protocol::FrameStatusName(info.param));
                         });

// A broken connection goes to the next address: the first node stops, and what is sent
// meanwhile lands on the second.
TEST(Failover, ABrokenConnectionGoesToTheNextAddress) {
  TempDataDir dir_a, dir_b;
  auto a = StartServer(TestConfig(dir_a.path()));
  auto b = StartServer(TestConfig(dir_b.path()));
  auto watch_b = ConnectClient(b->binary_port());
  auto last_op_b = [&] {
    protocol::DigestRecord digest{};
    EXPECT_TRUE(watch_b->GetDigest(&digest).ok());
    return digest.op;
  };
  const uint64_t b_op = last_op_b();
  ClientOptions options;
  options.address = AddressOf(*a) + "," + AddressOf(*b);  // the list in one string
  std::unique_ptr<Client> c;
  ASSERT_TRUE(Client::Connect(options, &c).ok());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  EXPECT_EQ(last_op_b(), b_op);  // on a
  a.reset();                     // the connection breaks; the port refuses
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  EXPECT_EQ(results[1].code, wire::Code::ok);
  EXPECT_EQ(last_op_b(), b_op + 1);
  EXPECT_GE(c->stats().reconnects, 1u);
  EXPECT_EQ(c->stats().redirects, 0u);
}

// A node that dies with a request in flight: the request goes to the next address (the
// node applied it first, so the next one answers it replayed).
TEST(Failover, ANodeDyingWithARequestInFlightSendsItToTheNextAddress) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  {
    auto setup = ConnectClient(server->binary_port());
    std::vector<wire::Result> results;
    ASSERT_TRUE(setup->SubmitSync(Catalog(), &results).ok());
  }
  FakeNode dying(FrameStatus::kOk, "", server->binary_port());
  auto c = ConnectTo({dying.address(), AddressOf(*server)});
  ASSERT_NE(c, nullptr);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(9)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_TRUE(wire::IsReplay(results[0]));
  EXPECT_EQ(dying.frame_count(), 1u);  // not tried again first: it had the request in flight
  const wire::StatsRecord stats = StatsOf(c.get());
  EXPECT_EQ(stats.orders_accepted, 1u);
  EXPECT_EQ(stats.orders_replayed, 1u);
}

// A connection the server closes as idle (idle_timeout) is no failover: the client comes
// back to the same node, not to the next address.
TEST(Failover, AnIdleCloseReconnectsToTheSameNode) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));  // idle_timeout_ms 1000
  FakeNode orphan(FrameStatus::kNotLeader, "");
  auto c = ConnectTo({AddressOf(*server), orphan.address()});
  ASSERT_NE(c, nullptr);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(Catalog(), &results).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (c->stats().reconnects == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  ASSERT_GE(c->stats().reconnects, 1u) << "the server never closed the idle connection";
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(1)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_EQ(c->stats().redirects, 0u);
  EXPECT_EQ(orphan.frame_count(), 0u);
}

// Runs `eleven` with `arguments`; its exit code, and its output (both streams) in *output.
int RunEleven(const std::string& arguments, std::string* output) {
  const std::string command = std::string(ELEVEN_BINARY) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, got);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `eleven bench --connect` takes a replica set's nodes: through a follower first, the
// connections end up on the leader and nothing fails; a malformed list is refused, and so
// is one given to `eleven festival --connect`.
TEST(Failover, BenchAndFestivalTakeSeveralAddresses) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  {
    // W1's first SKU: bench then loads no catalog (orders of other SKUs are rejected).
    auto setup = ConnectClient(server->binary_port());
    std::vector<wire::Result> results;
    ASSERT_TRUE(setup
                    ->SubmitSync(std::vector{wire::MakeCreateMerchant(1, "CN", 0),
                                             wire::MakeCreateSku(1, 1, 990, 1000, 0)},
                                 &results)
                    .ok());
  }
  FakeNode follower(FrameStatus::kNotLeader, "");
  std::string output;
  EXPECT_EQ(RunEleven("bench --connect " + follower.address() + "," + AddressOf(*server) +
                          " --connections 2 --batch 10 --seconds 0.3",
                      &output),
            0)
      << output;
  EXPECT_NE(output.find("catalog: present"), std::string::npos) << output;
  EXPECT_NE(output.find(", 0 failed)"), std::string::npos) << output;
  EXPECT_NE(output.find("not_leader redirects followed"), std::string::npos) << output;
  EXPECT_GE(follower.frame_count(), 2u);  // each connection's first request went there

  for (const std::string& command : {std::string("bench"), std::string("festival")}) {
    output.clear();
    EXPECT_EQ(RunEleven(command + " --connect " + AddressOf(*server) + ",nonsense", &output), 2)
        << output;
    EXPECT_NE(output.find("--connect: address must be host:port: \"nonsense\""), std::string::npos)
        << output;
  }
}

// Addresses the client cannot use are refused at Connect.
TEST(Failover, ConnectRefusesMalformedAddressLists) {
  std::unique_ptr<Client> c;
  ClientOptions options;
  options.address = "127.0.0.1:1,nonsense";
  EXPECT_EQ(Client::Connect(options, &c).code(), StatusCode::kInvalidArgument);
  options.addresses = std::vector<std::string>(client::kAddressCountMax + 1, "127.0.0.1:1");
  EXPECT_EQ(Client::Connect(options, &c).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eleven::server::testing
