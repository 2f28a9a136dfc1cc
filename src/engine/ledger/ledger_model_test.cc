// Randomised model-based test: random batches of ledger commands (valid and invalid, linked
// chains, log time moving on) go to the Ledger and to a small reference model built on
// std::map that applies a chain by copying its whole state and throwing the copy away on
// failure. Every result code must match (and every field of successful results); after every
// batch, every account's balances must match and the invariants hold: total debits equal
// total credits (pending and posted), no account breaks its flags, escrow equals the money
// of paid-but-unsettled orders, every instalment schedule sums to principal plus fee, every
// loan's outstanding equals drawdowns less repayments, the marketing account is out exactly
// the subsidies not yet returned and each order's returned subsidy is floor(S * R / A), each
// pre-sale deposit carried into an order's payment is converted (holding nothing of its own)
// and the part of it refunded is floor(D * R / A). A
// second Ledger fed the same batches must give byte-identical results and an equal digest
// (determinism).
//
// Prints its seed; ELEVEN_SEED=<n> replays the run with that seed; ELEVEN_LONG=1 runs many
// more; ELEVEN_VERBOSE=1 prints every run's seed (an assertion in the Ledger aborts the process).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_test_util.h"

namespace eleven::engine {
namespace {

using namespace eleven::engine::testing;
using wire::Code;
using wire::PaymentMethod;

// ---- the reference model -------------------------------------------------------------------

struct MAccount {
  uint64_t user_data = 0;
  int64_t dp = 0, dpo = 0, cp = 0, cpo = 0;
  uint32_t ledger = 0;
  uint16_t code = 0;
  uint8_t flags = 0;
  uint64_t created = 0;  // log time: a replay's at_us
};
struct MTransfer {
  uint64_t dr = 0, cr = 0;  // account ids
  int64_t amount = 0;
  uint64_t pending_id = 0, timeout = 0, user_data = 0, expires_at = 0;
  uint32_t ledger = 0;
  uint16_t code = 0;
  uint8_t flags = 0;
  wire::TransferState state{};
  uint32_t index = 0;
  uint64_t created = 0;
};
struct MOrder {
  uint64_t buyer = 0, merchant = 0, paid_at = 0;
  int64_t amount = 0, merchant_fee = 0;
  PaymentMethod method{};
  uint8_t periods = 0;
  wire::OrderMoneyState state{};
  int64_t refunded = 0;
  uint64_t closed_at = 0;  // settled or refunded
  int64_t subsidy = 0, subsidy_refunded = 0;
  // A carried pre-sale deposit, and on a converted deposit the order that took it.
  int64_t deposit = 0, deposit_refunded = 0;
  uint64_t deposit_id = 0;
  PaymentMethod deposit_method{};
};
// Transfers a paid order keeps reserved: its refund and settlement legs, and the subsidy's or
// the deposit's.
int64_t Reserve(const MOrder& o) { return o.subsidy > 0 || o.deposit > 0 ? 7 : 6; }
struct MPlan {
  uint64_t buyer = 0;
  int64_t principal = 0, fee = 0, repaid = 0;
  uint8_t periods = 0, repaid_count = 0;
  wire::PlanState state{};
  bool reduced = false;  // a partial refund changed its schedule
};
struct MMerchant {
  bool line = false;
  int64_t limit = 0, drawn = 0, repaid = 0;
  uint16_t bp = 0;
};

struct Model {
  LedgerConfig config;
  uint64_t now = 0;
  std::map<uint64_t, MAccount> accounts;
  std::map<uint64_t, MTransfer> transfers;
  uint32_t transfer_count = 0;  // includes generated transfers
  int64_t reserved = 0;
  std::map<uint64_t, int64_t> buyers;  // id -> credit limit
  std::map<uint64_t, MMerchant> merchants;
  std::map<uint64_t, MOrder> orders;
  std::vector<uint64_t> order_seq;  // payment order
  size_t settle_cursor = 0;
  std::map<uint64_t, MPlan> plans;  // by order id
  std::set<std::pair<uint64_t, uint32_t>> expiries;  // (expires_at, index) -> transfer by index
  std::map<uint32_t, uint64_t> id_of_index;
  std::map<uint64_t, int64_t> after_sales;  // refund id -> the amount refunded

