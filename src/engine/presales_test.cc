// Pre-sales (docs/promotions.md, "Pre-sale"): deposits in their window, the balance making a
// paid order, forfeits when the balance window ends, unsold quota going back, retries, and
// the money of each step in the ledger, with the ledger and fulfilment on.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::DepositState;
using wire::OrderState;
using wire::PaymentMethod;
constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kMerchant = 1;
constexpr uint64_t kSku = 10;  // list price 3,000 fen, 100 units
// The windows: deposits [100 s, 200 s), balance [300 s, 400 s).
constexpr uint64_t kDepositStart = 100 * kSecond, kDepositEnd = 200 * kSecond;
constexpr uint64_t kBalanceStart = 300 * kSecond, kBalanceEnd = 400 * kSecond;

EngineConfig PresaleConfig() {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 16;
  config.drop_count_max = 4;
  config.order_slot_count = 64;
  config.holding_count_max = 16;
  config.pay_window_us = 600 * kSecond;
  config.coupon_count_max = 4;
  config.coupon_claim_count_max = 16;
  config.coupon_order_count_max = 16;
  config.presale_count_max = 4;
  config.deposit_count_max = 64;
  config.ledger_enabled = true;
  config.ledger = testing::SmallConfig();
  config.fulfilment_enabled = true;  // no warehouses: paid orders wait in the backlog
  config.fulfilment.warehouse_count_max = 2;
  config.fulfilment.courier_count_max = 2;
  config.fulfilment.stock_entry_count_max = 8;
  config.fulfilment.sku_count_max = 8;
  config.fulfilment.parcel_count_max = 8;
  config.fulfilment.shipment_count_max = 64;
  config.fulfilment.backlog_count_max = 64;
  config.fulfilment.delivered_outbox_count_max = 8;
  return config;
}

wire::Command Presale(uint64_t id, int64_t price, int64_t deposit, int64_t value, uint32_t quota, uint32_t limit) {
  wire::Command c{};
  wire::CreatePresale& p = c.create_presale;
  p.operation = wire::Operation::kCreatePresale;
  p.presale_id = id;
  p.sku_id = kSku;
  p.price_fen = price;
  p.deposit_fen = deposit;
  p.deposit_value_fen = value;
  p.quota = quota;
  p.per_buyer_limit = limit;
  p.deposit_starts_us = kDepositStart;
  p.deposit_ends_us = kDepositEnd;
  p.balance_starts_us = kBalanceStart;
  p.balance_ends_us = kBalanceEnd;
  return c;
}
wire::Command Deposit(uint64_t presale, uint64_t buyer, uint32_t quantity, PaymentMethod method) {
  wire::Command c{};
  c.pay_deposit.operation = wire::Operation::kPayDeposit;
  c.pay_deposit.presale_id = presale;
  c.pay_deposit.buyer_id = buyer;
  c.pay_deposit.quantity = quantity;
  c.pay_deposit.payment_method = static_cast<uint8_t>(method);
  return c;
}
wire::Command PayBalanceCmd(uint64_t presale, uint64_t buyer, int64_t amount, PaymentMethod method, uint8_t periods = 0) {
  wire::Command c{};
  wire::PayBalance& b = c.pay_balance;
  b.operation = wire::Operation::kPayBalance;
  b.presale_id = presale;
  b.buyer_id = buyer;
  b.amount_fen = amount;
  b.payment_method = static_cast<uint8_t>(method);
  b.instalment_periods = periods;
  b.region = 11;
  b.city_tier = 2;
  return c;
}

