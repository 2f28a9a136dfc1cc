// Ledger core: construction, Apply (chains, undo), accounts, transfers (single-phase,
// pending, post, void, expiry), Tick and Digest. Payments are in payments.cc, queries in
// query.cc. Check order for every command is the order written in docs/ledger.md.
#include "engine/ledger/ledger.h"

#include <bit>
#include <cstring>

#include "base/assert.h"
#include "engine/ledger/ledger_internal.h"

namespace eleven::engine {

using wire::Code;

namespace {

constexpr uint64_t kTenYearsUs = 3650 * kMicrosPerDay;

bool IsLinked(const wire::Command& c) {
  bool can_link = c.operation == wire::kCreateAccount || c.operation == wire::kCreateTransfer;
  // Both records keep their flags at byte 1 and the linked flag in bit 0.
  return can_link && (c.bytes[1] & 1) != 0;
}

// Heap order on (expires_at_us, transfer): a total order, so expiry order is deterministic.
bool Before(const Ledger::Expiry& a, const Ledger::Expiry& b) {
  return a.expires_at_us != b.expires_at_us ? a.expires_at_us < b.expires_at_us
                                            : a.transfer < b.transfer;
}

void HeapPush(Ledger::Expiry* heap, uint32_t* count, Ledger::Expiry item) {
  uint32_t i = (*count)++;
  heap[i] = item;
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!Before(heap[i], heap[parent])) break;
    std::swap(heap[i], heap[parent]);
    i = parent;
  }
  ELEVEN_DASSERT(i < *count);
}

void HeapPop(Ledger::Expiry* heap, uint32_t* count) {
  ELEVEN_ASSERT(*count > 0);
  uint32_t n = --(*count);
  heap[0] = heap[n];
  uint32_t i = 0;
  // Bounded by the heap's depth (log2 n).
  for (;;) {
    uint32_t smallest = i;
    uint32_t left = 2 * i + 1;
    uint32_t right = left + 1;
    if (left < n && Before(heap[left], heap[smallest])) smallest = left;
    if (right < n && Before(heap[right], heap[smallest])) smallest = right;
    if (smallest == i) break;
    std::swap(heap[i], heap[smallest]);
    i = smallest;
  }
}

// Commands ahead of the one applied whose index slots are prefetched: the transfer index
// outgrows the caches, and a miss costs more than a whole transfer's work otherwise.
constexpr size_t kPrefetchDistance = 8;

}  // namespace

// Checks that moving `amount` from dr to cr keeps every balance in int64 and every balance
// flag true. Shared by user transfers and the payments layer's moves.
Code CheckBalances(const Ledger::Account& dr, const Ledger::Account& cr, int64_t amount,
                   bool pending) {
  ELEVEN_DASSERT(amount >= 0);
  ELEVEN_DASSERT(&dr != &cr);
  int64_t sum = 0;
  if (pending) {
    if (__builtin_add_overflow(dr.debits_pending, amount, &sum)) return Code::overflows_debits_pending;
    if (__builtin_add_overflow(cr.credits_pending, amount, &sum)) return Code::overflows_credits_pending;
  } else {
    if (__builtin_add_overflow(dr.debits_posted, amount, &sum)) return Code::overflows_debits_posted;
    if (__builtin_add_overflow(cr.credits_posted, amount, &sum)) return Code::overflows_credits_posted;
  }
  int64_t debits = 0;
  int64_t credits = 0;
  if (__builtin_add_overflow(dr.debits_pending, dr.debits_posted, &debits) ||
      __builtin_add_overflow(debits, amount, &debits)) {
    return Code::overflows_debits;
  }
  if (__builtin_add_overflow(cr.credits_pending, cr.credits_posted, &credits) ||
      __builtin_add_overflow(credits, amount, &credits)) {
    return Code::overflows_credits;
  }
  if ((dr.flags & wire::kDebitsMustNotExceedCredits) && debits > dr.credits_posted) {
    return Code::exceeds_credits;
  }
  if ((cr.flags & wire::kCreditsMustNotExceedDebits) && credits > cr.debits_posted) {
    return Code::exceeds_debits;
  }
  return Code::ok;
}

