#include "engine/engine.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::OrderState;

constexpr uint64_t kSecond = 1'000'000;

EngineConfig SmallConfig() {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 8;
  config.drop_count_max = 2;
  config.order_slot_count = 8;
  config.holding_count_max = 4;
  config.pay_window_us = 60 * kSecond;
  config.batch_command_count_max = 16;
  return config;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : engine_(SmallConfig()) {}

  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  wire::Result One(uint64_t now_us, const wire::Command& command) { return Run(now_us, {command})[0]; }

  void Catalog() {
    auto r = Run(kSecond, {wire::MakeCreateMerchant(1, "CN", 0),
                           wire::MakeCreateMerchant(2, "JP", 1),
                           wire::MakeCreateSku(10, 1, 500, 5, 0),     // 5 units at 5 yuan
                           wire::MakeCreateSku(11, 1, 1000, 3, 1),    // limit 1 per buyer
                           wire::MakeCreateSku(20, 2, 700, 10, 0)});
    for (const auto& x : r) ASSERT_EQ(x.code, Code::ok);
  }
  wire::SkuRecord Sku(uint64_t id) {
    wire::SkuRecord s{};
    EXPECT_EQ(engine_.GetSku(id, &s), Code::ok);
    return s;
  }

  Engine engine_;
};

TEST_F(EngineTest, CatalogRefusalsHaveTheirOwnCodes) {
  Catalog();
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(1, "CN", 0)).code, Code::merchant_exists);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(3, "c1", 0)).code, Code::invalid_country);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(3, "XX", 0)).code, Code::invalid_country)
      << "two letters, but not an assigned ISO 3166-1 code";
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(3, "CN", 7)).code, Code::invalid_merchant_flags);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(0, "CN", 0)).code, Code::invalid_id);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(12, 9, 100, 1, 0)).code, Code::merchant_not_found);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(10, 1, 100, 1, 0)).code, Code::sku_exists);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(12, 1, 0, 1, 0)).code, Code::invalid_price);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(12, 1, -5, 1, 0)).code, Code::invalid_price);
  EXPECT_EQ(One(2 * kSecond, wire::MakeRestock(99, 1)).code, Code::sku_not_found);
  EXPECT_EQ(One(2 * kSecond, wire::MakeRestock(10, 0)).code, Code::invalid_quantity);
  EXPECT_EQ(One(2 * kSecond, wire::MakeRestock(10, wire::kStockMax)).code, Code::stock_overflow);
  EXPECT_EQ(One(2 * kSecond, wire::MakeSetPrice(10, 0)).code, Code::invalid_price);
  EXPECT_EQ(Sku(10).available, 5u);
  EXPECT_EQ(Sku(10).price_fen, 500);
  EXPECT_EQ(One(2 * kSecond, wire::MakeRestock(10, 4)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakeSetPrice(10, 450)).code, Code::ok);
  EXPECT_EQ(Sku(10).available, 9u);
  EXPECT_EQ(Sku(10).received, 9u);
  EXPECT_EQ(Sku(10).price_fen, 450);
}

TEST_F(EngineTest, ReservedBytesAndUnknownOperationsAreRefused) {
  Catalog();
  wire::Command bad = wire::MakeRestock(10, 1);
  bad.restock.reserved[50] = 1;
  EXPECT_EQ(One(2 * kSecond, bad).code, Code::reserved_nonzero);
  wire::Command unknown{};
  unknown.bytes[0] = 200;
  EXPECT_EQ(One(2 * kSecond, unknown).code, Code::invalid_operation);
  EXPECT_EQ(Sku(10).available, 5u);
  ASSERT_EQ(One(2 * kSecond, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})).code, Code::ok);
  // The trailer's reserved word (bytes 124..127) of every operation.
  const std::vector<wire::Command> all = {
      wire::MakeCreateMerchant(3, "CN", 0),
      wire::MakeCreateSku(12, 1, 100, 1, 0),
      wire::MakeRestock(10, 1),
      wire::MakeSetPrice(10, 400),
      wire::MakeCreateDrop(900, 20, 500, 3, 10 * kSecond, 20 * kSecond, 2),
      wire::MakeCloseDrop(900),
      wire::MakePlaceOrder(2, 1, 7, 31, 3, {{10, 1}}),
      wire::MakePayOrder(1, 500),
      wire::MakeCancelOrder(1)};
  for (const wire::Command& good : all) {
    for (size_t byte = wire::kTrailerOffset + 4; byte < wire::kCommandSize; byte++) {
      wire::Command junk = good;
      junk.bytes[byte] = 0x80;
      EXPECT_EQ(One(2 * kSecond, junk).code, Code::reserved_nonzero)
          << "operation " << int(good.operation) << " byte " << byte;
    }
  }
  EXPECT_EQ(Sku(10).available, 4u);
  EXPECT_EQ(Sku(10).price_fen, 500);
}

