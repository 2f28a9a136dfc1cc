// Unit tests of the ledger, one group per feature. The randomised comparison against a
// reference model is ledger_model_test.cc.
#include "engine/ledger/ledger.h"

#include <gtest/gtest.h>

#include "engine/ledger/ledger_test_util.h"

namespace eleven::engine {
namespace {

using namespace eleven::engine::testing;
using wire::Code;
using wire::PaymentMethod;

constexpr uint8_t kDmnec = wire::kDebitsMustNotExceedCredits;
constexpr uint8_t kCmned = wire::kCreditsMustNotExceedDebits;

class LedgerTest : public ::testing::Test {
 protected:
  LedgerTest() : ledger_(SmallConfig()) {}

  Code One(const wire::Command& c) { return ApplyAll(ledger_, {c}, now_)[0].code; }
  // A retry: answered ok and marked as a replay.
  bool Replayed(const wire::Command& c) {
    const wire::Result r = ApplyAll(ledger_, {c}, now_)[0];
    return r.code == Code::ok && wire::IsReplay(r);
  }
  std::vector<Code> Codes(const std::vector<wire::Command>& batch) {
    std::vector<Code> codes;
    for (const wire::Result& r : ApplyAll(ledger_, batch, now_)) codes.push_back(r.code);
    return codes;
  }
  wire::AccountRecord Acct(uint64_t id) {
    wire::AccountRecord r{};
    EXPECT_EQ(ledger_.LookupAccount(id, &r), Code::ok) << id;
    return r;
  }
  int64_t Balance(uint64_t id) {  // credit-normal balance
    wire::AccountRecord r = Acct(id);
    return r.credits_posted_fen - r.debits_posted_fen;
  }
  Code Transfer(uint64_t id, uint64_t dr, uint64_t cr, int64_t amount, uint8_t flags = 0) {
    return One(TransferCmd({.id = id, .debit = dr, .credit = cr, .amount = amount, .flags = flags}));
  }

  Ledger ledger_;
  uint64_t now_ = 1'000'000;
};

const uint64_t kEscrow = SystemAccountId(SystemAccount::kEscrow);
const uint64_t kCommission = SystemAccountId(SystemAccount::kCommission);
const uint64_t kFeeIncome = SystemAccountId(SystemAccount::kFeeIncome);
const uint64_t kBank = SystemAccountId(SystemAccount::kBank);

// ---- accounts ----

TEST_F(LedgerTest, CreateAccountAndIdempotency) {
  EXPECT_EQ(One(CreateAccountCmd(1, kDmnec, 7, 3, 42)), Code::ok);
  EXPECT_TRUE(Replayed(CreateAccountCmd(1, kDmnec, 7, 3, 42)));
  EXPECT_EQ(One(CreateAccountCmd(1, 0, 7, 3, 42)), Code::account_exists_with_different_flags);
  EXPECT_EQ(One(CreateAccountCmd(1, kDmnec, 8, 3, 42)), Code::account_exists_with_different_ledger);
  EXPECT_EQ(One(CreateAccountCmd(1, kDmnec, 7, 4, 42)), Code::account_exists_with_different_code);
  EXPECT_EQ(One(CreateAccountCmd(1, kDmnec, 7, 3, 43)), Code::account_exists_with_different_user_data);
  wire::AccountRecord r = Acct(1);
  EXPECT_EQ(r.ledger, 7u);
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.user_data, 42u);
}

TEST_F(LedgerTest, CreateAccountRefusals) {
  EXPECT_EQ(One(CreateAccountCmd(0)), Code::invalid_id);
  EXPECT_EQ(One(CreateAccountCmd(wire::kUserIdLimit)), Code::id_reserved);
  EXPECT_EQ(One(CreateAccountCmd(1, 8)), Code::invalid_account_flags);
  EXPECT_EQ(One(CreateAccountCmd(1, kDmnec | kCmned)), Code::account_flags_are_mutually_exclusive);
  EXPECT_EQ(One(CreateAccountCmd(1, 0, 0)), Code::ledger_must_not_be_zero);
  EXPECT_EQ(One(CreateAccountCmd(1, 0, 1, 0)), Code::code_must_not_be_zero);
  wire::Command bad = CreateAccountCmd(1);
  bad.bytes[100] = 1;
  EXPECT_EQ(One(bad), Code::reserved_nonzero);
  wire::AccountRecord r{};
  EXPECT_EQ(ledger_.LookupAccount(1, &r), Code::account_not_found);
}

TEST(LedgerCapacity, AccountsFull) {
  LedgerConfig config = SmallConfig();
  config.account_count_max = kSystemAccountCount + 2;
  Ledger ledger(config);
  auto r = ApplyAll(ledger, {CreateAccountCmd(1), CreateAccountCmd(2), CreateAccountCmd(3)}, 1);
  EXPECT_EQ(r[0].code, Code::ok);
  EXPECT_EQ(r[1].code, Code::ok);
  EXPECT_EQ(r[2].code, Code::accounts_full);
  // Buyers need two accounts each: none left.
  r = ApplyAll(ledger, {PartyCmd(wire::kDeposit, 9, 1, 100)}, 1);
  EXPECT_EQ(r[0].code, Code::accounts_full);
}

// ---- single-phase transfers ----

TEST_F(LedgerTest, TransferMovesMoneyAndChecksFlags) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2, kDmnec), CreateAccountCmd(3, kCmned)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
  EXPECT_EQ(Transfer(10, 1, 2, 500), Code::ok);
  EXPECT_EQ(Transfer(11, 2, 1, 501), Code::exceeds_credits);
  EXPECT_EQ(Transfer(11, 2, 1, 500), Code::ok);
  EXPECT_EQ(Transfer(12, 1, 3, 1), Code::exceeds_debits);
  EXPECT_EQ(Transfer(12, 3, 1, 70), Code::ok);
  EXPECT_EQ(Transfer(13, 1, 3, 70), Code::ok);
  EXPECT_EQ(Acct(1).debits_posted_fen, 570);
  EXPECT_EQ(Acct(1).credits_posted_fen, 570);
  EXPECT_EQ(Balance(2), 0);
}

TEST_F(LedgerTest, TransferRefusals) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2), CreateAccountCmd(3, 0, 2)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
  EXPECT_EQ(Transfer(0, 1, 2, 5), Code::invalid_id);
  EXPECT_EQ(Transfer(wire::kUserIdLimit + 1, 1, 2, 5), Code::id_reserved);
  EXPECT_EQ(Transfer(1, 1, 2, 5, 64), Code::invalid_transfer_flags);
  EXPECT_EQ(Transfer(1, 1, 2, 5, wire::kTransferPending | wire::kPostPendingTransfer),
            Code::transfer_flags_are_mutually_exclusive);
  EXPECT_EQ(Transfer(1, 0, 2, 5), Code::debit_account_id_must_not_be_zero);
  EXPECT_EQ(Transfer(1, 1, 0, 5), Code::credit_account_id_must_not_be_zero);
  EXPECT_EQ(Transfer(1, 1, 1, 5), Code::accounts_must_be_different);
  EXPECT_EQ(Transfer(1, 1, 2, 0), Code::invalid_amount);
  EXPECT_EQ(Transfer(1, 1, 2, -5), Code::invalid_amount);
  EXPECT_EQ(Transfer(1, 9, 2, 5), Code::debit_account_not_found);
  EXPECT_EQ(Transfer(1, 1, 9, 5), Code::credit_account_not_found);
  EXPECT_EQ(Transfer(1, 1, 3, 5), Code::accounts_must_have_the_same_ledger);
  EXPECT_EQ(Transfer(1, 1, kEscrow, 5), Code::account_reserved_for_payments);
  EXPECT_EQ(One(TransferCmd({.id = 1, .debit = 1, .credit = 2, .amount = 5, .ledger = 2})),
            Code::transfer_must_have_the_same_ledger_as_accounts);
  EXPECT_EQ(One(TransferCmd({.id = 1, .debit = 1, .credit = 2, .amount = 5, .pending_id = 3})),
            Code::pending_id_must_be_zero);
  EXPECT_EQ(One(TransferCmd({.id = 1, .debit = 1, .credit = 2, .amount = 5, .timeout_us = 3})),
            Code::timeout_reserved_for_pending_transfer);
  EXPECT_EQ(One(TransferCmd({.id = 1, .debit = 1, .credit = 2, .amount = 5, .ledger = 0})),
            Code::ledger_must_not_be_zero);
  EXPECT_EQ(One(TransferCmd({.id = 1, .debit = 1, .credit = 2, .amount = 5, .code = 0})),
            Code::code_must_not_be_zero);
  EXPECT_EQ(ledger_.transfer_count(), 0u);
}

TEST_F(LedgerTest, TransferIdempotency) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2), CreateAccountCmd(3)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
  TransferArgs a{.id = 5, .debit = 1, .credit = 2, .amount = 9, .user_data = 4};
  EXPECT_EQ(One(TransferCmd(a)), Code::ok);
  EXPECT_TRUE(Replayed(TransferCmd(a)));
  auto with = [&](auto change) {
    TransferArgs b = a;
    change(b);
    return One(TransferCmd(b));
  };
  EXPECT_EQ(with([](TransferArgs& b) { b.flags = wire::kTransferPending; }),
            Code::transfer_exists_with_different_flags);
  EXPECT_EQ(with([](TransferArgs& b) { b.debit = 3; }), Code::transfer_exists_with_different_debit_account_id);
  EXPECT_EQ(with([](TransferArgs& b) { b.credit = 3; }), Code::transfer_exists_with_different_credit_account_id);
  EXPECT_EQ(with([](TransferArgs& b) { b.amount = 8; }), Code::transfer_exists_with_different_amount);
  EXPECT_EQ(with([](TransferArgs& b) { b.code = 2; }), Code::transfer_exists_with_different_code);
  EXPECT_EQ(with([](TransferArgs& b) { b.user_data = 2; }), Code::transfer_exists_with_different_user_data);
  EXPECT_EQ(Acct(1).debits_posted_fen, 9);
}

TEST_F(LedgerTest, BalancingDebitMovesAtMostTheBalance) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2, kDmnec)}),
            (std::vector<Code>{Code::ok, Code::ok}));
  EXPECT_EQ(Transfer(1, 1, 2, 300), Code::ok);
  auto r = ApplyAll(ledger_, {TransferCmd({.id = 2, .debit = 2, .credit = 1, .amount = 1000,
                                           .flags = wire::kBalancingDebit})}, now_);
  EXPECT_EQ(r[0].code, Code::ok);
  EXPECT_EQ(r[0].amount_fen, 300);
  EXPECT_EQ(Balance(2), 0);
}

