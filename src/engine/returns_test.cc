// Returns, cancellations after payment, confirm_delivery and after-sales refunds, with the
// order engine, the ledger and fulfilment all on (docs/returns.md).
#include <gtest/gtest.h>

#include <vector>

#include "engine/engine.h"
#include "engine/fulfilment/fulfilment_test_util.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::ParcelState;
using wire::PaymentMethod;
constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kDay = 86'400 * kSecond;
constexpr uint64_t kMerchant = 1;
constexpr uint64_t kBuyer = 42;
constexpr uint64_t kSkuA = 10;  // 5,000 fen, stocked in warehouse 100 only
constexpr uint64_t kSkuB = 12;  // 3,000 fen, stocked in warehouse 101 only

EngineConfig ReturnsConfig() {
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

wire::Command AfterSalesCmd(uint64_t refund_id, uint64_t order_id, int64_t amount_fen) {
  wire::LedgerCommand c{};
  c.after_sales_refund.operation = wire::kAfterSalesRefund;
  c.after_sales_refund.refund_id = refund_id;
  c.after_sales_refund.order_id = order_id;
  c.after_sales_refund.amount_fen = amount_fen;
  return wire::AsCommand(c);
}

class ReturnsTest : public ::testing::Test {
 protected:
  ReturnsTest() : engine_(ReturnsConfig()) {
    auto r =
        Run(kSecond, {wire::MakeCreateMerchant(kMerchant, "CN", 0),
                      wire::MakeCreateSku(kSkuA, kMerchant, 5000, 20, 0),
                      wire::MakeCreateSku(kSkuB, kMerchant, 3000, 20, 0),
                      testing::WarehouseCommand(100, 11, 0, 0, 100, 1000),
                      testing::WarehouseCommand(101, 11, 0, 0, 100, 1000),
                      testing::StockCommand(100, kSkuA, 20), testing::StockCommand(101, kSkuB, 20),
                      testing::CourierCommand(7, "ZTO", wire::CourierMode::kExpress, 2, 100, 500,
                                              1'000'000, 1000),
                      testing::CoverageCommand(7, 0)});
    for (const auto& x : r) EXPECT_EQ(x.code, Code::ok) << wire::CodeName(x.code);
  }

  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  wire::Result One(uint64_t now_us, const wire::Command& command) {
    return Run(now_us, {command})[0];
  }

  // Places and pays an order of the given lines; returns its id.
  uint64_t PaidOrder(std::initializer_list<wire::Line> lines, PaymentMethod method,
                     uint8_t periods = 0) {
    const uint64_t now_us = engine_.last_timestamp_us();
    const auto placed =
        One(now_us, wire::MakePlaceOrder(next_key_++, kMerchant, kBuyer, 11, 3, lines));
    EXPECT_EQ(placed.code, Code::ok) << wire::CodeName(placed.code);
    const auto paid =
        One(now_us, wire::MakePayOrder(placed.id, placed.amount_fen, uint8_t(method), periods));
    EXPECT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
    return placed.id;
  }
  std::vector<uint64_t> Waybills(uint64_t order_id) {
    wire::ShipmentRecord shipment{};
    EXPECT_EQ(engine_.fulfilment()->QueryShipment(order_id, &shipment), Code::ok);
    return std::vector<uint64_t>(shipment.waybill, shipment.waybill + shipment.parcel_count);
  }
  void Track(uint64_t now_us, uint64_t waybill, std::initializer_list<ParcelState> events) {
    for (ParcelState e : events) {
      ASSERT_EQ(One(now_us, testing::TrackCommand(waybill, e)).code, Code::ok) << int(e);
    }
  }
  void Ship(uint64_t now_us, uint64_t waybill) {
    Track(now_us, waybill,
          {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
           ParcelState::kDepartedHub});
  }
  void Deliver(uint64_t now_us, uint64_t waybill) {
    Track(now_us, waybill,
          {ParcelState::kArrivedHub, ParcelState::kOutForDelivery, ParcelState::kDelivered});
  }
  void Return(uint64_t now_us, uint64_t waybill) {
    Track(now_us, waybill, {ParcelState::kException, ParcelState::kReturned});
  }
  wire::OrderMoneyRecord Money(uint64_t order_id) {
    wire::OrderMoneyRecord money{};
    EXPECT_EQ(engine_.ledger()->LookupOrderMoney(order_id, &money), Code::ok);
    return money;
  }
  int64_t Balance(uint64_t account_id) {  // credits - debits, posted
    wire::AccountRecord a{};
    EXPECT_EQ(engine_.ledger()->LookupAccount(account_id, &a), Code::ok);
    return a.credits_posted_fen - a.debits_posted_fen;
  }
  int64_t Escrow() { return Balance(SystemAccountId(SystemAccount::kEscrow)); }
  int64_t MerchantWallet() { return Balance(AccountIdOf(IdSpace::kMerchantWallet, kMerchant)); }
  int64_t BuyerWallet() { return Balance(AccountIdOf(IdSpace::kBuyerWallet, kBuyer)); }
  wire::OrderState StateOf(uint64_t order_id) {
    wire::OrderRecord order{};
    EXPECT_EQ(engine_.GetOrder(order_id, &order), Code::ok);
    return order.state;
  }
  wire::SkuRecord Sku(uint64_t sku_id) {
    wire::SkuRecord sku{};
    EXPECT_EQ(engine_.GetSku(sku_id, &sku), Code::ok);
    return sku;
  }
  uint32_t WarehouseUnits(uint64_t warehouse_id, uint64_t sku_id) {
    uint32_t units = 0;
    EXPECT_EQ(engine_.fulfilment()->QueryStock(warehouse_id, sku_id, &units), Code::ok);
    return units;
  }

  Engine engine_;
  uint64_t next_key_ = 500;
};

TEST_F(ReturnsTest, ReturnedParcelRefundsTheCardAndSettlesNothing) {
  const uint64_t id = PaidOrder({{kSkuA, 2}}, PaymentMethod::kCard);
  const int64_t card_before = Balance(SystemAccountId(SystemAccount::kCardClearing));
  const auto waybills = Waybills(id);
  ASSERT_EQ(waybills.size(), 1u);
  Ship(4 * kSecond, waybills[0]);
  Return(5 * kSecond, waybills[0]);
  EXPECT_EQ(StateOf(id), wire::OrderState::kReturned);
  const auto money = Money(id);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kRefunded);
  EXPECT_EQ(money.refunded_fen, 10000);
  EXPECT_EQ(money.merchant_net_fen, 0);
  EXPECT_EQ(MerchantWallet(), 0);
  EXPECT_EQ(Escrow(), 0);
  EXPECT_EQ(Balance(SystemAccountId(SystemAccount::kCardClearing)), card_before + 10000);
  EXPECT_EQ(engine_.stats().orders_delivered, 0u);
}