  explicit Model(const LedgerConfig& c) : config(c) {
    const uint8_t flags[] = {0, 0, wire::kDebitsMustNotExceedCredits,
                             wire::kDebitsMustNotExceedCredits, wire::kDebitsMustNotExceedCredits, 0};
    for (uint8_t i = 1; i <= 6; i++) {
      accounts[SystemAccountId(SystemAccount(i))] = MAccount{0, 0, 0, 0, 0, wire::kLedgerCny, i, flags[i - 1]};
    }
  }
  uint64_t Sys(SystemAccount a) const { return SystemAccountId(a); }
  bool Room(uint32_t n) const { return transfer_count + reserved + n <= config.transfer_count_max; }
};

Code ModelBalances(const MAccount& d, const MAccount& c, int64_t amount, bool pending) {
  int64_t s;
  if (pending) {
    if (__builtin_add_overflow(d.dp, amount, &s)) return Code::overflows_debits_pending;
    if (__builtin_add_overflow(c.cp, amount, &s)) return Code::overflows_credits_pending;
  } else {
    if (__builtin_add_overflow(d.dpo, amount, &s)) return Code::overflows_debits_posted;
    if (__builtin_add_overflow(c.cpo, amount, &s)) return Code::overflows_credits_posted;
  }
  if ((d.flags & wire::kDebitsMustNotExceedCredits) && d.dp + d.dpo + amount > d.cpo) return Code::exceeds_credits;
  if ((c.flags & wire::kCreditsMustNotExceedDebits) && c.cp + c.cpo + amount > c.dpo) return Code::exceeds_debits;
  return Code::ok;
}

// A posted move between two existing accounts; the model of Ledger::Move.
Code ModelMove(Model& m, uint64_t dr, uint64_t cr, int64_t amount, uint64_t id, uint64_t user_data,
               MoneyCode code) {
  if (!m.Room(1)) return Code::transfers_full;
  Code b = ModelBalances(m.accounts[dr], m.accounts[cr], amount, false);
  if (b != Code::ok) return b;
  m.accounts[dr].dpo += amount;
  m.accounts[cr].cpo += amount;
  uint32_t index = m.transfer_count++;
  if (id == 0) id = kGeneratedTransferTag | index;
  MTransfer t;
  t.dr = dr;
  t.cr = cr;
  t.amount = amount;
  t.user_data = user_data;
  t.ledger = wire::kLedgerCny;
  t.code = static_cast<uint16_t>(code);
  t.state = wire::TransferState::kPosted;
  t.index = index;
  t.created = m.now;
  m.transfers[id] = t;
  m.id_of_index[index] = id;
  return Code::ok;
}

bool ValidId(uint64_t id) { return id != 0 && id < wire::kUserIdLimit; }
bool ValidAmount(int64_t a) { return a > 0 && a <= wire::kLedgerAmountMaxFen; }
int64_t Bp(int64_t a, uint16_t bp) { return a * bp / 10'000; }

Code ModelCreateAccount(Model& m, const wire::CreateAccount& a) {
  if (a.flags & ~wire::kAccountFlagsAll) return Code::invalid_account_flags;
  if (a.account_id == 0) return Code::invalid_id;
  if (a.account_id >= wire::kUserIdLimit) return Code::id_reserved;
  if ((a.flags & 2) && (a.flags & 4)) return Code::account_flags_are_mutually_exclusive;
  if (a.ledger == 0) return Code::ledger_must_not_be_zero;
  if (a.code == 0) return Code::code_must_not_be_zero;
  auto it = m.accounts.find(a.account_id);
  if (it != m.accounts.end()) {
    const MAccount& e = it->second;
    if (e.flags != a.flags) return Code::account_exists_with_different_flags;
    if (e.user_data != a.user_data) return Code::account_exists_with_different_user_data;
    if (e.ledger != a.ledger) return Code::account_exists_with_different_ledger;
    if (e.code != a.code) return Code::account_exists_with_different_code;
    return Code::account_exists;
  }
  if (m.accounts.size() == m.config.account_count_max) return Code::accounts_full;
  m.accounts[a.account_id] = MAccount{a.user_data, 0, 0, 0, 0, a.ledger, a.code, a.flags, m.now};
  return Code::ok;
}

Code ModelExists(const Model& m, const wire::CreateTransfer& t, const MTransfer& e, bool pv) {
  if (t.flags != e.flags) return Code::transfer_exists_with_different_flags;
  if (pv) {
    if (t.pending_id != e.pending_id) return Code::transfer_exists_with_different_pending_id;
    if (t.debit_account_id && t.debit_account_id != e.dr) return Code::transfer_exists_with_different_debit_account_id;
    if (t.credit_account_id && t.credit_account_id != e.cr) return Code::transfer_exists_with_different_credit_account_id;
    int64_t asked = t.amount_fen ? t.amount_fen : m.transfers.at(e.pending_id).amount;
    if (asked != e.amount) return Code::transfer_exists_with_different_amount;
    if (t.ledger && t.ledger != e.ledger) return Code::transfer_exists_with_different_ledger;
    if (t.code && t.code != e.code) return Code::transfer_exists_with_different_code;
    if (t.user_data != e.user_data) return Code::transfer_exists_with_different_user_data;
    return Code::transfer_exists;
  }
  if (t.debit_account_id != e.dr) return Code::transfer_exists_with_different_debit_account_id;
  if (t.credit_account_id != e.cr) return Code::transfer_exists_with_different_credit_account_id;
  bool balancing = t.flags & (wire::kBalancingDebit | wire::kBalancingCredit);
  if (balancing ? e.amount > t.amount_fen : e.amount != t.amount_fen) return Code::transfer_exists_with_different_amount;
  if (t.pending_id != e.pending_id) return Code::transfer_exists_with_different_pending_id;
  if (t.timeout_us != e.timeout) return Code::transfer_exists_with_different_timeout;
  if (t.ledger != e.ledger) return Code::transfer_exists_with_different_ledger;
  if (t.code != e.code) return Code::transfer_exists_with_different_code;
  if (t.user_data != e.user_data) return Code::transfer_exists_with_different_user_data;
  return Code::transfer_exists;
}

Code ModelPostVoid(Model& m, const wire::CreateTransfer& t, int64_t* out_amount) {
  bool post = t.flags & wire::kPostPendingTransfer;
  if (t.pending_id == 0) return Code::pending_id_must_not_be_zero;
  if (t.pending_id == t.transfer_id) return Code::pending_id_must_be_different;
  if (t.timeout_us) return Code::timeout_reserved_for_pending_transfer;
  if (t.amount_fen < 0 || t.amount_fen > wire::kLedgerAmountMaxFen) return Code::invalid_amount;
  if (m.transfers.count(t.transfer_id)) return ModelExists(m, t, m.transfers[t.transfer_id], true);
  auto it = m.transfers.find(t.pending_id);
  if (it == m.transfers.end()) return Code::pending_transfer_not_found;
  MTransfer& p = it->second;
  if (!(p.flags & wire::kTransferPending)) return Code::pending_transfer_not_pending;
  if (t.debit_account_id && t.debit_account_id != p.dr) return Code::pending_transfer_has_different_debit_account_id;
  if (t.credit_account_id && t.credit_account_id != p.cr) return Code::pending_transfer_has_different_credit_account_id;
  if (t.ledger && t.ledger != p.ledger) return Code::pending_transfer_has_different_ledger;
  if (t.code && t.code != p.code) return Code::pending_transfer_has_different_code;
  if (post && t.amount_fen > p.amount) return Code::exceeds_pending_transfer_amount;
  if (!post && t.amount_fen && t.amount_fen != p.amount) return Code::pending_transfer_has_different_amount;
  if (p.state == wire::TransferState::kPendingPosted) return Code::pending_transfer_already_posted;
  if (p.state == wire::TransferState::kPendingVoided) return Code::pending_transfer_already_voided;
  if (p.state == wire::TransferState::kPendingExpired) return Code::pending_transfer_expired;
  if (p.expires_at && m.now >= p.expires_at) return Code::pending_transfer_expired;
  if (!m.Room(1)) return Code::transfers_full;
  int64_t amount = post ? (t.amount_fen ? t.amount_fen : p.amount) : p.amount;
  MAccount& d = m.accounts[p.dr];
  MAccount& c = m.accounts[p.cr];
  d.dp -= p.amount;
  c.cp -= p.amount;
  if (post) d.dpo += amount, c.cpo += amount;
  p.state = post ? wire::TransferState::kPendingPosted : wire::TransferState::kPendingVoided;
  MTransfer n;
  n.dr = p.dr;
  n.cr = p.cr;
  n.amount = amount;
  n.pending_id = t.pending_id;
  n.user_data = t.user_data;
  n.ledger = p.ledger;
  n.code = p.code;
  n.flags = t.flags;
  n.state = wire::TransferState::kPosted;
  n.index = m.transfer_count++;
  n.created = m.now;
  m.transfers[t.transfer_id] = n;
  m.id_of_index[n.index] = t.transfer_id;
  *out_amount = amount;
  return Code::ok;
}

Code ModelTransfer(Model& m, const wire::CreateTransfer& t, int64_t* out_amount) {
  if (t.flags & ~wire::kTransferFlagsAll) return Code::invalid_transfer_flags;
  if (t.transfer_id == 0) return Code::invalid_id;
  if (t.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  int phases = !!(t.flags & 2) + !!(t.flags & 4) + !!(t.flags & 8);
  bool pv = t.flags & 12, balancing = t.flags & 48, pending = t.flags & 2;
  if (phases > 1 || (balancing && pv)) return Code::transfer_flags_are_mutually_exclusive;
  if (pv) return ModelPostVoid(m, t, out_amount);
  if (t.debit_account_id == 0) return Code::debit_account_id_must_not_be_zero;
  if (t.credit_account_id == 0) return Code::credit_account_id_must_not_be_zero;
  if (t.debit_account_id == t.credit_account_id) return Code::accounts_must_be_different;
  if (t.pending_id) return Code::pending_id_must_be_zero;
  if (t.timeout_us && !pending) return Code::timeout_reserved_for_pending_transfer;
  if (!ValidAmount(t.amount_fen)) return Code::invalid_amount;
  if (t.ledger == 0) return Code::ledger_must_not_be_zero;
  if (t.code == 0) return Code::code_must_not_be_zero;
  if (m.transfers.count(t.transfer_id)) return ModelExists(m, t, m.transfers[t.transfer_id], false);
  if (t.debit_account_id >= wire::kUserIdLimit || t.credit_account_id >= wire::kUserIdLimit) {
    return Code::account_reserved_for_payments;
  }
  if (!m.accounts.count(t.debit_account_id)) return Code::debit_account_not_found;
  if (!m.accounts.count(t.credit_account_id)) return Code::credit_account_not_found;
  MAccount& d = m.accounts[t.debit_account_id];
  MAccount& c = m.accounts[t.credit_account_id];
  if (d.ledger != c.ledger) return Code::accounts_must_have_the_same_ledger;
  if (t.ledger != d.ledger) return Code::transfer_must_have_the_same_ledger_as_accounts;
  if (!m.Room(1)) return Code::transfers_full;
  int64_t amount = t.amount_fen;
  if (t.flags & wire::kBalancingDebit) amount = std::min(amount, std::max<int64_t>(0, d.cpo - d.dpo - d.dp));
  if (t.flags & wire::kBalancingCredit) amount = std::min(amount, std::max<int64_t>(0, c.dpo - c.cpo - c.cp));
  Code b = ModelBalances(d, c, amount, pending);
  if (b != Code::ok) return b;
  (pending ? d.dp : d.dpo) += amount;
  (pending ? c.cp : c.cpo) += amount;
  MTransfer n;
  n.dr = t.debit_account_id;
  n.cr = t.credit_account_id;
  n.amount = amount;
  n.timeout = t.timeout_us;
  n.user_data = t.user_data;
  n.expires_at = pending && t.timeout_us ? m.now + t.timeout_us : 0;
  n.ledger = t.ledger;
  n.code = t.code;
  n.flags = t.flags;
  n.state = pending ? wire::TransferState::kPending : wire::TransferState::kPosted;
  n.index = m.transfer_count++;
  n.created = m.now;
  m.transfers[t.transfer_id] = n;
  m.id_of_index[n.index] = t.transfer_id;
  if (n.expires_at) m.expiries.insert({n.expires_at, n.index});
  *out_amount = amount;
  return Code::ok;
}

Code ModelEnsureBuyer(Model& m, uint64_t id) {
  if (m.buyers.count(id)) return Code::ok;
  if (m.buyers.size() == m.config.buyer_count_max) return Code::ledger_buyers_full;
  if (m.accounts.size() + 2 > m.config.account_count_max) return Code::accounts_full;
  m.buyers[id] = m.config.buyer_credit_limit_default_fen;
  m.accounts[AccountIdOf(IdSpace::kBuyerWallet, id)] = MAccount{id, 0, 0, 0, 0, wire::kLedgerCny, 2, 2};
  m.accounts[AccountIdOf(IdSpace::kBuyerReceivable, id)] = MAccount{id, 0, 0, 0, 0, wire::kLedgerCny, 3, 4};
  return Code::ok;
}

Code ModelEnsureMerchant(Model& m, uint64_t id) {
  if (m.merchants.count(id)) return Code::ok;
  if (m.merchants.size() == m.config.merchant_count_max) return Code::ledger_merchants_full;
  if (m.accounts.size() + 2 > m.config.account_count_max) return Code::accounts_full;
  m.merchants[id] = MMerchant{};
  m.accounts[AccountIdOf(IdSpace::kMerchantWallet, id)] = MAccount{id, 0, 0, 0, 0, wire::kLedgerCny, 4, 2};
  m.accounts[AccountIdOf(IdSpace::kMerchantLoan, id)] = MAccount{id, 0, 0, 0, 0, wire::kLedgerCny, 5, 4};
  return Code::ok;
}

int64_t Owed(Model& m, uint64_t account) { return m.accounts[account].dpo - m.accounts[account].cpo; }

Code ModelParty(Model& m, const wire::PartyTransfer& p, int64_t* out_amount) {
  if (p.transfer_id == 0) return Code::invalid_id;
  if (p.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidId(p.party_id)) return Code::invalid_id;
  if (!ValidAmount(p.amount_fen)) return Code::invalid_amount;
  const uint64_t bank = m.Sys(SystemAccount::kBank);
  const uint64_t bw = AccountIdOf(IdSpace::kBuyerWallet, p.party_id);
  const uint64_t mw = AccountIdOf(IdSpace::kMerchantWallet, p.party_id);
  const uint64_t ml = AccountIdOf(IdSpace::kMerchantLoan, p.party_id);
  uint64_t dr = bank, cr = bw;
  MoneyCode code = MoneyCode::kDeposit;
  if (p.operation == wire::kWithdraw) dr = mw, cr = bank, code = MoneyCode::kWithdraw;
  if (p.operation == wire::kDrawDown) dr = ml, cr = mw, code = MoneyCode::kDrawDown;
  if (p.operation == wire::kRepayMerchantCredit) dr = mw, cr = ml, code = MoneyCode::kRepayMerchantCredit;
  if (m.transfers.count(p.transfer_id)) {
    const MTransfer& e = m.transfers[p.transfer_id];
    if (e.flags) return Code::transfer_exists_with_different_flags;
    if (e.dr != dr) return Code::transfer_exists_with_different_debit_account_id;
    if (e.cr != cr) return Code::transfer_exists_with_different_credit_account_id;
    if (e.amount != p.amount_fen) return Code::transfer_exists_with_different_amount;
    if (e.code != uint16_t(code)) return Code::transfer_exists_with_different_code;
    if (e.user_data != p.party_id) return Code::transfer_exists_with_different_user_data;
    return Code::transfer_exists;
  }
  if (p.operation == wire::kDeposit) {
    Code c = ModelEnsureBuyer(m, p.party_id);
    if (c != Code::ok) return c;
  } else {
    if (!m.merchants.count(p.party_id)) {
      return p.operation == wire::kWithdraw ? Code::ledger_merchant_not_found : Code::credit_line_not_found;
    }
    MMerchant& mm = m.merchants[p.party_id];
    if (p.operation != wire::kWithdraw && !mm.line) return Code::credit_line_not_found;
    if (p.operation == wire::kDrawDown && p.amount_fen > mm.limit - Owed(m, ml)) return Code::credit_line_limit_exceeded;
    if (p.operation == wire::kRepayMerchantCredit && p.amount_fen > Owed(m, ml)) return Code::repayment_exceeds_outstanding;
  }
  Code c = ModelMove(m, dr, cr, p.amount_fen, p.transfer_id, p.party_id, code);
  if (c != Code::ok) return c;
  if (p.operation == wire::kDrawDown) m.merchants[p.party_id].drawn += p.amount_fen;
  if (p.operation == wire::kRepayMerchantCredit) m.merchants[p.party_id].repaid += p.amount_fen;
  *out_amount = p.amount_fen;
  return Code::ok;
}

// How many payments carried a deposit, and how often one was refused.
uint64_t deposits_converted = 0;

// The deposit a payment names (Ledger::CheckDeposit): its amount in *deposit_fen, 0 for none.
Code ModelCheckDeposit(Model& m, const wire::PayOrderMoney& p, int64_t* deposit_fen) {
  *deposit_fen = 0;
  if (p.deposit_id == 0) return Code::ok;
  auto it = m.orders.find(p.deposit_id);
  if (it == m.orders.end()) return Code::order_payment_not_found;
  const MOrder& d = it->second;
  const bool whole = d.state == wire::OrderMoneyState::kPaid && d.refunded == 0;
  const bool parties = d.buyer == p.buyer_id && d.merchant == p.merchant_id;
  const bool simple = (d.method == PaymentMethod::kBalance || d.method == PaymentMethod::kCard) &&
                      d.subsidy == 0 && d.deposit == 0;
  if (!whole || !parties || !simple || d.amount >= p.amount_fen || p.subsidy_fen != 0) {
    return Code::deposit_not_payable;
  }
  if (wire::IsInstalment(p.method) && p.amount_fen - d.amount < p.instalment_periods) {
    return Code::instalment_amount_too_small;
  }
  *deposit_fen = d.amount;
  return Code::ok;
}

Code ModelPay(Model& m, const wire::PayOrderMoney& p) {
  if (!ValidId(p.order_id) || !ValidId(p.buyer_id) || !ValidId(p.merchant_id)) return Code::invalid_id;
  if (p.deposit_id != 0 && !ValidId(p.deposit_id)) return Code::invalid_id;
  uint8_t method = uint8_t(p.method);
  if (method == 0 || method > 4) return Code::invalid_payment_method;
  bool inst = method >= 3;
  if (inst ? wire::InstalmentPlanIndex(p.instalment_periods) < 0 : p.instalment_periods != 0) {
    return Code::invalid_instalment_periods;
  }
  if (!ValidAmount(p.amount_fen)) return Code::invalid_amount;
  if (p.subsidy_fen < 0 || p.subsidy_fen >= p.amount_fen) return Code::invalid_amount;
  if (inst && p.amount_fen - p.subsidy_fen < p.instalment_periods)
    return Code::instalment_amount_too_small;
  if (m.orders.count(p.order_id)) {
    const MOrder& o = m.orders[p.order_id];
    const uint64_t carried = o.state == wire::OrderMoneyState::kConverted ? 0 : o.deposit_id;
    bool same = o.buyer == p.buyer_id && o.merchant == p.merchant_id && o.amount == p.amount_fen &&
                o.method == p.method && o.periods == p.instalment_periods &&
                o.subsidy == p.subsidy_fen && carried == p.deposit_id;
    return same ? Code::order_payment_exists : Code::order_payment_exists_with_different_fields;
  }
  int64_t deposit = 0;
  Code checked = ModelCheckDeposit(m, p, &deposit);
  if (checked != Code::ok) return checked;
  if (m.orders.size() == m.config.order_count_max) return Code::ledger_orders_full;
  if (inst && m.plans.size() == m.config.plan_count_max) return Code::plans_full;
  const bool subsidised = p.subsidy_fen > 0;
  // The payment's legs and its reservation; a carried deposit hands its 6 back.
  if (!m.Room(deposit > 0 ? 2 + 7 - 6 : subsidised ? 10 : 8)) return Code::transfers_full;
  Code c = ModelEnsureBuyer(m, p.buyer_id);
  if (c == Code::ok) c = ModelEnsureMerchant(m, p.merchant_id);
  if (c != Code::ok) return c;
  const uint64_t escrow = m.Sys(SystemAccount::kEscrow);
  const uint64_t rec = AccountIdOf(IdSpace::kBuyerReceivable, p.buyer_id);
  MOrder o{p.buyer_id, p.merchant_id, m.now, p.amount_fen, 0, p.method, p.instalment_periods,
           wire::OrderMoneyState::kPaid};
  o.subsidy = p.subsidy_fen;
  o.deposit = deposit;
  if (deposit > 0) {
    o.deposit_id = p.deposit_id;
    o.deposit_method = m.orders[p.deposit_id].method;
  }
  const int64_t principal = p.amount_fen - p.subsidy_fen - deposit;  // what the buyer pays now
  if (p.method == PaymentMethod::kBalance) {
    c = ModelMove(m, AccountIdOf(IdSpace::kBuyerWallet, p.buyer_id), escrow, principal, 0, p.order_id, MoneyCode::kOrderPayment);
  } else if (p.method == PaymentMethod::kCard) {
    c = ModelMove(m, m.Sys(SystemAccount::kCardClearing), escrow, principal, 0, p.order_id, MoneyCode::kOrderPayment);
  } else {
    int k = wire::InstalmentPlanIndex(p.instalment_periods);
    bool buyer_pays = p.method == PaymentMethod::kInstalmentBuyerFee;
    int64_t fee = buyer_pays ? Bp(principal, m.config.buyer_fee_bp[k]) : 0;
    o.merchant_fee = buyer_pays ? 0 : Bp(principal, m.config.merchant_fee_bp[k]);
    if (Owed(m, rec) + principal + fee > m.buyers[p.buyer_id]) return Code::credit_limit_exceeded;
    c = ModelMove(m, rec, escrow, principal, 0, p.order_id, MoneyCode::kOrderPayment);
    if (c == Code::ok && fee > 0) c = ModelMove(m, rec, m.Sys(SystemAccount::kFeeIncome), fee, 0, p.order_id, MoneyCode::kBuyerFee);
    if (c == Code::ok) m.plans[p.order_id] = MPlan{p.buyer_id, principal, fee, 0, p.instalment_periods, 0, wire::PlanState::kActive};
  }
  if (c == Code::ok && subsidised) {
    c = ModelMove(m, m.Sys(SystemAccount::kMarketing), escrow, p.subsidy_fen, 0, p.order_id, MoneyCode::kCouponSubsidy);
  }
  if (c != Code::ok) return c;
  if (deposit > 0) {  // converted: its money is this order's now, its reservation too
    MOrder& d = m.orders[p.deposit_id];
    m.reserved -= Reserve(d);
    d.state = wire::OrderMoneyState::kConverted;
    d.closed_at = m.now;
    d.deposit_id = p.order_id;
    deposits_converted++;
  }
  m.orders[p.order_id] = o;
  m.order_seq.push_back(p.order_id);
  m.reserved += Reserve(o);
  return Code::ok;
}

Code ModelSettle(Model& m, uint64_t order_id) {
  MOrder& o = m.orders[order_id];
  m.reserved -= o.refunded > 0 ? 4 : Reserve(o);  // a partial return took the rest before
  MMerchant& mm = m.merchants[o.merchant];
  const uint64_t escrow = m.Sys(SystemAccount::kEscrow);
  const uint64_t loan = AccountIdOf(IdSpace::kMerchantLoan, o.merchant);
  const int64_t base = o.amount - o.refunded;
  if (o.refunded > 0) o.merchant_fee = int64_t(__int128(o.merchant_fee) * base / o.amount);
  int64_t commission = Bp(base, m.config.commission_bp);
  int64_t rest = base - commission - o.merchant_fee;
  int64_t withheld = mm.line ? std::min(Owed(m, loan), Bp(rest, mm.bp)) : 0;
  std::pair<uint64_t, int64_t> legs[] = {{m.Sys(SystemAccount::kCommission), commission},
                                         {m.Sys(SystemAccount::kFeeIncome), o.merchant_fee},
                                         {loan, withheld},
                                         {AccountIdOf(IdSpace::kMerchantWallet, o.merchant), rest - withheld}};
  MoneyCode codes[] = {MoneyCode::kCommission, MoneyCode::kMerchantFee, MoneyCode::kWithheld, MoneyCode::kSettlement};
  for (int i = 0; i < 4; i++) {
    if (legs[i].second == 0) continue;
    Code c = ModelMove(m, escrow, legs[i].first, legs[i].second, 0, order_id, codes[i]);
    if (c != Code::ok) return c;
  }
  mm.repaid += withheld;
  o.state = wire::OrderMoneyState::kSettled;
  o.closed_at = m.now;
  return Code::ok;
}

Code ModelRefundOrConfirm(Model& m, wire::Operation op, uint64_t order_id) {
  if (!ValidId(order_id)) return Code::invalid_id;
  if (!m.orders.count(order_id)) return Code::order_payment_not_found;
  MOrder& o = m.orders[order_id];
  if (o.state == wire::OrderMoneyState::kRefunded) return Code::order_already_refunded;
  if (o.state == wire::OrderMoneyState::kSettled) return Code::order_already_settled;
  if (o.state == wire::OrderMoneyState::kConverted) return Code::deposit_converted;
  if (op == wire::kConfirmDelivery) return ModelSettle(m, order_id);
  m.reserved -= Reserve(o);
  o.refunded = o.amount;
  o.closed_at = m.now;
  const uint64_t escrow = m.Sys(SystemAccount::kEscrow);
  const uint64_t wallet = AccountIdOf(IdSpace::kBuyerWallet, o.buyer);
  Code c = Code::ok;
  // The whole subsidy back first, then what the buyer paid.
  if (o.subsidy > 0) {
    c = ModelMove(m, escrow, m.Sys(SystemAccount::kMarketing), o.subsidy, 0, order_id, MoneyCode::kSubsidyReturned);
    if (c != Code::ok) return c;
    o.subsidy_refunded = o.subsidy;
  }
  // The whole deposit back the way it was paid.
  if (o.deposit > 0) {
    const uint64_t back =
        o.deposit_method == PaymentMethod::kBalance ? wallet : m.Sys(SystemAccount::kCardClearing);
    c = ModelMove(m, escrow, back, o.deposit, 0, order_id, MoneyCode::kDepositRefund);
    if (c != Code::ok) return c;
    o.deposit_refunded = o.deposit;
  }
  const int64_t paid = o.amount - o.subsidy - o.deposit;
  if (o.method == PaymentMethod::kBalance) {
    c = ModelMove(m, escrow, wallet, paid, 0, order_id, MoneyCode::kRefund);
  } else if (o.method == PaymentMethod::kCard) {
    c = ModelMove(m, escrow, m.Sys(SystemAccount::kCardClearing), paid, 0, order_id,
                  MoneyCode::kRefund);
  } else {
    MPlan& pl = m.plans[order_id];
    const uint64_t rec = AccountIdOf(IdSpace::kBuyerReceivable, o.buyer);
    if (pl.repaid > 0) c = ModelMove(m, rec, wallet, pl.repaid, 0, order_id, MoneyCode::kRefundRepaid);
    if (c == Code::ok) c = ModelMove(m, escrow, rec, pl.principal, 0, order_id, MoneyCode::kRefund);
    if (c == Code::ok && pl.fee > 0) c = ModelMove(m, m.Sys(SystemAccount::kFeeIncome), rec, pl.fee, 0, order_id, MoneyCode::kRefundBuyerFee);
    pl.state = wire::PlanState::kCancelled;
  }
  o.state = wire::OrderMoneyState::kRefunded;
  o.closed_at = m.now;
  return c;
}

Code ModelRepay(Model& m, const wire::RepayInstalment& r, int64_t* out_amount) {
  if (r.transfer_id == 0) return Code::invalid_id;
  if (r.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidId(r.order_id)) return Code::invalid_id;
  if (m.transfers.count(r.transfer_id)) {
    const MTransfer& e = m.transfers[r.transfer_id];
    if (e.flags) return Code::transfer_exists_with_different_flags;
    if (e.code != uint16_t(MoneyCode::kRepayInstalment)) return Code::transfer_exists_with_different_code;
    if (e.user_data != r.order_id) return Code::transfer_exists_with_different_user_data;
    return Code::transfer_exists;
  }
  if (!m.plans.count(r.order_id)) return Code::plan_not_found;
  MPlan& pl = m.plans[r.order_id];
  if (pl.state != wire::PlanState::kActive) return Code::plan_not_active;
  int remaining = pl.periods - pl.repaid_count;
  int count = r.periods == 0 ? remaining : r.periods;
  if (count > remaining) return Code::invalid_instalment_periods;
  int64_t amount = 0;
  for (int k = pl.repaid_count + 1; k <= pl.repaid_count + count; k++) {
    amount += wire::InstalmentAmountFen(pl.principal + pl.fee - pl.repaid, uint8_t(pl.periods - pl.repaid_count),
                                        uint8_t(k - pl.repaid_count));
  }
  Code c = ModelMove(m, AccountIdOf(IdSpace::kBuyerWallet, pl.buyer), AccountIdOf(IdSpace::kBuyerReceivable, pl.buyer),
                     amount, r.transfer_id, r.order_id, MoneyCode::kRepayInstalment);
  if (c != Code::ok) return c;
  pl.repaid_count += count;
  pl.repaid += amount;
  if (pl.repaid_count == pl.periods) pl.state = wire::PlanState::kRepaid;
  *out_amount = amount;
  return Code::ok;
}

// ---- returns and refunds (docs/returns.md) ----

Code ModelReducePlan(Model& m, uint64_t order_id, uint64_t source, int64_t refund, uint64_t last_id, MoneyCode code) {
  MOrder& o = m.orders[order_id];
  MPlan& pl = m.plans[order_id];
  const uint64_t rec = AccountIdOf(IdSpace::kBuyerReceivable, o.buyer);
  const int64_t left = pl.state == wire::PlanState::kActive ? pl.principal + pl.fee - pl.repaid : 0;
  const int64_t back = refund > left ? refund - left : 0;
  Code c = Code::ok;
  if (back > 0) c = ModelMove(m, rec, AccountIdOf(IdSpace::kBuyerWallet, o.buyer), back, 0, order_id, MoneyCode::kRefundRepaid);
  if (c == Code::ok) c = ModelMove(m, source, rec, refund, last_id, order_id, code);
  if (c != Code::ok) return c;
  pl.principal -= refund;
  pl.repaid -= back;
  pl.reduced = true;
  const int64_t owed = pl.principal + pl.fee - pl.repaid;
  if (owed == 0) {
    pl.state = wire::PlanState::kRepaid;
  } else if (owed < pl.periods - pl.repaid_count) {
    pl.periods = uint8_t(pl.repaid_count + owed);
  }
  return Code::ok;
}

// How often a refund's subsidy share was part of it, all of it, or none of it; likewise a
// carried deposit's.
uint64_t subsidy_split_refunds = 0, subsidy_only_refunds = 0, subsidy_free_refunds = 0;
uint64_t deposit_split_refunds = 0, deposit_only_refunds = 0, deposit_free_refunds = 0;

Code ModelRefundPart(Model& m, uint64_t order_id, uint64_t source, int64_t refund, uint64_t last_id, MoneyCode code) {
  MOrder& o = m.orders[order_id];
  // The subsidy returned so far is floor(S * R / A) of the refunded R; this refund moves the
  // difference, and the buyer gets the rest.
  const int64_t share =
      int64_t(__int128(o.subsidy) * (o.refunded + refund) / o.amount) - o.subsidy_refunded;
  // A carried deposit's part likewise: floor(D * R / A) of the refunded R, back its way.
  const int64_t deposit_share =
      int64_t(__int128(o.deposit) * (o.refunded + refund) / o.amount) - o.deposit_refunded;
  const int64_t buyer = refund - share - deposit_share;
  o.refunded += refund;
  o.subsidy_refunded += share;
  o.deposit_refunded += deposit_share;
  if (o.subsidy > 0) {
    (share == 0 ? subsidy_free_refunds : buyer == 0 ? subsidy_only_refunds : subsidy_split_refunds)++;
  }
  if (o.deposit > 0) {
    (deposit_share == 0 ? deposit_free_refunds
     : buyer == 0       ? deposit_only_refunds
                        : deposit_split_refunds)++;
  }
  if (share > 0) {
    const uint64_t id = last_id == 0 ? 0 : buyer == 0 ? last_id : kSubsidyLegTag | last_id;
    Code c = ModelMove(m, source, m.Sys(SystemAccount::kMarketing), share, id, order_id, MoneyCode::kSubsidyReturned);
    if (c != Code::ok) return c;
  }
  if (deposit_share > 0) {
    const uint64_t id = last_id == 0 ? 0 : buyer == 0 ? last_id : kDepositLegTag | last_id;
    const uint64_t back = o.deposit_method == PaymentMethod::kBalance
                              ? AccountIdOf(IdSpace::kBuyerWallet, o.buyer)
                              : m.Sys(SystemAccount::kCardClearing);
    Code c = ModelMove(m, source, back, deposit_share, id, order_id, MoneyCode::kDepositRefund);
    if (c != Code::ok) return c;
  }
  if (buyer == 0) return Code::ok;
  if (o.method == PaymentMethod::kBalance) {
    return ModelMove(m, source, AccountIdOf(IdSpace::kBuyerWallet, o.buyer), buyer, last_id, order_id, code);
  }
  if (o.method == PaymentMethod::kCard) {
    return ModelMove(m, source, m.Sys(SystemAccount::kCardClearing), buyer, last_id, order_id, code);
  }
  return ModelReducePlan(m, order_id, source, buyer, last_id, code);
}

Code ModelRefundSettled(Model& m, uint64_t order_id, int64_t refund, uint64_t last_id) {
  const MOrder& o = m.orders[order_id];
  if (!m.Room(o.subsidy > 0 || o.deposit > 0 ? 4 : 3)) return Code::transfers_full;
  const uint64_t merchant = m.orders[order_id].merchant;
  const uint64_t wallet = AccountIdOf(IdSpace::kMerchantWallet, merchant);
  const uint64_t loan = AccountIdOf(IdSpace::kMerchantLoan, merchant);
  const MAccount& w = m.accounts[wallet];
  const int64_t have = w.cpo - w.dpo - w.dp;
  if (have < refund) {
    const int64_t shortfall = refund - std::max<int64_t>(have, 0);
    MMerchant& mm = m.merchants[merchant];
    if (!mm.line || Owed(m, loan) + shortfall > mm.limit) return Code::refund_unfundable;
    Code c = ModelMove(m, loan, wallet, shortfall, 0, merchant, MoneyCode::kDrawDown);
    if (c != Code::ok) return c;
    mm.drawn += shortfall;
  }
  return ModelRefundPart(m, order_id, wallet, refund, last_id, MoneyCode::kAfterSalesRefund);
}

Code ModelDoReturn(Model& m, uint64_t order_id, int64_t refund) {
  MOrder& o = m.orders[order_id];
  if (refund == o.amount) return ModelRefundOrConfirm(m, wire::kRefundOrderMoney, order_id);
  if (refund == 0) return ModelSettle(m, order_id);
  m.reserved -= Reserve(o) - 4;
  Code c = ModelRefundPart(m, order_id, m.Sys(SystemAccount::kEscrow), refund, 0, MoneyCode::kRefund);
  if (c != Code::ok) return c;
  return ModelSettle(m, order_id);
}

// Ledger::ReturnOrder / CancelPaidOrder, atomic: applied to a copy, kept on ok.
Code ModelReturnOrCancel(Model& m, uint64_t order_id, int64_t refund, bool cancel) {
  if (!m.orders.count(order_id)) return Code::order_payment_not_found;
  Model copy = m;
  MOrder& o = copy.orders[order_id];
  Code c = Code::ok;
  if (cancel) refund = o.amount - o.refunded;
  if (o.state == wire::OrderMoneyState::kConverted) {
    c = Code::deposit_converted;
  } else if (o.state == wire::OrderMoneyState::kRefunded || (cancel && refund == 0)) {
    c = Code::order_already_refunded;
  } else if (refund < 0 || refund > o.amount - o.refunded) {
    c = Code::refund_exceeds_paid;
  } else if (o.state == wire::OrderMoneyState::kPaid) {
    c = ModelDoReturn(copy, order_id, refund);
  } else if (refund > 0) {
    c = ModelRefundSettled(copy, order_id, refund, 0);
  }
  if (c == Code::ok) m = std::move(copy);
  return c;
}

Code ModelAfterSales(Model& m, const wire::AfterSalesRefund& r) {
  if (r.refund_id == 0) return Code::invalid_id;
  if (r.refund_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidId(r.order_id)) return Code::invalid_id;
  if (!ValidAmount(r.amount_fen)) return Code::invalid_amount;
  if (m.transfers.count(r.refund_id)) {
    const MTransfer& e = m.transfers[r.refund_id];
    if (e.flags) return Code::transfer_exists_with_different_flags;
    // The refund's id is on the buyer's leg, or on the subsidy's or the deposit's when that
    // was all of it.
    const bool subsidy_leg = e.code == uint16_t(MoneyCode::kSubsidyReturned) && e.cr == m.Sys(SystemAccount::kMarketing);
    const bool deposit_leg = e.code == uint16_t(MoneyCode::kDepositRefund) &&
                             (e.dr >> wire::kIdSpaceShift) == uint64_t(IdSpace::kMerchantWallet);
    if (e.code != uint16_t(MoneyCode::kAfterSalesRefund) && !subsidy_leg && !deposit_leg) {
      return Code::transfer_exists_with_different_code;
    }
    if (e.user_data != r.order_id) return Code::transfer_exists_with_different_user_data;
    const auto asked = m.after_sales.find(r.refund_id);
    if ((asked != m.after_sales.end() ? asked->second : e.amount) != r.amount_fen) {
      return Code::transfer_exists_with_different_amount;
    }
    return Code::transfer_exists;
  }
  if (!m.orders.count(r.order_id)) return Code::order_payment_not_found;
  const MOrder& o = m.orders[r.order_id];
  if (o.state == wire::OrderMoneyState::kRefunded) return Code::order_already_refunded;
  if (o.state == wire::OrderMoneyState::kConverted) return Code::deposit_converted;
  if (o.state != wire::OrderMoneyState::kSettled) return Code::order_not_settled;
  if (m.now - o.closed_at > m.config.after_sales_window_us) return Code::refund_window_closed;
  if (r.amount_fen > o.amount - o.refunded) return Code::refund_exceeds_paid;
  const Code c = ModelRefundSettled(m, r.order_id, r.amount_fen, r.refund_id);
  if (c == Code::ok) m.after_sales[r.refund_id] = r.amount_fen;
  return c;
}

Code ModelOne(Model& m, const wire::LedgerCommand& c) {
  Code s = wire::CheckLedgerStructure(c);
  if (s != Code::ok) return s;
  int64_t amount = 0;
  auto op = c.operation;
  if (op == wire::kCreateAccount) return ModelCreateAccount(m, c.create_account);
  if (op == wire::kCreateTransfer) return ModelTransfer(m, c.create_transfer, &amount);
  if (op == wire::kDeposit || op == wire::kWithdraw || op == wire::kDrawDown || op == wire::kRepayMerchantCredit) {
    return ModelParty(m, c.party_transfer, &amount);
  }
  if (op == wire::kSetBuyerCreditLimit) {
    const auto& s2 = c.set_buyer_credit_limit;
    if (!ValidId(s2.buyer_id)) return Code::invalid_id;
    if (s2.limit_fen < 0 || s2.limit_fen > wire::kLedgerAmountMaxFen) return Code::invalid_credit_limit;
    Code e = ModelEnsureBuyer(m, s2.buyer_id);
    if (e == Code::ok) m.buyers[s2.buyer_id] = s2.limit_fen;
    return e;
  }
  if (op == wire::kSetMerchantCreditLine) {
    const auto& s2 = c.set_merchant_credit_line;
    if (!ValidId(s2.merchant_id)) return Code::invalid_id;
    if (s2.withhold_bp > 10'000) return Code::invalid_basis_points;
    if (s2.limit_fen < 0 || s2.limit_fen > wire::kLedgerAmountMaxFen) return Code::invalid_credit_limit;
    Code e = ModelEnsureMerchant(m, s2.merchant_id);
    if (e == Code::ok) {
      MMerchant& mm = m.merchants[s2.merchant_id];
      mm.line = true, mm.limit = s2.limit_fen, mm.bp = s2.withhold_bp;
    }
    return e;
  }
  if (op == wire::kPayOrderMoney) return ModelPay(m, c.pay_order_money);
  if (op == wire::kRefundOrderMoney || op == wire::kConfirmDelivery) return ModelRefundOrConfirm(m, op, c.order_money.order_id);
  if (op == wire::kRepayInstalment) return ModelRepay(m, c.repay_instalment, &amount);
  if (op == wire::kAfterSalesRefund) return ModelAfterSales(m, c.after_sales_refund);
  return Code::invalid_operation;
}

bool Linked(const wire::Command& c) {
  return (c.operation == wire::kCreateAccount || c.operation == wire::kCreateTransfer) && (c.bytes[1] & 1);
}

// What the model expects of one command's result.
struct Expected {
  Code code = Code::ok;
  bool replayed = false;
  uint64_t at_us = 0;  // the log time it applied at, or for a replay the first one's
};

// A command that repeats one already applied (docs/ledger.md, "Retries"): the code the
// comparison of the request with the record gives, and the operation that makes it a retry.
bool ModelIsRepeat(wire::Operation op, Code code) {
  if (code == Code::account_exists || code == Code::transfer_exists ||
      code == Code::order_payment_exists)
    return true;
  if (code == Code::order_already_refunded) return op == wire::kRefundOrderMoney;
  if (code == Code::order_already_settled) return op == wire::kConfirmDelivery;
  return false;
}

// The log time of the first result a repeat of `c` replays.
uint64_t ModelFirstTime(const Model& m, const wire::LedgerCommand& c) {
  const auto op = c.operation;
  if (op == wire::kCreateAccount) return m.accounts.at(c.create_account.account_id).created;
  if (op == wire::kPayOrderMoney) return m.orders.at(c.pay_order_money.order_id).paid_at;
  if (op == wire::kRefundOrderMoney || op == wire::kConfirmDelivery)
    return m.orders.at(c.order_money.order_id).closed_at;
  if (op == wire::kCreateTransfer) return m.transfers.at(c.create_transfer.transfer_id).created;
  if (op == wire::kRepayInstalment) return m.transfers.at(c.repay_instalment.transfer_id).created;
  return m.transfers.at(c.party_transfer.transfer_id).created;
}

// Applies a batch to the model: chains all-or-nothing by copying the state.
std::vector<Expected> ModelApply(Model& m, const std::vector<wire::Command>& batch, uint64_t now) {
  m.now = now;
  std::vector<Expected> codes(batch.size(), Expected{Code::ok, false, now});
  for (size_t i = 0; i < batch.size();) {
    size_t n = 1;
    bool open = false;
    while (Linked(batch[i + n - 1])) {
      if (i + n == batch.size() || n == m.config.chain_length_max) { open = true; break; }
      n++;
    }
    if (open) {
      for (size_t k = 0; k < n; k++) codes[i + k].code = Code::linked_event_failed;
      codes[i + n - 1].code = Code::linked_event_chain_open;
      i += n;
      continue;
    }
    Model copy = m;
    size_t failed = n;
    for (size_t k = 0; k < n && failed == n; k++) {
      const wire::LedgerCommand c = wire::AsLedgerCommand(batch[i + k]);
      Expected& e = codes[i + k];
      e.code = ModelOne(copy, c);
      if (ModelIsRepeat(c.operation, e.code)) e = Expected{Code::ok, true, ModelFirstTime(copy, c)};
      if (e.code != Code::ok) failed = k;
    }
    if (failed == n) {
      m = std::move(copy);
    } else if (n > 1) {
      for (size_t k = 0; k < n; k++) {
        if (k != failed) codes[i + k] = Expected{Code::linked_event_failed, false, now};
      }
    }
    i += n;
  }
  return codes;
}

void ModelTick(Model& m, uint64_t now) {
  m.now = now;
  while (!m.expiries.empty() && m.expiries.begin()->first <= now) {
    MTransfer& t = m.transfers[m.id_of_index[m.expiries.begin()->second]];
    m.expiries.erase(m.expiries.begin());
    if (t.state != wire::TransferState::kPending) continue;
    m.accounts[t.dr].dp -= t.amount;
    m.accounts[t.cr].cp -= t.amount;
    t.state = wire::TransferState::kPendingExpired;
  }
  while (m.settle_cursor < m.order_seq.size()) {
    MOrder& o = m.orders[m.order_seq[m.settle_cursor]];
    if (o.paid_at + m.config.auto_confirm_us > now) break;
    // Pre-sale deposits (ids from 2^55) wait for their balance: never auto-confirmed.
    if (o.state == wire::OrderMoneyState::kPaid && m.order_seq[m.settle_cursor] < wire::kDepositMoneyIdBase) {
      ASSERT_EQ(ModelSettle(m, m.order_seq[m.settle_cursor]), Code::ok);
    }
    m.settle_cursor++;
  }
}

// ---- the generator -------------------------------------------------------------------------

struct Gen {
  std::mt19937_64 rng;
  uint64_t recent_pending[8] = {};  // ids of pending transfers asked for, to post or void
  uint64_t Below(uint64_t n) { return rng() % n; }
  bool Chance(int percent) { return Below(100) < uint64_t(percent); }
  int64_t Amount() {
    if (Chance(3)) return Chance(50) ? 0 : -int64_t(Below(10));
    if (Chance(1)) return wire::kLedgerAmountMaxFen + 1;
    return 1 + int64_t(Below(Chance(20) ? 100'000 : 5'000));
  }
  uint64_t AccountId() {
    if (Chance(2)) return Chance(50) ? 0 : SystemAccountId(SystemAccount::kEscrow);
    return 1 + Below(12);
  }
  uint64_t TransferId() { return Chance(2) ? 0 : 1 + Below(300); }
  uint64_t OrderId() {
    if (Chance(15)) return DepositId();
    const uint64_t c = carried[Below(std::size(carried))];
    return Chance(30) && c != 0 ? c : Party(80);
  }
  // Any amount, a few hundred fen, or one to three (many small refunds: the shares of a
  // subsidy or a deposit nearly all of the price come back one fen at a time).
  int64_t AfterSalesAmount() {
    if (Chance(20)) return 1 + int64_t(Below(3));
    return Chance(50) ? Amount() : 1 + int64_t(Below(500));
  }
  uint64_t Party(uint64_t n) { return Chance(1) ? 0 : 1 + Below(n); }

  wire::Command Account() {
    uint8_t flags = uint8_t(Below(4) == 0 ? Below(8) : (Chance(50) ? 2 : 0));
    if (Chance(2)) flags |= 8;
    return CreateAccountCmd(AccountId(), flags, Chance(90) ? 1 : uint32_t(Below(3)), uint16_t(1 + Below(2)), Below(2));
  }
  wire::Command Transfer() {
    TransferArgs a{.id = TransferId(), .debit = AccountId(), .credit = AccountId(), .amount = Amount()};
    int kind = int(Below(10));
    if (kind < 3) {
      a.flags = wire::kTransferPending;
      a.timeout_us = Chance(50) ? Below(4) * kMicrosPerDay : 0;
      recent_pending[Below(8)] = a.id;
    }
    if (kind == 3 || kind == 4 || kind == 5) {
      a.flags = kind == 5 ? wire::kVoidPendingTransfer : wire::kPostPendingTransfer;
      a.pending_id = Chance(80) ? recent_pending[Below(8)] : 1 + Below(300);
      if (Chance(70)) a.debit = 0, a.credit = 0, a.ledger = 0, a.code = 0;
      if (Chance(50)) a.amount = 0;
    }
    if (kind == 6) a.flags = Chance(50) ? wire::kBalancingDebit : wire::kBalancingCredit;
    if (Chance(3)) a.flags = uint8_t(Below(128));
    if (Chance(3)) a.timeout_us = 1;
    if (Chance(3)) a.ledger = 2;
    if (Chance(1)) a.code = 0;
    a.user_data = Below(2);
    return TransferCmd(a);
  }
  wire::Command Payment() {
    PaymentMethod method = PaymentMethod(1 + Below(4));
    uint8_t periods = wire::IsInstalment(method) ? wire::kInstalmentPlans[Below(4)] : 0;
    if (Chance(3)) periods = uint8_t(Below(30));
    if (Chance(2)) method = PaymentMethod(Below(7));
    const int64_t amount = Chance(5) ? int64_t(Below(30)) : Amount();
    // Platform coupons: often none, often some, sometimes nearly all of the price (so a
    // refund's share can be all the subsidy's), now and then out of range.
    int64_t subsidy = 0;
    if (amount > 1 && Chance(40)) subsidy = int64_t(Below(uint64_t(amount)));
    if (amount > 1 && Chance(10)) subsidy = std::max<int64_t>(0, amount - 1 - int64_t(Below(3)));
    if (Chance(3)) subsidy = Chance(50) ? -1 : amount + int64_t(Below(2));
    if (Chance(25)) return Deposit();
    if (Chance(35)) return CarryDeposit(method, periods, subsidy);
    return PayCmd(Party(80), Party(8), Party(4), amount, method, periods, subsidy);
  }
  // Pre-sale deposits: fresh money ids 2^55 + 1, 2 ..., small amounts, by balance or card (now
  // and then by instalments or with a subsidy, which makes them uncarriable); the latest few
  // are remembered with their parties so a later payment can carry one.
  static constexpr uint64_t kDepositBase = uint64_t{1} << 55;
  struct DepositSent {
    uint64_t id = 0, buyer = 0, merchant = 0;
    int64_t amount = 0;
  };
  DepositSent deposits[6];
  uint64_t deposit_count = 0;
  const DepositSent& SomeDeposit() { return deposits[Below(std::size(deposits))]; }
  uint64_t DepositId() {
    const uint64_t id = SomeDeposit().id;
    return id != 0 ? id : kDepositBase + 1 + Below(4);
  }
  wire::Command Deposit() {
    DepositSent& d = deposits[deposit_count % std::size(deposits)];
    d = {kDepositBase + ++deposit_count, Party(8), Party(4),
         1 + int64_t(Below(Chance(20)   ? 20'000
                           : Chance(30) ? 10
                                        : 2'000))};
    PaymentMethod method = Chance(50) ? PaymentMethod::kBalance : PaymentMethod::kCard;
    uint8_t periods = 0;
    if (Chance(5)) method = PaymentMethod::kInstalmentMerchantFee, periods = 3;
    return PayCmd(d.id, d.buyer, d.merchant, d.amount, method, periods, Chance(5) ? 1 : 0);
  }
  // A payment carrying a deposit: mostly that deposit's buyer and merchant and more than its
  // amount (sometimes by one to three fen, so refunds' shares can be all the deposit's); now
  // and then another buyer or merchant, too little, a subsidy, an order that is no deposit.
  wire::Command CarryDeposit(PaymentMethod method, uint8_t periods, int64_t subsidy) {
    const DepositSent d = Chance(5) ? DepositSent{Party(80), 0, 0, 0} : SomeDeposit();
    int64_t amount = d.amount + 1 + int64_t(Below(Chance(40) ? 3 : 30'000));
    if (Chance(5)) amount = d.amount - int64_t(Below(2));
    const uint64_t buyer = Chance(95) && d.buyer != 0 ? d.buyer : Party(8);
    const uint64_t merchant = Chance(95) && d.merchant != 0 ? d.merchant : Party(4);
    const uint64_t order_id = Party(80);
    carried[Below(std::size(carried))] = order_id;
    return PayCmd(order_id, buyer, merchant, amount, method, periods, Chance(90) ? 0 : subsidy,
                  d.id != 0 ? d.id : DepositId());
  }
  uint64_t carried[6] = {};  // orders lately paid with a deposit, to refund
  // Commands sent lately, to send again: as they were (a retry, which must replay when the
  // first was applied) or with one field changed (another request under the same id).
  static constexpr size_t kSentKept = 64;
  std::vector<wire::Command> sent;
  wire::Command Again() {
    wire::Command c = sent[Below(sent.size())];
    if (Chance(25)) {
      // A field other than the operation and the id: bytes 16..47 hold the accounts, parties,
      // amounts and user data of every ledger command.
      c.bytes[16 + Below(32)] ^= uint8_t(1 + Below(255));
    } else if (c.operation == wire::kPayOrderMoney && Chance(25)) {
      c.bytes[Chance(50) ? 48 : 56] ^= 1;  // the subsidy by one fen, or the deposit named
    }
    return c;
  }
  wire::Command Next() {
    wire::Command c = Chance(10) && !sent.empty() ? Again() : Fresh();
    if (sent.size() < kSentKept) {
      sent.push_back(c);
    } else {
      sent[Below(kSentKept)] = c;
    }
    return c;
  }
  wire::Command Fresh() {
    int k = int(Below(100));
    wire::Command c;
    if (k < 12) c = Account();
    else if (k < 40) c = Transfer();
    else if (k < 50) c = PartyCmd(wire::kDeposit, TransferId(), Party(8), Amount());
    else if (k < 53) c = PartyCmd(wire::kWithdraw, TransferId(), Party(4), Amount());
    else if (k < 57) c = PartyCmd(wire::kDrawDown, TransferId(), Party(4), Amount());
    else if (k < 60) c = PartyCmd(wire::kRepayMerchantCredit, TransferId(), Party(4), Amount());
    else if (k < 63) c = SetBuyerLimitCmd(Party(8), Chance(5) ? -1 : int64_t(Below(400'000)));
    else if (k < 65) c = SetLineCmd(Party(4), Chance(5) ? -1 : int64_t(Below(200'000)), uint16_t(Below(Chance(5) ? 20'000 : 10'001)));
    else if (k < 80) c = Payment();
    else if (k < 85)
      c = OrderCmd(wire::kRefundOrderMoney, OrderId());
    else if (k < 88)
      c = OrderCmd(wire::kConfirmDelivery, OrderId());
    else if (k < 94)
      c = AfterSalesCmd(TransferId(), OrderId(), AfterSalesAmount());
    else c = RepayCmd(TransferId(), Party(80), uint8_t(Chance(30) ? 0 : Below(5)));
    if (Chance(1)) c.bytes[120] = 1;  // a reserved byte set
    if (Chance(1)) c.bytes[0] = uint8_t(45 + Below(19));  // unknown or query operation
    return c;
  }
};

// ---- the checks ----------------------------------------------------------------------------

void CheckInvariants(const Ledger& ledger, const Model& m) {
  int64_t dp = 0, dpo = 0, cp = 0, cpo = 0;
  ASSERT_EQ(ledger.account_count(), m.accounts.size());
  for (uint32_t i = 0; i < ledger.account_count(); i++) {
    wire::AccountRecord a = ledger.AccountAt(i);
    dp += a.debits_pending_fen, dpo += a.debits_posted_fen;
    cp += a.credits_pending_fen, cpo += a.credits_posted_fen;
    if (a.flags & wire::kDebitsMustNotExceedCredits) {
      ASSERT_LE(a.debits_pending_fen + a.debits_posted_fen, a.credits_posted_fen) << a.account_id;
    }
    if (a.flags & wire::kCreditsMustNotExceedDebits) {
      ASSERT_LE(a.credits_pending_fen + a.credits_posted_fen, a.debits_posted_fen) << a.account_id;
    }
    const MAccount& e = m.accounts.at(a.account_id);
    ASSERT_EQ(a.debits_pending_fen, e.dp) << a.account_id;
    ASSERT_EQ(a.debits_posted_fen, e.dpo) << a.account_id;
    ASSERT_EQ(a.credits_pending_fen, e.cp) << a.account_id;
    ASSERT_EQ(a.credits_posted_fen, e.cpo) << a.account_id;
  }
  ASSERT_EQ(dp, cp);
  ASSERT_EQ(dpo, cpo);
  int64_t unsettled = 0;
  int64_t subsidies_out = 0;  // paid by marketing and not yet returned
  for (uint32_t i = 0; i < ledger.order_count(); i++) {
    wire::OrderMoneyRecord o = ledger.OrderAt(i);
    const MOrder& e = m.orders.at(o.order_id);
    if (o.state == wire::OrderMoneyState::kPaid) unsettled += o.amount_fen - o.refunded_fen;
    ASSERT_EQ(o.state, e.state);
    ASSERT_EQ(o.refunded_fen, e.refunded);
    ASSERT_LE(o.refunded_fen, o.amount_fen);
    if (o.state == wire::OrderMoneyState::kPaid) {
      ASSERT_EQ(o.refunded_fen, 0);
    }
    ASSERT_EQ(o.subsidy_fen, e.subsidy);
    ASSERT_EQ(o.subsidy_refunded_fen, e.subsidy_refunded) << o.order_id;
    ASSERT_GE(o.subsidy_refunded_fen, 0);
    ASSERT_LE(o.subsidy_refunded_fen, o.subsidy_fen);
    ASSERT_LT(o.subsidy_fen, o.amount_fen);
    ASSERT_EQ(o.subsidy_refunded_fen,
              int64_t(__int128(o.subsidy_fen) * o.refunded_fen / o.amount_fen)) << o.order_id;
    subsidies_out += o.subsidy_fen - o.subsidy_refunded_fen;
    ASSERT_EQ(o.deposit_fen, e.deposit) << o.order_id;
    ASSERT_EQ(o.deposit_refunded_fen, e.deposit_refunded) << o.order_id;
    ASSERT_EQ(o.deposit_id, e.deposit_id) << o.order_id;
    ASSERT_GE(o.deposit_refunded_fen, 0);
    ASSERT_LE(o.deposit_refunded_fen, o.deposit_fen);
    ASSERT_LT(o.deposit_fen, o.amount_fen);
    ASSERT_TRUE(o.deposit_fen == 0 || o.subsidy_fen == 0) << o.order_id;
    ASSERT_EQ(o.deposit_refunded_fen,
              int64_t(__int128(o.deposit_fen) * o.refunded_fen / o.amount_fen))
        << o.order_id;
    if (o.state == wire::OrderMoneyState::kConverted) {
      // Its money is the carrying order's: nothing refunded, nothing of its own in escrow.
      ASSERT_EQ(o.refunded_fen, 0) << o.order_id;
      ASSERT_EQ(o.deposit_fen, 0) << o.order_id;
      wire::OrderMoneyRecord to{};
      ASSERT_EQ(ledger.LookupOrderMoney(o.deposit_id, &to), Code::ok) << o.order_id;
      ASSERT_EQ(to.deposit_id, o.order_id);
      ASSERT_EQ(to.deposit_fen, o.amount_fen);
      ASSERT_NE(to.state, wire::OrderMoneyState::kConverted);
    } else if (o.deposit_fen > 0) {
      wire::OrderMoneyRecord from{};
      ASSERT_EQ(ledger.LookupOrderMoney(o.deposit_id, &from), Code::ok) << o.order_id;
      ASSERT_EQ(from.state, wire::OrderMoneyState::kConverted) << o.order_id;
      ASSERT_EQ(from.deposit_id, o.order_id);
    }
  }
  wire::AccountRecord escrow{};
  ASSERT_EQ(ledger.LookupAccount(SystemAccountId(SystemAccount::kEscrow), &escrow), Code::ok);
  ASSERT_EQ(escrow.credits_posted_fen - escrow.debits_posted_fen, unsettled);
  wire::AccountRecord marketing{};
  ASSERT_EQ(ledger.LookupAccount(SystemAccountId(SystemAccount::kMarketing), &marketing), Code::ok);
  ASSERT_EQ(marketing.debits_pending_fen + marketing.credits_pending_fen, 0);
  ASSERT_EQ(marketing.debits_posted_fen - marketing.credits_posted_fen, subsidies_out);
  std::map<uint64_t, int64_t> owed_by_buyer;  // what active plans still owe
  for (uint32_t i = 0; i < ledger.plan_count(); i++) {
    wire::PlanRecord p = ledger.PlanAt(i);
    const MPlan& e = m.plans.at(p.order_id);
    ASSERT_EQ(p.total_fen, p.principal_fen + p.fee_fen);
    ASSERT_EQ(p.total_fen, e.principal + e.fee);
    ASSERT_EQ(p.repaid_fen, e.repaid);
    ASSERT_EQ(p.periods, e.periods);
    ASSERT_LE(p.repaid_fen, p.total_fen);
    const bool active = p.state == wire::PlanState::kActive || p.state == wire::PlanState::kOverdue;
    if (active) {
      owed_by_buyer[p.buyer_id] += p.total_fen - p.repaid_fen;
      // Every instalment left is at least one fen, and they sum to what is owed.
      const int64_t owed = p.total_fen - p.repaid_fen;
      const uint8_t left = uint8_t(p.periods - p.repaid_count);
      ASSERT_GE(owed, left);
      int64_t sum = 0;
      for (uint8_t k = 1; k <= left; k++) sum += wire::InstalmentAmountFen(owed, left, k);
      ASSERT_EQ(sum, owed);
    }
    if (e.reduced) continue;
    // Never refunded in part: the original schedule, its first repaid_count instalments paid.
    int64_t sum = 0, repaid = 0;
    for (uint8_t k = 1; k <= p.periods; k++) {
      int64_t amount = wire::InstalmentAmountFen(p.total_fen, p.periods, k);
      sum += amount;
      if (k <= p.repaid_count) repaid += amount;
    }
    ASSERT_EQ(sum, p.total_fen);
    ASSERT_EQ(repaid, p.repaid_fen);
  }
  for (const auto& [buyer, limit] : m.buyers) {
    wire::BuyerCreditRecord credit{};
    ASSERT_EQ(ledger.LookupBuyerCredit(buyer, &credit), Code::ok);
    ASSERT_EQ(credit.outstanding_fen, owed_by_buyer[buyer]) << "buyer " << buyer;
  }
  for (uint32_t i = 0; i < ledger.merchant_count(); i++) {
    wire::MerchantCreditRecord c = ledger.MerchantAt(i);
    ASSERT_EQ(c.outstanding_fen, c.drawn_fen - c.repaid_fen);
    ASSERT_EQ(c.drawn_fen, m.merchants.at(c.merchant_id).drawn);
    ASSERT_EQ(c.repaid_fen, m.merchants.at(c.merchant_id).repaid);
  }
}

LedgerConfig ModelConfig(Gen& gen) {
  LedgerConfig c = SmallConfig();
  c.account_count_max = 30 + uint32_t(gen.Below(40));  // small enough to fill
  c.transfer_count_max = 300 + uint32_t(gen.Below(600));
  c.buyer_count_max = 6;
  c.merchant_count_max = 3;
  c.order_count_max = 40;
  c.plan_count_max = 12;
  c.chain_length_max = 8;
  c.expire_per_tick_max = 1u << 20;  // the model expires and settles everything due
  c.settle_per_tick_max = 1u << 20;
  c.auto_confirm_us = 5 * kMicrosPerDay;
  c.instalment_period_us = 3 * kMicrosPerDay;
  c.buyer_credit_limit_default_fen = gen.Chance(50) ? 0 : 50'000;
  return c;
}

// How often each code came up over the whole test: a run that never reaches a code does not
// test it, so the test prints the tally.
std::map<Code, uint64_t> code_tally;
// Replays answered, by operation: every command the ledger takes must be seen retried.
std::map<wire::Operation, uint64_t> replay_tally;
uint64_t post_or_void_replays = 0;

void RunOne(uint64_t seed, int batch_count) {
  Gen gen{std::mt19937_64(seed)};
  LedgerConfig config = ModelConfig(gen);
  Ledger ledger(config);
  Ledger twin(config);
  Model model(config);
  uint64_t now = 1'000'000;
  for (int b = 0; b < batch_count; b++) {
    now += gen.Below(2 * kMicrosPerDay);
    ledger.Tick(now);
    twin.Tick(now);
    ModelTick(model, now);
    std::vector<wire::Command> batch(1 + gen.Below(40));
    for (wire::Command& c : batch) {
      c = gen.Next();
      if ((c.operation == wire::kCreateAccount || c.operation == wire::kCreateTransfer) && gen.Chance(15)) {
        c.bytes[1] |= 1;  // linked
      }
    }
    std::vector<wire::Result> results = ApplyAll(ledger, batch, now);
    std::vector<wire::Result> twin_results = ApplyAll(twin, batch, now);
    ASSERT_EQ(0, std::memcmp(results.data(), twin_results.data(), results.size() * sizeof(wire::Result)));
    std::vector<Expected> expected = ModelApply(model, batch, now);
    for (size_t i = 0; i < batch.size(); i++) {
      ASSERT_EQ(wire::CodeName(results[i].code), wire::CodeName(expected[i].code))
          << "seed " << seed << " batch " << b << " command " << i << " operation "
          << int(batch[i].bytes[0]);
      ASSERT_EQ(results[i].operation, batch[i].operation);
      ASSERT_EQ(wire::IsReplay(results[i]), expected[i].replayed)
          << "seed " << seed << " batch " << b << " command " << i;
      ASSERT_EQ(results[i].at_us, expected[i].at_us)
          << "seed " << seed << " batch " << b << " command " << i;
      code_tally[results[i].code]++;
      replay_tally[results[i].operation] += expected[i].replayed;
      const bool post_or_void =
          batch[i].operation == wire::kCreateTransfer &&
          (batch[i].bytes[1] & (wire::kPostPendingTransfer | wire::kVoidPendingTransfer)) != 0;
      post_or_void_replays += expected[i].replayed && post_or_void;
    }
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(ledger, model)) << "seed " << seed << " batch " << b;
    // The order engine's returns and cancellations after payment (docs/returns.md).
    for (int k = int(gen.Below(4)); k > 0; k--) {
      const uint64_t order_id = gen.OrderId();
      const bool cancel = gen.Chance(30);
      auto it = model.orders.find(order_id);
      int64_t refund = it == model.orders.end() ? int64_t(gen.Below(1000))
                       : gen.Chance(30)         ? it->second.amount - it->second.refunded
                       : gen.Chance(20)         ? int64_t(1 + gen.Below(3))
                                        : int64_t(gen.Below(uint64_t(it->second.amount) + 2));
      if (gen.Chance(5)) refund = -1;
      const Code got = cancel ? ledger.CancelPaidOrder(order_id, now) : ledger.ReturnOrder(order_id, refund, now);
      const Code twin_got = cancel ? twin.CancelPaidOrder(order_id, now) : twin.ReturnOrder(order_id, refund, now);
      ASSERT_EQ(got, twin_got);
      const Code expected = ModelReturnOrCancel(model, order_id, refund, cancel);
      ASSERT_EQ(wire::CodeName(got), wire::CodeName(expected))
          << "seed " << seed << " batch " << b << (cancel ? " cancel " : " return ") << order_id << " refund " << refund;
      code_tally[got]++;
      ASSERT_NO_FATAL_FAILURE(CheckInvariants(ledger, model)) << "seed " << seed << " batch " << b;
    }
  }
  Digester a, b;
  ledger.Digest(a);
  twin.Digest(b);
  ASSERT_EQ(a.Finish(), b.Finish());
}

TEST(LedgerModel, RandomBatchesMatchTheModel) {
  const char* seed_env = std::getenv("ELEVEN_SEED");
  const char* long_env = std::getenv("ELEVEN_LONG");
  const bool long_run = long_env != nullptr && std::strcmp(long_env, "1") == 0;
  uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : std::random_device{}();
  const int runs = seed_env ? 1 : (long_run ? 3000 : 150);
  std::printf("ledger model test: seed %llu (replay: ELEVEN_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  // An assertion inside the Ledger aborts the process; ELEVEN_LONG and ELEVEN_VERBOSE print
  // every run's seed first so such a failure can be replayed alone.
  const bool verbose = long_run || std::getenv("ELEVEN_VERBOSE") != nullptr;
  for (int r = 0; r < runs; r++) {
    uint64_t run_seed = seed + uint64_t(r);
    if (verbose) {
      std::printf("run seed %llu\n", static_cast<unsigned long long>(run_seed));
      std::fflush(stdout);
    }
    RunOne(run_seed, 60);
    if (::testing::Test::HasFatalFailure()) {
      std::printf("failed: replay with ELEVEN_SEED=%llu\n", static_cast<unsigned long long>(run_seed));
      return;
    }
  }
  std::printf("codes seen: %zu;", code_tally.size());
  for (auto [code, count] : code_tally) {
    std::printf(" %s=%llu", std::string(wire::CodeName(code)).c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("\nreplays:");
  for (auto [op, count] : replay_tally) {
    if (count > 0) std::printf(" %d=%llu", int(op), static_cast<unsigned long long>(count));
  }
  std::printf(" post/void=%llu\n", static_cast<unsigned long long>(post_or_void_replays));
  // Every command that can be retried was seen retried, and answered as a replay.
  for (wire::Operation op :
       {wire::kCreateAccount, wire::kCreateTransfer, wire::kDeposit, wire::kWithdraw,
        wire::kDrawDown, wire::kRepayMerchantCredit, wire::kPayOrderMoney, wire::kRefundOrderMoney,
        wire::kConfirmDelivery, wire::kRepayInstalment}) {
    EXPECT_GT(replay_tally[op], 0u) << "never replayed: operation " << int(op);
  }
  EXPECT_GT(post_or_void_replays, 0u);
  // Refunds of subsidised orders of every shape: the subsidy's share none, part or all of it.
  std::printf("subsidised refunds: share none %llu, part %llu, all %llu\n",
              static_cast<unsigned long long>(subsidy_free_refunds),
              static_cast<unsigned long long>(subsidy_split_refunds),
              static_cast<unsigned long long>(subsidy_only_refunds));
  EXPECT_GT(subsidy_free_refunds, 0u);
  EXPECT_GT(subsidy_split_refunds, 0u);
  EXPECT_GT(subsidy_only_refunds, 0u);
  // Deposits carried into payments, refused, and refunds of carrying orders of every shape.
  std::printf("deposits converted %llu; their refunds: share none %llu, part %llu, all %llu\n",
              static_cast<unsigned long long>(deposits_converted),
              static_cast<unsigned long long>(deposit_free_refunds),
              static_cast<unsigned long long>(deposit_split_refunds),
              static_cast<unsigned long long>(deposit_only_refunds));
  EXPECT_GT(deposits_converted, 0u);
  EXPECT_GT(deposit_free_refunds, 0u);
  EXPECT_GT(deposit_split_refunds, 0u);
  EXPECT_GT(deposit_only_refunds, 0u);
  for (Code code : {Code::deposit_not_payable, Code::deposit_converted}) {
    EXPECT_GT(code_tally[code], 0u) << "never produced: " << wire::CodeName(code);
  }
  // And a changed request under a used id was refused, never replayed.
  for (Code code :
       {Code::account_exists_with_different_flags, Code::transfer_exists_with_different_amount,
        Code::order_payment_exists_with_different_fields}) {
    EXPECT_GT(code_tally[code], 0u) << "never produced: " << wire::CodeName(code);
  }
  for (Code code : {Code::account_exists, Code::transfer_exists, Code::order_payment_exists}) {
    EXPECT_EQ(code_tally[code], 0u)
        << "a retry must be answered as a replay: " << wire::CodeName(code);
  }
}

// Same batches into two ledgers built apart: the results are the same bytes, the digests equal.
TEST(LedgerModel, DeterministicDigest) {
  Gen gen{std::mt19937_64(7)};
  LedgerConfig config = ModelConfig(gen);
  auto run = [&](uint64_t seed, std::vector<wire::Result>* all) {
    Gen g{std::mt19937_64(seed)};
    Ledger ledger(config);
    uint64_t now = 1;
    for (int b = 0; b < 50; b++) {
      now += g.Below(kMicrosPerDay);
      ledger.Tick(now);
      std::vector<wire::Command> batch(1 + g.Below(30));
      for (wire::Command& c : batch) c = g.Next();
      for (const wire::Result& r : ApplyAll(ledger, batch, now)) all->push_back(r);
    }
    Digester d;
    ledger.Digest(d);
    return d.Finish();
  };
  std::vector<wire::Result> first, second, other;
  Digest128 d1 = run(11, &first);
  Digest128 d2 = run(11, &second);
  Digest128 d3 = run(12, &other);
  ASSERT_EQ(first.size(), second.size());
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(wire::Result)));
  EXPECT_EQ(d1, d2);
  EXPECT_FALSE(d1 == d3);
}

}  // namespace
}  // namespace eleven::engine