TEST_F(EngineTest, TablesFullIsACodeNotACrash) {
  Catalog();
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(3, "US", 1)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(4, "US", 1)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateMerchant(5, "US", 1)).code, Code::merchants_full);
  for (uint64_t s = 30; s < 35; s++) EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(s, 3, 1, 1, 0)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateSku(35, 3, 1, 1, 0)).code, Code::skus_full);
}

TEST_F(EngineTest, OrderReservesAllLinesOrNone) {
  Catalog();
  auto r = One(2 * kSecond, wire::MakePlaceOrder(100, 1, 7, 31, 3, {{10, 2}, {11, 1}}));
  ASSERT_EQ(r.code, Code::ok);
  EXPECT_EQ(r.state, OrderState::kPending);
  EXPECT_EQ(r.amount_fen, 2 * 500 + 1000);
  EXPECT_EQ(r.at_us, 2 * kSecond + 60 * kSecond);
  EXPECT_EQ(Sku(10).available, 3u);
  EXPECT_EQ(Sku(10).reserved, 2u);
  // The second line cannot be served: nothing of the first is taken.
  auto no = One(2 * kSecond, wire::MakePlaceOrder(101, 1, 8, 31, 3, {{10, 1}, {11, 3}}));
  EXPECT_EQ(no.code, Code::buyer_limit);
  auto sold_out = One(2 * kSecond, wire::MakePlaceOrder(102, 1, 8, 31, 3, {{10, 1}, {11, 1}}));
  EXPECT_EQ(sold_out.code, Code::ok);
  auto none = One(2 * kSecond, wire::MakePlaceOrder(103, 1, 9, 31, 3, {{10, 2}, {11, 1}}));
  EXPECT_EQ(none.code, Code::ok);
  auto empty = One(2 * kSecond, wire::MakePlaceOrder(104, 1, 10, 31, 3, {{11, 1}}));
  EXPECT_EQ(empty.code, Code::insufficient_stock);
  EXPECT_EQ(Sku(10).available, 0u);
  EXPECT_EQ(Sku(11).available, 0u);
}

TEST_F(EngineTest, OrderValidationCodes) {
  Catalog();
  auto code = [&](uint64_t key, wire::Command c) {
    c.place_order.idempotency_key = key;
    return One(2 * kSecond, c).code;
  };
  EXPECT_EQ(code(1, wire::MakePlaceOrder(0, 9, 7, 31, 3, {{10, 1}})), Code::merchant_not_found);
  EXPECT_EQ(code(2, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{99, 1}})), Code::sku_not_found);
  EXPECT_EQ(code(3, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{20, 1}})), Code::sku_of_other_merchant);
  EXPECT_EQ(code(4, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{10, 0}})), Code::invalid_quantity);
  EXPECT_EQ(code(5, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{10, 1}, {10, 1}})), Code::duplicate_line);
  EXPECT_EQ(code(6, wire::MakePlaceOrder(0, 1, 7, 31, 0, {{10, 1}})), Code::invalid_city_tier);
  EXPECT_EQ(code(7, wire::MakePlaceOrder(0, 1, 7, 0, 3, {{10, 1}})), Code::invalid_region);
  EXPECT_EQ(code(8, wire::MakePlaceOrder(0, 1, 0, 31, 3, {{10, 1}})), Code::invalid_id);
  EXPECT_EQ(code(9, wire::MakePlaceOrder(0, 1, 7, 31, 3, {})), Code::invalid_line_count);
  EXPECT_EQ(code(10, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{10, 1}}, 77)), Code::drop_not_found);
  EXPECT_EQ(Sku(10).available, 5u);
}

