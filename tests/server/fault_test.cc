// Faults seen from a client of the server (docs/server.md, "Faults"): a journal write that
// fails (ENOSPC through the storage layer's FaultEnv) is answered at once — the write with
// 503 replica_failed, every later write and read the same — instead of hanging; /healthz says
// 503 with the reason, /metrics shows it, and stderr has one line naming the file and errno.
// A feed viewer that never reads is closed after feed.write_timeout_ms, and a connection
// over http.connections gets 503 busy; both are counted in /metrics.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "storage/fault_env.h"
#include "tests/server/test_util.h"

namespace eleven::server::testing {
namespace {

// Long enough for a loaded machine, far shorter than a hang (the test's own timeout).
constexpr int kAnswerTimeoutMs = 5000;

// Sends what the process writes to stderr to a file while alive; restores it after.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = dup(2);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() { Restore(); }
  // Restores stderr and returns what was written meanwhile.
  std::string Restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, 2);
      close(saved_);
      saved_ = -1;
    }
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(path_.c_str());
    return text.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

size_t CountOf(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) count++;
  return count;
}

const char kOrder1[] =
    R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})";
const char kOrder2[] =
    R"({"idempotency_key":2,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})";

TEST(ServerFaults, AFullDiskIsAnsweredAt503AndReportedNotHung) {
  TempDataDir dir;
  FaultEnv env(Env::Default(), 1);
  std::unique_ptr<Server> server;
  {
    const ServerConfig config = TestConfig(dir.path());
    ASSERT_TRUE(FormatForConfig(config).ok());
    const Status opened = Server::Open(config, &server, &env);
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    ASSERT_TRUE(server->Start().ok());
  }
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":100})").status, 200);
  HttpReply health = HttpCall(port, "GET", "/healthz");
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(MetricValue(port, "eleven_journal_failed"), 0);

  StderrCapture log("/tmp/eleven-fault-test-" + std::to_string(getpid()) + ".log");
  env.Arm(FaultKind::kNoSpace, FaultTrigger{1, 0, "journal-"});
  const auto started = std::chrono::steady_clock::now();
  const HttpReply failed = HttpCallWithin(port, "POST", "/orders", kOrder1, kAnswerTimeoutMs);
  ASSERT_EQ(failed.status, 503) << "no answer within " << kAnswerTimeoutMs << " ms: " << failed.body;
  EXPECT_NE(failed.body.find("\"error\":\"replica_failed\""), std::string::npos) << failed.body;
  EXPECT_NE(failed.body.find("no space"), std::string::npos) << failed.body;
  std::printf("the failed write was answered in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count()));
  // Later writes and reads: refused at once too (the state holds the undurable order).
  const HttpReply later = HttpCallWithin(port, "POST", "/orders", kOrder2, kAnswerTimeoutMs);
  EXPECT_EQ(later.status, 503) << later.body;
  EXPECT_NE(later.body.find("\"error\":\"replica_failed\""), std::string::npos) << later.body;
  const HttpReply read = HttpCallWithin(port, "GET", "/skus/10", "", kAnswerTimeoutMs);
  EXPECT_EQ(read.status, 503) << read.body;
  EXPECT_NE(read.body.find("\"error\":\"replica_failed\""), std::string::npos) << read.body;
  // The failed state, with its reason: the file and the errno.
  health = HttpCallWithin(port, "GET", "/healthz", "", kAnswerTimeoutMs);
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("\"status\":\"failed\""), std::string::npos) << health.body;
  EXPECT_NE(health.body.find("ENOSPC"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find(dir.path() + "/journal-"), std::string::npos) << health.body;
  EXPECT_EQ(MetricValue(port, "eleven_journal_failed"), 1);

  server->Stop();
  const std::string text = log.Restore();
  std::printf("server log:\n%s", text.c_str());
  EXPECT_EQ(CountOf(text, "the journal failed"), 1u) << text;
  EXPECT_NE(text.find(dir.path() + "/journal-"), std::string::npos) << text;
  EXPECT_NE(text.find("ENOSPC"), std::string::npos) << text;
  server.reset();

  // Nothing refused was recorded: a restart (the disk healthy again) has neither order.
  server = StartServer(TestConfig(dir.path()));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HttpCall(server->http_port(), "GET", "/order-keys/1").status, 404);
  const HttpReply sku = HttpCall(server->http_port(), "GET", "/skus/10");
  EXPECT_NE(sku.body.find("\"available\":100"), std::string::npos) << sku.body;
  EXPECT_EQ(HttpCall(server->http_port(), "POST", "/orders", kOrder1).status, 200);
}

