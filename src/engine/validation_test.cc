// Validation that matches the domain: a drop's live price is at most the SKU's list price; an
// order's total is at most what one payment may move (kOrderTotalMaxFen), so every accepted
// order can be paid; warehouse stock is of a SKU in the catalog. Each refusal has its own code
// and changes nothing.
#include <gtest/gtest.h>

#include <vector>

#include "engine/engine.h"
#include "wire/fulfilment.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;

constexpr uint64_t kSecond = 1'000'000;

EngineConfig ValidationConfig(bool fulfilment) {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 8;
  config.drop_count_max = 4;
  config.order_slot_count = 16;
  config.holding_count_max = 8;
  config.batch_command_count_max = 16;
  config.ledger_enabled = fulfilment;  // fulfilment ships paid orders: it needs payments
  config.fulfilment_enabled = fulfilment;
  if (fulfilment) {
    config.ledger.account_count_max = 1 << 10;
    config.ledger.transfer_count_max = 1 << 12;
    config.ledger.buyer_count_max = 64;
    config.ledger.merchant_count_max = 64;
    config.ledger.order_count_max = 64;
    config.ledger.plan_count_max = 64;
    config.fulfilment.warehouse_count_max = 4;
    config.fulfilment.courier_count_max = 4;
    config.fulfilment.stock_entry_count_max = 16;
    config.fulfilment.sku_count_max = 16;
    config.fulfilment.parcel_count_max = 64;
    config.fulfilment.shipment_count_max = 64;
    config.fulfilment.backlog_count_max = 16;
    config.fulfilment.delivered_outbox_count_max = 16;
  }
  return config;
}

std::vector<wire::Result> Apply(Engine& engine, uint64_t now_us,
                                std::vector<wire::Command> commands) {
  std::vector<wire::Result> results(commands.size());
  EXPECT_EQ(engine.Apply(engine.last_op() + 1, now_us, commands, results), BatchError::kNone);
  engine.CheckInvariants();
  return results;
}

TEST(Validation, ADropNeverSellsAboveTheListPrice) {
  Engine engine(ValidationConfig(false));
  for (const auto& r :
       Apply(engine, kSecond,
             {wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 100, 0)})) {
    ASSERT_EQ(r.code, Code::ok);
  }
  const auto refused =
      Apply(engine, kSecond, {wire::MakeCreateDrop(5, 10, 501, 10, 2 * kSecond, 3 * kSecond, 0)});
  EXPECT_EQ(refused[0].code, Code::drop_price_above_list);
  wire::DropRecord drop{};
  EXPECT_EQ(engine.GetDrop(5, &drop), Code::drop_not_found);
  wire::SkuRecord sku{};
  ASSERT_EQ(engine.GetSku(10, &sku), Code::ok);
  EXPECT_EQ(sku.available, 100u) << "no quota was taken";
  EXPECT_EQ(engine.stats().orders_accepted, 0u);
  EXPECT_EQ(
      Apply(engine, kSecond, {wire::MakeCreateDrop(5, 10, 500, 10, 2 * kSecond, 3 * kSecond, 0)})[0]
          .code,
      Code::ok)
      << "the list price itself is allowed";
}

TEST(Validation, AnOrderTotalOnePaymentCannotTakeIsRefused) {
  Engine engine(ValidationConfig(false));
  for (const auto& r : Apply(engine, kSecond,
                             {wire::MakeCreateMerchant(1, "CN", 0),
                              wire::MakeCreateSku(10, 1, wire::kPriceMaxFen, 100000, 0),
                              wire::MakeCreateSku(11, 1, wire::kPriceMaxFen, 100000, 0)})) {
    ASSERT_EQ(r.code, Code::ok);
  }
  // 10,000 units at the highest price is exactly the limit; a second line goes past it.
  static_assert(int64_t{wire::kLineQuantityMax} * wire::kPriceMaxFen == wire::kOrderTotalMaxFen);
  const auto at_limit =
      Apply(engine, kSecond, {wire::MakePlaceOrder(1, 1, 7, 11, 3, {{10, 10000}})});
  EXPECT_EQ(at_limit[0].code, Code::ok);
  EXPECT_EQ(at_limit[0].amount_fen, wire::kOrderTotalMaxFen);
  const auto over =
      Apply(engine, kSecond, {wire::MakePlaceOrder(2, 1, 7, 11, 3, {{10, 1}, {11, 10000}})});
  EXPECT_EQ(over[0].code, Code::order_total_too_large);
  wire::SkuRecord sku{};
  ASSERT_EQ(engine.GetSku(11, &sku), Code::ok);
  EXPECT_EQ(sku.available, 100000u) << "nothing was reserved";
  EXPECT_EQ(engine.stats().orders_accepted, 1u);
}

TEST(Validation, WarehouseStockIsOfASkuInTheCatalog) {
  Engine engine(ValidationConfig(true));
  for (const auto& r :
       Apply(engine, kSecond,
             {wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 100, 0)})) {
    ASSERT_EQ(r.code, Code::ok);
  }
  wire::CreateWarehouse w{};
  w.operation = wire::kCreateWarehouse;
  w.region = 11;
  w.warehouse_id = 3;
  w.hourly_capacity = 10;
  w.daily_capacity = 100;
  ASSERT_EQ(Apply(engine, kSecond, {wire::ToCommand(w)})[0].code, Code::ok);
  auto stock = [](uint64_t sku_id) {
    wire::StockWarehouse s{};
    s.operation = wire::kStockWarehouse;
    s.units = 5;
    s.warehouse_id = 3;
    s.sku_id = sku_id;
    return wire::ToCommand(s);
  };
  const auto unknown = Apply(engine, kSecond, {stock(99)});
  EXPECT_EQ(unknown[0].code, Code::sku_not_found);
  EXPECT_EQ(unknown[0].id, 3u);
  uint32_t units = 0;
  EXPECT_EQ(engine.fulfilment()->QueryStock(3, 99, &units), Code::ok);
  EXPECT_EQ(units, 0u) << "nothing was stocked";
  EXPECT_EQ(Apply(engine, kSecond, {stock(10)})[0].code, Code::ok);
  EXPECT_EQ(engine.fulfilment()->QueryStock(3, 10, &units), Code::ok);
  EXPECT_EQ(units, 5u);
}

}  // namespace
}  // namespace eleven::engine