Ledger::Ledger(const LedgerConfig& config)
    : config_(config),
      account_index_(config.account_count_max),
      transfer_index_(config.transfer_count_max),
      buyer_index_(config.buyer_count_max),
      merchant_index_(config.merchant_count_max),
      order_index_(config.order_count_max) {
  ELEVEN_ASSERT(config.account_count_max > kSystemAccountCount && config.transfer_count_max > 0);
  ELEVEN_ASSERT(config.plan_count_max > 0 && config.chain_length_max > 0);
  ELEVEN_ASSERT(config.expire_per_tick_max > 0 && config.settle_per_tick_max > 0);
  ELEVEN_ASSERT(config.auto_confirm_us <= kTenYearsUs && config.instalment_period_us > 0);
  ELEVEN_ASSERT(config.instalment_period_us <= kTenYearsUs);
  for (int i = 0; i < 4; i++) {
    // The commission and the merchant's fee both come out of the order amount.
    ELEVEN_ASSERT(config.commission_bp + config.merchant_fee_bp[i] <= wire::kBasisPointsMax);
    ELEVEN_ASSERT(config.buyer_fee_bp[i] <= wire::kBasisPointsMax);
  }
  ELEVEN_ASSERT(config.buyer_credit_limit_default_fen >= 0 &&
                config.buyer_credit_limit_default_fen <= wire::kLedgerAmountMaxFen);
  accounts_ = BigArray<Account>(config.account_count_max);
  transfers_ = BigArray<Transfer>(config.transfer_count_max);
  buyers_ = BigArray<Buyer>(config.buyer_count_max);
  merchants_ = BigArray<Merchant>(config.merchant_count_max);
  orders_ = BigArray<Order>(config.order_count_max);
  plans_ = BigArray<Plan>(config.plan_count_max);
  expiry_heap_ = BigArray<Expiry>(config.transfer_count_max);
  new_timeouts_ = BigArray<uint32_t>(config.chain_length_max);
  undo_count_max_ = config.chain_length_max * kUndoPerChainMemberMax + kUndoPerPaymentMax;
  undo_ = BigArray<Undo>(undo_count_max_);

  // The system accounts: escrow, commission and fee income can never go below zero; the bank
  // and card clearing face the outside world and carry no limit; marketing spends the
  // platform's budget on coupon subsidies and carries no limit either (a debit balance).
  const uint8_t flags[kSystemAccountCount] = {0,
                                              0,
                                              wire::kDebitsMustNotExceedCredits,
                                              wire::kDebitsMustNotExceedCredits,
                                              wire::kDebitsMustNotExceedCredits,
                                              0};
  static_assert(static_cast<uint32_t>(SystemAccount::kMarketing) == kSystemAccountCount);
  for (uint32_t i = 0; i < kSystemAccountCount; i++) {
    uint64_t id = AccountIdOf(IdSpace::kSystem, i + 1);
    uint32_t index = InsertAccount(id, wire::kLedgerCny, static_cast<uint16_t>(i + 1), flags[i], 0);
    ELEVEN_ASSERT(index == i);
  }
  undo_count_ = 0;  // the system accounts are not undoable
}

Ledger::~Ledger() = default;

size_t Ledger::Apply(std::span<const wire::Command> commands, uint64_t now_us,
                     std::span<wire::Result> results) {
  ELEVEN_ASSERT(!commands.empty() && results.size() >= commands.size());
  ELEVEN_ASSERT(wire::IsLedgerOperation(commands[0].operation));
  ELEVEN_ASSERT(now_us >= now_us_);
  now_us_ = now_us;
  size_t consumed = 0;
  // Bounded by commands.size(): every chain consumes at least one command.
  while (consumed < commands.size() && wire::IsLedgerOperation(commands[consumed].operation)) {
    if (consumed + kPrefetchDistance < commands.size()) Prefetch(commands[consumed + kPrefetchDistance]);
    consumed += ApplyChain(commands.subspan(consumed), results.subspan(consumed));
  }
  ELEVEN_ASSERT(consumed >= 1 && consumed <= commands.size());
  return consumed;
}

size_t Ledger::ApplyChain(std::span<const wire::Command> commands,
                          std::span<wire::Result> results) {
  // The chain: members up to and including the first without the linked flag. It is open if
  // the batch, the run of ledger commands or chain_length_max ends first.
  size_t n = 1;
  bool open = false;
  while (IsLinked(commands[n - 1])) {
    if (n == commands.size() || n == config_.chain_length_max ||
        !wire::IsLedgerOperation(commands[n].operation)) {
      open = true;
      break;
    }
    n++;
  }
  ELEVEN_ASSERT(n >= 1 && n <= commands.size());
  for (size_t k = 0; k < n; k++) {
    results[k] = wire::Result{};
    results[k].operation = commands[k].operation;
    results[k].at_us = now_us_;
  }
  if (open) {
    for (size_t k = 0; k < n; k++) results[k].code = Code::linked_event_failed;
    results[n - 1].code = Code::linked_event_chain_open;
    return n;
  }
  BeginAtomic(now_us_);
  size_t failed = n;
  for (size_t k = 0; k < n && failed == n; k++) {
    const wire::LedgerCommand command = wire::AsLedgerCommand(commands[k]);
    Code code = ApplyOne(command, &results[k]);
    // A repeat of a command already applied succeeds as a replay, in a chain too: a chain
    // sent again after a lost reply replays member by member.
    if (IsRepeat(command.operation, code)) code = AnswerReplay(command, &results[k]);
    results[k].code = code;
    if (code != Code::ok) failed = k;
  }
  if (failed == n) {
    Commit();
    return n;
  }
  Rollback();
  for (size_t k = 0; k < n; k++) {
    if (k == failed || n == 1) continue;
    results[k].code = Code::linked_event_failed;
    results[k].amount_fen = 0;
    results[k].state = wire::OrderState::kNone;
    results[k].flags = 0;
    results[k].at_us = now_us_;
  }
  return n;
}

