// The HTTP gateway against docs/openapi.yaml (every documented path and method answers with
// a documented status and the fields its schema requires), hostile and invalid JSON (a clear
// JSON error, nothing applied), and the live stock feed (SSE events with sequence numbers,
// and the same events over WebSocket).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>
#include <simdjson.h>
#include <sstream>
#include <thread>

#include "server/http_server.h"
#include "tests/server/test_util.h"

namespace eleven::server::testing {
namespace {

std::string ReadOpenApi() {
  std::ifstream file(std::string(ELEVEN_SOURCE_DIR) + "/docs/openapi.yaml");
  std::stringstream text;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty() && line[0] == '#') continue;  // YAML comments; the rest is JSON
    text << line << '\n';
  }
  return text.str();
}

// Substitutes each {name} in `path` with the example of the path parameter of that name.
std::string FillPath(std::string path, simdjson::dom::element operation) {
  simdjson::dom::array params;
  if (operation["parameters"].get(params) != simdjson::SUCCESS) return path;
  for (auto param : params) {
    std::string_view name, in;
    int64_t example = 0;
    EXPECT_EQ(param["in"].get(in), simdjson::SUCCESS);
    if (in != "path") continue;  // query parameters are optional: the request leaves them out
    EXPECT_EQ(param["name"].get(name), simdjson::SUCCESS);
    EXPECT_EQ(param["example"].get(example), simdjson::SUCCESS);
    const std::string key = "{" + std::string(name) + "}";
    const size_t at = path.find(key);
    if (at != std::string::npos) path.replace(at, key.size(), std::to_string(example));
  }
  return path;
}

void CheckRequired(simdjson::dom::element doc, std::string_view ref, const std::string& body,
                   const std::string& what) {
  const std::string prefix = "#/components/schemas/";
  ASSERT_EQ(ref.substr(0, prefix.size()), prefix);
  simdjson::dom::element schema = doc["components"]["schemas"][ref.substr(prefix.size())];
  simdjson::dom::parser parser;
  simdjson::dom::element reply;
  ASSERT_EQ(parser.parse(body).get(reply), simdjson::SUCCESS) << what << ": not JSON: " << body;
  simdjson::dom::array required;
  if (schema["required"].get(required) != simdjson::SUCCESS) return;
  for (auto field : required) {
    std::string_view name;
    ASSERT_EQ(field.get(name), simdjson::SUCCESS);
    EXPECT_NE(reply[name].error(), simdjson::NO_SUCH_FIELD) << what << " lacks " << name << ": " << body;
  }
}

