// TLS on both listeners (docs/server.md, "TLS"), with a CA and certificates made at test time
// by the `openssl` command: the binary protocol through the C++ client and HTTP (requests,
// the SSE and WebSocket feeds) through Beast's ssl_stream, with the right CA; refused with a
// wrong CA and an expired server certificate (the client's verification fails), and, with
// client_ca_file, with a client certificate that is expired or from another CA; plain TCP to
// a TLS port gets no answer and the server keeps serving; the key id a client certificate's
// CN names (mTLS); and the start refused for a bad or missing file or a mismatched key.
#include "server/tls.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "client/client.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Runs a shell command in `dir`; its output goes to dir/openssl.log (shown on failure).
void Run(const std::string& dir, const std::string& command) {
  const std::string line = "cd '" + dir + "' && " + command + " >>openssl.log 2>&1";
  ASSERT_EQ(std::system(line.c_str()), 0) << line;
}

// A temporary directory of PEM files, made with the openssl command:
//   ca.pem/.key           the CA the server and the good clients trust
//   other-ca.pem/.key     a second CA, trusted by no one
//   server.pem/.key       CN=localhost, IP:127.0.0.1 and DNS:localhost, from ca, valid now
//   expired-server.pem    the same key and names, valid only in January 2020
//   client7.pem/.key      CN=eleven-key-7, from ca (names API key 7)
//   client-plain.pem/.key CN=storefront-1, from ca (names no key)
//   client-other.pem/.key CN=eleven-key-8, from other-ca
//   client-expired.pem    CN=eleven-key-9 (key client-expired.key), from ca, January 2020
// Keys are EC P-256: quick to make.
class TestPki {
 public:
  TestPki() {
    std::random_device random;
    dir_ = "/tmp/eleven-tls-test-" + std::to_string(getpid()) + "-" + std::to_string(random());
    std::filesystem::create_directories(dir_);
    Make();
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string operator()(const std::string& file) const { return dir_ + "/" + file; }
  const std::string& dir() const { return dir_; }

 private:
  static constexpr const char* kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

  void Make() {
    // `openssl ca` gives the expired certificates their dates (-startdate/-enddate).
    std::ofstream(dir_ + "/ca.cnf")
        << "[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = index.txt\n"
           "new_certs_dir = .\nserial = serial\ndefault_md = sha256\n"
           "policy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n";
    std::ofstream(dir_ + "/index.txt");
    std::ofstream(dir_ + "/serial") << "1000\n";
    for (const char* ca : {"ca", "other-ca"}) {
      Run(dir_, std::string("openssl req -x509 ") + kNewKey + " -keyout " + ca + ".key -out " + ca +
                    ".pem -days 2 -subj /CN=eleven-test-" + ca);
    }
    Request("server", "/CN=localhost", "-addext subjectAltName=IP:127.0.0.1,DNS:localhost");
    Sign("server", "ca");
    Run(dir_,
        "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in server.csr "
        "-out expired-server.pem -startdate 20200101000000Z -enddate 20200102000000Z -notext");
    Request("client7", "/CN=eleven-key-7", "");
    Sign("client7", "ca");
    Request("client-plain", "/CN=storefront-1", "");
    Sign("client-plain", "ca");
    Request("client-other", "/CN=eleven-key-8", "");
    Sign("client-other", "other-ca");
    Request("client-expired", "/CN=eleven-key-9", "");
    Run(dir_,
        "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in client-expired.csr "
        "-out client-expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -notext");
  }
  void Request(const std::string& name, const std::string& subject, const std::string& extra) {
    Run(dir_, std::string("openssl req -new ") + kNewKey + " -keyout " + name + ".key -out " +
                  name + ".csr -subj " + subject + " " + extra);
  }
  void Sign(const std::string& name, const std::string& ca) {
    Run(dir_, "openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                  ".key -CAcreateserial -days 2 -copy_extensions copy -out " + name + ".pem");
  }

  std::string dir_;
};

ServerConfig TlsConfigFor(const std::string& data_dir, const TestPki& pki, bool mtls = false) {
  ServerConfig config = TestConfig(data_dir);
  config.tls.enabled = true;
  config.tls.cert_file = pki("server.pem");
  config.tls.key_file = pki("server.key");
  if (mtls) config.tls.client_ca_file = pki("ca.pem");
  return config;
}

client::ClientOptions TlsClientOptions(uint16_t port, const std::string& ca_file) {
  client::ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(port);
  options.tls_ca_file = ca_file;
  options.request_timeout_ms = 10000;
  options.connect_timeout_ms = 5000;
  return options;
}

// An HTTPS client (Beast over ssl::stream) that trusts `ca_file` and, if given, presents a
// client certificate. Connect() returns the handshake's error.
class HttpsClient {
 public:
  HttpsClient(const std::string& ca_file, const std::string& cert = "", const std::string& key = "")
      : context_(ssl::context::tls_client) {
    context_.set_verify_mode(ssl::verify_peer);
    context_.load_verify_file(ca_file);
    if (!cert.empty()) {
      context_.use_certificate_chain_file(cert);
      context_.use_private_key_file(key, ssl::context::pem);
    }
  }
  beast::error_code Connect(uint16_t port) {
    stream_.emplace(io_, context_);
    beast::error_code error;
    beast::get_lowest_layer(*stream_).connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                                              error);
    if (error) return error;
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    stream_->handshake(ssl::stream_base::client, error);
    return error;
  }
  // One request on the connection (keep-alive); status -1 on failure.
  HttpReply Call(const std::string& method, const std::string& target,
                 const std::string& body = "") {
    HttpReply reply;
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, "127.0.0.1");
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    beast::error_code error;
    http::write(*stream_, request, error);
    if (error) return reply;
    http::response<http::string_body> response;
    http::read(*stream_, buffer_, response, error);
    if (error) return reply;
    reply.status = response.result_int();
    reply.body = response.body();
    return reply;
  }
  beast::ssl_stream<tcp::socket>& stream() { return *stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  asio::io_context& io() { return io_; }
  ssl::context& context() { return context_; }

 private:
  asio::io_context io_;
  ssl::context context_;
  std::optional<beast::ssl_stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
};

// A metric's value in a /metrics body; -1 if absent.
double MetricOf(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + name.size() + 2));
}

