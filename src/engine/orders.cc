// Orders: placing (all lines reserved or none), paying, cancelling, and expiry of unpaid
// orders at their pay-by deadline, with idempotency keys and per-buyer limits. The batch loop
// (Engine::Apply) is here too: placing an order is its hot path, inlined into it whole.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "base/assert.h"
#include "base/hash.h"
#include "base/prefetch.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;
using wire::OrderState;

wire::Result Engine::OrderResult(const Order& order, Operation operation) const {
  wire::Result result{};
  result.code = order.code;
  result.operation = operation;
  result.state = order.state;
  result.id = order.id;
  result.amount_fen = order.total_fen;
  result.at_us = order.created_at_us + config_.pay_window_us;
  return result;
}

namespace {

// By line count: the bits of the first n of eight 16-bit quantities, as two 64-bit words.
constexpr uint64_t kQuantityMask[wire::kOrderLineCountMax + 1][2] = {
    {0, 0},
    {0xffffULL, 0},
    {0xffffffffULL, 0},
    {0xffffffffffffULL, 0},
    {~0ULL, 0},
    {~0ULL, 0xffffULL},
    {~0ULL, 0xffffffffULL},
    {~0ULL, 0xffffffffffffULL},
    {~0ULL, ~0ULL},
};
static_assert(wire::kOrderLineCountMax == 8);

// The bytes of a place order that a fingerprint covers: the first 40 (operation, line count,
// city tier, coupon count, region, key, merchant, buyer, drop; the reserved ones among them
// are zero by the time it is taken), then the SKU ids and coupon ids and the quantities, zero
// past the last line and coupon (the bytes of unused lines are no part of the request).
constexpr size_t kFingerprintHeadBytes = offsetof(wire::PlaceOrder, sku_id);
static_assert(kFingerprintHeadBytes == 40);
struct FingerprintInput {
  uint8_t head[kFingerprintHeadBytes];
  uint64_t sku_id[wire::kOrderLineCountMax];
  uint64_t quantity[2];  // the 8 quantities, masked past the last line
};
static_assert(sizeof(FingerprintInput) == 120);

// The fingerprint of a place-order request: XXH3-64 of every field that makes the request
// (docs/engine.md, "Idempotency"). Deterministic across machines and builds (XXH3 is
// specified), so it may live in the state. Fixed length, so XXH3 runs its unrolled path for
// 17..128 bytes with no branch on the size.
// Seeded with the storefront that sent it (0: an operator), so another storefront's repeat of
// a rejected attempt's key is another request.
[[gnu::always_inline]] inline uint64_t PlaceOrderFingerprint(const wire::PlaceOrder& c,
                                                             uint64_t storefront) {
  FingerprintInput in;
  std::memcpy(in.head, &c, sizeof(in.head));
  const int lines = std::min<int>(c.line_count, wire::kOrderLineCountMax);
  const int ids = std::min<int>(c.line_count + c.coupon_count, wire::kOrderLineCountMax);
  for (int l = 0; l < wire::kOrderLineCountMax; l++) in.sku_id[l] = l < ids ? c.sku_id[l] : 0;
  std::memcpy(in.quantity, c.quantity, sizeof(in.quantity));
  in.quantity[0] &= kQuantityMask[lines][0];
  in.quantity[1] &= kQuantityMask[lines][1];
  return XXH3_64bits_withSeed(&in, sizeof(in), storefront);
}

}  // namespace

[[gnu::always_inline]] inline bool Engine::TakeSlot(uint32_t slot, uint64_t order_id) {
  Order& old = orders_[slot];
  if (old.id == 0) return true;
  if (!IsFinal(old.state)) return false;
  ELEVEN_ASSERT(old.id + config_.order_slot_count == order_id);
  // A balance payment's order has no key (its deposit is its key).
  if (old.key != 0) {
    ELEVEN_ASSERT(key_index_.Erase(old.key, [this](uint32_t s) { return KeyOfSlot(s); }));
    if (evicted_keys_.enabled()) evicted_keys_.Insert(old.key);
  }
  if (old.promotion == kCoupons) DropCouponOrder(old.id);
  return true;
}

bool Engine::TakeSlotCold(uint32_t slot, uint64_t order_id) { return TakeSlot(slot, order_id); }

uint32_t Engine::Held(uint32_t owner, uint64_t buyer) const {
  uint32_t held = holdings_.Find(HoldingKey{buyer, owner, 0});
  return held == kNoValue ? 0 : held;
}

void Engine::AddHeld(uint32_t owner, uint64_t buyer, int32_t delta) {
  const HoldingKey key{buyer, owner, 0};
  uint32_t* held = holdings_.FindValue(key);
  if (held == nullptr) {
    ELEVEN_ASSERT(delta > 0);
    ELEVEN_ASSERT(holdings_.Insert(key, static_cast<uint32_t>(delta)));  // capacity checked
    return;
  }
  const int64_t next = int64_t{*held} + delta;
  ELEVEN_ASSERT(next >= 0);
  if (next == 0) {
    ELEVEN_ASSERT(holdings_.Erase(key));
  } else {
    *held = static_cast<uint32_t>(next);
  }
}

// A line's SKU row: the lookahead's when it still holds that SKU (rows never move), else
// looked up now (not found then, perhaps created since).
[[gnu::always_inline]] inline uint32_t Engine::ResolveSku(uint64_t sku_id, uint32_t hint) const {
  if (hint != kNoValue && skus_[hint].id == sku_id) return hint;
  return skus_.Find(sku_id);
}