class PresaleTest : public ::testing::Test {
 protected:
  PresaleTest() : engine_(PresaleConfig()) {
    for (const auto& r : Run(kSecond, {wire::MakeCreateMerchant(kMerchant, "CN", 0),
                                       wire::MakeCreateSku(kSku, kMerchant, 3000, 100, 0),
                                       testing::PartyCmd(wire::kDeposit, 1, 7, 100'000),
                                       testing::PartyCmd(wire::kDeposit, 2, 8, 100'000),
                                       testing::SetBuyerLimitCmd(7, 100'000)})) {
      EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
    }
  }
  std::vector<wire::Result> Run(uint64_t now_us, std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us, commands, results), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  wire::Result One(uint64_t now_us, const wire::Command& c) { return Run(now_us, {c})[0]; }
  wire::PresaleRecord Record(uint64_t id) {
    wire::PresaleRecord r{};
    EXPECT_EQ(engine_.GetPresale(id, &r), Code::ok);
    return r;
  }
  wire::DepositRecord DepositOf(uint64_t presale, uint64_t buyer) {
    wire::DepositRecord r{};
    EXPECT_EQ(engine_.GetDeposit(presale, buyer, &r), Code::ok);
    return r;
  }
  wire::SkuRecord Sku() {
    wire::SkuRecord r{};
    EXPECT_EQ(engine_.GetSku(kSku, &r), Code::ok);
    return r;
  }
  int64_t Balance(uint64_t account_id) {
    wire::AccountRecord a{};
    if (engine_.ledger()->LookupAccount(account_id, &a) != Code::ok) return 0;
    return a.credits_posted_fen - a.debits_posted_fen;
  }
  int64_t Wallet(uint64_t buyer) { return Balance(AccountIdOf(IdSpace::kBuyerWallet, buyer)); }
  int64_t Card() { return Balance(SystemAccountId(SystemAccount::kCardClearing)); }

  Engine engine_;
};

TEST_F(PresaleTest, CreateRefusesBadPresalesAndTakesTheQuota) {
  EXPECT_EQ(One(2 * kSecond, Presale(0, 2800, 100, 300, 10, 0)).code, Code::invalid_id);
  EXPECT_EQ(One(2 * kSecond, Presale(1, 2800, 400, 300, 10, 0)).code, Code::invalid_presale);  // deposit > value
  EXPECT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 2800, 10, 0)).code, Code::invalid_presale);  // value >= price
  EXPECT_EQ(One(2 * kSecond, Presale(1, 3001, 100, 300, 10, 0)).code, Code::drop_price_above_list);
  EXPECT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 101, 0)).code, Code::insufficient_stock);
  wire::Command windows = Presale(1, 2800, 100, 300, 10, 0);
  windows.create_presale.balance_starts_us = kDepositEnd - 1;
  EXPECT_EQ(One(2 * kSecond, windows).code, Code::invalid_presale);
  EXPECT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 10, 0)).code, Code::ok);
  EXPECT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 10, 0)).code, Code::presale_exists);
  EXPECT_EQ(Sku().available, 90u);
  EXPECT_EQ(Sku().in_drops, 10u);
  EXPECT_EQ(Record(1).state, wire::PresaleState::kScheduled);
}