TEST_F(EngineTest, RepeatedKeyReturnsTheFirstResultAndChangesNothing) {
  Catalog();
  const wire::Command order = wire::MakePlaceOrder(100, 1, 7, 31, 3, {{10, 2}});
  auto first = One(2 * kSecond, order);
  EXPECT_FALSE(wire::IsReplay(first));
  auto again = One(3 * kSecond, order);
  EXPECT_TRUE(wire::IsReplay(again));
  again.flags = 0;
  EXPECT_EQ(0, std::memcmp(&first, &again, sizeof(first)));
  // The bytes of unused lines are no part of the request: a retry may differ there.
  wire::Command padded = order;
  padded.place_order.sku_id[5] = 99;
  padded.place_order.quantity[7] = 3;
  EXPECT_TRUE(wire::IsReplay(One(3 * kSecond, padded)));
  EXPECT_EQ(Sku(10).available, 3u);
  auto rejected = One(3 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 9}}));
  EXPECT_EQ(rejected.code, Code::insufficient_stock);
  EXPECT_EQ(rejected.state, OrderState::kRejected);
  ASSERT_EQ(One(3 * kSecond, wire::MakeRestock(10, 10)).code, Code::ok);
  // A remembered rejection stays a rejection even though stock is now there.
  EXPECT_EQ(One(3 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 9}})).code,
            Code::insufficient_stock);
  EXPECT_EQ(engine_.stats().orders_replayed, 3u);
  wire::OrderRecord rec{};
  ASSERT_EQ(engine_.GetOrderByKey(100, &rec), Code::ok);
  EXPECT_EQ(rec.buyer_id, 7u);
  EXPECT_EQ(rec.quantity[0], 2u);
  EXPECT_EQ(engine_.GetOrderByKey(555, &rec), Code::order_not_found);
}

// The same key with another request — another buyer, other lines, another region — is
// refused with idempotency_key_reused and tells nothing of the first order; key 0 is refused.
// Neither changes anything, nor takes an order id.
TEST_F(EngineTest, KeyReusedWithAnotherRequestIsRefused) {
  Catalog();
  const wire::Command order = wire::MakePlaceOrder(100, 1, 7, 31, 3, {{10, 2}});
  auto first = One(2 * kSecond, order);
  ASSERT_EQ(first.code, Code::ok);
  std::vector<wire::Command> others;
  for (int field = 0; field < 8; field++) {
    wire::Command c = order;
    wire::PlaceOrder& o = c.place_order;
    if (field == 0) o.buyer_id = 8;     // another buyer
    if (field == 1) o.quantity[0] = 3;  // another quantity
    if (field == 2) o.sku_id[0] = 11;   // another SKU
    if (field == 3) o.region = 32;      // another address
    if (field == 4) o.city_tier = 2;
    if (field == 5) o.drop_id = 900;
    if (field == 6) o.merchant_id = 2;
    if (field == 7) o.line_count = 2, o.sku_id[1] = 11, o.quantity[1] = 1;  // a line more
    others.push_back(c);
  }
  const auto results = Run(3 * kSecond, others);
  for (size_t i = 0; i < results.size(); i++) {
    EXPECT_EQ(results[i].code, Code::idempotency_key_reused) << "field " << i;
    EXPECT_EQ(results[i].id, 0u) << "field " << i;
    EXPECT_EQ(results[i].amount_fen, 0) << "field " << i;
    EXPECT_FALSE(wire::IsReplay(results[i]));
  }
  EXPECT_EQ(wire::CodeHttpStatus(Code::idempotency_key_reused), 409);
  // A rejected attempt's key is held to its request too.
  auto rejected = One(3 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 9}}));
  ASSERT_EQ(rejected.code, Code::insufficient_stock);
  EXPECT_EQ(One(3 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 1}})).code,
            Code::idempotency_key_reused);
  auto zero = One(3 * kSecond, wire::MakePlaceOrder(0, 1, 7, 31, 3, {{10, 1}}));
  EXPECT_EQ(zero.code, Code::invalid_idempotency_key);
  EXPECT_EQ(zero.id, 0u);
  EXPECT_EQ(wire::CodeHttpStatus(Code::invalid_idempotency_key), 400);
  wire::OrderRecord rec{};
  EXPECT_EQ(engine_.GetOrderByKey(0, &rec), Code::order_not_found);
  EXPECT_EQ(Sku(10).available, 3u);
  EXPECT_EQ(engine_.stats().orders_replayed, 0u);
  // The next order takes the id after the rejected attempt's: the refusals took none.
  EXPECT_EQ(One(4 * kSecond, wire::MakePlaceOrder(102, 1, 8, 31, 3, {{10, 1}})).id,
            rejected.id + 1);
}

