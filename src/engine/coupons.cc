// Coupons (docs/promotions.md): creating and claiming them, checking and holding the ones a
// place order redeems, and their claims following the order: used at payment, usable again
// when the unpaid order is cancelled or expires. The money a coupon moves is the ledger's
// (a platform coupon's subsidy); the order's total is already net of both discounts.
#include <algorithm>

#include "base/assert.h"
#include "base/prefetch.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::ClaimState;
using wire::Code;
using wire::CouponKind;
using wire::Operation;

wire::Result Engine::CreateCoupon(const wire::CreateCoupon& c, uint64_t now_us) {
  (void)now_us;
  auto result = [&](Code code) { return CommandResult(code, Operation::kCreateCoupon, c.coupon_id); };
  if (c.coupon_id == 0) return result(Code::invalid_id);
  const bool fixed = c.kind == CouponKind::kFixed;
  if (!fixed && c.kind != CouponKind::kThreshold) return result(Code::invalid_coupon);
  if (c.amount_fen < 1 || c.amount_fen > wire::kPriceMaxFen) return result(Code::invalid_coupon);
  if (fixed ? c.threshold_fen != 0
            : c.threshold_fen <= c.amount_fen || c.threshold_fen > wire::kOrderTotalMaxFen) {
    return result(Code::invalid_coupon);
  }
  if (c.count == 0 || c.count > wire::kStockMax) return result(Code::invalid_coupon);
  if (c.starts_at_us >= c.ends_at_us) return result(Code::invalid_coupon);
  uint32_t merchant = kNoValue;
  if (c.merchant_id != 0) {
    merchant = merchant_index_.Find(c.merchant_id);
    if (merchant == kNoValue) return result(Code::merchant_not_found);
  }
  uint32_t drop = kNoValue;
  if (c.drop_id != 0) {
    drop = drop_index_.Find(c.drop_id);
    if (drop == kNoValue) return result(Code::drop_not_found);
    // A shop's live-room coupon is for its own drop.
    if (merchant != kNoValue && skus_[drops_[drop].sku_index].merchant_index != merchant) {
      return result(Code::drop_of_other_merchant);
    }
  }
  if (coupon_index_.Find(c.coupon_id) != kNoValue) return result(Code::coupon_exists);
  if (coupon_count_ == config_.coupon_count_max) return result(Code::coupons_full);
  CouponRow& row = coupons_[coupon_count_];
  row = CouponRow{};
  row.id = c.coupon_id;
  row.merchant_id = c.merchant_id;
  row.drop_id = c.drop_id;
  row.amount_fen = c.amount_fen;
  row.threshold_fen = fixed ? c.amount_fen + 1 : c.threshold_fen;
  row.starts_at_us = c.starts_at_us;
  row.ends_at_us = c.ends_at_us;
  row.count = c.count;
  row.drop_index = drop;
  row.kind = c.kind;
  ELEVEN_ASSERT(coupon_index_.Insert(c.coupon_id, coupon_count_));
  coupon_count_++;
  wire::Result out = result(Code::ok);
  out.amount_fen = c.amount_fen;
  return out;
}

wire::Result Engine::ClaimCoupon(const wire::ClaimCoupon& c, uint64_t now_us) {
  wire::Result out = CommandResult(Code::ok, Operation::kClaimCoupon, c.coupon_id);
  out.at_us = now_us;
  if (c.coupon_id == 0 || c.buyer_id == 0) {
    out.code = Code::invalid_id;
    return out;
  }
  const uint32_t index = coupon_index_.Find(c.coupon_id);
  if (index == kNoValue) {
    out.code = Code::coupon_not_found;
    return out;
  }
  CouponRow& coupon = coupons_[index];
  out.amount_fen = coupon.amount_fen;
  // One claim per buyer: a repeat is the same request, answered as the first was.
  if (ClaimOf(c.buyer_id, index) != kNoValue) {
    out.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
    return out;
  }
  if (now_us < coupon.starts_at_us) {
    out.code = Code::coupon_not_started;
  } else if (now_us >= coupon.ends_at_us) {
    out.code = Code::coupon_ended;
  } else if (coupon.drop_index != kNoValue &&
             (drops_[coupon.drop_index].closed != 0 || now_us < drops_[coupon.drop_index].opens_at_us ||
              now_us >= drops_[coupon.drop_index].closes_at_us)) {
    out.code = Code::coupon_drop_not_open;
  } else if (coupon.claimed == coupon.count) {
    out.code = Code::coupons_exhausted;
  } else if (claim_count_ == config_.coupon_claim_count_max) {
    out.code = Code::coupon_claims_full;
  }
  if (out.code != Code::ok) return out;
  ClaimRow& claim = claims_[claim_count_];
  claim = ClaimRow{};
  claim.buyer = c.buyer_id;
  claim.claimed_at_us = now_us;
  claim.coupon_index = index;
  claim.state = ClaimState::kClaimed;
  ELEVEN_ASSERT(claim_index_.InsertTagged(PairTag(c.buyer_id, index), claim_count_));
  claim_count_++;
  coupon.claimed++;
  return out;
}