// Validates a place-order command against the state without changing it. On ok, `plan`
// holds what reserving its lines needs: rows, holdings read, the drop and the total.
[[gnu::always_inline]] inline wire::Code Engine::CheckOrder(const wire::PlaceOrder& c,
                                                            uint64_t now_us, const Lookahead& ahead,
                                                            OrderPlan* plan) const {
  if (c.line_count == 0 || c.line_count > wire::kOrderLineCountMax) return Code::invalid_line_count;
  if (c.city_tier == 0 || c.city_tier > wire::kCityTierMax) return Code::invalid_city_tier;
  if (c.region == 0 || c.region > wire::kRegionMax) return Code::invalid_region;
  if (c.buyer_id == 0) return Code::invalid_id;
  const int lines = c.line_count;
  uint32_t* sku_index = plan->sku_index;

  // The merchant: through the first SKU's row when that SKU is the merchant's (the row is
  // read anyway), else through the merchant table. Both give the same answer: a SKU exists
  // only under a merchant that exists.
  sku_index[0] = ResolveSku(c.sku_id[0], ahead.sku[0]);
  const uint32_t first = sku_index[0];
  const uint32_t merchant = first != kNoValue && skus_[first].merchant_id == c.merchant_id
                                ? skus_[first].merchant_index
                                : merchant_index_.Find(c.merchant_id);
  if (merchant == kNoValue) return Code::merchant_not_found;
  plan->merchant_index = merchant;
  plan->drop_index = kNoValue;
  uint32_t drop_sku = kNoValue;  // the SKU whose line draws on the drop
  if (c.drop_id != 0) {
    const Code code = CheckDrop(c.drop_id, merchant, now_us, &plan->drop_index);
    if (code != Code::ok) return code;
    drop_sku = drops_[plan->drop_index].sku_index;
  }
  bool drop_line_seen = false;
  for (int l = 0; l < lines; l++) {
    if (c.quantity[l] == 0 || c.quantity[l] > wire::kLineQuantityMax) return Code::invalid_quantity;
    const uint32_t s = l == 0 ? first : ResolveSku(c.sku_id[l], ahead.sku[l]);
    if (s == kNoValue) return Code::sku_not_found;
    if (skus_[s].merchant_index != merchant) return Code::sku_of_other_merchant;
    for (int k = 0; k < l; k++) {
      if (sku_index[k] == s) return Code::duplicate_line;
    }
    sku_index[l] = s;
    drop_line_seen |= s == drop_sku;
  }
  if (plan->drop_index != kNoValue && !drop_line_seen) return Code::drop_sku_not_in_order;

  // Limits and stock in line order: the first failing line decides the reason.
  uint32_t holdings_new = 0;
  int64_t total = 0;
  for (int l = 0; l < lines; l++) {
    if (sku_index[l] == drop_sku) {
      const Code code = CheckDropLine(c, l, plan, &holdings_new, &total);
      if (code != Code::ok) return code;
      continue;
    }
    const Sku& sku = skus_[sku_index[l]];
    const uint32_t quantity = c.quantity[l];
    if (sku.per_buyer_limit != 0) {
      plan->held[l] = Held(sku_index[l], c.buyer_id);
      if (plan->held[l] + quantity > sku.per_buyer_limit) return Code::buyer_limit;
      holdings_new += plan->held[l] == 0;
    }
    if (sku.available < quantity) return Code::insufficient_stock;
    total += sku.price_fen * quantity;
  }
  // Up to 8 lines of 10,000 units at the highest price exceed what one payment may move.
  if (total > wire::kOrderTotalMaxFen) return Code::order_total_too_large;
  if (holdings_.count() + holdings_new > holdings_.count_max()) return Code::holdings_full;
  plan->total_fen = total;
  return Code::ok;
}

// The drop an order names: found, of the order's merchant, and open now.
wire::Code Engine::CheckDrop(uint64_t drop_id, uint32_t merchant, uint64_t now_us,
                             uint32_t* drop_index) const {
  const uint32_t d = drop_index_.Find(drop_id);
  if (d == kNoValue) return Code::drop_not_found;
  const Drop& drop = drops_[d];
  if (skus_[drop.sku_index].merchant_index != merchant) return Code::drop_of_other_merchant;
  if (drop.closed != 0 || now_us >= drop.closes_at_us) return Code::drop_closed;
  if (now_us < drop.opens_at_us) return Code::drop_not_open;
  *drop_index = d;
  return Code::ok;
}

// The line that draws on the order's drop: the SKU's limit, then the drop's, then its quota.
wire::Code Engine::CheckDropLine(const wire::PlaceOrder& c, int l, OrderPlan* plan,
                                 uint32_t* holdings_new, int64_t* total) const {
  const Sku& sku = skus_[plan->sku_index[l]];
  const Drop& drop = drops_[plan->drop_index];
  const uint32_t quantity = c.quantity[l];
  if (sku.per_buyer_limit != 0) {
    plan->held[l] = Held(plan->sku_index[l], c.buyer_id);
    if (plan->held[l] + quantity > sku.per_buyer_limit) return Code::buyer_limit;
    *holdings_new += plan->held[l] == 0;
  }
  if (drop.per_buyer_limit != 0) {
    plan->drop_held = Held(kOwnerDrop | plan->drop_index, c.buyer_id);
    if (plan->drop_held + quantity > drop.per_buyer_limit) return Code::buyer_limit;
    *holdings_new += plan->drop_held == 0;
  }
  if (drop.available < quantity) return Code::insufficient_stock;
  *total += drop.live_price_fen * quantity;
  return Code::ok;
}

