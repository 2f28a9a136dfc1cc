// Coupons (docs/promotions.md): claims, redemption rules, what follows an order, the money
// and the figures, and a randomised run against a reference model, with the ledger on.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <vector>

#include "engine/engine.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::ClaimState;
using wire::Code;
using wire::CouponKind;
using wire::OrderState;
using wire::PaymentMethod;
constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kPayWindow = 600 * kSecond;
constexpr uint64_t kShopA = 1;  // CN; SKUs 10 (3,000 fen) and 11 (12,345 fen)
constexpr uint64_t kShopB = 2;  // JP; SKU 20 (7,001 fen)
constexpr uint64_t kEnd = 100'000 * kSecond;

EngineConfig CouponConfig(bool fulfilment) {
  EngineConfig config;
  config.merchant_count_max = 8;
  config.sku_count_max = 64;
  config.drop_count_max = 8;
  config.order_slot_count = 512;
  config.holding_count_max = 64;
  config.pay_window_us = kPayWindow;
  config.coupon_count_max = 16;
  config.coupon_claim_count_max = 4096;
  config.coupon_order_count_max = 512;
  config.ledger_enabled = true;
  config.ledger = testing::SmallConfig();
  // Fulfilment on without warehouses: every paid order waits in the backlog, so it can be
  // cancelled (and refunded) after payment.
  config.fulfilment_enabled = fulfilment;
  config.fulfilment.warehouse_count_max = 2;
  config.fulfilment.courier_count_max = 2;
  config.fulfilment.stock_entry_count_max = 8;
  config.fulfilment.sku_count_max = 8;
  config.fulfilment.parcel_count_max = 8;
  config.fulfilment.shipment_count_max = 1024;
  config.fulfilment.backlog_count_max = 1024;
  config.fulfilment.delivered_outbox_count_max = 8;
  return config;
}

wire::Command Deposit(uint64_t transfer_id, uint64_t buyer, int64_t fen) {
  return testing::PartyCmd(wire::kDeposit, transfer_id, buyer, fen);
}