void Ledger::Prefetch(const wire::Command& c) const {
  if (c.operation != wire::kCreateTransfer) return;
  wire::CreateTransfer t;
  std::memcpy(&t, &c, sizeof t);
  transfer_index_.Prefetch(t.transfer_id);
  account_index_.Prefetch(t.debit_account_id);
  account_index_.Prefetch(t.credit_account_id);
}

Code Ledger::ApplyOne(const wire::LedgerCommand& c, wire::Result* result) {
  ELEVEN_DASSERT(result->operation == c.operation);
  Code structure = wire::CheckLedgerStructure(c);
  if (structure != Code::ok) return structure;
  switch (static_cast<uint8_t>(c.operation)) {
    case static_cast<uint8_t>(wire::kCreateAccount):
      result->id = c.create_account.account_id;
      return CreateAccount(c.create_account);
    case static_cast<uint8_t>(wire::kCreateTransfer):
      return CreateTransfer(c.create_transfer, result);
    case static_cast<uint8_t>(wire::kDeposit):
    case static_cast<uint8_t>(wire::kWithdraw):
    case static_cast<uint8_t>(wire::kDrawDown):
    case static_cast<uint8_t>(wire::kRepayMerchantCredit):
      return PartyTransfer(c.party_transfer, result);
    case static_cast<uint8_t>(wire::kSetBuyerCreditLimit):
      result->id = c.set_buyer_credit_limit.buyer_id;
      return SetBuyerCreditLimit(c.set_buyer_credit_limit);
    case static_cast<uint8_t>(wire::kSetMerchantCreditLine):
      result->id = c.set_merchant_credit_line.merchant_id;
      return SetMerchantCreditLine(c.set_merchant_credit_line);
    case static_cast<uint8_t>(wire::kPayOrderMoney):
      return DoPayOrder(c.pay_order_money, result);
    case static_cast<uint8_t>(wire::kRefundOrderMoney):
      return DoRefund(c.order_money.order_id, result);
    case static_cast<uint8_t>(wire::kConfirmDelivery):
      return DoConfirm(c.order_money.order_id, result);
    case static_cast<uint8_t>(wire::kRepayInstalment):
      return RepayInstalment(c.repay_instalment, result);
    case static_cast<uint8_t>(wire::kAfterSalesRefund):
      return DoAfterSalesRefund(c.after_sales_refund, result);
    default:
      break;
  }
  // Queries are answered by the query path, never applied from the log.
  return Code::invalid_operation;
}

// ---- replays -------------------------------------------------------------------------------

bool Ledger::IsRepeat(wire::Operation operation, Code code) {
  switch (code) {
    case Code::account_exists:
    case Code::transfer_exists:
    case Code::order_payment_exists:
      return true;
    case Code::order_already_refunded:
      return operation == wire::kRefundOrderMoney;
    case Code::order_already_settled:
      return operation == wire::kConfirmDelivery;
    default:
      return false;
  }
}