TEST(HttpTest, ServerAnswersAsOpenApiSays) {
  TempDataDir dir;
  auto server = StartServer(ModulesConfig(dir.path()));  // payments and fulfilment routes too
  const std::string text = ReadOpenApi();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << "docs/openapi.yaml is not JSON-style YAML";
  int checked = 0;
  simdjson::dom::object paths;
  ASSERT_EQ(doc["paths"].get(paths), simdjson::SUCCESS);
  for (auto [path, item] : paths) {
    simdjson::dom::object methods;
    ASSERT_EQ(item.get(methods), simdjson::SUCCESS);
    for (auto [method, operation] : methods) {
      const std::string target = FillPath(std::string(path), operation);
      std::string body;
      simdjson::dom::element example;
      if (operation["requestBody"]["content"]["application/json"]["example"].get(example) == simdjson::SUCCESS) {
        body = simdjson::to_string(example);
      }
      simdjson::dom::object responses;
      ASSERT_EQ(operation["responses"].get(responses), simdjson::SUCCESS);
      bool stream = false;
      for (auto [status, response] : responses) {
        stream |= response["content"]["text/event-stream"].error() == simdjson::SUCCESS;
      }
      if (stream) continue;  // the feed test below reads event streams
      const std::string what = std::string(method) + " " + target;
      const std::string verb = method == "get" ? "GET" : "POST";
      const HttpReply reply = HttpCall(server->http_port(), verb, target, body);
      ASSERT_GT(reply.status, 0) << what;
      simdjson::dom::element response;
      ASSERT_EQ(responses[std::to_string(reply.status)].get(response), simdjson::SUCCESS)
          << what << " answered an undocumented " << reply.status << ": " << reply.body;
      std::string_view ref;
      if (response["content"]["application/json"]["schema"]["$ref"].get(ref) == simdjson::SUCCESS) {
        EXPECT_EQ(reply.content_type, "application/json") << what;
        CheckRequired(doc, ref, reply.body, what);
      }
      checked++;
    }
  }
  EXPECT_GE(checked, 46);
  // And the other way round: every route the server has is documented.
  std::set<std::string> documented;
  for (auto [path, item] : paths) {
    std::string pattern(path);
    for (size_t open = pattern.find('{'); open != std::string::npos; open = pattern.find('{', open + 1)) {
      pattern.replace(open, pattern.find('}', open) - open + 1, "{}");
    }
    for (auto [method, operation] : simdjson::dom::object(item)) {
      std::string verb(method);
      for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(verb + " " + pattern);
    }
  }
  for (const std::string& route : HttpRoutes()) EXPECT_TRUE(documented.count(route)) << route << " is not in docs/openapi.yaml";
  EXPECT_EQ(documented.size(), HttpRoutes().size());
  // The server serves this very document, as JSON and as the YAML file.
  const HttpReply json = HttpCall(server->http_port(), "GET", "/openapi.json");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_EQ(json.body, text);
  std::ifstream file(std::string(ELEVEN_SOURCE_DIR) + "/docs/openapi.yaml");
  const std::string yaml((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const HttpReply served_yaml = HttpCall(server->http_port(), "GET", "/openapi.yaml");
  EXPECT_EQ(served_yaml.status, 200);
  EXPECT_EQ(served_yaml.content_type, "application/yaml");
  EXPECT_EQ(served_yaml.body, yaml);
  // Undocumented paths and methods get JSON errors too.
  EXPECT_EQ(HttpCall(server->http_port(), "GET", "/nope").status, 404);
  EXPECT_EQ(HttpCall(server->http_port(), "DELETE", "/orders/1").status, 405);
}

std::string WithNul(std::string text, size_t at) {
  text[at] = '\0';
  return text;
}

TEST(HttpTest, HostileJsonChangesNothing) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.http_body_size_max = 4096;
  auto server = StartServer(config);
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":100})").status, 200);
  const std::string health = HttpCall(port, "GET", "/healthz").body;
  const std::string sku = HttpCall(port, "GET", "/skus/10").body;
  const std::string good = R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})";
  struct Case {
    std::string body;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"{", 400, "invalid_json"},
      {"not json at all", 400, "invalid_json"},
      {"[1,2,3]", 400, "invalid_json"},
      {std::string(2000, '[') + std::string(2000, ']'), 400, "invalid_json"},
      {good + "garbage", 400, "invalid_json"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}],"evil":1})",
       400, "invalid_request"},
      {R"({"idempotency_key":1,"idempotency_key":2,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[]})",
       400, "invalid_request"},
      {R"({"idempotency_key":-1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})",
       400, "invalid_request"},
      {R"({"idempotency_key":1e400,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})",
       400, "invalid_request"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":70000,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})",
       400, "invalid_region"},
      {R"({"idempotency_key":1,"merchant_id":"1","buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})",
       400, "invalid_request"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1})", 400,
       "invalid_request"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[]})",
       400, "invalid_line_count"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[1,2,3,4,5,6,7,8,9]})",
       400, "invalid_request"},
      {R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10}]})",
       400, "invalid_request"},
      {WithNul("{\"a_b\":1}", 3), 400, "invalid_json"},
      {"{\"\xff\xfe\":1}", 400, "invalid_json"},
      {std::string(5000, ' ') + good, 413, "too_large"},
  };
  for (const Case& c : cases) {
    const HttpReply reply = HttpCall(port, "POST", "/orders", c.body);
    EXPECT_EQ(reply.status, c.status) << c.body.substr(0, 200) << " -> " << reply.body;
    EXPECT_NE(reply.body.find("\"error\":\"" + c.error + "\""), std::string::npos)
        << c.body.substr(0, 200) << " -> " << reply.body;
    EXPECT_NE(reply.body.find("\"message\":"), std::string::npos) << reply.body;
  }
  // Raw garbage on the HTTP port: a 400 and the connection closed.
  const int fd = ConnectLoopback(port);
  const std::string garbage = "\x01\x02 NOT HTTP\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, garbage.data(), garbage.size()));
  char buffer[256] = {};
  ASSERT_GT(RecvSome(fd, buffer, 12, 3000), 0u);
  EXPECT_EQ(std::string(buffer, 12), "HTTP/1.1 400");
  EXPECT_TRUE(WaitClosed(fd, 3000));
  close(fd);
  // Nothing was applied: same log position, same stock.
  EXPECT_EQ(HttpCall(port, "GET", "/healthz").body, health);
  EXPECT_EQ(HttpCall(port, "GET", "/skus/10").body, sku);
  EXPECT_EQ(HttpCall(port, "POST", "/orders", good).status, 200);
}