const char kMerchant[] = R"({"merchant_id":1,"country":"CN"})";
const char kSku[] = R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":5})";
const char kOrder[] =
    R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":2}]})";

TEST(TlsTest, HttpRequestsAndBothFeedsOverTls) {
  TestPki pki;
  TempDataDir dir;
  auto server = StartServer(TlsConfigFor(dir.path(), pki));
  const uint16_t port = server->http_port();
  HttpsClient https(pki("ca.pem"));
  ASSERT_FALSE(https.Connect(port));
  EXPECT_EQ(https.Call("GET", "/healthz").status, 200);
  ASSERT_EQ(https.Call("POST", "/merchants", kMerchant).status, 200);  // the same connection
  ASSERT_EQ(https.Call("POST", "/skus", kSku).status, 200);

  // Server-Sent Events over TLS: the header and the first event.
  HttpsClient sse(pki("ca.pem"));
  ASSERT_FALSE(sse.Connect(port));
  http::request<http::empty_body> feed(http::verb::get, "/feed/skus/10", 11);
  feed.set(http::field::host, "127.0.0.1");
  http::write(sse.stream(), feed);
  http::response_parser<http::buffer_body> parser;
  http::read_header(sse.stream(), sse.buffer(), parser);
  EXPECT_EQ(parser.get().result_int(), 200);
  EXPECT_EQ(parser.get()[http::field::content_type], "text/event-stream");
  std::string events = beast::buffers_to_string(sse.buffer().data());
  char chunk[512];
  while (events.find("\n\n") == std::string::npos) {
    const size_t n = sse.stream().read_some(asio::buffer(chunk));
    events.append(chunk, n);
  }
  EXPECT_NE(events.find("id: 1\nevent: stock\n"), std::string::npos) << events;
  EXPECT_NE(events.find("\"available\":5"), std::string::npos) << events;

  // WebSocket over TLS (wss): the first event as a JSON message, then the next after an order.
  HttpsClient wss_tls(pki("ca.pem"));
  ASSERT_FALSE(wss_tls.Connect(port));
  websocket::stream<beast::ssl_stream<tcp::socket>&> ws(wss_tls.stream());
  ws.handshake("127.0.0.1", "/feed/skus/10");
  beast::flat_buffer buffer;
  ws.read(buffer);
  std::string message = beast::buffers_to_string(buffer.data());
  EXPECT_NE(message.find("\"seq\":1,"), std::string::npos) << message;
  EXPECT_NE(message.find("\"available\":5"), std::string::npos) << message;
  ASSERT_EQ(https.Call("POST", "/orders", kOrder).status, 200);
  buffer.clear();
  ws.read(buffer);
  message = beast::buffers_to_string(buffer.data());
  EXPECT_NE(message.find("\"seq\":2,"), std::string::npos) << message;
  EXPECT_NE(message.find("\"available\":3"), std::string::npos) << message;
  ws.close(websocket::close_code::normal);
  EXPECT_EQ(https.Call("GET", "/skus/10").status, 200);
}