// Two buyers deposit; one pays the balance, the other forfeits; the quota nobody took goes
// back when the deposit window ends.
TEST_F(PresaleTest, DepositBalanceAndForfeit) {
  ASSERT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 10, 3)).code, Code::ok);
  EXPECT_EQ(One(50 * kSecond, Deposit(1, 7, 2, PaymentMethod::kCard)).code, Code::deposit_window_not_open);
  EXPECT_EQ(One(kDepositStart, Deposit(1, 7, 4, PaymentMethod::kCard)).code, Code::buyer_limit);
  EXPECT_EQ(One(kDepositStart, Deposit(1, 7, 4'000'000'000u, PaymentMethod::kCard)).code, Code::invalid_quantity);
  const auto first = One(kDepositStart, Deposit(1, 7, 2, PaymentMethod::kCard));
  ASSERT_EQ(first.code, Code::ok) << wire::CodeName(first.code);
  EXPECT_EQ(first.amount_fen, 200);
  EXPECT_EQ(first.id, wire::kDepositMoneyIdBase + 1);
  // The same deposit again is a retry; another from the same buyer is refused.
  const auto again = One(kDepositStart + 1, Deposit(1, 7, 2, PaymentMethod::kCard));
  EXPECT_TRUE(wire::IsReplay(again));
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(One(kDepositStart + 1, Deposit(1, 7, 1, PaymentMethod::kCard)).code, Code::deposit_exists);
  ASSERT_EQ(One(kDepositStart + 2, Deposit(1, 8, 1, PaymentMethod::kBalance)).code, Code::ok);
  EXPECT_EQ(Wallet(8), 100'000 - 100);
  EXPECT_EQ(Card(), -200);  // the card network paid the platform 200
  EXPECT_EQ(Record(1).deposited, 3u);
  EXPECT_EQ(Sku().reserved, 3u);
  EXPECT_EQ(One(kDepositEnd, Deposit(1, 9, 1, PaymentMethod::kCard)).code, Code::deposit_window_closed);
  // The deposit window is over: the 7 units nobody took are the SKU's again.
  EXPECT_EQ(Sku().available, 97u);
  EXPECT_EQ(Sku().in_drops, 0u);
  EXPECT_EQ(Record(1).returned, 7u);

  EXPECT_EQ(One(kDepositEnd + 1, PayBalanceCmd(1, 7, 5000, PaymentMethod::kBalance)).code, Code::balance_window_not_open);
  EXPECT_EQ(One(kBalanceStart, PayBalanceCmd(1, 7, 4999, PaymentMethod::kBalance)).code, Code::amount_mismatch);
  // (2,800 - 300) x 2 = 5,000 from the wallet; the order's total is all the buyer paid.
  const auto paid = One(kBalanceStart, PayBalanceCmd(1, 7, 5000, PaymentMethod::kBalance));
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
  EXPECT_EQ(paid.state, OrderState::kPaid);
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(paid.id, &order), Code::ok);
  EXPECT_EQ(order.total_fen, 5200);
  EXPECT_EQ(order.state, OrderState::kPaid);
  EXPECT_EQ(order.line_count, 1);
  EXPECT_EQ(order.sku_id[0], kSku);
  EXPECT_EQ(order.quantity[0], 2);
  EXPECT_EQ(Wallet(7), 100'000 - 5000);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(paid.id, &money), Code::ok);
  EXPECT_EQ(money.amount_fen, 5200);  // the deposit joined the balance in escrow
  EXPECT_EQ(DepositOf(1, 7).state, DepositState::kConverted);
  EXPECT_EQ(DepositOf(1, 7).order_id, paid.id);
  const auto retry = One(kBalanceStart + 1, PayBalanceCmd(1, 7, 5000, PaymentMethod::kBalance));
  EXPECT_TRUE(wire::IsReplay(retry));
  EXPECT_EQ(retry.id, paid.id);
  EXPECT_EQ(Sku().sold, 2u);
  const auto& t = engine_.sales().total;
  EXPECT_EQ(t.gross_fen, 5600);     // 2 x 2,800
  EXPECT_EQ(t.discounts_fen, 400);  // the inflation: (300 - 100) x 2
  EXPECT_EQ(Record(1).converted, 2u);

  // Buyer 8 never pays: at the window's end the deposit is the merchant's, the unit the SKU's.
  const int64_t merchant_before = Balance(AccountIdOf(IdSpace::kMerchantWallet, kMerchant));
  Run(kBalanceEnd, {});
  EXPECT_EQ(DepositOf(1, 8).state, DepositState::kForfeited);
  EXPECT_EQ(Record(1).forfeited, 1u);
  EXPECT_EQ(Record(1).forfeited_fen, 100);
  EXPECT_EQ(Record(1).state, wire::PresaleState::kClosed);
  EXPECT_EQ(Sku().reserved, 0u);
  EXPECT_EQ(Sku().available, 98u);
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kMerchantWallet, kMerchant)) - merchant_before, 100 - 2);  // 2% commission
  EXPECT_EQ(One(kBalanceEnd, PayBalanceCmd(1, 8, 2500, PaymentMethod::kBalance)).code, Code::deposit_forfeited);
  EXPECT_EQ(One(kBalanceEnd, PayBalanceCmd(1, 9, 2500, PaymentMethod::kBalance)).code, Code::deposit_not_found);
  EXPECT_EQ(engine_.NextDueUs() > kBalanceEnd, true);  // nothing left to do for the pre-sale
}