// Reads from `fd` until `text` has arrived (or 3 s pass); returns everything read.
std::string ReadUntil(int fd, std::string* pending, const std::string& text) {
  char buffer[4096];
  while (pending->find(text) == std::string::npos) {
    const size_t n = RecvSome(fd, buffer, 1, 3000);
    if (n == 0) break;
    pending->append(buffer, n);
  }
  const size_t at = pending->find(text);
  if (at == std::string::npos) return "";
  std::string out = pending->substr(0, at + text.size());
  pending->erase(0, at + text.size());
  return out;
}

TEST(HttpTest, FeedStreamsStockWithSequenceNumbers) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":2})").status, 200);
  const int fd = ConnectLoopback(port);
  const std::string request = "GET /feed/skus/10 HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, request.data(), request.size()));
  std::string pending;
  const std::string header = ReadUntil(fd, &pending, "\r\n\r\n");
  EXPECT_NE(header.find("200 OK"), std::string::npos) << header;
  EXPECT_NE(header.find("text/event-stream"), std::string::npos) << header;
  std::string event = ReadUntil(fd, &pending, "\n\n");
  EXPECT_NE(event.find("id: 1\nevent: stock\n"), std::string::npos) << event;
  EXPECT_NE(event.find("\"available\":2"), std::string::npos) << event;
  const std::string order = R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":2}]})";
  ASSERT_EQ(HttpCall(port, "POST", "/orders", order).status, 200);
  event = ReadUntil(fd, &pending, "\n\n");
  EXPECT_NE(event.find("id: 2\n"), std::string::npos) << event;
  EXPECT_NE(event.find("\"available\":0"), std::string::npos) << event;
  EXPECT_NE(event.find("\"sold_out\":true"), std::string::npos) << event;
  close(fd);
}

