// Pre-sales (docs/promotions.md, "Pre-sale"): a deposit reserves units in the deposit window;
// the balance, in the balance window, makes the paid order; a balance unpaid when its window
// ends forfeits the deposit to the merchant and returns the units. The deposit and the
// balance are ledger payments; the ledger carries the deposit into the order's payment.
#include <algorithm>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::DepositState;
using wire::Operation;
using wire::OrderState;

namespace {

uint64_t MoneyIdOf(uint32_t deposit_index) { return wire::kDepositMoneyIdBase + deposit_index + 1; }

}  // namespace

wire::Result Engine::CreatePresale(const wire::CreatePresale& c, uint64_t now_us) {
  (void)now_us;
  auto result = [&](Code code) { return CommandResult(code, Operation::kCreatePresale, c.presale_id); };
  if (c.presale_id == 0) return result(Code::invalid_id);
  if (c.price_fen < 1 || c.price_fen > wire::kPriceMaxFen || c.deposit_fen < 1 ||
      c.deposit_fen > c.deposit_value_fen || c.deposit_value_fen >= c.price_fen) {
    return result(Code::invalid_presale);
  }
  if (c.quota == 0 || c.quota > wire::kStockMax || c.deposit_starts_us >= c.deposit_ends_us ||
      c.deposit_ends_us > c.balance_starts_us || c.balance_starts_us >= c.balance_ends_us) {
    return result(Code::invalid_presale);
  }
  const uint32_t sku_index = skus_.Find(c.sku_id);
  if (sku_index == kNoValue) return result(Code::sku_not_found);
  Sku& sku = skus_[sku_index];
  if (c.price_fen > sku.price_fen) return result(Code::drop_price_above_list);
  if (presale_index_.Find(c.presale_id) != kNoValue) return result(Code::presale_exists);
  if (presale_count_ == config_.presale_count_max) return result(Code::presales_full);
  if (sku.available < c.quota) return result(Code::insufficient_stock);
  sku.available -= c.quota;
  sku.in_drops += c.quota;
  PresaleRow& row = presales_[presale_count_];
  row = PresaleRow{};
  row.id = c.presale_id;
  row.price_fen = c.price_fen;
  row.deposit_fen = c.deposit_fen;
  row.deposit_value_fen = c.deposit_value_fen;
  row.deposit_starts_us = c.deposit_starts_us;
  row.deposit_ends_us = c.deposit_ends_us;
  row.balance_starts_us = c.balance_starts_us;
  row.balance_ends_us = c.balance_ends_us;
  row.sku_index = sku_index;
  row.per_buyer_limit = c.per_buyer_limit;
  row.quota = c.quota;
  row.available = c.quota;
  row.first_deposit = deposit_count_;
  row.forfeit_cursor = deposit_count_;
  ELEVEN_ASSERT(presale_index_.Insert(c.presale_id, presale_count_));
  presale_count_++;
  wire::Result out = result(Code::ok);
  out.amount_fen = c.quota;
  return out;
}

uint32_t Engine::DepositOf(uint64_t buyer, uint32_t presale_index) const {
  return deposit_index_.FindTagged(PairTag(buyer, presale_index), [&](uint32_t d) {
    return deposits_[d].buyer == buyer && deposits_[d].presale_index == presale_index;
  });
}

const DepositRow* Engine::FindDeposit(uint64_t presale_id, uint64_t buyer_id) const {
  const uint32_t p = presale_index_.Find(presale_id);
  if (p == kNoValue) return nullptr;
  const uint32_t d = DepositOf(buyer_id, p);
  return d == kNoValue ? nullptr : &deposits_[d];
}

