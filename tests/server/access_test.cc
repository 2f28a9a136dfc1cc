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
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/protocol.h"
#include "server/http_server.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {


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
      {"POST", "/skus", "/skus",
       R"({"sku_id":{sku},"merchant_id":{own},"price_fen":1000,"stock":5})", "AFOFF"},
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
      {"GET", "/order-keys/{}", "/order-keys/{own}", "", "AOOFF"},
      // Coupons (docs/promotions.md): 61 is merchant 1's, 62 merchant 2's.
      {"POST", "/coupons", "/coupons",
       R"({"coupon_id":{sku},"merchant_id":{own},"kind":"fixed","amount_fen":100,"count":5,"starts_at_us":0,"ends_at_us":1000000000000})",
       "AFOFF"},
      {"GET", "/coupons/{}", "/coupons/61", "", "AAAAA"},
      {"POST", "/coupons/{}/claims", "/coupons/61/claims", R"({"buyer_id":{sku}})", "AAFFF"},
      {"GET", "/coupons/{}/claims/{}", "/coupons/{own}/claims/51", "", "AAOFF"},
      // Pre-sales: 71 of SKU 11 (merchant 1), 72 of SKU 12; buyer 51's deposits on them were
      // paid by storefront 1 (71) and storefront 2 (72).
      {"POST", "/presales", "/presales",
       R"({"presale_id":{sku},"sku_id":{own},"price_fen":900,"deposit_fen":10,"deposit_value_fen":20,"quota":1,"deposit_starts_at_us":0,"deposit_ends_at_us":500000000000,"balance_starts_at_us":500000000000,"balance_ends_at_us":1000000000000})",
       "AFOFF"},
      {"GET", "/presales/{}", "/presales/71", "", "AAAAA"},
      {"POST", "/presales/{}/deposits", "/presales/71/deposits", R"({"buyer_id":{sku},"quantity":1,"payment_method":"card"})",
       "AAFFF"},
      {"GET", "/presales/{}/deposits/{}", "/presales/{own}/deposits/51", "", "AAOFF"},
      {"POST", "/presales/{}/balance", "/presales/{own}/balance",
       R"({"buyer_id":51,"amount_fen":890,"region":3,"city_tier":1,"payment_method":"card"})", "AOFFF"},
      {"GET", "/orders/{}", "/orders/{own}", "", "AOOFF"},
      {"POST", "/orders/{}/pay", "/orders/{own}/pay",
       R"({"amount_fen":1000,"payment_method":"card"})", "AOFFF"},
      {"POST", "/orders/{}/cancel", "/orders/{own}/cancel", "", "AOFFF"},
      {"POST", "/accounts", "/accounts", R"({"account_id":901,"ledger":1,"code":1})", "AFFFF"},
      {"GET", "/accounts/{}", "/accounts/{own}", "", "AFOFF"},
      {"GET", "/accounts/{}/transfers", "/accounts/{own}/transfers", "", "AFOFF"},
      {"POST", "/transfers", "/transfers",
       R"({"transfer_id":902,"debit_account_id":901,"credit_account_id":901,"amount_fen":1,"ledger":1,"code":1})",
       "AFFFF"},
      {"GET", "/transfers/{}", "/transfers/902", "", "AFFFF"},
      {"POST", "/buyers/{}/deposit", "/buyers/51/deposit",
       R"({"transfer_id":{sku},"amount_fen":100})", "AFFFF"},
      {"POST", "/buyers/{}/credit-limit", "/buyers/51/credit-limit", R"({"limit_fen":1000000})",
       "AFFFF"},
      {"GET", "/buyers/{}/credit", "/buyers/51/credit", "", "AFFFF"},
      {"POST", "/merchants/{}/withdraw", "/merchants/{own}/withdraw",
       R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/merchants/{}/credit-line", "/merchants/1/credit-line", R"({"limit_fen":100000})",
       "AFFFF"},
      {"POST", "/merchants/{}/draw-down", "/merchants/{own}/draw-down",
       R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/merchants/{}/repay", "/merchants/{own}/repay",
       R"({"transfer_id":{sku},"amount_fen":1})", "AFOFF"},
      {"GET", "/merchants/{}/credit", "/merchants/{own}/credit", "", "AFOFF"},
      {"GET", "/merchants/{}", "/merchants/{own}", "", "AAAAA"},
      {"GET", "/orders/{}/money", "/orders/{own}/money", "", "AOOFF"},
      {"GET", "/orders/{}/plan", "/orders/{own}/plan", "", "AOOFF"},
      {"POST", "/orders/{}/plan/repay", "/orders/{own}/plan/repay", R"({"transfer_id":{sku}})",
       "AOFFF"},
      {"POST", "/orders/{}/confirm-delivery", "/orders/{own}/confirm-delivery", "", "AOFFF"},
      {"POST", "/orders/{}/after-sales-refund", "/orders/{own}/after-sales-refund",
       R"({"refund_id":{sku},"amount_fen":1})", "AFOFF"},
      {"POST", "/warehouses", "/warehouses",
       R"({"warehouse_id":32,"region":3,"x_km":0,"y_km":0,"hourly_capacity":10,"daily_capacity":10})",
       "AFFFF"},
      {"POST", "/warehouses/{}/stock", "/warehouses/31/stock", R"({"sku_id":{own},"units":1})",
       "AFOFF"},
      {"GET", "/warehouses/{}/stock/{}", "/warehouses/31/stock/{own}", "", "AFOFF"},
      {"GET", "/warehouses/{}/hours/{}", "/warehouses/31/hours/0", "", "AAAAA"},
      {"GET", "/warehouses/{}", "/warehouses/31", "", "AAAAA"},
      {"POST", "/couriers", "/couriers",
       R"({"courier_id":43,"name":"SF","mode":"express","promised_days":2,"hourly_capacity":10,"cost_fen":500,"waybill_first":9000000,"waybill_count":1000})",
       "AFFFF"},
      {"POST", "/couriers/{}/coverage", "/couriers/41/coverage", R"({"regions":[3]})", "AFFFF"},
      {"GET", "/couriers/{}/hours/{}", "/couriers/41/hours/0", "", "AAAAA"},
      {"GET", "/couriers/{}", "/couriers/{own}", "", "AFFOA"},
      {"POST", "/regions/{}/point", "/regions/3/point", R"({"x_km":0,"y_km":0})", "AFFFF"},
      {"GET", "/parcels/{}", "/parcels/{own}", "", "AOOOF"},
      {"GET", "/parcels/{}/timeline", "/parcels/{own}/timeline", "", "AOOOF"},
      {"POST", "/parcels/{}/events", "/parcels/{own}/events", R"({"event":"picked"})", "AFFOF"},
      {"GET", "/orders/{}/shipment", "/orders/{own}/shipment", "", "AOOFF"},
      {"GET", "/fulfilment/figures", "/fulfilment/figures", "", "AAAAA"},
      {"GET", "/figures", "/figures", "", "AFFFA"},
      // Lists (docs/read-side.md): a storefront's and a merchant's narrowed to their own orders.
      {"GET", "/buyers/{}/orders", "/buyers/51/orders", "", "AAAFA"},
      {"GET", "/merchants/{}/orders", "/merchants/{own}/orders", "", "AAOFA"},
      {"GET", "/merchants/{}/skus", "/merchants/{own}/skus", "", "AAAAA"},
      {"GET", "/drops", "/drops", "", "AAAAA"},
      {"GET", "/couriers/{}/parcels", "/couriers/{own}/parcels", "", "AFFOA"},
      {"POST", "/keys", "/keys", R"({"role":"viewer"})", "AFFFF"},
      {"GET", "/keys/{}", "/keys/{own}", "", "AFFFF"},
      {"POST", "/keys/{}/revoke", "/keys/{own}/revoke", "", "AFFFF"},
      {"GET", "/engine/digest", "/engine/digest", "", "AFFFA"},
      {"GET", "/feed/skus/{}", "/feed/skus/11", "", "AAAAA"},
      {"GET", "/feed/drops/{}", "/feed/drops/21", "", "AAAAA"},
      {"GET", "/feed/figures", "/feed/figures", "", "AFFFA"},
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
  std::string Post(const std::string& target, const std::string& body,
                   const std::string& secret = "") {
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
  // A metric's value, read with the operator's key; -1 if absent.
  double Metric(const std::string& name) {
    const HttpReply reply = Call("GET", "/metrics", "", secrets_[kOperator]);
    const size_t at = reply.body.find("\n" + name + " ");
    if (reply.status != 200 || at == std::string::npos) return -1;
    return std::stod(reply.body.substr(at + name.size() + 2));
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
      Post("/skus",
           R"({"sku_id":1)" + id + R"(,"merchant_id":)" + id + R"(,"price_fen":1000,"stock":100})");
      Post("/drops",
           R"({"drop_id":2)" + id + R"(,"sku_id":1)" + id +
               R"(,"live_price_fen":900,"quota":10,"opens_at_us":0,"closes_at_us":1000000000000})");
    }
    Post(
        "/warehouses",
        R"({"warehouse_id":31,"region":3,"x_km":0,"y_km":0,"hourly_capacity":1000,"daily_capacity":10000})");
    Post("/warehouses/31/stock", R"({"sku_id":11,"units":50})");
    Post("/warehouses/31/stock", R"({"sku_id":12,"units":50})");
    Post(
        "/couriers",
        R"({"courier_id":41,"name":"ZTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":1000000,"waybill_count":1000000})");
    Post(
        "/couriers",
        R"({"courier_id":42,"name":"YTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":3000000,"waybill_count":1000000})");
    Post("/couriers/41/coverage", R"({"regions":[3]})");
    Post("/couriers/42/coverage", R"({"regions":[4]})");
    Post("/buyers/51/deposit", R"({"transfer_id":801,"amount_fen":1000000})");
    for (int m : {1, 2}) {
      const std::string id = std::to_string(m);
      Post("/coupons", R"({"coupon_id":6)" + id + R"(,"merchant_id":)" + id +
                           R"(,"kind":"fixed","amount_fen":100,"count":100,"starts_at_us":0,"ends_at_us":1000000000000})");
      Post("/coupons/6" + id + "/claims", R"({"buyer_id":51})");
    }
    Post("/buyers/52/deposit", R"({"transfer_id":802,"amount_fen":1000000})");

    secrets_[kOperator] = Key(R"({"role":"operator"})");
    secrets_[kStorefront] = Key(R"({"role":"storefront","storefront_id":1})");
    secrets_[kMerchant] = Key(R"({"role":"merchant","merchant_id":1})");
    secrets_[kCourier] = Key(R"({"role":"courier","courier_id":41})");
    secrets_[kViewer] = Key(R"({"role":"viewer"})");
    const std::string storefront2 = Key(R"({"role":"storefront","storefront_id":2})");
    revoked_ = Key(R"({"role":"storefront","storefront_id":3})");
    Post("/keys/7/revoke", "");                                       // revoked_ is key 7
    spare_key_ = Field(Post("/keys", R"({"role":"viewer"})"), "id");  // the revoke row's target
    viewer_key_ = "5";
    for (int m : {1, 2}) {
      const std::string id = std::to_string(m);
      Post("/presales", R"({"presale_id":7)" + id + R"(,"sku_id":1)" + id +
                            R"(,"price_fen":900,"deposit_fen":10,"deposit_value_fen":20,"quota":5,"deposit_starts_at_us":0,"deposit_ends_at_us":500000000000,"balance_starts_at_us":500000000000,"balance_ends_at_us":1000000000000})");
      Post("/presales/7" + id + "/deposits", R"({"buyer_id":51,"quantity":1,"payment_method":"card"})",
           m == 1 ? secrets_[kStorefront] : storefront2);
    }

    // X and X2 are storefront 1's (merchant 1, region 3: courier 41), Y and Y2 storefront 2's
    // (merchant 2, region 4: courier 42). X is paid from buyer 51's wallet, Y by card.
    auto place = [&](const std::string& secret, int key, int merchant, int buyer, int region) {
      const std::string body = R"({"idempotency_key":)" + std::to_string(key) +
                               R"(,"merchant_id":)" + std::to_string(merchant) + R"(,"buyer_id":)" +
                               std::to_string(buyer) + R"(,"region":)" + std::to_string(region) +
                               R"(,"city_tier":1,"lines":[{"sku_id":1)" + std::to_string(merchant) +
                               R"(,"quantity":1}]})";
      return Field(Post("/orders", body, secret), "id");
    };
    ASSERT_EQ(place(secrets_[kStorefront], 1001, 1, 51, 3), "1");
    ASSERT_EQ(place(storefront2, 1002, 2, 52, 4), "2");
    ASSERT_EQ(place(secrets_[kStorefront], 1003, 1, 51, 3), "3");
    ASSERT_EQ(place(storefront2, 1004, 2, 52, 4), "4");
    Post("/orders/1/pay", R"({"amount_fen":1000,"payment_method":"balance"})",
         secrets_[kStorefront]);
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
    if (pattern == "/skus" || pattern.find("/skus/{}") == 0 || pattern.find("/merchants/{}") == 0 ||
        pattern == "/warehouses/{}/stock" || pattern == "/warehouses/{}/stock/{}") {
      const bool sku = pattern.find("/skus/{}") == 0 || pattern.find("/warehouses/{}/stock") == 0;
      return sku ? std::pair{"11", "12"} : std::pair{"1", "2"};
    }
    if (pattern == "/drops/{}/close") return {"21", "22"};
    if (pattern == "/coupons") return {"1", "2"};
    if (pattern == "/presales") return {"11", "12"};
    if (pattern == "/presales/{}/deposits/{}" || pattern == "/presales/{}/balance") return {"71", "72"};
    if (pattern == "/coupons/{}/claims/{}") return {"61", "62"};
    if (pattern == "/order-keys/{}") return {"1001", "1002"};
    if (pattern == "/couriers/{}" || pattern == "/couriers/{}/parcels") return {"41", "42"};
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

// Lists narrow to what a key may see (docs/access.md): a storefront lists the orders it
// placed, a merchant its own, whatever the buyer; operators and viewers see all.
// The sales figures are the platform's: /metrics shows them to operators and viewers only.
TEST_F(AccessTest, MetricsShowTheSalesFiguresToOperatorsAndViewersOnly) {
  for (Who who : {kOperator, kStorefront, kMerchant, kCourier, kViewer}) {
    const HttpReply metrics = Call("GET", "/metrics", "", secrets_[who]);
    ASSERT_EQ(metrics.status, 200) << kWhoNames[who];
    const bool shown = metrics.body.find("\neleven_sales_gross_fen ") != std::string::npos;
    EXPECT_EQ(shown, who == kOperator || who == kViewer) << kWhoNames[who];
  }
}

TEST_F(AccessTest, ListsShowAStorefrontOrAMerchantOnlyTheirOwnOrders) {
  const std::string min_op = "?min_op=" + Field(Digest(), "op");
  auto ids = [&](Who who, const std::string& path) {
    const HttpReply reply = Call("GET", path + min_op, "", secrets_[who]);
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
    std::string listed;
    for (size_t at = reply.body.find("\"order_id\":"); at != std::string::npos;
         at = reply.body.find("\"order_id\":", at + 1)) {
      listed += reply.body.substr(at + 11, reply.body.find(',', at) - at - 11) + " ";
    }
    return listed;
  };
  EXPECT_EQ(ids(kOperator, "/buyers/52/orders"), "4 2 ");
  EXPECT_EQ(ids(kViewer, "/buyers/51/orders"), "3 1 ");
  EXPECT_EQ(ids(kStorefront, "/buyers/51/orders"), "3 1 ");
  EXPECT_EQ(ids(kStorefront, "/buyers/52/orders"), "");
  EXPECT_EQ(ids(kStorefront, "/merchants/2/orders"), "");
  EXPECT_EQ(ids(kMerchant, "/buyers/52/orders"), "");
  EXPECT_EQ(ids(kMerchant, "/merchants/1/orders"), "3 1 ");
  EXPECT_EQ(Call("GET", "/merchants/2/orders", "", secrets_[kMerchant]).status, 403);
  EXPECT_EQ(Call("GET", "/buyers/51/orders", "", secrets_[kCourier]).status, 403);
}

TEST_F(AccessTest, EveryRouteAndRoleGetsTheStatusTheRolesTableSays) {
  // The table and the server name the same routes.
  std::set<std::string> server_routes;
  for (const std::string& route : HttpRoutes()) server_routes.insert(route);
  std::set<std::string> table_routes = {"GET /healthz", "GET /openapi.json", "GET /openapi.yaml"};
  for (const Row& row : Rows()) table_routes.insert(std::string(row.method) + " " + row.pattern);
  for (const std::string& route : server_routes)
    EXPECT_TRUE(table_routes.count(route)) << route << " has no row";
  for (const std::string& route : table_routes)
    EXPECT_TRUE(server_routes.count(route)) << route << " is no route";

  // /healthz and the API's document need no key, and a bad one does not matter.
  for (const char* open : {"/healthz", "/openapi.json", "/openapi.yaml"}) {
    EXPECT_EQ(Call("GET", open, "", "").status, 200) << open;
    EXPECT_EQ(Call("GET", open, "", "ek_nonsense").status, 200) << open;
  }

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
      EXPECT_EQ(status, 403) << kWhoNames[who] << (e == 'O' ? " on another's" : "") << " -> "
                             << body;
      if (status == 403 && !body.empty()) {
        EXPECT_EQ(Field(body, "error"), "forbidden") << body;
      }
    }
    EXPECT_EQ(Digest(), before) << "a refusal changed the state";
    // Then what is allowed: anything but a refusal for access.
    for (int who = 0; who < kWhoCount; who++) {
      if (row.expect[who] == 'F') continue;
      const int status = Status(row, own, secrets_[who], &body);
      EXPECT_TRUE(status != 401 && status != 403 && status > 0)
          << kWhoNames[who] << " -> " << status << " " << body;
    }
  }
}

