// Coupons and pre-sales through `eleven serve` (docs/promotions.md): many clients racing for a
// coupon of count N; an order redeeming two coupons over HTTP; a pre-sale's deposit, balance
// and forfeit over HTTP on the client clock; with the codes and statuses a client sees, the
// money the ledger moved and the figures.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using wire::Code;

// Eight binary clients and one HTTP client claim a coupon of count 60 for 900 buyers at once
// (each buyer twice, from two clients): exactly 60 claims win, every other first claim is
// coupons_exhausted, and every repeat of a winner is a replay.
TEST(CouponsServerTest, ManyClientsRaceForFewCouponsAndExactlyCountWin) {
  TempDataDir dir;
  auto server = StartServer(ModulesConfig(dir.path()));
  const uint16_t http = server->http_port();
  ASSERT_EQ(HttpCall(http, "POST", "/coupons",
                     R"({"coupon_id":7,"kind":"fixed","amount_fen":300,"count":60,"starts_at_us":0,"ends_at_us":99999999999999999})")
                .status,
            200);
  constexpr uint64_t kBuyers = 900;
  std::atomic<int> won{0}, replayed{0}, exhausted{0}, other{0};
  auto count = [&](Code code, bool replay) {
    if (code == Code::ok && !replay) won++;
    if (code == Code::ok && replay) replayed++;
    if (code == Code::coupons_exhausted) exhausted++;
    if (code != Code::ok && code != Code::coupons_exhausted) other++;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      auto client = ConnectClient(server->binary_port());
      ASSERT_NE(client, nullptr);
      // Client t claims for the buyers b with b % 4 == t % 4, in batches of 25.
      std::vector<wire::Command> batch;
      for (uint64_t b = 1 + t % 4; b <= kBuyers; b += 4) {
        batch.push_back(wire::MakeClaimCoupon(7, b));
        if (batch.size() == 25 || b + 4 > kBuyers) {
          std::vector<wire::Result> results;
          ASSERT_TRUE(client->SubmitSync(batch, &results).ok());
          for (const auto& r : results) count(r.code, wire::IsReplay(r));
          batch.clear();
        }
      }
    });
  }
  // One more over HTTP for a handful of the same buyers.
  threads.emplace_back([&] {
    for (uint64_t b = 1; b <= 40; b++) {
      const HttpReply r = HttpCall(http, "POST", "/coupons/7/claims", "{\"buyer_id\":" + std::to_string(b) + "}");
      if (r.status == 200) {
        count(Code::ok, r.body.find("\"replayed\":true") != std::string::npos);
      } else {
        EXPECT_EQ(r.status, 409) << r.body;
        EXPECT_EQ(Field(r.body, "error"), "coupons_exhausted") << r.body;
        count(Code::coupons_exhausted, false);
      }
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 60);
  EXPECT_EQ(other.load(), 0);
  // 1,840 claims in all: 60 wins, then each winner's other claims replayed.
  EXPECT_EQ(won + replayed + exhausted, 2 * int(kBuyers) + 40);
  const HttpReply coupon = HttpCall(http, "GET", "/coupons/7");
  ASSERT_EQ(coupon.status, 200) << coupon.body;
  EXPECT_EQ(Field(coupon.body, "claimed"), "60") << coupon.body;
  EXPECT_EQ(Field(coupon.body, "count"), "60");
}

TEST(CouponsServerTest, AnOrderRedeemsTwoCouponsOverHttp) {
  TempDataDir dir;
  auto server = StartServer(ModulesConfig(dir.path()));
  const uint16_t http = server->http_port();
  for (const char* body : {R"({"merchant_id":1,"country":"CN"})", R"({"merchant_id":2,"country":"JP"})"}) {
    ASSERT_EQ(HttpCall(http, "POST", "/merchants", body).status, 200);
  }
  ASSERT_EQ(HttpCall(http, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":12000,"stock":50})").status, 200);
  ASSERT_EQ(HttpCall(http, "POST", "/buyers/42/deposit", R"({"transfer_id":1,"amount_fen":100000})").status, 200);
  // Platform: 5,000 off from 30,000. Shop (merchant 1): 1,000 off from 10,000. Merchant 2's.
  ASSERT_EQ(HttpCall(http, "POST", "/coupons",
                     R"({"coupon_id":1,"kind":"threshold","amount_fen":5000,"threshold_fen":30000,"count":5,"starts_at_us":0,"ends_at_us":99999999999999999})")
                .status,
            200);
  ASSERT_EQ(HttpCall(http, "POST", "/coupons",
                     R"({"coupon_id":2,"merchant_id":1,"kind":"threshold","amount_fen":1000,"threshold_fen":10000,"count":5,"starts_at_us":0,"ends_at_us":99999999999999999})")
                .status,
            200);
  ASSERT_EQ(HttpCall(http, "POST", "/coupons",
                     R"({"coupon_id":3,"merchant_id":2,"kind":"fixed","amount_fen":100,"count":5,"starts_at_us":0,"ends_at_us":99999999999999999})")
                .status,
            200);
  const HttpReply bad = HttpCall(http, "POST", "/coupons",
                                 R"({"coupon_id":4,"kind":"threshold","amount_fen":500,"threshold_fen":400,"count":5,"starts_at_us":0,"ends_at_us":9})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Field(bad.body, "error"), "invalid_coupon") << bad.body;
  EXPECT_EQ(HttpCall(http, "GET", "/coupons/4").status, 404);
  for (int c : {1, 2, 3}) {
    ASSERT_EQ(HttpCall(http, "POST", "/coupons/" + std::to_string(c) + "/claims", R"({"buyer_id":42})").status, 200);
  }
  EXPECT_EQ(Field(HttpCall(http, "GET", "/coupons/1/claims/42").body, "state"), "claimed");
  auto order = [&](int key, const std::string& coupons) {
    return HttpCall(http, "POST", "/orders",
                    "{\"idempotency_key\":" + std::to_string(key) +
                        R"(,"merchant_id":1,"buyer_id":42,"region":11,"city_tier":2,"lines":[{"sku_id":10,"quantity":3}],"coupons":)" +
                        coupons + "}");
  };
  // Refusals with their own codes and statuses; nothing is held by them.
  HttpReply r = order(1, "[1,1]");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Field(r.body, "error"), "coupon_stacking") << r.body;
  r = order(2, "[3]");
  EXPECT_EQ(Field(r.body, "error"), "coupon_of_other_merchant") << r.body;
  r = order(3, "[99]");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Field(r.body, "error"), "coupon_not_found") << r.body;
  r = order(4, "[1,2,3]");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Field(r.body, "error"), "invalid_coupon_count") << r.body;
  // 36,000 less 1,000 (shop) less 5,000 (platform).
  const HttpReply placed = order(5, "[1,2]");
  ASSERT_EQ(placed.status, 200) << placed.body;
  EXPECT_EQ(Field(placed.body, "amount_fen"), "30000") << placed.body;
  const std::string id = Field(placed.body, "id");
  const HttpReply got = HttpCall(http, "GET", "/orders/" + id);
  EXPECT_EQ(Field(got.body, "platform_coupon_id"), "1") << got.body;
  EXPECT_EQ(Field(got.body, "platform_discount_fen"), "5000");
  EXPECT_EQ(Field(got.body, "shop_discount_fen"), "1000");
  EXPECT_EQ(Field(HttpCall(http, "GET", "/coupons/1/claims/42").body, "state"), "held");
  r = order(6, "[2]");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Field(r.body, "error"), "coupon_in_use") << r.body;
  ASSERT_EQ(HttpCall(http, "POST", "/orders/" + id + "/pay", R"({"amount_fen":30000,"payment_method":"balance"})").status, 200);
  const HttpReply money = HttpCall(http, "GET", "/orders/" + id + "/money");
  EXPECT_EQ(Field(money.body, "amount_fen"), "35000") << money.body;
  EXPECT_EQ(Field(money.body, "subsidy_fen"), "5000") << money.body;
  const HttpReply claim = HttpCall(http, "GET", "/coupons/1/claims/42");
  EXPECT_EQ(Field(claim.body, "state"), "used") << claim.body;
  EXPECT_EQ(Field(claim.body, "order_id"), id);
  const HttpReply coupon = HttpCall(http, "GET", "/coupons/1");
  EXPECT_EQ(Field(coupon.body, "redeemed"), "1") << coupon.body;
  EXPECT_EQ(Field(coupon.body, "discount_fen"), "5000");
  const HttpReply figures = HttpCall(http, "GET", "/figures");
  EXPECT_EQ(Field(Field(figures.body, "total"), "gross_fen"), "36000") << figures.body;
  EXPECT_EQ(Field(Field(figures.body, "total"), "discounts_fen"), "6000");
  EXPECT_EQ(Field(Field(figures.body, "total"), "net_fen"), "30000");
  r = order(7, "[1]");
  EXPECT_EQ(Field(r.body, "error"), "coupon_used") << r.body;
  // The platform's marketing account paid the subsidy.
  const HttpReply marketing = HttpCall(http, "GET", "/accounts/" + std::to_string((uint64_t{1} << 56) | 6));
  EXPECT_EQ(Field(marketing.body, "debits_posted_fen"), "5000") << marketing.body;
}