// Every command the ledger takes, sent again later: answered as the first was (same id,
// amount and log time; the object's state now), marked as a replay, and nothing moves.
TEST_F(LedgerTest, RetriesReplayTheFirstResult) {
  const uint64_t first = now_;
  const std::vector<wire::Command> commands = {
      CreateAccountCmd(1),
      CreateAccountCmd(2, kDmnec),
      TransferCmd({.id = 10, .debit = 1, .credit = 2, .amount = 500}),
      TransferCmd(
          {.id = 11, .debit = 2, .credit = 1, .amount = 200, .flags = wire::kTransferPending}),
      TransferCmd({.id = 12,
                   .amount = 150,
                   .flags = wire::kPostPendingTransfer,
                   .pending_id = 11,
                   .ledger = 0,
                   .code = 0}),
      PartyCmd(wire::kDeposit, 20, 7, 100'000),
      SetLineCmd(9, 50'000, 0),
      PartyCmd(wire::kDrawDown, 21, 9, 30'000),
      PartyCmd(wire::kRepayMerchantCredit, 22, 9, 1'000),
      PartyCmd(wire::kWithdraw, 23, 9, 2'000),
      PayCmd(50, 7, 9, 10'000, PaymentMethod::kBalance),
      PayCmd(51, 7, 9, 3'000, PaymentMethod::kCard),
      OrderCmd(wire::kConfirmDelivery, 50),
      OrderCmd(wire::kRefundOrderMoney, 51),
  };
  const std::vector<wire::Result> firsts = ApplyAll(ledger_, commands, first);
  for (const wire::Result& r : firsts) ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
  const uint32_t transfers_before = ledger_.transfer_count();
  const int64_t wallet_before = Balance(AccountIdOf(IdSpace::kBuyerWallet, 7));
  now_ += 3'600'000'000;  // an hour on
  const std::vector<wire::Result> again = ApplyAll(ledger_, commands, now_);
  for (size_t i = 0; i < commands.size(); i++) {
    const wire::Result& r = again[i];
    if (commands[i].operation == wire::kSetMerchantCreditLine) {
      // Setting a value twice leaves it set once: applied again, not a replay.
      EXPECT_EQ(r.code, Code::ok);
      EXPECT_FALSE(wire::IsReplay(r));
      continue;
    }
    EXPECT_EQ(r.code, Code::ok) << i << " " << wire::CodeName(r.code);
    EXPECT_TRUE(wire::IsReplay(r)) << i;
    EXPECT_FALSE(wire::IsReplay(firsts[i])) << i;
    EXPECT_EQ(r.id, firsts[i].id) << i;
    EXPECT_EQ(r.amount_fen, firsts[i].amount_fen) << i;
    EXPECT_EQ(r.at_us, first) << i;
  }
  // The pending transfer was posted since: its replay says so.
  EXPECT_EQ(again[3].state, static_cast<wire::OrderState>(wire::TransferState::kPendingPosted));
  EXPECT_EQ(again[12].state, static_cast<wire::OrderState>(wire::OrderMoneyState::kSettled));
  // Nothing moved: no transfer was made, no balance changed.
  EXPECT_EQ(ledger_.transfer_count(), transfers_before);
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kBuyerWallet, 7)), wallet_before);
  // A changed request under a used id is refused as before, never replayed.
  EXPECT_EQ(One(TransferCmd({.id = 10, .debit = 1, .credit = 2, .amount = 501})),
            Code::transfer_exists_with_different_amount);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kCard)),
            Code::order_payment_exists_with_different_fields);
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::order_already_settled);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 51)), Code::order_already_refunded);
  // A chain sent again replays member by member.
  const std::vector<wire::Command> chain = {CreateAccountCmd(3, wire::kAccountLinked),
                                            CreateAccountCmd(4)};
  ASSERT_EQ(Codes(chain), (std::vector<Code>{Code::ok, Code::ok}));
  for (const wire::Result& r : ApplyAll(ledger_, chain, now_)) {
    EXPECT_EQ(r.code, Code::ok);
    EXPECT_TRUE(wire::IsReplay(r));
  }
}

// ---- two-phase ----

TEST_F(LedgerTest, PendingThenPostInPart) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2, kDmnec)}),
            (std::vector<Code>{Code::ok, Code::ok}));
  EXPECT_EQ(Transfer(1, 1, 2, 100), Code::ok);
  EXPECT_EQ(Transfer(2, 2, 1, 80, wire::kTransferPending), Code::ok);
  EXPECT_EQ(Transfer(3, 2, 1, 30), Code::exceeds_credits);  // 80 is held
  EXPECT_EQ(Acct(2).debits_pending_fen, 80);
  auto post = [&](uint64_t id, int64_t amount) {
    return One(TransferCmd({.id = id, .amount = amount, .flags = wire::kPostPendingTransfer,
                            .pending_id = 2, .ledger = 0, .code = 0}));
  };
  EXPECT_EQ(post(4, 81), Code::exceeds_pending_transfer_amount);
  EXPECT_EQ(post(4, 50), Code::ok);
  EXPECT_TRUE(Replayed(TransferCmd({.id = 4,
                                    .amount = 50,
                                    .flags = wire::kPostPendingTransfer,
                                    .pending_id = 2,
                                    .ledger = 0,
                                    .code = 0})));
  EXPECT_EQ(post(5, 10), Code::pending_transfer_already_posted);
  wire::AccountRecord a = Acct(2);
  EXPECT_EQ(a.debits_pending_fen, 0);
  EXPECT_EQ(a.debits_posted_fen, 50);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger_.LookupTransfer(2, &t), Code::ok);
  EXPECT_EQ(t.state, wire::TransferState::kPendingPosted);
  EXPECT_EQ(t.posted_fen, 50);
}

TEST_F(LedgerTest, PendingThenVoid) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2)}), (std::vector<Code>{Code::ok, Code::ok}));
  EXPECT_EQ(Transfer(2, 2, 1, 80, wire::kTransferPending), Code::ok);
  auto void_it = [&](uint64_t id, int64_t amount, uint64_t debit = 0) {
    return One(TransferCmd({.id = id, .debit = debit, .amount = amount,
                            .flags = wire::kVoidPendingTransfer, .pending_id = 2, .ledger = 0,
                            .code = 0}));
  };
  EXPECT_EQ(void_it(3, 79), Code::pending_transfer_has_different_amount);
  EXPECT_EQ(void_it(3, 0, 1), Code::pending_transfer_has_different_debit_account_id);
  EXPECT_EQ(void_it(3, 0), Code::ok);
  EXPECT_EQ(void_it(4, 0), Code::pending_transfer_already_voided);
  EXPECT_EQ(Acct(2).debits_pending_fen, 0);
  EXPECT_EQ(Acct(2).debits_posted_fen, 0);
  EXPECT_EQ(One(TransferCmd({.id = 5, .flags = wire::kPostPendingTransfer, .pending_id = 99})),
            Code::pending_transfer_not_found);
  EXPECT_EQ(One(TransferCmd({.id = 5, .flags = wire::kPostPendingTransfer, .pending_id = 3})),
            Code::pending_transfer_not_pending);
  EXPECT_EQ(One(TransferCmd({.id = 5, .flags = wire::kPostPendingTransfer, .pending_id = 5})),
            Code::pending_id_must_be_different);
}

TEST_F(LedgerTest, PendingExpiresByLogTime) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2)}), (std::vector<Code>{Code::ok, Code::ok}));
  EXPECT_EQ(One(TransferCmd({.id = 2, .debit = 2, .credit = 1, .amount = 80,
                             .flags = wire::kTransferPending, .timeout_us = 1000})),
            Code::ok);
  now_ += 1000;
  // Due but not yet released by a Tick: a post is refused all the same.
  EXPECT_EQ(One(TransferCmd({.id = 3, .flags = wire::kPostPendingTransfer, .pending_id = 2})),
            Code::pending_transfer_expired);
  EXPECT_EQ(Acct(2).debits_pending_fen, 80);
  ledger_.Tick(now_);
  EXPECT_EQ(Acct(2).debits_pending_fen, 0);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger_.LookupTransfer(2, &t), Code::ok);
  EXPECT_EQ(t.state, wire::TransferState::kPendingExpired);
  EXPECT_EQ(One(TransferCmd({.id = 3, .flags = wire::kPostPendingTransfer, .pending_id = 2})),
            Code::pending_transfer_expired);
}

TEST_F(LedgerTest, PendingWithTimeoutPostedInTheSameChain) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2)}), (std::vector<Code>{Code::ok, Code::ok}));
  auto r = Codes({TransferCmd({.id = 2, .debit = 2, .credit = 1, .amount = 80,
                               .flags = wire::kTransferPending | wire::kTransferLinked, .timeout_us = 10}),
                  TransferCmd({.id = 3, .flags = wire::kPostPendingTransfer, .pending_id = 2})});
  EXPECT_EQ(r, (std::vector<Code>{Code::ok, Code::ok}));
  ledger_.Tick(now_ + 10);  // the stale expiry entry changes nothing
  EXPECT_EQ(Acct(2).debits_posted_fen, 80);
  EXPECT_EQ(Acct(2).debits_pending_fen, 0);
}

