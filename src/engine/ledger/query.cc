// Ledger queries: read-only views of the state as wire records. Bounded: the only walk is an
// account's transfer list, cut at the caller's limit (at most kAccountTransfersMax).
#include "base/assert.h"
#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_internal.h"

namespace eleven::engine {

using wire::Code;

namespace {

wire::AccountRecord ToRecord(const Ledger::Account& a) {
  wire::AccountRecord r{};
  r.account_id = a.id;
  r.user_data = a.user_data;
  r.debits_pending_fen = a.debits_pending;
  r.debits_posted_fen = a.debits_posted;
  r.credits_pending_fen = a.credits_pending;
  r.credits_posted_fen = a.credits_posted;
  r.ledger = a.ledger;
  r.code = a.code;
  r.flags = a.flags;
  r.created_at_us = a.created_at_us;
  ELEVEN_DASSERT(r.debits_pending_fen >= 0 && r.credits_pending_fen >= 0);
  return r;
}

}  // namespace

wire::AccountRecord Ledger::AccountAt(uint32_t index) const {
  ELEVEN_ASSERT(index < account_count_);
  return ToRecord(accounts_[index]);
}

Code Ledger::LookupAccount(uint64_t account_id, wire::AccountRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = account_index_.Find(account_id);
  if (index == kNoValue) return Code::account_not_found;
  *out = ToRecord(accounts_[index]);
  return Code::ok;
}

static wire::TransferRecord TransferToRecord(const Ledger::Transfer& t,
                                             const Ledger::Account* accounts) {
  wire::TransferRecord r{};
  r.transfer_id = t.id;
  r.debit_account_id = accounts[t.debit].id;
  r.credit_account_id = accounts[t.credit].id;
  r.amount_fen = t.amount;
  r.pending_id = t.pending_id;
  r.user_data = t.user_data;
  r.created_at_us = t.created_at_us;
  r.expires_at_us = t.expires_at_us;
  r.posted_fen = t.posted;
  r.ledger = t.ledger;
  r.code = t.code;
  r.flags = t.flags;
  r.state = t.state;
  ELEVEN_DASSERT(r.debit_account_id != r.credit_account_id);
  return r;
}

Code Ledger::LookupTransfer(uint64_t transfer_id, wire::TransferRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = transfer_index_.Find(transfer_id);
  if (index == kNoValue) return Code::transfer_not_found;
  *out = TransferToRecord(transfers_[index], accounts_.get());
  return Code::ok;
}

Code Ledger::AccountTransfers(uint64_t account_id, uint8_t flags, uint64_t after_id,
                              std::span<wire::TransferRecord> out, size_t* count) const {
  ELEVEN_ASSERT(count != nullptr);
  *count = 0;
  if ((flags & ~(wire::kQueryDebits | wire::kQueryCredits)) != 0 || out.empty() ||
      out.size() > wire::kAccountTransfersMax) {
    return Code::invalid_query;
  }
  uint32_t account = account_index_.Find(account_id);
  if (account == kNoValue) return Code::account_not_found;
  const bool debits = flags == 0 || (flags & wire::kQueryDebits);
  const bool credits = flags == 0 || (flags & wire::kQueryCredits);
  uint32_t index = accounts_[account].transfer_head;
  if (after_id != 0) {  // a page after the one that ended with transfer `after_id`
    const uint32_t after = transfer_index_.Find(after_id);
    if (after == kNoValue) return Code::transfer_not_found;
    const Transfer& t = transfers_[after];
    if (t.debit != account && t.credit != account) return Code::invalid_query;
    index = t.debit == account ? t.next_debit : t.next_credit;
  }
  // The list holds every transfer of the account; walk at most until `out` is full. A
  // one-sided query may walk past the other side's transfers: bounded by the account's
  // transfer count, which transfer_count_max bounds.
  while (index != kNone && *count < out.size()) {
    const Transfer& t = transfers_[index];
    const bool is_debit = t.debit == account;
    ELEVEN_DASSERT(is_debit || t.credit == account);
    if (is_debit ? debits : credits) out[(*count)++] = TransferToRecord(t, accounts_.get());
    index = is_debit ? t.next_debit : t.next_credit;
  }
  return Code::ok;
}

wire::OrderMoneyRecord Ledger::OrderAt(uint32_t index) const {
  ELEVEN_ASSERT(index < order_count_);
  const Order& o = orders_[index];
  wire::OrderMoneyRecord r{};
  r.order_id = o.order_id;
  r.buyer_id = buyers_[o.buyer].id;
  r.merchant_id = merchants_[o.merchant].id;
  r.amount_fen = o.amount;
  r.paid_at_us = o.paid_at_us;
  r.closed_at_us = o.closed_at_us;
  r.commission_fen = o.commission;
  r.merchant_fee_fen = o.merchant_fee;
  r.withheld_fen = o.withheld;
  r.merchant_net_fen = o.net;
  r.refunded_fen = o.refunded;
  r.subsidy_fen = o.subsidy;
  r.subsidy_refunded_fen = o.subsidy_refunded;
  r.deposit_fen = o.deposit;
  r.deposit_refunded_fen = o.deposit_refunded;
  r.deposit_id = o.deposit_id;
  r.method = o.method;
  r.instalment_periods = o.periods;
  r.state = o.state;
  ELEVEN_DASSERT(r.state != wire::OrderMoneyState{});
  ELEVEN_DASSERT(r.subsidy_refunded_fen >= 0 && r.subsidy_refunded_fen <= r.subsidy_fen);
  ELEVEN_DASSERT(r.deposit_refunded_fen >= 0 && r.deposit_refunded_fen <= r.deposit_fen);
  return r;
}

Code Ledger::LookupOrderMoney(uint64_t order_id, wire::OrderMoneyRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = order_index_.Find(order_id);
  if (index == kNoValue) return Code::order_payment_not_found;
  *out = OrderAt(index);
  return Code::ok;
}

wire::PlanRecord Ledger::PlanAt(uint32_t index) const {
  ELEVEN_ASSERT(index < plan_count_);
  const Plan& p = plans_[index];
  wire::PlanRecord r{};
  r.order_id = p.order_id;
  r.buyer_id = buyers_[p.buyer].id;
  r.principal_fen = p.principal;
  r.fee_fen = p.fee;
  r.total_fen = p.total;
  r.repaid_fen = p.repaid;
  r.started_at_us = p.started_at_us;
  r.period_us = config_.instalment_period_us;
  r.periods = p.periods;
  r.repaid_count = p.repaid_count;
  r.state = p.state;
  if (p.state == wire::PlanState::kActive) {
    ELEVEN_ASSERT(p.repaid_count < p.periods);
    // Instalment k falls due k periods after the purchase. Overdue is a function of log time.
    r.next_due_us = p.started_at_us + uint64_t{p.repaid_count + 1u} * config_.instalment_period_us;
    if (now_us_ >= r.next_due_us) r.state = wire::PlanState::kOverdue;
  }
  return r;
}

Code Ledger::LookupPlan(uint64_t order_id, wire::PlanRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = order_index_.Find(order_id);
  if (index == kNoValue || orders_[index].plan == kNone) return Code::plan_not_found;
  *out = PlanAt(orders_[index].plan);
  return Code::ok;
}

wire::MerchantCreditRecord Ledger::MerchantAt(uint32_t index) const {
  ELEVEN_ASSERT(index < merchant_count_);
  const Merchant& m = merchants_[index];
  wire::MerchantCreditRecord r{};
  r.merchant_id = m.id;
  r.limit_fen = m.limit;
  r.outstanding_fen = Outstanding(m.loan);
  r.drawn_fen = m.drawn;
  r.repaid_fen = m.repaid;
  r.withheld_fen = m.withheld;
  r.wallet_fen = accounts_[m.wallet].credits_posted - accounts_[m.wallet].debits_posted;
  r.withhold_bp = m.withhold_bp;
  r.has_line = m.has_line;
  ELEVEN_DASSERT(r.outstanding_fen >= 0);
  return r;
}

Code Ledger::LookupMerchantCredit(uint64_t merchant_id, wire::MerchantCreditRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = merchant_index_.Find(merchant_id);
  if (index == kNoValue) return Code::ledger_merchant_not_found;
  *out = MerchantAt(index);
  return Code::ok;
}

Code Ledger::LookupBuyerCredit(uint64_t buyer_id, wire::BuyerCreditRecord* out) const {
  ELEVEN_ASSERT(out != nullptr);
  uint32_t index = buyer_index_.Find(buyer_id);
  if (index == kNoValue) return Code::buyer_not_found;
  const Buyer& b = buyers_[index];
  *out = wire::BuyerCreditRecord{};
  out->buyer_id = b.id;
  out->credit_limit_fen = b.credit_limit;
  out->outstanding_fen = Outstanding(b.receivable);
  out->wallet_fen = Available(b.wallet);
  out->plan_count = b.plan_count;
  return Code::ok;
}

}  // namespace eleven::engine
