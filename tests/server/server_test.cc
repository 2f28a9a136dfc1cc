// End to end over loopback: the binary protocol through the C++ client (batches, queries,
// many requests in flight, auto-batching, idempotent resend across a restart), and bad
// input on raw sockets (garbage, malformed and oversize frames, half a frame then silence):
// each gets a clear status or a close, the server stays up, and the state is unchanged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <random>

#include "client/client.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using client::Client;

void LoadCatalog(Client* c) {
  std::vector<wire::Command> commands = {
      wire::MakeCreateMerchant(1, "CN", 0),
      wire::MakeCreateSku(10, 1, 500, 100, 0),
      wire::MakeCreateSku(11, 1, 900, 5, 1),
  };
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(commands, &results).ok());
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.code, wire::Code::ok);
}

wire::Command Order(uint64_t key, uint64_t buyer, uint64_t sku, uint16_t quantity) {
  return wire::MakePlaceOrder(key, 1, buyer, 7, 2, {{sku, quantity}});
}

TEST(ServerTest, SubmitQueryAndIdempotentRepeat) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  auto c = ConnectClient(server->binary_port());
  LoadCatalog(c.get());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(77, 5, 10, 3)}, &results).ok());
  ASSERT_EQ(results[0].code, wire::Code::ok);
  EXPECT_EQ(results[0].amount_fen, 1500);
  const uint64_t order_id = results[0].id;
  // The same key again (a client's retry): the first result, no second order.
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(77, 5, 10, 3)}, &results).ok());
  EXPECT_EQ(results[0].id, order_id);
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(c->GetSku(10, &code, &sku).ok());
  EXPECT_EQ(code, wire::Code::ok);
  EXPECT_EQ(sku.available, 97u);
  EXPECT_EQ(sku.reserved, 3u);
  wire::OrderRecord order;
  ASSERT_TRUE(c->GetOrderByKey(77, &code, &order).ok());
  EXPECT_EQ(code, wire::Code::ok);
  EXPECT_EQ(order.order_id, order_id);
  ASSERT_TRUE(c->GetOrder(order_id + 100, &code, &order).ok());
  EXPECT_EQ(code, wire::Code::order_not_found);
  ASSERT_TRUE(c->Ping().ok());
}

TEST(ServerTest, ManyRequestsInFlightAndAutoBatching) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  auto c = ConnectClient(server->binary_port());
  LoadCatalog(c.get());
  constexpr int kRequests = 200;
  std::vector<std::future<client::SubmitOutcome>> futures;
  std::vector<wire::Command> batch;
  for (int i = 0; i < 50; i++) batch.push_back(Order(1000 + i, 100 + i, 10, 1));
  for (int i = 0; i < kRequests; i++) futures.push_back(c->Submit(std::span(batch).subspan(i % 50, 1)));
  int ok = 0;
  for (auto& f : futures) {
    auto outcome = f.get();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    ok += outcome.results[0].code == wire::Code::ok;
  }
  EXPECT_EQ(ok, kRequests);  // repeats of a key are answered ok with the first result
  std::atomic<int> done{0};
  std::promise<void> all;
  constexpr int kSingles = 300;
  for (int i = 0; i < kSingles; i++) {
    c->Add(Order(5000 + i, 900 + i, 10, 0), [&](const Status& s, const wire::Result& r) {
      EXPECT_TRUE(s.ok());
      EXPECT_EQ(r.code, wire::Code::invalid_quantity);
      if (++done == kSingles) all.set_value();
    });
  }
  all.get_future().wait();
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(c->GetSku(10, &code, &sku).ok());
  EXPECT_EQ(sku.reserved, 50u);  // 50 distinct keys, one unit each
}

