// Access control from outside (docs/access.md): every HTTP route and every binary protocol
// operation, asked by every role, by no key, a malformed key and a revoked key, gets the
// status the roles table says, and every refusal leaves the engine digest as it was.
//
// The expectations are written here by hand from docs/access.md, one row per route, not
// derived from the server's tables: a route the server has and this table lacks (or the
// reverse) fails the test, so a new route cannot ship without its row.
//
// The world: merchants 1 and 2 (SKUs 11 and 12, drops 21 and 22), storefronts 1 and 2 (each
// with a paid order, X and Y, and a pending one, X2 and Y2), couriers 41 and 42 (X's parcel
// is 41's, Y's is 42's), warehouse 31. The keys under test are an operator, storefront 1,
// merchant 1, courier 41 and a viewer: "own" objects are X, merchant 1's and courier 41's,
// "other" ones Y, merchant 2's and courier 42's. Set up by the local operator; the server is
// then restarted with anonymous requests off, so the keys also come back from the log.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <simdjson.h>
#include <unistd.h>

#include <array>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/http_server.h"
#include "tests/server/test_util.h"

namespace eleven::server::testing {
namespace {

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

// The roles under test, in the order of a row's expectation string.
enum Who { kOperator, kStorefront, kMerchant, kCourier, kViewer, kWhoCount };
constexpr const char* kWhoNames[] = {"operator", "storefront", "merchant", "courier", "viewer"};

// One route's row. `expect` has one letter per role (operator, storefront, merchant,
// courier, viewer): A allowed (any answer but 401/403), O allowed on its own object and 403
// on another's, F 403. Paths and bodies may hold {own} and {other}, replaced by the row's
// ids (the same for every role: the world gives each role its "own" objects under the same
// ids where it can, and `own_for` overrides them per role where it cannot).
struct Row {
  const char* method;
  const char* pattern;  // as HttpRoutes() names it
  const char* path;     // the request target, with {own}/{other}
  const char* body;     // "" for none
  const char* expect;
};

// X is order 1 (storefront 1, merchant 1), Y order 2 (storefront 2, merchant 2); X2 and Y2
// orders 3 and 4 (pending); see SetUpWorld.
constexpr uint64_t kMerchantWallet1 = (uint64_t{4} << 56) | 1;
constexpr uint64_t kMerchantWallet2 = (uint64_t{4} << 56) | 2;

const std::vector<Row>& Rows() {
  static const std::vector<Row> rows = {
      {"GET", "/metrics", "/metrics", "", "AAAAA"},
      {"POST", "/clock", "/clock", R"({"at_us":1000000})", "AFFFF"},
      {"POST", "/merchants", "/merchants", R"({"merchant_id":3,"country":"CN"})", "AFFFF"},
      {"POST", "/skus", "/skus", R"({"sku_id":{sku},"merchant_id":{own},"price_fen":1000,"stock":5})", "AFOFF"},
      {"GET", "/skus/{}", "/skus/11", "", "AAAAA"},
      {"POST", "/skus/{}/restock", "/skus/{own}/restock", R"({"quantity":1})", "AFOFF"},
      {"POST", "/skus/{}/price", "/skus/{own}/price", R"({"price_fen":1000})", "AFOFF"},
      {"POST", "/drops", "/drops",
       R"({"drop_id":{sku},"sku_id":{own},"live_price_fen":900,"quota":1,"opens_at_us":0,"closes_at_us":1000000000000})",
       "AFOFF"},
      {"GET", "/drops/{}", "/drops/21", "", "AAAAA"},
      {"POST", "/drops/{}/close", "/drops/{own}/close", "", "AFOFF"},
      {"POST", "/orders", "/orders",
       R"({"idempotency_key":{sku},"merchant_id":1,"buyer_id":53,"region":3,"city_tier":1,"lines":[{"sku_id":11,"quantity":1}]})",
       "AAFFF"},
      {"GET", "/orders/by-key/{}", "/orders/by-key/{own}", "", "AOOFF"},
      {"GET", "/orders/{}", "/orders/{own}", "", "AOOFF"},
      {"POST", "/orders/{}/pay", "/orders/{own}/pay", R"({"amount_fen":1000,"payment_method":"card"})", "AOFFF"},
      {"POST", "/orders/{}/cancel", "/orders/{own}/cancel", "", "AOFFF"},
      {"POST", "/accounts", "/accounts", R"({"account_id":901,"ledger":1,"code":1})", "AFFFF"},
      {"GET", "/accounts/{}", "/accounts/{own}", "", "AFOFF"},
      {"GET", "/accounts/{}/transfers", "/accounts/{own}/transfers", "", "AFOFF"},
      {"POST", "/transfers", "/transfers",
       R"({"transfer_id":902,"debit_account_id":901,"credit_account_id":901,"amount_fen":1,"ledger":1,"code":1})",
       "AFFFF"},
      {"GET", "/transfers/{}", "/transfers/902", "", "AFFFF"},
      {"POST", "/buyers/{}/deposit", "/buyers/51/deposit", R"({"transfer_id":{sku},"amount_fen":100})", "AFFFF"},
      {"POST", "/buyers/{}/credit-limit", "/buyers/51/credit-limit", R"({"limit_fen":1000000})", "AFFFF"},
      {"GET", "/buyers/{}/credit", "/buyers/51/credit", "", "AFFFF"},
      {"POST", "/merchants/{}/withdraw", "/merchants/{own}/withdraw", R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/merchants/{}/credit-line", "/merchants/1/credit-line", R"({"limit_fen":100000})", "AFFFF"},
      {"POST", "/merchants/{}/draw-down", "/merchants/{own}/draw-down", R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/merchants/{}/repay", "/merchants/{own}/repay", R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"GET", "/merchants/{}/credit", "/merchants/{own}/credit", "", "AFOFF"},
      {"GET", "/orders/{}/money", "/orders/{own}/money", "", "AOOFF"},
      {"GET", "/orders/{}/plan", "/orders/{own}/plan", "", "AOOFF"},
      {"POST", "/orders/{}/plan/repay", "/orders/{own}/plan/repay", R"({"transfer_id":{sku}})", "AOFFF"},
      {"POST", "/orders/{}/confirm-delivery", "/orders/{own}/confirm-delivery", "", "AOFFF"},
      {"POST", "/orders/{}/after-sales-refund", "/orders/{own}/after-sales-refund",
       R"({"refund_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/warehouses", "/warehouses",
       R"({"warehouse_id":32,"region":3,"x_km":0,"y_km":0,"hourly_capacity":10,"daily_capacity":10})", "AFFFF"},
      {"POST", "/warehouses/{}/stock", "/warehouses/31/stock", R"({"sku_id":{own},"units":1})", "AFOFF"},
      {"GET", "/warehouses/{}/stock/{}", "/warehouses/31/stock/{own}", "", "AFOFF"},
      {"GET", "/warehouses/{}/hours/{}", "/warehouses/31/hours/0", "", "AAAAA"},
      {"POST", "/couriers", "/couriers",
       R"({"courier_id":43,"name":"SF","mode":"express","promised_days":2,"hourly_capacity":10,"cost_fen":500,"waybill_first":9000000,"waybill_count":1000})",
       "AFFFF"},
      {"POST", "/couriers/{}/coverage", "/couriers/41/coverage", R"({"regions":[3]})", "AFFFF"},
      {"GET", "/couriers/{}/hours/{}", "/couriers/41/hours/0", "", "AAAAA"},
      {"POST", "/regions/{}/point", "/regions/3/point", R"({"x_km":0,"y_km":0})", "AFFFF"},
      {"GET", "/parcels/{}", "/parcels/{own}", "", "AOOOF"},
      {"GET", "/parcels/{}/timeline", "/parcels/{own}/timeline", "", "AOOOF"},
      {"POST", "/parcels/{}/events", "/parcels/{own}/events", R"({"event":"picked"})", "AFFOF"},
      {"GET", "/orders/{}/shipment", "/orders/{own}/shipment", "", "AOOFF"},
      {"GET", "/fulfilment/figures", "/fulfilment/figures", "", "AAAAA"},
      {"POST", "/keys", "/keys", R"({"role":"viewer"})", "AFFFF"},
      {"GET", "/keys/{}", "/keys/{own}", "", "AFFFF"},
      {"POST", "/keys/{}/revoke", "/keys/{own}/revoke", "", "AFFFF"},
      {"GET", "/engine/digest", "/engine/digest", "", "AFFFA"},
      {"GET", "/feed/skus/{}", "/feed/skus/11", "", "AAAAA"},
      {"GET", "/feed/drops/{}", "/feed/drops/21", "", "AAAAA"},
  };
  return rows;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = ModulesConfig(dir_.path());
    config_.clock = protocol::ClockMode::kClient;  // no ticks: the digest moves only by requests
    server_ = StartServer(config_);
    ASSERT_NE(server_, nullptr);
    SetUpWorld();
    if (HasFatalFailure()) return;
    // The keys come back from the log; anonymous requests are off from now on.
    server_.reset();
    config_.anonymous_operator = false;
    server_ = StartServer(config_);
    ASSERT_NE(server_, nullptr);
  }

  HttpReply Call(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& secret) {
    HttpHeaders headers;
    if (!secret.empty()) headers.push_back({"Authorization", "Bearer " + secret});
    return HttpCall(server_->http_port(), method, target, body, headers);
  }
  std::string Post(const std::string& target, const std::string& body, const std::string& secret = "") {
    const HttpReply reply = Call("POST", target, body, secret);
    EXPECT_EQ(reply.status, 200) << "POST " << target << " " << body << " -> " << reply.body;
    return reply.body;
  }
  std::string Key(const std::string& body) {
    const std::string created = Post("/keys", body);
    const std::string secret = Field(created, "secret");
    EXPECT_EQ(secret.size(), 46u) << created;
    return secret;
  }
  std::string Digest() {
    const HttpReply reply = Call("GET", "/engine/digest", "", secrets_[kOperator]);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.body;
  }

  void SetUpWorld() {
    Post("/clock", R"({"at_us":1000000})");
    for (int m : {1, 2}) {
      const std::string id = std::to_string(m);
      Post("/merchants", R"({"merchant_id":)" + id + R"(,"country":"CN"})");
      Post("/skus", R"({"sku_id":1)" + id + R"(,"merchant_id":)" + id + R"(,"price_fen":1000,"stock":100})");
      Post("/drops", R"({"drop_id":2)" + id + R"(,"sku_id":1)" + id +
                         R"(,"live_price_fen":900,"quota":10,"opens_at_us":0,"closes_at_us":1000000000000})");
    }
    Post("/warehouses", R"({"warehouse_id":31,"region":3,"x_km":0,"y_km":0,"hourly_capacity":1000,"daily_capacity":10000})");
    Post("/warehouses/31/stock", R"({"sku_id":11,"units":50})");
    Post("/warehouses/31/stock", R"({"sku_id":12,"units":50})");
    Post("/couriers", R"({"courier_id":41,"name":"ZTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":1000000,"waybill_count":1000000})");
    Post("/couriers", R"({"courier_id":42,"name":"YTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":3000000,"waybill_count":1000000})");
    Post("/couriers/41/coverage", R"({"regions":[3]})");
    Post("/couriers/42/coverage", R"({"regions":[4]})");
    Post("/buyers/51/deposit", R"({"transfer_id":801,"amount_fen":1000000})");
    Post("/buyers/52/deposit", R"({"transfer_id":802,"amount_fen":1000000})");

    secrets_[kOperator] = Key(R"({"role":"operator"})");
    secrets_[kStorefront] = Key(R"({"role":"storefront","storefront_id":1})");
    secrets_[kMerchant] = Key(R"({"role":"merchant","merchant_id":1})");
    secrets_[kCourier] = Key(R"({"role":"courier","courier_id":41})");
    secrets_[kViewer] = Key(R"({"role":"viewer"})");
    const std::string storefront2 = Key(R"({"role":"storefront","storefront_id":2})");
    revoked_ = Key(R"({"role":"storefront","storefront_id":3})");
    Post("/keys/7/revoke", "");  // revoked_ is key 7
    spare_key_ = Field(Post("/keys", R"({"role":"viewer"})"), "id");  // the revoke row's target
    viewer_key_ = "5";

    // X and X2 are storefront 1's (merchant 1, region 3: courier 41), Y and Y2 storefront 2's
    // (merchant 2, region 4: courier 42). X is paid from buyer 51's wallet, Y by card.
    auto place = [&](const std::string& secret, int key, int merchant, int buyer, int region) {
      const std::string body = R"({"idempotency_key":)" + std::to_string(key) + R"(,"merchant_id":)" +
                               std::to_string(merchant) + R"(,"buyer_id":)" + std::to_string(buyer) +
                               R"(,"region":)" + std::to_string(region) + R"(,"city_tier":1,"lines":[{"sku_id":1)" +
                               std::to_string(merchant) + R"(,"quantity":1}]})";
      return Field(Post("/orders", body, secret), "id");
    };
    ASSERT_EQ(place(secrets_[kStorefront], 1001, 1, 51, 3), "1");
    ASSERT_EQ(place(storefront2, 1002, 2, 52, 4), "2");
    ASSERT_EQ(place(secrets_[kStorefront], 1003, 1, 51, 3), "3");
    ASSERT_EQ(place(storefront2, 1004, 2, 52, 4), "4");
    Post("/orders/1/pay", R"({"amount_fen":1000,"payment_method":"balance"})", secrets_[kStorefront]);
    Post("/orders/2/pay", R"({"amount_fen":1000,"payment_method":"card"})", storefront2);
    for (const char* order : {"1", "2"}) {
      const HttpReply shipment = Call("GET", std::string("/orders/") + order + "/shipment", "", "");
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      uint64_t waybill = 0;
      ASSERT_EQ(parser.parse(shipment.body).get(doc), simdjson::SUCCESS) << shipment.body;
      ASSERT_EQ(doc["waybills"].at(0).get(waybill), simdjson::SUCCESS) << shipment.body;
      (order[0] == '1' ? own_waybill_ : other_waybill_) = std::to_string(waybill);
    }
    const HttpReply parcel = Call("GET", "/parcels/" + own_waybill_, "", "");
    ASSERT_EQ(Field(parcel.body, "courier_id"), "41") << parcel.body;
    ASSERT_EQ(Field(Call("GET", "/parcels/" + other_waybill_, "", "").body, "courier_id"), "42");
  }

  // The "own" and "other" ids of a row's {own}, for a role.
  std::pair<std::string, std::string> Ids(const Row& row) const {
    const std::string pattern = row.pattern;
    if (pattern == "/drops") return {"11", "12"};
    if (pattern == "/skus" || pattern.find("/skus/{}") == 0 ||
        pattern.find("/merchants/{}") == 0 || pattern == "/warehouses/{}/stock" ||
        pattern == "/warehouses/{}/stock/{}") {
      const bool sku = pattern.find("/skus/{}") == 0 || pattern.find("/warehouses/{}/stock") == 0;
      return sku ? std::pair{"11", "12"} : std::pair{"1", "2"};
    }
    if (pattern == "/drops/{}/close") return {"21", "22"};
    if (pattern == "/orders/by-key/{}") return {"1001", "1002"};
    if (pattern == "/orders/{}/pay" || pattern == "/orders/{}/cancel") return {"3", "4"};
    if (pattern.find("/orders/{}") == 0) return {"1", "2"};
    if (pattern.find("/accounts/{}") == 0) {
      return {std::to_string(kMerchantWallet1), std::to_string(kMerchantWallet2)};
    }
    if (pattern.find("/parcels/{}") == 0) return {own_waybill_, other_waybill_};
    if (pattern == "/keys/{}") return {viewer_key_, viewer_key_};
    if (pattern == "/keys/{}/revoke") return {spare_key_, spare_key_};
    return {"", ""};
  }

  // A request's status. Feeds stream: only their reply's head is read.
  int Status(const Row& row, const std::string& id, const std::string& secret, std::string* body) {
    const std::string target = Replace(row.path, "{own}", id);
    std::string text = Replace(row.body, "{own}", id);
    text = Replace(text, "{sku}", std::to_string(next_id_++));
    if (std::string(row.pattern).find("/feed/") == 0) return FeedStatus(target, secret);
    const HttpReply reply = Call(row.method, target, text, secret);
    *body = reply.body;
    return reply.status;
  }
  int FeedStatus(const std::string& target, const std::string& secret) {
    const int fd = ConnectLoopback(server_->http_port());
    if (fd < 0) return -1;
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!secret.empty()) request += "Authorization: Bearer " + secret + "\r\n";
    request += "\r\n";
    std::string got;
    char buffer[512];
    if (SendAll(fd, request.data(), request.size())) {
      while (got.find("\r\n\r\n") == std::string::npos) {
        pollfd ready{fd, POLLIN, 0};
        if (poll(&ready, 1, 5000) <= 0) break;
        const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        got.append(buffer, static_cast<size_t>(n));
      }
    }
    close(fd);
    return got.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(got.substr(9, 3)) : -1;
  }

  TempDataDir dir_;
  ServerConfig config_;
  std::unique_ptr<Server> server_;
  std::array<std::string, kWhoCount> secrets_;
  std::string revoked_;
  std::string viewer_key_, spare_key_;
  std::string own_waybill_, other_waybill_;
  uint64_t next_id_ = 5000;  // fresh ids for bodies that create something
};

TEST_F(AccessTest, EveryRouteAndRoleGetsTheStatusTheRolesTableSays) {
  // The table and the server name the same routes.
  std::set<std::string> server_routes;
  for (const std::string& route : HttpRoutes()) server_routes.insert(route);
  std::set<std::string> table_routes = {"GET /healthz"};
  for (const Row& row : Rows()) table_routes.insert(std::string(row.method) + " " + row.pattern);
  for (const std::string& route : server_routes) EXPECT_TRUE(table_routes.count(route)) << route << " has no row";
  for (const std::string& route : table_routes) EXPECT_TRUE(server_routes.count(route)) << route << " is no route";

  // /healthz needs no key, and a bad one does not matter.
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/healthz", "", "ek_nonsense").status, 200);

  const std::string malformed = "ek_short";
  const std::string unknown = "ek_" + std::string(43, 'A');
  for (const Row& row : Rows()) {
    SCOPED_TRACE(std::string(row.method) + " " + row.pattern);
    const auto [own, other] = Ids(row);
    std::string body;
    // Refusals first: each changes nothing.
    const std::string before = Digest();
    for (const std::string& bad : {std::string(), malformed, unknown, revoked_}) {
      const int status = Status(row, own, bad, &body);
      EXPECT_EQ(status, 401) << "key '" << bad << "' -> " << body;
      if (status == 401 && !body.empty()) {
        EXPECT_EQ(Field(body, "error"), "unauthenticated") << body;
      }
    }
    for (int who = 0; who < kWhoCount; who++) {
      const char e = row.expect[who];
      ASSERT_TRUE(e == 'A' || e == 'O' || e == 'F');
      if (e == 'A') continue;
      ASSERT_TRUE(e == 'F' || own != other) << "an O row needs two objects";
      const int status = Status(row, e == 'F' ? own : other, secrets_[who], &body);
      EXPECT_EQ(status, 403) << kWhoNames[who] << (e == 'O' ? " on another's" : "") << " -> " << body;
      if (status == 403 && !body.empty()) {
        EXPECT_EQ(Field(body, "error"), "forbidden") << body;
      }
    }
    EXPECT_EQ(Digest(), before) << "a refusal changed the state";
    // Then what is allowed: anything but a refusal for access.
    for (int who = 0; who < kWhoCount; who++) {
      if (row.expect[who] == 'F') continue;
      const int status = Status(row, own, secrets_[who], &body);
      EXPECT_TRUE(status != 401 && status != 403 && status > 0) << kWhoNames[who] << " -> " << status << " " << body;
    }
  }
}

}  // namespace
}  // namespace eleven::server::testing