// The balance by instalments; then the order is cancelled before it ships: the deposit goes
// back to the card it came from, the balance to the plan.
TEST_F(PresaleTest, AnInstalmentBalanceAndARefundReturnEachPaymentItsWay) {
  ASSERT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 10, 0)).code, Code::ok);
  ASSERT_EQ(One(kDepositStart, Deposit(1, 7, 3, PaymentMethod::kCard)).code, Code::ok);
  const auto paid = One(kBalanceStart, PayBalanceCmd(1, 7, 7500, PaymentMethod::kInstalmentMerchantFee, 3));
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
  wire::PlanRecord plan{};
  ASSERT_EQ(engine_.ledger()->LookupPlan(paid.id, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 7500);  // the balance only: the deposit was paid already
  EXPECT_EQ(Card(), -300);
  ASSERT_EQ(One(kBalanceStart + 1, wire::MakeCancelOrder(paid.id)).code, Code::ok);
  EXPECT_EQ(Card(), 0);  // the deposit's 300 back to the card
  ASSERT_EQ(engine_.ledger()->LookupPlan(paid.id, &plan), Code::ok);
  EXPECT_EQ(plan.state, wire::PlanState::kCancelled);
  EXPECT_EQ(engine_.sales().total.refunds_fen, 7800);
  EXPECT_EQ(Sku().available, 100u);  // the 3 units back, as the 7 nobody deposited went back before
}

// A SKU with a per-buyer limit: a pre-sale's order holds nothing under it (the pre-sale's own
// limit applies), so giving its units back takes nothing from the buyer's holdings.
TEST_F(PresaleTest, AnOrderOfALimitedSkuIsCancelledAfterPayment) {
  ASSERT_EQ(One(kSecond, wire::MakeCreateSku(11, kMerchant, 3000, 100, 1)).code, Code::ok);
  wire::Command p = Presale(2, 2800, 100, 300, 10, 3);
  p.create_presale.sku_id = 11;
  ASSERT_EQ(One(2 * kSecond, p).code, Code::ok);
  ASSERT_EQ(One(kDepositStart, Deposit(2, 7, 3, PaymentMethod::kCard)).code, Code::ok);
  const auto paid = One(kBalanceStart, PayBalanceCmd(2, 7, 7500, PaymentMethod::kBalance));
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
  // The SKU's own limit of 1 still applies to the buyer's ordinary orders.
  EXPECT_EQ(One(kBalanceStart, wire::MakePlaceOrder(900, kMerchant, 7, 11, 2, {{11, 1}})).code, Code::ok);
  ASSERT_EQ(One(kBalanceStart + 1, wire::MakeCancelOrder(paid.id)).code, Code::ok);
  wire::OrderRecord order{};
  ASSERT_EQ(engine_.GetOrder(paid.id, &order), Code::ok);
  EXPECT_EQ(order.state, OrderState::kCancelled);
}

// Deposits are paid weeks before the balance, past the ledger's auto-confirm (10 days): they
// wait for the balance all the same.
TEST_F(PresaleTest, ADepositWaitsForItsBalancePastTheAutoConfirm) {
  constexpr uint64_t kDay = 86'400 * kSecond;
  wire::Command p = Presale(1, 2800, 100, 300, 10, 0);
  p.create_presale.deposit_ends_us = 5 * kDay;
  p.create_presale.balance_starts_us = 20 * kDay;
  p.create_presale.balance_ends_us = 21 * kDay;
  ASSERT_EQ(One(2 * kSecond, p).code, Code::ok);
  ASSERT_EQ(One(kDepositStart, Deposit(1, 7, 1, PaymentMethod::kBalance)).code, Code::ok);
  Run(15 * kDay, {});  // the ledger's auto-confirm of anything paid at kDepositStart has come
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(engine_.ledger()->LookupOrderMoney(wire::kDepositMoneyIdBase + 1, &money), Code::ok);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kPaid);
  const auto paid = One(20 * kDay, PayBalanceCmd(1, 7, 2500, PaymentMethod::kBalance));
  ASSERT_EQ(paid.code, Code::ok) << wire::CodeName(paid.code);
}