class CouponTest : public ::testing::Test {
 protected:
  explicit CouponTest(bool fulfilment = true) : engine_(CouponConfig(fulfilment)) {
    const auto r = Run(kSecond, {wire::MakeCreateMerchant(kShopA, "CN", 0), wire::MakeCreateMerchant(kShopB, "JP", 0),
                                 wire::MakeCreateSku(10, kShopA, 3000, 100'000, 0),
                                 wire::MakeCreateSku(11, kShopA, 12345, 100'000, 0),
                                 wire::MakeCreateSku(20, kShopB, 7001, 100'000, 0),
                                 wire::MakeCreateSku(12, kShopA, 100, 100, 0), wire::MakeCreateSku(13, kShopA, 100, 100, 0),
                                 wire::MakeCreateSku(14, kShopA, 100, 100, 0), wire::MakeCreateSku(15, kShopA, 100, 100, 0),
                                 wire::MakeCreateSku(16, kShopA, 100, 100, 0)});
    for (const auto& x : r) EXPECT_EQ(x.code, Code::ok) << wire::CodeName(x.code);
  }

  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  wire::Result One(const wire::Command& command) { return Run(now_, {command})[0]; }
  static wire::Command Order(uint64_t key, uint64_t merchant, uint64_t buyer, std::initializer_list<wire::Line> lines,
                             std::initializer_list<uint64_t> coupons, uint64_t drop_id = 0) {
    wire::Command c = wire::MakePlaceOrder(key, merchant, buyer, 11, 2, lines, drop_id);
    for (uint64_t id : coupons) wire::AddCoupon(c, id);
    return c;
  }
  wire::CouponRecord Coupon(uint64_t id) {
    wire::CouponRecord r{};
    EXPECT_EQ(engine_.GetCoupon(id, &r), Code::ok);
    return r;
  }
  ClaimState ClaimOf(uint64_t coupon, uint64_t buyer) {
    wire::CouponClaimRecord r{};
    EXPECT_EQ(engine_.GetCouponClaim(coupon, buyer, &r), Code::ok);
    return r.state;
  }
  int64_t Balance(uint64_t account_id) {  // credits - debits, posted
    wire::AccountRecord a{};
    if (engine_.ledger()->LookupAccount(account_id, &a) != Code::ok) return 0;
    return a.credits_posted_fen - a.debits_posted_fen;
  }
  int64_t Marketing() { return Balance(SystemAccountId(SystemAccount::kMarketing)); }
  int64_t Wallet(uint64_t buyer) { return Balance(AccountIdOf(IdSpace::kBuyerWallet, buyer)); }

  Engine engine_;
  uint64_t now_ = 2 * kSecond;
};

TEST_F(CouponTest, ExactlyCountClaimsSucceedAndARepeatIsAReplay) {
  ASSERT_EQ(One(wire::MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 100, 0, kEnd)).code, Code::ok);
  std::vector<wire::Command> claims;
  for (uint64_t buyer = 1; buyer <= 1000; buyer++) claims.push_back(wire::MakeClaimCoupon(1, buyer));
  for (uint64_t buyer = 1; buyer <= 1000; buyer++) claims.push_back(wire::MakeClaimCoupon(1, buyer));
  const auto results = Run(now_, claims);
  int ok = 0, replayed = 0, exhausted = 0;
  for (size_t i = 0; i < results.size(); i++) {
    const bool again = i >= 1000;
    if (results[i].code == Code::coupons_exhausted) exhausted++;
    if (results[i].code == Code::ok && !wire::IsReplay(results[i])) ok++;
    if (results[i].code == Code::ok && wire::IsReplay(results[i])) {
      replayed++;
      EXPECT_TRUE(again) << i;
    }
  }
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(replayed, 100);  // the first 100 buyers' second claims
  EXPECT_EQ(exhausted, 1800);
  EXPECT_EQ(Coupon(1).claimed, 100u);
  EXPECT_EQ(ClaimOf(1, 100), ClaimState::kClaimed);
  wire::CouponClaimRecord none{};
  EXPECT_EQ(engine_.GetCouponClaim(1, 101, &none), Code::coupon_not_claimed);
}

TEST_F(CouponTest, CreateRefusesBadCoupons) {
  using wire::MakeCreateCoupon;
  EXPECT_EQ(One(MakeCreateCoupon(0, 0, CouponKind::kFixed, 500, 0, 1, 0, kEnd)).code, Code::invalid_id);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind(3), 500, 0, 1, 0, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 0, 0, 1, 0, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 600, 1, 0, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kThreshold, 500, 500, 1, 0, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 0, 0, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 1, kEnd, kEnd)).code, Code::invalid_coupon);
  EXPECT_EQ(One(MakeCreateCoupon(1, 9, CouponKind::kFixed, 500, 0, 1, 0, kEnd)).code, Code::merchant_not_found);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 1, 0, kEnd, 77)).code, Code::drop_not_found);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 1, 0, kEnd)).code, Code::ok);
  EXPECT_EQ(One(MakeCreateCoupon(1, 0, CouponKind::kFixed, 500, 0, 1, 0, kEnd)).code, Code::coupon_exists);
  EXPECT_EQ(engine_.coupon_count(), 1u);
}