// A binary protocol connection speaking raw frames, so that anything can be sent.
class Frames {
 public:
  explicit Frames(uint16_t port) : fd_(ConnectLoopback(port)) {}
  ~Frames() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // Sends a frame and reads its reply: the reply's header (status), its body into *body.
  protocol::FrameHeader Call(protocol::Operation op, uint32_t count,
                             const std::vector<std::byte>& body, uint64_t client_id,
                             std::vector<std::byte>* reply_body) {
    protocol::FrameHeader h =
        protocol::MakeHeader(op, protocol::FrameStatus::kOk, ++request_id_, count, body, client_id);
    std::vector<std::byte> frame(sizeof(h) + body.size());
    std::memcpy(frame.data(), &h, sizeof(h));
    if (!body.empty()) std::memcpy(frame.data() + sizeof(h), body.data(), body.size());
    protocol::FrameHeader reply{};
    reply.status = protocol::FrameStatus::kBadMagic;  // stays if nothing comes back
    if (!SendAll(fd_, frame.data(), frame.size())) return reply;
    if (RecvSome(fd_, &reply, sizeof(reply), 5000) != sizeof(reply)) {
      reply.status = protocol::FrameStatus::kBadMagic;
      return reply;
    }
    reply_body->resize(reply.body_size);
    if (reply.body_size > 0 &&
        RecvSome(fd_, reply_body->data(), reply.body_size, 5000) != reply.body_size) {
      reply.status = protocol::FrameStatus::kBadMagic;
    }
    return reply;
  }
  // Authenticates; the key id, or 0 when refused (*status says how).
  uint64_t Authenticate(const std::string& secret, protocol::FrameStatus* status) {
    protocol::AuthenticateRecord record{};
    std::memcpy(record.secret, secret.data(), std::min(secret.size(), sizeof(record.secret)));
    std::vector<std::byte> body(sizeof(record)), reply;
    std::memcpy(body.data(), &record, sizeof(record));
    const protocol::FrameHeader h = Call(protocol::Operation::kAuthenticate, 1, body, 0, &reply);
    *status = h.status;
    if (h.status != protocol::FrameStatus::kOk ||
        reply.size() != protocol::ReplyRecordSize(h.operation))
      return 0;
    protocol::AuthenticatedRecord who;
    std::memcpy(&who, reply.data() + protocol::kQueryEntryHeadSize, sizeof(who));
    return who.key_id;
  }
  bool Closed() { return WaitClosed(fd_, 5000); }