// The first result of the command `c` repeats, rebuilt from what it left (its account,
// transfer or order money record): ok, the same id, amount and log time, the state the
// object is in now, marked as a replay. Changes nothing.
Code Ledger::AnswerReplay(const wire::LedgerCommand& c, wire::Result* result) const {
  ELEVEN_DASSERT(result->operation == c.operation);
  result->flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
  const auto op = c.operation;
  if (op == wire::kCreateAccount) {
    const uint32_t a = account_index_.Find(c.create_account.account_id);
    ELEVEN_ASSERT(a != kNoValue);
    result->at_us = accounts_[a].created_at_us;
    return Code::ok;
  }
  if (op == wire::kPayOrderMoney || op == wire::kRefundOrderMoney || op == wire::kConfirmDelivery) {
    const uint64_t order_id =
        op == wire::kPayOrderMoney ? c.pay_order_money.order_id : c.order_money.order_id;
    const uint32_t o = order_index_.Find(order_id);
    ELEVEN_ASSERT(o != kNoValue);
    const Order& order = orders_[o];
    result->id = order_id;
    result->amount_fen = op == wire::kConfirmDelivery ? order.net : order.amount;
    result->state = static_cast<wire::OrderState>(order.state);
    result->at_us = op == wire::kPayOrderMoney ? order.paid_at_us : order.closed_at_us;
    return Code::ok;
  }
  // The transfer commands: create_transfer, the party transfers, repay_instalment,
  // after_sales_refund.
  const uint64_t transfer_id = op == wire::kCreateTransfer     ? c.create_transfer.transfer_id
                               : op == wire::kRepayInstalment  ? c.repay_instalment.transfer_id
                               : op == wire::kAfterSalesRefund ? c.after_sales_refund.refund_id
                                                               : c.party_transfer.transfer_id;
  const uint32_t t = transfer_index_.Find(transfer_id);
  ELEVEN_ASSERT(t != kNoValue);
  const Transfer& transfer = transfers_[t];
  result->id = transfer_id;
  // An after-sales refund's amount may be split between the buyer's leg and the subsidy's.
  result->amount_fen = op == wire::kAfterSalesRefund ? AfterSalesAmount(t) : transfer.amount;
  result->at_us = transfer.created_at_us;
  result->state = static_cast<wire::OrderState>(transfer.state);
  if (op == wire::kRepayInstalment) {
    // Its result's state is the plan's: repaid (by this or a later repayment), or active.
    const uint32_t o = order_index_.Find(c.repay_instalment.order_id);
    ELEVEN_ASSERT(o != kNoValue && orders_[o].plan != kNone);
    result->state = static_cast<wire::OrderState>(plans_[orders_[o].plan].state);
  }
  return Code::ok;
}

// ---- undo ----------------------------------------------------------------------------------

void Ledger::BeginAtomic(uint64_t now_us) {
  ELEVEN_ASSERT(now_us >= now_us_);
  now_us_ = now_us;
  undo_count_ = 0;
  new_timeout_count_ = 0;
}

void Ledger::Commit() {
  ELEVEN_ASSERT(new_timeout_count_ <= config_.chain_length_max);
  for (uint32_t i = 0; i < new_timeout_count_; i++) {
    // It may have been posted or voided later in the same chain; then its heap entry is
    // stale and ExpireDue skips it (each transfer still enters the heap at most once).
    const Transfer& t = transfers_[new_timeouts_[i]];
    ELEVEN_ASSERT(t.expires_at_us != 0 && (t.flags & wire::kTransferPending));
    ELEVEN_ASSERT(expiry_count_ < config_.transfer_count_max);
    HeapPush(expiry_heap_.get(), &expiry_count_, Expiry{t.expires_at_us, new_timeouts_[i], 0});
  }
  undo_count_ = 0;
  new_timeout_count_ = 0;
}

Ledger::Undo& Ledger::PushUndo() {
  ELEVEN_ASSERT(undo_count_ < undo_count_max_);
  Undo& u = undo_[undo_count_++];
  std::memset(u.reserved0, 0, sizeof u.reserved0);
  return u;
}

template <typename T>
static void SaveRecord(Ledger::Undo& u, UndoKind kind, uint32_t index, const T& record) {
  static_assert(sizeof(T) <= sizeof(u.old));
  u.kind = kind;
  u.index = index;
  std::memcpy(u.old, &record, sizeof(T));
}

void Ledger::SaveAccount(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kAccount, i, accounts_[i]); }
void Ledger::SaveTransfer(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kTransfer, i, transfers_[i]); }
void Ledger::SaveBuyer(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kBuyer, i, buyers_[i]); }
void Ledger::SaveMerchant(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kMerchant, i, merchants_[i]); }
void Ledger::SaveOrder(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kOrder, i, orders_[i]); }
void Ledger::SavePlan(uint32_t i) { SaveRecord(PushUndo(), UndoKind::kPlan, i, plans_[i]); }
void Ledger::SaveReserved() {
  Undo& u = PushUndo();
  u.kind = UndoKind::kReserved;
  u.index = transfers_reserved_;
}

// Removes the newest entry of an append-only table and its key; undo runs newest first, so
// the entry to remove is always the last one.
template <typename T>
static void PopInsert(T* table, uint32_t* count, FixedMap<uint64_t>* index, uint32_t at,
                      uint64_t key) {
  ELEVEN_ASSERT(*count > 0 && at == *count - 1);
  if (index != nullptr) ELEVEN_ASSERT(index->Erase(key));
  table[at] = T{};
  (*count)--;
}