// The sales figures of GET /figures and their feed: what paid orders sold, by tier, region,
// country and drop, exact to the op the reply names (its body and Eleven-Op); writes name
// their op too.
TEST(HttpTest, FiguresAndTheirFeedShowWhatPaidOrdersSold) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":2,"country":"FR"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":9})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":20,"merchant_id":2,"price_fen":800,"stock":9})").status, 200);
  auto place = [&](int key, int merchant, int sku, int quantity, int region, int tier) {
    const HttpReply placed = HttpCall(port, "POST", "/orders",
        "{\"idempotency_key\":" + std::to_string(key) + ",\"merchant_id\":" + std::to_string(merchant) +
        ",\"buyer_id\":7,\"region\":" + std::to_string(region) + ",\"city_tier\":" + std::to_string(tier) +
        ",\"lines\":[{\"sku_id\":" + std::to_string(sku) + ",\"quantity\":" + std::to_string(quantity) + "}]}");
    EXPECT_EQ(placed.status, 200) << placed.body;
    EXPECT_GT(std::stoull(placed.headers.at("Eleven-Op")), 0u);  // a write names its op
    return placed;
  };
  auto pay = [&](const HttpReply& placed) {
    const HttpReply paid = HttpCall(port, "POST", "/orders/" + Field(placed.body, "id") + "/pay",
                                    "{\"amount_fen\":" + Field(placed.body, "amount_fen") + "}");
    EXPECT_EQ(paid.status, 200) << paid.body;
    return std::stoull(paid.headers.at("Eleven-Op"));
  };
  const HttpReply a = place(1, 1, 10, 2, 31, 1);  // 1,000 fen
  const HttpReply b = place(2, 2, 20, 1, 44, 2);  // 800 fen
  const uint64_t paid_at = pay(a);

  HttpReply figures = HttpCall(port, "GET", "/figures");
  ASSERT_EQ(figures.status, 200) << figures.body;
  EXPECT_EQ(Field(figures.body, "op"), figures.headers.at("Eleven-Op"));
  EXPECT_GE(std::stoull(Field(figures.body, "op")), paid_at);
  EXPECT_EQ(Field(Field(figures.body, "total"), "gross_fen"), "1000") << figures.body;
  EXPECT_EQ(Field(Field(figures.body, "total"), "units"), "2") << figures.body;
  EXPECT_NE(figures.body.find(R"("by_city_tier":[{"city_tier":1,"gross_fen":1000,"discounts_fen":0,"refunds_fen":0,"net_fen":1000,"orders":1,"units":2}])"),
            std::string::npos) << figures.body;
  EXPECT_NE(figures.body.find(R"("by_country":[{"country":"CN","gross_fen":1000)"), std::string::npos) << figures.body;
  EXPECT_NE(figures.body.find(R"("by_region":[{"region":31,)"), std::string::npos) << figures.body;
  EXPECT_EQ(HttpCall(port, "GET", "/figures?drops=1001").status, 400);
  EXPECT_EQ(Field(HttpCall(port, "GET", "/figures?limit=3").body, "error"), "invalid_request");

  // The feed: one event now, one more when the figures change.
  const int fd = ConnectLoopback(port);
  const std::string request = "GET /feed/figures HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, request.data(), request.size()));
  std::string pending;
  const std::string header = ReadUntil(fd, &pending, "\r\n\r\n");
  EXPECT_NE(header.find("text/event-stream"), std::string::npos) << header;
  std::string event = ReadUntil(fd, &pending, "\n\n");
  EXPECT_NE(event.find("id: 1\nevent: figures\ndata: {\"topic\":\"figures\",\"seq\":1,"), std::string::npos) << event;
  EXPECT_NE(event.find(R"("total":{"gross_fen":1000,)"), std::string::npos) << event;
  const uint64_t second_paid_at = pay(b);
  event = ReadUntil(fd, &pending, "\n\n");
  EXPECT_NE(event.find("id: 2\n"), std::string::npos) << event;
  const std::string data = event.substr(event.find("data: ") + 6);
  EXPECT_EQ(Field(Field(data, "total"), "gross_fen"), "1800") << event;
  const uint64_t event_op = std::stoull(Field(data, "op"));
  EXPECT_GE(event_op, second_paid_at);
  // What the feed showed is what GET /figures answers at the same op (nothing changed since).
  figures = HttpCall(port, "GET", "/figures");
  ASSERT_EQ(Field(figures.body, "op"), std::to_string(event_op));
  EXPECT_EQ(data.substr(data.find("\"op\":")), figures.body.substr(1) + "\n\n");
  close(fd);
  // And /metrics, in all and by tier.
  EXPECT_EQ(WaitForMetric(port, "eleven_sales_gross_fen", 1800), 1800);
  EXPECT_EQ(MetricValue(port, "eleven_sales_net_fen"), 1800);
  EXPECT_EQ(MetricValue(port, "eleven_sales_units"), 3);
  EXPECT_NE(HttpCall(port, "GET", "/metrics").body.find("\neleven_sales_by_city_tier_gross_fen{city_tier=\"2\"} 800\n"),
            std::string::npos);
}