wire::Result Engine::PayDeposit(const wire::PayDeposit& c, uint64_t now_us) {
  wire::Result out = CommandResult(Code::ok, Operation::kPayDeposit, c.presale_id);
  out.at_us = now_us;
  auto refuse = [&](Code code) {
    out.code = code;
    return out;
  };
  if (c.presale_id == 0 || c.buyer_id == 0) return refuse(Code::invalid_id);
  const uint32_t p = presale_index_.Find(c.presale_id);
  if (p == kNoValue) return refuse(Code::presale_not_found);
  PresaleRow& presale = presales_[p];
  const uint32_t existing = DepositOf(c.buyer_id, p);
  if (existing != kNoValue) {
    // One deposit per buyer: the same one again is a retry, answered as the first was.
    const DepositRow& d = deposits_[existing];
    wire::OrderMoneyRecord money{};
    const bool same_method = !ledger_ ? c.payment_method == 0
                                      : ledger_->LookupOrderMoney(MoneyIdOf(existing), &money) == Code::ok &&
                                            static_cast<uint8_t>(money.method) == c.payment_method;
    if (d.quantity != c.quantity || !same_method) return refuse(Code::deposit_exists);
    out.amount_fen = presale.deposit_fen * d.quantity;
    out.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
    out.id = MoneyIdOf(existing);
    return out;
  }
  if (now_us < presale.deposit_starts_us) return refuse(Code::deposit_window_not_open);
  if (now_us >= presale.deposit_ends_us) return refuse(Code::deposit_window_closed);
  if (c.quantity == 0 || c.quantity > wire::kLineQuantityMax) return refuse(Code::invalid_quantity);
  const int64_t amount = presale.deposit_fen * c.quantity;  // at most 10^10 x 10^4
  out.amount_fen = amount;
  if (presale.per_buyer_limit != 0 && c.quantity > presale.per_buyer_limit) return refuse(Code::buyer_limit);
  if (presale.available < c.quantity) return refuse(Code::insufficient_stock);
  if (deposit_count_ == config_.deposit_count_max) return refuse(Code::deposits_full);
  const Principal issuer = PrincipalOf(wire::KeyIdOfIssuer(c.trailer.issuer));
  const uint64_t storefront = issuer.role == wire::Role::kStorefront ? issuer.scope_id : 0;
  Sku& sku = skus_[presale.sku_index];
  if (ledger_) {
    if (c.payment_method != static_cast<uint8_t>(wire::PaymentMethod::kBalance) &&
        c.payment_method != static_cast<uint8_t>(wire::PaymentMethod::kCard)) {
      return refuse(Code::invalid_payment_method);
    }
    const Code paid = ledger_->PayOrder(MoneyIdOf(deposit_count_), c.buyer_id, sku.merchant_id, amount,
                                        static_cast<wire::PaymentMethod>(c.payment_method), 0, now_us,
                                        storefront);
    if (paid != Code::ok) return refuse(paid);
  } else if (c.payment_method != 0) {
    return refuse(Code::payments_disabled);
  }
  presale.available -= c.quantity;
  presale.deposited += c.quantity;
  presale.deposits++;
  sku.in_drops -= c.quantity;
  sku.reserved += c.quantity;
  DepositRow& d = deposits_[deposit_count_];
  d = DepositRow{};
  d.buyer = c.buyer_id;
  d.storefront = storefront;
  d.paid_at_us = now_us;
  d.presale_index = p;
  d.quantity = c.quantity;
  d.state = DepositState::kPaid;
  ELEVEN_ASSERT(deposit_index_.InsertTagged(PairTag(c.buyer_id, p), deposit_count_));
  out.id = MoneyIdOf(deposit_count_);
  deposit_count_++;
  return out;
}

wire::Result Engine::PayBalance(const wire::PayBalance& c, uint64_t now_us) {
  wire::Result out = CommandResult(Code::ok, Operation::kPayBalance, 0);
  out.at_us = now_us;
  auto refuse = [&](Code code) {
    out.code = code;
    return out;
  };
  const uint32_t p = presale_index_.Find(c.presale_id);
  if (p == kNoValue) return refuse(Code::presale_not_found);
  const uint32_t index = DepositOf(c.buyer_id, p);
  if (index == kNoValue) return refuse(Code::deposit_not_found);
  DepositRow& d = deposits_[index];
  PresaleRow& presale = presales_[p];
  const int64_t deposit = presale.deposit_fen * d.quantity;
  const int64_t balance = (presale.price_fen - presale.deposit_value_fen) * d.quantity;
  out.amount_fen = balance;
  if (d.state == DepositState::kForfeited) return refuse(Code::deposit_forfeited);
  if (d.state == DepositState::kConverted) {
    // A retry of the payment that made the order: its order, as the first answer gave it.
    out.id = d.order_id;
    if (c.amount_fen != balance) return refuse(Code::order_not_pending);
    out.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
    out.state = OrderState::kPaid;
    return out;
  }
  if (now_us < presale.balance_starts_us) return refuse(Code::balance_window_not_open);
  if (now_us >= presale.balance_ends_us) return refuse(Code::balance_window_closed);
  if (c.amount_fen != balance) return refuse(Code::amount_mismatch);
  if (c.city_tier == 0 || c.city_tier > wire::kCityTierMax) return refuse(Code::invalid_city_tier);
  if (c.region == 0 || c.region > wire::kRegionMax) return refuse(Code::invalid_region);
  const uint64_t order_id = next_order_id_;
  const uint32_t slot = next_slot_;
  // The ring's slot is taken only once the payment is made (taking it evicts its old order).
  if (orders_[slot].id != 0 && !IsFinal(orders_[slot].state)) return refuse(Code::orders_full);
  Sku& sku = skus_[presale.sku_index];
  // The order, paid at once; written whole, as a place order's is.
  Order order{};
  order.id = order_id;
  order.key = 0;  // the deposit is its key
  order.storefront_or_fingerprint = d.storefront;
  order.buyer = c.buyer_id;
  order.total_fen = deposit + balance;
  order.created_at_us = now_us;
  order.merchant_index = sku.merchant_index;
  order.drop_index = kNoValue;
  order.sku_index[0] = presale.sku_index;
  order.sku_index[kPresaleSlot] = p;
  order.quantity[0] = static_cast<uint16_t>(d.quantity);
  order.region = c.region;
  order.city_tier = c.city_tier;
  order.state = OrderState::kPaid;
  order.line_count = 1;
  order.promotion = kPresale;
  order.code = Code::ok;
  const Code paid = PayPresaleOrder(order, c, MoneyIdOf(index), now_us);
  if (paid != Code::ok) return refuse(paid);
  ELEVEN_ASSERT(TakeSlotCold(slot, order_id));  // checked above
  orders_[slot] = order;
  next_order_id_++;
  next_slot_ = next_slot_ + 1 == config_.order_slot_count ? 0 : next_slot_ + 1;
  sku.reserved -= d.quantity;
  sku.sold += d.quantity;
  presale.deposited -= d.quantity;
  presale.converted += d.quantity;
  d.state = DepositState::kConverted;
  d.order_id = order_id;
  stats_.orders_accepted++;
  stats_.orders_paid++;
  stats_.gmv_placed_fen += order.total_fen;
  stats_.gmv_paid_fen += order.total_fen;
  stats_.units_sold += d.quantity;
  CountSale(orders_[slot]);
  out.id = order_id;
  out.state = OrderState::kPaid;
  return out;
}