void Ledger::Rollback() {
  // Bounded by undo_count_max_.
  for (uint32_t k = undo_count_; k-- > 0;) {
    const Undo& u = undo_[k];
    switch (u.kind) {
      case UndoKind::kAccountInsert:
        PopInsert(accounts_.get(), &account_count_, &account_index_, u.index, accounts_[u.index].id);
        break;
      case UndoKind::kAccount: std::memcpy(&accounts_[u.index], u.old, sizeof(Account)); break;
      case UndoKind::kTransferInsert: {
        const Transfer& t = transfers_[u.index];
        accounts_[t.debit].transfer_head = t.next_debit;
        accounts_[t.credit].transfer_head = t.next_credit;
        PopInsert(transfers_.get(), &transfer_count_, &transfer_index_, u.index, t.id);
        break;
      }
      case UndoKind::kTransfer: std::memcpy(&transfers_[u.index], u.old, sizeof(Transfer)); break;
      case UndoKind::kBuyerInsert:
        PopInsert(buyers_.get(), &buyer_count_, &buyer_index_, u.index, buyers_[u.index].id);
        break;
      case UndoKind::kBuyer: std::memcpy(&buyers_[u.index], u.old, sizeof(Buyer)); break;
      case UndoKind::kMerchantInsert:
        PopInsert(merchants_.get(), &merchant_count_, &merchant_index_, u.index,
                  merchants_[u.index].id);
        break;
      case UndoKind::kMerchant: std::memcpy(&merchants_[u.index], u.old, sizeof(Merchant)); break;
      case UndoKind::kOrderInsert:
        PopInsert(orders_.get(), &order_count_, &order_index_, u.index, orders_[u.index].order_id);
        break;
      case UndoKind::kOrder: std::memcpy(&orders_[u.index], u.old, sizeof(Order)); break;
      case UndoKind::kPlanInsert:
        PopInsert(plans_.get(), &plan_count_, nullptr, u.index, 0);
        break;
      case UndoKind::kPlan: std::memcpy(&plans_[u.index], u.old, sizeof(Plan)); break;
      case UndoKind::kReserved: transfers_reserved_ = u.index; break;
    }
  }
  undo_count_ = 0;
  new_timeout_count_ = 0;
}

// ---- accounts ------------------------------------------------------------------------------

uint32_t Ledger::InsertAccount(uint64_t id, uint32_t ledger, uint16_t code, uint8_t flags,
                               uint64_t user_data) {
  ELEVEN_ASSERT(account_count_ < config_.account_count_max);
  ELEVEN_DASSERT(account_index_.Find(id) == kNoValue);
  uint32_t index = account_count_++;
  Account& a = accounts_[index];
  a = Account{};
  a.id = id;
  a.user_data = user_data;
  a.created_at_us = now_us_;
  a.ledger = ledger;
  a.code = code;
  a.flags = flags;
  a.transfer_head = kNone;
  ELEVEN_ASSERT(account_index_.Insert(id, index));
  Undo& u = PushUndo();
  u.kind = UndoKind::kAccountInsert;
  u.index = index;
  return index;
}

Code Ledger::CreateAccount(const wire::CreateAccount& a) {
  if ((a.flags & ~wire::kAccountFlagsAll) != 0) return Code::invalid_account_flags;
  if (a.account_id == 0) return Code::invalid_id;
  if (a.account_id >= wire::kUserIdLimit) return Code::id_reserved;
  if ((a.flags & wire::kDebitsMustNotExceedCredits) && (a.flags & wire::kCreditsMustNotExceedDebits)) {
    return Code::account_flags_are_mutually_exclusive;
  }
  if (a.ledger == 0) return Code::ledger_must_not_be_zero;
  if (a.code == 0) return Code::code_must_not_be_zero;
  uint32_t existing = account_index_.Find(a.account_id);
  if (existing != kNoValue) {
    const Account& e = accounts_[existing];
    if (e.flags != a.flags) return Code::account_exists_with_different_flags;
    if (e.user_data != a.user_data) return Code::account_exists_with_different_user_data;
    if (e.ledger != a.ledger) return Code::account_exists_with_different_ledger;
    if (e.code != a.code) return Code::account_exists_with_different_code;
    return Code::account_exists;
  }
  if (account_count_ == config_.account_count_max) return Code::accounts_full;
  uint32_t index = InsertAccount(a.account_id, a.ledger, a.code, a.flags, a.user_data);
  ELEVEN_ASSERT(accounts_[index].id == a.account_id);
  return Code::ok;
}

// ---- transfers -----------------------------------------------------------------------------

bool Ledger::TransferRoom(uint32_t count) const {
  ELEVEN_DASSERT(transfer_count_ + transfers_reserved_ <= config_.transfer_count_max);
  return uint64_t{transfer_count_} + transfers_reserved_ + count <= config_.transfer_count_max;
}

uint32_t Ledger::InsertTransfer(const Transfer& t) {
  ELEVEN_ASSERT(transfer_count_ < config_.transfer_count_max);
  ELEVEN_ASSERT(t.debit < account_count_ && t.credit < account_count_ && t.debit != t.credit);
  uint32_t index = transfer_count_++;
  Transfer& out = transfers_[index];
  out = t;
  out.next_debit = accounts_[t.debit].transfer_head;
  out.next_credit = accounts_[t.credit].transfer_head;
  accounts_[t.debit].transfer_head = index;
  accounts_[t.credit].transfer_head = index;
  ELEVEN_ASSERT(transfer_index_.Insert(t.id, index));
  Undo& u = PushUndo();
  u.kind = UndoKind::kTransferInsert;
  u.index = index;
  return index;
}