TEST_F(CouponTest, RedemptionRulesAreCheckedInOrderAndChangeNothing) {
  Run(now_, {wire::MakeCreateCoupon(1, 0, CouponKind::kThreshold, 5000, 30000, 10, 0, kEnd),
             wire::MakeCreateCoupon(2, 0, CouponKind::kFixed, 300, 0, 10, 0, kEnd),
             wire::MakeCreateCoupon(3, kShopA, CouponKind::kThreshold, 1000, 10000, 10, 0, kEnd),
             wire::MakeCreateCoupon(4, kShopB, CouponKind::kFixed, 700, 0, 10, 0, kEnd),
             wire::MakeCreateCoupon(5, 0, CouponKind::kFixed, 100, 0, 10, 50 * kSecond, 60 * kSecond),
             wire::MakeClaimCoupon(1, 7), wire::MakeClaimCoupon(2, 7), wire::MakeClaimCoupon(3, 7),
             wire::MakeClaimCoupon(4, 7)});
  auto refused = [&](wire::Command c) {
    const auto r = One(c);
    EXPECT_EQ(r.state, OrderState::kRejected);
    return r.code;
  };
  EXPECT_EQ(refused(Order(1, kShopA, 7, {{10, 1}}, {1, 2})), Code::coupon_stacking);
  EXPECT_EQ(refused(Order(2, kShopA, 7, {{10, 1}}, {4})), Code::coupon_of_other_merchant);
  EXPECT_EQ(refused(Order(3, kShopA, 8, {{10, 1}}, {2})), Code::coupon_not_claimed);
  EXPECT_EQ(refused(Order(4, kShopA, 7, {{10, 1}}, {99})), Code::coupon_not_found);
  EXPECT_EQ(refused(Order(5, kShopA, 7, {{10, 9}}, {1})), Code::coupon_threshold_not_met);  // 27,000 < 30,000
  // The shop coupon first: 30,000 - 1,000 = 29,000 no longer reaches the platform's 30,000.
  EXPECT_EQ(refused(Order(6, kShopA, 7, {{10, 10}}, {1, 3})), Code::coupon_threshold_not_met);
  EXPECT_EQ(refused(Order(7, kShopA, 7, {{10, 1}, {11, 1}}, {2, 3, 1})), Code::invalid_coupon_count);
  wire::Command too_many = Order(8, kShopA, 7, {{10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}, {15, 1}, {16, 1}}, {2, 3});
  EXPECT_EQ(refused(too_many), Code::invalid_coupon_count);
  // A rejected attempt is remembered by its fingerprint, coupons included: the same key with
  // other coupons is another request.
  EXPECT_EQ(One(Order(1, kShopA, 7, {{10, 1}}, {1, 3})).code, Code::idempotency_key_reused);
  for (uint64_t id : {1, 2, 3, 4}) EXPECT_EQ(Coupon(id).held, 0u) << id;
  EXPECT_EQ(ClaimOf(2, 7), ClaimState::kClaimed);
  // A fixed coupon needs an order worth more than its amount; time windows.
  Run(now_, {wire::MakeCreateCoupon(6, kShopA, CouponKind::kFixed, 3000, 0, 10, 0, kEnd), wire::MakeClaimCoupon(6, 7)});
  EXPECT_EQ(refused(Order(9, kShopA, 7, {{10, 1}}, {6})), Code::coupon_threshold_not_met);
  EXPECT_EQ(One(wire::MakeClaimCoupon(5, 7)).code, Code::coupon_not_started);
  now_ = 55 * kSecond;
  EXPECT_EQ(One(wire::MakeClaimCoupon(5, 7)).code, Code::ok);
  now_ = 60 * kSecond;
  EXPECT_EQ(refused(Order(10, kShopA, 7, {{10, 1}}, {5})), Code::coupon_ended);
  EXPECT_EQ(One(wire::MakeClaimCoupon(5, 8)).code, Code::coupon_ended);
}