TEST_F(ReturnsTest, ReturnedParcelRefundsTheWallet) {
  ASSERT_EQ(One(kSecond, testing::PartyCmd(wire::kDeposit, 1, kBuyer, 20000)).code, Code::ok);
  const uint64_t id = PaidOrder({{kSkuB, 1}}, PaymentMethod::kBalance);
  EXPECT_EQ(BuyerWallet(), 17000);
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  Return(5 * kSecond, waybills[0]);
  EXPECT_EQ(BuyerWallet(), 20000);
  EXPECT_EQ(MerchantWallet(), 0);
  EXPECT_EQ(Escrow(), 0);
}

TEST_F(ReturnsTest, ReturnedParcelCancelsThePlanAndRestoresCredit) {
  ASSERT_EQ(One(kSecond, testing::SetBuyerLimitCmd(kBuyer, 100000)).code, Code::ok);
  ASSERT_EQ(One(kSecond, testing::PartyCmd(wire::kDeposit, 1, kBuyer, 5000)).code, Code::ok);
  const uint64_t id = PaidOrder({{kSkuA, 2}}, PaymentMethod::kInstalmentBuyerFee, 3);
  ASSERT_EQ(One(3 * kSecond, testing::RepayCmd(2, id, 1)).code, Code::ok);  // one instalment paid
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  Return(5 * kSecond, waybills[0]);
  wire::PlanRecord plan{};
  ASSERT_EQ(engine_.ledger()->LookupPlan(id, &plan), Code::ok);
  EXPECT_EQ(plan.state, wire::PlanState::kCancelled);
  wire::BuyerCreditRecord credit{};
  ASSERT_EQ(engine_.ledger()->LookupBuyerCredit(kBuyer, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 0);  // the whole limit is free again
  EXPECT_EQ(credit.wallet_fen, 5000);    // the instalment repaid came back
  EXPECT_EQ(Escrow(), 0);
}

TEST_F(ReturnsTest, PartlyReturnedSplitShipmentSettlesOnlyWhatWasDelivered) {
  const uint64_t id = PaidOrder({{kSkuA, 1}, {kSkuB, 2}}, PaymentMethod::kCard);  // 5,000 + 6,000
  const auto waybills = Waybills(id);
  ASSERT_EQ(waybills.size(), 2u);  // the two SKUs are in two warehouses
  Ship(4 * kSecond, waybills[0]);
  Ship(4 * kSecond, waybills[1]);
  Deliver(5 * kSecond, waybills[0]);
  // Find which parcel carries SKU B, and return it.
  wire::ParcelRecord parcel{};
  ASSERT_EQ(engine_.fulfilment()->QueryParcel(waybills[1], &parcel), Code::ok);
  const int64_t returned = parcel.sku_id[0] == kSkuB ? 6000 : 5000;
  Return(6 * kSecond, waybills[1]);
  EXPECT_EQ(StateOf(id), wire::OrderState::kDelivered);
  const auto money = Money(id);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, returned);
  const int64_t settled = 11000 - returned;
  EXPECT_EQ(money.commission_fen, settled * 200 / 10000);
  EXPECT_EQ(
      money.commission_fen + money.merchant_net_fen + money.withheld_fen + money.merchant_fee_fen,
      settled);
  EXPECT_EQ(MerchantWallet(), money.merchant_net_fen);
  EXPECT_EQ(Escrow(), 0);
}