TEST_F(PresaleTest, SnapshotRestoresPresalesAndDeposits) {
  ASSERT_EQ(One(2 * kSecond, Presale(1, 2800, 100, 300, 10, 0)).code, Code::ok);
  ASSERT_EQ(One(kDepositStart, Deposit(1, 7, 3, PaymentMethod::kCard)).code, Code::ok);
  ASSERT_EQ(One(kDepositStart, Deposit(1, 8, 1, PaymentMethod::kBalance)).code, Code::ok);
  ASSERT_EQ(One(kBalanceStart, PayBalanceCmd(1, 7, 7500, PaymentMethod::kBalance)).code, Code::ok);
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> bytes;
  for (ByteSpan chunk : parts.chunks) bytes.insert(bytes.end(), chunk.begin(), chunk.end());
  Engine copy(PresaleConfig());
  ASSERT_TRUE(copy.Restore(bytes).ok());
  EXPECT_EQ(copy.Digest(), engine_.Digest());
  // Both forfeit buyer 8's deposit at the same moment and stay equal.
  std::vector<wire::Result> a(0), b(0);
  ASSERT_EQ(engine_.Apply(engine_.last_op() + 1, kBalanceEnd, {}, a), BatchError::kNone);
  ASSERT_EQ(copy.Apply(copy.last_op() + 1, kBalanceEnd, {}, b), BatchError::kNone);
  EXPECT_EQ(copy.Digest(), engine_.Digest());
  wire::DepositRecord d{};
  ASSERT_EQ(copy.GetDeposit(1, 8, &d), Code::ok);
  EXPECT_EQ(d.state, DepositState::kForfeited);
}

// ---- A randomised run against a reference model --------------------------------------------

struct ModelPresale {
  uint64_t id;
  int64_t price, deposit, value;
  uint32_t quota, limit;
  uint64_t deposit_start, deposit_end, balance_start, balance_end;
  uint32_t available, deposited = 0, converted = 0, returned = 0, forfeited = 0;
  bool deposits_closed = false, balance_closed = false;
};
struct ModelDeposit {
  uint32_t quantity;
  PaymentMethod method;
  DepositState state = DepositState::kPaid;
  uint64_t order_id = 0;
  bool cancelled = false;  // its order cancelled after payment (refunded)
};