// A pre-sale over HTTP, on the client clock: deposits in [1 s, 2 s), the balance in [3 s, 4 s).
TEST(PresalesServerTest, DepositBalanceAndForfeitOverHttp) {
  TempDataDir dir;
  ServerConfig config = ModulesConfig(dir.path());
  config.clock = protocol::ClockMode::kClient;
  auto server = StartServer(config);
  const uint16_t http = server->http_port();
  auto clock = [&](uint64_t seconds) {
    ASSERT_EQ(HttpCall(http, "POST", "/clock", "{\"at_us\":" + std::to_string(seconds * 1'000'000) + "}").status, 200);
  };
  clock(0);
  ASSERT_EQ(HttpCall(http, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status, 200);
  ASSERT_EQ(HttpCall(http, "POST", "/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":3000,"stock":20})").status, 200);
  ASSERT_EQ(HttpCall(http, "POST", "/buyers/42/deposit", R"({"transfer_id":1,"amount_fen":100000})").status, 200);
  const HttpReply created = HttpCall(
      http, "POST", "/presales",
      R"({"presale_id":5,"sku_id":10,"price_fen":2800,"deposit_fen":100,"deposit_value_fen":300,"quota":10,"per_buyer_limit":3,"deposit_starts_at_us":1000000,"deposit_ends_at_us":2000000,"balance_starts_at_us":3000000,"balance_ends_at_us":4000000})");
  ASSERT_EQ(created.status, 200) << created.body;
  HttpReply r = HttpCall(http, "POST", "/presales/5/deposits", R"({"buyer_id":42,"quantity":2,"payment_method":"card"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Field(r.body, "error"), "deposit_window_not_open") << r.body;
  clock(1);
  r = HttpCall(http, "POST", "/presales/5/deposits", R"({"buyer_id":42,"quantity":2,"payment_method":"card"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Field(r.body, "amount_fen"), "200");
  const std::string money_id = Field(r.body, "id");
  r = HttpCall(http, "POST", "/presales/5/deposits", R"({"buyer_id":42,"quantity":2,"payment_method":"card"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"replayed\":true"), std::string::npos) << r.body;
  r = HttpCall(http, "POST", "/presales/5/deposits", R"({"buyer_id":43,"quantity":4,"payment_method":"card"})");
  EXPECT_EQ(Field(r.body, "error"), "buyer_limit") << r.body;
  ASSERT_EQ(HttpCall(http, "POST", "/presales/5/deposits", R"({"buyer_id":43,"quantity":1,"payment_method":"card"})").status, 200);
  EXPECT_EQ(Field(HttpCall(http, "GET", "/presales/5/deposits/42").body, "state"), "paid");
  EXPECT_EQ(Field(HttpCall(http, "GET", "/orders/" + money_id + "/money").body, "amount_fen"), "200");
  clock(3);
  const std::string balance = R"({"buyer_id":42,"amount_fen":5000,"region":11,"city_tier":2,"payment_method":"balance"})";
  r = HttpCall(http, "POST", "/presales/5/balance", R"({"buyer_id":42,"amount_fen":4999,"region":11,"city_tier":2,"payment_method":"balance"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Field(r.body, "error"), "amount_mismatch") << r.body;
  const HttpReply paid = HttpCall(http, "POST", "/presales/5/balance", balance);
  ASSERT_EQ(paid.status, 200) << paid.body;
  EXPECT_EQ(Field(paid.body, "state"), "paid");
  const std::string order_id = Field(paid.body, "id");
  const HttpReply order = HttpCall(http, "GET", "/orders/" + order_id);
  EXPECT_EQ(Field(order.body, "total_fen"), "5200") << order.body;
  const HttpReply money = HttpCall(http, "GET", "/orders/" + order_id + "/money");
  EXPECT_EQ(Field(money.body, "amount_fen"), "5200") << money.body;
  EXPECT_EQ(Field(money.body, "deposit_fen"), "200") << money.body;
  EXPECT_EQ(Field(HttpCall(http, "GET", "/presales/5/deposits/42").body, "order_id"), order_id);
  const HttpReply again = HttpCall(http, "POST", "/presales/5/balance", balance);
  EXPECT_EQ(Field(again.body, "id"), order_id) << again.body;
  const HttpReply figures = HttpCall(http, "GET", "/figures");
  EXPECT_EQ(Field(Field(figures.body, "total"), "gross_fen"), "5600") << figures.body;
  EXPECT_EQ(Field(Field(figures.body, "total"), "discounts_fen"), "400");
  // Buyer 43 never pays: at 4 s the deposit is forfeited and the unit goes back (at the
  // start of the next batch: on the client clock, a write's).
  clock(4);
  ASSERT_EQ(HttpCall(http, "POST", "/merchants", R"({"merchant_id":2,"country":"JP"})").status, 200);
  const HttpReply presale = HttpCall(http, "GET", "/presales/5");
  EXPECT_EQ(Field(presale.body, "forfeited"), "1") << presale.body;
  EXPECT_EQ(Field(presale.body, "forfeited_fen"), "100");
  EXPECT_EQ(Field(presale.body, "converted"), "2");
  EXPECT_EQ(Field(presale.body, "state"), "closed");
  r = HttpCall(http, "POST", "/presales/5/balance", R"({"buyer_id":43,"amount_fen":2500,"region":11,"city_tier":2})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Field(r.body, "error"), "deposit_forfeited") << r.body;
  EXPECT_EQ(Field(HttpCall(http, "GET", "/skus/10").body, "available"), "18");
}

}  // namespace
}  // namespace eleven::server::testing
