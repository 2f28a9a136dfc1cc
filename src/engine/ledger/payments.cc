// Payments on the ledger: party transfers (deposit, withdraw, draw down, repay), buyers and
// merchants created on demand, order payment into escrow, refund, settlement (commission,
// merchant fee, withheld loan repayment, net to the merchant), instalment plans and their
// repayment, and the auto-confirm walk. The accounts and transfers each step makes are listed
// in docs/ledger.md ("Account model").
#include <algorithm>

#include "base/assert.h"
#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_internal.h"
#include "wire/access.h"

namespace eleven::engine {

using wire::Code;
using wire::PaymentMethod;

namespace {

constexpr uint32_t kBank = static_cast<uint32_t>(SystemAccount::kBank) - 1;
constexpr uint32_t kCardClearing = static_cast<uint32_t>(SystemAccount::kCardClearing) - 1;
constexpr uint32_t kEscrow = static_cast<uint32_t>(SystemAccount::kEscrow) - 1;
constexpr uint32_t kCommissionAccount = static_cast<uint32_t>(SystemAccount::kCommission) - 1;
constexpr uint32_t kFeeIncome = static_cast<uint32_t>(SystemAccount::kFeeIncome) - 1;
constexpr uint32_t kMarketing = static_cast<uint32_t>(SystemAccount::kMarketing) - 1;

bool ValidPartyId(uint64_t id) { return id != 0 && id < wire::kUserIdLimit; }
bool ValidAmount(int64_t amount_fen) {
  return amount_fen > 0 && amount_fen <= wire::kLedgerAmountMaxFen;
}
// amount * bp / 10000, rounded down (the platform's share never rounds up against a payee).
int64_t BasisPoints(int64_t amount_fen, uint16_t bp) {
  ELEVEN_DASSERT(amount_fen >= 0 && amount_fen <= wire::kLedgerAmountMaxFen);
  ELEVEN_DASSERT(bp <= wire::kBasisPointsMax);
  return amount_fen * bp / wire::kBasisPointsMax;  // <= 1e14 * 1e4 = 1e18 < 2^63
}
// fee * part / whole, rounded down, in 128 bits (fee and part are up to 1e14 each).
int64_t ScaledFee(int64_t fee_fen, int64_t part_fen, int64_t whole_fen) {
  ELEVEN_ASSERT(fee_fen >= 0 && part_fen >= 0 && part_fen <= whole_fen && whole_fen > 0);
  return static_cast<int64_t>(static_cast<__int128>(fee_fen) * part_fen / whole_fen);
}

}  // namespace

int64_t Ledger::Outstanding(uint32_t account) const {
  const Account& a = accounts_[account];
  ELEVEN_DASSERT(a.debits_pending == 0 && a.credits_pending == 0);
  return a.debits_posted - a.credits_posted;
}

int64_t Ledger::Available(uint32_t account) const {
  const Account& a = accounts_[account];
  ELEVEN_DASSERT(account < account_count_);
  return a.credits_posted - a.debits_posted - a.debits_pending;
}

Code Ledger::Move(uint32_t debit, uint32_t credit, int64_t amount_fen, uint64_t id,
                  uint64_t user_data, MoneyCode code) {
  ELEVEN_ASSERT(amount_fen > 0 && debit != credit);
  ELEVEN_ASSERT(debit < account_count_ && credit < account_count_);
  if (!TransferRoom(1)) return Code::transfers_full;
  Account& d = accounts_[debit];
  Account& c = accounts_[credit];
  Code balances = CheckBalances(d, c, amount_fen, false);
  if (balances != Code::ok) return balances;
  SaveAccount(debit);
  SaveAccount(credit);
  d.debits_posted += amount_fen;
  c.credits_posted += amount_fen;
  Transfer rec{};
  // A generated id carries its own index, so it is unique and replays identically.
  rec.id = id != 0 ? id : (kGeneratedTransferTag | transfer_count_);
  rec.user_data = user_data;
  rec.amount = amount_fen;
  rec.created_at_us = now_us_;
  rec.debit = debit;
  rec.credit = credit;
  rec.ledger = wire::kLedgerCny;
  rec.code = static_cast<uint16_t>(code);
  rec.state = wire::TransferState::kPosted;
  InsertTransfer(rec);
  return Code::ok;
}

Code Ledger::EnsureBuyer(uint64_t buyer_id, uint32_t* index) {
  ELEVEN_DASSERT(ValidPartyId(buyer_id));
  *index = buyer_index_.Find(buyer_id);
  if (*index != kNoValue) return Code::ok;
  if (buyer_count_ == config_.buyer_count_max) return Code::ledger_buyers_full;
  if (account_count_ + 2 > config_.account_count_max) return Code::accounts_full;
  Buyer b{};
  b.id = buyer_id;
  b.credit_limit = config_.buyer_credit_limit_default_fen;
  // The wallet is money the platform owes the buyer; the receivable, what the buyer owes.
  b.wallet = InsertAccount(AccountIdOf(IdSpace::kBuyerWallet, buyer_id), wire::kLedgerCny,
                           static_cast<uint16_t>(IdSpace::kBuyerWallet),
                           wire::kDebitsMustNotExceedCredits, buyer_id);
  b.receivable = InsertAccount(AccountIdOf(IdSpace::kBuyerReceivable, buyer_id), wire::kLedgerCny,
                               static_cast<uint16_t>(IdSpace::kBuyerReceivable),
                               wire::kCreditsMustNotExceedDebits, buyer_id);
  *index = buyer_count_++;
  buyers_[*index] = b;
  ELEVEN_ASSERT(buyer_index_.Insert(buyer_id, *index));
  Undo& u = PushUndo();
  u.kind = UndoKind::kBuyerInsert;
  u.index = *index;
  return Code::ok;
}

Code Ledger::EnsureMerchant(uint64_t merchant_id, uint32_t* index) {
  ELEVEN_DASSERT(ValidPartyId(merchant_id));
  *index = merchant_index_.Find(merchant_id);
  if (*index != kNoValue) return Code::ok;
  if (merchant_count_ == config_.merchant_count_max) return Code::ledger_merchants_full;
  if (account_count_ + 2 > config_.account_count_max) return Code::accounts_full;
  Merchant m{};
  m.id = merchant_id;
  m.wallet = InsertAccount(AccountIdOf(IdSpace::kMerchantWallet, merchant_id), wire::kLedgerCny,
                           static_cast<uint16_t>(IdSpace::kMerchantWallet),
                           wire::kDebitsMustNotExceedCredits, merchant_id);
  m.loan = InsertAccount(AccountIdOf(IdSpace::kMerchantLoan, merchant_id), wire::kLedgerCny,
                         static_cast<uint16_t>(IdSpace::kMerchantLoan),
                         wire::kCreditsMustNotExceedDebits, merchant_id);
  *index = merchant_count_++;
  merchants_[*index] = m;
  ELEVEN_ASSERT(merchant_index_.Insert(merchant_id, *index));
  Undo& u = PushUndo();
  u.kind = UndoKind::kMerchantInsert;
  u.index = *index;
  return Code::ok;
}

// ---- party transfers -----------------------------------------------------------------------

namespace {

struct PartyShape {
  IdSpace debit_space;  // kSystem means the bank
  IdSpace credit_space;
  MoneyCode code;
};

PartyShape ShapeOf(wire::Operation op) {
  if (op == wire::kDeposit) return {IdSpace::kSystem, IdSpace::kBuyerWallet, MoneyCode::kDeposit};
  if (op == wire::kWithdraw) return {IdSpace::kMerchantWallet, IdSpace::kSystem, MoneyCode::kWithdraw};
  if (op == wire::kDrawDown) {
    return {IdSpace::kMerchantLoan, IdSpace::kMerchantWallet, MoneyCode::kDrawDown};
  }
  ELEVEN_ASSERT(op == wire::kRepayMerchantCredit);
  return {IdSpace::kMerchantWallet, IdSpace::kMerchantLoan, MoneyCode::kRepayMerchantCredit};
}

uint64_t SideId(IdSpace space, uint64_t party_id) {
  return space == IdSpace::kSystem ? SystemAccountId(SystemAccount::kBank)
                                   : AccountIdOf(space, party_id);
}

}  // namespace

Code Ledger::PartyExists(const wire::PartyTransfer& p, const Transfer& e) const {
  PartyShape shape = ShapeOf(p.operation);
  ELEVEN_DASSERT(e.id == p.transfer_id);
  if (e.flags != 0) return Code::transfer_exists_with_different_flags;
  if (accounts_[e.debit].id != SideId(shape.debit_space, p.party_id)) {
    return Code::transfer_exists_with_different_debit_account_id;
  }
  if (accounts_[e.credit].id != SideId(shape.credit_space, p.party_id)) {
    return Code::transfer_exists_with_different_credit_account_id;
  }
  if (e.amount != p.amount_fen) return Code::transfer_exists_with_different_amount;
  if (e.code != static_cast<uint16_t>(shape.code)) return Code::transfer_exists_with_different_code;
  if (e.user_data != p.party_id) return Code::transfer_exists_with_different_user_data;
  return Code::transfer_exists;
}

Code Ledger::PartyTransfer(const wire::PartyTransfer& p, wire::Result* result) {
  result->id = p.transfer_id;
  if (p.transfer_id == 0) return Code::invalid_id;
  if (p.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidPartyId(p.party_id)) return Code::invalid_id;
  if (!ValidAmount(p.amount_fen)) return Code::invalid_amount;
  uint32_t existing = transfer_index_.Find(p.transfer_id);
  if (existing != kNoValue) {
    result->amount_fen = transfers_[existing].amount;
    return PartyExists(p, transfers_[existing]);
  }
  PartyShape shape = ShapeOf(p.operation);
  uint32_t debit = kBank;
  uint32_t credit = kBank;
  uint32_t party = kNoValue;
  if (p.operation == wire::kDeposit) {
    Code code = EnsureBuyer(p.party_id, &party);
    if (code != Code::ok) return code;
    credit = buyers_[party].wallet;
  } else {
    party = merchant_index_.Find(p.party_id);
    if (party == kNoValue) {
      return p.operation == wire::kWithdraw ? Code::ledger_merchant_not_found
                                            : Code::credit_line_not_found;
    }
    const Merchant& m = merchants_[party];
    if (p.operation != wire::kWithdraw && !m.has_line) return Code::credit_line_not_found;
    int64_t owed = Outstanding(m.loan);
    if (p.operation == wire::kDrawDown && p.amount_fen > m.limit - owed) {
      return Code::credit_line_limit_exceeded;
    }
    if (p.operation == wire::kRepayMerchantCredit && p.amount_fen > owed) {
      return Code::repayment_exceeds_outstanding;
    }
    debit = shape.debit_space == IdSpace::kMerchantLoan ? m.loan : m.wallet;
    credit = shape.credit_space == IdSpace::kSystem ? kBank
             : shape.credit_space == IdSpace::kMerchantLoan ? m.loan
                                                             : m.wallet;
  }
  Code moved = Move(debit, credit, p.amount_fen, p.transfer_id, p.party_id, shape.code);
  if (moved != Code::ok) return moved;
  if (p.operation == wire::kDrawDown || p.operation == wire::kRepayMerchantCredit) {
    SaveMerchant(party);
    (p.operation == wire::kDrawDown ? merchants_[party].drawn : merchants_[party].repaid) +=
        p.amount_fen;
  }
  result->amount_fen = p.amount_fen;
  result->state = static_cast<wire::OrderState>(wire::TransferState::kPosted);
  return Code::ok;
}

Code Ledger::SetBuyerCreditLimit(const wire::SetBuyerCreditLimit& s) {
  if (!ValidPartyId(s.buyer_id)) return Code::invalid_id;
  if (s.limit_fen < 0 || s.limit_fen > wire::kLedgerAmountMaxFen) return Code::invalid_credit_limit;
  uint32_t buyer = kNoValue;
  Code code = EnsureBuyer(s.buyer_id, &buyer);
  if (code != Code::ok) return code;
  SaveBuyer(buyer);
  // May go below what the buyer owes now: that only stops new instalment purchases.
  buyers_[buyer].credit_limit = s.limit_fen;
  ELEVEN_ASSERT(buyers_[buyer].id == s.buyer_id);
  return Code::ok;
}

Code Ledger::SetMerchantCreditLine(const wire::SetMerchantCreditLine& s) {
  if (!ValidPartyId(s.merchant_id)) return Code::invalid_id;
  if (s.withhold_bp > wire::kBasisPointsMax) return Code::invalid_basis_points;
  if (s.limit_fen < 0 || s.limit_fen > wire::kLedgerAmountMaxFen) return Code::invalid_credit_limit;
  uint32_t merchant = kNoValue;
  Code code = EnsureMerchant(s.merchant_id, &merchant);
  if (code != Code::ok) return code;
  SaveMerchant(merchant);
  Merchant& m = merchants_[merchant];
  m.has_line = 1;
  m.limit = s.limit_fen;
  m.withhold_bp = s.withhold_bp;
  ELEVEN_ASSERT(m.id == s.merchant_id);
  return Code::ok;
}

// ---- orders --------------------------------------------------------------------------------

Code Ledger::CheckPayOrder(const wire::PayOrderMoney& p) const {
  if (!ValidPartyId(p.order_id) || !ValidPartyId(p.buyer_id) || !ValidPartyId(p.merchant_id)) {
    return Code::invalid_id;
  }
  if (p.deposit_id != 0 && !ValidPartyId(p.deposit_id)) return Code::invalid_id;
  auto method = static_cast<uint8_t>(p.method);
  if (method == 0 || method > wire::kPaymentMethodMax) return Code::invalid_payment_method;
  if (wire::IsInstalment(p.method) ? wire::InstalmentPlanIndex(p.instalment_periods) < 0
                                   : p.instalment_periods != 0) {
    return Code::invalid_instalment_periods;
  }
  if (!ValidAmount(p.amount_fen)) return Code::invalid_amount;
  // The buyer pays at least one fen: a payment is the buyer's, however large the coupons.
  if (p.subsidy_fen < 0 || p.subsidy_fen >= p.amount_fen) return Code::invalid_amount;
  // At least one fen per instalment, so every instalment is a real transfer.
  if (wire::IsInstalment(p.method) && p.amount_fen - p.subsidy_fen < p.instalment_periods) {
    return Code::instalment_amount_too_small;
  }
  return Code::ok;
}

Code Ledger::CheckDeposit(const wire::PayOrderMoney& p, uint32_t* index) const {
  *index = kNone;
  if (p.deposit_id == 0) return Code::ok;
  const uint32_t found = order_index_.Find(p.deposit_id);
  if (found == kNoValue) return Code::order_payment_not_found;
  const Order& d = orders_[found];
  // Only money still whole in escrow can join another payment: paid, nothing refunded, not
  // settled or carried already. It must be the same buyer's, for the same merchant, paid the
  // simple way (its refunds go back to the wallet or the card), and be only a deposit.
  const bool whole = d.state == wire::OrderMoneyState::kPaid && d.refunded == 0;
  const bool same_parties =
      buyers_[d.buyer].id == p.buyer_id && merchants_[d.merchant].id == p.merchant_id;
  const bool simple = (d.method == PaymentMethod::kBalance || d.method == PaymentMethod::kCard) &&
                      d.subsidy == 0 && d.deposit == 0;
  // The payment is more than the deposit (the buyer pays at least one fen now), and a
  // subsidy never joins a deposit (one pro-rata source per order).
  const bool fits = d.amount < p.amount_fen && p.subsidy_fen == 0;
  if (!whole || !same_parties || !simple || !fits) return Code::deposit_not_payable;
  ELEVEN_DASSERT(d.plan == kNone && d.closed_at_us == 0);
  if (wire::IsInstalment(p.method) && p.amount_fen - d.amount < p.instalment_periods) {
    return Code::instalment_amount_too_small;
  }
  *index = found;
  return Code::ok;
}

void Ledger::ConvertDeposit(uint32_t deposit_index, uint64_t order_id) {
  Order& d = orders_[deposit_index];
  ELEVEN_ASSERT(d.state == wire::OrderMoneyState::kPaid && d.refunded == 0 && d.deposit == 0);
  const uint32_t release = OrderTransferReserve(d);
  ELEVEN_ASSERT(transfers_reserved_ >= release);
  SaveReserved();
  transfers_reserved_ -= release;
  SaveOrder(deposit_index);
  d.state = wire::OrderMoneyState::kConverted;
  d.closed_at_us = now_us_;
  d.deposit_id = order_id;
}

Code Ledger::DoPayOrder(const wire::PayOrderMoney& p, wire::Result* result) {
  result->id = p.order_id;
  Code check = CheckPayOrder(p);
  if (check != Code::ok) return check;
  uint32_t existing = order_index_.Find(p.order_id);
  if (existing != kNoValue) {
    const Order& o = orders_[existing];
    result->state = static_cast<wire::OrderState>(o.state);
    result->amount_fen = o.amount;
    // A converted deposit's deposit_id names the order that took it, not one it carries.
    const uint64_t carried = o.state == wire::OrderMoneyState::kConverted ? 0 : o.deposit_id;
    bool same = buyers_[o.buyer].id == p.buyer_id && merchants_[o.merchant].id == p.merchant_id &&
                o.amount == p.amount_fen && o.method == p.method &&
                o.periods == p.instalment_periods && o.subsidy == p.subsidy_fen &&
                carried == p.deposit_id;
    return same ? Code::order_payment_exists : Code::order_payment_exists_with_different_fields;
  }
  uint32_t deposit = kNone;
  check = CheckDeposit(p, &deposit);
  if (check != Code::ok) return check;
  const int64_t deposit_fen = deposit == kNone ? 0 : orders_[deposit].amount;
  if (order_count_ == config_.order_count_max) return Code::ledger_orders_full;
  if (wire::IsInstalment(p.method) && plan_count_ == config_.plan_count_max) return Code::plans_full;
  // The payment (and a buyer's fee, and the subsidy), plus the settlement or refund legs
  // reserved for later; a carried deposit gives its own reservation back.
  const bool subsidised = p.subsidy_fen > 0;
  const uint32_t reserve = kOrderTransferReserve + (subsidised ? kSubsidyTransferReserve : 0) +
                           (deposit_fen > 0 ? kDepositTransferReserve : 0);
  const uint32_t released = deposit == kNone ? 0 : OrderTransferReserve(orders_[deposit]);
  ELEVEN_ASSERT(released < 2 + reserve && transfers_reserved_ >= released);
  if (!TransferRoom(2 + (subsidised ? 1 : 0) + reserve - released)) return Code::transfers_full;
  uint32_t buyer = kNoValue;
  uint32_t merchant = kNoValue;
  Code code = EnsureBuyer(p.buyer_id, &buyer);
  if (code == Code::ok) code = EnsureMerchant(p.merchant_id, &merchant);
  if (code != Code::ok) return code;
  // A buyer's wallet and credit serve the storefront that first spent them (docs/access.md).
  const bool spends_buyer = p.method != PaymentMethod::kCard && p.storefront != 0;
  if (spends_buyer && buyers_[buyer].storefront != 0 && buyers_[buyer].storefront != p.storefront) {
    return Code::forbidden;
  }

  const uint32_t order_index = order_count_;
  int64_t merchant_fee = 0;
  uint32_t plan = kNone;
  // The buyer pays the price less the platform's coupons (the marketing account pays those)
  // and less a carried deposit (already in escrow).
  const int64_t buyer_fen = p.amount_fen - p.subsidy_fen - deposit_fen;
  ELEVEN_ASSERT(buyer_fen > 0 && (p.subsidy_fen == 0 || deposit_fen == 0));
  if (p.method == PaymentMethod::kBalance) {
    code = Move(buyers_[buyer].wallet, kEscrow, buyer_fen, 0, p.order_id, MoneyCode::kOrderPayment);
  } else if (p.method == PaymentMethod::kCard) {
    code = Move(kCardClearing, kEscrow, buyer_fen, 0, p.order_id, MoneyCode::kOrderPayment);
  } else {
    code = OpenPlan(p, buyer_fen, buyer, order_index, &merchant_fee, &plan);
  }
  if (code == Code::ok && subsidised) {
    code = Move(kMarketing, kEscrow, p.subsidy_fen, 0, p.order_id, MoneyCode::kCouponSubsidy);
  }
  if (code != Code::ok) return code;

  Order o{};
  o.order_id = p.order_id;
  o.amount = p.amount_fen;
  o.subsidy = p.subsidy_fen;
  o.deposit = deposit_fen;
  o.deposit_id = p.deposit_id;
  o.deposit_method = deposit == kNone ? PaymentMethod{} : orders_[deposit].method;
  o.paid_at_us = now_us_;
  o.merchant_fee = merchant_fee;
  o.buyer = buyer;
  o.merchant = merchant;
  o.plan = plan;
  o.method = p.method;
  o.periods = p.instalment_periods;
  o.state = wire::OrderMoneyState::kPaid;
  ELEVEN_ASSERT(order_count_ == order_index && order_count_ < config_.order_count_max);
  orders_[order_count_++] = o;
  ELEVEN_ASSERT(order_index_.Insert(p.order_id, order_index));
  Undo& u = PushUndo();
  u.kind = UndoKind::kOrderInsert;
  u.index = order_index;
  if (spends_buyer && buyers_[buyer].storefront == 0) {
    SaveBuyer(buyer);
    buyers_[buyer].storefront = p.storefront;
  }
  if (deposit != kNone) ConvertDeposit(deposit, p.order_id);
  ELEVEN_ASSERT(reserve == OrderTransferReserve(orders_[order_index]));
  SaveReserved();
  transfers_reserved_ += reserve;
  result->amount_fen = p.amount_fen;
  result->state = static_cast<wire::OrderState>(wire::OrderMoneyState::kPaid);
  return Code::ok;
}

Code Ledger::OpenPlan(const wire::PayOrderMoney& p, int64_t principal_fen, uint32_t buyer,
                      uint32_t order, int64_t* merchant_fee_fen, uint32_t* plan) {
  const int plan_kind = wire::InstalmentPlanIndex(p.instalment_periods);
  ELEVEN_ASSERT(plan_kind >= 0 && plan_count_ < config_.plan_count_max);
  const bool buyer_pays = p.method == PaymentMethod::kInstalmentBuyerFee;
  // The plan finances what the buyer pays now: the price less the platform's coupons and a
  // carried deposit. Both fees are on that principal.
  const int64_t principal = principal_fen;
  ELEVEN_ASSERT(principal >= p.instalment_periods && principal <= p.amount_fen);
  const int64_t buyer_fee =
      buyer_pays ? BasisPoints(principal, config_.buyer_fee_bp[plan_kind]) : 0;
  *merchant_fee_fen = buyer_pays ? 0 : BasisPoints(principal, config_.merchant_fee_bp[plan_kind]);
  Buyer& b = buyers_[buyer];
  const int64_t owed = Outstanding(b.receivable);
  // owed <= limit is not guaranteed (limits may be lowered), so compare without subtracting.
  if (owed + principal + buyer_fee > b.credit_limit) return Code::credit_limit_exceeded;
  // The credit provider pays the principal into escrow now; the buyer owes it (and a fee).
  Code code = Move(b.receivable, kEscrow, principal, 0, p.order_id, MoneyCode::kOrderPayment);
  if (code == Code::ok && buyer_fee > 0) {
    code = Move(b.receivable, kFeeIncome, buyer_fee, 0, p.order_id, MoneyCode::kBuyerFee);
  }
  if (code != Code::ok) return code;
  Plan pl{};
  pl.order_id = p.order_id;
  pl.principal = principal;
  pl.fee = buyer_fee;
  pl.total = principal + buyer_fee;
  pl.started_at_us = now_us_;
  pl.buyer = buyer;
  pl.order = order;
  pl.periods = p.instalment_periods;
  pl.state = wire::PlanState::kActive;
  *plan = plan_count_;
  plans_[plan_count_++] = pl;
  Undo& u = PushUndo();
  u.kind = UndoKind::kPlanInsert;
  u.index = *plan;
  SaveBuyer(buyer);
  b.plan_count++;
  return Code::ok;
}

Code Ledger::DoRefund(uint64_t order_id, wire::Result* result) {
  result->id = order_id;
  if (!ValidPartyId(order_id)) return Code::invalid_id;
  uint32_t index = order_index_.Find(order_id);
  if (index == kNoValue) return Code::order_payment_not_found;
  Order& o = orders_[index];
  if (o.state == wire::OrderMoneyState::kRefunded) return Code::order_already_refunded;
  if (o.state == wire::OrderMoneyState::kSettled) return Code::order_already_settled;
  if (o.state == wire::OrderMoneyState::kConverted) return Code::deposit_converted;
  // A paid order has refunded nothing: a partial return settles the rest at once.
  ELEVEN_ASSERT(o.refunded == 0 && o.subsidy_refunded == 0 && o.deposit_refunded == 0);
  const uint32_t reserve = OrderTransferReserve(o);
  ELEVEN_ASSERT(transfers_reserved_ >= reserve);
  SaveReserved();
  transfers_reserved_ -= reserve;  // the refund legs use the reservation
  SaveOrder(index);
  // The whole subsidy back to the marketing account, a whole carried deposit the way it was
  // paid, the rest as the buyer paid it.
  int64_t subsidy_back = 0;
  int64_t deposit_back = 0;
  Code code = ReturnSubsidy(index, kEscrow, o.amount, 0, &subsidy_back);
  if (code == Code::ok) code = ReturnDeposit(index, kEscrow, o.amount, 0, &deposit_back);
  if (code != Code::ok) return code;
  const int64_t buyer_fen = o.amount - subsidy_back - deposit_back;
  ELEVEN_ASSERT(subsidy_back == o.subsidy && deposit_back == o.deposit && buyer_fen > 0);
  if (o.method == PaymentMethod::kBalance) {
    code = Move(kEscrow, buyers_[o.buyer].wallet, buyer_fen, 0, order_id, MoneyCode::kRefund);
  } else if (o.method == PaymentMethod::kCard) {
    code = Move(kEscrow, kCardClearing, buyer_fen, 0, order_id, MoneyCode::kRefund);
  } else {
    ELEVEN_ASSERT(plans_[o.plan].principal == buyer_fen);
    code = RefundPlan(o);
  }
  if (code != Code::ok) return code;
  o.state = wire::OrderMoneyState::kRefunded;
  o.refunded = o.amount;
  o.closed_at_us = now_us_;
  result->amount_fen = o.amount;
  result->state = static_cast<wire::OrderState>(o.state);
  return Code::ok;
}

Code Ledger::RefundPlan(const Order& o) {
  ELEVEN_ASSERT(o.plan != kNone && o.plan < plan_count_);
  Plan& pl = plans_[o.plan];
  ELEVEN_ASSERT(pl.order_id == o.order_id && pl.state != wire::PlanState::kCancelled);
  const Buyer& b = buyers_[o.buyer];
  SavePlan(o.plan);
  // Instalments already repaid go back to the wallet first, then the principal and the
  // buyer's fee cancel what the plan still owed: the plan's net effect becomes zero.
  Code code = Code::ok;
  if (pl.repaid > 0) {
    code = Move(b.receivable, b.wallet, pl.repaid, 0, o.order_id, MoneyCode::kRefundRepaid);
  }
  if (code == Code::ok) {
    code = Move(kEscrow, b.receivable, pl.principal, 0, o.order_id, MoneyCode::kRefund);
  }
  if (code == Code::ok && pl.fee > 0) {
    code = Move(kFeeIncome, b.receivable, pl.fee, 0, o.order_id, MoneyCode::kRefundBuyerFee);
  }
  pl.state = wire::PlanState::kCancelled;
  return code;
}

Code Ledger::DoConfirm(uint64_t order_id, wire::Result* result) {
  result->id = order_id;
  if (!ValidPartyId(order_id)) return Code::invalid_id;
  uint32_t index = order_index_.Find(order_id);
  if (index == kNoValue) return Code::order_payment_not_found;
  const Order& o = orders_[index];
  if (o.state == wire::OrderMoneyState::kRefunded) return Code::order_already_refunded;
  if (o.state == wire::OrderMoneyState::kSettled) return Code::order_already_settled;
  if (o.state == wire::OrderMoneyState::kConverted) return Code::deposit_converted;
  Code code = Settle(index);
  if (code != Code::ok) return code;
  result->amount_fen = o.net;
  result->state = static_cast<wire::OrderState>(o.state);
  return Code::ok;
}

Code Ledger::Settle(uint32_t order_index) {
  Order& o = orders_[order_index];
  ELEVEN_ASSERT(o.state == wire::OrderMoneyState::kPaid);
  // A partial return (DoReturn) released the reservation's refund part before its legs.
  const uint32_t release = o.refunded > 0 ? kSettleTransferCount : OrderTransferReserve(o);
  ELEVEN_ASSERT(transfers_reserved_ >= release);
  SaveReserved();
  transfers_reserved_ -= release;
  SaveOrder(order_index);
  Merchant& m = merchants_[o.merchant];
  // What is settled is what was not refunded; the merchant's instalment fee shrinks with it.
  const int64_t base = o.amount - o.refunded;
  ELEVEN_ASSERT(base > 0 && base <= o.amount);
  o.merchant_fee = o.refunded == 0 ? o.merchant_fee : ScaledFee(o.merchant_fee, base, o.amount);
  const int64_t commission = BasisPoints(base, config_.commission_bp);
  const int64_t rest = base - commission - o.merchant_fee;
  ELEVEN_ASSERT(rest >= 0);
  int64_t withheld = 0;
  if (m.has_line) withheld = std::min(Outstanding(m.loan), BasisPoints(rest, m.withhold_bp));
  const int64_t net = rest - withheld;
  struct Leg {
    uint32_t credit;
    int64_t amount;
    MoneyCode code;
  };
  const Leg legs[kSettleTransferCount] = {{kCommissionAccount, commission, MoneyCode::kCommission},
                                          {kFeeIncome, o.merchant_fee, MoneyCode::kMerchantFee},
                                          {m.loan, withheld, MoneyCode::kWithheld},
                                          {m.wallet, net, MoneyCode::kSettlement}};
  for (const Leg& leg : legs) {
    if (leg.amount == 0) continue;
    Code code = Move(kEscrow, leg.credit, leg.amount, 0, o.order_id, leg.code);
    if (code != Code::ok) return code;
  }
  if (withheld > 0) {
    SaveMerchant(o.merchant);
    m.repaid += withheld;
    m.withheld += withheld;
  }
  o.state = wire::OrderMoneyState::kSettled;
  o.closed_at_us = now_us_;
  o.commission = commission;
  o.withheld = withheld;
  o.net = net;
  return Code::ok;
}

void Ledger::AutoConfirm(uint64_t now_us) {
  uint32_t visited = 0;
  // Orders sit in payment order, which is log-time order, so the due ones are a prefix.
  while (settle_cursor_ < order_count_ && visited < config_.settle_per_tick_max) {
    const Order& o = orders_[settle_cursor_];
    if (o.paid_at_us + config_.auto_confirm_us > now_us) break;
    // A pre-sale deposit waits for its balance (weeks, often): it is carried into the order's
    // payment or forfeited, never confirmed by time (docs/promotions.md).
    if (o.state == wire::OrderMoneyState::kPaid && o.order_id < wire::kDepositMoneyIdBase) {
      BeginAtomic(now_us);
      Code code = Settle(settle_cursor_);
      // Settlement only fails by a balance overflowing int64 (2^63 fen), which no festival
      // reaches; an assertion rather than a silent stuck order.
      ELEVEN_ASSERT(code == Code::ok);
      Commit();
    }
    settle_cursor_++;
    visited++;
  }
  ELEVEN_ASSERT(settle_cursor_ <= order_count_);
}

// ---- instalments ---------------------------------------------------------------------------

Code Ledger::RepayInstalment(const wire::RepayInstalment& r, wire::Result* result) {
  result->id = r.transfer_id;
  if (r.transfer_id == 0) return Code::invalid_id;
  if (r.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  if (!ValidPartyId(r.order_id)) return Code::invalid_id;
  uint32_t existing = transfer_index_.Find(r.transfer_id);
  if (existing != kNoValue) {
    const Transfer& e = transfers_[existing];
    result->amount_fen = e.amount;
    if (e.flags != 0) return Code::transfer_exists_with_different_flags;
    if (e.code != static_cast<uint16_t>(MoneyCode::kRepayInstalment)) {
      return Code::transfer_exists_with_different_code;
    }
    if (e.user_data != r.order_id) return Code::transfer_exists_with_different_user_data;
    return Code::transfer_exists;
  }
  uint32_t index = order_index_.Find(r.order_id);
  if (index == kNoValue || orders_[index].plan == kNone) return Code::plan_not_found;
  Plan& pl = plans_[orders_[index].plan];
  if (pl.state != wire::PlanState::kActive) return Code::plan_not_active;
  const uint8_t remaining = pl.periods - pl.repaid_count;
  ELEVEN_ASSERT(remaining > 0);
  const uint8_t count = r.periods == 0 ? remaining : r.periods;
  if (count > remaining) return Code::invalid_instalment_periods;
  int64_t amount = 0;
  for (uint8_t k = pl.repaid_count + 1; k <= pl.repaid_count + count; k++) {
    // What is left spread over the periods left: the original schedule while nothing was
    // refunded, and still summing exactly to the total after a partial refund.
    amount += wire::InstalmentAmountFen(pl.total - pl.repaid,
                                        static_cast<uint8_t>(pl.periods - pl.repaid_count),
                                        static_cast<uint8_t>(k - pl.repaid_count));
  }
  const Buyer& b = buyers_[pl.buyer];
  Code code = Move(b.wallet, b.receivable, amount, r.transfer_id, r.order_id,
                   MoneyCode::kRepayInstalment);
  if (code != Code::ok) return code;
  SavePlan(orders_[index].plan);
  pl.repaid_count += count;
  pl.repaid += amount;
  if (pl.repaid_count == pl.periods) {
    ELEVEN_ASSERT(pl.repaid == pl.total);
    pl.state = wire::PlanState::kRepaid;
  }
  result->amount_fen = amount;
  result->state = static_cast<wire::OrderState>(pl.state);
  return Code::ok;
}

// ---- the order engine's calls --------------------------------------------------------------

Code Ledger::RunAtomic(const wire::LedgerCommand& command, uint64_t now_us, wire::Result* result) {
  ELEVEN_ASSERT(undo_count_ == 0);
  BeginAtomic(now_us);
  *result = wire::Result{};
  result->operation = command.operation;
  result->at_us = now_us;
  Code code = ApplyOne(command, result);
  result->code = code;
  if (code == Code::ok) {
    Commit();
  } else {
    Rollback();
  }
  return code;
}

Code Ledger::PayOrder(uint64_t order_id, uint64_t buyer_id, uint64_t merchant_id,
                      int64_t amount_fen, PaymentMethod method, uint8_t instalment_periods,
                      uint64_t now_us, uint64_t storefront, int64_t subsidy_fen,
                      uint64_t deposit_id) {
  wire::LedgerCommand c{};
  c.pay_order_money.operation = wire::kPayOrderMoney;
  c.pay_order_money.method = method;
  c.pay_order_money.instalment_periods = instalment_periods;
  c.pay_order_money.order_id = order_id;
  c.pay_order_money.buyer_id = buyer_id;
  c.pay_order_money.merchant_id = merchant_id;
  c.pay_order_money.amount_fen = amount_fen;
  c.pay_order_money.subsidy_fen = subsidy_fen;
  c.pay_order_money.deposit_id = deposit_id;
  ELEVEN_ASSERT(storefront <= wire::kStorefrontIdMax);
  c.pay_order_money.storefront = static_cast<uint32_t>(storefront);
  wire::Result result;
  return RunAtomic(c, now_us, &result);
}

Code Ledger::RefundOrder(uint64_t order_id, uint64_t now_us) {
  wire::LedgerCommand c{};
  c.order_money.operation = wire::kRefundOrderMoney;
  c.order_money.order_id = order_id;
  wire::Result result;
  return RunAtomic(c, now_us, &result);
}

Code Ledger::ConfirmDelivery(uint64_t order_id, uint64_t now_us) {
  wire::LedgerCommand c{};
  c.order_money.operation = wire::kConfirmDelivery;
  c.order_money.order_id = order_id;
  wire::Result result;
  return RunAtomic(c, now_us, &result);
}

}  // namespace eleven::engine