TEST_F(CouponTest, TwoCouponsStackAndFollowTheOrder) {
  Run(now_, {wire::MakeCreateCoupon(1, 0, CouponKind::kThreshold, 5000, 30000, 10, 0, kEnd),
             wire::MakeCreateCoupon(3, kShopA, CouponKind::kThreshold, 1000, 10000, 10, 0, kEnd),
             wire::MakeClaimCoupon(1, 7), wire::MakeClaimCoupon(3, 7), Deposit(900, 7, 1'000'000)});
  // 3 x 3,000 + 2 x 12,345 = 33,690; less 1,000 (shop) = 32,690 >= 30,000; less 5,000.
  const auto placed = One(Order(1, kShopA, 7, {{10, 3}, {11, 2}}, {1, 3}));
  ASSERT_EQ(placed.code, Code::ok) << wire::CodeName(placed.code);
  EXPECT_EQ(placed.amount_fen, 27690);
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(placed.id, &order), Code::ok);
  EXPECT_EQ(order.total_fen, 27690);
  EXPECT_EQ(order.platform_coupon_id, 1u);
  EXPECT_EQ(order.shop_coupon_id, 3u);
  EXPECT_EQ(order.platform_discount_fen, 5000);
  EXPECT_EQ(order.shop_discount_fen, 1000);
  EXPECT_EQ(ClaimOf(1, 7), ClaimState::kHeld);
  EXPECT_EQ(Coupon(1).held, 1u);
  // Held: another order may not use it; a retry of the same request is the same order.
  EXPECT_EQ(One(Order(2, kShopA, 7, {{11, 3}}, {1})).code, Code::coupon_in_use);
  const auto again = One(Order(1, kShopA, 7, {{10, 3}, {11, 2}}, {1, 3}));
  EXPECT_TRUE(wire::IsReplay(again));
  EXPECT_EQ(again.id, placed.id);
  EXPECT_EQ(One(Order(1, kShopA, 7, {{10, 3}, {11, 2}}, {3})).code, Code::idempotency_key_reused);
  // Cancelled unpaid: both claims are usable again.
  ASSERT_EQ(One(wire::MakeCancelOrder(placed.id)).code, Code::ok);
  EXPECT_EQ(ClaimOf(1, 7), ClaimState::kClaimed);
  EXPECT_EQ(ClaimOf(3, 7), ClaimState::kClaimed);
  EXPECT_EQ(Coupon(1).held, 0u);
  // Placed again and paid: the buyer pays 27,690, the platform 5,000; escrow holds 32,690.
  const auto second = One(Order(3, kShopA, 7, {{10, 3}, {11, 2}}, {1, 3}));
  ASSERT_EQ(second.code, Code::ok);
  const auto paid = One(wire::MakePayOrder(second.id, 27690, uint8_t(PaymentMethod::kBalance), 0));
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
  EXPECT_EQ(Wallet(7), 1'000'000 - 27690);
  EXPECT_EQ(Marketing(), -5000);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(second.id, &money), Code::ok);
  EXPECT_EQ(money.amount_fen, 32690);
  EXPECT_EQ(money.subsidy_fen, 5000);
  EXPECT_EQ(ClaimOf(1, 7), ClaimState::kUsed);
  EXPECT_EQ(Coupon(1).redeemed, 1u);
  EXPECT_EQ(Coupon(1).discount_fen, 5000);
  EXPECT_EQ(Coupon(3).discount_fen, 1000);
  EXPECT_EQ(engine_.sales().total.gross_fen, 33690);
  EXPECT_EQ(engine_.sales().total.discounts_fen, 6000);
  // Used: a third order may not redeem them.
  EXPECT_EQ(One(Order(4, kShopA, 7, {{11, 3}}, {1})).code, Code::coupon_used);
  // Cancelled after payment (not shipped): the buyer gets all 27,690 back, the platform its
  // 5,000; the coupons stay used.
  ASSERT_EQ(One(wire::MakeCancelOrder(second.id)).code, Code::ok);
  EXPECT_EQ(Wallet(7), 1'000'000);
  EXPECT_EQ(Marketing(), 0);
  EXPECT_EQ(ClaimOf(1, 7), ClaimState::kUsed);
  EXPECT_EQ(engine_.sales().total.refunds_fen, 27690);
  const auto& t = engine_.sales().total;
  EXPECT_EQ(t.gross_fen - t.discounts_fen - t.refunds_fen, 0);
}

TEST_F(CouponTest, ExpiryGivesTheClaimBack) {
  Run(now_, {wire::MakeCreateCoupon(2, 0, CouponKind::kFixed, 300, 0, 10, 0, kEnd), wire::MakeClaimCoupon(2, 7)});
  const auto placed = One(Order(1, kShopA, 7, {{10, 1}}, {2}));
  ASSERT_EQ(placed.code, Code::ok);
  EXPECT_EQ(placed.amount_fen, 2700);
  now_ += kPayWindow;
  Run(now_, {});
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(placed.id, &order), Code::ok);
  EXPECT_EQ(order.state, OrderState::kExpired);
  EXPECT_EQ(ClaimOf(2, 7), ClaimState::kClaimed);
  EXPECT_EQ(One(Order(2, kShopA, 7, {{10, 1}}, {2})).code, Code::ok);
}

