// Validation that matches the domain, seen from a client of the HTTP gateway: a country that
// is not an assigned ISO 3166-1 alpha-2 code, a price, quantity, region or tier out of its
// range, a drop priced above its SKU, an order no payment could take — each answered at once
// with its own code and a message naming the field (and the order line) and the valid range,
// and none of them changing anything.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/server/test_util.h"

namespace eleven::server::testing {
namespace {

struct Case {
  std::string target;
  std::string body;
  int status;
  std::string code;
  std::string message;  // a part of the message that must be there
};

std::string Order(const std::string& lines, const std::string& region = "3",
                  const std::string& tier = "1") {
  return R"({"idempotency_key":7,"merchant_id":1,"buyer_id":2,"region":)" + region +
         R"(,"city_tier":)" + tier + R"(,"lines":)" + lines + "}";
}

TEST(ValidationHttpTest, EachRefusalNamesTheFieldAndTheRangeAndChangesNothing) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status,
            200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus",
                     R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":100})")
                .status,
            200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus",
                     R"({"sku_id":11,"merchant_id":1,"price_fen":10000000000,"stock":100000})")
                .status,
            200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus",
                     R"({"sku_id":12,"merchant_id":1,"price_fen":10000000000,"stock":100000})")
                .status,
            200);
  const std::vector<Case> cases = {
      {"/merchants", R"({"merchant_id":2,"country":"XX"})", 400, "invalid_country",
       "ISO 3166-1 alpha-2"},
      {"/merchants", R"({"merchant_id":2,"country":"UK"})", 400, "invalid_country",
       R"(not \"UK\")"},
      {"/merchants", R"({"merchant_id":2,"country":"cn"})", 400, "invalid_country", "upper case"},
      {"/skus", R"({"sku_id":13,"merchant_id":1,"price_fen":0,"stock":1})", 400, "invalid_price",
       "price_fen must be 1..10000000000, not 0"},
      {"/skus", R"({"sku_id":13,"merchant_id":1,"price_fen":5,"stock":2000000001})", 400,
       "invalid_quantity", "stock must be 0..2000000000, not 2000000001"},
      {"/skus/10/restock", R"({"quantity":0})", 400, "invalid_quantity",
       "quantity must be 1..2000000000, not 0"},
      {"/orders", Order(R"([{"sku_id":10,"quantity":0}])"), 400, "invalid_quantity",
       "lines[0].quantity must be 1..10000, not 0"},
      {"/orders", Order(R"([{"sku_id":10,"quantity":1},{"sku_id":11,"quantity":20000}])"), 400,
       "invalid_quantity", "lines[1].quantity must be 1..10000, not 20000"},
      {"/orders", Order(R"([{"sku_id":10,"quantity":1}])", "0"), 400, "invalid_region",
       "region must be 1..999, not 0"},
      {"/orders", Order(R"([{"sku_id":10,"quantity":1}])", "3", "9"), 400, "invalid_city_tier",
       "city_tier must be 1..5, not 9"},
      {"/drops",
       R"({"drop_id":5,"sku_id":10,"live_price_fen":501,"quota":1,"opens_at_us":1,"closes_at_us":9999999999999999})",
       422, "drop_price_above_list", "live_price_fen must not exceed the SKU's price_fen"},
      {"/orders", Order(R"([{"sku_id":11,"quantity":10000},{"sku_id":12,"quantity":1}])"), 422,
       "order_total_too_large", "must not exceed 100000000000000 fen"},
  };
  for (const Case& c : cases) {
    const HttpReply reply = HttpCall(port, "POST", c.target, c.body);
    EXPECT_EQ(reply.status, c.status) << c.target << " " << c.body << " -> " << reply.body;
    EXPECT_NE(reply.body.find("\"error\":\"" + c.code + "\""), std::string::npos)
        << c.body << " -> " << reply.body;
    EXPECT_NE(reply.body.find(c.message), std::string::npos) << c.body << " -> " << reply.body;
  }
  // Nothing changed: no merchant, SKU or drop was made, no stock taken.
  EXPECT_EQ(HttpCall(port, "GET", "/skus/13").status, 404);
  EXPECT_EQ(HttpCall(port, "GET", "/drops/5").status, 404);
  EXPECT_NE(HttpCall(port, "GET", "/skus/10").body.find("\"available\":100"), std::string::npos);
  EXPECT_NE(HttpCall(port, "GET", "/skus/11").body.find("\"available\":100000"), std::string::npos);
}

}  // namespace
}  // namespace eleven::server::testing