uint32_t Engine::ClaimOf(uint64_t buyer, uint32_t coupon_index) const {
  return claim_index_.FindTagged(PairTag(buyer, coupon_index), [&](uint32_t claim) {
    return claims_[claim].buyer == buyer && claims_[claim].coupon_index == coupon_index;
  });
}

// Rules 1..5 of docs/promotions.md, "Redemption at place order", in that order.
wire::Code Engine::CheckCoupons(const wire::PlaceOrder& c, uint64_t now_us, const Lookahead& ahead,
                                OrderPlan* plan) const {
  const int coupon_count = c.coupon_count;
  if (coupon_count > wire::kOrderCouponCountMax || c.line_count + coupon_count > wire::kOrderLineCountMax) {
    return Code::invalid_coupon_count;
  }
  plan->claim[kPlatform] = plan->claim[kShop] = kNoValue;
  plan->discount_fen[kPlatform] = plan->discount_fen[kShop] = 0;
  const CouponRow* coupon[2] = {nullptr, nullptr};
  for (int k = 0; k < coupon_count; k++) {
    const int slot = c.line_count + k;
    if (c.quantity[slot] != 0) return Code::reserved_nonzero;
    // The slot stage's coupon when it is this one, else looked up now.
    const uint32_t seen = ahead.coupon[k];
    const uint32_t index =
        seen != kNoValue && seen < coupon_count_ && coupons_[seen].id == c.sku_id[slot] ? seen : coupon_index_.Find(c.sku_id[slot]);
    if (index == kNoValue) return Code::coupon_not_found;
    const CouponRow& row = coupons_[index];
    const int side = row.merchant_id == 0 ? kPlatform : kShop;
    if (coupon[side] != nullptr) return Code::coupon_stacking;
    // The order's merchant is its first SKU's (a row CheckOrder read).
    if (side == kShop && row.merchant_id != skus_[plan->sku_index[0]].merchant_id) {
      return Code::coupon_of_other_merchant;
    }
    // The row stage's claim when it is this buyer's of this coupon, else looked up now.
    const uint32_t hint = ahead.claim[k];
    const bool hinted = hint != kNoValue && hint < claim_count_ && claims_[hint].buyer == c.buyer_id &&
                        claims_[hint].coupon_index == index;
    const uint32_t found = hinted ? hint : ClaimOf(c.buyer_id, index);
    if (found == kNoValue) return Code::coupon_not_claimed;
    if (claims_[found].state == ClaimState::kHeld) return Code::coupon_in_use;
    if (claims_[found].state == ClaimState::kUsed) return Code::coupon_used;
    if (now_us < row.starts_at_us) return Code::coupon_not_started;
    if (now_us >= row.ends_at_us) return Code::coupon_ended;
    if (row.drop_index != kNoValue && row.drop_index != plan->drop_index) return Code::coupon_drop_mismatch;
    coupon[side] = &row;
    plan->claim[side] = found;
  }
  // The shop coupon on the lines' value, the platform coupon on what is left.
  int64_t value = plan->total_fen;
  for (const int side : {kShop, kPlatform}) {
    if (coupon[side] == nullptr) continue;
    if (value < coupon[side]->threshold_fen) return Code::coupon_threshold_not_met;
    plan->discount_fen[side] = coupon[side]->amount_fen;
    value -= coupon[side]->amount_fen;
  }
  ELEVEN_ASSERT(value >= 1);  // every threshold exceeds its amount
  if (coupon_order_count_ == config_.coupon_order_count_max) return Code::coupon_orders_full;
  plan->total_fen = value;
  return Code::ok;
}