// Four clients on one EventLoop (one I/O thread). One is destroyed with requests in flight
// and singles still lingering: each of its callbacks runs once, ok or "client closed", and
// the others go on. A connect that fails leaves the loop to the clients still on it.
TEST(ServerTest, ClientsShareAnEventLoopAndCloseAlone) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  auto loop = std::make_shared<client::EventLoop>();
  client::ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(server->binary_port());
  options.loop = loop;
  options.linger_us = 10'000'000;  // the singles wait until the client closes
  std::vector<std::unique_ptr<Client>> clients(4);
  for (auto& c : clients) ASSERT_TRUE(Client::Connect(options, &c).ok());
  LoadCatalog(clients[1].get());

  std::atomic<int> closing_ok{0}, closing_closed{0}, singles_closed{0};
  constexpr int kRequests = 40, kSingles = 5;
  std::vector<std::future<client::SubmitOutcome>> others;
  auto on_closing_reply = [&](const Status& s, std::span<const wire::Result> r) {
    if (s.ok() && r.size() == 1 && r[0].code == wire::Code::ok) {
      closing_ok++;
    } else if (s.code() == StatusCode::kUnavailable) {
      closing_closed++;
    }
  };
  for (int i = 0; i < kRequests; i++) {
    clients[0]->Submit(std::vector{Order(100 + i, 1, 10, 1)}, on_closing_reply);
    others.push_back(clients[1 + i % 3]->Submit(std::vector{Order(1000 + i, 2, 10, 1)}));
  }
  for (int i = 0; i < kSingles; i++) {
    clients[0]->Add(Order(500 + i, 3, 10, 1), [&](const Status& s, const wire::Result&) {
      if (s.code() == StatusCode::kUnavailable) singles_closed++;
    });
  }
  clients[0].reset();
  EXPECT_EQ(closing_ok + closing_closed, kRequests);
  EXPECT_EQ(singles_closed, kSingles);
  for (auto& f : others) {
    auto outcome = f.get();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    EXPECT_EQ(outcome.results[0].code, wire::Code::ok);
  }

  // A port nothing listens on: refused, the loop and its other clients untouched.
  client::ClientOptions nowhere = options;
  nowhere.address = "127.0.0.1:1";
  std::unique_ptr<Client> refused;
  const Status status = Client::Connect(nowhere, &refused);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_EQ(refused, nullptr);
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(clients[2]->GetSku(10, &code, &sku).ok());
  // A request failed by the close may have reached the server before it.
  EXPECT_GE(sku.reserved, static_cast<uint32_t>(kRequests + closing_ok));
  EXPECT_LE(sku.reserved, static_cast<uint32_t>(2 * kRequests));
  clients.clear();
  // Nothing of the clients holds the loop any more; the last reference here joins its thread.
  options.loop.reset();
  nowhere.loop.reset();
  EXPECT_EQ(loop.use_count(), 1);
}

// Bytes of a valid submit frame of `commands`.
std::vector<std::byte> SubmitFrame(std::span<const wire::Command> commands, uint64_t request_id) {
  auto body = std::as_bytes(commands);
  const auto header = protocol::MakeHeader(protocol::Operation::kSubmit, protocol::FrameStatus::kOk,
                                           request_id, static_cast<uint32_t>(commands.size()), body, 0);
  std::vector<std::byte> frame(protocol::kHeaderSize + body.size());
  std::memcpy(frame.data(), &header, sizeof(header));
  std::memcpy(frame.data() + protocol::kHeaderSize, body.data(), body.size());
  return frame;
}

// Sends `bytes` on a fresh connection; expects a status reply `want` and then the close.
void ExpectRefused(uint16_t port, const std::vector<std::byte>& bytes, protocol::FrameStatus want) {
  const int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, bytes.data(), bytes.size()));
  protocol::FrameHeader reply;
  ASSERT_EQ(RecvSome(fd, &reply, sizeof(reply), 3000), sizeof(reply));
  EXPECT_EQ(reply.magic, protocol::kMagic);
  EXPECT_EQ(reply.status, want) << protocol::FrameStatusName(reply.status);
  EXPECT_EQ(reply.body_size, 0u);
  EXPECT_TRUE(WaitClosed(fd, 3000));
  close(fd);
}

struct Snapshot {
  Digest128 digest;
  uint64_t op = 0;
};