TEST_F(CouponTest, LiveRoomCouponsAreForTheirDrop) {
  const uint64_t opens = 10 * kSecond, closes = 20 * kSecond;
  Run(now_, {wire::MakeCreateDrop(50, 10, 2500, 100, opens, closes, 0),
             wire::MakeCreateCoupon(8, kShopA, CouponKind::kFixed, 200, 0, 5, 0, kEnd, 50)});
  EXPECT_EQ(One(wire::MakeClaimCoupon(8, 7)).code, Code::coupon_drop_not_open);
  now_ = opens;
  EXPECT_EQ(One(wire::MakeClaimCoupon(8, 7)).code, Code::ok);
  EXPECT_EQ(One(Order(1, kShopA, 7, {{11, 1}}, {8})).code, Code::coupon_drop_mismatch);
  const auto placed = One(Order(2, kShopA, 7, {{10, 2}}, {8}, 50));
  ASSERT_EQ(placed.code, Code::ok) << wire::CodeName(placed.code);
  EXPECT_EQ(placed.amount_fen, 4800);
  now_ = closes;
  EXPECT_EQ(One(wire::MakeClaimCoupon(8, 9)).code, Code::coupon_drop_not_open);
}

TEST_F(CouponTest, SnapshotRestoresCouponsClaimsAndOrders) {
  Run(now_, {wire::MakeCreateCoupon(1, 0, CouponKind::kFixed, 300, 0, 10, 0, kEnd),
             wire::MakeCreateCoupon(3, kShopA, CouponKind::kThreshold, 1000, 10000, 10, 0, kEnd),
             wire::MakeClaimCoupon(1, 7), wire::MakeClaimCoupon(3, 7), wire::MakeClaimCoupon(1, 8)});
  ASSERT_EQ(One(Order(1, kShopA, 7, {{11, 1}}, {1, 3})).code, Code::ok);
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> bytes;
  for (ByteSpan chunk : parts.chunks) bytes.insert(bytes.end(), chunk.begin(), chunk.end());
  Engine copy(CouponConfig(true));
  ASSERT_TRUE(copy.Restore(bytes).ok());
  EXPECT_EQ(copy.Digest(), engine_.Digest());
  wire::OrderRecord order{};
  ASSERT_EQ(copy.GetOrder(1, &order), Code::ok);
  EXPECT_EQ(order.total_fen, 12345 - 1000 - 300);
  EngineConfig other = CouponConfig(true);
  other.coupon_claim_count_max = 8192;
  Engine differs(other);
  EXPECT_FALSE(differs.Restore(bytes).ok());
}

// The coupon ring keeps an order's coupons while the order ring does, and lets them go with
// it: many more coupon orders than the coupon ring holds, placed over the order ring.
TEST_F(CouponTest, CouponOrdersLeaveWithTheirRingSlot) {
  Run(now_, {wire::MakeCreateCoupon(2, 0, CouponKind::kFixed, 300, 0, 1'000'000, 0, kEnd)});
  for (uint64_t buyer = 1; buyer <= 2000; buyer++) {
    ASSERT_EQ(One(wire::MakeClaimCoupon(2, buyer)).code, Code::ok);
    const auto placed = One(Order(buyer, kShopA, buyer, {{10, 1}}, {2}));
    ASSERT_EQ(placed.code, Code::ok) << buyer << " " << wire::CodeName(placed.code);
    ASSERT_EQ(One(wire::MakeCancelOrder(placed.id)).code, Code::ok);
  }
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(2000, &order), Code::ok);
  EXPECT_EQ(order.platform_discount_fen, 300);
}

// ---- A randomised run against a reference model ----------------------------------------

struct ModelCoupon {
  uint64_t id, merchant;
  int64_t amount, threshold;
  uint64_t starts, ends;
  uint32_t count, claimed = 0, held = 0, redeemed = 0;
  int64_t discount = 0;
};
struct ModelOrder {
  uint64_t buyer, merchant;
  int64_t gross, discount[2], total;
  int claim_coupon[2];  // model coupon index per side, -1: none
  uint64_t created;
  OrderState state;
};