TEST(TlsTest, BinaryProtocolOverTlsThroughTheClient) {
  TestPki pki;
  TempDataDir dir;
  auto server = StartServer(TlsConfigFor(dir.path(), pki));
  std::unique_ptr<client::Client> c;
  const Status connected =
      client::Client::Connect(TlsClientOptions(server->binary_port(), pki("ca.pem")), &c);
  ASSERT_TRUE(connected.ok()) << connected.ToString();
  std::vector<wire::Command> commands = {wire::MakeCreateMerchant(1, "CN", 0),
                                         wire::MakeCreateSku(10, 1, 500, 100, 0),
                                         wire::MakePlaceOrder(77, 1, 5, 7, 2, {{10, 3}})};
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(commands, &results).ok());
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.code, wire::Code::ok);
  wire::Code code;
  wire::OrderRecord order;
  ASSERT_TRUE(c->GetOrderByKey(77, &code, &order).ok());
  EXPECT_EQ(code, wire::Code::ok);
  // Many requests in flight at once: replies gathered into TLS records come back whole.
  std::vector<std::future<client::SubmitOutcome>> outcomes;
  for (uint64_t key = 1000; key < 1200; key++) {
    const std::vector<wire::Command> one = {wire::MakePlaceOrder(key, 1, key, 7, 2, {{10, 0}})};
    outcomes.push_back(c->Submit(one));
  }
  for (auto& outcome : outcomes) {
    const client::SubmitOutcome got = outcome.get();
    ASSERT_TRUE(got.status.ok()) << got.status.ToString();
    ASSERT_EQ(got.results.size(), 1u);
  }
  EXPECT_TRUE(c->Ping().ok());
}

// A broken TLS connection is reconnected with a new handshake, and what was unanswered is
// sent again (the same idempotency key gives the same order).
TEST(TlsTest, TheClientReconnectsOverTlsAcrossAServerRestart) {
  TestPki pki;
  TempDataDir dir;
  ServerConfig config = TlsConfigFor(dir.path(), pki);
  auto server = StartServer(config);
  const uint16_t port = server->binary_port();
  std::unique_ptr<client::Client> c;
  ASSERT_TRUE(client::Client::Connect(TlsClientOptions(port, pki("ca.pem")), &c).ok());
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{wire::MakeCreateMerchant(1, "CN", 0),
                                        wire::MakeCreateSku(10, 1, 500, 100, 0),
                                        wire::MakePlaceOrder(42, 1, 9, 7, 2, {{10, 2}})},
                            &results)
                  .ok());
  ASSERT_EQ(results.size(), 3u);
  const uint64_t order_id = results[2].id;
  server.reset();  // the connection breaks
  config.listen = "127.0.0.1:" + std::to_string(port);
  auto pending = c->Submit(std::vector{wire::MakePlaceOrder(43, 1, 9, 7, 2, {{10, 1}}),
                                       wire::MakePlaceOrder(42, 1, 9, 7, 2, {{10, 2}})});
  server = StartServer(config);
  const client::SubmitOutcome outcome = pending.get();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
  EXPECT_EQ(outcome.results[0].code, wire::Code::ok);
  EXPECT_EQ(outcome.results[1].id, order_id);
  EXPECT_GE(c->stats().reconnects, 1u);
  EXPECT_TRUE(c->Ping().ok());
}

