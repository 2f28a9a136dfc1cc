// The order engine with payments and fulfilment switched on: an order's money and parcels
// follow it, and the whole state survives a snapshot.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/engine.h"
#include "engine/fulfilment/fulfilment_test_util.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
constexpr uint64_t kSecond = 1'000'000;

EngineConfig FullConfig() {
  EngineConfig config;
  config.merchant_count_max = 16;
  config.sku_count_max = 64;
  config.drop_count_max = 4;
  config.order_slot_count = 64;
  config.holding_count_max = 64;
  config.pay_window_us = 600 * kSecond;
  config.ledger_enabled = true;
  config.ledger = testing::SmallConfig();
  config.fulfilment_enabled = true;
  config.fulfilment.warehouse_count_max = 4;
  config.fulfilment.courier_count_max = 4;
  config.fulfilment.stock_entry_count_max = 64;
  config.fulfilment.sku_count_max = 64;
  config.fulfilment.parcel_count_max = 64;
  config.fulfilment.shipment_count_max = 64;
  config.fulfilment.backlog_count_max = 16;
  config.fulfilment.delivered_outbox_count_max = 16;
  return config;
}

class IntegrationTest : public ::testing::Test {
 protected:
  IntegrationTest() : engine_(FullConfig()) {}
  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  void StockTheStore() {
    auto r = Run(kSecond, {wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 5000, 20, 0),
                           testing::WarehouseCommand(100, 11, 0, 0, 100, 1000),
                           testing::StockCommand(100, 10, 20),
                           testing::CourierCommand(7, "ZTO", wire::CourierMode::kExpress, 2, 100, 500, 1'000'000, 1000),
                           testing::CoverageCommand(7, 0)});
    for (const auto& x : r) ASSERT_EQ(x.code, Code::ok) << wire::CodeName(x.code);
  }
  Engine engine_;
};

TEST_F(IntegrationTest, PaidOrderIsChargedShippedDeliveredAndSettled) {
  StockTheStore();
  auto placed = Run(2 * kSecond, {wire::MakePlaceOrder(500, 1, 42, 11, 3, {{10, 2}})})[0];
  ASSERT_EQ(placed.code, Code::ok);
  // A bad payment method changes nothing; a card payment moves the money to escrow.
  EXPECT_EQ(Run(3 * kSecond, {wire::MakePayOrder(placed.id, placed.amount_fen, 9)})[0].code, Code::invalid_payment_method);
  auto paid = Run(3 * kSecond, {wire::MakePayOrder(placed.id, placed.amount_fen, uint8_t(wire::PaymentMethod::kCard))})[0];
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(placed.id, &money), Code::ok);
  EXPECT_EQ(money.amount_fen, 10000);
  wire::ShipmentRecord shipment{};
  ASSERT_EQ(engine_.fulfilment()->QueryShipment(placed.id, &shipment), Code::ok);
  ASSERT_EQ(shipment.parcel_count, 1);
  const uint64_t waybill = shipment.waybill[0];
  EXPECT_EQ(waybill, 1'000'000u);
  // Only the engine pays, refunds or ships orders.
  EXPECT_EQ(Run(4 * kSecond, {testing::PayCmd(placed.id, 42, 1, 10000, wire::PaymentMethod::kCard)})[0].code,
            Code::operation_owned_by_engine);

  using wire::ParcelState;
  for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
                        ParcelState::kDepartedHub, ParcelState::kArrivedHub, ParcelState::kOutForDelivery}) {
    ASSERT_EQ(Run(5 * kSecond, {testing::TrackCommand(waybill, e)})[0].code, Code::ok);
  }
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(placed.id, &order), Code::ok);
  EXPECT_EQ(order.state, wire::OrderState::kPaid);
  ASSERT_EQ(Run(6 * kSecond, {testing::TrackCommand(waybill, ParcelState::kDelivered)})[0].code, Code::ok);
  ASSERT_EQ(engine_.GetOrder(placed.id, &order), Code::ok);
  EXPECT_EQ(order.state, wire::OrderState::kDelivered);
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(placed.id, &money), Code::ok);
  EXPECT_NE(money.closed_at_us, 0u);  // settled at delivery
  EXPECT_EQ(money.commission_fen + money.merchant_net_fen + money.withheld_fen + money.merchant_fee_fen, 10000);
  EXPECT_EQ(engine_.stats().orders_delivered, 1u);
}

TEST_F(IntegrationTest, RefusedShipmentRefundsThePayment) {
  StockTheStore();
  // SKU 11 is stocked in no warehouse: paid orders wait in the backlog (16 places); the
  // 17th cannot be shipped at all, so its payment is undone and it stays payable.
  ASSERT_EQ(Run(kSecond, {wire::MakeCreateSku(11, 1, 100, 40, 0)})[0].code, Code::ok);
  const auto card = uint8_t(wire::PaymentMethod::kCard);
  for (uint64_t k = 0; k < 16; k++) {
    auto placed = Run(2 * kSecond, {wire::MakePlaceOrder(600 + k, 1, 42 + k, 11, 3, {{11, 1}})})[0];
    ASSERT_EQ(Run(2 * kSecond, {wire::MakePayOrder(placed.id, placed.amount_fen, card)})[0].code, Code::ok);
  }
  EXPECT_EQ(engine_.fulfilment()->backlog_count(), 16u);
  auto placed = Run(4 * kSecond, {wire::MakePlaceOrder(700, 1, 99, 11, 3, {{11, 1}})})[0];
  auto paid = Run(5 * kSecond, {wire::MakePayOrder(placed.id, placed.amount_fen, card)})[0];
  EXPECT_EQ(paid.code, Code::shipment_backlog_full);
  EXPECT_EQ(paid.state, wire::OrderState::kPending);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(placed.id, &money), Code::ok);
  EXPECT_NE(money.closed_at_us, 0u);  // refunded at once
  wire::SkuRecord sku{};
  ASSERT_EQ(engine_.GetSku(11, &sku), Code::ok);
  EXPECT_EQ(sku.sold, 16u);
  EXPECT_EQ(sku.reserved, 1u);
}

TEST_F(IntegrationTest, SnapshotCarriesLedgerAndFulfilment) {
  StockTheStore();
  auto placed = Run(2 * kSecond, {wire::MakePlaceOrder(500, 1, 42, 11, 3, {{10, 2}})})[0];
  ASSERT_EQ(Run(3 * kSecond, {wire::MakePayOrder(placed.id, placed.amount_fen, uint8_t(wire::PaymentMethod::kCard))})[0].code, Code::ok);
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> state;
  for (ByteSpan c : parts.chunks) state.insert(state.end(), c.begin(), c.end());
  Engine restored(FullConfig());
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  EngineConfig no_modules = FullConfig();
  no_modules.fulfilment_enabled = false;
  Engine other(no_modules);
  EXPECT_EQ(other.Restore(state).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eleven::engine