// Pay and cancel are keyed by the order: the same command again, for an order it already
// made paid or cancelled, is answered ok as a replay; anything else still gets its refusal.
TEST_F(EngineTest, PayAndCancelRetriesReplay) {
  Catalog();
  auto a = One(2 * kSecond, wire::MakePlaceOrder(100, 1, 7, 31, 3, {{10, 1}}));
  auto b = One(2 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 1}}));
  auto paid = One(4 * kSecond, wire::MakePayOrder(a.id, a.amount_fen));
  ASSERT_EQ(paid.code, Code::ok);
  EXPECT_FALSE(wire::IsReplay(paid));
  auto cancelled = One(4 * kSecond, wire::MakeCancelOrder(b.id));
  ASSERT_EQ(cancelled.code, Code::ok);
  const uint64_t sold = Sku(10).sold, available = Sku(10).available;

  auto pay_again = One(5 * kSecond, wire::MakePayOrder(a.id, a.amount_fen));
  EXPECT_EQ(pay_again.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(pay_again));
  EXPECT_EQ(std::make_tuple(pay_again.id, pay_again.state, pay_again.amount_fen),
            std::make_tuple(paid.id, paid.state, paid.amount_fen));
  auto cancel_again = One(5 * kSecond, wire::MakeCancelOrder(b.id));
  EXPECT_EQ(cancel_again.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(cancel_again));
  EXPECT_EQ(cancel_again.state, OrderState::kCancelled);
  EXPECT_EQ(engine_.stats().orders_replayed, 2u);
  EXPECT_EQ(engine_.stats().orders_paid, 1u);
  EXPECT_EQ(engine_.stats().orders_cancelled, 1u);

  // Other requests: their real refusals.
  EXPECT_EQ(One(5 * kSecond, wire::MakePayOrder(a.id, a.amount_fen + 1)).code,
            Code::order_not_pending);
  EXPECT_EQ(One(5 * kSecond, wire::MakePayOrder(a.id, a.amount_fen, 1)).code,
            Code::order_not_pending);
  EXPECT_EQ(One(5 * kSecond, wire::MakeCancelOrder(a.id)).code, Code::order_not_pending);
  EXPECT_EQ(One(5 * kSecond, wire::MakePayOrder(b.id, b.amount_fen)).code, Code::order_not_pending);
  EXPECT_EQ(Sku(10).sold, sold);
  EXPECT_EQ(Sku(10).available, available);
  // An expired order: neither a pay nor a cancel is a retry of anything.
  auto c = One(5 * kSecond, wire::MakePlaceOrder(102, 1, 7, 31, 3, {{10, 1}}));
  EXPECT_EQ(One(70 * kSecond, wire::MakeCancelOrder(c.id)).code, Code::order_expired);
  EXPECT_EQ(One(70 * kSecond, wire::MakePayOrder(c.id, c.amount_fen)).code, Code::order_expired);
  EXPECT_EQ(engine_.stats().orders_replayed, 2u);
}