// Adds `quantity` to what the buyer holds of `owner`, `held` being what CheckOrder read.
void Engine::AddHeldChecked(uint32_t owner, uint64_t buyer, uint32_t held, uint32_t quantity) {
  const HoldingKey key{buyer, owner, 0};
  if (held == 0) {
    ELEVEN_ASSERT(holdings_.Insert(key, quantity));  // capacity checked
  } else {
    uint32_t* value = holdings_.FindValue(key);
    ELEVEN_ASSERT(value != nullptr && *value == held);
    *value = held + quantity;
  }
}

[[gnu::always_inline]] inline void Engine::ReserveLines(const wire::PlaceOrder& c,
                                                        const OrderPlan& plan) {
  const uint32_t drop_sku = plan.drop_index == kNoValue ? kNoValue : drops_[plan.drop_index].sku_index;
  const int lines = c.line_count;  // read once: the stores below may alias the command
  for (int l = 0; l < lines; l++) {
    Sku& sku = skus_[plan.sku_index[l]];
    const uint32_t quantity = c.quantity[l];
    if (plan.sku_index[l] == drop_sku) {
      Drop& drop = drops_[plan.drop_index];
      ELEVEN_ASSERT(drop.available >= quantity && sku.in_drops >= quantity);
      drop.available -= quantity;
      drop.reserved += quantity;
      sku.in_drops -= quantity;
      if (drop.available == 0 && drop.sold_out_at_us == 0) drop.sold_out_at_us = last_timestamp_us_;
      if (drop.per_buyer_limit != 0) {
        AddHeldChecked(kOwnerDrop | plan.drop_index, c.buyer_id, plan.drop_held, quantity);
      }
    } else {
      ELEVEN_ASSERT(sku.available >= quantity);
      sku.available -= quantity;
    }
    sku.reserved += quantity;
    if (sku.per_buyer_limit != 0) AddHeldChecked(plan.sku_index[l], c.buyer_id, plan.held[l], quantity);
  }
}

// Whether `c` repeats the request that took `first`'s key: field by field for an accepted
// order (its storefront, merchant, buyer, region, tier, drop and lines are in its row), by
// fingerprint for a rejected one. Cold: only a retry or a reused key comes here.
bool Engine::SameRequest(const Order& first, const wire::PlaceOrder& c, uint64_t storefront) const {
  if (first.merchant_index == kNoValue) {
    return first.storefront_or_fingerprint == PlaceOrderFingerprint(c, storefront);
  }
  ELEVEN_DASSERT(first.line_count >= 1);
  if (first.storefront_or_fingerprint != storefront || c.buyer_id != first.buyer || c.region != first.region || c.city_tier != first.city_tier ||
      c.line_count != first.line_count || c.merchant_id != merchants_[first.merchant_index].id ||
      c.drop_id != (first.drop_index == kNoValue ? 0 : drops_[first.drop_index].id)) {
    return false;
  }
  for (int l = 0; l < first.line_count; l++) {
    if (c.sku_id[l] != skus_[first.sku_index[l]].id || c.quantity[l] != first.quantity[l]) return false;
  }
  return SameCoupons(first, c);
}