 private:
  int fd_;
  uint64_t request_id_ = 0;
};

template <typename T>
std::vector<std::byte> BytesOf(const T& value) {
  std::vector<std::byte> bytes(sizeof(value));
  std::memcpy(bytes.data(), &value, sizeof(value));
  return bytes;
}

// One binary operation's row: its request records for "own" and "other" (the same for a
// public read), and the letters of a Row.
struct OperationRow {
  protocol::Operation op;
  std::vector<std::byte> own, other;
  const char* expect;
};

TEST_F(AccessTest, EveryBinaryOperationAndRoleGetsTheAnswerTheRolesTableSays) {
  using protocol::FrameStatus;
  using protocol::Operation;
  const auto id = [](uint64_t v) { return BytesOf(v); };
  const auto pair = [](uint64_t a, uint64_t b) { return BytesOf(protocol::PairQuery{a, b}); };
  const auto transfers = [](uint64_t account) {
    protocol::AccountTransfersQuery q{};
    q.account_id = account;
    q.limit = 10;
    return BytesOf(q);
  };
  const uint64_t own_waybill = std::stoull(own_waybill_),
                 other_waybill = std::stoull(other_waybill_);
  // A restock of merchant 1's SKU 11 (own) and of merchant 2's SKU 12 (other).
  const auto restock = [](uint64_t sku) { return BytesOf(wire::MakeRestock(sku, 1)); };
  const std::vector<OperationRow> rows = {
      {Operation::kSubmit, restock(11), restock(12), "AFOFF"},
      {Operation::kGetOrder, id(1), id(2), "AOOFF"},
      {Operation::kGetOrderByKey, id(1001), id(1002), "AOOFF"},
      {Operation::kGetSku, id(11), id(11), "AAAAA"},
      {Operation::kGetDrop, id(21), id(21), "AAAAA"},
      {Operation::kPing, {}, {}, "AAAAA"},
      {Operation::kGetAccount, id(kMerchantWallet1), id(kMerchantWallet2), "AFOFF"},
      {Operation::kGetTransfer, id(801), id(801), "AFFFF"},
      {Operation::kGetOrderMoney, id(1), id(2), "AOOFF"},
      {Operation::kGetPlan, id(1), id(2), "AOOFF"},
      {Operation::kGetMerchantCredit, id(1), id(2), "AFOFF"},
      {Operation::kGetBuyerCredit, id(51), id(51), "AFFFF"},
      {Operation::kGetAccountTransfers, transfers(kMerchantWallet1), transfers(kMerchantWallet2),
       "AFOFF"},
      {Operation::kGetParcel, id(own_waybill), id(other_waybill), "AOOOF"},
      {Operation::kGetShipment, id(1), id(2), "AOOFF"},
      {Operation::kGetTimeline, id(own_waybill), id(other_waybill), "AOOOF"},
      {Operation::kGetFigures, {}, {}, "AAAAA"},
      {Operation::kGetWarehouseStock, pair(31, 11), pair(31, 12), "AFOFF"},
      {Operation::kGetWarehouseHour, pair(31, 0), pair(31, 0), "AAAAA"},
      {Operation::kGetCourierHour, pair(41, 0), pair(41, 0), "AAAAA"},
      {Operation::kGetDigest, {}, {}, "AFFFA"},
      {Operation::kSetClock, id(1000000), id(1000000), "AFFFF"},
      {Operation::kGetStats, {}, {}, "AAAAA"},
      {Operation::kGetLimits, {}, {}, "AAAAA"},
      {Operation::kGetKey, id(5), id(5), "AFFFF"},
      {Operation::kGetMerchant, id(1), id(2), "AAAAA"},
      {Operation::kGetCoupon, id(61), id(62), "AAAAA"},
      {Operation::kGetCouponClaim, pair(61, 51), pair(62, 51), "AAOFF"},
      {Operation::kGetPresale, id(71), id(72), "AAAAA"},
      {Operation::kGetDeposit, pair(71, 51), pair(72, 51), "AAOFF"},
      {Operation::kGetWarehouse, id(31), id(31), "AAAAA"},
      {Operation::kGetCourier, id(41), id(42), "AFFOA"},
      {Operation::kGetSales, BytesOf(wire::SalesQuery{.drop_limit = 10}), BytesOf(wire::SalesQuery{.drop_limit = 10}), "AFFFA"},
  };
  // Every operation but authenticate (tested below) has its row.
  std::set<uint8_t> covered;
  for (const OperationRow& row : rows) covered.insert(static_cast<uint8_t>(row.op));
  for (uint8_t op = 1; op <= protocol::kOperationMax; op++) {
    if (op != static_cast<uint8_t>(Operation::kAuthenticate)) {
      EXPECT_TRUE(covered.count(op)) << "operation " << int(op);
    }
  }

  // What one frame got: the frame status, else the first entry's (or result's) code.
  const auto answer = [&](Frames& frames, uint64_t key_id, const OperationRow& row, bool own) {
    const std::vector<std::byte>& body = own ? row.own : row.other;
    const uint32_t count = row.op == Operation::kPing ? 0 : 1;  // keyless queries: 1, empty body
    std::vector<std::byte> reply;
    const protocol::FrameHeader h = frames.Call(row.op, count, body, key_id, &reply);
    if (h.status != FrameStatus::kOk) return std::string(protocol::FrameStatusName(h.status));
    if (reply.size() < sizeof(wire::Code)) return std::string("ok");  // ping
    wire::Code code;
    std::memcpy(&code, reply.data(), sizeof(code));
    return std::string(wire::CodeName(code));
  };
  const auto refused = [](const std::string& a) {
    return a == "forbidden" || a == "unauthenticated";
  };

  for (const OperationRow& row : rows) {
    SCOPED_TRACE("operation " + std::to_string(static_cast<int>(row.op)));
    const std::string before = Digest();
    // No authenticate: unauthenticated, and the connection closes.
    {
      Frames frames(server_->binary_port());
      ASSERT_TRUE(frames.ok());
      EXPECT_EQ(answer(frames, 0, row, true), "unauthenticated");
      EXPECT_TRUE(frames.Closed());
    }
    for (int who = 0; who < kWhoCount; who++) {
      Frames frames(server_->binary_port());
      FrameStatus status;
      const uint64_t key_id = frames.Authenticate(secrets_[who], &status);
      ASSERT_NE(key_id, 0u) << kWhoNames[who];
      const char e = row.expect[who];
      if (e == 'A') continue;  // after the digest check
      const std::string got = answer(frames, key_id, row, e == 'F');
      EXPECT_EQ(got, "forbidden") << kWhoNames[who] << (e == 'O' ? " on another's" : "");
    }
    EXPECT_EQ(Digest(), before) << "a refusal changed the state";
    for (int who = 0; who < kWhoCount; who++) {
      if (row.expect[who] == 'F') continue;
      Frames frames(server_->binary_port());
      FrameStatus status;
      const uint64_t key_id = frames.Authenticate(secrets_[who], &status);
      const std::string got = answer(frames, key_id, row, true);
      EXPECT_FALSE(refused(got)) << kWhoNames[who] << " -> " << got;
      EXPECT_NE(got, "bad_magic") << kWhoNames[who] << ": no reply";
    }
  }
}