TEST(ServerTest, BadFramesChangeNothing) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.frame_body_size_max = 64 * 128;
  config.engine.batch_command_count_max = 64;
  Snapshot before;
  {
    auto server = StartServer(config);
    auto c = ConnectClient(server->binary_port());
    LoadCatalog(c.get());
    c.reset();
    server->Stop();
    before = {server->engine().Digest(), server->engine().last_op()};
  }
  auto server = StartServer(config);
  const uint16_t port = server->binary_port();
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  std::vector<wire::Command> order = {Order(1, 2, 10, 1)};
  // Garbage.
  std::vector<std::byte> garbage(300);
  for (auto& b : garbage) b = static_cast<std::byte>(random());
  garbage[0] = std::byte{'G'};  // never the magic by chance
  ExpectRefused(port, garbage, protocol::FrameStatus::kBadMagic);
  // HTTP spoken to the binary port.
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::byte> http_bytes(get.size());
  std::memcpy(http_bytes.data(), get.data(), get.size());
  ExpectRefused(port, http_bytes, protocol::FrameStatus::kBadMagic);
  // A flipped header byte, a flipped body byte, a wrong version, a wrong record count.
  auto frame = SubmitFrame(order, 1);
  frame[12] ^= std::byte{1};
  ExpectRefused(port, frame, protocol::FrameStatus::kBadHeaderChecksum);
  frame = SubmitFrame(order, 2);
  frame[protocol::kHeaderSize + 20] ^= std::byte{1};
  ExpectRefused(port, frame, protocol::FrameStatus::kBadBodyChecksum);
  frame = SubmitFrame(order, 3);
  protocol::FrameHeader h;
  std::memcpy(&h, frame.data(), sizeof(h));
  h.version = 9;
  protocol::SealHeader(&h);
  std::memcpy(frame.data(), &h, sizeof(h));
  ExpectRefused(port, frame, protocol::FrameStatus::kBadVersion);
  std::memcpy(&h, SubmitFrame(order, 4).data(), sizeof(h));
  h.record_count = 2;
  protocol::SealHeader(&h);
  std::memcpy(frame.data(), &h, sizeof(h));
  ExpectRefused(port, frame, protocol::FrameStatus::kBadBodySize);
  // Oversize: refused from the header alone, before the body is sent.
  std::vector<wire::Command> many(65, Order(1, 2, 10, 1));
  frame = SubmitFrame(many, 5);
  frame.resize(protocol::kHeaderSize);
  ExpectRefused(port, frame, protocol::FrameStatus::kFrameTooLarge);
  // Half a frame, then silence: closed after the idle timeout with idle_timeout.
  frame = SubmitFrame(order, 6);
  frame.resize(frame.size() / 2);
  ExpectRefused(port, frame, protocol::FrameStatus::kIdleTimeout);
  // The server is still up and serves a good client.
  auto c = ConnectClient(port);
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(c->GetSku(10, &code, &sku).ok());
  EXPECT_EQ(sku.available, 100u);
  c.reset();
  server->Stop();
  EXPECT_EQ(server->engine().last_op(), before.op);  // nothing reached the log
  EXPECT_EQ(server->engine().Digest(), before.digest);
}

TEST(ServerTest, ClientResendsAcrossServerRestart) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  auto server = StartServer(config);
  const uint16_t port = server->binary_port();
  auto c = ConnectClient(port);
  LoadCatalog(c.get());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{Order(42, 9, 10, 2)}, &results).ok());
  const uint64_t order_id = results[0].id;
  server.reset();  // the connection breaks
  config.listen = "127.0.0.1:" + std::to_string(port);
  // Sent while the server is down: the client reconnects and sends it (and a repeat of the
  // first order, whose key must give the same order).
  auto pending = c->Submit(std::vector{Order(43, 9, 10, 1), Order(42, 9, 10, 2)});
  server = StartServer(config);
  auto outcome = pending.get();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
  EXPECT_EQ(outcome.results[0].code, wire::Code::ok);
  EXPECT_EQ(outcome.results[1].id, order_id);
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(c->GetSku(10, &code, &sku).ok());
  EXPECT_EQ(sku.reserved, 3u);
  EXPECT_GE(c->stats().reconnects, 1u);
}

// Both ways of writing them: the follower (the default) and a forked child.
class SnapshotModeTest : public ::testing::TestWithParam<bool> {};