// The client verifies the server: another CA's trust, or the right CA with an expired server
// certificate, fails the handshake, over HTTP as over the binary protocol.
TEST(TlsTest, WrongCaAndExpiredServerCertificateAreRefusedByTheClient) {
  TestPki pki;
  {
    TempDataDir dir;
    auto server = StartServer(TlsConfigFor(dir.path(), pki));
    HttpsClient https(pki("other-ca.pem"));
    const beast::error_code error = https.Connect(server->http_port());
    EXPECT_TRUE(error);
    EXPECT_NE(error.message().find("certificate verify failed"), std::string::npos)
        << error.message();
    std::unique_ptr<client::Client> c;
    const Status refused =
        client::Client::Connect(TlsClientOptions(server->binary_port(), pki("other-ca.pem")), &c);
    EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
    EXPECT_NE(refused.message().find("TLS handshake"), std::string::npos) << refused.ToString();
    // The server is unharmed: the right CA still gets in.
    HttpsClient good(pki("ca.pem"));
    ASSERT_FALSE(good.Connect(server->http_port()));
    EXPECT_EQ(good.Call("GET", "/healthz").status, 200);
  }
  {
    TempDataDir dir;
    ServerConfig config = TlsConfigFor(dir.path(), pki);
    config.tls.cert_file = pki("expired-server.pem");
    auto server = StartServer(config);
    HttpsClient https(pki("ca.pem"));
    const beast::error_code error = https.Connect(server->http_port());
    EXPECT_TRUE(error);
    EXPECT_NE(error.message().find("certificate verify failed"), std::string::npos)
        << error.message();
    const long verify = SSL_get_verify_result(https.stream().native_handle());
    EXPECT_EQ(verify, X509_V_ERR_CERT_HAS_EXPIRED);
    std::unique_ptr<client::Client> c;
    const Status refused =
        client::Client::Connect(TlsClientOptions(server->binary_port(), pki("ca.pem")), &c);
    EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  }
}

// With client_ca_file the server verifies client certificates: one from that CA (or none) is
// let in; an expired one, or one from another CA, fails the handshake on both listeners.
TEST(TlsTest, ClientCertificatesAreVerifiedAgainstTheClientCa) {
  TestPki pki;
  TempDataDir dir;
  auto server = StartServer(TlsConfigFor(dir.path(), pki, /*mtls=*/true));
  const uint16_t http_port = server->http_port();
  const uint16_t binary_port = server->binary_port();
  {
    // Key 7, which client7.pem names: a binary connection with that certificate is its.
    HttpsClient https(pki("ca.pem"));
    ASSERT_FALSE(https.Connect(http_port));
    for (int k = 1; k <= 7; k++) ASSERT_EQ(https.Call("POST", "/keys", R"({"role":"viewer"})").status, 200);
  }
  auto https_ok = [&](const std::string& cert, const std::string& key) {
    HttpsClient https(pki("ca.pem"), cert.empty() ? "" : pki(cert), key.empty() ? "" : pki(key));
    if (https.Connect(http_port)) return false;
    // TLS 1.3 verifies the client after the server's Finished: the first exchange tells.
    return https.Call("GET", "/healthz").status == 200;
  };
  auto binary_ok = [&](const std::string& cert, const std::string& key) {
    client::ClientOptions options = TlsClientOptions(binary_port, pki("ca.pem"));
    if (!cert.empty()) {
      options.tls_cert_file = pki(cert);
      options.tls_key_file = pki(key);
    }
    options.reconnect_attempts_max = 2;
    options.request_timeout_ms = 3000;
    std::unique_ptr<client::Client> c;
    if (!client::Client::Connect(options, &c).ok()) return false;
    return c->Ping().ok();
  };
  EXPECT_TRUE(https_ok("client7.pem", "client7.key"));
  EXPECT_TRUE(https_ok("", ""));  // no certificate: allowed (a Bearer key may name the caller)
  EXPECT_FALSE(https_ok("client-other.pem", "client-other.key"));
  EXPECT_FALSE(https_ok("client-expired.pem", "client-expired.key"));
  EXPECT_TRUE(binary_ok("client7.pem", "client7.key"));
  EXPECT_TRUE(binary_ok("", ""));
  EXPECT_FALSE(binary_ok("client-other.pem", "client-other.key"));
  EXPECT_FALSE(binary_ok("client-expired.pem", "client-expired.key"));
  // The refused handshakes were counted on the server's side (the binary client's retries
  // count too: at least one each); it still serves.
  HttpsClient https(pki("ca.pem"));
  ASSERT_FALSE(https.Connect(http_port));
  EXPECT_GE(MetricOf(https.Call("GET", "/metrics").body, "eleven_tls_handshake_failures_total"), 4);
}