class CouponModelTest : public CouponTest {};

TEST_F(CouponModelTest, RandomClaimsOrdersPaymentsAndRefundsMatchTheModel) {
  const uint64_t seed = std::random_device{}();
  std::printf("CouponModelTest seed %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };

  std::vector<ModelCoupon> coupons = {
      {101, 0, 500, 501, 0, kEnd, 30},
      {102, 0, 5000, 30000, 0, kEnd, 20},
      {103, kShopA, 1000, 10000, 0, kEnd, 25},
      {104, kShopB, 700, 701, 0, kEnd, 10},
      {105, 0, 300, 301, 100 * kSecond, 2000 * kSecond, 40},
  };
  std::vector<wire::Command> setup;
  for (const auto& c : coupons) {
    const bool fixed = c.threshold == c.amount + 1;
    setup.push_back(wire::MakeCreateCoupon(c.id, c.merchant, fixed ? CouponKind::kFixed : CouponKind::kThreshold,
                                           c.amount, fixed ? 0 : c.threshold, c.count, c.starts, c.ends));
  }
  constexpr uint64_t kBuyers = 12;
  constexpr int64_t kFunds = 100'000'000;
  for (uint64_t b = 1; b <= kBuyers; b++) setup.push_back(Deposit(5000 + b, b, kFunds));
  for (const auto& r : Run(now_, setup)) ASSERT_EQ(r.code, Code::ok);

  std::map<std::pair<size_t, uint64_t>, std::pair<ClaimState, uint64_t>> claims;  // -> state, order
  std::map<uint64_t, ModelOrder> orders;
  int64_t gross = 0, discounts = 0, refunds = 0, subsidy_out = 0;
  std::map<uint64_t, int64_t> wallet;
  for (uint64_t b = 1; b <= kBuyers; b++) wallet[b] = kFunds;
  uint64_t next_key = 1;
  const int64_t price[3] = {3000, 12345, 7001};
  const uint64_t sku[3] = {10, 11, 20};

  int placed_with_coupons = 0, paid_with_coupons = 0, refunded_with_coupons = 0, refused_by_rule = 0;
  for (int step = 0; step < 2000; step++) {
    now_ += pick(20) == 0 ? pick(kPayWindow) : pick(5 * kSecond);
    // Expiry at the start of the batch.
    for (auto& [id, o] : orders) {
      if (o.state == OrderState::kPending && o.created + kPayWindow <= now_) {
        o.state = OrderState::kExpired;
        for (int side : {0, 1}) {
          if (o.claim_coupon[side] < 0) continue;
          claims[{size_t(o.claim_coupon[side]), o.buyer}] = {ClaimState::kClaimed, 0};
          coupons[o.claim_coupon[side]].held--;
        }
      }
    }
    const uint64_t buyer = 1 + pick(kBuyers);
    const int action = int(pick(10));
    if (action < 3) {  // claim
      const size_t c = pick(coupons.size());
      const auto r = One(wire::MakeClaimCoupon(coupons[c].id, buyer));
      Code want = Code::ok;
      const bool repeat = claims.count({c, buyer}) != 0;
      if (repeat) {
        EXPECT_TRUE(wire::IsReplay(r));
      } else if (now_ < coupons[c].starts) {
        want = Code::coupon_not_started;
      } else if (now_ >= coupons[c].ends) {
        want = Code::coupon_ended;
      } else if (coupons[c].claimed == coupons[c].count) {
        want = Code::coupons_exhausted;
      }
      ASSERT_EQ(r.code, want) << "claim " << coupons[c].id << " by " << buyer;
      if (want == Code::ok && !repeat) {
        claims[{c, buyer}] = {ClaimState::kClaimed, 0};
        coupons[c].claimed++;
      }
    } else if (action < 7) {  // place
      const uint64_t merchant = pick(3) == 0 ? kShopB : kShopA;
      std::vector<wire::Line> lines;
      int64_t g = 0;
      if (merchant == kShopB) {
        lines.push_back({20, uint16_t(1 + pick(5))});
        g = price[2] * lines[0].quantity;
      } else {
        for (int s : {0, 1}) {
          if (lines.empty() || pick(2) == 0) {
            lines.push_back({sku[s], uint16_t(1 + pick(4))});
            g += price[s] * lines.back().quantity;
          }
        }
      }
      std::vector<size_t> named;
      for (size_t n = pick(3); n > 0; n--) named.push_back(pick(coupons.size()));
      wire::Command cmd = wire::MakePlaceOrder(next_key++, merchant, buyer, 11, 2, {}, 0);
      cmd.place_order.line_count = uint8_t(lines.size());
      for (size_t l = 0; l < lines.size(); l++) {
        cmd.place_order.sku_id[l] = lines[l].sku_id;
        cmd.place_order.quantity[l] = lines[l].quantity;
      }
      for (size_t c : named) wire::AddCoupon(cmd, coupons[c].id);
      // The model's verdict, rule by rule (docs/promotions.md).
      Code want = Code::ok;
      int side_of[2] = {-1, -1};
      for (size_t c : named) {
        const int side = coupons[c].merchant == 0 ? 0 : 1;
        auto claim = claims.find({c, buyer});
        if (side_of[side] >= 0) { want = Code::coupon_stacking; break; }
        if (side == 1 && coupons[c].merchant != merchant) { want = Code::coupon_of_other_merchant; break; }
        if (claim == claims.end()) { want = Code::coupon_not_claimed; break; }
        if (claim->second.first == ClaimState::kHeld) { want = Code::coupon_in_use; break; }
        if (claim->second.first == ClaimState::kUsed) { want = Code::coupon_used; break; }
        if (now_ < coupons[c].starts) { want = Code::coupon_not_started; break; }
        if (now_ >= coupons[c].ends) { want = Code::coupon_ended; break; }
        side_of[side] = int(c);
      }
      int64_t value = g;
      int64_t discount[2] = {0, 0};
      if (want == Code::ok) {
        for (int side : {1, 0}) {
          if (side_of[side] < 0) continue;
          if (value < coupons[side_of[side]].threshold) { want = Code::coupon_threshold_not_met; break; }
          discount[side] = coupons[side_of[side]].amount;
          value -= discount[side];
        }
      }
      const auto r = One(cmd);
      ASSERT_EQ(r.code, want) << "place by " << buyer << " step " << step;
      // Orders the ring has let go of (every attempt takes an id) leave the model's checks.
      while (!orders.empty() && orders.begin()->first + CouponConfig(true).order_slot_count <= r.id) {
        orders.erase(orders.begin());
      }
      refused_by_rule += want != Code::ok;
      if (want != Code::ok) continue;
      placed_with_coupons += side_of[0] >= 0 || side_of[1] >= 0;
      ASSERT_EQ(r.amount_fen, value);
      ModelOrder o{buyer, merchant, g, {discount[0], discount[1]}, value, {side_of[0], side_of[1]}, now_,
                   OrderState::kPending};
      for (int side : {0, 1}) {
        if (side_of[side] < 0) continue;
        claims[{size_t(side_of[side]), buyer}] = {ClaimState::kHeld, r.id};
        coupons[side_of[side]].held++;
      }
      orders[r.id] = o;
    } else if (!orders.empty()) {  // pay or cancel an order
      // Mostly an order that is pending or paid (else one at random: retries and refusals).
      std::vector<uint64_t> live;
      for (const auto& [id, o] : orders) {
        if (o.state == OrderState::kPending || o.state == OrderState::kPaid) live.push_back(id);
      }
      auto it = orders.begin();
      if (!live.empty() && pick(5) != 0) {
        it = orders.find(live[pick(live.size())]);
      } else {
        std::advance(it, pick(orders.size()));
      }
      ModelOrder& o = it->second;
      const bool pay = action < 9;
      const auto r = One(pay ? wire::MakePayOrder(it->first, o.total, uint8_t(PaymentMethod::kBalance), 0)
                             : wire::MakeCancelOrder(it->first));
      if (o.state == OrderState::kPending) {
        ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
        for (int side : {0, 1}) {
          if (o.claim_coupon[side] < 0) continue;
          ModelCoupon& c = coupons[o.claim_coupon[side]];
          c.held--;
          if (pay) {
            c.redeemed++;
            c.discount += o.discount[side];
          }
          claims[{size_t(o.claim_coupon[side]), o.buyer}] =
              pay ? std::make_pair(ClaimState::kUsed, it->first) : std::make_pair(ClaimState::kClaimed, uint64_t{0});
        }
        if (pay) {
          o.state = OrderState::kPaid;
          gross += o.gross;
          discounts += o.discount[0] + o.discount[1];
          subsidy_out += o.discount[0];
          wallet[o.buyer] -= o.total;
          paid_with_coupons += o.claim_coupon[0] >= 0 || o.claim_coupon[1] >= 0;
        } else {
          o.state = OrderState::kCancelled;
        }
      } else if (o.state == OrderState::kPaid && !pay) {  // cancelled after payment: refunded
        ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
        o.state = OrderState::kCancelled;
        refunds += o.total;
        subsidy_out -= o.discount[0];
        refunded_with_coupons += o.claim_coupon[0] >= 0 || o.claim_coupon[1] >= 0;
        wallet[o.buyer] += o.total;
      } else if ((pay && o.state == OrderState::kPaid) || (!pay && o.state == OrderState::kCancelled)) {
        ASSERT_EQ(r.code, Code::ok);  // a retry of what made it final
        ASSERT_TRUE(wire::IsReplay(r));
      } else {
        ASSERT_NE(r.code, Code::ok);
      }
    }
    // Everything the engine shows equals the model, to the fen.
    for (size_t c = 0; c < coupons.size(); c++) {
      const auto got = Coupon(coupons[c].id);
      ASSERT_EQ(got.claimed, coupons[c].claimed) << coupons[c].id;
      ASSERT_EQ(got.held, coupons[c].held) << coupons[c].id;
      ASSERT_EQ(got.redeemed, coupons[c].redeemed) << coupons[c].id;
      ASSERT_EQ(got.discount_fen, coupons[c].discount) << coupons[c].id;
      ASSERT_LE(got.claimed, got.count);
    }
    for (const auto& [key, claim] : claims) {
      wire::CouponClaimRecord got{};
      ASSERT_EQ(engine_.GetCouponClaim(coupons[key.first].id, key.second, &got), Code::ok);
      ASSERT_EQ(got.state, claim.first);
      ASSERT_EQ(got.order_id, claim.second);
    }
    for (const auto& [id, o] : orders) {
      wire::OrderRecord got{};
      ASSERT_EQ(engine_.GetOrder(id, &got), Code::ok);
      ASSERT_EQ(got.state, o.state) << id;
      ASSERT_EQ(got.total_fen, o.total) << id;
      ASSERT_EQ(got.platform_discount_fen, o.discount[0]) << id;
      ASSERT_EQ(got.shop_discount_fen, o.discount[1]) << id;
    }
    const auto& t = engine_.sales().total;
    ASSERT_EQ(t.gross_fen, gross);
    ASSERT_EQ(t.discounts_fen, discounts);
    ASSERT_EQ(t.refunds_fen, refunds);
    ASSERT_EQ(Marketing(), -subsidy_out);  // money: the platform paid what it should, no more
    for (uint64_t b = 1; b <= kBuyers; b++) ASSERT_EQ(Wallet(b), wallet[b]) << b;
  }
  std::printf("placed with coupons %d, paid %d, refunded %d; refused by a coupon rule %d\n",
              placed_with_coupons, paid_with_coupons, refunded_with_coupons, refused_by_rule);
  // The run reached every path it checks (any seed does, by a wide margin).
  EXPECT_GT(paid_with_coupons, 10);
  EXPECT_GT(refunded_with_coupons, 2);
  EXPECT_GT(refused_by_rule, 10);
}

}  // namespace
}  // namespace eleven::engine