TEST_F(AccessTest, BinaryConnectionsAuthenticateWithALiveKeyAndNameIt) {
  using protocol::FrameStatus;
  const std::vector<std::byte> none;
  std::vector<std::byte> reply;
  // Malformed, unknown and revoked secrets: refused, and the connection closes.
  for (const std::string& bad : {std::string("ek_short"), "ek_" + std::string(43, 'A'), revoked_}) {
    Frames frames(server_->binary_port());
    FrameStatus status;
    EXPECT_EQ(frames.Authenticate(bad, &status), 0u);
    EXPECT_EQ(status, FrameStatus::kUnauthenticated) << bad;
    EXPECT_TRUE(frames.Closed());
  }
  // A frame whose client_id is not the authenticated key: refused, closed.
  {
    Frames frames(server_->binary_port());
    FrameStatus status;
    const uint64_t key_id = frames.Authenticate(secrets_[kViewer], &status);
    ASSERT_NE(key_id, 0u);
    EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id + 1, &reply).status,
              FrameStatus::kUnauthenticated);
    EXPECT_TRUE(frames.Closed());
  }
  // A key revoked while its connection is open: its next frame is refused.
  Frames frames(server_->binary_port());
  FrameStatus status;
  const std::string secret =
      Field(Post("/keys", R"({"role":"viewer"})", secrets_[kOperator]), "secret");
  const uint64_t key_id = frames.Authenticate(secret, &status);
  ASSERT_NE(key_id, 0u);
  EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id, &reply).status,
            FrameStatus::kOk);
  Post("/keys/" + std::to_string(key_id) + "/revoke", "", secrets_[kOperator]);
  EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id, &reply).status,
            FrameStatus::kUnauthenticated);
  EXPECT_TRUE(frames.Closed());
  // And over HTTP.
  EXPECT_EQ(Call("GET", "/skus/11", "", secret).status, 401);
}