[[gnu::always_inline]] inline void Engine::PlaceOrder(const wire::PlaceOrder& c, uint64_t now_us,
                                                     const Lookahead& ahead, wire::Result& out) {
  if (!wire::ReservedZero(c)) {
    out = CommandResult(Code::reserved_nonzero, Operation::kPlaceOrder, 0);
    return;
  }
  // Who places it: an operator, or a storefront whose id the order keeps (docs/access.md).
  uint64_t storefront = 0;
  if (wire::KeyIdOfIssuer(c.trailer.issuer) != 0) {
    const Principal p = PrincipalOf(wire::KeyIdOfIssuer(c.trailer.issuer));
    if (p.role != wire::Role::kOperator && p.role != wire::Role::kStorefront) {
      const Code refused = p.role == wire::Role::kNone ? Code::unauthenticated : Code::forbidden;
      out = CommandResult(refused, Operation::kPlaceOrder, 0);
      return;
    }
    if (p.role == wire::Role::kStorefront) storefront = p.scope_id;
  }
  if (c.idempotency_key == 0) {
    // Key 0 would make every retry of a key-less client look like another's order.
    out = CommandResult(Code::invalid_idempotency_key, Operation::kPlaceOrder, 0);
    return;
  }
  const uint32_t tag = ahead.key_tag;
  const uint32_t seen =
      key_index_.Find(c.idempotency_key, tag, [this](uint32_t s) { return KeyOfSlot(s); });
  if (seen != kNoValue) {
    if (!SameRequest(orders_[seen], c, storefront)) {
      // Another request under a key already used: refused, and no word of the first order.
      out = CommandResult(Code::idempotency_key_reused, Operation::kPlaceOrder, 0);
      return;
    }
    stats_.orders_replayed++;
    out = OrderResult(orders_[seen], Operation::kPlaceOrder);
    out.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
    return;
  }
  // A key the ring no longer holds may be an evicted order's: the server resolves it against
  // the archive and sends the command again, marked, if no order has it (docs/archive.md).
  if (evicted_keys_.enabled() && !wire::ArchiveChecked(c.trailer) && evicted_keys_.MayContain(c.idempotency_key)) {
    out = CommandResult(Code::archive_check, Operation::kPlaceOrder, 0);
    return;
  }
  const uint64_t order_id = next_order_id_;
  const uint32_t slot = next_slot_;
  if (!TakeSlot(slot, order_id)) {
    // Not remembered: the attempt had no slot to live in. A retry may succeed later.
    out = CommandResult(Code::orders_full, Operation::kPlaceOrder, 0);
    return;
  }
  OrderPlan plan;
  Code code = CheckOrder(c, now_us, ahead, &plan);
  if (c.coupon_count != 0 && code == Code::ok) code = CheckCoupons(c, now_us, ahead, &plan);
  const bool ok = code == Code::ok;
  if (ok) {
    ReserveLines(c, plan);
    if (c.coupon_count != 0) HoldCoupons(order_id, plan);
    stats_.orders_accepted++;
    stats_.gmv_placed_fen += plan.total_fen;
  } else {
    stats_.orders_rejected++;
  }
  // The slot may hold an older order: every field is written, one by one. (`= Order{}` and
  // then the fields is what GCC turns into a `rep stos` costing more than the rest of the
  // store.) A field added to OrderRow, whose size engine_state.h asserts, is written here too.
  Order& order = orders_[slot];
  order.id = order_id;
  order.key = c.idempotency_key;
  // An accepted order keeps its request in its fields (SameRequest compares them) and its
  // storefront; a rejected one keeps no lines, so its request's fingerprint, taken off the
  // hot path.
  order.storefront_or_fingerprint = ok ? storefront : PlaceOrderFingerprint(c, storefront);
  order.buyer = c.buyer_id;
  order.total_fen = ok ? plan.total_fen : 0;
  order.created_at_us = now_us;
  order.merchant_index = ok ? plan.merchant_index : kNoValue;
  order.drop_index = ok ? plan.drop_index : kNoValue;
  // Whole arrays, zero past the last line: the plan's rows are, the quantities are masked.
  static_assert(sizeof(order.sku_index) == sizeof(plan.sku_index));
  if (ok) {
    std::memcpy(order.sku_index, plan.sku_index, sizeof(order.sku_index));
  } else {
    std::memset(order.sku_index, 0, sizeof(order.sku_index));
  }
  // The quantities as two 64-bit words, masked past the last line (a command's unused lines
  // need not be zero): a per-line select cost ~22 instructions an order.
  static_assert(sizeof(order.quantity) == 2 * sizeof(uint64_t) &&
                sizeof(c.quantity) == sizeof(order.quantity));
  uint64_t quantity[2];
  std::memcpy(quantity, c.quantity, sizeof(quantity));
  const uint64_t* mask = kQuantityMask[ok ? c.line_count : 0];
  quantity[0] &= mask[0];
  quantity[1] &= mask[1];
  std::memcpy(order.quantity, quantity, sizeof(quantity));
  order.region = c.region;
  order.city_tier = c.city_tier;
  order.state = ok ? OrderState::kPending : OrderState::kRejected;
  order.line_count = ok ? c.line_count : 0;
  order.promotion = ok && c.coupon_count != 0 ? kCoupons : 0;
  order.code = code;
  next_order_id_++;
  next_slot_ = next_slot_ + 1 == config_.order_slot_count ? 0 : next_slot_ + 1;
  ELEVEN_ASSERT(key_index_.Insert(c.idempotency_key, tag, slot));  // sized to the ring: never full
  out = OrderResult(order, Operation::kPlaceOrder);
}

void Engine::ReleaseOrder(Order& order) {
  ELEVEN_ASSERT(order.state == OrderState::kPending);
  if (order.promotion == kCoupons) ReleaseCoupons(order);
  for (int l = 0; l < order.line_count; l++) {
    Sku& sku = skus_[order.sku_index[l]];
    const uint32_t quantity = order.quantity[l];
    ELEVEN_ASSERT(sku.reserved >= quantity);
    sku.reserved -= quantity;
    const bool from_drop =
        order.drop_index != kNoValue && drops_[order.drop_index].sku_index == order.sku_index[l];
    if (from_drop) {
      ELEVEN_ASSERT(drops_[order.drop_index].reserved >= quantity);
      drops_[order.drop_index].reserved -= quantity;
    }
    GiveBack(order, l, from_drop);
  }
}

// Line `l`'s units, just taken off their reserved or sold count, go back: to the drop while
// it is open (else to the SKU, the drop counting them returned), and the buyer's holdings
// under per-buyer limits shrink.
void Engine::GiveBack(const Order& order, int l, bool from_drop) {
  Sku& sku = skus_[order.sku_index[l]];
  const uint32_t quantity = order.quantity[l];
  if (from_drop) {
    Drop& drop = drops_[order.drop_index];
    if (drop.closed != 0) {  // the drop is over: the units go back to the SKU
      sku.available += quantity;
      drop.returned += quantity;
    } else {
      drop.available += quantity;
      sku.in_drops += quantity;
    }
    if (drop.per_buyer_limit != 0) {
      AddHeld(kOwnerDrop | order.drop_index, order.buyer, -static_cast<int32_t>(quantity));
    }
  } else {
    sku.available += quantity;
  }
  // A pre-sale's order holds nothing under the SKU's limit (the pre-sale has its own).
  if (sku.per_buyer_limit != 0 && order.promotion != kPresale) {
    AddHeld(order.sku_index[l], order.buyer, -static_cast<int32_t>(quantity));
  }
}