Code Ledger::CreateTransfer(const wire::CreateTransfer& t, wire::Result* result) {
  result->id = t.transfer_id;
  if ((t.flags & ~wire::kTransferFlagsAll) != 0) return Code::invalid_transfer_flags;
  if (t.transfer_id == 0) return Code::invalid_id;
  if (t.transfer_id >= wire::kUserIdLimit) return Code::id_reserved;
  const uint8_t phase =
      t.flags & (wire::kTransferPending | wire::kPostPendingTransfer | wire::kVoidPendingTransfer);
  const bool post_or_void = (t.flags & (wire::kPostPendingTransfer | wire::kVoidPendingTransfer)) != 0;
  const bool balancing = (t.flags & (wire::kBalancingDebit | wire::kBalancingCredit)) != 0;
  if (std::popcount(phase) > 1 || (balancing && post_or_void)) {
    return Code::transfer_flags_are_mutually_exclusive;
  }
  return post_or_void ? PostOrVoid(t, result) : CreateSingle(t, result);
}

Code Ledger::ExistsSingle(const wire::CreateTransfer& t, const Transfer& e) const {
  ELEVEN_DASSERT(e.id == t.transfer_id);
  if (t.flags != e.flags) return Code::transfer_exists_with_different_flags;
  if (t.debit_account_id != accounts_[e.debit].id) return Code::transfer_exists_with_different_debit_account_id;
  if (t.credit_account_id != accounts_[e.credit].id) return Code::transfer_exists_with_different_credit_account_id;
  // A balancing transfer may have moved less than asked; a retry asking the same matches.
  bool balancing = (t.flags & (wire::kBalancingDebit | wire::kBalancingCredit)) != 0;
  if (balancing ? e.amount > t.amount_fen : e.amount != t.amount_fen) {
    return Code::transfer_exists_with_different_amount;
  }
  if (t.pending_id != e.pending_id) return Code::transfer_exists_with_different_pending_id;
  if (t.timeout_us != e.timeout_us) return Code::transfer_exists_with_different_timeout;
  if (t.ledger != e.ledger) return Code::transfer_exists_with_different_ledger;
  if (t.code != e.code) return Code::transfer_exists_with_different_code;
  if (t.user_data != e.user_data) return Code::transfer_exists_with_different_user_data;
  return Code::transfer_exists;
}

Code Ledger::CreateSingle(const wire::CreateTransfer& t, wire::Result* result) {
  const bool pending = (t.flags & wire::kTransferPending) != 0;
  if (t.debit_account_id == 0) return Code::debit_account_id_must_not_be_zero;
  if (t.credit_account_id == 0) return Code::credit_account_id_must_not_be_zero;
  if (t.debit_account_id == t.credit_account_id) return Code::accounts_must_be_different;
  if (t.pending_id != 0) return Code::pending_id_must_be_zero;
  if (t.timeout_us != 0 && !pending) return Code::timeout_reserved_for_pending_transfer;
  if (t.amount_fen <= 0 || t.amount_fen > wire::kLedgerAmountMaxFen) return Code::invalid_amount;
  if (t.ledger == 0) return Code::ledger_must_not_be_zero;
  if (t.code == 0) return Code::code_must_not_be_zero;
  uint32_t existing = transfer_index_.Find(t.transfer_id);
  if (existing != kNoValue) {
    result->amount_fen = transfers_[existing].amount;
    return ExistsSingle(t, transfers_[existing]);
  }
  if (t.debit_account_id >= wire::kUserIdLimit || t.credit_account_id >= wire::kUserIdLimit) {
    return Code::account_reserved_for_payments;
  }
  uint32_t dr = account_index_.Find(t.debit_account_id);
  if (dr == kNoValue) return Code::debit_account_not_found;
  uint32_t cr = account_index_.Find(t.credit_account_id);
  if (cr == kNoValue) return Code::credit_account_not_found;
  Account& d = accounts_[dr];
  Account& c = accounts_[cr];
  if (d.ledger != c.ledger) return Code::accounts_must_have_the_same_ledger;
  if (t.ledger != d.ledger) return Code::transfer_must_have_the_same_ledger_as_accounts;
  if (!TransferRoom(1)) return Code::transfers_full;
  int64_t amount = t.amount_fen;
  if (t.flags & wire::kBalancingDebit) {
    amount = std::min(amount, std::max<int64_t>(0, d.credits_posted - d.debits_posted - d.debits_pending));
  }
  if (t.flags & wire::kBalancingCredit) {
    amount = std::min(amount, std::max<int64_t>(0, c.debits_posted - c.credits_posted - c.credits_pending));
  }
  uint64_t expires_at_us = 0;
  if (pending && t.timeout_us != 0 && __builtin_add_overflow(now_us_, t.timeout_us, &expires_at_us)) {
    return Code::overflows_timeout;
  }
  Code balances = CheckBalances(d, c, amount, pending);
  if (balances != Code::ok) return balances;

  SaveAccount(dr);
  SaveAccount(cr);
  (pending ? d.debits_pending : d.debits_posted) += amount;
  (pending ? c.credits_pending : c.credits_posted) += amount;
  Transfer rec{};
  rec.id = t.transfer_id;
  rec.user_data = t.user_data;
  rec.amount = amount;
  rec.timeout_us = t.timeout_us;
  rec.created_at_us = now_us_;
  rec.expires_at_us = expires_at_us;
  rec.debit = dr;
  rec.credit = cr;
  rec.ledger = t.ledger;
  rec.code = t.code;
  rec.flags = t.flags;
  rec.state = pending ? wire::TransferState::kPending : wire::TransferState::kPosted;
  uint32_t index = InsertTransfer(rec);
  if (expires_at_us != 0) new_timeouts_[new_timeout_count_++] = index;
  result->amount_fen = amount;
  result->state = static_cast<wire::OrderState>(rec.state);
  return Code::ok;
}

