// Snapshots of the ledger (snapshot.cc): a randomised run is snapshotted at several points
// and restored into fresh ledgers; from then on the original and every restored copy get the
// same commands and Ticks (across timeouts, auto-confirm and instalment periods) and must
// give byte-identical results and equal digests. Then the refusals: another configuration,
// truncated, bad magic or version, trailing garbage, tables that contradict their maps.
//
// Prints its seed; ELEVEN_SEED=<n> replays the run.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_internal.h"
#include "engine/ledger/ledger_test_util.h"

namespace eleven::engine {
namespace {

using namespace eleven::engine::testing;
using wire::Code;
using wire::PaymentMethod;

// Mostly valid traffic, so the state grows every kind of record: accounts, single-phase and
// pending transfers (with and without timeouts) and their posts and voids, linked chains,
// deposits, credit lines, order payments of every method (some with a platform subsidy, some
// pre-sale deposits and payments carrying them), refunds, confirmations, after-sales
// refunds, repayments.
struct Traffic {
  std::mt19937_64 rng;
  uint64_t next_transfer_id = 1;
  uint64_t next_order_id = 1;
  std::vector<uint64_t> pending;  // pending transfer ids, to post or void

  uint64_t Below(uint64_t n) { return rng() % n; }
  bool Chance(int percent) { return Below(100) < uint64_t(percent); }
  uint64_t Account() { return 1 + Below(16); }
  uint64_t Order() { return next_order_id == 1 ? 1 : 1 + Below(next_order_id - 1); }
  int64_t Amount() { return 1 + int64_t(Below(Chance(20) ? 200'000 : 5'000)); }

  wire::Command Transfer() {
    TransferArgs a{.id = next_transfer_id++, .debit = Account(), .credit = Account(), .amount = Amount()};
    int kind = int(Below(10));
    if (kind < 3) {
      a.flags = wire::kTransferPending;
      a.timeout_us = Chance(60) ? (1 + Below(3)) * kMicrosPerDay : 0;
      pending.push_back(a.id);
    } else if (kind < 5 && !pending.empty()) {
      a.flags = kind == 3 ? wire::kPostPendingTransfer : wire::kVoidPendingTransfer;
      a.pending_id = pending[Below(pending.size())];
      a.debit = a.credit = 0;
      a.amount = Chance(50) ? 0 : a.amount / 4;
    } else if (kind == 5) {
      a.flags = Chance(50) ? wire::kBalancingDebit : wire::kBalancingCredit;
    }
    return TransferCmd(a);
  }