TEST_F(EngineTest, PayCancelAndExpiry) {
  Catalog();
  auto a = One(2 * kSecond, wire::MakePlaceOrder(100, 1, 7, 31, 3, {{10, 1}}));
  auto b = One(2 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{10, 1}}));
  auto c = One(3 * kSecond, wire::MakePlaceOrder(102, 1, 7, 31, 3, {{10, 1}}));
  EXPECT_EQ(One(4 * kSecond, wire::MakePayOrder(a.id, a.amount_fen + 1)).code, Code::amount_mismatch);
  EXPECT_EQ(One(4 * kSecond, wire::MakePayOrder(a.id, a.amount_fen)).code, Code::ok);
  EXPECT_EQ(One(4 * kSecond, wire::MakePayOrder(a.id, a.amount_fen + 1)).code,
            Code::order_not_pending);
  EXPECT_EQ(One(4 * kSecond, wire::MakeCancelOrder(a.id)).code, Code::order_not_pending);
  EXPECT_EQ(One(4 * kSecond, wire::MakeCancelOrder(b.id)).code, Code::ok);
  EXPECT_EQ(One(4 * kSecond, wire::MakePayOrder(999, 1)).code, Code::order_not_found);
  EXPECT_EQ(Sku(10).sold, 1u);
  EXPECT_EQ(Sku(10).reserved, 1u);
  EXPECT_EQ(Sku(10).available, 3u);
  // c's deadline is 63 s: at 62.9 s it is still payable, at 63 s it has expired.
  EXPECT_EQ(One(62 * kSecond, wire::MakeRestock(20, 1)).code, Code::ok);
  EXPECT_EQ(Sku(10).reserved, 1u);
  auto late = One(63 * kSecond, wire::MakePayOrder(c.id, c.amount_fen));
  EXPECT_EQ(late.code, Code::order_expired);
  EXPECT_EQ(late.state, OrderState::kExpired);
  EXPECT_EQ(Sku(10).reserved, 0u);
  EXPECT_EQ(Sku(10).available, 4u);
  EXPECT_EQ(engine_.stats().orders_expired, 1u);
}

// What get_sales answers for dimension/key, or a record with orders = -1 when absent.
wire::SalesRecord SalesOf(const std::vector<wire::SalesRecord>& sales, wire::SalesDimension dimension,
                          uint64_t key) {
  for (const wire::SalesRecord& s : sales) {
    if (s.dimension == dimension && s.key == key) return s;
  }
  wire::SalesRecord absent{};
  absent.orders = UINT64_MAX;
  return absent;
}

uint64_t CountryKey(const char code[2]) {
  uint64_t key = 0;
  std::memcpy(&key, code, 2);
  return key;
}

