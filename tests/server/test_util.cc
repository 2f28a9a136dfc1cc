#include "tests/server/test_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <simdjson.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "replica/replica.h"
#include "storage/data_dir.h"
#include "storage/env.h"

namespace eleven::server::testing {

TempDataDir::TempDataDir() {
  std::random_device random;
  path_ = "/tmp/eleven-server-test-" + std::to_string(getpid()) + "-" + std::to_string(random());
}

TempDataDir::~TempDataDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ServerConfig TestConfig(const std::string& data_dir) {
  ServerConfig config;
  config.data_dir = data_dir;
  config.listen = "127.0.0.1:0";
  config.http = "127.0.0.1:0";
  config.engine.merchant_count_max = 1024;
  config.engine.sku_count_max = 4096;
  config.engine.drop_count_max = 256;
  config.engine.order_slot_count = 1 << 16;
  config.engine.holding_count_max = 1 << 14;
  config.staging_size_bytes = 8 << 20;
  config.journal_segment_bytes = 1 << 20;  // small segments, rolled often,
  config.journal_prepare_segments = true;  // and prepared: the server tests run over zero fills
  config.idle_timeout_ms = 1000;
  config.feed_tick_ms = 20;
  // The server tests act as the local operator; tests of access control set keys up.
  config.anonymous_operator = true;
  return config;
}

ServerConfig ModulesConfig(const std::string& data_dir) {
  ServerConfig config = TestConfig(data_dir);
  engine::EngineConfig& e = config.engine;
  e.ledger_enabled = true;
  e.ledger.account_count_max = 1 << 12;
  e.ledger.transfer_count_max = 1 << 14;
  e.ledger.buyer_count_max = 1 << 10;
  e.ledger.merchant_count_max = 1 << 10;
  e.ledger.order_count_max = 1 << 12;
  e.ledger.plan_count_max = 1 << 10;
  e.fulfilment_enabled = true;
  e.fulfilment.warehouse_count_max = 16;
  e.fulfilment.courier_count_max = 8;
  e.fulfilment.stock_entry_count_max = 1 << 10;
  e.fulfilment.sku_count_max = 1 << 10;
  e.fulfilment.parcel_count_max = 1 << 10;
  e.fulfilment.shipment_count_max = 1 << 10;
  e.fulfilment.backlog_count_max = 1 << 8;
  e.fulfilment.delivered_outbox_count_max = 1 << 8;
  return config;
}

Status FormatForConfig(const ServerConfig& config) {
  uint64_t size_bytes = 0;
  if (Env::Default()
          ->GetFileSize(JoinPath(config.data_dir, kDataDirIdentityName), &size_bytes)
          .ok()) {
    return Status::Ok();  // formatted by an earlier start
  }
  return replica::FormatDataDir(Env::Default(), config.data_dir, ShapeOfConfig(config));
}

std::unique_ptr<Server> StartServer(const ServerConfig& config) {
  Status status = FormatForConfig(config);
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return nullptr;
  std::unique_ptr<Server> server;
  status = Server::Open(config, &server);
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return nullptr;
  status = server->Start();
  EXPECT_TRUE(status.ok()) << status.ToString();
  return server;
}

std::unique_ptr<client::Client> ConnectClient(uint16_t port, uint32_t request_timeout_ms) {
  client::ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(port);
  options.request_timeout_ms = request_timeout_ms;
  std::unique_ptr<client::Client> c;
  const Status status = client::Client::Connect(options, &c);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return c;
}

int ConnectLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool SendAll(int fd, const void* data, size_t size) {
  const auto* at = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = send(fd, at, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

size_t RecvSome(int fd, void* data, size_t size, int timeout_ms) {
  size_t got = 0;
  while (got < size) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) break;
    const ssize_t n = recv(fd, static_cast<char*>(data) + got, size - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

bool WaitClosed(int fd, int timeout_ms) {
  char buffer[4096];
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) return false;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return true;
  }
}

HttpReply HttpCall(uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body, const HttpHeaders& headers) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpReply reply;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return reply;
  // A request's head and body go out in two writes: without this the body waits for the
  // server's delayed ACK of the head (Nagle), 40 ms a POST.
  stream.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!body.empty() || method == "POST") request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request, ec);
  if (ec) return reply;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  if (ec) return reply;
  reply.status = response.result_int();
  reply.content_type = std::string(response[http::field::content_type]);
  reply.idempotent_replayed = std::string(response["Idempotent-Replayed"]);
  for (const auto& field : response) reply.headers[std::string(field.name_string())] = std::string(field.value());
  reply.body = response.body();
  return reply;
}

HttpReply HttpCallWithin(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, int timeout_ms) {
  HttpReply reply;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return reply;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST") request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string got;
  if (SendAll(fd, request.data(), request.size())) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd, POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        got.clear();  // no whole reply in time
        break;
      }
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;  // the server closed: the reply is whole
      got.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t head_end = got.find("\r\n\r\n");
  if (got.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return reply;
  reply.status = std::stoi(got.substr(9, 3));
  reply.body = got.substr(head_end + 4);
  return reply;
}

// The field `key` of a JSON object body (a number or a string, as text); "" if absent.
std::string Field(const std::string& body, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return "";
  simdjson::dom::element value;
  if (doc[key].get(value) != simdjson::SUCCESS) return "";
  std::string_view text;
  if (value.get(text) == simdjson::SUCCESS) return std::string(text);
  return simdjson::to_string(value);
}

double MetricValue(uint16_t http_port, const std::string& name) {
  const HttpReply reply = HttpCall(http_port, "GET", "/metrics");
  const size_t at = reply.body.find("\n" + name + " ");
  if (reply.status != 200 || at == std::string::npos) return -1;
  return std::stod(reply.body.substr(at + name.size() + 2));
}

double WaitForMetric(uint16_t http_port, const std::string& name, const std::function<bool(double)>& done) {
  double value = MetricValue(http_port, name);
  for (int attempt = 0; attempt < 1000 && !done(value); attempt++) {
    usleep(20000);
    value = MetricValue(http_port, name);
  }
  return value;
}

double WaitForMetric(uint16_t http_port, const std::string& name, double at_least) {
  return WaitForMetric(http_port, name, [at_least](double value) { return value >= at_least; });
}

}  // namespace eleven::server::testing