// Two pre-sales of one SKU, eight buyers: deposits, balances, cancellations of the orders
// after payment and the passing of both windows, each result and every count and balance
// compared with a model after every batch, to the fen.
TEST_F(PresaleTest, RandomDepositsBalancesAndForfeitsMatchTheModel) {
  const uint64_t seed = std::random_device{}();
  std::printf("PresaleModel seed %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  std::vector<ModelPresale> presales = {
      {1, 2800, 100, 300, 30, 3, kDepositStart, kDepositEnd, kBalanceStart, kBalanceEnd, 30},
      {2, 2500, 200, 200, 20, 0, 150 * kSecond, 250 * kSecond, 260 * kSecond, 350 * kSecond, 20},
  };
  for (const auto& m : presales) {
    wire::Command c = Presale(m.id, m.price, m.deposit, m.value, m.quota, m.limit);
    c.create_presale.deposit_starts_us = m.deposit_start;
    c.create_presale.deposit_ends_us = m.deposit_end;
    c.create_presale.balance_starts_us = m.balance_start;
    c.create_presale.balance_ends_us = m.balance_end;
    ASSERT_EQ(One(2 * kSecond, c).code, Code::ok);
  }
  constexpr uint64_t kFirstBuyer = 7, kBuyers = 8;
  std::map<uint64_t, int64_t> wallet = {{7, 100'000}, {8, 100'000}};
  for (uint64_t b = 9; b < kFirstBuyer + kBuyers; b++) {
    ASSERT_EQ(One(2 * kSecond, testing::PartyCmd(wire::kDeposit, 100 + b, b, 100'000)).code, Code::ok);
    wallet[b] = 100'000;
  }
  std::map<std::pair<size_t, uint64_t>, ModelDeposit> deposits;
  int64_t card = 0, gross = 0, discounts = 0, refunds = 0;
  uint32_t sold = 0;
  int converted_seen = 0, forfeited_seen = 0, cancelled_seen = 0;
  // Buyer 14 pays a deposit and never its balance, so every run forfeits one.
  constexpr uint64_t kNeverPays = kFirstBuyer + kBuyers - 1;
  uint64_t now = kDepositStart;
  ASSERT_EQ(One(now, Deposit(1, kNeverPays, 1, PaymentMethod::kCard)).code, Code::ok);
  deposits[{0, kNeverPays}] = ModelDeposit{1, PaymentMethod::kCard};
  presales[0].available -= 1;
  presales[0].deposited += 1;
  card -= presales[0].deposit;
  while (now < 450 * kSecond) {
    now += pick(4 * kSecond);
    // The batch's start: windows that ended.
    for (auto& m : presales) {
      if (!m.deposits_closed && now >= m.deposit_end) {
        m.returned += m.available;
        m.available = 0;
        m.deposits_closed = true;
      }
      if (!m.balance_closed && now >= m.balance_end) {
        for (auto& [key, d] : deposits) {
          if (presales[key.first].id != m.id || d.state != DepositState::kPaid) continue;
          d.state = DepositState::kForfeited;
          m.deposited -= d.quantity;
          m.returned += d.quantity;
          m.forfeited += d.quantity;
          forfeited_seen++;
        }
        m.balance_closed = true;
      }
    }
    const size_t p = pick(presales.size());
    ModelPresale& m = presales[p];
    const uint64_t buyer = kFirstBuyer + pick(kBuyers);
    auto found = deposits.find({p, buyer});
    const int action = int(pick(10));
    if (action < 5) {  // a deposit
      const uint32_t quantity = uint32_t(1 + pick(4));
      const PaymentMethod method = pick(2) == 0 ? PaymentMethod::kBalance : PaymentMethod::kCard;
      Code want = Code::ok;
      bool replay = false;
      if (found != deposits.end()) {
        replay = found->second.quantity == quantity && found->second.method == method;
        want = replay ? Code::ok : Code::deposit_exists;
      } else if (now < m.deposit_start) {
        want = Code::deposit_window_not_open;
      } else if (now >= m.deposit_end) {
        want = Code::deposit_window_closed;
      } else if (m.limit != 0 && quantity > m.limit) {
        want = Code::buyer_limit;
      } else if (m.available < quantity) {
        want = Code::insufficient_stock;
      }
      const auto r = One(now, Deposit(m.id, buyer, quantity, method));
      ASSERT_EQ(r.code, want) << "deposit " << m.id << " by " << buyer;
      ASSERT_EQ(wire::IsReplay(r), replay);
      if (want == Code::ok && !replay) {
        deposits[{p, buyer}] = ModelDeposit{quantity, method};
        m.available -= quantity;
        m.deposited += quantity;
        (method == PaymentMethod::kCard ? card : wallet[buyer]) -= m.deposit * quantity;
      }
    } else if (action < 8) {  // a balance
      if (buyer == kNeverPays) continue;
      Code want = Code::ok;
      const int64_t balance = found == deposits.end() ? 1 : (m.price - m.value) * found->second.quantity;
      if (found == deposits.end()) {
        want = Code::deposit_not_found;
      } else if (found->second.state == DepositState::kForfeited) {
        want = Code::deposit_forfeited;
      } else if (found->second.state == DepositState::kPaid && now < m.balance_start) {
        want = Code::balance_window_not_open;
      } else if (found->second.state == DepositState::kPaid && now >= m.balance_end) {
        want = Code::balance_window_closed;
      }
      const auto r = One(now, PayBalanceCmd(m.id, buyer, balance, PaymentMethod::kBalance));
      ASSERT_EQ(r.code, want) << "balance " << m.id << " by " << buyer;
      if (want == Code::ok && found->second.state == DepositState::kConverted) {
        ASSERT_TRUE(wire::IsReplay(r));
        ASSERT_EQ(r.id, found->second.order_id);
      } else if (want == Code::ok) {
        ModelDeposit& d = found->second;
        d.state = DepositState::kConverted;
        d.order_id = r.id;
        m.deposited -= d.quantity;
        m.converted += d.quantity;
        sold += d.quantity;
        wallet[buyer] -= balance;
        gross += m.price * d.quantity;
        discounts += (m.value - m.deposit) * d.quantity;
        converted_seen++;
      }
    } else {  // a converted order cancelled after payment: each payment back its way
      std::vector<ModelDeposit*> open;
      for (auto& [key, d] : deposits) {
        if (d.state == DepositState::kConverted && !d.cancelled) open.push_back(&d);
      }
      if (open.empty()) continue;
      ModelDeposit& d = *open[pick(open.size())];
      const auto r = One(now, wire::MakeCancelOrder(d.order_id));
      ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
      d.cancelled = true;
      sold -= d.quantity;
      wire::OrderRecord order{};
      ASSERT_EQ(engine_.GetOrder(d.order_id, &order), Code::ok);
      size_t which = 0;
      for (auto& [key, e] : deposits) {
        if (&e == &d) which = key.first;
      }
      const ModelPresale& mp = presales[which];
      const int64_t deposit = mp.deposit * d.quantity;
      (d.method == PaymentMethod::kCard ? card : wallet[order.buyer_id]) += deposit;
      wallet[order.buyer_id] += order.total_fen - deposit;
      refunds += order.total_fen;
      cancelled_seen++;
    }
    // The engine, to the unit and the fen.
    uint32_t in_presales = 0, deposited = 0;
    for (const auto& mp : presales) {
      const auto got = Record(mp.id);
      ASSERT_EQ(got.available, mp.available) << mp.id;
      ASSERT_EQ(got.deposited, mp.deposited) << mp.id;
      ASSERT_EQ(got.converted, mp.converted) << mp.id;
      ASSERT_EQ(got.returned, mp.returned) << mp.id;
      ASSERT_EQ(got.forfeited, mp.forfeited) << mp.id;
      in_presales += mp.available;
      deposited += mp.deposited;
    }
    for (const auto& [key, d] : deposits) {
      const auto got = DepositOf(presales[key.first].id, key.second);
      ASSERT_EQ(got.state, d.state);
      ASSERT_EQ(got.quantity, d.quantity);
      ASSERT_EQ(got.order_id, d.order_id);
    }
    const auto sku = Sku();
    ASSERT_EQ(sku.in_drops, in_presales);
    ASSERT_EQ(sku.reserved, deposited);
    ASSERT_EQ(sku.sold, sold);
    ASSERT_EQ(sku.available + sku.in_drops + sku.reserved + sku.sold, 100u);
    for (const auto& [b, fen] : wallet) ASSERT_EQ(Wallet(b), fen) << "buyer " << b;
    ASSERT_EQ(Card(), card);
    const auto& t = engine_.sales().total;
    ASSERT_EQ(t.gross_fen, gross);
    ASSERT_EQ(t.discounts_fen, discounts);
    ASSERT_EQ(t.refunds_fen, refunds);
  }
  std::printf("converted %d, forfeited %d, cancelled after payment %d\n", converted_seen, forfeited_seen,
              cancelled_seen);
  EXPECT_GT(converted_seen, 0);  // the run reached every path it checks
  EXPECT_GT(forfeited_seen, 0);
  EXPECT_GT(cancelled_seen, 0);
}

}  // namespace
}  // namespace eleven::engine