Code Ledger::ExistsPostOrVoid(const wire::CreateTransfer& t, const Transfer& e) const {
  ELEVEN_DASSERT(e.id == t.transfer_id);
  if (t.flags != e.flags) return Code::transfer_exists_with_different_flags;
  if (t.pending_id != e.pending_id) return Code::transfer_exists_with_different_pending_id;
  if (t.debit_account_id != 0 && t.debit_account_id != accounts_[e.debit].id) {
    return Code::transfer_exists_with_different_debit_account_id;
  }
  if (t.credit_account_id != 0 && t.credit_account_id != accounts_[e.credit].id) {
    return Code::transfer_exists_with_different_credit_account_id;
  }
  int64_t asked = t.amount_fen;
  if (asked == 0) {
    // "The full pending amount" (post), or any amount (void: it always moves the full one).
    uint32_t p = transfer_index_.Find(e.pending_id);
    ELEVEN_ASSERT(p != kNoValue);
    asked = transfers_[p].amount;
  }
  if (asked != e.amount) return Code::transfer_exists_with_different_amount;
  if (t.ledger != 0 && t.ledger != e.ledger) return Code::transfer_exists_with_different_ledger;
  if (t.code != 0 && t.code != e.code) return Code::transfer_exists_with_different_code;
  if (t.user_data != e.user_data) return Code::transfer_exists_with_different_user_data;
  return Code::transfer_exists;
}

Code Ledger::CheckPostOrVoid(const wire::CreateTransfer& t, const Transfer& p) const {
  const bool post = (t.flags & wire::kPostPendingTransfer) != 0;
  ELEVEN_DASSERT(p.flags & wire::kTransferPending);
  if (t.debit_account_id != 0 && t.debit_account_id != accounts_[p.debit].id) {
    return Code::pending_transfer_has_different_debit_account_id;
  }
  if (t.credit_account_id != 0 && t.credit_account_id != accounts_[p.credit].id) {
    return Code::pending_transfer_has_different_credit_account_id;
  }
  if (t.ledger != 0 && t.ledger != p.ledger) return Code::pending_transfer_has_different_ledger;
  if (t.code != 0 && t.code != p.code) return Code::pending_transfer_has_different_code;
  if (post && t.amount_fen > p.amount) return Code::exceeds_pending_transfer_amount;
  if (!post && t.amount_fen != 0 && t.amount_fen != p.amount) {
    return Code::pending_transfer_has_different_amount;
  }
  if (p.state == wire::TransferState::kPendingPosted) return Code::pending_transfer_already_posted;
  if (p.state == wire::TransferState::kPendingVoided) return Code::pending_transfer_already_voided;
  if (p.state == wire::TransferState::kPendingExpired) return Code::pending_transfer_expired;
  ELEVEN_ASSERT(p.state == wire::TransferState::kPending);
  // Expired by log time even if no Tick has released it yet: expiry never races a post.
  if (p.expires_at_us != 0 && now_us_ >= p.expires_at_us) return Code::pending_transfer_expired;
  return Code::ok;
}

