// Returns, cancellations after payment and after-sales refunds on the ledger: the refund of a
// paid order's returned share before its settlement, of a whole paid order, and of part of a
// settled order from the merchant's wallet (drawing on its credit line when the wallet is
// short). The accounts and transfers each step makes are listed in docs/returns.md.
#include <algorithm>

#include "base/assert.h"
#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_internal.h"

namespace eleven::engine {

using wire::Code;
using wire::OrderMoneyState;
using wire::PaymentMethod;

namespace {

constexpr uint32_t kCardClearing = static_cast<uint32_t>(SystemAccount::kCardClearing) - 1;
constexpr uint32_t kEscrow = static_cast<uint32_t>(SystemAccount::kEscrow) - 1;
constexpr uint32_t kMarketing = static_cast<uint32_t>(SystemAccount::kMarketing) - 1;
// An after-sales refund makes at most: a draw down, repaid money back, the refund; and the
// subsidy's share back to the marketing account, or a carried deposit's share back the
// deposit's way, when the order had one.
constexpr uint32_t kAfterSalesTransferCount = 3;
constexpr uint32_t kIdSpaceMerchantWallet = static_cast<uint32_t>(IdSpace::kMerchantWallet);

bool ValidPartyId(uint64_t id) { return id != 0 && id < wire::kUserIdLimit; }

}  // namespace

template <typename Body>
Code Ledger::Atomically(uint64_t now_us, Body body) {
  ELEVEN_ASSERT(undo_count_ == 0);
  BeginAtomic(now_us);
  const Code code = body();
  if (code == Code::ok) {
    Commit();
  } else {
    Rollback();
  }
  ELEVEN_ASSERT(undo_count_ == 0);
  return code;
}

Code Ledger::ReturnOrder(uint64_t order_id, int64_t refund_fen, uint64_t now_us) {
  return Atomically(now_us, [&] {
    const uint32_t index = order_index_.Find(order_id);
    if (index == kNoValue) return Code::order_payment_not_found;
    const Order& o = orders_[index];
    if (o.state == OrderMoneyState::kRefunded) return Code::order_already_refunded;
    if (o.state == OrderMoneyState::kConverted) return Code::deposit_converted;
    if (refund_fen < 0 || refund_fen > o.amount - o.refunded) return Code::refund_exceeds_paid;
    if (o.state == OrderMoneyState::kPaid) return DoReturn(index, refund_fen);
    // Settled first (auto-confirm came before the parcels did): the merchant gives it back.
    return refund_fen == 0 ? Code::ok : RefundSettled(index, refund_fen, 0);
  });
}

Code Ledger::CancelPaidOrder(uint64_t order_id, uint64_t now_us) {
  return Atomically(now_us, [&] {
    const uint32_t index = order_index_.Find(order_id);
    if (index == kNoValue) return Code::order_payment_not_found;
    const Order& o = orders_[index];
    if (o.state == OrderMoneyState::kConverted) return Code::deposit_converted;
    const int64_t left = o.amount - o.refunded;
    if (o.state == OrderMoneyState::kRefunded || left == 0) return Code::order_already_refunded;
    if (o.state == OrderMoneyState::kPaid) return DoReturn(index, left);
    return RefundSettled(index, left, 0);
  });
}

// A paid order whose parcels are all back or delivered: refund the returned share from
// escrow, settle the rest.
Code Ledger::DoReturn(uint32_t order_index, int64_t refund_fen) {
  const Order& o = orders_[order_index];
  ELEVEN_ASSERT(o.state == OrderMoneyState::kPaid && o.refunded == 0);
  ELEVEN_ASSERT(refund_fen >= 0 && refund_fen <= o.amount);
  if (refund_fen == o.amount) {
    wire::Result ignored{};
    return DoRefund(o.order_id, &ignored);
  }
  if (refund_fen == 0) return Settle(order_index);
  // The legs below use the refund part of the order's reservation; Settle releases the rest
  // (it sees refunded > 0).
  const uint32_t reserve = OrderTransferReserve(o);
  ELEVEN_ASSERT(transfers_reserved_ >= reserve && reserve > kSettleTransferCount);
  SaveReserved();
  transfers_reserved_ -= reserve - kSettleTransferCount;
  const Code code = RefundPart(order_index, kEscrow, refund_fen, 0, MoneyCode::kRefund);
  if (code != Code::ok) return code;
  return Settle(order_index);
}

Code Ledger::ReturnSubsidy(uint32_t order_index, uint32_t source, int64_t refund_fen,
                           uint64_t last_id, int64_t* returned_fen) {
  Order& o = orders_[order_index];
  // Cumulative, so rounding never drifts: after this refund the marketing account has had
  // back floor(subsidy * refunded / amount) in all.
  const int64_t share = NextProRataShare(o.subsidy, o.subsidy_refunded, o.refunded, refund_fen, o.amount);
  *returned_fen = share;
  if (share == 0) return Code::ok;
  const uint64_t id = last_id == 0 ? 0 : share == refund_fen ? last_id : kSubsidyLegTag | last_id;
  const Code code = Move(source, kMarketing, share, id, o.order_id, MoneyCode::kSubsidyReturned);
  if (code != Code::ok) return code;
  o.subsidy_refunded += share;
  return Code::ok;
}

Code Ledger::ReturnDeposit(uint32_t order_index, uint32_t source, int64_t refund_fen,
                           uint64_t last_id, int64_t* returned_fen) {
  Order& o = orders_[order_index];
  // Cumulative like the subsidy's: after this refund the deposit's way has had
  // floor(deposit * refunded / amount) in all.
  const int64_t share = NextProRataShare(o.deposit, o.deposit_refunded, o.refunded, refund_fen, o.amount);
  *returned_fen = share;
  if (share == 0) return Code::ok;
  ELEVEN_ASSERT(o.subsidy == 0);  // one pro-rata source per order, so the leg ids never meet
  const uint64_t id = last_id == 0 ? 0 : share == refund_fen ? last_id : kDepositLegTag | last_id;
  // Back the way the deposit was paid: its buyer's wallet, or the card.
  ELEVEN_ASSERT(o.deposit_method == PaymentMethod::kBalance ||
                o.deposit_method == PaymentMethod::kCard);
  const uint32_t back_to =
      o.deposit_method == PaymentMethod::kBalance ? buyers_[o.buyer].wallet : kCardClearing;
  const Code code = Move(source, back_to, share, id, o.order_id, MoneyCode::kDepositRefund);
  if (code != Code::ok) return code;
  o.deposit_refunded += share;
  return Code::ok;
}

Code Ledger::RefundPart(uint32_t order_index, uint32_t source, int64_t refund_fen, uint64_t last_id,
                        MoneyCode code) {
  Order& o = orders_[order_index];
  ELEVEN_ASSERT(refund_fen > 0 && refund_fen <= o.amount - o.refunded);
  ELEVEN_ASSERT(o.state != OrderMoneyState::kRefunded);
  SaveOrder(order_index);
  // The subsidy's or the deposit's share first, so the leg the way this payment was made
  // (carrying last_id) is the refund's last.
  int64_t subsidy_back = 0;
  int64_t deposit_back = 0;
  Code returned = ReturnSubsidy(order_index, source, refund_fen, last_id, &subsidy_back);
  if (returned == Code::ok) {
    returned = ReturnDeposit(order_index, source, refund_fen, last_id, &deposit_back);
  }
  if (returned != Code::ok) return returned;
  o.refunded += refund_fen;
  const int64_t buyer_fen = refund_fen - subsidy_back - deposit_back;
  ELEVEN_ASSERT(buyer_fen >= 0 && (subsidy_back == 0 || deposit_back == 0));
  // All of it was the subsidy's or the deposit's (whose leg took last_id).
  if (buyer_fen == 0) return Code::ok;
  const Buyer& b = buyers_[o.buyer];
  if (o.method == PaymentMethod::kBalance) {
    return Move(source, b.wallet, buyer_fen, last_id, o.order_id, code);
  }
  if (o.method == PaymentMethod::kCard) {
    return Move(source, kCardClearing, buyer_fen, last_id, o.order_id, code);
  }
  return ReducePlan(order_index, source, buyer_fen, last_id, code);
}

// Part of an instalment purchase refunded: the buyer owes that much less on the plan; what
// was already repaid beyond the new total goes back to the wallet.
Code Ledger::ReducePlan(uint32_t order_index, uint32_t source, int64_t refund_fen, uint64_t last_id,
                        MoneyCode code) {
  const Order& o = orders_[order_index];
  ELEVEN_ASSERT(o.plan != kNone && o.plan < plan_count_);
  Plan& pl = plans_[o.plan];
  ELEVEN_ASSERT(pl.order_id == o.order_id && pl.state != wire::PlanState::kCancelled);
  ELEVEN_ASSERT(pl.principal >= refund_fen);
  const Buyer& b = buyers_[o.buyer];
  const int64_t left = pl.state == wire::PlanState::kActive ? pl.total - pl.repaid : 0;
  ELEVEN_ASSERT(left >= 0);
  const int64_t back = refund_fen > left ? refund_fen - left : 0;  // repaid money returned
  Code moved = Code::ok;
  if (back > 0) moved = Move(b.receivable, b.wallet, back, 0, o.order_id, MoneyCode::kRefundRepaid);
  if (moved == Code::ok) moved = Move(source, b.receivable, refund_fen, last_id, o.order_id, code);
  if (moved != Code::ok) return moved;
  SavePlan(o.plan);
  pl.principal -= refund_fen;
  pl.total -= refund_fen;
  pl.repaid -= back;
  const int64_t owed = pl.total - pl.repaid;
  ELEVEN_ASSERT(owed >= 0 && pl.repaid >= 0);
  if (owed == 0) {
    pl.state = wire::PlanState::kRepaid;
  } else if (owed < pl.periods - pl.repaid_count) {
    // At least one fen an instalment: fewer instalments than periods left.
    pl.periods = static_cast<uint8_t>(pl.repaid_count + owed);
  }
  return Code::ok;
}

Code Ledger::FundFromMerchant(uint32_t merchant_index, int64_t amount_fen) {
  Merchant& m = merchants_[merchant_index];
  ELEVEN_ASSERT(amount_fen > 0);
  const int64_t have = Available(m.wallet);
  if (have >= amount_fen) return Code::ok;
  const int64_t shortfall = amount_fen - std::max<int64_t>(have, 0);
  // owed <= limit is not guaranteed (limits may be lowered), so compare without subtracting.
  if (!m.has_line || Outstanding(m.loan) + shortfall > m.limit) return Code::refund_unfundable;
  const Code code = Move(m.loan, m.wallet, shortfall, 0, m.id, MoneyCode::kDrawDown);
  if (code != Code::ok) return code;
  SaveMerchant(merchant_index);
  m.drawn += shortfall;
  return Code::ok;
}

Code Ledger::RefundSettled(uint32_t order_index, int64_t refund_fen, uint64_t last_id) {
  const Order& o = orders_[order_index];
  ELEVEN_ASSERT(o.state == OrderMoneyState::kSettled && refund_fen > 0);
  const uint32_t legs_max = kAfterSalesTransferCount + (o.subsidy > 0 || o.deposit > 0 ? 1 : 0);
  if (!TransferRoom(legs_max)) return Code::transfers_full;
  Code code = FundFromMerchant(o.merchant, refund_fen);
  if (code != Code::ok) return code;
  return RefundPart(order_index, merchants_[o.merchant].wallet, refund_fen, last_id,
                    MoneyCode::kAfterSalesRefund);
}

int64_t Ledger::AfterSalesAmount(uint32_t existing) const {
  ELEVEN_ASSERT(existing < transfer_count_);
  const Transfer& e = transfers_[existing];
  // The refund's id is on the buyer's leg (the way this payment was made), and the subsidy's
  // or a carried deposit's share, if any, on its tagged leg; or, when that way got nothing,
  // all of it is on the subsidy's or the deposit's leg.
  if (e.code != static_cast<uint16_t>(MoneyCode::kAfterSalesRefund)) return e.amount;
  ELEVEN_DASSERT(e.id < wire::kUserIdLimit);
  const uint32_t subsidy_leg = transfer_index_.Find(kSubsidyLegTag | e.id);
  if (subsidy_leg != kNoValue) {
    ELEVEN_ASSERT(transfers_[subsidy_leg].code ==
                  static_cast<uint16_t>(MoneyCode::kSubsidyReturned));
    return e.amount + transfers_[subsidy_leg].amount;
  }
  const uint32_t deposit_leg = transfer_index_.Find(kDepositLegTag | e.id);
  if (deposit_leg != kNoValue) {
    ELEVEN_ASSERT(transfers_[deposit_leg].code == static_cast<uint16_t>(MoneyCode::kDepositRefund));
    return e.amount + transfers_[deposit_leg].amount;
  }
  return e.amount;
}

Code Ledger::AfterSalesExists(const wire::AfterSalesRefund& r, uint32_t existing) const {
  const Transfer& e = transfers_[existing];
  ELEVEN_DASSERT(e.id == r.refund_id);
  if (e.flags != 0) return Code::transfer_exists_with_different_flags;
  const bool buyer_leg = e.code == static_cast<uint16_t>(MoneyCode::kAfterSalesRefund);
  const bool subsidy_leg =
      e.code == static_cast<uint16_t>(MoneyCode::kSubsidyReturned) && e.credit == kMarketing;
  // A deposit's share with the refund's id came out of the merchant's wallet.
  const bool deposit_leg = e.code == static_cast<uint16_t>(MoneyCode::kDepositRefund) &&
                           (accounts_[e.debit].id >> wire::kIdSpaceShift) == kIdSpaceMerchantWallet;
  if (!buyer_leg && !subsidy_leg && !deposit_leg) return Code::transfer_exists_with_different_code;
  if (e.user_data != r.order_id) return Code::transfer_exists_with_different_user_data;
  if (AfterSalesAmount(existing) != r.amount_fen) {
    return Code::transfer_exists_with_different_amount;
  }
  return Code::transfer_exists;
}

Code Ledger::DoAfterSalesRefund(const wire::AfterSalesRefund& r, wire::Result* result) {
  result->id = r.refund_id;
  if (r.refund_id == 0) return Code::invalid_id;
  if (r.refund_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidPartyId(r.order_id)) return Code::invalid_id;
  if (r.amount_fen <= 0 || r.amount_fen > wire::kLedgerAmountMaxFen) return Code::invalid_amount;
  const uint32_t existing = transfer_index_.Find(r.refund_id);
  if (existing != kNoValue) {
    result->amount_fen = AfterSalesAmount(existing);
    return AfterSalesExists(r, existing);
  }
  const uint32_t index = order_index_.Find(r.order_id);
  if (index == kNoValue) return Code::order_payment_not_found;
  const Order& o = orders_[index];
  if (o.state == OrderMoneyState::kRefunded) return Code::order_already_refunded;
  if (o.state == OrderMoneyState::kConverted) return Code::deposit_converted;
  if (o.state != OrderMoneyState::kSettled) return Code::order_not_settled;
  ELEVEN_ASSERT(now_us_ >= o.closed_at_us);
  if (now_us_ - o.closed_at_us > config_.after_sales_window_us) return Code::refund_window_closed;
  if (r.amount_fen > o.amount - o.refunded) return Code::refund_exceeds_paid;
  const Code code = RefundSettled(index, r.amount_fen, r.refund_id);
  if (code != Code::ok) return code;
  result->amount_fen = r.amount_fen;
  result->state = static_cast<wire::OrderState>(o.state);
  return Code::ok;
}

}  // namespace eleven::engine