void Engine::ClosePresales(uint64_t now_us) {
  for (uint32_t p = 0; p < presale_count_; p++) {
    PresaleRow& presale = presales_[p];
    if (presale.deposits_closed == 0 && now_us >= presale.deposit_ends_us) {
      // The quota no deposit took goes back to the SKU.
      Sku& sku = skus_[presale.sku_index];
      ELEVEN_ASSERT(sku.in_drops >= presale.available);
      sku.in_drops -= presale.available;
      sku.available += presale.available;
      presale.returned += presale.available;
      presale.available = 0;
      presale.deposits_closed = 1;
    }
    if (presale.balance_closed != 0 || now_us < presale.balance_ends_us) continue;
    // Forfeits, a bounded number of deposits looked at per batch.
    const uint32_t end = std::min(deposit_count_, presale.forfeit_cursor + kForfeitsPerBatch);
    for (; presale.forfeit_cursor < end; presale.forfeit_cursor++) {
      DepositRow& d = deposits_[presale.forfeit_cursor];
      if (d.presale_index != p || d.state != DepositState::kPaid) continue;
      Sku& sku = skus_[presale.sku_index];
      sku.reserved -= d.quantity;
      sku.available += d.quantity;
      presale.deposited -= d.quantity;
      presale.returned += d.quantity;
      presale.forfeited += d.quantity;
      presale.forfeited_fen += presale.deposit_fen * d.quantity;
      d.state = DepositState::kForfeited;
      // The deposit is the merchant's: settled as a delivered order is (less commission).
      if (ledger_) ELEVEN_ASSERT(ledger_->ConfirmDelivery(MoneyIdOf(presale.forfeit_cursor), now_us) == Code::ok);
    }
    if (presale.forfeit_cursor == deposit_count_) presale.balance_closed = 1;
  }
}

uint64_t Engine::PresaleDueUs() const {
  uint64_t due = kNeverDue;
  for (uint32_t p = 0; p < presale_count_; p++) {
    const PresaleRow& presale = presales_[p];
    if (presale.deposits_closed == 0) due = std::min(due, presale.deposit_ends_us);
    if (presale.balance_closed == 0) due = std::min(due, presale.balance_ends_us);
  }
  return due;
}

wire::Code Engine::GetPresale(uint64_t presale_id, wire::PresaleRecord* out) const {
  const uint32_t p = presale_index_.Find(presale_id);
  if (presale_id == 0 || p == kNoValue) return Code::presale_not_found;
  const PresaleRow& row = presales_[p];
  *out = wire::PresaleRecord{};
  out->presale_id = row.id;
  out->sku_id = skus_[row.sku_index].id;
  out->merchant_id = skus_[row.sku_index].merchant_id;
  out->price_fen = row.price_fen;
  out->deposit_fen = row.deposit_fen;
  out->deposit_value_fen = row.deposit_value_fen;
  out->deposit_starts_us = row.deposit_starts_us;
  out->deposit_ends_us = row.deposit_ends_us;
  out->balance_starts_us = row.balance_starts_us;
  out->balance_ends_us = row.balance_ends_us;
  out->quota = row.quota;
  out->available = row.available;
  out->deposited = row.deposited;
  out->converted = row.converted;
  out->returned = row.returned;
  out->forfeited = row.forfeited;
  out->per_buyer_limit = row.per_buyer_limit;
  out->deposits = row.deposits;
  out->forfeited_fen = row.forfeited_fen;
  const uint64_t now = last_timestamp_us_;
  using S = wire::PresaleState;
  out->state = row.balance_closed != 0 || now >= row.balance_ends_us ? S::kClosed
               : now >= row.balance_starts_us                         ? S::kBalance
               : now >= row.deposit_ends_us                           ? S::kWaiting
               : now >= row.deposit_starts_us                         ? S::kDeposits
                                                                      : S::kScheduled;
  return Code::ok;
}