TEST_P(SnapshotModeTest, SnapshotsAreTakenInTheBackgroundAndShortenRecovery) {
#ifdef ELEVEN_SANITIZE
  // GCC 12's ASan runtime takes no allocator lock around fork() (it has no fork interceptor),
  // so a child forked while another thread of this process (the test's HTTP polling, the
  // server's I/O thread, the client's) is inside the allocator's slow path waits on that lock
  // forever: one CI run of 2026-11-26 hung here. glibc's malloc is fork-safe; the release
  // build runs this case, and the replica's own fork tests run under ASan.
  if (!GetParam()) {
    GTEST_SKIP() << "fork-mode server in a many-threaded process under ASan (see the comment)";
  }
#endif
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.snapshot_journal_bytes = 1;  // after every journal write, when none is running
  config.snapshot_follower = GetParam();
  auto server = StartServer(config);
  auto c = ConnectClient(server->binary_port());
  LoadCatalog(c.get());
  ASSERT_GE(WaitForMetric(server->http_port(), "eleven_snapshots_total", 1), 1);
  std::vector<wire::Result> results;
  for (uint64_t key = 1; key <= 20; key++) {
    ASSERT_TRUE(c->SubmitSync(std::vector{Order(key, key, 10, 1)}, &results).ok());
    ASSERT_EQ(results[0].code, wire::Code::ok);
  }
  ASSERT_GE(WaitForMetric(server->http_port(), "eleven_snapshots_total", 2), 2);
  EXPECT_EQ(MetricValue(server->http_port(), "eleven_snapshot_failures_total"), 0);
  const double snapshot_op = MetricValue(server->http_port(), "eleven_snapshot_op");
  EXPECT_GE(snapshot_op, 2);  // one taken after some of the orders
  const double followed = MetricValue(server->http_port(), "eleven_snapshot_follower_op");
  if (GetParam()) {
    EXPECT_GE(followed, snapshot_op);
  } else {
    EXPECT_EQ(followed, 0);
  }
  c.reset();
  server.reset();

  server = StartServer(config);
  const replica::RecoveryReport& recovery = server->recovery();
  EXPECT_TRUE(recovery.snapshot_found) << recovery.ToString();
  EXPECT_GE(double(recovery.snapshot_op), snapshot_op);
  EXPECT_EQ(recovery.snapshot_op + recovery.entries_replayed, recovery.op_last) << recovery.ToString();
  EXPECT_LT(recovery.entries_replayed, recovery.op_last);
  c = ConnectClient(server->binary_port());
  wire::Code code;
  wire::SkuRecord sku;
  ASSERT_TRUE(c->GetSku(10, &code, &sku).ok());
  EXPECT_EQ(sku.reserved, 20u);  // nothing acknowledged was lost
}

INSTANTIATE_TEST_SUITE_P(Modes, SnapshotModeTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Follower" : "Fork"; });

// Every group commit is timed into eleven_journal_sync_seconds: 20 orders sent one after
// another's durable reply need 20 syncs at least, and the histogram counts what the journal
// counts.
TEST(ServerTest, MetricsTimeEveryJournalSync) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  auto c = ConnectClient(server->binary_port());
  LoadCatalog(c.get());
  std::vector<wire::Result> results;
  for (uint64_t key = 1; key <= 20; key++) {
    ASSERT_TRUE(c->SubmitSync(std::vector{Order(key, key, 10, 1)}, &results).ok());
    ASSERT_EQ(results[0].code, wire::Code::ok);
  }
  const uint16_t port = server->http_port();
  const double timed = MetricValue(port, "eleven_journal_sync_seconds_count");
  EXPECT_GE(timed, 20);
  EXPECT_EQ(MetricValue(port, "eleven_journal_sync_seconds_bucket{le=\"+Inf\"}"), timed);
  EXPECT_GT(MetricValue(port, "eleven_journal_sync_seconds_sum"), 0);
  // The engine thread copies the journal's own count on its next pass.
  EXPECT_GE(WaitForMetric(port, "eleven_journal_syncs_total", timed), timed);
}

}  // namespace
}  // namespace eleven::server::testing