TEST_F(AccessTest, NoCrossSiteWrites) {
  server_.reset();
  config_.cors_origins = {"https://screen.example"};
  server_ = StartServer(config_);
  ASSERT_NE(server_, nullptr);
  const uint16_t port = server_->http_port();
  const std::string auth = "Bearer " + secrets_[kOperator];
  const std::string before = Digest();
  const std::string deposit = "/buyers/51/deposit";
  const std::string body = R"({"transfer_id":7001,"amount_fen":100})";
  // A body that is not JSON (what a page may send cross-site without asking): 415.
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}) {
    const HttpReply reply =
        HttpCall(port, "POST", deposit, body, {{"Authorization", auth}, {"Content-Type", type}});
    EXPECT_EQ(reply.status, 415) << type;
    EXPECT_EQ(Field(reply.body, "error"), "unsupported_media_type");
  }
  // An origin not allowed: 403, before its key is even looked at; its preflight too.
  const HttpHeaders evil = {{"Authorization", auth}, {"Origin", "https://evil.example"}};
  EXPECT_EQ(HttpCall(port, "POST", deposit, body, evil).status, 403);
  EXPECT_EQ(HttpCall(port, "GET", "/skus/11", "", evil).status, 403);
  EXPECT_EQ(HttpCall(port, "OPTIONS", deposit, "", {{"Origin", "https://evil.example"}}).status,
            403);
  EXPECT_EQ(Digest(), before);
  EXPECT_EQ(Metric("eleven_cross_site_refused_total"), 6);
  // An allowed origin: the preflight says what it may send, and replies carry the CORS headers.
  const HttpReply preflight =
      HttpCall(port, "OPTIONS", deposit, "",
               {{"Origin", "https://screen.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers.at("Access-Control-Allow-Origin"), "https://screen.example");
  EXPECT_NE(preflight.headers.at("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  const HttpReply allowed = HttpCall(
      port, "GET", "/skus/11", "", {{"Authorization", auth}, {"Origin", "https://screen.example"}});
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.headers.at("Access-Control-Allow-Origin"), "https://screen.example");
  // The server's own origin is not cross-site.
  const std::string self = "http://127.0.0.1:" + std::to_string(port);
  const HttpReply own = HttpCall(
      port, "POST", deposit, body,
      {{"Authorization", auth}, {"Origin", self}, {"Host", "127.0.0.1:" + std::to_string(port)}});
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(own.headers.count("Access-Control-Allow-Origin"), 0u);
}

TEST_F(AccessTest, RateLimitsRefuseBeforeTheEngineAndRefill) {
  server_.reset();
  config_.rate_limits.limits["slow"] = RateLimit{5, 2};
  config_.rate_limits.role_limits[wire::Role::kViewer] = "slow";
  config_.rate_limits.key_limits[2] = "slow";  // storefront 1's key
  server_ = StartServer(config_);
  ASSERT_NE(server_, nullptr);
  const uint16_t port = server_->http_port();
  const HttpHeaders viewer = {{"Authorization", "Bearer " + secrets_[kViewer]}};
  EXPECT_EQ(HttpCall(port, "GET", "/skus/11", "", viewer).status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/skus/11", "", viewer).status, 200);
  const HttpReply over = HttpCall(port, "GET", "/skus/11", "", viewer);
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(Field(over.body, "error"), "rate_limited");
  const int retry_after = std::stoi(over.headers.at("Retry-After"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 1);  // one token at 5 per second
  // Other keys are not limited; the operator's digest shows nothing changed.
  const std::string before = Digest();
  // Storefront 1's key by its id: a binary frame over the limit is refused and the connection
  // stays; its place orders never reached the engine.
  Frames frames(server_->binary_port());
  protocol::FrameStatus status;
  const uint64_t key_id = frames.Authenticate(secrets_[kStorefront], &status);
  ASSERT_EQ(key_id, 2u);
  std::vector<std::byte> reply;
  const std::vector<std::byte> none;
  EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id, &reply).status,
            protocol::FrameStatus::kOk);
  EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id, &reply).status,
            protocol::FrameStatus::kOk);
  const wire::Command order = wire::MakePlaceOrder(9001, 1, 51, 3, 1, {{11, 1}});
  const auto command = BytesOf(order);
  EXPECT_EQ(frames.Call(protocol::Operation::kSubmit, 1, command, key_id, &reply).status,
            protocol::FrameStatus::kRateLimited);
  EXPECT_EQ(Digest(), before);
  EXPECT_EQ(Metric("eleven_rate_limited_total"), 2);
  // The bucket refills at its rate: a token after 200 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(frames.Call(protocol::Operation::kPing, 0, none, key_id, &reply).status,
            protocol::FrameStatus::kOk);
  EXPECT_EQ(
      HttpCall(port, "GET", "/skus/11", "", {{"Authorization", "Bearer " + secrets_[kOperator]}})
          .status,
      200);
}