// The lists (docs/read-side.md): a buyer's and a merchant's orders, a merchant's SKUs and the
// drops, newest first, page by page with opaque cursors, exact to the op each page names;
// min_op waits for the snapshot follower; bad parameters and cursors are 400 at once.
TEST(HttpTest, ListsPageNewestFirstWithCursorsAndReadYourWrites) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.read_wait_ms = 300;
  auto server = StartServer(config);
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":2,"country":"CN"})").status, 200);
  for (const char* sku : {R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":99})",
                          R"({"sku_id":11,"merchant_id":1,"price_fen":500,"stock":99})",
                          R"({"sku_id":20,"merchant_id":2,"price_fen":500,"stock":99})"}) {
    ASSERT_EQ(HttpCall(port, "POST", "/skus", sku).status, 200);
  }
  ASSERT_EQ(HttpCall(port, "POST", "/drops",
                     R"({"drop_id":5,"sku_id":10,"live_price_fen":400,"quota":5,"opens_at_us":0,"closes_at_us":9000000000000000})")
                .status, 200);
  std::vector<std::string> buyer7;  // order ids, newest first
  uint64_t last_op = 0;
  for (int i = 0; i < 7; i++) {
    const int merchant = i < 5 ? 1 : 2;
    const HttpReply placed = HttpCall(port, "POST", "/orders",
        "{\"idempotency_key\":" + std::to_string(100 + i) + ",\"merchant_id\":" + std::to_string(merchant) +
        ",\"buyer_id\":7,\"region\":3,\"city_tier\":1,\"lines\":[{\"sku_id\":" + (merchant == 1 ? "11" : "20") +
        ",\"quantity\":1}]}");
    ASSERT_EQ(placed.status, 200) << placed.body;
    buyer7.insert(buyer7.begin(), Field(placed.body, "id"));
    last_op = std::stoull(placed.headers.at("Eleven-Op"));
  }
  for (const std::string& id : {buyer7[3], buyer7[5]}) {  // two of merchant 1's
    const HttpReply paid = HttpCall(port, "POST", "/orders/" + id + "/pay", R"({"amount_fen":500})");
    ASSERT_EQ(paid.status, 200) << paid.body;
    last_op = std::stoull(paid.headers.at("Eleven-Op"));
  }
  const std::string min_op = "min_op=" + std::to_string(last_op);

  // A buyer's orders, three to a page: the cursor leads through all seven, newest first.
  std::vector<std::string> listed;
  std::string target = "/buyers/7/orders?limit=3&" + min_op;
  for (int pages = 1;; pages++) {
    const HttpReply page = HttpCall(port, "GET", target);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_GE(std::stoull(Field(page.body, "op")), last_op);  // read-your-writes
    EXPECT_EQ(Field(page.body, "op"), page.headers.at("Eleven-Op"));
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(page.body).get(doc), simdjson::SUCCESS);
    for (auto item : doc["items"].get_array()) listed.push_back(std::to_string(uint64_t(item["order_id"])));
    const std::string cursor = Field(page.body, "next_cursor");
    EXPECT_EQ(Field(page.body, "truncated"), "false");
    if (cursor.empty()) {
      EXPECT_EQ(pages, 3);
      break;
    }
    ASSERT_LT(pages, 3) << page.body;
    target = "/buyers/7/orders?limit=3&cursor=" + cursor;
  }
  EXPECT_EQ(listed, buyer7);
  // A merchant's paid orders; its SKUs; the open drops.
  const HttpReply paid = HttpCall(port, "GET", "/merchants/1/orders?state=paid&" + min_op);
  ASSERT_EQ(paid.status, 200) << paid.body;
  EXPECT_NE(paid.body.find("\"order_id\":" + buyer7[3] + ","), std::string::npos) << paid.body;
  EXPECT_NE(paid.body.find("\"order_id\":" + buyer7[5] + ","), std::string::npos) << paid.body;
  EXPECT_EQ(paid.body.find("\"state\":\"pending\""), std::string::npos) << paid.body;
  const HttpReply skus = HttpCall(port, "GET", "/merchants/1/skus?" + min_op);
  ASSERT_EQ(skus.status, 200) << skus.body;
  EXPECT_LT(skus.body.find("\"sku_id\":11"), skus.body.find("\"sku_id\":10")) << skus.body;
  EXPECT_EQ(skus.body.find("\"sku_id\":20"), std::string::npos) << skus.body;
  const HttpReply drops = HttpCall(port, "GET", "/drops?state=open&" + min_op);
  ASSERT_EQ(drops.status, 200) << drops.body;
  EXPECT_NE(drops.body.find("\"drop_id\":5"), std::string::npos) << drops.body;
  EXPECT_NE(HttpCall(port, "GET", "/drops?state=closed&" + min_op).body.find("\"items\":[]"), std::string::npos);

  // Refusals, at once.
  auto error = [&](const std::string& path) {
    const HttpReply reply = HttpCall(port, "GET", path);
    return std::to_string(reply.status) + " " + Field(reply.body, "error");
  };
  EXPECT_EQ(error("/buyers/7/orders?limit=0"), "400 invalid_request");
  EXPECT_EQ(error("/buyers/7/orders?limit=101"), "400 invalid_request");
  EXPECT_EQ(error("/buyers/7/orders?state=shipped"), "400 invalid_request");
  EXPECT_EQ(error("/merchants/1/skus?state=paid"), "400 invalid_request");
  EXPECT_EQ(error("/buyers/7/orders?colour=red"), "400 invalid_request");
  EXPECT_EQ(error("/buyers/7/orders?cursor=zz"), "400 bad_cursor");
  const std::string cursor = Field(HttpCall(port, "GET", "/buyers/7/orders?limit=1").body, "next_cursor");
  ASSERT_FALSE(cursor.empty());
  EXPECT_EQ(error("/buyers/8/orders?cursor=" + cursor), "400 bad_cursor");  // another list
  EXPECT_EQ(error("/buyers/7/orders?state=paid&cursor=" + cursor), "400 bad_cursor");  // another filter
  std::string damaged = cursor;
  damaged[30] = damaged[30] == '0' ? '1' : '0';
  EXPECT_EQ(error("/buyers/7/orders?cursor=" + damaged), "400 bad_cursor");
  EXPECT_EQ(error("/merchants/99/orders"), "404 merchant_not_found");
  EXPECT_EQ(error("/couriers/1/parcels"), "409 fulfilment_disabled");
  // An op the log will not reach within read.wait_ms: 503 not_yet, and when to retry.
  const HttpReply later = HttpCall(port, "GET", "/buyers/7/orders?min_op=" + std::to_string(last_op + 1000000));
  EXPECT_EQ(later.status, 503);
  EXPECT_EQ(Field(later.body, "error"), "not_yet");
  EXPECT_EQ(later.headers.at("Retry-After"), "1");
}