Code Ledger::PostOrVoid(const wire::CreateTransfer& t, wire::Result* result) {
  const bool post = (t.flags & wire::kPostPendingTransfer) != 0;
  if (t.pending_id == 0) return Code::pending_id_must_not_be_zero;
  if (t.pending_id == t.transfer_id) return Code::pending_id_must_be_different;
  if (t.timeout_us != 0) return Code::timeout_reserved_for_pending_transfer;
  if (t.amount_fen < 0 || t.amount_fen > wire::kLedgerAmountMaxFen) return Code::invalid_amount;
  uint32_t existing = transfer_index_.Find(t.transfer_id);
  if (existing != kNoValue) {
    result->amount_fen = transfers_[existing].amount;
    return ExistsPostOrVoid(t, transfers_[existing]);
  }
  uint32_t pi = transfer_index_.Find(t.pending_id);
  if (pi == kNoValue) return Code::pending_transfer_not_found;
  if (!(transfers_[pi].flags & wire::kTransferPending)) return Code::pending_transfer_not_pending;
  Code check = CheckPostOrVoid(t, transfers_[pi]);
  if (check != Code::ok) return check;
  if (!TransferRoom(1)) return Code::transfers_full;
  Transfer& p = transfers_[pi];
  Account& d = accounts_[p.debit];
  Account& c = accounts_[p.credit];
  const int64_t amount = post ? (t.amount_fen == 0 ? p.amount : t.amount_fen) : p.amount;
  int64_t sum = 0;
  if (post && __builtin_add_overflow(d.debits_posted, amount, &sum)) return Code::overflows_debits_posted;
  if (post && __builtin_add_overflow(c.credits_posted, amount, &sum)) return Code::overflows_credits_posted;

  SaveAccount(p.debit);
  SaveAccount(p.credit);
  SaveTransfer(pi);
  d.debits_pending -= p.amount;
  c.credits_pending -= p.amount;
  if (post) {
    d.debits_posted += amount;
    c.credits_posted += amount;
  }
  ELEVEN_ASSERT(d.debits_pending >= 0 && c.credits_pending >= 0);
  p.state = post ? wire::TransferState::kPendingPosted : wire::TransferState::kPendingVoided;
  p.posted = post ? amount : 0;
  Transfer rec{};
  rec.id = t.transfer_id;
  rec.user_data = t.user_data;
  rec.amount = amount;
  rec.pending_id = t.pending_id;
  rec.created_at_us = now_us_;
  rec.debit = p.debit;
  rec.credit = p.credit;
  rec.ledger = p.ledger;
  rec.code = p.code;
  rec.flags = t.flags;
  rec.state = wire::TransferState::kPosted;
  InsertTransfer(rec);
  result->amount_fen = amount;
  result->state = static_cast<wire::OrderState>(wire::TransferState::kPosted);
  return Code::ok;
}

// ---- log time ------------------------------------------------------------------------------

void Ledger::ExpireDue(uint64_t now_us) {
  uint32_t done = 0;
  // Bounded by expire_per_tick_max; stale entries (posted or voided since) count too.
  while (expiry_count_ > 0 && done < config_.expire_per_tick_max &&
         expiry_heap_[0].expires_at_us <= now_us) {
    Transfer& t = transfers_[expiry_heap_[0].transfer];
    HeapPop(expiry_heap_.get(), &expiry_count_);
    done++;
    if (t.state != wire::TransferState::kPending) continue;
    Account& d = accounts_[t.debit];
    Account& c = accounts_[t.credit];
    d.debits_pending -= t.amount;
    c.credits_pending -= t.amount;
    ELEVEN_ASSERT(d.debits_pending >= 0 && c.credits_pending >= 0);
    t.state = wire::TransferState::kPendingExpired;
  }
}

void Ledger::Tick(uint64_t now_us) {
  ELEVEN_ASSERT(now_us >= now_us_);
  ELEVEN_ASSERT(undo_count_ == 0);  // never inside a chain
  now_us_ = now_us;
  ExpireDue(now_us);
  AutoConfirm(now_us);
}

void Ledger::Digest(Digester& digester) const {
  ELEVEN_ASSERT(undo_count_ == 0);
  ELEVEN_ASSERT(transfer_count_ + transfers_reserved_ <= config_.transfer_count_max);
  const uint32_t counts[] = {account_count_, transfer_count_, transfers_reserved_, buyer_count_,
                             merchant_count_, order_count_, settle_cursor_, plan_count_,
                             expiry_count_, 0};
  digester.UpdateValue(now_us_);
  digester.Update(counts, sizeof counts);
  digester.Update(accounts_.get(), sizeof(Account) * account_count_);
  digester.Update(transfers_.get(), sizeof(Transfer) * transfer_count_);
  digester.Update(buyers_.get(), sizeof(Buyer) * buyer_count_);
  digester.Update(merchants_.get(), sizeof(Merchant) * merchant_count_);
  digester.Update(orders_.get(), sizeof(Order) * order_count_);
  digester.Update(plans_.get(), sizeof(Plan) * plan_count_);
  digester.Update(expiry_heap_.get(), sizeof(Expiry) * expiry_count_);
}

}  // namespace eleven::engine