wire::Code Engine::FindOrder(uint64_t order_id, const Order** out) const {
  if (order_id == 0 || order_id >= next_order_id_) return Code::order_not_found;
  if (next_order_id_ - order_id > config_.order_slot_count) return Code::order_evicted;
  const Order& order = orders_[order_id % config_.order_slot_count];
  ELEVEN_ASSERT(order.id == order_id);
  *out = &order;
  return Code::ok;
}

// The result of a pay or cancel command so far; the order if it is pending, else null with
// the code saying why not (unknown, evicted, expired, or no longer pending).
Engine::Order* Engine::PendingOrder(uint64_t order_id, Operation operation, uint64_t now_us,
                                    wire::Result* result) {
  const Order* found = nullptr;
  *result = wire::Result{};
  result->operation = operation;
  result->id = order_id;
  result->at_us = now_us;
  result->code = FindOrder(order_id, &found);
  if (result->code != Code::ok) return nullptr;
  result->state = found->state;
  result->amount_fen = found->total_fen;
  if (found->state == OrderState::kExpired) {
    result->code = Code::order_expired;
  } else if (found->state != OrderState::kPending) {
    result->code = Code::order_not_pending;
  }
  return result->code == Code::ok ? const_cast<Order*>(found) : nullptr;
}

// A pay or cancel command that repeats the one that made its order final is answered as the
// first was (ok, the order's state, its total), marked as a replay; it changes nothing but
// the replay count.
void Engine::AnswerReplay(wire::Result* result) {
  ELEVEN_ASSERT(result->code == Code::order_not_pending);
  ELEVEN_ASSERT(result->operation == Operation::kPayOrder ||
                result->operation == Operation::kCancelOrder);
  result->code = Code::ok;
  result->flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
  stats_.orders_replayed++;
}

// Whether `c` asks for the payment that paid this order: the order was paid (and may since
// have been delivered), and `c` names its total and the method and periods it was paid with
// (none with payments off; with them on, as the ledger recorded them).
bool Engine::RepeatsPayment(const Order& order, const wire::PayOrder& c) const {
  if (order.state != OrderState::kPaid && order.state != OrderState::kDelivered) return false;
  if (c.amount_fen != order.total_fen) return false;
  if (!ledger_) return c.payment_method == 0 && c.instalment_periods == 0;
  wire::OrderMoneyRecord money{};
  if (ledger_->LookupOrderMoney(order.id, &money) != Code::ok) return false;
  return static_cast<uint8_t>(money.method) == c.payment_method &&
         money.instalment_periods == c.instalment_periods;
}

wire::Result Engine::PayOrder(const wire::PayOrder& c, uint64_t now_us) {
  wire::Result result;
  Order* pending = PendingOrder(c.order_id, Operation::kPayOrder, now_us, &result);
  if (pending == nullptr) {
    const Order* order = nullptr;
    if (result.code == Code::order_not_pending && FindOrder(c.order_id, &order) == Code::ok &&
        RepeatsPayment(*order, c)) {
      AnswerReplay(&result);
    }
    return result;
  }
  Order& order = *pending;
  if (c.amount_fen != order.total_fen) result.code = Code::amount_mismatch;
  if (result.code == Code::ok) result.code = PayThroughModules(order, c, now_us);
  if (result.code != Code::ok) return result;
  // Expiry ran at the start of the batch, so a pending order here is inside its window.
  ELEVEN_ASSERT(now_us < order.created_at_us + config_.pay_window_us);
  for (int l = 0; l < order.line_count; l++) {
    Sku& sku = skus_[order.sku_index[l]];
    const uint32_t quantity = order.quantity[l];
    sku.reserved -= quantity;
    sku.sold += quantity;
    stats_.units_sold += quantity;
    if (order.drop_index != kNoValue && drops_[order.drop_index].sku_index == order.sku_index[l]) {
      drops_[order.drop_index].reserved -= quantity;
      drops_[order.drop_index].sold += quantity;
    }
  }
  if (order.promotion == kCoupons) UseCoupons(order);
  order.state = OrderState::kPaid;
  stats_.orders_paid++;
  stats_.gmv_paid_fen += order.total_fen;
  CountSale(order);
  result.state = order.state;
  return result;
}

// Moves the money (ledger on) and allocates the parcels (fulfilment on) of a payable order,
// all or nothing: a shipment the fulfilment refuses refunds the payment just made.
OrderToShip Engine::ShipmentOf(const Order& order) const {
  OrderToShip ship{};
  ship.order_id = order.id;
  ship.merchant_id = merchants_[order.merchant_index].id;
  ship.region = order.region;
  ship.city_tier = order.city_tier;
  ship.cross_border = (merchants_[order.merchant_index].flags & uint8_t(wire::MerchantFlags::kOverseas)) != 0;
  ship.line_count = order.line_count;
  for (int l = 0; l < order.line_count; l++) {
    ship.lines[l].sku_id = skus_[order.sku_index[l]].id;
    ship.lines[l].quantity = order.quantity[l];
  }
  return ship;
}