  wire::Command Payment() {
    auto method = PaymentMethod(1 + Below(4));
    uint8_t periods = wire::IsInstalment(method) ? wire::kInstalmentPlans[Below(4)] : 0;
    const int64_t amount = 100 + int64_t(Below(50'000));
    const int64_t subsidy = Chance(40) ? int64_t(Below(uint64_t(amount) - 25)) : 0;
    if (Chance(15)) {  // a pre-sale deposit of buyer b at merchant b % 4 + 1
      const uint64_t b = 1 + Below(8);
      deposits.push_back({kDepositBase + deposits.size() + 1, b, 1 + int64_t(Below(2'000))});
      const Deposit& d = deposits.back();
      return PayCmd(d.id, b, b % 4 + 1, d.amount,
                    Chance(50) ? PaymentMethod::kCard : PaymentMethod::kBalance);
    }
    if (Chance(25) && !deposits.empty()) {  // the balance of one, carrying it
      const Deposit& d = deposits[Below(deposits.size())];
      return PayCmd(next_order_id++, d.buyer, d.buyer % 4 + 1, d.amount + amount, method, periods,
                    0, d.id);
    }
    return PayCmd(next_order_id++, 1 + Below(8), 1 + Below(4), amount, method, periods, subsidy);
  }
  static constexpr uint64_t kDepositBase = uint64_t{1} << 55;
  struct Deposit {
    uint64_t id, buyer;
    int64_t amount;
  };
  std::vector<Deposit> deposits;

  wire::Command Next() {
    int k = int(Below(100));
    if (k < 8) return CreateAccountCmd(Account(), uint8_t(Chance(30) ? wire::kDebitsMustNotExceedCredits : 0));
    if (k < 35) return Transfer();
    if (k < 45) return PartyCmd(wire::kDeposit, next_transfer_id++, 1 + Below(8), Amount());
    if (k < 48) return PartyCmd(wire::kWithdraw, next_transfer_id++, 1 + Below(4), Amount());
    if (k < 52) return PartyCmd(wire::kDrawDown, next_transfer_id++, 1 + Below(4), Amount());
    if (k < 55) return PartyCmd(wire::kRepayMerchantCredit, next_transfer_id++, 1 + Below(4), Amount());
    if (k < 58) return SetBuyerLimitCmd(1 + Below(8), int64_t(Below(400'000)));
    if (k < 60) return SetLineCmd(1 + Below(4), int64_t(Below(200'000)), uint16_t(Below(3'000)));
    if (k < 78) return Payment();
    if (k < 82) return OrderCmd(wire::kRefundOrderMoney, Order());
    if (k < 88) return OrderCmd(wire::kConfirmDelivery, Order());
    if (k < 92) return AfterSalesCmd(next_transfer_id++, Order(), 1 + int64_t(Below(3'000)));
    return RepayCmd(next_transfer_id++, Order(), uint8_t(1 + Below(2)));
  }

  std::vector<wire::Command> Batch() {
    std::vector<wire::Command> batch(1 + Below(40));
    for (wire::Command& c : batch) {
      c = Next();
      bool can_link = c.operation == wire::kCreateAccount || c.operation == wire::kCreateTransfer;
      if (can_link && Chance(15)) c.bytes[1] |= 1;  // linked to the next
    }
    return batch;
  }
};

LedgerConfig SnapshotConfig() {
  LedgerConfig c = SmallConfig();
  c.transfer_count_max = 1 << 14;
  c.chain_length_max = 16;
  c.expire_per_tick_max = 3;  // small budgets: work carried over between Ticks is state too
  c.settle_per_tick_max = 4;
  c.auto_confirm_us = 5 * kMicrosPerDay;
  c.instalment_period_us = 3 * kMicrosPerDay;
  c.buyer_credit_limit_default_fen = 100'000;
  return c;
}

Digest128 DigestOf(const Ledger& ledger) {
  Digester d;
  ledger.Digest(d);
  return d.Finish();
}

std::vector<std::byte> Snapshot(const Ledger& ledger) {
  std::vector<std::byte> head;
  std::vector<ByteSpan> chunks;
  ledger.SnapshotChunks(&head, &chunks);
  EXPECT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].data(), head.data());  // the head comes first
  std::vector<std::byte> state;
  for (ByteSpan chunk : chunks) state.insert(state.end(), chunk.begin(), chunk.end());
  return state;
}

uint64_t SeedFromEnv() {
  const char* env = std::getenv("ELEVEN_SEED");
  uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("ledger snapshot test: seed %llu (replay: ELEVEN_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

// Successful results per operation of the original ledger: the run must reach every kind.
std::map<uint8_t, uint64_t> ok_by_operation;

// Applies one batch and a Tick to every ledger; all results must be the same bytes.
void Step(std::vector<std::unique_ptr<Ledger>>& ledgers, const std::vector<wire::Command>& batch,
          uint64_t now) {
  std::vector<wire::Result> first;
  for (size_t i = 0; i < ledgers.size(); i++) {
    ledgers[i]->Tick(now);
    std::vector<wire::Result> results = ApplyAll(*ledgers[i], batch, now);
    if (i == 0) {
      for (const wire::Result& r : results) ok_by_operation[uint8_t(r.operation)] += r.code == Code::ok;
      first = results;
      continue;
    }
    ASSERT_EQ(0, std::memcmp(first.data(), results.data(), sizeof(wire::Result) * results.size()))
        << "restored copy " << i << " answered differently";
  }
}

TEST(LedgerSnapshot, RestoredCopiesBehaveLikeTheOriginal) {
  const uint64_t seed = SeedFromEnv();
  const LedgerConfig config = SnapshotConfig();
  Traffic traffic{std::mt19937_64(seed)};
  std::vector<std::unique_ptr<Ledger>> ledgers;
  ledgers.push_back(std::make_unique<Ledger>(config));
  uint64_t now = 1'000'000;
  // Snapshot points: right at the start, then at random batches of a 120-batch run.
  const int snapshot_at[] = {0, 5 + int(traffic.Below(20)), 40 + int(traffic.Below(30)), 110};
  size_t next_snapshot = 0;
  uint32_t plans_seen = 0;
  for (int b = 0; b < 120; b++) {
    if (next_snapshot < std::size(snapshot_at) && b == snapshot_at[next_snapshot]) {
      next_snapshot++;
      const Digest128 before = DigestOf(*ledgers[0]);
      std::vector<std::byte> state = Snapshot(*ledgers[0]);
      ASSERT_EQ(state, Snapshot(*ledgers[0]));     // taking a snapshot changes nothing
      ASSERT_EQ(before, DigestOf(*ledgers[0]));
      auto restored = std::make_unique<Ledger>(config);
      Status s = restored->Restore(state);
      ASSERT_TRUE(s.ok()) << s.ToString() << " at batch " << b << ", seed " << seed;
      ASSERT_EQ(before, DigestOf(*restored)) << "batch " << b << ", seed " << seed;
      ASSERT_EQ(state, Snapshot(*restored));
      ledgers.push_back(std::move(restored));
    }
    // Mostly hours apart, sometimes days: timeouts expire, orders auto-confirm, plans fall due.
    now += traffic.Chance(20) ? traffic.Below(4 * kMicrosPerDay) : traffic.Below(6 * 3'600'000'000ULL);
    ASSERT_NO_FATAL_FAILURE(Step(ledgers, traffic.Batch(), now)) << "batch " << b << ", seed " << seed;
    plans_seen = ledgers[0]->plan_count();
  }
  // Quiet Ticks far ahead: the carried-over expiry and settlement work drains the same way.
  for (int t = 0; t < 30; t++) {
    now += kMicrosPerDay;
    ASSERT_NO_FATAL_FAILURE(Step(ledgers, {OrderCmd(wire::kConfirmDelivery, 1)}, now));
  }
  const Digest128 expected = DigestOf(*ledgers[0]);
  for (size_t i = 1; i < ledgers.size(); i++) EXPECT_EQ(expected, DigestOf(*ledgers[i])) << i;
  EXPECT_GT(ledgers[0]->order_count(), 20u);  // the run reached the payments layer
  EXPECT_GT(plans_seen, 0u);
  uint32_t subsidised = 0;
  for (uint32_t i = 0; i < ledgers[0]->order_count(); i++) {
    subsidised += ledgers[0]->OrderAt(i).subsidy_fen > 0;
  }
  EXPECT_GT(subsidised, 0u);
  uint32_t converted = 0;
  for (uint32_t i = 0; i < ledgers[0]->order_count(); i++) {
    converted += ledgers[0]->OrderAt(i).state == wire::OrderMoneyState::kConverted;
  }
  EXPECT_GT(converted, 0u);
  for (wire::Operation op :
       {wire::kCreateAccount, wire::kCreateTransfer, wire::kDeposit, wire::kDrawDown,
        wire::kPayOrderMoney, wire::kRefundOrderMoney, wire::kConfirmDelivery,
        wire::kRepayInstalment, wire::kAfterSalesRefund}) {
    EXPECT_GT(ok_by_operation[uint8_t(op)], 0u) << "operation " << int(op) << " never succeeded";
  }
}

// Subsidised orders in every state (paid; partly returned, then settled; refunded in full;
// refunded after sale, the buyer's share of one refund nothing) survive a snapshot: the copy
// has the same digest and order money, and refunds after the restore give the subsidy back
// exactly as the original does.
TEST(LedgerSnapshot, SubsidisedOrdersRoundTrip) {
  const LedgerConfig config = SnapshotConfig();
  std::vector<std::unique_ptr<Ledger>> ledgers;
  ledgers.push_back(std::make_unique<Ledger>(config));
  Ledger& original = *ledgers[0];
  uint64_t now = 1'000'000;
  const std::vector<wire::Command> setup = {
      PartyCmd(wire::kDeposit, 1, 1, 100'000),
      SetLineCmd(1, 100'000, 1'000),
      PayCmd(1, 1, 1, 30'001, PaymentMethod::kBalance, 0, 5'000),
      PayCmd(2, 2, 1, 10'000, PaymentMethod::kCard, 0, 2'500),
      PayCmd(3, 3, 1, 20'000, PaymentMethod::kInstalmentMerchantFee, 6, 3'000),
      PayCmd(4, 4, 1, 9'000, PaymentMethod::kInstalmentBuyerFee, 3, 8'000),
      PayCmd(5, 1, 1, 100, PaymentMethod::kBalance, 0, 60),
      PayCmd(6, 1, 1, 5'000, PaymentMethod::kCard),
      OrderCmd(wire::kRefundOrderMoney, 4),
      OrderCmd(wire::kConfirmDelivery, 5),
      AfterSalesCmd(10, 5, 1),
      AfterSalesCmd(11, 5, 1),  // all of it the subsidy's: floor(60 * 2 / 100) - 0 = 1
  };
  for (const wire::Result& r : ApplyAll(original, setup, now)) {
    ASSERT_EQ(r.code, Code::ok) << int(r.operation) << " " << wire::CodeName(r.code);
  }
  ASSERT_EQ(original.ReturnOrder(1, 1, now), Code::ok);
  wire::AccountRecord marketing{};
  ASSERT_EQ(original.LookupAccount(SystemAccountId(SystemAccount::kMarketing), &marketing),
            Code::ok);
  // Out: 5,000 + 2,500 + 3,000 + 60 - 1; order 4's 8,000 came back with its refund.
  ASSERT_EQ(marketing.debits_posted_fen - marketing.credits_posted_fen, 10'559);

  std::vector<std::byte> state = Snapshot(original);
  auto restored = std::make_unique<Ledger>(config);
  const Status status = restored->Restore(state);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(DigestOf(original), DigestOf(*restored));
  ASSERT_EQ(restored->order_count(), original.order_count());
  for (uint32_t i = 0; i < original.order_count(); i++) {
    const wire::OrderMoneyRecord a = original.OrderAt(i);
    const wire::OrderMoneyRecord b = restored->OrderAt(i);
    EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a)) << "order " << a.order_id;
  }
  ledgers.push_back(std::move(restored));

  // From here both get the same: the rest of order 1 after sale, a return of order 2, a
  // cancellation of order 3, a retry of the refund that was all subsidy, the rest of order 5.
  now += kMicrosPerDay;
  ASSERT_NO_FATAL_FAILURE(
      Step(ledgers,
           {AfterSalesCmd(12, 1, 30'000), AfterSalesCmd(11, 5, 1), AfterSalesCmd(13, 5, 98)}, now));
  for (const std::unique_ptr<Ledger>& ledger : ledgers) {
    ASSERT_EQ(ledger->ReturnOrder(2, 4'000, now), Code::ok);
    ASSERT_EQ(ledger->CancelPaidOrder(3, now), Code::ok);
  }
  EXPECT_EQ(DigestOf(*ledgers[0]), DigestOf(*ledgers[1]));
  for (const std::unique_ptr<Ledger>& ledger : ledgers) {
    wire::OrderMoneyRecord money{};
    for (uint64_t order : {1, 3, 4, 5}) {
      ASSERT_EQ(ledger->LookupOrderMoney(order, &money), Code::ok);
      EXPECT_EQ(money.refunded_fen, money.amount_fen) << order;
      EXPECT_EQ(money.subsidy_refunded_fen, money.subsidy_fen) << order;
    }
    ASSERT_EQ(ledger->LookupOrderMoney(2, &money), Code::ok);
    EXPECT_EQ(money.subsidy_refunded_fen, 1'000);  // floor(2500 * 4000 / 10000)
    ASSERT_EQ(ledger->LookupAccount(SystemAccountId(SystemAccount::kMarketing), &marketing),
              Code::ok);
    EXPECT_EQ(marketing.debits_posted_fen - marketing.credits_posted_fen, 1'500);
  }
}

// Orders carrying pre-sale deposits in every state (paid; partly returned, then settled;
// refunded in full; refunded after sale, one refund all the deposit's), their converted
// deposits, and a deposit not yet carried survive a snapshot: the copy has the same digest
// and order money, carries the waiting deposit and refunds the deposits' shares exactly as
// the original does.
TEST(LedgerSnapshot, ConvertedDepositsRoundTrip) {
  const LedgerConfig config = SnapshotConfig();
  std::vector<std::unique_ptr<Ledger>> ledgers;
  ledgers.push_back(std::make_unique<Ledger>(config));
  Ledger& original = *ledgers[0];
  uint64_t now = 1'000'000;
  const uint64_t d = uint64_t{1} << 55;  // deposit money ids d + 1 ..
  const std::vector<wire::Command> setup = {
      PartyCmd(wire::kDeposit, 1, 1, 100'000),
      SetLineCmd(1, 100'000, 1'000),
      PayCmd(d + 1, 1, 1, 300, PaymentMethod::kCard),
      PayCmd(d + 2, 2, 1, 2'500, PaymentMethod::kCard),
      PayCmd(d + 3, 3, 1, 3'000, PaymentMethod::kCard),
      PayCmd(d + 4, 1, 1, 60, PaymentMethod::kBalance),
      PayCmd(d + 5, 1, 1, 500, PaymentMethod::kBalance),  // waits, carried after the restore
      PayCmd(1, 1, 1, 7'500, PaymentMethod::kBalance, 0, 0, d + 1),
      PayCmd(2, 2, 1, 10'000, PaymentMethod::kCard, 0, 0, d + 2),
      PayCmd(3, 3, 1, 20'000, PaymentMethod::kInstalmentMerchantFee, 6, 0, d + 3),
      PayCmd(4, 1, 1, 100, PaymentMethod::kCard, 0, 0, d + 4),
      OrderCmd(wire::kConfirmDelivery, 4),
      AfterSalesCmd(10, 4, 1),
      AfterSalesCmd(11, 4, 1),  // all of it the deposit's: floor(60 * 2 / 100) - 0 = 1
  };
  for (const wire::Result& r : ApplyAll(original, setup, now)) {
    ASSERT_EQ(r.code, Code::ok) << int(r.operation) << " " << wire::CodeName(r.code);
  }
  ASSERT_EQ(original.ReturnOrder(1, 1, now), Code::ok);

  std::vector<std::byte> state = Snapshot(original);
  auto restored = std::make_unique<Ledger>(config);
  const Status status = restored->Restore(state);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(DigestOf(original), DigestOf(*restored));
  ASSERT_EQ(restored->order_count(), original.order_count());
  for (uint32_t i = 0; i < original.order_count(); i++) {
    const wire::OrderMoneyRecord a = original.OrderAt(i);
    const wire::OrderMoneyRecord b = restored->OrderAt(i);
    EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a)) << "order " << a.order_id;
  }
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(restored->LookupOrderMoney(d + 3, &money), Code::ok);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kConverted);
  EXPECT_EQ(money.deposit_id, 3u);
  ledgers.push_back(std::move(restored));

  // From here both get the same: the rest of order 1 after sale, a return of order 2, a
  // cancellation of order 3, a retry of the refund that was all deposit, the rest of order 4,
  // the waiting deposit carried and refunded.
  now += kMicrosPerDay;
  ASSERT_NO_FATAL_FAILURE(
      Step(ledgers,
           {AfterSalesCmd(12, 1, 7'499), AfterSalesCmd(11, 4, 1), AfterSalesCmd(13, 4, 98),
            PayCmd(5, 1, 1, 1'000, PaymentMethod::kCard, 0, 0, d + 5),
            OrderCmd(wire::kRefundOrderMoney, 5)},
           now));
  for (const std::unique_ptr<Ledger>& ledger : ledgers) {
    ASSERT_EQ(ledger->ReturnOrder(2, 4'000, now), Code::ok);
    ASSERT_EQ(ledger->CancelPaidOrder(3, now), Code::ok);
  }
  EXPECT_EQ(DigestOf(*ledgers[0]), DigestOf(*ledgers[1]));
  for (const std::unique_ptr<Ledger>& ledger : ledgers) {
    for (uint64_t order : {1, 3, 4, 5}) {
      ASSERT_EQ(ledger->LookupOrderMoney(order, &money), Code::ok);
      EXPECT_EQ(money.refunded_fen, money.amount_fen) << order;
      EXPECT_EQ(money.deposit_refunded_fen, money.deposit_fen) << order;
    }
    ASSERT_EQ(ledger->LookupOrderMoney(2, &money), Code::ok);
    EXPECT_EQ(money.deposit_refunded_fen, 1'000);  // floor(2500 * 4000 / 10000)
    ASSERT_EQ(ledger->LookupOrderMoney(d + 5, &money), Code::ok);
    EXPECT_EQ(money.state, wire::OrderMoneyState::kConverted);
    EXPECT_EQ(money.deposit_id, 5u);
    // Buyer 1's wallet has back the balance deposits (60 and 500) and order 1's balance.
    wire::BuyerCreditRecord buyer{};
    ASSERT_EQ(ledger->LookupBuyerCredit(1, &buyer), Code::ok);
    EXPECT_EQ(buyer.wallet_fen, 100'000);
  }
}

class LedgerSnapshotRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    Traffic traffic{std::mt19937_64(42)};
    Ledger ledger(SnapshotConfig());
    uint64_t now = 1'000'000;
    for (int b = 0; b < 30; b++) {
      now += traffic.Below(kMicrosPerDay);
      ledger.Tick(now);
      ApplyAll(ledger, traffic.Batch(), now);
    }
    ASSERT_GT(ledger.transfer_count(), 0u);
    // A deposit carried into an order's payment and refunded in part, for the refusals of
    // broken deposit state.
    const uint64_t deposit = (uint64_t{1} << 55) + 1000;
    ASSERT_EQ(ledger.PayOrder(deposit, 1, 1, 300, PaymentMethod::kCard, 0, now), Code::ok);
    ASSERT_EQ(ledger.PayOrder(1'000, 1, 1, 7'500, PaymentMethod::kCard, 0, now, 0, 0, deposit),
              Code::ok);
    ASSERT_EQ(ledger.ReturnOrder(1'000, 2'812, now), Code::ok);
    account_count_ = ledger.account_count();
    state_ = Snapshot(ledger);
  }
  Status RestoreInto(const LedgerConfig& config, const std::vector<std::byte>& state) {
    Ledger fresh(config);
    return fresh.Restore(state);  // discarded whatever the outcome
  }
  std::vector<std::byte> state_;
  uint32_t account_count_ = 0;
};

TEST_F(LedgerSnapshotRefusal, DifferentConfigurationIsInvalidArgument) {
  LedgerConfig config = SnapshotConfig();
  config.transfer_count_max++;
  Status s = RestoreInto(config, state_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("transfer_count_max"), std::string::npos) << s.message();
  config = SnapshotConfig();
  config.buyer_fee_bp[2]++;
  s = RestoreInto(config, state_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("buyer_fee_bp"), std::string::npos) << s.message();
  config = SnapshotConfig();
  config.auto_confirm_us++;
  EXPECT_EQ(RestoreInto(config, state_).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(RestoreInto(SnapshotConfig(), state_).ok());
}

TEST_F(LedgerSnapshotRefusal, DamagedBytesAreCorruption) {
  std::vector<std::byte> truncated(state_.begin(), state_.end() - 1);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), truncated).code(), StatusCode::kCorruption);
  std::vector<std::byte> short_head(state_.begin(), state_.begin() + 10);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), short_head).code(), StatusCode::kCorruption);
  std::vector<std::byte> longer = state_;
  longer.push_back(std::byte{0});
  EXPECT_EQ(RestoreInto(SnapshotConfig(), longer).code(), StatusCode::kCorruption);
  std::vector<std::byte> bad_magic = state_;
  bad_magic[0] ^= std::byte{1};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), bad_magic).code(), StatusCode::kCorruption);
  std::vector<std::byte> bad_version = state_;
  bad_version[4] ^= std::byte{2};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), bad_version).code(), StatusCode::kCorruption);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), {}).code(), StatusCode::kCorruption);
  // Snapshots of versions 1 (before order refunds and after_sales_window_us), 2 (before
  // the marketing account and order subsidies) and 3 (before pre-sale deposits) are refused.
  for (const uint32_t old_version : {1u, 2u, 3u}) {
    std::vector<std::byte> old = state_;
    std::memcpy(&old[4], &old_version, sizeof old_version);
    const Status s = RestoreInto(SnapshotConfig(), old);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << old_version;
    EXPECT_NE(s.message().find("unknown version " + std::to_string(old_version)), std::string::npos)
        << s.message();
  }
}

TEST_F(LedgerSnapshotRefusal, AnotherAfterSalesWindowIsRefused) {
  LedgerConfig other = SnapshotConfig();
  other.after_sales_window_us += 1;
  const Status status = RestoreInto(other, state_);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("after_sales_window_us"), std::string::npos) << status.message();
}

// A head whose counts disagree with the tables, and tables that disagree with their maps.
TEST_F(LedgerSnapshotRefusal, InconsistentTablesAreCorruption) {
  constexpr size_t kHeadSize = 144;  // sizeof(LedgerStateHead)
  constexpr size_t kAccountCountAt = 104;  // LedgerStateHead::account_count
  uint32_t account_count = 0;
  std::memcpy(&account_count, &state_[kAccountCountAt], sizeof account_count);
  ASSERT_EQ(account_count, account_count_);  // the offset above is right
  ASSERT_GT(account_count, kSystemAccountCount);
  std::vector<std::byte> fewer = state_;
  uint32_t one_less = account_count - 1;
  std::memcpy(&fewer[kAccountCountAt], &one_less, sizeof one_less);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), fewer).code(), StatusCode::kCorruption);
  // The last user account's id changed: the account map no longer finds it.
  std::vector<std::byte> renamed = state_;
  size_t id_at = kHeadSize + sizeof(Ledger::Account) * (account_count - 1);
  renamed[id_at] ^= std::byte{0x40};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), renamed).code(), StatusCode::kCorruption);
  // Money out of nowhere: one account's posted credits grow.
  std::vector<std::byte> richer = state_;
  size_t credits_at = kHeadSize + sizeof(Ledger::Account) * (account_count - 1) + 40;
  richer[credits_at] ^= std::byte{0x01};
  EXPECT_EQ(RestoreInto(SnapshotConfig(), richer).code(), StatusCode::kCorruption);
}

// Subsidy state that breaks its rules: an order's returned subsidy off by a fen, the
// marketing account out more than the orders say (the total still balancing), more transfers
// reserved than the paid orders hold.
TEST_F(LedgerSnapshotRefusal, SubsidyStateThatDisagreesIsCorruption) {
  constexpr size_t kHeadSize = 144;  // sizeof(LedgerStateHead)
  constexpr size_t kCountsAt = 104;  // account, transfer, reserved, buyer, merchant, order counts
  uint32_t counts[6] = {};
  std::memcpy(counts, &state_[kCountsAt], sizeof counts);
  ASSERT_EQ(counts[0], account_count_);
  ASSERT_GT(counts[5], 0u);  // orders
  const size_t orders_at = kHeadSize + sizeof(Ledger::Account) * counts[0] +
                           sizeof(Ledger::Transfer) * counts[1] +
                           sizeof(Ledger::Buyer) * counts[3] + sizeof(Ledger::Merchant) * counts[4];
  Ledger::Order order{};
  uint32_t subsidised = 0;
  for (; subsidised < counts[5]; subsidised++) {
    std::memcpy(&order, &state_[orders_at + sizeof order * subsidised], sizeof order);
    if (order.subsidy > 0) break;
  }
  ASSERT_LT(subsidised, counts[5]) << "the traffic paid no order with a subsidy";
  ASSERT_TRUE(RestoreInto(SnapshotConfig(), state_).ok());

  std::vector<std::byte> returned = state_;
  order.subsidy_refunded += order.subsidy_refunded < order.subsidy ? 1 : -1;
  std::memcpy(&returned[orders_at + sizeof order * subsidised], &order, sizeof order);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), returned).code(), StatusCode::kCorruption);

  // A fen of the bank's debits moved to marketing's: debits still equal credits.
  std::vector<std::byte> spent = state_;
  const size_t debits_posted = offsetof(Ledger::Account, debits_posted);
  const size_t bank_at = kHeadSize + sizeof(Ledger::Account) * (uint32_t(SystemAccount::kBank) - 1);
  const size_t marketing_at =
      kHeadSize + sizeof(Ledger::Account) * (uint32_t(SystemAccount::kMarketing) - 1);
  int64_t bank = 0;
  int64_t spent_fen = 0;
  std::memcpy(&bank, &spent[bank_at + debits_posted], sizeof bank);
  std::memcpy(&spent_fen, &spent[marketing_at + debits_posted], sizeof spent_fen);
  ASSERT_GT(bank, 0);
  bank -= 1;
  spent_fen += 1;
  std::memcpy(&spent[bank_at + debits_posted], &bank, sizeof bank);
  std::memcpy(&spent[marketing_at + debits_posted], &spent_fen, sizeof spent_fen);
  const Status status = RestoreInto(SnapshotConfig(), spent);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("marketing"), std::string::npos) << status.message();

  std::vector<std::byte> reserved = state_;
  const uint32_t more = counts[2] + 1;
  std::memcpy(&reserved[kCountsAt + 8], &more, sizeof more);
  EXPECT_EQ(RestoreInto(SnapshotConfig(), reserved).code(), StatusCode::kCorruption);
}

// Deposit state that breaks its rules: a carrying order's refunded deposit off by a fen, a
// converted deposit naming another order or back to paid (its escrow counted twice), a
// carrying order naming a deposit that does not name it back.
TEST_F(LedgerSnapshotRefusal, DepositStateThatDisagreesIsCorruption) {
  constexpr size_t kHeadSize = 144;  // sizeof(LedgerStateHead)
  constexpr size_t kCountsAt = 104;  // account, transfer, reserved, buyer, merchant, order counts
  uint32_t counts[6] = {};
  std::memcpy(counts, &state_[kCountsAt], sizeof counts);
  ASSERT_EQ(counts[0], account_count_);
  const size_t orders_at = kHeadSize + sizeof(Ledger::Account) * counts[0] +
                           sizeof(Ledger::Transfer) * counts[1] +
                           sizeof(Ledger::Buyer) * counts[3] + sizeof(Ledger::Merchant) * counts[4];
  ASSERT_GE(counts[5], 2u);
  // The setup's last two orders: the deposit, converted, then the order carrying it.
  const size_t deposit_at = orders_at + sizeof(Ledger::Order) * (counts[5] - 2);
  const size_t carrier_at = orders_at + sizeof(Ledger::Order) * (counts[5] - 1);
  Ledger::Order deposit{};
  Ledger::Order carrier{};
  std::memcpy(&deposit, &state_[deposit_at], sizeof deposit);
  std::memcpy(&carrier, &state_[carrier_at], sizeof carrier);
  ASSERT_EQ(deposit.state, wire::OrderMoneyState::kConverted);
  ASSERT_EQ(deposit.deposit_id, carrier.order_id);
  ASSERT_EQ(carrier.deposit, 300);
  ASSERT_EQ(carrier.deposit_refunded, 112);  // floor(300 * 2812 / 7500)
  ASSERT_TRUE(RestoreInto(SnapshotConfig(), state_).ok());

  auto with = [&](size_t at, const Ledger::Order& order) {
    std::vector<std::byte> state = state_;
    std::memcpy(&state[at], &order, sizeof order);
    return RestoreInto(SnapshotConfig(), state);
  };
  Ledger::Order broken = carrier;
  broken.deposit_refunded += 1;
  EXPECT_EQ(with(carrier_at, broken).code(), StatusCode::kCorruption);
  broken = carrier;
  broken.deposit_id = 1;  // an order that is no converted deposit
  EXPECT_EQ(with(carrier_at, broken).code(), StatusCode::kCorruption);
  broken = deposit;
  broken.deposit_id = 1;
  EXPECT_EQ(with(deposit_at, broken).code(), StatusCode::kCorruption);
  broken = deposit;
  broken.state = wire::OrderMoneyState::kSettled;  // nothing else says it was settled
  Status status = with(deposit_at, broken);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("deposit"), std::string::npos) << status.message();
  broken.state = wire::OrderMoneyState::kPaid;
  broken.deposit_id = 0;
  EXPECT_EQ(with(deposit_at, broken).code(), StatusCode::kCorruption);
  broken = deposit;
  broken.state = wire::OrderMoneyState{5};
  EXPECT_EQ(with(deposit_at, broken).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace eleven::engine