TEST(LedgerTick, WorkPerTickIsBounded) {
  LedgerConfig config = SmallConfig();
  config.settle_per_tick_max = 2;
  Ledger ledger(config);
  for (uint64_t order = 1; order <= 5; order++) {
    ASSERT_EQ(ledger.PayOrder(order, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  }
  const uint64_t due = 1 + config.auto_confirm_us;
  auto settled = [&] {
    int n = 0;
    for (uint32_t i = 0; i < ledger.order_count(); i++) {
      n += ledger.OrderAt(i).state == wire::OrderMoneyState::kSettled;
    }
    return n;
  };
  ledger.Tick(due);
  EXPECT_EQ(settled(), 2);
  ledger.Tick(due);
  ledger.Tick(due);
  EXPECT_EQ(settled(), 5);
}

// ---- linked chains ----

TEST_F(LedgerTest, LinkedChainIsAllOrNothing) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2, kDmnec)}), (std::vector<Code>{Code::ok, Code::ok}));
  auto r = Codes({CreateAccountCmd(3, wire::kAccountLinked),
                  TransferCmd({.id = 1, .debit = 1, .credit = 3, .amount = 5, .flags = wire::kTransferLinked}),
                  TransferCmd({.id = 2, .debit = 2, .credit = 1, .amount = 5}),  // 2 has nothing
                  TransferCmd({.id = 3, .debit = 1, .credit = 2, .amount = 5})});
  EXPECT_EQ(r, (std::vector<Code>{Code::linked_event_failed, Code::linked_event_failed,
                                  Code::exceeds_credits, Code::ok}));
  wire::AccountRecord a{};
  EXPECT_EQ(ledger_.LookupAccount(3, &a), Code::account_not_found);
  wire::TransferRecord t{};
  EXPECT_EQ(ledger_.LookupTransfer(1, &t), Code::transfer_not_found);
  EXPECT_EQ(Acct(1).debits_posted_fen, 5);  // only transfer 3
  // The ids are free again: the same chain, now fundable, goes through.
  r = Codes({CreateAccountCmd(3, wire::kAccountLinked),
             TransferCmd({.id = 1, .debit = 1, .credit = 3, .amount = 5, .flags = wire::kTransferLinked}),
             TransferCmd({.id = 2, .debit = 2, .credit = 1, .amount = 5})});
  EXPECT_EQ(r, (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
}

TEST_F(LedgerTest, OpenChainFails) {
  ASSERT_EQ(One(CreateAccountCmd(1)), Code::ok);
  auto r = Codes({CreateAccountCmd(2, wire::kAccountLinked), CreateAccountCmd(3, wire::kAccountLinked)});
  EXPECT_EQ(r, (std::vector<Code>{Code::linked_event_failed, Code::linked_event_chain_open}));
  EXPECT_EQ(ledger_.account_count(), kSystemAccountCount + 1);
}

TEST_F(LedgerTest, ApplyStopsAtANonLedgerCommand) {
  std::vector<wire::Command> batch = {CreateAccountCmd(1, wire::kAccountLinked), CreateAccountCmd(2),
                                      CreateAccountCmd(3, wire::kAccountLinked), wire::Command{}};
  batch[3].operation = wire::Operation::kPlaceOrder;
  std::vector<wire::Result> results(batch.size());
  EXPECT_EQ(ledger_.Apply(batch, now_, results), 3u);
  EXPECT_EQ(results[0].code, Code::ok);
  EXPECT_EQ(results[2].code, Code::linked_event_chain_open);
  wire::LedgerCommand query{};
  query.query.operation = wire::kLookupAccount;
  EXPECT_EQ(One(wire::AsCommand(query)), Code::invalid_operation);
}

// ---- orders ----

TEST_F(LedgerTest, PayConfirmSettlesLessCommission) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 100'000)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100'001, PaymentMethod::kBalance)), Code::exceeds_credits);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kBalance)), Code::ok);
  EXPECT_TRUE(Replayed(PayCmd(50, 7, 9, 10'000, PaymentMethod::kBalance)));
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'001, PaymentMethod::kBalance)),
            Code::order_payment_exists_with_different_fields);
  EXPECT_EQ(Balance(kEscrow), 10'000);
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kBuyerWallet, 7)), 90'000);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  EXPECT_TRUE(Replayed(OrderCmd(wire::kConfirmDelivery, 50)));
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::order_already_settled);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Balance(kCommission), 200);  // 2%
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kMerchantWallet, 9)), 9'800);
  wire::OrderMoneyRecord o{};
  ASSERT_EQ(ledger_.LookupOrderMoney(50, &o), Code::ok);
  EXPECT_EQ(o.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(o.merchant_net_fen, 9'800);
}

TEST_F(LedgerTest, RefundReturnsTheMoney) {
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kCard)), Code::ok);
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::ok);
  EXPECT_TRUE(Replayed(OrderCmd(wire::kRefundOrderMoney, 50)));
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::order_already_refunded);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 51)), Code::order_payment_not_found);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Acct(SystemAccountId(SystemAccount::kCardClearing)).debits_posted_fen, 10'000);
  EXPECT_EQ(Acct(SystemAccountId(SystemAccount::kCardClearing)).credits_posted_fen, 10'000);
}

TEST_F(LedgerTest, PayOrderRefusals) {
  EXPECT_EQ(One(PayCmd(0, 7, 9, 1, PaymentMethod::kCard)), Code::invalid_id);
  EXPECT_EQ(One(PayCmd(1, 7, wire::kUserIdLimit, 1, PaymentMethod::kCard)), Code::invalid_id);
  EXPECT_EQ(One(PayCmd(1, 7, 9, 1, PaymentMethod{9})), Code::invalid_payment_method);
  EXPECT_EQ(One(PayCmd(1, 7, 9, 1, PaymentMethod::kCard, 3)), Code::invalid_instalment_periods);
  EXPECT_EQ(One(PayCmd(1, 7, 9, 1, PaymentMethod::kInstalmentBuyerFee, 5)),
            Code::invalid_instalment_periods);
  EXPECT_EQ(One(PayCmd(1, 7, 9, wire::kLedgerAmountMaxFen + 1, PaymentMethod::kCard)),
            Code::invalid_amount);
  EXPECT_EQ(One(PayCmd(1, 7, 9, 23, PaymentMethod::kInstalmentBuyerFee, 24)),
            Code::instalment_amount_too_small);
  EXPECT_EQ(One(PayCmd(1, 7, 9, 100, PaymentMethod::kInstalmentBuyerFee, 3)),
            Code::credit_limit_exceeded);
  EXPECT_EQ(ledger_.order_count(), 0u);
}

TEST_F(LedgerTest, AutoConfirmSettlesInTick) {
  LedgerConfig config = SmallConfig();
  EXPECT_EQ(ledger_.PayOrder(50, 7, 9, 10'000, PaymentMethod::kCard, 0, now_), Code::ok);
  EXPECT_EQ(ledger_.PayOrder(51, 7, 9, 20'000, PaymentMethod::kCard, 0, now_ + 1), Code::ok);
  ledger_.Tick(now_ + config.auto_confirm_us);
  wire::OrderMoneyRecord o{};
  ASSERT_EQ(ledger_.LookupOrderMoney(50, &o), Code::ok);
  EXPECT_EQ(o.state, wire::OrderMoneyState::kSettled);
  ASSERT_EQ(ledger_.LookupOrderMoney(51, &o), Code::ok);
  EXPECT_EQ(o.state, wire::OrderMoneyState::kPaid);
  EXPECT_EQ(Balance(kEscrow), 20'000);
  ledger_.Tick(now_ + config.auto_confirm_us + 1);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(ledger_.RefundOrder(51, now_ + config.auto_confirm_us + 2), Code::order_already_settled);
}

// ---- instalments ----

TEST_F(LedgerTest, InstalmentsMerchantPaysTheFee) {
  LedgerConfig config = SmallConfig();
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 1'000'000)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100'000, PaymentMethod::kInstalmentMerchantFee, 24)), Code::ok);
  wire::PlanRecord p{};
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.total_fen, 100'000);  // interest-free to the buyer
  EXPECT_EQ(p.fee_fen, 0);
  int64_t sum = 0;
  for (uint8_t k = 1; k <= 24; k++) sum += wire::InstalmentAmountFen(p.total_fen, 24, k);
  EXPECT_EQ(sum, p.total_fen);
  EXPECT_EQ(wire::InstalmentAmountFen(100'000, 24, 1), 4167);   // 100000 = 24*4166 + 16
  EXPECT_EQ(wire::InstalmentAmountFen(100'000, 24, 17), 4166);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  // Merchant: 100000 - 2% commission - 15% fee (24 periods).
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kMerchantWallet, 9)), 100'000 - 2'000 - 15'000);
  EXPECT_EQ(Balance(kFeeIncome), 15'000);
  wire::BuyerCreditRecord b{};
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &b), Code::ok);
  EXPECT_EQ(b.outstanding_fen, 100'000);
  // Overdue once the first instalment's due time passes.
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kActive);
  ledger_.Tick(now_ + config.instalment_period_us);
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kOverdue);
  now_ += config.instalment_period_us;
  EXPECT_EQ(One(RepayCmd(1, 50, 1)), Code::exceeds_credits);  // empty wallet
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 2, 7, 100'000)), Code::ok);
  EXPECT_EQ(One(RepayCmd(1, 50, 1)), Code::ok);
  EXPECT_TRUE(Replayed(RepayCmd(1, 50, 1)));
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kActive);
  EXPECT_EQ(p.repaid_fen, 4167);
  EXPECT_EQ(One(RepayCmd(3, 50, 24)), Code::invalid_instalment_periods);
  EXPECT_EQ(One(RepayCmd(3, 50, 0)), Code::ok);  // early repayment of the rest
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kRepaid);
  EXPECT_EQ(p.repaid_fen, 100'000);
  EXPECT_EQ(One(RepayCmd(4, 50, 0)), Code::plan_not_active);
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &b), Code::ok);
  EXPECT_EQ(b.outstanding_fen, 0);
}

TEST_F(LedgerTest, InstalmentsBuyerPaysTheFeeAndRefund) {
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 10'249)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentBuyerFee, 3)),
            Code::credit_limit_exceeded);  // 10000 + 2.5% fee = 10250
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 10'250)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentBuyerFee, 3)), Code::ok);
  wire::PlanRecord p{};
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.fee_fen, 250);
  EXPECT_EQ(p.total_fen, 10'250);
  EXPECT_EQ(wire::InstalmentAmountFen(10'250, 3, 1), 3417);
  EXPECT_EQ(wire::InstalmentAmountFen(10'250, 3, 3), 3416);
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 5'000)), Code::ok);
  EXPECT_EQ(One(RepayCmd(2, 50, 1)), Code::ok);
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kBuyerWallet, 7)), 5'000 - 3'417);
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::ok);
  // Everything back: the repaid instalment to the wallet, the debt and the fee cancelled.
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kBuyerWallet, 7)), 5'000);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Balance(kFeeIncome), 0);
  wire::BuyerCreditRecord b{};
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &b), Code::ok);
  EXPECT_EQ(b.outstanding_fen, 0);
  ASSERT_EQ(ledger_.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kCancelled);
  EXPECT_EQ(One(RepayCmd(3, 50, 1)), Code::plan_not_active);
  EXPECT_EQ(One(RepayCmd(3, 51, 1)), Code::plan_not_found);
}

// ---- platform subsidies (coupons paid by the marketing account) ----

const uint64_t kMarketing = SystemAccountId(SystemAccount::kMarketing);
const uint64_t kCardClearing = SystemAccountId(SystemAccount::kCardClearing);
uint64_t Wallet(uint64_t buyer) { return AccountIdOf(IdSpace::kBuyerWallet, buyer); }
uint64_t MerchantWallet(uint64_t merchant) {
  return AccountIdOf(IdSpace::kMerchantWallet, merchant);
}

class SubsidyTest : public LedgerTest {
 protected:
  wire::OrderMoneyRecord Money(uint64_t order_id) {
    wire::OrderMoneyRecord r{};
    EXPECT_EQ(ledger_.LookupOrderMoney(order_id, &r), Code::ok) << order_id;
    return r;
  }
  std::vector<wire::TransferRecord> Transfers(uint64_t account_id) {  // newest first
    std::vector<wire::TransferRecord> out(64);
    size_t count = 0;
    EXPECT_EQ(ledger_.AccountTransfers(account_id, 0, 0, out, &count), Code::ok);
    out.resize(count);
    return out;
  }
  wire::Result Result(const wire::Command& c) { return ApplyAll(ledger_, {c}, now_)[0]; }
};