void Engine::HoldCoupons(uint64_t order_id, const OrderPlan& plan) {
  ELEVEN_ASSERT(coupon_order_count_ < config_.coupon_order_count_max);
  uint32_t at = coupon_order_head_ + coupon_order_count_;
  if (at >= config_.coupon_order_count_max) at -= config_.coupon_order_count_max;
  CouponOrderRow& row = coupon_orders_[at];
  // The ring is written in sequence between random misses, which the hardware's stream
  // prefetcher does not keep ahead of: the line four rows on, for writing.
  PrefetchForWrite(&coupon_orders_[at + 4 < config_.coupon_order_count_max ? at + 4 : 0]);
  row.order_id = order_id;
  for (const int side : {kPlatform, kShop}) {
    row.claim[side] = plan.claim[side];
    row.discount_fen[side] = plan.discount_fen[side];
    if (plan.claim[side] == kNoValue) continue;
    ClaimRow& claim = claims_[plan.claim[side]];
    ELEVEN_ASSERT(claim.state == ClaimState::kClaimed);
    claim.state = ClaimState::kHeld;
    claim.order_id = order_id;
    coupons_[claim.coupon_index].held++;
  }
  coupon_order_count_++;
}

const CouponOrderRow& Engine::CouponOrderOf(uint64_t order_id) const {
  // The ring holds orders in id order: a binary search over its positions.
  uint32_t low = 0;
  uint32_t high = coupon_order_count_;
  const uint32_t size = config_.coupon_order_count_max;
  auto at = [&](uint32_t position) -> const CouponOrderRow& {
    const uint32_t i = coupon_order_head_ + position;
    return coupon_orders_[i >= size ? i - size : i];
  };
  while (low < high) {
    const uint32_t mid = low + (high - low) / 2;
    if (at(mid).order_id < order_id) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  ELEVEN_ASSERT(low < coupon_order_count_ && at(low).order_id == order_id);
  return at(low);
}

void Engine::ReleaseCoupons(const Order& order) {
  const CouponOrderRow& row = CouponOrderOf(order.id);
  for (const uint32_t c : row.claim) {
    if (c == kNoValue) continue;
    ClaimRow& claim = claims_[c];
    ELEVEN_ASSERT(claim.state == ClaimState::kHeld && claim.order_id == order.id);
    claim.state = ClaimState::kClaimed;
    claim.order_id = 0;
    ELEVEN_ASSERT(coupons_[claim.coupon_index].held > 0);
    coupons_[claim.coupon_index].held--;
  }
}

void Engine::UseCoupons(const Order& order) {
  const CouponOrderRow& row = CouponOrderOf(order.id);
  for (const int side : {kPlatform, kShop}) {
    if (row.claim[side] == kNoValue) continue;
    ClaimRow& claim = claims_[row.claim[side]];
    ELEVEN_ASSERT(claim.state == ClaimState::kHeld && claim.order_id == order.id);
    claim.state = ClaimState::kUsed;
    CouponRow& coupon = coupons_[claim.coupon_index];
    ELEVEN_ASSERT(coupon.held > 0);
    coupon.held--;
    coupon.redeemed++;
    coupon.discount_fen += row.discount_fen[side];
  }
}

void Engine::DropCouponOrder(uint64_t order_id) {
  ELEVEN_ASSERT(coupon_order_count_ > 0 && coupon_orders_[coupon_order_head_].order_id == order_id);
  coupon_order_head_ = coupon_order_head_ + 1 == config_.coupon_order_count_max ? 0 : coupon_order_head_ + 1;
  coupon_order_count_--;
}

bool Engine::SameCoupons(const Order& first, const wire::PlaceOrder& c) const {
  if (first.promotion != kCoupons) return c.coupon_count == 0;
  const CouponOrderRow& row = CouponOrderOf(first.id);
  int count = 0;
  for (const uint32_t claim : row.claim) count += claim != kNoValue;
  if (c.coupon_count != count || c.line_count + count > wire::kOrderLineCountMax) return false;
  for (int k = 0; k < count; k++) {
    const uint64_t id = c.sku_id[c.line_count + k];
    bool named = false;
    for (const uint32_t claim : row.claim) {
      named |= claim != kNoValue && coupons_[claims_[claim].coupon_index].id == id;
    }
    if (!named || c.quantity[c.line_count + k] != 0) return false;
  }
  return true;
}

int64_t Engine::DiscountOf(const Order& order) const {
  if (order.promotion == kPresale) {  // the deposit's inflation (docs/promotions.md, "Pre-sale")
    const PresaleRow& presale = presales_[order.sku_index[kPresaleSlot]];
    return (presale.deposit_value_fen - presale.deposit_fen) * order.quantity[0];
  }
  if (order.promotion != kCoupons) return 0;
  const CouponOrderRow& row = CouponOrderOf(order.id);
  return row.discount_fen[kPlatform] + row.discount_fen[kShop];
}

wire::Code Engine::GetCoupon(uint64_t coupon_id, wire::CouponRecord* out) const {
  const uint32_t index = coupon_index_.Find(coupon_id);
  if (coupon_id == 0 || index == kNoValue) return Code::coupon_not_found;
  const CouponRow& row = coupons_[index];
  *out = wire::CouponRecord{};
  out->coupon_id = row.id;
  out->merchant_id = row.merchant_id;
  out->drop_id = row.drop_id;
  out->amount_fen = row.amount_fen;
  out->threshold_fen = row.threshold_fen;
  out->starts_at_us = row.starts_at_us;
  out->ends_at_us = row.ends_at_us;
  out->count = row.count;
  out->claimed = row.claimed;
  out->held = row.held;
  out->redeemed = row.redeemed;
  out->discount_fen = row.discount_fen;
  out->kind = row.kind;
  return Code::ok;
}

wire::Code Engine::GetCouponClaim(uint64_t coupon_id, uint64_t buyer_id,
                                  wire::CouponClaimRecord* out) const {
  const uint32_t index = coupon_index_.Find(coupon_id);
  if (coupon_id == 0 || index == kNoValue) return Code::coupon_not_found;
  const uint32_t found = ClaimOf(buyer_id, index);
  if (found == kNoValue) return Code::coupon_not_claimed;
  const ClaimRow& claim = claims_[found];
  *out = wire::CouponClaimRecord{};
  out->coupon_id = coupon_id;
  out->buyer_id = buyer_id;
  out->order_id = claim.order_id;
  out->claimed_at_us = claim.claimed_at_us;
  out->state = claim.state;
  return Code::ok;
}

// Every claim counted by its coupon in its state; every held or used claim names an order
// whose coupon row names it back (while the ring holds the order); the coupon ring in order.
void Engine::CheckCouponState() const {
  ELEVEN_ASSERT(coupon_index_.count() == coupon_count_ && claim_index_.count() == claim_count_);
  std::vector<uint32_t> claimed(coupon_count_), held(coupon_count_), used(coupon_count_);
  for (uint32_t i = 0; i < claim_count_; i++) {
    const ClaimRow& claim = claims_[i];
    ELEVEN_ASSERT(claim.coupon_index < coupon_count_);
    ELEVEN_ASSERT(ClaimOf(claim.buyer, claim.coupon_index) == i);
    claimed[claim.coupon_index]++;
    held[claim.coupon_index] += claim.state == ClaimState::kHeld;
    used[claim.coupon_index] += claim.state == ClaimState::kUsed;
    ELEVEN_ASSERT((claim.state == ClaimState::kClaimed) == (claim.order_id == 0));
  }
  int64_t discounts = 0;
  for (uint32_t i = 0; i < coupon_count_; i++) {
    const CouponRow& c = coupons_[i];
    discounts += c.discount_fen;
    ELEVEN_ASSERT(coupon_index_.Find(c.id) == i);
    ELEVEN_ASSERT(c.claimed == claimed[i] && c.held == held[i] && c.redeemed == used[i]);
    ELEVEN_ASSERT(c.held + c.redeemed <= c.claimed && c.claimed <= c.count);
  }
  // A paid order's discounts are counted once, by its coupons (or its pre-sale's inflation)
  // and by the figures alike.
  for (uint32_t p = 0; p < presale_count_; p++) {
    const PresaleRow& presale = presales_[p];
    discounts += (presale.deposit_value_fen - presale.deposit_fen) * int64_t{presale.converted};
  }
  ELEVEN_ASSERT(discounts == sales_->total.discounts_fen);
  uint64_t previous = 0;
  for (uint32_t k = 0; k < coupon_order_count_; k++) {
    uint32_t at = coupon_order_head_ + k;
    if (at >= config_.coupon_order_count_max) at -= config_.coupon_order_count_max;
    const CouponOrderRow& row = coupon_orders_[at];
    ELEVEN_ASSERT(row.order_id > previous);
    previous = row.order_id;
    const Order* order = nullptr;
    ELEVEN_ASSERT(FindOrder(row.order_id, &order) == Code::ok && order->promotion == kCoupons);
    for (const uint32_t c : row.claim) {
      if (c == kNoValue) continue;
      const bool pending = order->state == wire::OrderState::kPending;
      const bool ended_unpaid = order->state == wire::OrderState::kCancelled ||
                                order->state == wire::OrderState::kExpired;
      // A claim given back may be held again by a later order, or used by one.
      if (pending) ELEVEN_ASSERT(claims_[c].state == ClaimState::kHeld && claims_[c].order_id == row.order_id);
      if (!pending && !ended_unpaid) ELEVEN_ASSERT(claims_[c].state == ClaimState::kUsed && claims_[c].order_id == row.order_id);
    }
  }
}

}  // namespace eleven::engine