TEST(AccessConfig, AnonymousOperatorOnlyOnLoopback) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.anonymous_operator = true;
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.http = "0.0.0.0:0";
  const Status refused = ValidateServerConfig(config);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.ToString().find("0.0.0.0:0 is not"), std::string::npos) << refused.ToString();
  config.http = "localhost:0";
  config.listen = "192.168.1.1:7011";
  EXPECT_FALSE(ValidateServerConfig(config).ok());
  config.listen = "";
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.anonymous_operator = false;
  config.http = "0.0.0.0:0";
  EXPECT_TRUE(ValidateServerConfig(config).ok());
}

TEST(AccessConfig, TomlKeysAreReadAndBadOnesNamed) {
  TempDataDir dir;
  std::filesystem::create_directories(dir.path());
  const std::string path = dir.path() + "/c.toml";
  auto load = [&](const std::string& text, ServerConfig* config) {
    std::ofstream(path) << text;
    return LoadServerConfig(path, config);
  };
  ServerConfig config;
  ASSERT_TRUE(load(R"([access]
anonymous = "operator"
[http]
cors_origins = ["https://screen.example"]
[rate_limits.limits]
shop = { per_second = 2000, burst = 4000 }
[rate_limits.roles]
storefront = "shop"
[rate_limits.keys]
17 = "shop"
)",
                   &config)
                  .ok());
  EXPECT_TRUE(config.anonymous_operator);
  EXPECT_EQ(config.cors_origins, std::vector<std::string>{"https://screen.example"});
  EXPECT_EQ(config.rate_limits.limits.at("shop").per_second, 2000);
  EXPECT_EQ(config.rate_limits.role_limits.at(wire::Role::kStorefront), "shop");
  EXPECT_EQ(config.rate_limits.key_limits.at(17), "shop");
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"[access]\nanonymous = \"everyone\"\n", "access.anonymous must be"},
           {"[rate_limits.roles]\nstorefront = \"nope\"\n",
            "rate_limits.roles.storefront must name a limit"},
           {"[rate_limits.roles]\nadmin = \"x\"\n", "rate_limits.roles.admin: no such role"},
           {"[rate_limits.limits]\nx = { per_second = 0, burst = 1 }\n",
            "rate_limits.limits.x must be"},
           {"[rate_limits.keys]\nabc = \"x\"\n", "rate_limits.keys.abc: a key id"},
           {"[http]\ncors_origins = \"*\"\n", "http.cors_origins must be an array"}}) {
    ServerConfig bad;
    const Status status = load(text, &bad);
    EXPECT_FALSE(status.ok()) << text;
    EXPECT_NE(status.ToString().find(want), std::string::npos) << status.ToString();
  }
}

}  // namespace
}  // namespace eleven::server::testing