TEST_F(SubsidyTest, MarketingIsASystemAccountWithoutALimit) {
  EXPECT_EQ(ledger_.account_count(), kSystemAccountCount);
  EXPECT_EQ(kSystemAccountCount, 6u);
  const wire::AccountRecord marketing = Acct(kMarketing);
  EXPECT_EQ(marketing.account_id, (uint64_t{1} << 56) + 6);
  EXPECT_EQ(marketing.flags, 0);  // like the bank: it may run a debit balance
  EXPECT_EQ(marketing.code, 6);
  EXPECT_EQ(marketing.ledger, wire::kLedgerCny);
  EXPECT_EQ(Acct(kBank).flags, 0);
  // A user transfer cannot move the platform's budget.
  ASSERT_EQ(One(CreateAccountCmd(1)), Code::ok);
  EXPECT_EQ(Transfer(1, kMarketing, 1, 5), Code::account_reserved_for_payments);
}

TEST_F(SubsidyTest, PaymentByBalance) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 10'000)), Code::ok);
  // The buyer pays amount - subsidy: 10,001 of the wallet's 10,000 is refused.
  EXPECT_EQ(One(PayCmd(50, 7, 9, 13'001, PaymentMethod::kBalance, 0, 3'000)),
            Code::exceeds_credits);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 13'000, PaymentMethod::kBalance, 0, 3'000)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 0);
  EXPECT_EQ(Balance(kEscrow), 13'000);  // the whole amount is in escrow
  EXPECT_EQ(Balance(kMarketing), -3'000);
  EXPECT_TRUE(Replayed(PayCmd(50, 7, 9, 13'000, PaymentMethod::kBalance, 0, 3'000)));
  EXPECT_EQ(One(PayCmd(50, 7, 9, 13'000, PaymentMethod::kBalance, 0, 2'999)),
            Code::order_payment_exists_with_different_fields);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 13'000, PaymentMethod::kBalance)),
            Code::order_payment_exists_with_different_fields);
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.amount_fen, 13'000);
  EXPECT_EQ(money.subsidy_fen, 3'000);
  EXPECT_EQ(money.subsidy_refunded_fen, 0);
  const std::vector<wire::TransferRecord> legs = Transfers(kMarketing);
  ASSERT_EQ(legs.size(), 1u);
  EXPECT_EQ(legs[0].code, static_cast<uint16_t>(MoneyCode::kCouponSubsidy));
  EXPECT_EQ(legs[0].debit_account_id, kMarketing);
  EXPECT_EQ(legs[0].credit_account_id, kEscrow);
  EXPECT_EQ(legs[0].amount_fen, 3'000);
  EXPECT_EQ(legs[0].user_data, 50u);
  // The merchant is settled on the whole amount, as without the coupon.
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  EXPECT_EQ(Balance(MerchantWallet(9)), 13'000 - 260);
  EXPECT_EQ(Balance(kCommission), 260);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Balance(kMarketing), -3'000);
}

TEST_F(SubsidyTest, PaymentByCardAndFullRefund) {
  EXPECT_EQ(ledger_.PayOrder(50, 7, 9, 10'000, PaymentMethod::kCard, 0, now_, 0, 3'000), Code::ok);
  EXPECT_EQ(Acct(kCardClearing).debits_posted_fen, 7'000);
  EXPECT_EQ(Balance(kEscrow), 10'000);
  EXPECT_EQ(Balance(kMarketing), -3'000);
  // A full refund gives the subsidy back to marketing and the buyer what the buyer paid.
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::ok);
  EXPECT_EQ(Acct(kCardClearing).credits_posted_fen, 7'000);
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(Balance(kEscrow), 0);
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kRefunded);
  EXPECT_EQ(money.refunded_fen, 10'000);
  EXPECT_EQ(money.subsidy_refunded_fen, 3'000);
  const std::vector<wire::TransferRecord> legs = Transfers(kMarketing);
  ASSERT_EQ(legs.size(), 2u);
  EXPECT_EQ(legs[0].code, static_cast<uint16_t>(MoneyCode::kSubsidyReturned));
  EXPECT_EQ(legs[0].debit_account_id, kEscrow);
  EXPECT_EQ(legs[0].amount_fen, 3'000);
}

TEST_F(SubsidyTest, FullRefundByBalance) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 8'000)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kBalance, 0, 2'001)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 8'000 - 7'999);
  EXPECT_EQ(ledger_.RefundOrder(50, now_), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 8'000);  // A - S back, not A
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(Balance(kEscrow), 0);
}

TEST_F(SubsidyTest, InstalmentsMerchantPaysTheFeeOnThePrincipal) {
  // The plan finances amount - subsidy = 80,000; the limit is checked against that.
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 79'999)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100'000, PaymentMethod::kInstalmentMerchantFee, 24, 20'000)),
            Code::credit_limit_exceeded);
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 80'000)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100'000, PaymentMethod::kInstalmentMerchantFee, 24, 20'000)),
            Code::ok);
  wire::PlanRecord plan{};
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 80'000);
  EXPECT_EQ(plan.fee_fen, 0);
  EXPECT_EQ(plan.total_fen, 80'000);
  wire::BuyerCreditRecord credit{};
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 80'000);
  EXPECT_EQ(Balance(kEscrow), 100'000);
  EXPECT_EQ(Balance(kMarketing), -20'000);
  EXPECT_EQ(Money(50).merchant_fee_fen, 12'000);  // 15% of the principal, not of the amount
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  // Commission on the amount, the fee on the principal.
  EXPECT_EQ(Balance(MerchantWallet(9)), 100'000 - 2'000 - 12'000);
  EXPECT_EQ(Balance(kFeeIncome), 12'000);
  EXPECT_EQ(Balance(kEscrow), 0);
}

TEST_F(SubsidyTest, InstalmentsBuyerPaysTheFeeOnThePrincipalAndRefund) {
  // principal 8,000 + 2.5% fee 200 = 8,200.
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 8'199)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentBuyerFee, 3, 2'000)),
            Code::credit_limit_exceeded);
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 8'200)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentBuyerFee, 3, 2'000)), Code::ok);
  wire::PlanRecord plan{};
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 8'000);
  EXPECT_EQ(plan.fee_fen, 200);
  EXPECT_EQ(plan.total_fen, 8'200);
  EXPECT_EQ(Balance(kFeeIncome), 200);
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 5'000)), Code::ok);
  EXPECT_EQ(One(RepayCmd(2, 50, 1)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 5'000 - 2'734);
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, 50)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 5'000);
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Balance(kFeeIncome), 0);
  wire::BuyerCreditRecord credit{};
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 0);
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.state, wire::PlanState::kCancelled);
}

TEST_F(SubsidyTest, Refusals) {
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100, PaymentMethod::kCard, 0, -1)), Code::invalid_amount);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100, PaymentMethod::kCard, 0, 100)), Code::invalid_amount);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100, PaymentMethod::kCard, 0, 101)), Code::invalid_amount);
  EXPECT_EQ(ledger_.PayOrder(50, 7, 9, 100, PaymentMethod::kCard, 0, now_, 0, 100),
            Code::invalid_amount);
  // 25 fen over 24 periods is enough, but not the 23 the buyer finances.
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 1'000)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 25, PaymentMethod::kInstalmentMerchantFee, 24, 2)),
            Code::instalment_amount_too_small);
  // The subsidy sits in bytes the record reserved; the rest of them must stay zero.
  wire::Command bad = PayCmd(50, 7, 9, 100, PaymentMethod::kCard, 0, 10);
  bad.bytes[44] = 1;  // PayOrderMoney::reserved1
  EXPECT_EQ(One(bad), Code::reserved_nonzero);
  bad = PayCmd(50, 7, 9, 100, PaymentMethod::kCard, 0, 10);
  bad.bytes[64] = 1;  // the first byte of PayOrderMoney::reserved
  EXPECT_EQ(One(bad), Code::reserved_nonzero);
  EXPECT_EQ(ledger_.order_count(), 0u);
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 25, PaymentMethod::kInstalmentMerchantFee, 24, 1)), Code::ok);
}