// A returned parcel of an order with both coupons (docs/promotions.md, "Rounding rule"):
// lines 5,000 + 3,000 = 8,000; the shop's 500 off leaves escrow A = 7,500; the platform's
// 1,000 off (its subsidy S) leaves the buyer 6,500 to pay. Returning line B (3,000 of 8,000)
// refunds R = floor(7,500 x 3/8) = 2,812 of escrow: floor(1,000 x 2,812 / 7,500) = 374 of it
// to the platform, 2,438 to the buyer; the merchant is settled on 7,500 - 2,812 = 4,688.
TEST_F(ReturnsTest, PartReturnOfADiscountedOrderSplitsTheDiscountsByValue) {
  const uint64_t kEnd = 100 * kDay;
  std::vector<wire::Command> setup = {
      wire::MakeCreateCoupon(1, 0, wire::CouponKind::kFixed, 1000, 0, 10, 0, kEnd),
      wire::MakeCreateCoupon(2, kMerchant, wire::CouponKind::kThreshold, 500, 5000, 10, 0, kEnd),
      wire::MakeClaimCoupon(1, kBuyer), wire::MakeClaimCoupon(2, kBuyer),
      testing::PartyCmd(wire::kDeposit, 1, kBuyer, 20000)};
  for (const auto& r : Run(kSecond, setup)) ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
  wire::Command order = wire::MakePlaceOrder(next_key_++, kMerchant, kBuyer, 11, 3, {{kSkuA, 1}, {kSkuB, 1}});
  wire::AddCoupon(order, 1);
  wire::AddCoupon(order, 2);
  const auto placed = One(2 * kSecond, order);
  ASSERT_EQ(placed.code, Code::ok) << wire::CodeName(placed.code);
  ASSERT_EQ(placed.amount_fen, 6500);
  ASSERT_EQ(One(2 * kSecond, wire::MakePayOrder(placed.id, 6500, uint8_t(PaymentMethod::kBalance), 0)).code, Code::ok);
  const int64_t marketing = SystemAccountId(SystemAccount::kMarketing);
  EXPECT_EQ(BuyerWallet(), 13500);
  EXPECT_EQ(Balance(marketing), -1000);
  EXPECT_EQ(Escrow(), 7500);
  const auto waybills = Waybills(placed.id);
  ASSERT_EQ(waybills.size(), 2u);
  wire::ParcelRecord parcel{};
  ASSERT_EQ(engine_.fulfilment()->QueryParcel(waybills[1], &parcel), Code::ok);
  const uint64_t b_parcel = parcel.sku_id[0] == kSkuB ? waybills[1] : waybills[0];
  const uint64_t a_parcel = b_parcel == waybills[1] ? waybills[0] : waybills[1];
  Ship(4 * kSecond, a_parcel);
  Ship(4 * kSecond, b_parcel);
  Deliver(5 * kSecond, a_parcel);
  Return(6 * kSecond, b_parcel);
  const auto money = Money(placed.id);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 2812);
  EXPECT_EQ(money.subsidy_refunded_fen, 374);
  EXPECT_EQ(BuyerWallet(), 13500 + 2438);
  EXPECT_EQ(Balance(marketing), -1000 + 374);
  EXPECT_EQ(money.commission_fen + money.merchant_net_fen + money.withheld_fen + money.merchant_fee_fen, 4688);
  EXPECT_EQ(Escrow(), 0);
  const auto& t = engine_.sales().total;
  EXPECT_EQ(t.gross_fen, 8000);
  EXPECT_EQ(t.discounts_fen, 1500);
  EXPECT_EQ(t.refunds_fen, 2438);
}