// Without a snapshot follower, or with its view switched off, there is no state for lists:
// 503 lists_unavailable, at once.
TEST(HttpTest, ListsNeedTheSnapshotFollowersView) {
  for (const bool fork : {true, false}) {
    TempDataDir dir;
    ServerConfig config = TestConfig(dir.path());
    config.snapshot_follower = !fork;
    config.read_lists = fork;  // the fork server would keep a view if it could
    auto server = StartServer(config);
    const HttpReply reply = HttpCall(server->http_port(), "GET", "/drops");
    EXPECT_EQ(reply.status, 503) << fork;
    EXPECT_EQ(Field(reply.body, "error"), "lists_unavailable") << fork;
  }
}

TEST(HttpTest, FeedOverWebSocketSendsTheSameEventsAsJsonMessages) {
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  using boost::asio::ip::tcp;
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.feed_subscriber_count_max = 1;
  auto server = StartServer(config);
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":2})").status, 200);

  boost::asio::io_context io;
  const tcp::endpoint endpoint(boost::asio::ip::address_v4::loopback(), port);
  auto open = [&](const std::string& target, websocket::stream<tcp::socket>* ws) {
    beast::error_code error;
    ws->next_layer().connect(endpoint, error);
    EXPECT_FALSE(error) << error.message();
    ws->handshake("127.0.0.1", target, error);
    return error;
  };
  // An upgrade on a path that is not a feed is declined (the 404 of any unknown path).
  {
    websocket::stream<tcp::socket> ws(io);
    EXPECT_EQ(open("/nowhere", &ws), websocket::error::upgrade_declined);
  }
  websocket::stream<tcp::socket> ws(io);
  ASSERT_FALSE(open("/feed/skus/10", &ws));
  beast::flat_buffer buffer;
  auto next = [&] {
    buffer.clear();
    ws.read(buffer);
    EXPECT_TRUE(ws.got_text());
    return beast::buffers_to_string(buffer.data());
  };
  std::string event = next();
  EXPECT_EQ(event.front(), '{') << event;  // the JSON alone, no SSE framing
  EXPECT_NE(event.find("\"seq\":1,"), std::string::npos) << event;
  EXPECT_NE(event.find("\"available\":2"), std::string::npos) << event;
  EXPECT_NE(event.find("\"sold_out\":false"), std::string::npos) << event;

  // The one subscriber allowed is taken: a second viewer is declined (503 busy) before any
  // upgrade, over WebSocket as over SSE.
  {
    websocket::stream<tcp::socket> second(io);
    EXPECT_EQ(open("/feed/skus/10", &second), websocket::error::upgrade_declined);
    const HttpReply busy = HttpCall(port, "GET", "/feed/skus/10", "");
    EXPECT_EQ(busy.status, 503);
    EXPECT_NE(busy.body.find("\"busy\""), std::string::npos) << busy.body;
  }

  const std::string order = R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":2}]})";
  ASSERT_EQ(HttpCall(port, "POST", "/orders", order).status, 200);
  event = next();
  EXPECT_NE(event.find("\"seq\":2,"), std::string::npos) << event;
  EXPECT_NE(event.find("\"available\":0"), std::string::npos) << event;
  EXPECT_NE(event.find("\"sold_out\":true"), std::string::npos) << event;

  ws.close(websocket::close_code::normal);
  // The server unsubscribes the viewer on its I/O thread once the close reaches it.
  EXPECT_EQ(WaitForMetric(port, "eleven_feed_subscribers", [](double value) { return value == 0; }), 0);
}