// A loopback connection whose receive buffer is as small as the kernel allows, set before
// connecting (the window it advertises): a viewer that never reads fills it at once.
int ConnectSmallWindow(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int tiny = 1;  // the kernel rounds it up to its minimum
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// An SSE viewer that never reads is closed once an event has waited feed.write_timeout_ms to
// be written (viewers are exempt from the idle timeout), and counted; the feed goes on.
TEST(ServerFaults, AViewerThatNeverReadsIsClosedAfterTheWriteTimeout) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.feed_tick_ms = 5;
  config.feed_write_timeout_ms = 300;
  config.feed_send_buffer_bytes = 4096;
  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":1000000})").status, 200);
  const int viewer = ConnectSmallWindow(port);
  ASSERT_GE(viewer, 0);
  const std::string request = "GET /feed/skus/10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_TRUE(SendAll(viewer, request.data(), request.size()));
  ASSERT_EQ(WaitForMetric(port, "eleven_feed_subscribers", 1), 1);
  // Every order changes the SKU's stock, so (almost) every tick has an event for the viewer,
  // until the kernel's buffers between us are full and a write stalls.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t key = 1;
  while (MetricValue(port, "eleven_feed_slow_closed_total") < 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the stalled viewer was never closed";
    for (int i = 0; i < 20; i++, key++) {
      const std::string order = R"({"idempotency_key":)" + std::to_string(key) +
                                R"(,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})";
      ASSERT_EQ(HttpCall(port, "POST", "/orders", order).status, 200);
    }
  }
  std::printf("closed after %llu orders\n", static_cast<unsigned long long>(key - 1));
  EXPECT_EQ(MetricValue(port, "eleven_feed_slow_closed_total"), 1);
  EXPECT_EQ(WaitForMetric(port, "eleven_feed_subscribers", [](double v) { return v == 0; }), 0);
  EXPECT_TRUE(WaitClosed(viewer, 10000)) << "the server kept the viewer's connection";
  close(viewer);
}

// A connection over http.connections is answered 503 busy (not closed in silence) and
// counted; feed.subscribers must stay below http.connections.
TEST(ServerFaults, AConnectionOverTheLimitIsAnswered503AndCounted) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.http_connection_count_max = 2;
  config.feed_subscriber_count_max = 2;
  Status refused = ValidateServerConfig(config);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("feed.subscribers"), std::string::npos) << refused.ToString();
  config.feed_subscriber_count_max = 1;
  config.idle_timeout_ms = 60000;  // the two held connections stay
  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  // Two connections, each known to the server (each got an answer on it).
  int held[2];
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (int& fd : held) {
    fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, health.data(), health.size()));
    char buffer[12] = {};
    ASSERT_EQ(RecvSome(fd, buffer, sizeof(buffer), 5000), sizeof(buffer));
    ASSERT_EQ(std::string(buffer, sizeof(buffer)), "HTTP/1.1 200");
  }
  const int over = ConnectLoopback(port);
  ASSERT_GE(over, 0);
  std::string reply;
  char buffer[512];
  for (size_t n = 0; (n = RecvSome(over, buffer, 1, 5000)) > 0;) reply.append(buffer, n);
  close(over);
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"error\":\"busy\""), std::string::npos) << reply;
  // The count is read on a held connection: a new one could itself be refused while the
  // server has not yet seen the held ones close, and be counted too.
  const std::string metrics = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(SendAll(held[0], metrics.data(), metrics.size()));
  std::string page;
  for (size_t n = 0; (n = RecvSome(held[0], buffer, sizeof(buffer), 5000)) > 0;) page.append(buffer, n);
  EXPECT_NE(page.find("\neleven_http_connections_refused_total 1\n"), std::string::npos) << page;
  close(held[0]);
  close(held[1]);
}

// A body over http.body_bytes_max is answered 413 at once, and a client that sends the whole
// body before it reads gets that reply: the server reads and drops the rest before it closes
// (closing at once would fail the client's sends, and reset the connection).
TEST(ServerFaults, ABodyOverTheLimitIsAnswered413WhileTheClientStillSends) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.http_body_size_max = 64 << 10;
  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  for (int attempt = 0; attempt < 5; attempt++) {
    const int fd = ConnectLoopback(server->http_port());
    ASSERT_GE(fd, 0);
    const size_t body_size = size_t{4} << 20;
    const std::string head = "POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body_size) + "\r\n\r\n";
    // All of it is sent before the reply is read, as simple clients do: no send may fail (a
    // server that closed at once would make them fail, EPIPE or a reset, and such a client
    // never reads the reply), and the reply waits in our socket.
    const std::string body(body_size, ' ');
    ASSERT_TRUE(SendAll(fd, head.data(), head.size()));
    EXPECT_TRUE(SendAll(fd, body.data(), body.size())) << "attempt " << attempt << ": " << std::strerror(errno);
    shutdown(fd, SHUT_WR);
    std::string reply;
    char buffer[4096];
    for (size_t n = 0; (n = RecvSome(fd, buffer, sizeof(buffer), 10000)) > 0;) reply.append(buffer, n);
    close(fd);
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << "attempt " << attempt << ": " << reply;
    EXPECT_NE(reply.find("\"error\":\"too_large\""), std::string::npos) << reply;
  }
}

}  // namespace
}  // namespace eleven::server::testing