TEST_F(ReturnsTest, PartReturnOfAnInstalmentPurchaseShrinksThePlan) {
  ASSERT_EQ(One(kSecond, testing::SetBuyerLimitCmd(kBuyer, 100000)).code, Code::ok);
  const uint64_t id = PaidOrder({{kSkuA, 1}, {kSkuB, 2}}, PaymentMethod::kInstalmentMerchantFee, 3);
  const auto waybills = Waybills(id);
  ASSERT_EQ(waybills.size(), 2u);
  wire::ParcelRecord parcel{};
  ASSERT_EQ(engine_.fulfilment()->QueryParcel(waybills[1], &parcel), Code::ok);
  const int64_t returned = parcel.sku_id[0] == kSkuB ? 6000 : 5000;
  Ship(4 * kSecond, waybills[0]);
  Ship(4 * kSecond, waybills[1]);
  Deliver(5 * kSecond, waybills[0]);
  Return(6 * kSecond, waybills[1]);
  wire::PlanRecord plan{};
  ASSERT_EQ(engine_.ledger()->LookupPlan(id, &plan), Code::ok);
  EXPECT_EQ(plan.state, wire::PlanState::kActive);
  EXPECT_EQ(plan.total_fen, 11000 - returned);
  wire::BuyerCreditRecord credit{};
  ASSERT_EQ(engine_.ledger()->LookupBuyerCredit(kBuyer, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 11000 - returned);
  // The rest repays exactly: early repayment of everything left.
  ASSERT_EQ(One(7 * kSecond, testing::PartyCmd(wire::kDeposit, 1, kBuyer, 11000)).code, Code::ok);
  const auto repaid = One(7 * kSecond, testing::RepayCmd(2, id, 0));
  ASSERT_EQ(repaid.code, Code::ok);
  EXPECT_EQ(repaid.amount_fen, 11000 - returned);
  // The merchant's fee shrank with what was settled.
  const auto money = Money(id);
  EXPECT_EQ(money.merchant_fee_fen, (11000 * 230 / 10000) * (11000 - returned) / 11000);
}

TEST_F(ReturnsTest, ConfirmDeliveryOnlyForAShippedOrder) {
  const uint64_t id = PaidOrder({{kSkuA, 1}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  const auto early = One(4 * kSecond, testing::OrderCmd(wire::kConfirmDelivery, id));
  EXPECT_EQ(early.code, Code::order_not_shipped);
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kPaid);
  Track(4 * kSecond, waybills[0], {ParcelState::kPicked, ParcelState::kPacked});
  EXPECT_EQ(One(4 * kSecond, testing::OrderCmd(wire::kConfirmDelivery, id)).code,
            Code::order_not_shipped);
  Track(5 * kSecond, waybills[0], {ParcelState::kHandedToCourier});
  const auto confirmed = One(5 * kSecond, testing::OrderCmd(wire::kConfirmDelivery, id));
  EXPECT_EQ(confirmed.code, Code::ok) << wire::CodeName(confirmed.code);
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(Escrow(), 0);
}

TEST_F(ReturnsTest, ConfirmDeliveryRefusedForABackloggedOrder) {
  // SKU 13 is stocked nowhere: the paid order waits in the backlog.
  ASSERT_EQ(One(kSecond, wire::MakeCreateSku(13, kMerchant, 100, 5, 0)).code, Code::ok);
  const uint64_t id = PaidOrder({{13, 1}}, PaymentMethod::kCard);
  EXPECT_EQ(engine_.fulfilment()->backlog_count(), 1u);
  EXPECT_EQ(One(4 * kSecond, testing::OrderCmd(wire::kConfirmDelivery, id)).code,
            Code::order_not_shipped);
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kPaid);
}

TEST_F(ReturnsTest, CancelAPaidOrderBeforeItShips) {
  const uint64_t id = PaidOrder({{kSkuA, 3}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  EXPECT_EQ(WarehouseUnits(100, kSkuA), 17u);
  Track(4 * kSecond, waybills[0], {ParcelState::kPicked});
  const auto cancelled = One(5 * kSecond, wire::MakeCancelOrder(id));
  ASSERT_EQ(cancelled.code, Code::ok) << wire::CodeName(cancelled.code);
  EXPECT_EQ(cancelled.state, wire::OrderState::kCancelled);
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kRefunded);
  EXPECT_EQ(Escrow(), 0);
  EXPECT_EQ(Sku(kSkuA).sold, 0u);
  EXPECT_EQ(Sku(kSkuA).available, 20u);
  EXPECT_EQ(WarehouseUnits(100, kSkuA), 20u);
  wire::ParcelRecord parcel{};
  ASSERT_EQ(engine_.fulfilment()->QueryParcel(waybills[0], &parcel), Code::ok);
  EXPECT_EQ(parcel.state, ParcelState::kCancelled);
  EXPECT_EQ(One(6 * kSecond, testing::TrackCommand(waybills[0], ParcelState::kPacked)).code,
            Code::tracking_transition_invalid);
  EXPECT_EQ(engine_.fulfilment()->QueryFigures().shipments_cancelled, 1u);
  // A second cancel is a retry: answered ok, marked as a replay, and changes nothing.
  const wire::Result again = One(6 * kSecond, wire::MakeCancelOrder(id));
  EXPECT_EQ(again.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(again));
  EXPECT_EQ(Sku(kSkuA).available, 20u);
  EXPECT_EQ(Escrow(), 0);
}

TEST_F(ReturnsTest, CancelRefusedOnceAParcelShipped) {
  const uint64_t id = PaidOrder({{kSkuA, 1}, {kSkuB, 1}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  ASSERT_EQ(waybills.size(), 2u);
  Ship(4 * kSecond, waybills[0]);  // one of the two parcels left
  EXPECT_EQ(One(5 * kSecond, wire::MakeCancelOrder(id)).code, Code::order_already_shipped);
  EXPECT_EQ(StateOf(id), wire::OrderState::kPaid);
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kPaid);
  EXPECT_EQ(Sku(kSkuA).sold, 1u);
  Deliver(6 * kSecond, waybills[0]);
  Ship(6 * kSecond, waybills[1]);
  Deliver(6 * kSecond, waybills[1]);
  EXPECT_EQ(One(7 * kSecond, wire::MakeCancelOrder(id)).code, Code::order_already_shipped);
}

TEST_F(ReturnsTest, CancelABackloggedPaidOrder) {
  ASSERT_EQ(One(kSecond, wire::MakeCreateSku(13, kMerchant, 100, 5, 0)).code, Code::ok);
  const uint64_t first = PaidOrder({{13, 1}}, PaymentMethod::kCard);
  const uint64_t second = PaidOrder({{13, 2}}, PaymentMethod::kCard);
  EXPECT_EQ(engine_.fulfilment()->backlog_count(), 2u);
  ASSERT_EQ(One(4 * kSecond, wire::MakeCancelOrder(first)).code, Code::ok);
  EXPECT_EQ(engine_.fulfilment()->backlog_count(), 1u);
  wire::ShipmentRecord shipment{};
  ASSERT_EQ(engine_.fulfilment()->QueryShipment(first, &shipment), Code::ok);
  EXPECT_EQ(shipment.state, wire::ShipmentState::kCompleted);
  EXPECT_EQ(shipment.parcel_count, 0);
  ASSERT_EQ(engine_.fulfilment()->QueryShipment(second, &shipment), Code::ok);
  EXPECT_EQ(shipment.backlog_position, 0u);
  EXPECT_EQ(Sku(13).sold, 2u);
  EXPECT_EQ(Sku(13).available, 3u);
  EXPECT_EQ(Money(first).state, wire::OrderMoneyState::kRefunded);
  // The one left still ships when stock arrives.
  ASSERT_EQ(One(5 * kSecond, testing::StockCommand(100, 13, 5)).code, Code::ok);
  One(6 * kSecond, wire::MakeRestock(kSkuA, 1));  // any batch drains the backlog
  ASSERT_EQ(engine_.fulfilment()->QueryShipment(second, &shipment), Code::ok);
  EXPECT_EQ(shipment.state, wire::ShipmentState::kAllocated);
}

// Refunds reach the sales figures once each, whichever way they are made: a cancellation
// after payment, a returned parcel, an after-sales refund (and not its retry).
TEST_F(ReturnsTest, SalesFiguresCountEachRefundOnce) {
  const uint64_t cancelled = PaidOrder({{kSkuA, 3}}, PaymentMethod::kCard);  // 15,000
  ASSERT_EQ(One(4 * kSecond, wire::MakeCancelOrder(cancelled)).code, Code::ok);
  const uint64_t split = PaidOrder({{kSkuA, 1}, {kSkuB, 2}}, PaymentMethod::kCard);  // 11,000
  const auto waybills = Waybills(split);
  ASSERT_EQ(waybills.size(), 2u);
  Ship(5 * kSecond, waybills[0]);
  Ship(5 * kSecond, waybills[1]);
  Deliver(6 * kSecond, waybills[0]);
  Return(6 * kSecond, waybills[1]);
  const int64_t returned = Money(split).refunded_fen;
  ASSERT_TRUE(returned == 5000 || returned == 6000) << returned;
  ASSERT_EQ(One(7 * kSecond, AfterSalesCmd(900, split, 1000)).code, Code::ok);
  ASSERT_TRUE(wire::IsReplay(One(7 * kSecond, AfterSalesCmd(900, split, 1000))));

  const SalesFigures& total = engine_.sales().total;
  EXPECT_EQ(total.gross_fen, 26000);
  EXPECT_EQ(total.orders, 2u);
  EXPECT_EQ(total.units, 6u);
  EXPECT_EQ(total.refunds_fen, 15000 + returned + 1000);
  std::vector<wire::SalesRecord> sales(wire::kSalesFixedEntriesMax);
  sales.resize(engine_.QuerySales(0, sales));
  ASSERT_EQ(sales.size(), 4u);  // total, tier 3, region 11, CN
  for (const wire::SalesRecord& s : sales) {
    EXPECT_EQ(s.refunds_fen, total.refunds_fen) << int(s.dimension);
    EXPECT_EQ(s.net_fen, 26000 - total.refunds_fen) << int(s.dimension);
  }
}

TEST_F(ReturnsTest, AfterSalesRefundWithinTheWindowFromTheMerchant) {
  const uint64_t id = PaidOrder({{kSkuA, 2}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  Deliver(5 * kSecond, waybills[0]);
  const int64_t net = Money(id).merchant_net_fen;
  EXPECT_EQ(MerchantWallet(), net);
  EXPECT_EQ(One(6 * kSecond, AfterSalesCmd(900, id, 10001)).code, Code::refund_exceeds_paid);
  const auto refunded = One(6 * kSecond, AfterSalesCmd(900, id, 3000));
  ASSERT_EQ(refunded.code, Code::ok) << wire::CodeName(refunded.code);
  EXPECT_EQ(MerchantWallet(), net - 3000);
  EXPECT_EQ(Money(id).refunded_fen, 3000);
  // A retry moves nothing: answered as the first, marked as a replay.
  const wire::Result retried = One(7 * kSecond, AfterSalesCmd(900, id, 3000));
  EXPECT_EQ(retried.code, Code::ok);
  EXPECT_TRUE(wire::IsReplay(retried));
  EXPECT_EQ(retried.amount_fen, 3000);
  EXPECT_EQ(MerchantWallet(), net - 3000);
  // More than the merchant holds, without a credit line: refused, nothing moves.
  EXPECT_EQ(One(7 * kSecond, AfterSalesCmd(901, id, 7000)).code, Code::refund_unfundable);
  // With a line, the shortfall is drawn.
  ASSERT_EQ(One(7 * kSecond, testing::SetLineCmd(kMerchant, 5000, 0)).code, Code::ok);
  ASSERT_EQ(One(7 * kSecond, AfterSalesCmd(901, id, 7000)).code, Code::ok);
  EXPECT_EQ(MerchantWallet(), 0);
  wire::MerchantCreditRecord credit{};
  ASSERT_EQ(engine_.ledger()->LookupMerchantCredit(kMerchant, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 7000 - (net - 3000));
  EXPECT_EQ(Money(id).refunded_fen, 10000);
  EXPECT_EQ(One(8 * kSecond, AfterSalesCmd(902, id, 1)).code, Code::refund_exceeds_paid);
}

TEST_F(ReturnsTest, AfterSalesRefundRefusedOutsideTheWindowOrBeforeSettlement) {
  const uint64_t id = PaidOrder({{kSkuA, 1}}, PaymentMethod::kCard);
  EXPECT_EQ(One(4 * kSecond, AfterSalesCmd(900, id, 100)).code, Code::order_not_settled);
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  Deliver(5 * kSecond, waybills[0]);
  const uint64_t settled_at = Money(id).closed_at_us;
  const uint64_t window = ReturnsConfig().ledger.after_sales_window_us;
  EXPECT_EQ(One(settled_at + window + 1, AfterSalesCmd(900, id, 100)).code,
            Code::refund_window_closed);
  EXPECT_EQ(Money(id).refunded_fen, 0);
}

TEST_F(ReturnsTest, ParcelBackAfterAutoConfirmIsRefundedByTheMerchant) {
  const uint64_t id = PaidOrder({{kSkuA, 1}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  const uint64_t later = 3 * kSecond + ReturnsConfig().ledger.auto_confirm_us + kDay;
  Track(later, waybills[0], {ParcelState::kException});  // auto-confirm settled it first
  EXPECT_EQ(Money(id).state, wire::OrderMoneyState::kSettled);
  const int64_t net = Money(id).merchant_net_fen;
  ASSERT_LT(net, 5000);  // the commission went to the platform: the line pays the rest
  ASSERT_EQ(One(later, testing::SetLineCmd(kMerchant, 1000, 0)).code, Code::ok);
  Track(later, waybills[0], {ParcelState::kReturned});
  EXPECT_EQ(StateOf(id), wire::OrderState::kReturned);
  EXPECT_EQ(Money(id).refunded_fen, 5000);
  EXPECT_EQ(MerchantWallet(), 0);
  wire::MerchantCreditRecord credit{};
  ASSERT_EQ(engine_.ledger()->LookupMerchantCredit(kMerchant, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 5000 - net);
  EXPECT_EQ(Escrow(), 0);
}

TEST_F(ReturnsTest, ParcelBackAfterAutoConfirmUnfundableMovesNothing) {
  const uint64_t id = PaidOrder({{kSkuA, 1}}, PaymentMethod::kCard);
  const auto waybills = Waybills(id);
  Ship(4 * kSecond, waybills[0]);
  const uint64_t later = 3 * kSecond + ReturnsConfig().ledger.auto_confirm_us + kDay;
  Track(later, waybills[0], {ParcelState::kException, ParcelState::kReturned});
  EXPECT_EQ(StateOf(id), wire::OrderState::kReturned);
  EXPECT_EQ(Money(id).refunded_fen, 0);
  EXPECT_EQ(MerchantWallet(), Money(id).merchant_net_fen);
}

}  // namespace
}  // namespace eleven::engine
