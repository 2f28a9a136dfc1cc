// Ledger::NextDueUs: the earliest log time at which Tick changes something — a pending
// transfer's timeout, an order's auto-confirm, an instalment falling due — and at once for work
// a Tick's budget left over; never due when nothing is.
#include <gtest/gtest.h>

#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_test_util.h"

namespace eleven::engine {
namespace {

using testing::ApplyAll;
using testing::CreateAccountCmd;
using testing::SmallConfig;
using testing::TransferCmd;
using wire::Code;
using wire::PaymentMethod;

TEST(LedgerDue, NothingDueInAnEmptyLedger) {
  Ledger ledger(SmallConfig());
  EXPECT_EQ(ledger.NextDueUs(), Ledger::kNeverDue);
}

TEST(LedgerDue, APendingTransferIsDueAtItsTimeout) {
  Ledger ledger(SmallConfig());
  const uint64_t now = 5'000;
  auto r = ApplyAll(ledger,
                    {CreateAccountCmd(1), CreateAccountCmd(2),
                     TransferCmd({.id = 3,
                                  .debit = 2,
                                  .credit = 1,
                                  .amount = 80,
                                  .flags = wire::kTransferPending,
                                  .timeout_us = 1000})},
                    now);
  for (const wire::Result& x : r) ASSERT_EQ(x.code, Code::ok);
  EXPECT_EQ(ledger.NextDueUs(), now + 1000);
  ledger.Tick(now + 999);
  EXPECT_EQ(ledger.NextDueUs(), now + 1000);
  ledger.Tick(now + 1000);
  wire::TransferRecord t{};
  ASSERT_EQ(ledger.LookupTransfer(3, &t), Code::ok);
  EXPECT_EQ(t.state, wire::TransferState::kPendingExpired);
  EXPECT_EQ(ledger.NextDueUs(), Ledger::kNeverDue);
}

TEST(LedgerDue, LeftoverAutoConfirmsAreDueAtOnce) {
  LedgerConfig config = SmallConfig();
  config.settle_per_tick_max = 2;
  Ledger ledger(config);
  for (uint64_t order = 1; order <= 5; order++) {
    ASSERT_EQ(ledger.PayOrder(order, 7, 9, 100, PaymentMethod::kCard, 0, 1), Code::ok);
  }
  const uint64_t due = 1 + config.auto_confirm_us;
  EXPECT_EQ(ledger.NextDueUs(), due);
  int ticks = 0;
  // Each Tick settles two; what is left stays due (at or before the last Tick's time).
  while (ledger.NextDueUs() != Ledger::kNeverDue) {
    ASSERT_LE(ticks, 3) << "a tick made no progress";
    ledger.Tick(due);
    ticks++;
    if (ledger.NextDueUs() != Ledger::kNeverDue) {
      EXPECT_LE(ledger.NextDueUs(), due);
    }
  }
  EXPECT_EQ(ticks, 3);
  for (uint32_t i = 0; i < ledger.order_count(); i++) {
    EXPECT_EQ(ledger.OrderAt(i).state, wire::OrderMoneyState::kSettled);
  }
}

TEST(LedgerDue, AnInstalmentIsDueAtItsDate) {
  LedgerConfig config = SmallConfig();
  config.auto_confirm_us = config.instalment_period_us / 2;
  Ledger ledger(config);
  ASSERT_EQ(ApplyAll(ledger, {testing::SetBuyerLimitCmd(7, 1'000'000)}, 1)[0].code, Code::ok);
  const uint64_t paid = 10;
  ASSERT_EQ(ledger.PayOrder(50, 7, 9, 90'000, PaymentMethod::kInstalmentMerchantFee, 3, paid),
            Code::ok);
  // The auto-confirm comes first, then the first instalment.
  EXPECT_EQ(ledger.NextDueUs(), paid + config.auto_confirm_us);
  ledger.Tick(paid + config.auto_confirm_us);
  const uint64_t first = paid + config.instalment_period_us;
  EXPECT_EQ(ledger.NextDueUs(), first);
  ledger.Tick(first);
  wire::PlanRecord p{};
  ASSERT_EQ(ledger.LookupPlan(50, &p), Code::ok);
  EXPECT_EQ(p.state, wire::PlanState::kOverdue);
  // Overdue stays overdue until repaid: nothing more is due.
  EXPECT_EQ(ledger.NextDueUs(), Ledger::kNeverDue);
  ASSERT_EQ(
      ApplyAll(ledger,
               {testing::PartyCmd(wire::kDeposit, 2, 7, 100'000), testing::RepayCmd(1, 50, 1)},
               first)[1]
          .code,
      Code::ok);
  EXPECT_EQ(ledger.NextDueUs(), paid + 2 * config.instalment_period_us);
}

}  // namespace
}  // namespace eleven::engine