// A client certificate naming a key authenticates as that key on both listeners, with no
// Bearer header or authenticate frame (docs/access.md, mTLS); a revoked key's certificate
// does not; a Bearer header names the caller over the certificate.
TEST(TlsTest, AClientCertificateNamesItsKey) {
  TestPki pki;
  TempDataDir dir;
  ServerConfig config = TlsConfigFor(dir.path(), pki, /*mtls=*/true);
  std::string operator_secret;
  {
    auto server = StartServer(config);  // the local operator sets up keys 1..7; 7 is merchant 1's
    HttpsClient https(pki("ca.pem"));
    ASSERT_FALSE(https.Connect(server->http_port()));
    ASSERT_EQ(https.Call("POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
    for (int k = 1; k <= 6; k++) {
      const HttpReply created = https.Call("POST", "/keys", k == 1 ? R"({"role":"operator"})" : R"({"role":"viewer"})");
      ASSERT_EQ(created.status, 200) << created.body;
      if (k == 1) operator_secret = created.body.substr(created.body.find("ek_"), 46);
    }
    ASSERT_EQ(https.Call("POST", "/keys", R"({"role":"merchant","merchant_id":1})").status, 200);
  }
  config.anonymous_operator = false;
  auto server = StartServer(config);
  {
    HttpsClient https(pki("ca.pem"), pki("client7.pem"), pki("client7.key"));
    ASSERT_FALSE(https.Connect(server->http_port()));
    // Merchant 1's own credit: allowed (payments are off in this server, so 409 says that).
    EXPECT_EQ(https.Call("GET", "/merchants/1/credit").status, 409);
    EXPECT_EQ(https.Call("GET", "/merchants/2/credit").status, 403);
    EXPECT_EQ(https.Call("GET", "/keys/1").status, 403);
  }
  {
    HttpsClient https(pki("ca.pem"));  // no certificate, no key
    ASSERT_FALSE(https.Connect(server->http_port()));
    EXPECT_EQ(https.Call("GET", "/skus/1").status, 401);
  }
  client::ClientOptions options = TlsClientOptions(server->binary_port(), pki("ca.pem"));
  options.tls_cert_file = pki("client7.pem");
  options.tls_key_file = pki("client7.key");
  std::unique_ptr<client::Client> c;
  ASSERT_TRUE(client::Client::Connect(options, &c).ok());
  std::vector<wire::Result> results;
  const std::vector<wire::Command> merchant = {wire::MakeCreateMerchant(9, "CN", 0)};
  ASSERT_TRUE(c->SubmitSync(merchant, &results).ok());
  EXPECT_EQ(results.at(0).code, wire::Code::forbidden);  // a merchant key may not
  const std::vector<wire::Command> sku = {wire::MakeCreateSku(70, 1, 990, 5, 0)};
  ASSERT_TRUE(c->SubmitSync(sku, &results).ok());
  EXPECT_EQ(results.at(0).code, wire::Code::ok);  // its own SKU
  c.reset();
  // Revoked: the certificate no longer names a caller.
  {
    HttpsClient https(pki("ca.pem"));
    ASSERT_FALSE(https.Connect(server->http_port()));
    http::request<http::string_body> revoke(http::verb::post, "/keys/7/revoke", 11);
    revoke.set(http::field::host, "127.0.0.1");
    revoke.set(http::field::content_type, "application/json");
    revoke.set(http::field::authorization, "Bearer " + operator_secret);
    revoke.prepare_payload();
    http::write(https.stream(), revoke);
    http::response<http::string_body> response;
    http::read(https.stream(), https.buffer(), response);
    ASSERT_EQ(response.result_int(), 200) << response.body();
  }
  HttpsClient https(pki("ca.pem"), pki("client7.pem"), pki("client7.key"));
  ASSERT_FALSE(https.Connect(server->http_port()));
  EXPECT_EQ(https.Call("GET", "/merchants/1/credit").status, 401);
}

// Plain TCP on a TLS port: an HTTP request gets no HTTP answer (the handshake fails and the
// connection closes), a binary frame gets no frame; TLS clients are served meanwhile.
TEST(TlsTest, PlainTcpToATlsPortGetsNoAnswerAndOthersAreServed) {
  TestPki pki;
  TempDataDir dir;
  auto server = StartServer(TlsConfigFor(dir.path(), pki));
  HttpsClient https(pki("ca.pem"));
  ASSERT_FALSE(https.Connect(server->http_port()));  // open across the plain attempts
  for (const uint16_t port : {server->http_port(), server->binary_port()}) {
    const int fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_TRUE(SendAll(fd, request.data(), request.size()));
    char reply[512];
    std::string got;
    for (size_t n; (n = RecvSome(fd, reply, sizeof(reply), 3000)) > 0;) got.append(reply, n);
    EXPECT_EQ(got.find("HTTP/"), std::string::npos) << got;
    EXPECT_TRUE(WaitClosed(fd, 3000));
    close(fd);
    EXPECT_EQ(https.Call("GET", "/healthz").status, 200);
  }
  // A client that speaks plain TCP to the TLS port, authenticating with a key: the server
  // closes it, and Connect fails (within its timeout) instead of reconnecting for ever.
  {
    client::ClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(server->binary_port());
    options.key = "ek_" + std::string(43, 'A');
    options.connect_timeout_ms = 5000;
    std::unique_ptr<client::Client> plain;
    const Status refused = client::Client::Connect(options, &plain);
    EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
    EXPECT_NE(refused.message().find("closed the connection"), std::string::npos)
        << refused.ToString();
  }
  std::unique_ptr<client::Client> c;
  const Status connected =
      client::Client::Connect(TlsClientOptions(server->binary_port(), pki("ca.pem")), &c);
  ASSERT_TRUE(connected.ok()) << connected.ToString();
  EXPECT_TRUE(c->Ping().ok());
  EXPECT_EQ(MetricOf(https.Call("GET", "/metrics").body, "eleven_tls_handshake_failures_total"), 3);
}

// Over http.connections, a TLS connection is closed at once (no plain 503 on a TLS port): its
// handshake fails, it is counted, and the connections already open are served.
TEST(TlsTest, AConnectionOverTheHttpLimitIsClosedAndCounted) {
  TestPki pki;
  TempDataDir dir;
  ServerConfig config = TlsConfigFor(dir.path(), pki);
  config.http_connection_count_max = 2;
  config.feed_subscriber_count_max = 1;
  auto server = StartServer(config);
  HttpsClient first(pki("ca.pem"));
  HttpsClient second(pki("ca.pem"));
  ASSERT_FALSE(first.Connect(server->http_port()));
  ASSERT_FALSE(second.Connect(server->http_port()));
  EXPECT_EQ(second.Call("GET", "/healthz").status, 200);
  HttpsClient third(pki("ca.pem"));
  EXPECT_TRUE(third.Connect(server->http_port()));
  // What the refused connection gets is nothing: no plain-text 503 before the close.
  const int fd = ConnectLoopback(server->http_port());
  ASSERT_GE(fd, 0);
  char reply[256];
  EXPECT_EQ(RecvSome(fd, reply, sizeof(reply), 3000), 0u);
  EXPECT_TRUE(WaitClosed(fd, 3000));
  close(fd);
  EXPECT_EQ(MetricOf(first.Call("GET", "/metrics").body, "eleven_http_connections_refused_total"),
            2);
}

// tls.http = false: HTTP stays plain while the binary protocol speaks TLS.
TEST(TlsTest, EachListenerCanBeLeftPlain) {
  TestPki pki;
  TempDataDir dir;
  ServerConfig config = TlsConfigFor(dir.path(), pki);
  config.tls.http = false;
  auto server = StartServer(config);
  EXPECT_EQ(HttpCall(server->http_port(), "GET", "/healthz").status, 200);
  std::unique_ptr<client::Client> c;
  ASSERT_TRUE(
      client::Client::Connect(TlsClientOptions(server->binary_port(), pki("ca.pem")), &c).ok());
  EXPECT_TRUE(c->Ping().ok());
}

// mTLS: the server reads the key id from the verified client certificate's CN
// (eleven-key-<id>); a certificate with another CN, or none, names no key (0).
TEST(TlsTest, KeyIdFromAVerifiedClientCertificate) {
  TestPki pki;
  TlsConfig config;
  config.enabled = true;
  config.cert_file = pki("server.pem");
  config.key_file = pki("server.key");
  config.client_ca_file = pki("ca.pem");
  std::unique_ptr<ssl::context> server_context;
  const Status made = tls::MakeServerContext(config, &server_context);
  ASSERT_TRUE(made.ok()) << made.ToString();
  auto key_id_of = [&](const std::string& cert) -> uint32_t {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    ssl::context client_context(ssl::context::tls_client);
    client_context.load_verify_file(pki("ca.pem"));
    client_context.set_verify_mode(ssl::verify_peer);
    if (!cert.empty()) {
      client_context.use_certificate_chain_file(pki(cert + ".pem"));
      client_context.use_private_key_file(pki(cert + ".key"), ssl::context::pem);
    }
    ssl::stream<tcp::socket> server_side(io, *server_context);
    ssl::stream<tcp::socket> client_side(io, client_context);
    acceptor.async_accept(server_side.next_layer(), [&](const boost::system::error_code& error) {
      EXPECT_FALSE(error);
      server_side.async_handshake(ssl::stream_base::server, [](const boost::system::error_code& e) {
        EXPECT_FALSE(e) << e.message();
      });
    });
    client_side.next_layer().async_connect(
        acceptor.local_endpoint(), [&](const boost::system::error_code& error) {
          EXPECT_FALSE(error);
          client_side.async_handshake(
              ssl::stream_base::client,
              [](const boost::system::error_code& e) { EXPECT_FALSE(e) << e.message(); });
        });
    io.run();
    return tls::KeyIdOfPeer(server_side.native_handle());
  };
  EXPECT_EQ(key_id_of("client7"), 7u);
  EXPECT_EQ(key_id_of("client-plain"), 0u);
  EXPECT_EQ(key_id_of(""), 0u);

  EXPECT_EQ(tls::KeyIdFromCommonName("eleven-key-1"), 1u);
  EXPECT_EQ(tls::KeyIdFromCommonName("eleven-key-4294967295"), 4294967295u);
  for (const char* bad :
       {"eleven-key-0", "eleven-key-", "eleven-key-4294967296", "eleven-key-07", "eleven-key-7 ",
        "eleven-key-+7", "eleven-key--7", "Eleven-key-7", "eleven-key-7x", "xeleven-key-7", ""}) {
    EXPECT_EQ(tls::KeyIdFromCommonName(bad), 0u) << bad;
  }
}

// A missing or unreadable file, a file that is not PEM of its kind, or a key that does not
// match the certificate stops Server::Open with the key and the file named, before the data
// directory is opened.
TEST(TlsTest, BadFilesStopTheStartNamingTheFile) {
  TestPki pki;
  TempDataDir dir;
  const ServerConfig good = TlsConfigFor(dir.path(), pki, /*mtls=*/true);
  ASSERT_TRUE(FormatForConfig(good).ok());
  std::ofstream(pki("garbage.pem")) << "not a pem file\n";
  struct Case {
    std::string key;
    std::string file;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"cert_file", pki("missing.pem"), "No such file or directory"},
      {"cert_file", pki("garbage.pem"), "not a PEM certificate"},
      {"cert_file", pki("server.key"), "not a PEM certificate"},
      {"key_file", pki("missing.key"), "No such file or directory"},
      {"key_file", pki("garbage.pem"), "not a PEM private key"},
      {"key_file", pki("client7.key"),
       "does not match the certificate in tls.cert_file " + pki("server.pem")},
      {"client_ca_file", pki("missing.pem"), "No such file or directory"},
      {"client_ca_file", pki("garbage.pem"), "no PEM CA certificate"},
  };
  for (const Case& c : cases) {
    ServerConfig config = good;
    if (c.key == "cert_file") config.tls.cert_file = c.file;
    if (c.key == "key_file") config.tls.key_file = c.file;
    if (c.key == "client_ca_file") config.tls.client_ca_file = c.file;
    std::unique_ptr<Server> server;
    const Status status = Server::Open(config, &server);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.key << " " << c.file;
    EXPECT_NE(status.message().find("tls." + c.key + " " + c.file + ": "), std::string::npos)
        << status.ToString();
    EXPECT_NE(status.message().find(c.reason), std::string::npos) << status.ToString();
    EXPECT_EQ(server, nullptr);
  }
  std::unique_ptr<Server> server;
  const Status opened = Server::Open(good, &server);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
}

// [tls] in the TOML file: both listeners unless said otherwise; every key read; an unknown
// key, a missing cert_file or key_file, or both listeners off refused.
TEST(TlsTest, TlsTableInTheConfigFile) {
  TestPki pki;
  auto load = [&](const std::string& text, ServerConfig* config) {
    const std::string path = pki("eleven.toml");
    std::ofstream(path) << text;
    *config = ServerConfig();
    config->data_dir = "/nowhere";
    Status status = LoadServerConfig(path, config);
    if (status.ok()) status = ValidateServerConfig(*config);
    return status;
  };
  ServerConfig config;
  ASSERT_TRUE(load("", &config).ok());
  EXPECT_FALSE(config.tls.enabled);
  ASSERT_TRUE(load("[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n", &config).ok());
  EXPECT_TRUE(config.tls.enabled);
  EXPECT_TRUE(config.tls.binary);
  EXPECT_TRUE(config.tls.http);
  EXPECT_EQ(config.tls.cert_file, "/c.pem");
  EXPECT_EQ(config.tls.key_file, "/k.pem");
  EXPECT_EQ(config.tls.client_ca_file, "");
  ASSERT_TRUE(
      load("[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nclient_ca_file = \"/ca.pem\"\n"
           "binary = false\n",
           &config)
          .ok());
  EXPECT_FALSE(config.tls.binary);
  EXPECT_TRUE(config.tls.http);
  EXPECT_EQ(config.tls.client_ca_file, "/ca.pem");
  Status status = load(
      "[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nclient_ca = \"/ca.pem\"\n", &config);
  EXPECT_NE(status.message().find("tls.client_ca is not a key of [tls]"), std::string::npos)
      << status.ToString();
  status = load("[tls]\nkey_file = \"/k.pem\"\n", &config);
  EXPECT_NE(status.message().find("[tls] needs cert_file"), std::string::npos) << status.ToString();
  status = load("[tls]\ncert_file = \"/c.pem\"\n", &config);
  EXPECT_NE(status.message().find("[tls] needs key_file"), std::string::npos) << status.ToString();
  status =
      load("[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nbinary = false\nhttp = false\n",
           &config);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  status = load("[tls]\ncert_file = 3\nkey_file = \"/k.pem\"\n", &config);
  EXPECT_NE(status.message().find("tls.cert_file has a wrong type"), std::string::npos)
      << status.ToString();
}

}  // namespace
}  // namespace eleven::server::testing