TEST_F(EngineTest, SalesFiguresCountPaidOrdersByTierRegionCountryAndDrop) {
  Catalog();
  ASSERT_EQ(One(2 * kSecond, wire::MakeCreateDrop(900, 20, 500, 3, 10 * kSecond, 20 * kSecond, 2)).code, Code::ok);
  auto a = One(3 * kSecond, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 2}}));  // CN, 1,000 fen
  auto b = One(3 * kSecond, wire::MakePlaceOrder(2, 2, 8, 44, 1, {{20, 1}}));  // JP, 700
  auto c = One(3 * kSecond, wire::MakePlaceOrder(3, 1, 9, 31, 1, {{10, 1}}));  // never paid
  auto d = One(11 * kSecond, wire::MakePlaceOrder(4, 2, 9, 44, 2, {{20, 2}}, 900));  // live: 1,000
  for (const auto* r : {&a, &b, &c, &d}) ASSERT_EQ(r->code, Code::ok);
  for (const auto* r : {&a, &b, &d}) ASSERT_EQ(One(12 * kSecond, wire::MakePayOrder(r->id, r->amount_fen)).code, Code::ok);
  // Paying again is a replay: counted once.
  ASSERT_TRUE(wire::IsReplay(One(12 * kSecond, wire::MakePayOrder(a.id, a.amount_fen))));

  std::vector<wire::SalesRecord> sales(wire::kSalesFixedEntriesMax + 10);
  sales.resize(engine_.QuerySales(10, sales));
  using D = wire::SalesDimension;
  ASSERT_EQ(sales.size(), 9u);  // total, tiers 1..3, regions 31 and 44, CN and JP, drop 900
  EXPECT_EQ(sales[0].dimension, D::kTotal);
  auto expect = [&](D dimension, uint64_t key, int64_t gross, uint64_t orders, uint64_t units) {
    const wire::SalesRecord s = SalesOf(sales, dimension, key);
    EXPECT_EQ(s.gross_fen, gross) << int(dimension) << " " << key;
    EXPECT_EQ(s.net_fen, gross) << int(dimension) << " " << key;
    EXPECT_EQ(s.refunds_fen, 0);
    EXPECT_EQ(s.discounts_fen, 0);
    EXPECT_EQ(s.orders, orders) << int(dimension) << " " << key;
    EXPECT_EQ(s.units, units) << int(dimension) << " " << key;
  };
  expect(D::kTotal, 0, 2700, 3, 5);
  expect(D::kCityTier, 1, 700, 1, 1);
  expect(D::kCityTier, 2, 1000, 1, 2);
  expect(D::kCityTier, 3, 1000, 1, 2);
  expect(D::kRegion, 31, 1000, 1, 2);
  expect(D::kRegion, 44, 1700, 2, 3);
  expect(D::kCountry, CountryKey("CN"), 1000, 1, 2);
  expect(D::kCountry, CountryKey("JP"), 1700, 2, 3);
  expect(D::kDrop, 900, 1000, 1, 2);
  EXPECT_EQ(engine_.sales().total.gross_fen, engine_.stats().gmv_paid_fen);
  // Buckets come in a fixed order, and the drops only as many as asked for.
  for (size_t i = 1; i < sales.size(); i++) {
    EXPECT_TRUE(sales[i - 1].dimension < sales[i].dimension ||
                (sales[i - 1].dimension == sales[i].dimension && sales[i - 1].key < sales[i].key));
  }
  std::vector<wire::SalesRecord> without_drops(wire::kSalesFixedEntriesMax);
  EXPECT_EQ(engine_.QuerySales(0, without_drops), 8u);

  // The figures are state: a snapshot carries them.
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> bytes;
  for (ByteSpan chunk : parts.chunks) bytes.insert(bytes.end(), chunk.begin(), chunk.end());
  Engine restored(SmallConfig());
  ASSERT_TRUE(restored.Restore(ByteSpan(bytes.data(), bytes.size())).ok());
  std::vector<wire::SalesRecord> again(wire::kSalesFixedEntriesMax + 10);
  again.resize(restored.QuerySales(10, again));
  ASSERT_EQ(again.size(), sales.size());
  EXPECT_EQ(std::memcmp(again.data(), sales.data(), sales.size() * sizeof(wire::SalesRecord)), 0);
  EXPECT_EQ(restored.Digest(), engine_.Digest());
}

TEST_F(EngineTest, BuyerLimitIsFreedWhenAnOrderExpiresOrIsCancelled) {
  Catalog();
  auto a = One(2 * kSecond, wire::MakePlaceOrder(100, 1, 7, 31, 3, {{11, 1}}));
  ASSERT_EQ(a.code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakePlaceOrder(101, 1, 7, 31, 3, {{11, 1}})).code, Code::buyer_limit);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCancelOrder(a.id)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakePlaceOrder(102, 1, 7, 31, 3, {{11, 1}})).code, Code::ok);
}