// A pre-sale's balance (presales.cc): fulfilment is asked first whether it would take the
// order, so that the ledger, which carries the deposit into the order's payment, is never
// undone.
wire::Code Engine::PayPresaleOrder(const Order& order, const wire::PayBalance& c, uint64_t deposit_money_id,
                                   uint64_t now_us) {
  if (!ledger_ && (c.payment_method != 0 || c.instalment_periods != 0)) return Code::payments_disabled;
  const OrderToShip ship = ShipmentOf(order);
  if (fulfilment_) {
    const Code room = fulfilment_->CheckTake(ship);
    if (room != Code::ok) return room;
  }
  if (ledger_) {
    const Code paid = ledger_->PayOrder(order.id, order.buyer, ship.merchant_id, order.total_fen,
                                        static_cast<wire::PaymentMethod>(c.payment_method), c.instalment_periods,
                                        now_us, StorefrontOf(order), 0, deposit_money_id);
    if (paid != Code::ok) return paid;
  }
  if (fulfilment_) {
    const Code shipped = fulfilment_->OnOrderPaid(ship, now_us);
    ELEVEN_ASSERT(shipped == Code::ok || shipped == Code::shipment_backlogged);  // CheckTake said so
  }
  return Code::ok;
}

wire::Code Engine::PayThroughModules(const Order& order, const wire::PayOrder& c, uint64_t now_us) {
  const uint64_t merchant_id = merchants_[order.merchant_index].id;
  if (!ledger_) {
    if (c.payment_method != 0 || c.instalment_periods != 0) return Code::payments_disabled;
  } else {
    // Escrow holds the order's total and the platform coupon's discount, which the platform's
    // marketing account pays (docs/promotions.md, "Money").
    const int64_t subsidy = order.promotion == kCoupons ? CouponOrderOf(order.id).discount_fen[kPlatform] : 0;
    const Code paid = ledger_->PayOrder(order.id, order.buyer, merchant_id, order.total_fen + subsidy,
                                        static_cast<wire::PaymentMethod>(c.payment_method),
                                        c.instalment_periods, now_us, StorefrontOf(order), subsidy);
    if (paid != Code::ok) return paid;
  }
  if (!fulfilment_) return Code::ok;
  const Code shipped = fulfilment_->OnOrderPaid(ShipmentOf(order), now_us);
  if (shipped == Code::ok || shipped == Code::shipment_backlogged) return Code::ok;
  if (ledger_) ELEVEN_ASSERT(ledger_->RefundOrder(order.id, now_us) == Code::ok);
  return shipped;
}

// Orders whose every parcel is delivered or returned: settled (returned lines refunded) in
// the ledger, marked delivered or returned (returns.cc).
void Engine::DrainDelivered(uint64_t now_us) {
  std::span<DeliveredOrder> out(delivered_.get(), kDeliveredDrainChunk);
  // Bounded by the outbox's capacity: each call takes entries out of it.
  for (uint32_t taken = fulfilment_->TakeDelivered(out); taken > 0; taken = fulfilment_->TakeDelivered(out)) {
    for (uint32_t i = 0; i < taken; i++) SettleDelivered(out[i], now_us);
  }
}

wire::Result Engine::CancelOrder(const wire::CancelOrder& c, uint64_t now_us) {
  wire::Result result;
  Order* pending = PendingOrder(c.order_id, Operation::kCancelOrder, now_us, &result);
  if (pending == nullptr) {
    if (result.code == Code::order_not_pending && result.state == OrderState::kCancelled) {
      AnswerReplay(&result);  // a retried cancel
      return result;
    }
    return CancelAfterPayment(c.order_id, now_us, result);  // returns.cc
  }
  Order& order = *pending;
  ReleaseOrder(order);
  order.state = OrderState::kCancelled;
  stats_.orders_cancelled++;
  result.state = order.state;
  return result;
}

void Engine::ExpireDueOrders(uint64_t now_us) {
  // Orders are created in log-time order and share one pay window, so deadlines rise with
  // the order id: a cursor walks them once, and the first order not yet due stops it.
  while (expiry_cursor_ < next_order_id_) {
    Order& order = orders_[expiry_cursor_ % config_.order_slot_count];
    if (order.id == expiry_cursor_) {  // else the slot was reused: its old order was final
      if (order.created_at_us + config_.pay_window_us > now_us) break;
      if (order.state == OrderState::kPending) {
        ReleaseOrder(order);
        order.state = OrderState::kExpired;
        stats_.orders_expired++;
      }
    }
    expiry_cursor_++;
  }
}

void Engine::FillOrderRecord(const Order& order, wire::OrderRecord* out) const {
  *out = wire::OrderRecord{};
  out->order_id = order.id;
  out->idempotency_key = order.key;
  out->merchant_id = order.merchant_index == kNoValue ? 0 : merchants_[order.merchant_index].id;
  out->buyer_id = order.buyer;
  out->drop_id = order.drop_index == kNoValue ? 0 : drops_[order.drop_index].id;
  out->created_at_us = order.created_at_us;
  out->pay_by_us = order.created_at_us + config_.pay_window_us;
  out->total_fen = order.total_fen;
  out->state = order.state;
  out->line_count = order.line_count;
  out->code = order.code;
  out->region = order.region;
  out->city_tier = order.city_tier;
  for (int l = 0; l < order.line_count; l++) {
    out->sku_id[l] = skus_[order.sku_index[l]].id;
    out->quantity[l] = order.quantity[l];
  }
  if (order.promotion != kCoupons) return;
  const CouponOrderRow& row = CouponOrderOf(order.id);
  auto coupon_id = [&](uint32_t claim) {
    return claim == kNoValue ? 0 : coupons_[claims_[claim].coupon_index].id;
  };
  out->platform_coupon_id = coupon_id(row.claim[kPlatform]);
  out->shop_coupon_id = coupon_id(row.claim[kShop]);
  out->platform_discount_fen = row.discount_fen[kPlatform];
  out->shop_discount_fen = row.discount_fen[kShop];
}