// A = 30,001, S = 5,000, refunds of 1, 9,999 and 20,001: the subsidy comes back as
// floor(S * R / A) of the refunded R so far, 0 then 1,666 then 5,000, to the fen.
TEST_F(SubsidyTest, PartialRefundsReturnTheSubsidyExactly) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 25'001)), Code::ok);
  EXPECT_EQ(One(SetLineCmd(9, 100'000, 0)), Code::ok);  // the merchant can fund a shortfall
  EXPECT_EQ(One(PayCmd(50, 7, 9, 30'001, PaymentMethod::kBalance, 0, 5'000)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 0);
  // A parcel of 1 fen back before settlement: no subsidy share yet (floor(5000/30001) = 0).
  EXPECT_EQ(ledger_.ReturnOrder(50, 1, now_), Code::ok);
  wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 1);
  EXPECT_EQ(money.subsidy_refunded_fen, 0);
  EXPECT_EQ(Balance(Wallet(7)), 1);
  EXPECT_EQ(Balance(kMarketing), -5'000);
  EXPECT_EQ(Balance(MerchantWallet(9)), 30'000 - 600);  // settled on the 30,000 kept
  // An after-sales refund of 9,999: floor(5000 * 10000 / 30001) = 1,666 to marketing.
  const wire::Result after_sales = Result(AfterSalesCmd(100, 50, 9'999));
  EXPECT_EQ(after_sales.code, Code::ok);
  EXPECT_EQ(after_sales.amount_fen, 9'999);
  money = Money(50);
  EXPECT_EQ(money.refunded_fen, 10'000);
  EXPECT_EQ(money.subsidy_refunded_fen, 1'666);
  EXPECT_EQ(Balance(Wallet(7)), 1 + 8'333);
  EXPECT_EQ(Balance(kMarketing), -5'000 + 1'666);
  EXPECT_EQ(Balance(MerchantWallet(9)), 29'400 - 9'999);
  // The rest, 20,001, comes back as a parcel after settlement: all of the subsidy is home.
  EXPECT_EQ(ledger_.ReturnOrder(50, 20'001, now_), Code::ok);
  money = Money(50);
  EXPECT_EQ(money.refunded_fen, 30'001);
  EXPECT_EQ(money.subsidy_refunded_fen, 5'000);
  EXPECT_EQ(Balance(Wallet(7)), 25'001);  // every fen the buyer paid
  EXPECT_EQ(Balance(kMarketing), 0);
  wire::MerchantCreditRecord merchant{};
  ASSERT_EQ(ledger_.LookupMerchantCredit(9, &merchant), Code::ok);
  EXPECT_EQ(merchant.wallet_fen, 0);
  EXPECT_EQ(merchant.outstanding_fen, 600);  // the shortfall, drawn on the line
  const std::vector<wire::TransferRecord> legs = Transfers(kMarketing);
  ASSERT_EQ(legs.size(), 3u);
  EXPECT_EQ(legs[0].amount_fen, 3'334);
  EXPECT_EQ(legs[1].amount_fen, 1'666);
  for (int k = 0; k < 2; k++) {
    EXPECT_EQ(legs[k].code, static_cast<uint16_t>(MoneyCode::kSubsidyReturned));
    EXPECT_EQ(legs[k].debit_account_id, MerchantWallet(9));
  }
  EXPECT_EQ(ledger_.ReturnOrder(50, 1, now_), Code::refund_exceeds_paid);
  EXPECT_EQ(ledger_.CancelPaidOrder(50, now_), Code::order_already_refunded);
  const wire::Result again = Result(AfterSalesCmd(100, 50, 9'999));
  EXPECT_TRUE(again.code == Code::ok && wire::IsReplay(again));
  EXPECT_EQ(again.amount_fen, 9'999);
}

// The same refunds of an instalment purchase: the plan owes the buyer's share less each time.
TEST_F(SubsidyTest, PartialRefundsReduceThePlanByTheBuyersShare) {
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 25'001)), Code::ok);
  EXPECT_EQ(One(SetLineCmd(9, 100'000, 0)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 30'001, PaymentMethod::kInstalmentMerchantFee, 3, 5'000)),
            Code::ok);
  auto owed = [&] {
    wire::BuyerCreditRecord credit{};
    EXPECT_EQ(ledger_.LookupBuyerCredit(7, &credit), Code::ok);
    return credit.outstanding_fen;
  };
  EXPECT_EQ(owed(), 25'001);
  EXPECT_EQ(ledger_.ReturnOrder(50, 1, now_), Code::ok);
  EXPECT_EQ(owed(), 25'000);
  EXPECT_EQ(One(AfterSalesCmd(100, 50, 9'999)), Code::ok);
  EXPECT_EQ(owed(), 25'000 - 8'333);
  EXPECT_EQ(One(AfterSalesCmd(101, 50, 20'001)), Code::ok);
  EXPECT_EQ(owed(), 0);
  wire::PlanRecord plan{};
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 0);
  EXPECT_EQ(plan.state, wire::PlanState::kRepaid);
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(Money(50).subsidy_refunded_fen, 5'000);
}

TEST_F(SubsidyTest, ReturnThenSettlement) {
  // Two orders alike but for the coupon: the merchant gets the same from each.
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kCard, 0, 2'500)), Code::ok);
  EXPECT_EQ(One(PayCmd(51, 8, 10, 10'000, PaymentMethod::kCard)), Code::ok);
  EXPECT_EQ(ledger_.ReturnOrder(50, 4'000, now_), Code::ok);
  EXPECT_EQ(ledger_.ReturnOrder(51, 4'000, now_), Code::ok);
  // floor(2500 * 4000 / 10000) = 1,000 back to marketing, 3,000 to the card.
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 4'000);
  EXPECT_EQ(money.subsidy_refunded_fen, 1'000);
  EXPECT_EQ(Balance(kMarketing), -1'500);
  EXPECT_EQ(Acct(kCardClearing).credits_posted_fen, 3'000 + 4'000);
  EXPECT_EQ(money.commission_fen, 120);
  EXPECT_EQ(money.merchant_net_fen, 5'880);
  EXPECT_EQ(Balance(MerchantWallet(9)), Balance(MerchantWallet(10)));
  EXPECT_EQ(Money(51).merchant_net_fen, money.merchant_net_fen);
  EXPECT_EQ(Balance(kEscrow), 0);
}

// After settlement the merchant's wallet pays the refund: the subsidy's share to marketing,
// the rest to the buyer. A retry moves nothing and is answered with the amount asked, also
// when the refund's legs are split or all of it is the subsidy's.
TEST_F(SubsidyTest, AfterSalesRefundAfterSettlement) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 40)), Code::ok);
  EXPECT_EQ(One(SetLineCmd(9, 1'000, 0)), Code::ok);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 100, PaymentMethod::kBalance, 0, 60)), Code::ok);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  EXPECT_EQ(Balance(MerchantWallet(9)), 98);
  // R 0 -> 1: floor(60 * 1 / 100) = 0, all to the buyer.
  EXPECT_EQ(One(AfterSalesCmd(200, 50, 1)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 1);
  EXPECT_EQ(Balance(kMarketing), -60);
  // R 1 -> 2: floor(120 / 100) = 1, all to marketing; the refund's id is on that leg.
  EXPECT_EQ(One(AfterSalesCmd(201, 50, 1)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 1);
  EXPECT_EQ(Balance(kMarketing), -59);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger_.LookupTransfer(201, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kSubsidyReturned));
  EXPECT_EQ(t.debit_account_id, MerchantWallet(9));
  EXPECT_EQ(t.credit_account_id, kMarketing);
  // R 2 -> 12: floor(720 / 100) - 1 = 6 to marketing, 4 to the buyer.
  EXPECT_EQ(One(AfterSalesCmd(202, 50, 10)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 5);
  EXPECT_EQ(Balance(kMarketing), -53);
  ASSERT_EQ(ledger_.LookupTransfer(202, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kAfterSalesRefund));
  EXPECT_EQ(t.amount_fen, 4);
  ASSERT_EQ(ledger_.LookupTransfer(kSubsidyLegTag | 202, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kSubsidyReturned));
  EXPECT_EQ(t.amount_fen, 6);
  const uint32_t transfers = ledger_.transfer_count();
  const std::pair<uint64_t, int64_t> refunds[] = {{200, 1}, {201, 1}, {202, 10}};
  for (auto [id, amount] : refunds) {
    const wire::Result again = Result(AfterSalesCmd(id, 50, amount));
    EXPECT_EQ(again.code, Code::ok) << id;
    EXPECT_TRUE(wire::IsReplay(again)) << id;
    EXPECT_EQ(again.amount_fen, amount) << id;
    EXPECT_EQ(One(AfterSalesCmd(id, 50, amount + 1)), Code::transfer_exists_with_different_amount);
  }
  EXPECT_EQ(One(AfterSalesCmd(202, 50, 4)), Code::transfer_exists_with_different_amount);
  EXPECT_EQ(ledger_.transfer_count(), transfers);
  // A user transfer coded like a subsidy leg is no refund.
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2)}),
            (std::vector<Code>{Code::ok, Code::ok}));
  ASSERT_EQ(One(TransferCmd(
                {.id = 203, .debit = 1, .credit = 2, .amount = 1, .code = 17, .user_data = 50})),
            Code::ok);
  EXPECT_EQ(One(AfterSalesCmd(203, 50, 1)), Code::transfer_exists_with_different_code);
  // The rest, 88: floor(60 * 100 / 100) - 7 = 53 to marketing, 35 to the buyer; the
  // merchant's wallet (86 left) draws the other 2 on its line.
  EXPECT_EQ(One(AfterSalesCmd(204, 50, 88)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 40);
  EXPECT_EQ(Balance(kMarketing), 0);
  EXPECT_EQ(Balance(MerchantWallet(9)), 0);
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.refunded_fen, 100);
  EXPECT_EQ(money.subsidy_refunded_fen, 60);
  EXPECT_EQ(One(AfterSalesCmd(205, 50, 1)), Code::refund_exceeds_paid);
}

// ---- pre-sale deposits (an earlier payment carried into an order's payment) ----

// A deposit's money id, as the order engine numbers them: 2^55 + n, below the user id limit.
constexpr uint64_t kDeposit1 = (uint64_t{1} << 55) + 1;
constexpr uint64_t kDeposit2 = (uint64_t{1} << 55) + 2;

class LedgerDepositTest : public SubsidyTest {
 protected:
  // Pays `deposit_fen` for buyer 7 at merchant 9 as the order engine does for a pre-sale.
  Code PayDeposit(uint64_t id, int64_t deposit_fen, PaymentMethod method) {
    return ledger_.PayOrder(id, 7, 9, deposit_fen, method, 0, now_);
  }
  Code PayWithDeposit(uint64_t order_id, int64_t amount_fen, PaymentMethod method,
                      uint64_t deposit_id, uint8_t periods = 0) {
    return ledger_.PayOrder(order_id, 7, 9, amount_fen, method, periods, now_, 0, 0, deposit_id);
  }
  int64_t CardIn() { return Acct(kCardClearing).debits_posted_fen; }
  int64_t CardOut() { return Acct(kCardClearing).credits_posted_fen; }
};

TEST_F(LedgerDepositTest, CardDepositThenBalanceByWalletAndFullRefund) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 10'000)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 300, PaymentMethod::kCard), Code::ok);
  const uint32_t transfers = ledger_.transfer_count();
  now_ += 20 * kMicrosPerDay;
  // The buyer pays A - D = 7,200 now; the 300 is already in escrow and does not move.
  ASSERT_EQ(PayWithDeposit(50, 7'500, PaymentMethod::kBalance, kDeposit1), Code::ok);
  EXPECT_EQ(ledger_.transfer_count(), transfers + 1);
  EXPECT_EQ(Balance(Wallet(7)), 10'000 - 7'200);
  EXPECT_EQ(CardIn(), 300);
  EXPECT_EQ(Balance(kEscrow), 7'500);
  const wire::OrderMoneyRecord deposit = Money(kDeposit1);
  EXPECT_EQ(deposit.state, wire::OrderMoneyState::kConverted);
  EXPECT_EQ(deposit.closed_at_us, now_);
  EXPECT_EQ(deposit.deposit_id, 50u);  // the order that took it
  EXPECT_EQ(deposit.amount_fen, 300);
  EXPECT_EQ(deposit.refunded_fen, 0);
  EXPECT_EQ(deposit.deposit_fen, 0);
  wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kPaid);
  EXPECT_EQ(money.amount_fen, 7'500);
  EXPECT_EQ(money.deposit_fen, 300);
  EXPECT_EQ(money.deposit_id, kDeposit1);
  EXPECT_EQ(money.deposit_refunded_fen, 0);
  EXPECT_EQ(money.method, PaymentMethod::kBalance);
  // Retries: the same payment (with the same deposit) is a replay, and so is the deposit's own.
  EXPECT_TRUE(Replayed(PayCmd(50, 7, 9, 7'500, PaymentMethod::kBalance, 0, 0, kDeposit1)));
  EXPECT_TRUE(Replayed(PayCmd(kDeposit1, 7, 9, 300, PaymentMethod::kCard)));
  EXPECT_EQ(One(PayCmd(50, 7, 9, 7'500, PaymentMethod::kBalance)),
            Code::order_payment_exists_with_different_fields);
  // The deposit's money is the order's now: nothing may be done with it on its own.
  EXPECT_EQ(ledger_.RefundOrder(kDeposit1, now_), Code::deposit_converted);
  EXPECT_EQ(ledger_.ConfirmDelivery(kDeposit1, now_), Code::deposit_converted);
  EXPECT_EQ(ledger_.ReturnOrder(kDeposit1, 100, now_), Code::deposit_converted);
  EXPECT_EQ(ledger_.CancelPaidOrder(kDeposit1, now_), Code::deposit_converted);
  EXPECT_EQ(One(AfterSalesCmd(300, kDeposit1, 1)), Code::deposit_converted);
  EXPECT_EQ(One(OrderCmd(wire::kRefundOrderMoney, kDeposit1)), Code::deposit_converted);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kBalance, kDeposit1),
            Code::deposit_not_payable);
  // A full refund: D back to the card, A - D to the wallet.
  EXPECT_EQ(ledger_.RefundOrder(50, now_), Code::ok);
  EXPECT_EQ(CardOut(), 300);
  EXPECT_EQ(Balance(Wallet(7)), 10'000);
  EXPECT_EQ(Balance(kEscrow), 0);
  money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kRefunded);
  EXPECT_EQ(money.refunded_fen, 7'500);
  EXPECT_EQ(money.deposit_refunded_fen, 300);
  const std::vector<wire::TransferRecord> legs = Transfers(kCardClearing);
  ASSERT_EQ(legs.size(), 2u);
  EXPECT_EQ(legs[0].code, static_cast<uint16_t>(MoneyCode::kDepositRefund));
  EXPECT_EQ(legs[0].debit_account_id, kEscrow);
  EXPECT_EQ(legs[0].amount_fen, 300);
  EXPECT_EQ(legs[0].user_data, 50u);
  EXPECT_EQ(Money(kDeposit1).state, wire::OrderMoneyState::kConverted);
}

TEST_F(LedgerDepositTest, BalanceDepositThenCardSettlesTheWholeAmount) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 1'000)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 1'000, PaymentMethod::kBalance), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 10'000, PaymentMethod::kCard, kDeposit1), Code::ok);
  EXPECT_EQ(CardIn(), 9'000);
  EXPECT_EQ(Balance(kEscrow), 10'000);
  // The merchant is settled on the whole amount, deposit included, once.
  EXPECT_EQ(ledger_.ConfirmDelivery(50, now_), Code::ok);
  EXPECT_EQ(Balance(MerchantWallet(9)), 10'000 - 200);
  EXPECT_EQ(Balance(kCommission), 200);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Money(50).state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(Money(kDeposit1).state, wire::OrderMoneyState::kConverted);
  // Auto-confirm passes over the converted deposit.
  ledger_.Tick(now_ + 11 * kMicrosPerDay);
  EXPECT_EQ(Balance(MerchantWallet(9)), 10'000 - 200);
}

TEST_F(LedgerDepositTest, InstalmentsMerchantPaysTheFeeOnTheBalance) {
  ASSERT_EQ(PayDeposit(kDeposit1, 20'000, PaymentMethod::kCard), Code::ok);
  // The plan finances A - D = 80,000; the limit is checked against that.
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 79'999)), Code::ok);
  EXPECT_EQ(PayWithDeposit(50, 100'000, PaymentMethod::kInstalmentMerchantFee, kDeposit1, 24),
            Code::credit_limit_exceeded);
  EXPECT_EQ(Money(kDeposit1).state, wire::OrderMoneyState::kPaid);  // rolled back whole
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 80'000)), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 100'000, PaymentMethod::kInstalmentMerchantFee, kDeposit1, 24),
            Code::ok);
  wire::PlanRecord plan{};
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 80'000);
  EXPECT_EQ(plan.total_fen, 80'000);
  EXPECT_EQ(Balance(kEscrow), 100'000);
  EXPECT_EQ(Money(50).merchant_fee_fen, 12'000);  // 15% of the principal
  EXPECT_EQ(ledger_.ConfirmDelivery(50, now_), Code::ok);
  EXPECT_EQ(Balance(MerchantWallet(9)), 100'000 - 2'000 - 12'000);
  EXPECT_EQ(Balance(kEscrow), 0);
}

TEST_F(LedgerDepositTest, InstalmentsBuyerPaysTheFeeOnTheBalanceAndFullRefund) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 7'000)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 2'000, PaymentMethod::kBalance), Code::ok);
  // principal 8,000 + 2.5% fee 200 = 8,200.
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 8'200)), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 10'000, PaymentMethod::kInstalmentBuyerFee, kDeposit1, 3), Code::ok);
  wire::PlanRecord plan{};
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.principal_fen, 8'000);
  EXPECT_EQ(plan.fee_fen, 200);
  EXPECT_EQ(One(RepayCmd(2, 50, 1)), Code::ok);  // 2,734
  EXPECT_EQ(Balance(Wallet(7)), 5'000 - 2'734);
  EXPECT_EQ(ledger_.RefundOrder(50, now_), Code::ok);
  // The deposit and the repaid instalment back to the wallet; the plan owes nothing.
  EXPECT_EQ(Balance(Wallet(7)), 7'000);
  EXPECT_EQ(Balance(kEscrow), 0);
  EXPECT_EQ(Balance(kFeeIncome), 0);
  wire::BuyerCreditRecord credit{};
  ASSERT_EQ(ledger_.LookupBuyerCredit(7, &credit), Code::ok);
  EXPECT_EQ(credit.outstanding_fen, 0);
  ASSERT_EQ(ledger_.LookupPlan(50, &plan), Code::ok);
  EXPECT_EQ(plan.state, wire::PlanState::kCancelled);
  EXPECT_EQ(Money(50).deposit_refunded_fen, 2'000);
}

TEST_F(LedgerDepositTest, Refusals) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 100'000)), Code::ok);
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 2, 8, 100'000)), Code::ok);
  EXPECT_EQ(One(SetBuyerLimitCmd(7, 100'000)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 300, PaymentMethod::kCard), Code::ok);
  const uint32_t transfers = ledger_.transfer_count();
  EXPECT_EQ(PayWithDeposit(50, 7'500, PaymentMethod::kCard, kDeposit2),
            Code::order_payment_not_found);
  EXPECT_EQ(PayWithDeposit(50, 7'500, PaymentMethod::kCard, wire::kUserIdLimit), Code::invalid_id);
  // Another buyer's, another merchant's.
  EXPECT_EQ(ledger_.PayOrder(50, 8, 9, 7'500, PaymentMethod::kCard, 0, now_, 0, 0, kDeposit1),
            Code::deposit_not_payable);
  EXPECT_EQ(ledger_.PayOrder(50, 7, 10, 7'500, PaymentMethod::kCard, 0, now_, 0, 0, kDeposit1),
            Code::deposit_not_payable);
  // Not more than the deposit; no subsidy with it.
  EXPECT_EQ(PayWithDeposit(50, 300, PaymentMethod::kCard, kDeposit1), Code::deposit_not_payable);
  EXPECT_EQ(PayWithDeposit(50, 299, PaymentMethod::kCard, kDeposit1), Code::deposit_not_payable);
  EXPECT_EQ(ledger_.PayOrder(50, 7, 9, 7'500, PaymentMethod::kCard, 0, now_, 0, 1, kDeposit1),
            Code::deposit_not_payable);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 7'500, PaymentMethod::kCard, 0, 1, kDeposit1)),
            Code::deposit_not_payable);
  // 323 fen over 24 periods is enough, but not the 23 the buyer finances.
  EXPECT_EQ(PayWithDeposit(50, 323, PaymentMethod::kInstalmentMerchantFee, kDeposit1, 24),
            Code::instalment_amount_too_small);
  // A wallet too short for A - D: nothing of the payment or the conversion remains.
  EXPECT_EQ(ledger_.PayOrder(50, 7, 9, 100'301, PaymentMethod::kBalance, 0, now_, 0, 0, kDeposit1),
            Code::exceeds_credits);
  EXPECT_EQ(ledger_.transfer_count(), transfers);
  EXPECT_EQ(ledger_.order_count(), 1u);
  const wire::OrderMoneyRecord deposit = Money(kDeposit1);
  EXPECT_EQ(deposit.state, wire::OrderMoneyState::kPaid);
  EXPECT_EQ(deposit.deposit_id, 0u);
  EXPECT_EQ(deposit.closed_at_us, 0u);

  // A deposit refunded, settled, paid by instalments, or carrying a subsidy: not payable.
  EXPECT_EQ(PayDeposit(kDeposit2, 300, PaymentMethod::kCard), Code::ok);
  EXPECT_EQ(ledger_.RefundOrder(kDeposit2, now_), Code::ok);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, kDeposit2), Code::deposit_not_payable);
  const uint64_t settled = kDeposit2 + 1;
  EXPECT_EQ(PayDeposit(settled, 300, PaymentMethod::kCard), Code::ok);
  EXPECT_EQ(ledger_.ConfirmDelivery(settled, now_), Code::ok);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, settled), Code::deposit_not_payable);
  const uint64_t returned = kDeposit2 + 2;  // partly returned, the rest settled at once
  EXPECT_EQ(PayDeposit(returned, 300, PaymentMethod::kCard), Code::ok);
  EXPECT_EQ(ledger_.ReturnOrder(returned, 100, now_), Code::ok);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, returned), Code::deposit_not_payable);
  const uint64_t instalments = kDeposit2 + 3;
  EXPECT_EQ(
      ledger_.PayOrder(instalments, 7, 9, 300, PaymentMethod::kInstalmentMerchantFee, 3, now_),
      Code::ok);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, instalments),
            Code::deposit_not_payable);
  const uint64_t subsidised = kDeposit2 + 4;
  EXPECT_EQ(ledger_.PayOrder(subsidised, 7, 9, 300, PaymentMethod::kCard, 0, now_, 0, 100),
            Code::ok);
  EXPECT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, subsidised), Code::deposit_not_payable);
  // An order carrying a deposit is no deposit itself; a converted one cannot be carried twice.
  ASSERT_EQ(PayWithDeposit(51, 7'500, PaymentMethod::kCard, kDeposit1), Code::ok);
  EXPECT_EQ(PayWithDeposit(52, 9'000, PaymentMethod::kCard, 51), Code::deposit_not_payable);
  EXPECT_EQ(PayWithDeposit(52, 9'000, PaymentMethod::kCard, kDeposit1), Code::deposit_not_payable);
  EXPECT_EQ(ledger_.order_count(), 7u);
}

// A = 7,500 with D = 300 carried, refunds of 1, 2,811 and 4,688 (a parcel back before
// settlement, an after-sales refund, a parcel back after settlement): the deposit's way has
// had floor(300 * R / 7,500) back after R refunded, 0 then 112 then 300, to the fen.
TEST_F(LedgerDepositTest, PartialRefundsSplitExactly) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 7'200)), Code::ok);
  EXPECT_EQ(One(SetLineCmd(9, 100'000, 0)), Code::ok);  // the merchant can fund a shortfall
  ASSERT_EQ(PayDeposit(kDeposit1, 300, PaymentMethod::kCard), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 7'500, PaymentMethod::kBalance, kDeposit1), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 0);
  // 1 fen back before settlement: floor(300 / 7,500) = 0, all of it to the wallet.
  EXPECT_EQ(ledger_.ReturnOrder(50, 1, now_), Code::ok);
  wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 1);
  EXPECT_EQ(money.deposit_refunded_fen, 0);
  EXPECT_EQ(Balance(Wallet(7)), 1);
  EXPECT_EQ(CardOut(), 0);
  EXPECT_EQ(Balance(MerchantWallet(9)), 7'499 - 149);  // settled on the 7,499 kept
  // After sales, 2,811: floor(300 * 2,812 / 7,500) = 112 to the card, 2,699 to the wallet.
  const wire::Result after_sales = Result(AfterSalesCmd(100, 50, 2'811));
  EXPECT_EQ(after_sales.code, Code::ok);
  EXPECT_EQ(after_sales.amount_fen, 2'811);
  money = Money(50);
  EXPECT_EQ(money.refunded_fen, 2'812);
  EXPECT_EQ(money.deposit_refunded_fen, 112);
  EXPECT_EQ(CardOut(), 112);
  EXPECT_EQ(Balance(Wallet(7)), 1 + 2'699);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger_.LookupTransfer(100, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kAfterSalesRefund));
  EXPECT_EQ(t.amount_fen, 2'699);
  ASSERT_EQ(ledger_.LookupTransfer(kDepositLegTag | 100, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kDepositRefund));
  EXPECT_EQ(t.debit_account_id, MerchantWallet(9));
  EXPECT_EQ(t.credit_account_id, kCardClearing);
  EXPECT_EQ(t.amount_fen, 112);
  // The rest, 4,688, comes back as a parcel after settlement: 188 more to the card.
  EXPECT_EQ(ledger_.ReturnOrder(50, 4'688, now_), Code::ok);
  money = Money(50);
  EXPECT_EQ(money.refunded_fen, 7'500);
  EXPECT_EQ(money.deposit_refunded_fen, 300);
  EXPECT_EQ(CardOut(), 300);             // the whole deposit, the way it was paid
  EXPECT_EQ(Balance(Wallet(7)), 7'200);  // the whole balance, the way it was paid
  wire::MerchantCreditRecord merchant{};
  ASSERT_EQ(ledger_.LookupMerchantCredit(9, &merchant), Code::ok);
  EXPECT_EQ(merchant.wallet_fen, 0);
  EXPECT_EQ(merchant.outstanding_fen, 149);  // the shortfall, drawn on the line
  const std::vector<wire::TransferRecord> legs = Transfers(kCardClearing);
  ASSERT_EQ(legs.size(), 3u);  // the deposit's payment and its two refund legs
  EXPECT_EQ(legs[0].amount_fen, 188);
  EXPECT_EQ(legs[1].amount_fen, 112);
  const wire::Result again = Result(AfterSalesCmd(100, 50, 2'811));
  EXPECT_TRUE(again.code == Code::ok && wire::IsReplay(again));
  EXPECT_EQ(again.amount_fen, 2'811);
  EXPECT_EQ(One(AfterSalesCmd(100, 50, 2'699)), Code::transfer_exists_with_different_amount);
}

TEST_F(LedgerDepositTest, ReturnThenSettlement) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 2'500)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 2'500, PaymentMethod::kBalance), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 10'000, PaymentMethod::kCard, kDeposit1), Code::ok);
  EXPECT_EQ(ledger_.PayOrder(51, 8, 10, 10'000, PaymentMethod::kCard, 0, now_), Code::ok);
  EXPECT_EQ(ledger_.ReturnOrder(50, 4'000, now_), Code::ok);
  EXPECT_EQ(ledger_.ReturnOrder(51, 4'000, now_), Code::ok);
  // floor(2,500 * 4,000 / 10,000) = 1,000 back to the wallet, 3,000 to the card.
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 4'000);
  EXPECT_EQ(money.deposit_refunded_fen, 1'000);
  EXPECT_EQ(Balance(Wallet(7)), 1'000);
  EXPECT_EQ(CardOut(), 3'000 + 4'000);
  // The merchant gets the same as from an order paid whole.
  EXPECT_EQ(money.commission_fen, 120);
  EXPECT_EQ(money.merchant_net_fen, 5'880);
  EXPECT_EQ(Money(51).merchant_net_fen, money.merchant_net_fen);
  EXPECT_EQ(Balance(MerchantWallet(9)), Balance(MerchantWallet(10)));
  EXPECT_EQ(Balance(kEscrow), 0);
}

// After settlement the merchant's wallet pays: the deposit's share back to the wallet it came
// from, the rest to the card. A retry is answered with the amount asked, also when the legs
// are split or all of it is the deposit's; a user transfer coded like a deposit leg is none.
TEST_F(LedgerDepositTest, AfterSalesRefundAfterSettlement) {
  EXPECT_EQ(One(PartyCmd(wire::kDeposit, 1, 7, 60)), Code::ok);
  EXPECT_EQ(One(SetLineCmd(9, 1'000, 0)), Code::ok);
  ASSERT_EQ(PayDeposit(kDeposit1, 60, PaymentMethod::kBalance), Code::ok);
  ASSERT_EQ(PayWithDeposit(50, 100, PaymentMethod::kCard, kDeposit1), Code::ok);
  EXPECT_EQ(ledger_.ConfirmDelivery(50, now_), Code::ok);
  EXPECT_EQ(Balance(MerchantWallet(9)), 98);
  // R 0 -> 1: floor(60 / 100) = 0, all to the card.
  EXPECT_EQ(One(AfterSalesCmd(200, 50, 1)), Code::ok);
  EXPECT_EQ(CardOut(), 1);
  EXPECT_EQ(Balance(Wallet(7)), 0);
  // R 1 -> 2: floor(120 / 100) = 1, all the deposit's; the refund's id is on that leg.
  EXPECT_EQ(One(AfterSalesCmd(201, 50, 1)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 1);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger_.LookupTransfer(201, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kDepositRefund));
  EXPECT_EQ(t.debit_account_id, MerchantWallet(9));
  EXPECT_EQ(t.credit_account_id, Wallet(7));
  // R 2 -> 12: floor(720 / 100) - 1 = 6 to the wallet, 4 to the card.
  EXPECT_EQ(One(AfterSalesCmd(202, 50, 10)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 7);
  EXPECT_EQ(CardOut(), 5);
  ASSERT_EQ(ledger_.LookupTransfer(202, &t), Code::ok);
  EXPECT_EQ(t.code, static_cast<uint16_t>(MoneyCode::kAfterSalesRefund));
  EXPECT_EQ(t.amount_fen, 4);
  ASSERT_EQ(ledger_.LookupTransfer(kDepositLegTag | 202, &t), Code::ok);
  EXPECT_EQ(t.amount_fen, 6);
  const uint32_t transfers = ledger_.transfer_count();
  const std::pair<uint64_t, int64_t> refunds[] = {{200, 1}, {201, 1}, {202, 10}};
  for (auto [id, amount] : refunds) {
    const wire::Result again = Result(AfterSalesCmd(id, 50, amount));
    EXPECT_EQ(again.code, Code::ok) << id;
    EXPECT_TRUE(wire::IsReplay(again)) << id;
    EXPECT_EQ(again.amount_fen, amount) << id;
    EXPECT_EQ(One(AfterSalesCmd(id, 50, amount + 1)), Code::transfer_exists_with_different_amount);
  }
  EXPECT_EQ(ledger_.transfer_count(), transfers);
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2)}),
            (std::vector<Code>{Code::ok, Code::ok}));
  ASSERT_EQ(One(TransferCmd(
                {.id = 203, .debit = 1, .credit = 2, .amount = 1, .code = 18, .user_data = 50})),
            Code::ok);
  EXPECT_EQ(One(AfterSalesCmd(203, 50, 1)), Code::transfer_exists_with_different_code);
  // The rest, 88: 60 - 7 = 53 to the wallet, 35 to the card; the merchant's wallet (86 left)
  // draws the other 2 on its line.
  EXPECT_EQ(One(AfterSalesCmd(204, 50, 88)), Code::ok);
  EXPECT_EQ(Balance(Wallet(7)), 60);
  EXPECT_EQ(CardOut(), 40);
  EXPECT_EQ(Balance(MerchantWallet(9)), 0);
  const wire::OrderMoneyRecord money = Money(50);
  EXPECT_EQ(money.refunded_fen, 100);
  EXPECT_EQ(money.deposit_refunded_fen, 60);
  EXPECT_EQ(One(AfterSalesCmd(205, 50, 1)), Code::refund_exceeds_paid);
}

// ---- merchant credit ----

TEST_F(LedgerTest, MerchantCreditDrawdownAndWithholding) {
  EXPECT_EQ(One(PartyCmd(wire::kDrawDown, 1, 9, 100)), Code::credit_line_not_found);
  EXPECT_EQ(One(SetLineCmd(9, 50'000, 10'001)), Code::invalid_basis_points);
  EXPECT_EQ(One(SetLineCmd(9, -1, 1'000)), Code::invalid_credit_limit);
  EXPECT_EQ(One(SetLineCmd(9, 50'000, 5'000)), Code::ok);  // withhold half of each settlement
  EXPECT_EQ(One(PartyCmd(wire::kDrawDown, 1, 9, 50'001)), Code::credit_line_limit_exceeded);
  EXPECT_EQ(One(PartyCmd(wire::kDrawDown, 1, 9, 30'000)), Code::ok);
  EXPECT_TRUE(Replayed(PartyCmd(wire::kDrawDown, 1, 9, 30'000)));
  EXPECT_EQ(One(PartyCmd(wire::kDrawDown, 2, 9, 20'001)), Code::credit_line_limit_exceeded);
  EXPECT_EQ(Balance(AccountIdOf(IdSpace::kMerchantWallet, 9)), 30'000);
  EXPECT_EQ(One(PayCmd(50, 7, 9, 10'000, PaymentMethod::kCard)), Code::ok);
  EXPECT_EQ(One(OrderCmd(wire::kConfirmDelivery, 50)), Code::ok);
  wire::MerchantCreditRecord m{};
  ASSERT_EQ(ledger_.LookupMerchantCredit(9, &m), Code::ok);
  EXPECT_EQ(m.withheld_fen, 4'900);  // half of 9800
  EXPECT_EQ(m.outstanding_fen, 30'000 - 4'900);
  EXPECT_EQ(m.wallet_fen, 30'000 + 4'900);
  EXPECT_EQ(One(PartyCmd(wire::kRepayMerchantCredit, 3, 9, 25'101)), Code::repayment_exceeds_outstanding);
  EXPECT_EQ(One(PartyCmd(wire::kRepayMerchantCredit, 3, 9, 25'100)), Code::ok);
  ASSERT_EQ(ledger_.LookupMerchantCredit(9, &m), Code::ok);
  EXPECT_EQ(m.outstanding_fen, 0);
  EXPECT_EQ(m.drawn_fen - m.repaid_fen, m.outstanding_fen);
  EXPECT_EQ(One(PartyCmd(wire::kWithdraw, 4, 9, 9'801)), Code::exceeds_credits);
  EXPECT_EQ(One(PartyCmd(wire::kWithdraw, 4, 9, 9'800)), Code::ok);
  EXPECT_EQ(One(PartyCmd(wire::kWithdraw, 5, 8, 1)), Code::ledger_merchant_not_found);
  EXPECT_EQ(Balance(kBank), 9'800);  // credited: money that left for the outside world
}

// ---- queries ----

TEST_F(LedgerTest, AccountTransfersNewestFirstWithLimit) {
  ASSERT_EQ(Codes({CreateAccountCmd(1), CreateAccountCmd(2), CreateAccountCmd(3)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
  for (uint64_t id = 1; id <= 10; id++) {
    ASSERT_EQ(Transfer(id, id % 2 ? 1 : 2, id % 2 ? 2 : 3, static_cast<int64_t>(id)), Code::ok);
  }
  std::vector<wire::TransferRecord> out(4);
  size_t count = 0;
  ASSERT_EQ(ledger_.AccountTransfers(2, 0, 0, out, &count), Code::ok);
  ASSERT_EQ(count, 4u);
  EXPECT_EQ(out[0].transfer_id, 10u);
  EXPECT_EQ(out[3].transfer_id, 7u);
  // The next pages start after the last one shown, on either side of the account.
  ASSERT_EQ(ledger_.AccountTransfers(2, 0, 7, out, &count), Code::ok);
  ASSERT_EQ(count, 4u);
  EXPECT_EQ(out[0].transfer_id, 6u);
  EXPECT_EQ(out[3].transfer_id, 3u);
  ASSERT_EQ(ledger_.AccountTransfers(2, 0, 3, out, &count), Code::ok);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(out[1].transfer_id, 1u);
  ASSERT_EQ(ledger_.AccountTransfers(2, wire::kQueryCredits, 0, out, &count), Code::ok);
  ASSERT_EQ(count, 4u);
  EXPECT_EQ(out[0].transfer_id, 9u);
  EXPECT_EQ(out[3].transfer_id, 3u);
  ASSERT_EQ(ledger_.AccountTransfers(2, wire::kQueryCredits, 3, out, &count), Code::ok);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0].transfer_id, 1u);
  EXPECT_EQ(ledger_.AccountTransfers(99, 0, 0, out, &count), Code::account_not_found);
  EXPECT_EQ(ledger_.AccountTransfers(2, 4, 0, out, &count), Code::invalid_query);
  EXPECT_EQ(ledger_.AccountTransfers(2, 0, 77, out, &count), Code::transfer_not_found);
  ASSERT_EQ(Codes({CreateAccountCmd(4), CreateAccountCmd(5)}), (std::vector<Code>{Code::ok, Code::ok}));
  ASSERT_EQ(Transfer(11, 4, 5, 1), Code::ok);
  EXPECT_EQ(ledger_.AccountTransfers(2, 0, 11, out, &count), Code::invalid_query);  // not account 2's
}

// ---- capacity ----

TEST(LedgerCapacity, TransfersReservedForSettlement) {
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 10;
  Ledger ledger(config);
  // Each payment takes 1 transfer and reserves 6 (room for 2 + 6 asked): the second cannot
  // fit (1 + 6 + 8 > 10).
  EXPECT_EQ(ledger.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  EXPECT_EQ(ledger.PayOrder(2, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::transfers_full);
  EXPECT_EQ(ledger.ConfirmDelivery(1, 2), Code::ok);  // the reservation makes this safe
  EXPECT_EQ(ledger.transfer_count(), 3u);             // payment, commission, net
}

TEST(LedgerCapacity, PartialReturnFitsTheReservation) {
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 8;  // exactly one payment and its reservation
  Ledger ledger(config);
  EXPECT_EQ(ledger.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  // A refund of 40 and the settlement of the other 60 use the reservation, never more.
  EXPECT_EQ(ledger.ReturnOrder(1, 40, 2), Code::ok);
  EXPECT_EQ(ledger.transfer_count(), 4u);  // payment, refund, commission, net
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(ledger.LookupOrderMoney(1, &money), Code::ok);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.refunded_fen, 40);
  EXPECT_EQ(money.commission_fen + money.merchant_net_fen, 60);
  EXPECT_EQ(ledger.ReturnOrder(1, 61, 3), Code::refund_exceeds_paid);
}

TEST(LedgerCapacity, SubsidisedPaymentReservesOneMore) {
  // Payment, buyer fee and subsidy legs asked, and 7 reserved: 10 (an unsubsidised one, 8).
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 9;
  Ledger nine(config);
  EXPECT_EQ(nine.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1, 0, 10), Code::transfers_full);
  EXPECT_EQ(nine.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  config.transfer_count_max = 10;
  Ledger ten(config);
  EXPECT_EQ(ten.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1, 0, 10), Code::ok);
  EXPECT_EQ(ten.transfer_count(), 2u);  // the buyer's payment and the subsidy
  EXPECT_EQ(ten.ConfirmDelivery(1, 2), Code::ok);
}

// A partial return of a subsidised instalment order with every leg there is — repaid money
// back, the subsidy's share, the refund, commission, merchant fee, withheld, net — fits the
// order's reservation when every other transfer slot is taken.
TEST(LedgerCapacity, SubsidisedPartialReturnFitsTheReservation) {
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 64;
  Ledger ledger(config);
  const uint64_t now = 1;
  auto setup = ApplyAll(ledger,
                        {SetLineCmd(9, 100'000, 5'000), PartyCmd(wire::kDrawDown, 1, 9, 10'000),
                         SetBuyerLimitCmd(7, 1'000'000), PartyCmd(wire::kDeposit, 2, 7, 100'000),
                         PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentMerchantFee, 3, 2'000),
                         RepayCmd(3, 50, 0), CreateAccountCmd(1), CreateAccountCmd(2)},
                        now);
  for (const wire::Result& r : setup) ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
  uint64_t id = 100;
  // Every other slot taken by user transfers, until the table says it is full.
  for (Code code = Code::ok; code == Code::ok; id++) {
    code = ApplyAll(ledger, {TransferCmd({.id = id, .debit = 1, .credit = 2, .amount = 1})}, now)[0]
               .code;
  }
  const uint32_t before = ledger.transfer_count();
  EXPECT_EQ(before, config.transfer_count_max - 7);
  EXPECT_EQ(ledger.ReturnOrder(50, 5'000, now), Code::ok);
  EXPECT_EQ(ledger.transfer_count(), before + 7);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(ledger.LookupOrderMoney(50, &money), Code::ok);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.subsidy_refunded_fen, 1'000);
  EXPECT_GT(money.withheld_fen, 0);
  EXPECT_GT(money.merchant_fee_fen, 0);
}

TEST(LedgerCapacity, PaymentWithADepositReservesOneMore) {
  // The deposit: 1 transfer and 6 reserved. The payment carrying it gives those 6 back, asks
  // room for its 2 legs and reserves 7: 1 + 2 + 7 = 10.
  const uint64_t deposit = (uint64_t{1} << 55) + 1;
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 9;
  Ledger nine(config);
  ASSERT_EQ(nine.PayOrder(deposit, 7, 9, 10, PaymentMethod::kCard, 0, 1), Code::ok);
  EXPECT_EQ(nine.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1, 0, 0, deposit),
            Code::transfers_full);
  config.transfer_count_max = 10;
  Ledger ten(config);
  ASSERT_EQ(ten.PayOrder(deposit, 7, 9, 10, PaymentMethod::kCard, 0, 1), Code::ok);
  EXPECT_EQ(ten.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1, 0, 0, deposit), Code::ok);
  EXPECT_EQ(ten.transfer_count(), 2u);
  EXPECT_EQ(ten.RefundOrder(1, 2), Code::ok);  // the deposit's leg and the card's
  EXPECT_EQ(ten.transfer_count(), 4u);
}

// A partial return of an instalment order carrying a deposit with every leg there is — the
// deposit's share, repaid money back, the refund, commission, merchant fee, withheld, net —
// fits the order's reservation when every other transfer slot is taken.
TEST(LedgerCapacity, PartialReturnWithADepositFitsTheReservation) {
  LedgerConfig config = SmallConfig();
  config.transfer_count_max = 64;
  Ledger ledger(config);
  const uint64_t now = 1;
  const uint64_t deposit = (uint64_t{1} << 55) + 1;
  auto setup =
      ApplyAll(ledger,
               {SetLineCmd(9, 100'000, 5'000), PartyCmd(wire::kDrawDown, 1, 9, 10'000),
                SetBuyerLimitCmd(7, 1'000'000), PartyCmd(wire::kDeposit, 2, 7, 100'000),
                PayCmd(deposit, 7, 9, 2'000, PaymentMethod::kBalance),
                PayCmd(50, 7, 9, 10'000, PaymentMethod::kInstalmentMerchantFee, 3, 0, deposit),
                RepayCmd(3, 50, 0), CreateAccountCmd(1), CreateAccountCmd(2)},
               now);
  for (const wire::Result& r : setup) ASSERT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
  uint64_t id = 100;
  for (Code code = Code::ok; code == Code::ok; id++) {
    code = ApplyAll(ledger, {TransferCmd({.id = id, .debit = 1, .credit = 2, .amount = 1})}, now)[0]
               .code;
  }
  const uint32_t before = ledger.transfer_count();
  EXPECT_EQ(before, config.transfer_count_max - 7);
  EXPECT_EQ(ledger.ReturnOrder(50, 5'000, now), Code::ok);
  EXPECT_EQ(ledger.transfer_count(), before + 7);
  wire::OrderMoneyRecord money{};
  ASSERT_EQ(ledger.LookupOrderMoney(50, &money), Code::ok);
  EXPECT_EQ(money.state, wire::OrderMoneyState::kSettled);
  EXPECT_EQ(money.deposit_refunded_fen, 1'000);
  EXPECT_GT(money.withheld_fen, 0);
  EXPECT_GT(money.merchant_fee_fen, 0);
}

TEST(LedgerCapacity, OrdersFull) {
  LedgerConfig config = SmallConfig();
  config.order_count_max = 1;
  Ledger ledger(config);
  EXPECT_EQ(ledger.PayOrder(1, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  EXPECT_EQ(ledger.PayOrder(2, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ledger_orders_full);
}

TEST(LedgerDigest, FailedChainLeavesNoTrace) {
  Ledger a(SmallConfig());
  Ledger b(SmallConfig());
  ApplyAll(a, {CreateAccountCmd(1), CreateAccountCmd(2, kDmnec)}, 1);
  ApplyAll(b, {CreateAccountCmd(1), CreateAccountCmd(2, kDmnec)}, 1);
  auto r = ApplyAll(b, {PartyCmd(wire::kDeposit, 5, 77, 10), PayCmd(3, 78, 79, 5, PaymentMethod::kBalance),
                        CreateAccountCmd(3, wire::kAccountLinked),
                        TransferCmd({.id = 4, .debit = 2, .credit = 1, .amount = 1})},
                    1);
  EXPECT_EQ(r[1].code, Code::exceeds_credits);  // buyer 78 and merchant 79 were not kept
  EXPECT_EQ(r[3].code, Code::exceeds_credits);
  ApplyAll(a, {PartyCmd(wire::kDeposit, 5, 77, 10)}, 1);
  Digester da;
  Digester db;
  a.Digest(da);
  b.Digest(db);
  EXPECT_EQ(da.Finish(), db.Finish());
}

}  // namespace
}  // namespace eleven::engine