// A retry over HTTP gets the first reply again — the same status and body — plus
// "replayed":true and the header Idempotent-Replayed: true; never 200 with an error. Another
// request under a used key or id gets its refusal; key 0 is refused.
TEST(HttpTest, RetriesAnswerAsTheFirstReplyMarkedAsReplays) {
  TempDataDir dir;
  auto server = StartServer(ModulesConfig(dir.path()));
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status,
            200);
  ASSERT_EQ(
      HttpCall(port, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":3})")
          .status,
      200);
  // The reply to a retry: the first one's body with the marker added as its last field.
  auto expect_replay = [](const HttpReply& first, const HttpReply& again, const std::string& what) {
    EXPECT_EQ(again.status, first.status) << what;
    EXPECT_EQ(first.idempotent_replayed, "") << what;
    EXPECT_EQ(first.body.find("replayed"), std::string::npos) << what << ": " << first.body;
    EXPECT_EQ(again.idempotent_replayed, "true") << what;
    ASSERT_FALSE(first.body.empty()) << what;
    EXPECT_EQ(again.body, first.body.substr(0, first.body.size() - 1) + ",\"replayed\":true}")
        << what;
  };
  auto call = [&](const std::string& target, const std::string& body) {
    return HttpCall(port, "POST", target, body);
  };

  const std::string order =
      R"({"idempotency_key":7001,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":2}]})";
  const HttpReply placed = call("/orders", order);
  ASSERT_EQ(placed.status, 200) << placed.body;
  expect_replay(placed, call("/orders", order), "place_order");
  // Another buyer, other lines, under the same key: refused, nothing of the first order told.
  for (
      const std::string& other :
      {std::string(
           R"({"idempotency_key":7001,"merchant_id":1,"buyer_id":3,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":2}]})"),
       std::string(
           R"({"idempotency_key":7001,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})")}) {
    const HttpReply reused = call("/orders", other);
    EXPECT_EQ(reused.status, 409) << reused.body;
    EXPECT_NE(reused.body.find("\"error\":\"idempotency_key_reused\""), std::string::npos)
        << reused.body;
    EXPECT_NE(reused.body.find("\"id\":0,"), std::string::npos) << reused.body;
    EXPECT_EQ(reused.idempotent_replayed, "");
  }
  const HttpReply zero = call(
      "/orders",
      R"({"idempotency_key":0,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})");
  EXPECT_EQ(zero.status, 400) << zero.body;
  EXPECT_NE(zero.body.find("\"error\":\"invalid_idempotency_key\""), std::string::npos)
      << zero.body;
  // A refused attempt is remembered: its retry gets the same refusal, marked.
  const std::string too_many =
      R"({"idempotency_key":7002,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":9}]})";
  const HttpReply refused = call("/orders", too_many);
  ASSERT_EQ(refused.status, 409) << refused.body;
  expect_replay(refused, call("/orders", too_many), "refused place_order");

  // Pay and cancel: the same command again replays; another gets its refusal.
  const std::string id = placed.body.substr(
      placed.body.find("\"id\":") + 5,
      placed.body.find(',', placed.body.find("\"id\":")) - placed.body.find("\"id\":") - 5);
  const std::string pay = R"({"amount_fen":1000,"payment_method":"card"})";
  const HttpReply paid = call("/orders/" + id + "/pay", pay);
  ASSERT_EQ(paid.status, 200) << paid.body;
  const HttpReply paid_again = call("/orders/" + id + "/pay", pay);
  EXPECT_EQ(paid_again.status, 200) << paid_again.body;
  EXPECT_EQ(paid_again.idempotent_replayed, "true");
  EXPECT_NE(paid_again.body.find("\"code\":\"ok\""), std::string::npos) << paid_again.body;
  EXPECT_NE(paid_again.body.find("\"state\":\"paid\""), std::string::npos) << paid_again.body;
  EXPECT_NE(paid_again.body.find("\"replayed\":true"), std::string::npos) << paid_again.body;
  const HttpReply other_pay =
      call("/orders/" + id + "/pay", R"({"amount_fen":1000,"payment_method":"balance"})");
  EXPECT_EQ(other_pay.status, 409) << other_pay.body;
  EXPECT_NE(other_pay.body.find("order_not_pending"), std::string::npos) << other_pay.body;
  // A paid order that has not shipped may still be cancelled (refunded, docs/returns.md): a
  // new command, not a replay.
  const HttpReply cancel_paid = call("/orders/" + id + "/cancel", "{}");
  EXPECT_EQ(cancel_paid.status, 200) << cancel_paid.body;
  EXPECT_EQ(cancel_paid.idempotent_replayed, "");
  EXPECT_NE(cancel_paid.body.find("\"state\":\"cancelled\""), std::string::npos) << cancel_paid.body;
  const std::string second =
      R"({"idempotency_key":7003,"merchant_id":1,"buyer_id":2,"region":3,"city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})";
  const HttpReply placed2 = call("/orders", second);
  ASSERT_EQ(placed2.status, 200) << placed2.body;
  const std::string id2 = std::to_string(std::stoull(id) + 2);  // 7002's refusal took one
  const HttpReply cancelled = call("/orders/" + id2 + "/cancel", "{}");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const HttpReply cancelled_again = call("/orders/" + id2 + "/cancel", "{}");
  EXPECT_EQ(cancelled_again.status, 200) << cancelled_again.body;
  EXPECT_EQ(cancelled_again.idempotent_replayed, "true");
  EXPECT_NE(cancelled_again.body.find("\"state\":\"cancelled\""), std::string::npos)
      << cancelled_again.body;
  EXPECT_EQ(call("/orders/" + id2 + "/pay", R"({"amount_fen":500,"payment_method":"card"})").status,
            409);

  // Ledger commands: a retry is ok and replayed (no "error"); a changed request, a refusal.
  const std::string account = R"({"account_id":1,"ledger":1,"code":1})";
  const HttpReply created = call("/accounts", account);
  ASSERT_EQ(created.status, 200) << created.body;
  expect_replay(created, call("/accounts", account), "create_account");
  const HttpReply changed = call("/accounts", R"({"account_id":1,"ledger":1,"code":2})");
  EXPECT_EQ(changed.status, 409) << changed.body;
  EXPECT_NE(changed.body.find("account_exists_with_different_code"), std::string::npos)
      << changed.body;
  ASSERT_EQ(call("/accounts", R"({"account_id":2,"ledger":1,"code":1})").status, 200);
  const std::string transfer =
      R"({"transfer_id":9,"debit_account_id":1,"credit_account_id":2,"amount_fen":70,"ledger":1,"code":1})";
  const HttpReply moved = call("/transfers", transfer);
  ASSERT_EQ(moved.status, 200) << moved.body;
  expect_replay(moved, call("/transfers", transfer), "create_transfer");
  const std::string deposit = R"({"transfer_id":10,"amount_fen":5000})";
  const HttpReply deposited = call("/buyers/2/deposit", deposit);
  ASSERT_EQ(deposited.status, 200) << deposited.body;
  expect_replay(deposited, call("/buyers/2/deposit", deposit), "deposit");
  const HttpReply account1 = HttpCall(port, "GET", "/accounts/1");
  EXPECT_NE(account1.body.find("\"debits_posted_fen\":70,"), std::string::npos)
      << account1.body;  // moved once
  // A batch all of whose results are replays carries the header too.
  const HttpReply batch = call("/transfers", "[" + transfer + "]");
  EXPECT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(batch.idempotent_replayed, "true");
}