wire::Code Engine::GetOrder(uint64_t order_id, wire::OrderRecord* out) const {
  const Order* order = nullptr;
  const Code code = FindOrder(order_id, &order);
  if (code == Code::ok) FillOrderRecord(*order, out);
  return code;
}

bool Engine::OrderOwners(uint64_t order_id, uint64_t* buyer, uint64_t* merchant_id) const {
  const Order* order = nullptr;
  if (FindOrder(order_id, &order) != Code::ok || order->merchant_index == kNoValue) return false;
  *buyer = order->buyer;
  *merchant_id = merchants_[order->merchant_index].id;
  return true;
}

bool Engine::OrderParties(uint64_t order_id, uint64_t* storefront, uint64_t* merchant_id) const {
  *storefront = 0;
  *merchant_id = 0;
  const Order* order = nullptr;
  if (FindOrder(order_id, &order) == Code::ok) {
    if (order->merchant_index == kNoValue) return true;  // a rejected attempt: nobody's
    *storefront = StorefrontOf(*order);
    *merchant_id = merchants_[order->merchant_index].id;
    return true;
  }
  wire::OrderMoneyRecord money;
  if (ledger_ && ledger_->LookupOrderMoney(order_id, &money) == Code::ok) {
    *merchant_id = money.merchant_id;
    return true;
  }
  return false;
}

wire::Code Engine::GetOrderByKey(uint64_t idempotency_key, wire::OrderRecord* out) const {
  const uint32_t slot = key_index_.Find(idempotency_key, [this](uint32_t s) { return KeyOfSlot(s); });
  if (slot == kNoValue) return Code::order_not_found;
  FillOrderRecord(orders_[slot], out);
  return Code::ok;
}

// A claim's index slot, and then its row, are far apart in tables larger than the cache: the
// slot stage finds each coupon's row (a small table, cached) and fetches the slot of the
// (buyer, coupon) pair's tag; the row stage takes the first claim under that tag, unconfirmed,
// and fetches its row, which CheckCoupons confirms.
[[gnu::always_inline]] inline void Engine::PrefetchClaimSlots(const wire::PlaceOrder& c,
                                                              Lookahead& ahead) const {
  const int count = std::min<int>({c.coupon_count, wire::kOrderCouponCountMax,
                                   wire::kOrderLineCountMax - c.line_count});
  for (int k = 0; k < wire::kOrderCouponCountMax; k++) {
    const uint32_t coupon = k < count ? coupon_index_.Find(c.sku_id[c.line_count + k]) : kNoValue;
    ahead.coupon[k] = coupon;
    if (coupon == kNoValue) continue;
    ahead.claim_tag[k] = PairTag(c.buyer_id, coupon);
    claim_index_.PrefetchTag(ahead.claim_tag[k]);
  }
}

[[gnu::always_inline]] inline void Engine::PrefetchClaimRows(Lookahead& ahead) const {
  for (int k = 0; k < wire::kOrderCouponCountMax; k++) {
    ahead.claim[k] = ahead.coupon[k] == kNoValue ? kNoValue : claim_index_.FirstTagged(ahead.claim_tag[k]);
    if (ahead.claim[k] != kNoValue) Prefetch(&claims_[ahead.claim[k]]);
  }
}

// The two prefetch stages, and PlaceOrder with its stages above, are inlined into the batch
// loop: as calls they cost 12% of a W1 order's instructions (callgrind, bench/engine_bench),
// PlaceOrder's own call another 3%.
[[gnu::always_inline]] inline void Engine::PrefetchSlots(const wire::Command& command,
                                                         Lookahead& ahead) const {
  if (command.operation != Operation::kPlaceOrder) return;
  const wire::PlaceOrder& order = command.place_order;
  ahead.key_tag = KeyIndex::Tag(order.idempotency_key);
  key_index_.PrefetchTag(ahead.key_tag);
  if (evicted_keys_.enabled()) evicted_keys_.Prefetch(order.idempotency_key);
  const int lines = std::min<int>(order.line_count, wire::kOrderLineCountMax);
  for (int l = 0; l < lines; l++) {
    ahead.sku[l] = static_cast<uint32_t>(skus_.Home(order.sku_id[l]));
    skus_.PrefetchHome(ahead.sku[l]);
  }
  if (order.coupon_count != 0) PrefetchClaimSlots(order, ahead);
}

[[gnu::always_inline]] inline void Engine::PrefetchRows(const wire::Command& command,
                                                        Lookahead& ahead) const {
  if (command.operation != Operation::kPlaceOrder) return;
  const wire::PlaceOrder& order = command.place_order;
  const int lines = std::min<int>(order.line_count, wire::kOrderLineCountMax);
  for (int l = 0; l < lines; l++) {
    const uint32_t sku = skus_.FindFrom(ahead.sku[l], order.sku_id[l]);
    ahead.sku[l] = sku;
    // Only a SKU with a per-buyer limit reads a holding: most lines have none to fetch.
    if (sku == kNoValue || skus_[sku].per_buyer_limit == 0) continue;
    holdings_.Prefetch(HoldingKey{order.buyer_id, sku, 0});
  }
  if (order.coupon_count != 0) PrefetchClaimRows(ahead);
}

// A command's bytes (two cache lines).
[[gnu::always_inline]] inline void Engine::PrefetchCommand(const wire::Command& command) {
  static_assert(sizeof(wire::Command) == 2 * kCacheLineBytes);
  const char* bytes = reinterpret_cast<const char*>(&command);
  Prefetch(bytes);
  Prefetch(bytes + kCacheLineBytes);
}