wire::Code Engine::GetDeposit(uint64_t presale_id, uint64_t buyer_id, wire::DepositRecord* out) const {
  const uint32_t p = presale_index_.Find(presale_id);
  if (presale_id == 0 || p == kNoValue) return Code::presale_not_found;
  const uint32_t index = DepositOf(buyer_id, p);
  if (index == kNoValue) return Code::deposit_not_found;
  const DepositRow& d = deposits_[index];
  const PresaleRow& row = presales_[p];
  *out = wire::DepositRecord{};
  out->presale_id = presale_id;
  out->buyer_id = buyer_id;
  out->money_id = MoneyIdOf(index);
  out->order_id = d.order_id;
  out->paid_at_us = d.paid_at_us;
  out->deposit_fen = row.deposit_fen * d.quantity;
  out->balance_fen = (row.price_fen - row.deposit_value_fen) * d.quantity;
  out->quantity = d.quantity;
  out->state = d.state;
  return Code::ok;
}

// Who may: a merchant creates pre-sales of its own SKUs; a storefront pays deposits, and the
// balance of a deposit it paid (docs/access.md).
wire::Code Engine::PresaleAccess(const wire::Command& command, const Principal& p) const {
  switch (command.operation) {
    case Operation::kCreatePresale: {
      if (p.role != wire::Role::kMerchant) return Code::forbidden;
      const uint32_t sku = skus_.Find(command.create_presale.sku_id);
      return sku == kNoValue || skus_[sku].merchant_id == p.scope_id ? Code::ok : Code::forbidden;
    }
    case Operation::kPayDeposit: return p.role == wire::Role::kStorefront ? Code::ok : Code::forbidden;
    case Operation::kPayBalance: {
      if (p.role != wire::Role::kStorefront) return Code::forbidden;
      const DepositRow* d = FindDeposit(command.pay_balance.presale_id, command.pay_balance.buyer_id);
      return d == nullptr || d->storefront == p.scope_id ? Code::ok : Code::forbidden;
    }
    default: break;
  }
  ELEVEN_ASSERT(false);
  return Code::forbidden;
}

// Each pre-sale's counts add up; its deposited units are reserved and its unsold quota is in
// the drops' count of its SKU; every deposit's state agrees with its pre-sale's counts.
void Engine::CheckPresales(std::vector<uint64_t>& reserved_by_sku, std::vector<uint64_t>& in_drops_by_sku) const {
  ELEVEN_ASSERT(presale_index_.count() == presale_count_ && deposit_index_.count() == deposit_count_);
  std::vector<uint64_t> deposited(presale_count_, 0), converted(presale_count_, 0), forfeited(presale_count_, 0);
  for (uint32_t i = 0; i < deposit_count_; i++) {
    const DepositRow& d = deposits_[i];
    ELEVEN_ASSERT(d.presale_index < presale_count_ && d.quantity > 0);
    ELEVEN_ASSERT(i >= presales_[d.presale_index].first_deposit);
    ELEVEN_ASSERT(DepositOf(d.buyer, d.presale_index) == i);
    if (d.state == DepositState::kPaid) deposited[d.presale_index] += d.quantity;
    if (d.state == DepositState::kConverted) converted[d.presale_index] += d.quantity;
    if (d.state == DepositState::kForfeited) forfeited[d.presale_index] += d.quantity;
    ELEVEN_ASSERT((d.state == DepositState::kConverted) == (d.order_id != 0));
  }
  for (uint32_t p = 0; p < presale_count_; p++) {
    const PresaleRow& row = presales_[p];
    ELEVEN_ASSERT(presale_index_.Find(row.id) == p);
    ELEVEN_ASSERT(uint64_t{row.available} + row.deposited + row.converted + row.returned == row.quota);
    ELEVEN_ASSERT(row.deposited == deposited[p] && row.converted == converted[p] && row.forfeited == forfeited[p]);
    ELEVEN_ASSERT(row.forfeited <= row.returned && (row.deposits_closed == 0 || row.available == 0));
    ELEVEN_ASSERT(row.balance_closed == 0 || row.deposited == 0);
    reserved_by_sku[row.sku_index] += row.deposited;
    in_drops_by_sku[row.sku_index] += row.available;
  }
}

}  // namespace eleven::engine