TEST_F(EngineTest, DropSellsItsQuotaInItsWindowAndReturnsTheRest) {
  Catalog();
  // Drop of 3 of SKU 20's 10 units at 5 yuan, open 10..20 s, 2 per buyer.
  ASSERT_EQ(One(2 * kSecond, wire::MakeCreateDrop(900, 20, 500, 3, 10 * kSecond, 20 * kSecond, 2)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateDrop(900, 20, 500, 1, 10 * kSecond, 20 * kSecond, 2)).code, Code::drop_exists);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateDrop(901, 20, 500, 99, 10 * kSecond, 20 * kSecond, 2)).code, Code::insufficient_stock);
  EXPECT_EQ(One(2 * kSecond, wire::MakeCreateDrop(901, 20, 500, 1, 20 * kSecond, 10 * kSecond, 2)).code, Code::invalid_drop_window);
  EXPECT_EQ(Sku(20).available, 7u);
  EXPECT_EQ(Sku(20).in_drops, 3u);
  EXPECT_EQ(One(5 * kSecond, wire::MakePlaceOrder(1, 2, 7, 31, 3, {{20, 1}}, 900)).code, Code::drop_not_open);
  EXPECT_EQ(One(5 * kSecond, wire::MakePlaceOrder(2, 1, 7, 31, 3, {{10, 1}}, 900)).code, Code::drop_of_other_merchant);
  ASSERT_EQ(One(6 * kSecond, wire::MakeCreateSku(21, 2, 100, 5, 0)).code, Code::ok);
  EXPECT_EQ(One(11 * kSecond, wire::MakePlaceOrder(3, 2, 7, 31, 3, {{21, 1}}, 900)).code, Code::drop_sku_not_in_order);
  auto live = One(11 * kSecond, wire::MakePlaceOrder(4, 2, 7, 31, 3, {{20, 2}}, 900));
  ASSERT_EQ(live.code, Code::ok);
  EXPECT_EQ(live.amount_fen, 2 * 500);  // the live price, not the list price
  EXPECT_EQ(One(12 * kSecond, wire::MakePlaceOrder(5, 2, 7, 31, 3, {{20, 1}}, 900)).code, Code::buyer_limit);
  EXPECT_EQ(One(12 * kSecond, wire::MakePlaceOrder(6, 2, 8, 31, 3, {{20, 2}}, 900)).code, Code::insufficient_stock);
  ASSERT_EQ(One(13 * kSecond, wire::MakePlaceOrder(7, 2, 8, 31, 3, {{20, 1}}, 900)).code, Code::ok);
  wire::DropRecord d{};
  ASSERT_EQ(engine_.GetDrop(900, &d), Code::ok);
  EXPECT_EQ(d.available, 0u);
  EXPECT_EQ(d.sold_out_at_us, 13 * kSecond);
  EXPECT_EQ(d.state, wire::DropState::kOpen);
  // The first order is cancelled while the drop is open: its units go back to the drop.
  EXPECT_EQ(One(14 * kSecond, wire::MakeCancelOrder(live.id)).code, Code::ok);
  ASSERT_EQ(engine_.GetDrop(900, &d), Code::ok);
  EXPECT_EQ(d.available, 2u);
  // At 20 s the drop closes by itself and the unsold 2 return to the SKU.
  EXPECT_EQ(One(20 * kSecond, wire::MakePlaceOrder(8, 2, 9, 31, 3, {{20, 1}}, 900)).code, Code::drop_closed);
  ASSERT_EQ(engine_.GetDrop(900, &d), Code::ok);
  EXPECT_EQ(d.state, wire::DropState::kClosed);
  EXPECT_EQ(d.returned, 2u);
  EXPECT_EQ(Sku(20).in_drops, 0u);
  EXPECT_EQ(Sku(20).available, 9u);
  EXPECT_EQ(One(20 * kSecond, wire::MakeCloseDrop(900)).code, Code::drop_closed);
  EXPECT_EQ(One(20 * kSecond, wire::MakeCloseDrop(901)).code, Code::drop_not_found);
}

TEST_F(EngineTest, OrderRingRefusesWhenTheOldestOrderIsStillPending) {
  Catalog();
  ASSERT_EQ(One(kSecond, wire::MakeRestock(10, 100)).code, Code::ok);
  for (uint64_t k = 1; k <= 8; k++) {
    ASSERT_EQ(One(2 * kSecond, wire::MakePlaceOrder(k, 1, 7, 31, 3, {{10, 1}})).code, Code::ok);
  }
  auto full = One(2 * kSecond, wire::MakePlaceOrder(50, 1, 7, 31, 3, {{10, 1}}));
  EXPECT_EQ(full.code, Code::orders_full);
  // Not remembered: once the oldest order is paid, the same key is accepted.
  ASSERT_EQ(One(3 * kSecond, wire::MakePayOrder(1, 500)).code, Code::ok);
  auto retry = One(3 * kSecond, wire::MakePlaceOrder(50, 1, 7, 31, 3, {{10, 1}}));
  EXPECT_EQ(retry.code, Code::ok);
  EXPECT_EQ(retry.id, 9u);
  wire::OrderRecord rec{};
  EXPECT_EQ(engine_.GetOrder(1, &rec), Code::order_evicted);
  EXPECT_EQ(engine_.GetOrderByKey(1, &rec), Code::order_not_found);  // its key left the window
  EXPECT_EQ(engine_.GetOrder(9, &rec), Code::ok);
}