// The order ring's slots [first, first + count) modulo the ring, for writing: every line of
// each (a 112-byte slot spans two or three).
[[gnu::always_inline]] inline void Engine::PrefetchOrderSlots(uint64_t first, size_t count) const {
  static_assert(sizeof(Order) <= 2 * kCacheLineBytes);
  uint64_t at = first;
  // No division on the hot path: `first` is a ring slot plus a short distance, so this loop
  // runs once at most unless the ring is shorter than the distance.
  while (at >= config_.order_slot_count) at -= config_.order_slot_count;
  for (size_t k = 0; k < count; k++) {
    const char* slot = reinterpret_cast<const char*>(&orders_[at]);
    PrefetchForWrite(slot);
    PrefetchForWrite(slot + kCacheLineBytes);
    PrefetchForWrite(slot + sizeof(Order) - 1);
    at = at + 1 == config_.order_slot_count ? 0 : at + 1;
  }
}

BatchError Engine::Apply(uint64_t op, uint64_t timestamp_us,
                         std::span<const wire::Command> commands,
                         std::span<wire::Result> results) {
  if (op != last_op_ + 1) return BatchError::kOpNotNext;
  if (timestamp_us < last_timestamp_us_) return BatchError::kTimestampBackwards;
  if (commands.size() > config_.batch_command_count_max) return BatchError::kTooManyCommands;
  if (results.size() < commands.size()) return BatchError::kResultsTooSmall;

  last_op_ = op;
  last_timestamp_us_ = timestamp_us;
  CloseDueDrops(timestamp_us);
  ExpireDueOrders(timestamp_us);
  if (presale_count_ > 0) ClosePresales(timestamp_us);
  if (ledger_) ledger_->Tick(timestamp_us);
  if (fulfilment_) fulfilment_->Tick(timestamp_us);

  // Placing an order costs a few lookups in tables far larger than the cache (keys, SKUs,
  // holdings), so they are prefetched in two stages: the key's slot and the SKUs' rows of the
  // orders 12 ahead, then, those rows now cached, the holding slots of the orders 6 ahead.
  // Prefetches are issued a group of commands at a time. The two streams an order walks are
  // prefetched too, as the hardware's stream prefetcher does not keep them ahead between the
  // random misses: the commands, and the order ring's slots, which PlaceOrder reads (the
  // slot's old order) and then writes. The group and the distances are the fastest measured
  // on W1 (docs/benchmarks.md, "Engine alone"); they depend on where the misses are, so
  // they are measured again when the tables' layout changes.
  constexpr size_t kGroup = 2;
  constexpr size_t kSlotPrefetchDistance = 12;
  constexpr size_t kRowPrefetchDistance = 6;
  constexpr size_t kStreamPrefetchDistance = 64;
  // Each stage leaves what it found in the command's lookahead entry for the next.
  static_assert(kLookaheadSize >= kSlotPrefetchDistance + kGroup);
  static_assert(kRowPrefetchDistance + kGroup <= kSlotPrefetchDistance);
  const size_t count = commands.size();
  size_t slots_to = 0;  // commands [0, slots_to) have their slots prefetched
  size_t rows_to = 0;
  size_t i = 0;
  while (i < count) {
    // Before a group of commands is applied: the slots of the group kSlotPrefetchDistance
    // ahead, the rows of the group kRowPrefetchDistance ahead, the streams of the group
    // kStreamPrefetchDistance ahead. A run of module commands may have carried i past the
    // stages: they restart at i, so the entries in use are always those of
    // [i, i + kLookaheadSize).
    const size_t group_end = std::min(count, i + kGroup);
    const size_t slots_end = std::min(count, i + kSlotPrefetchDistance + kGroup);
    for (slots_to = std::max(slots_to, i); slots_to < slots_end; slots_to++) {
      PrefetchSlots(commands[slots_to], lookahead_[slots_to % kLookaheadSize]);
    }
    const size_t stream_end = std::min(count, i + kStreamPrefetchDistance + kGroup);
    for (size_t k = i + kStreamPrefetchDistance; k < stream_end; k++) PrefetchCommand(commands[k]);
    PrefetchOrderSlots(next_slot_ + kStreamPrefetchDistance, kGroup);
    const size_t rows_end = std::min(count, i + kRowPrefetchDistance + kGroup);
    for (rows_to = std::max(rows_to, i); rows_to < rows_end; rows_to++) {
      PrefetchRows(commands[rows_to], lookahead_[rows_to % kLookaheadSize]);
    }
    while (i < group_end) {
      const wire::Command& command = commands[i];
      if (command.operation == Operation::kPlaceOrder) {  // the hot path: no general check
        PlaceOrder(command.place_order, timestamp_us, lookahead_[i % kLookaheadSize], results[i]);
        i++;
      } else if (const Code access = Authorize(command); access != Code::ok) {
        results[i] = CommandResult(access, command.operation, 0);
        i++;
      } else if (static_cast<uint8_t>(command.operation) > wire::kOperationMax) {
        i += ExecuteModule(commands.subspan(i), timestamp_us, results.subspan(i));
      } else {
        results[i] = Execute(command, timestamp_us);
        i++;
      }
    }
  }
  if (fulfilment_) DrainDelivered(timestamp_us);
#ifndef NDEBUG
  CheckInvariants();
#endif
  return BatchError::kNone;
}

}  // namespace eleven::engine
