// The ledger's state as bytes, for snapshots. The layout (version 4), chunk by chunk:
//
//   state    = head accounts transfers buyers merchants orders plans expiries
//              account-map transfer-map buyer-map merchant-map order-map
//   head     = LedgerStateHead (below): magic "ELLG", version, every LedgerConfig field,
//              now_us and every count and cursor
//   accounts = Account * account_count      (ledger_internal.h; likewise for the next five)
//   expiries = Expiry * expiry_count        (the timeout heap, in heap order)
//   *-map    = FixedMap<uint64_t>::Slot * the map's slot count (fixed by the config)
//
// Every record has explicit padding (static_asserts below), so the bytes are the fields and
// the tables are written as they lie in memory, in the machine's byte order. The undo log
// and the chain's new timeouts are empty between commands and are not part of the state.
#include <cstring>
#include <string>
#include <type_traits>

#include "base/assert.h"
#include "engine/ledger/ledger.h"
#include "engine/state_reader.h"
#include "engine/ledger/ledger_internal.h"

namespace eleven::engine {

namespace {

constexpr uint32_t kLedgerStateMagic = 0x474C4C45;  // "ELLG"
// 2: order refunds, after_sales_window_us; 3: the marketing account, order subsidies;
// 4: pre-sale deposits carried into payments (Order 128 bytes, the converted state).
constexpr uint32_t kLedgerStateVersion = 4;

struct LedgerStateHead {
  uint32_t magic;
  uint32_t version;
  // The configuration: a snapshot restores only into a ledger configured the same.
  uint32_t account_count_max;
  uint32_t transfer_count_max;
  uint32_t buyer_count_max;
  uint32_t merchant_count_max;
  uint32_t order_count_max;
  uint32_t plan_count_max;
  uint32_t chain_length_max;
  uint32_t expire_per_tick_max;
  uint32_t settle_per_tick_max;
  uint16_t commission_bp;
  uint16_t merchant_fee_bp[4];
  uint16_t buyer_fee_bp[4];
  uint16_t reserved0;
  uint64_t auto_confirm_us;
  uint64_t instalment_period_us;
  int64_t buyer_credit_limit_default_fen;
  uint64_t after_sales_window_us;
  // The state's scalars.
  uint64_t now_us;
  uint32_t account_count;
  uint32_t transfer_count;
  uint32_t transfers_reserved;
  uint32_t buyer_count;
  uint32_t merchant_count;
  uint32_t order_count;
  uint32_t settle_cursor;
  uint32_t plan_count;
  uint32_t expiry_count;
  uint32_t reserved1;
};
static_assert(sizeof(LedgerStateHead) == 144);
static_assert(std::has_unique_object_representations_v<LedgerStateHead>);
static_assert(std::has_unique_object_representations_v<Ledger::Account>);
static_assert(std::has_unique_object_representations_v<Ledger::Transfer>);
static_assert(std::has_unique_object_representations_v<Ledger::Buyer>);
static_assert(std::has_unique_object_representations_v<Ledger::Merchant>);
static_assert(std::has_unique_object_representations_v<Ledger::Order>);
static_assert(std::has_unique_object_representations_v<Ledger::Plan>);
static_assert(std::has_unique_object_representations_v<Ledger::Expiry>);
static_assert(std::has_unique_object_representations_v<FixedMap<uint64_t>::Slot>);

void PutConfig(const LedgerConfig& c, LedgerStateHead* h) {
  h->account_count_max = c.account_count_max;
  h->transfer_count_max = c.transfer_count_max;
  h->buyer_count_max = c.buyer_count_max;
  h->merchant_count_max = c.merchant_count_max;
  h->order_count_max = c.order_count_max;
  h->plan_count_max = c.plan_count_max;
  h->chain_length_max = c.chain_length_max;
  h->expire_per_tick_max = c.expire_per_tick_max;
  h->settle_per_tick_max = c.settle_per_tick_max;
  h->commission_bp = c.commission_bp;
  std::memcpy(h->merchant_fee_bp, c.merchant_fee_bp, sizeof h->merchant_fee_bp);
  std::memcpy(h->buyer_fee_bp, c.buyer_fee_bp, sizeof h->buyer_fee_bp);
  h->auto_confirm_us = c.auto_confirm_us;
  h->instalment_period_us = c.instalment_period_us;
  h->buyer_credit_limit_default_fen = c.buyer_credit_limit_default_fen;
  h->after_sales_window_us = c.after_sales_window_us;
}

// The first LedgerConfig field in which the head differs from `c`, or nullptr.
const char* ConfigDifference(const LedgerStateHead& h, const LedgerConfig& c) {
  LedgerStateHead own{};
  PutConfig(c, &own);
  if (h.account_count_max != own.account_count_max) return "account_count_max";
  if (h.transfer_count_max != own.transfer_count_max) return "transfer_count_max";
  if (h.buyer_count_max != own.buyer_count_max) return "buyer_count_max";
  if (h.merchant_count_max != own.merchant_count_max) return "merchant_count_max";
  if (h.order_count_max != own.order_count_max) return "order_count_max";
  if (h.plan_count_max != own.plan_count_max) return "plan_count_max";
  if (h.chain_length_max != own.chain_length_max) return "chain_length_max";
  if (h.expire_per_tick_max != own.expire_per_tick_max) return "expire_per_tick_max";
  if (h.settle_per_tick_max != own.settle_per_tick_max) return "settle_per_tick_max";
  if (h.commission_bp != own.commission_bp) return "commission_bp";
  if (std::memcmp(h.merchant_fee_bp, own.merchant_fee_bp, sizeof own.merchant_fee_bp) != 0) {
    return "merchant_fee_bp";
  }
  if (std::memcmp(h.buyer_fee_bp, own.buyer_fee_bp, sizeof own.buyer_fee_bp) != 0) return "buyer_fee_bp";
  if (h.auto_confirm_us != own.auto_confirm_us) return "auto_confirm_us";
  if (h.instalment_period_us != own.instalment_period_us) return "instalment_period_us";
  if (h.buyer_credit_limit_default_fen != own.buyer_credit_limit_default_fen) {
    return "buyer_credit_limit_default_fen";
  }
  if (h.after_sales_window_us != own.after_sales_window_us) return "after_sales_window_us";
  return nullptr;
}

// The counts must fit the configured tables (the head's config already equals ours).
bool CountsFit(const LedgerStateHead& h) {
  return h.account_count >= kSystemAccountCount && h.account_count <= h.account_count_max &&
         h.transfer_count <= h.transfer_count_max &&
         uint64_t{h.transfer_count} + h.transfers_reserved <= h.transfer_count_max &&
         h.buyer_count <= h.buyer_count_max && h.merchant_count <= h.merchant_count_max &&
         h.order_count <= h.order_count_max && h.settle_cursor <= h.order_count &&
         h.plan_count <= h.plan_count_max && h.expiry_count <= h.transfer_count &&
         h.reserved0 == 0 && h.reserved1 == 0;
}


// Every record of `table` is found in `map` at its own index. With the map's count equal to
// the table's (FixedMap::Restore checks that), the map is exactly the table's keys.
template <typename T, typename KeyOf>
bool MapMatches(const FixedMap<uint64_t>& map, const T* table, uint32_t count, KeyOf key_of) {
  ELEVEN_ASSERT(map.count() == count);
  for (uint32_t i = 0; i < count; i++) {
    if (map.Find(key_of(table[i])) != i) return false;
  }
  return true;
}

bool IndexOk(uint32_t index, uint32_t count) { return index < count; }
bool LinkOk(uint32_t index, uint32_t bound) { return index == kNone || index < bound; }

}  // namespace

void Ledger::SnapshotChunks(std::vector<std::byte>* head, std::vector<ByteSpan>* chunks) const {
  ELEVEN_ASSERT(head != nullptr && chunks != nullptr);
  ELEVEN_ASSERT(undo_count_ == 0 && new_timeout_count_ == 0);  // between commands only
  LedgerStateHead h{};
  h.magic = kLedgerStateMagic;
  h.version = kLedgerStateVersion;
  PutConfig(config_, &h);
  h.now_us = now_us_;
  h.account_count = account_count_;
  h.transfer_count = transfer_count_;
  h.transfers_reserved = transfers_reserved_;
  h.buyer_count = buyer_count_;
  h.merchant_count = merchant_count_;
  h.order_count = order_count_;
  h.settle_cursor = settle_cursor_;
  h.plan_count = plan_count_;
  h.expiry_count = expiry_count_;
  ELEVEN_ASSERT(CountsFit(h));  // checked right before it is written, as after it is read
  head->resize(sizeof h);
  std::memcpy(head->data(), &h, sizeof h);

  chunks->clear();
  chunks->push_back(Bytes(head->data(), head->size()));
  chunks->push_back(Bytes(accounts_.get(), sizeof(Account) * account_count_));
  chunks->push_back(Bytes(transfers_.get(), sizeof(Transfer) * transfer_count_));
  chunks->push_back(Bytes(buyers_.get(), sizeof(Buyer) * buyer_count_));
  chunks->push_back(Bytes(merchants_.get(), sizeof(Merchant) * merchant_count_));
  chunks->push_back(Bytes(orders_.get(), sizeof(Order) * order_count_));
  chunks->push_back(Bytes(plans_.get(), sizeof(Plan) * plan_count_));
  chunks->push_back(Bytes(expiry_heap_.get(), sizeof(Expiry) * expiry_count_));
  chunks->push_back(Bytes(account_index_.slots(), account_index_.slot_bytes()));
  chunks->push_back(Bytes(transfer_index_.slots(), transfer_index_.slot_bytes()));
  chunks->push_back(Bytes(buyer_index_.slots(), buyer_index_.slot_bytes()));
  chunks->push_back(Bytes(merchant_index_.slots(), merchant_index_.slot_bytes()));
  chunks->push_back(Bytes(order_index_.slots(), order_index_.slot_bytes()));
}

Status Ledger::Restore(ByteSpan state) {
  // Only into a fresh ledger: the system accounts and nothing else.
  ELEVEN_ASSERT(account_count_ == kSystemAccountCount && transfer_count_ == 0);
  ELEVEN_ASSERT(buyer_count_ == 0 && order_count_ == 0 && undo_count_ == 0 && now_us_ == 0);
  LedgerStateHead h{};
  if (state.size() < sizeof h) return Status::Corruption("ledger state: shorter than its head");
  std::memcpy(&h, state.data(), sizeof h);
  if (h.magic != kLedgerStateMagic) return Status::Corruption("ledger state: bad magic");
  if (h.version != kLedgerStateVersion) {
    return Status::Corruption("ledger state: unknown version " + std::to_string(h.version));
  }
  if (const char* field = ConfigDifference(h, config_); field != nullptr) {
    return Status::InvalidArgument(std::string("ledger snapshot taken with a different LedgerConfig::") +
                                   field + "; start with the configuration it was taken with");
  }
  if (!CountsFit(h)) return Status::Corruption("ledger state: counts exceed the configured tables");
  StateReader in(state);
  LedgerStateHead skipped{};
  bool ok = in.Take(&skipped, sizeof skipped) &&
            in.Take(accounts_.get(), sizeof(Account) * h.account_count) &&
            in.Take(transfers_.get(), sizeof(Transfer) * h.transfer_count) &&
            in.Take(buyers_.get(), sizeof(Buyer) * h.buyer_count) &&
            in.Take(merchants_.get(), sizeof(Merchant) * h.merchant_count) &&
            in.Take(orders_.get(), sizeof(Order) * h.order_count) &&
            in.Take(plans_.get(), sizeof(Plan) * h.plan_count) &&
            in.Take(expiry_heap_.get(), sizeof(Expiry) * h.expiry_count) &&
            in.TakeMap(&account_index_, h.account_count) &&
            in.TakeMap(&transfer_index_, h.transfer_count) &&
            in.TakeMap(&buyer_index_, h.buyer_count) &&
            in.TakeMap(&merchant_index_, h.merchant_count) &&
            in.TakeMap(&order_index_, h.order_count);
  if (!ok || !in.AtEnd()) return Status::Corruption("ledger state: tables do not match their counts");
  now_us_ = h.now_us;
  account_count_ = h.account_count;
  transfer_count_ = h.transfer_count;
  transfers_reserved_ = h.transfers_reserved;
  buyer_count_ = h.buyer_count;
  merchant_count_ = h.merchant_count;
  order_count_ = h.order_count;
  settle_cursor_ = h.settle_cursor;
  plan_count_ = h.plan_count;
  expiry_count_ = h.expiry_count;
  // Checked right after reading back: a state that breaks an invariant is never served.
  return CheckRestored();
}

Status Ledger::CheckRestored() const {
  auto id_of = [](const auto& record) { return record.id; };
  if (!MapMatches(account_index_, accounts_.get(), account_count_, id_of) ||
      !MapMatches(transfer_index_, transfers_.get(), transfer_count_, id_of) ||
      !MapMatches(buyer_index_, buyers_.get(), buyer_count_, id_of) ||
      !MapMatches(merchant_index_, merchants_.get(), merchant_count_, id_of) ||
      !MapMatches(order_index_, orders_.get(), order_count_,
                  [](const Order& o) { return o.order_id; })) {
    return Status::Corruption("ledger state: an index map does not match its table");
  }
  for (uint32_t i = 0; i < kSystemAccountCount; i++) {
    if (accounts_[i].id != AccountIdOf(IdSpace::kSystem, i + 1)) {
      return Status::Corruption("ledger state: system accounts missing");
    }
  }
  // Sums of balances: money is conserved (debits equal credits, pending and posted).
  int64_t sums[4] = {};
  bool links = true;
  for (uint32_t i = 0; i < account_count_; i++) {
    const Account& a = accounts_[i];
    const int64_t fields[4] = {a.debits_pending, a.credits_pending, a.debits_posted, a.credits_posted};
    for (int k = 0; k < 4; k++) {
      if (fields[k] < 0 || __builtin_add_overflow(sums[k], fields[k], &sums[k])) {
        return Status::Corruption("ledger state: account balances out of range");
      }
    }
    links = links && LinkOk(a.transfer_head, transfer_count_);
  }
  if (sums[0] != sums[1] || sums[2] != sums[3]) {
    return Status::Corruption("ledger state: debits and credits do not balance");
  }
  // Per-account lists run from newer to older transfers, so every walk ends.
  for (uint32_t i = 0; i < transfer_count_ && links; i++) {
    const Transfer& t = transfers_[i];
    links = IndexOk(t.debit, account_count_) && IndexOk(t.credit, account_count_) &&
            t.debit != t.credit && LinkOk(t.next_debit, i) && LinkOk(t.next_credit, i);
  }
  for (uint32_t i = 0; i < buyer_count_ && links; i++) {
    links = IndexOk(buyers_[i].wallet, account_count_) && IndexOk(buyers_[i].receivable, account_count_);
  }
  for (uint32_t i = 0; i < merchant_count_ && links; i++) {
    links = IndexOk(merchants_[i].wallet, account_count_) && IndexOk(merchants_[i].loan, account_count_);
  }
  for (uint32_t i = 0; i < order_count_ && links; i++) {
    const Order& o = orders_[i];
    links = IndexOk(o.buyer, buyer_count_) && IndexOk(o.merchant, merchant_count_) &&
            LinkOk(o.plan, plan_count_);
  }
  for (uint32_t i = 0; i < plan_count_ && links; i++) {
    links = IndexOk(plans_[i].buyer, buyer_count_) && IndexOk(plans_[i].order, order_count_);
  }
  if (!links) return Status::Corruption("ledger state: a record points outside its table");
  Status orders = CheckRestoredOrders();
  if (!orders.ok()) return orders;
  return CheckRestoredHeap();
}

Status Ledger::CheckRestoredOrders() const {
  __int128 subsidy_out = 0;  // sum of subsidy - subsidy_refunded: up to 2^32 orders of 1e14
  __int128 in_escrow = 0;    // sum of the paid orders' amounts
  uint64_t reserved = 0;
  for (uint32_t i = 0; i < order_count_; i++) {
    const Order& o = orders_[i];
    const auto state = static_cast<uint8_t>(o.state);
    const bool in_range = o.amount > 0 && o.amount <= wire::kLedgerAmountMaxFen && o.subsidy >= 0 &&
                          o.subsidy < o.amount && o.deposit >= 0 && o.deposit < o.amount &&
                          (o.subsidy == 0 || o.deposit == 0) && o.refunded >= 0 &&
                          o.refunded <= o.amount && state >= 1 &&
                          state <= wire::kOrderMoneyStateMax;
    // Range first: ProRataShare asserts its arguments.
    if (!in_range || o.subsidy_refunded != ProRataShare(o.subsidy, o.refunded, o.amount) ||
        o.deposit_refunded != ProRataShare(o.deposit, o.refunded, o.amount)) {
      return Status::Corruption("ledger state: an order's money is out of range");
    }
    Status deposit = CheckRestoredDeposit(i);
    if (!deposit.ok()) return deposit;
    subsidy_out += o.subsidy - o.subsidy_refunded;
    if (o.state == wire::OrderMoneyState::kPaid) {
      // A partial return settles the rest at once, so a paid order has refunded nothing.
      if (o.refunded != 0) return Status::Corruption("ledger state: a paid order was refunded");
      reserved += OrderTransferReserve(o);
      in_escrow += o.amount;
    }
  }
  // Escrow holds exactly the paid orders' money (a converted deposit's is its order's).
  const Account& escrow = accounts_[static_cast<uint32_t>(SystemAccount::kEscrow) - 1];
  if (escrow.debits_pending != 0 || escrow.credits_pending != 0 ||
      __int128{escrow.credits_posted} - escrow.debits_posted != in_escrow) {
    return Status::Corruption("ledger state: escrow does not match the paid orders");
  }
  // Nothing but the subsidies moves the marketing account's money.
  const Account& marketing = accounts_[static_cast<uint32_t>(SystemAccount::kMarketing) - 1];
  if (marketing.debits_pending != 0 || marketing.credits_pending != 0 ||
      __int128{marketing.debits_posted} - marketing.credits_posted != subsidy_out) {
    return Status::Corruption("ledger state: the marketing account does not match the subsidies");
  }
  if (reserved != transfers_reserved_) {
    return Status::Corruption("ledger state: reserved transfers do not match the paid orders");
  }
  return Status::Ok();
}

// A converted deposit and the order that carries it name each other, agree on buyer, merchant
// and amount, and the deposit was paid before, by balance or card; a converted record holds
// nothing else. An order without a deposit names none.
Status Ledger::CheckRestoredDeposit(uint32_t order_index) const {
  const Order& o = orders_[order_index];
  const bool converted = o.state == wire::OrderMoneyState::kConverted;
  const bool simple_method =
      o.method == wire::PaymentMethod::kBalance || o.method == wire::PaymentMethod::kCard;
  const Status broken = Status::Corruption("ledger state: a deposit and its order do not match");
  if (converted) {
    const uint32_t to = order_index_.Find(o.deposit_id);
    if (o.refunded != 0 || o.subsidy != 0 || o.deposit != 0 || !simple_method || o.plan != kNone ||
        o.deposit_method != wire::PaymentMethod{} || to == kNoValue || to <= order_index) {
      return broken;
    }
    const Order& t = orders_[to];
    const bool linked = t.state != wire::OrderMoneyState::kConverted && t.deposit == o.amount &&
                        t.deposit_id == o.order_id && t.deposit_method == o.method &&
                        t.buyer == o.buyer && t.merchant == o.merchant;
    return linked ? Status::Ok() : broken;
  }
  if (o.deposit == 0) {
    const bool none = o.deposit_id == 0 && o.deposit_method == wire::PaymentMethod{};
    return none ? Status::Ok() : broken;
  }
  // Carries a deposit: the converted record (checked from its side) must name this order.
  const uint32_t from = order_index_.Find(o.deposit_id);
  if (from == kNoValue || from >= order_index ||
      orders_[from].state != wire::OrderMoneyState::kConverted ||
      orders_[from].deposit_id != o.order_id) {
    return broken;
  }
  return Status::Ok();
}

// The timeout heap: entries name existing transfers with their deadline, in heap order on
// (expires_at_us, transfer) as ExpireDue expects.
Status Ledger::CheckRestoredHeap() const {
  for (uint32_t i = 0; i < expiry_count_; i++) {
    const Expiry& e = expiry_heap_[i];
    if (e.transfer >= transfer_count_ || e.reserved0 != 0 ||
        transfers_[e.transfer].expires_at_us != e.expires_at_us) {
      return Status::Corruption("ledger state: a timeout names no pending transfer");
    }
    if (i == 0) continue;
    const Expiry& parent = expiry_heap_[(i - 1) / 2];
    bool before_parent = e.expires_at_us != parent.expires_at_us
                             ? e.expires_at_us < parent.expires_at_us
                             : e.transfer < parent.transfer;
    if (before_parent) return Status::Corruption("ledger state: the timeout heap is out of order");
  }
  return Status::Ok();
}

}  // namespace eleven::engine