TEST_F(EngineTest, HoldingsFullIsACode) {
  Catalog();
  ASSERT_EQ(One(kSecond, wire::MakeRestock(11, 100)).code, Code::ok);
  for (uint64_t buyer = 1; buyer <= 4; buyer++) {
    ASSERT_EQ(One(2 * kSecond, wire::MakePlaceOrder(buyer, 1, buyer, 31, 3, {{11, 1}})).code, Code::ok);
  }
  EXPECT_EQ(One(2 * kSecond, wire::MakePlaceOrder(5, 1, 5, 31, 3, {{11, 1}})).code, Code::holdings_full);
}

TEST_F(EngineTest, BatchErrorsChangeNothing) {
  Catalog();
  const Digest128 before = engine_.Digest();
  std::vector<wire::Command> one{wire::MakeRestock(10, 1)};
  std::vector<wire::Result> results(1);
  EXPECT_EQ(engine_.Apply(engine_.last_op() + 2, 5 * kSecond, one, results), BatchError::kOpNotNext);
  EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, 0, one, results), BatchError::kTimestampBackwards);
  std::vector<wire::Command> many(17, wire::MakeRestock(10, 1));
  std::vector<wire::Result> many_results(17);
  EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, 5 * kSecond, many, many_results), BatchError::kTooManyCommands);
  std::vector<wire::Result> none;
  EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, 5 * kSecond, one, none), BatchError::kResultsTooSmall);
  EXPECT_EQ(engine_.Digest(), before);
  EXPECT_EQ(Sku(10).available, 5u);
}

TEST_F(EngineTest, SnapshotRestoresTheSameState) {
  Catalog();
  ASSERT_EQ(One(2 * kSecond, wire::MakeCreateDrop(900, 20, 500, 3, 10 * kSecond, 20 * kSecond, 2)).code, Code::ok);
  ASSERT_EQ(One(11 * kSecond, wire::MakePlaceOrder(4, 2, 7, 31, 3, {{20, 2}}, 900)).code, Code::ok);
  ASSERT_EQ(One(11 * kSecond, wire::MakePlaceOrder(5, 1, 7, 31, 3, {{11, 1}, {10, 2}})).code, Code::ok);
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> state;
  for (ByteSpan c : parts.chunks) state.insert(state.end(), c.begin(), c.end());

  Engine restored(SmallConfig());
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  // Both go on identically.
  std::vector<wire::Command> next{wire::MakePlaceOrder(6, 1, 8, 31, 3, {{11, 1}}),
                                  wire::MakePayOrder(2, 2000)};
  std::vector<wire::Result> ra(2), rb(2);
  ASSERT_EQ(engine_.Apply(engine_.last_op() + 1, 30 * kSecond, next, ra), BatchError::kNone);
  ASSERT_EQ(restored.Apply(restored.last_op() + 1, 30 * kSecond, next, rb), BatchError::kNone);
  EXPECT_EQ(0, std::memcmp(ra.data(), rb.data(), sizeof(wire::Result) * 2));
  EXPECT_EQ(restored.Digest(), engine_.Digest());

  // A different configuration, a damaged head or a cut state are refused.
  EngineConfig other = SmallConfig();
  other.pay_window_us += 1;
  Engine wrong_config(other);
  EXPECT_EQ(wrong_config.Restore(state).code(), StatusCode::kInvalidArgument);
  Engine cut(SmallConfig());
  EXPECT_EQ(cut.Restore(ByteSpan(state.data(), state.size() - 1)).code(), StatusCode::kCorruption);
  // A state of version 5 (no API keys, orders without their storefront) is refused, by name.
  std::vector<std::byte> old_version = state;
  const uint32_t version_5 = 5;
  std::memcpy(old_version.data() + sizeof(uint32_t), &version_5, sizeof(version_5));
  Engine old(SmallConfig());
  const Status refused = old.Restore(old_version);
  EXPECT_EQ(refused.code(), StatusCode::kCorruption);
  EXPECT_NE(refused.message().find("unknown version 5"), std::string::npos) << refused.message();
  state[0] ^= std::byte{1};
  Engine bad_magic(SmallConfig());
  EXPECT_EQ(bad_magic.Restore(state).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace eleven::engine