// Idle HTTP connections are closed by the listener's sweep (idle timeout 1 s in TestConfig):
// one that never sends, one that sends half a request; one that keeps asking is kept.
TEST(HttpTest, IdleConnectionsAreClosedAndBusyOnesKept) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  const uint16_t port = server->http_port();
  const int silent = ConnectLoopback(port);
  const int half = ConnectLoopback(port);
  const std::string partial = "POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n{\"a";
  ASSERT_TRUE(SendAll(half, partial.data(), partial.size()));
  const int busy = ConnectLoopback(port);
  const std::string ask = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  std::string pending;
  const auto started = std::chrono::steady_clock::now();
  // Asking every 200 ms for 2.5 s: never idle for 1 s, so never closed.
  while (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2500)) {
    ASSERT_TRUE(SendAll(busy, ask.data(), ask.size()));
    const std::string reply = ReadUntil(busy, &pending, "}");
    ASSERT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << "busy connection lost: " << reply;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(WaitClosed(silent, 5000)) << "a silent connection outlived the idle timeout";
  EXPECT_TRUE(WaitClosed(half, 5000)) << "half a request outlived the idle timeout";
  EXPECT_GE(WaitForMetric(port, "eleven_idle_closed_total", 2), 2);
  close(silent);
  close(half);
  close(busy);
}

}  // namespace
}  // namespace eleven::server::testing
