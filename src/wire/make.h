// Builders for command records: each returns a zeroed record with the fields set, so the
// reserved bytes are always zero. Used by clients, tests, workloads and benchmarks.
#pragma once

#include <cstring>
#include <initializer_list>
#include <utility>

#include "wire/records.h"

namespace eleven::wire {

inline Command MakeCreateMerchant(uint64_t merchant_id, const char country[2], uint8_t flags) {
  Command c{};
  c.create_merchant.operation = Operation::kCreateMerchant;
  c.create_merchant.merchant_id = merchant_id;
  std::memcpy(c.create_merchant.country, country, 2);
  c.create_merchant.flags = flags;
  return c;
}

inline Command MakeCreateSku(uint64_t sku_id, uint64_t merchant_id, int64_t price_fen,
                             uint32_t stock, uint32_t per_buyer_limit) {
  Command c{};
  c.create_sku.operation = Operation::kCreateSku;
  c.create_sku.sku_id = sku_id;
  c.create_sku.merchant_id = merchant_id;
  c.create_sku.price_fen = price_fen;
  c.create_sku.stock = stock;
  c.create_sku.per_buyer_limit = per_buyer_limit;
  return c;
}

inline Command MakeRestock(uint64_t sku_id, uint32_t quantity) {
  Command c{};
  c.restock.operation = Operation::kRestock;
  c.restock.sku_id = sku_id;
  c.restock.quantity = quantity;
  return c;
}

inline Command MakeSetPrice(uint64_t sku_id, int64_t price_fen) {
  Command c{};
  c.set_price.operation = Operation::kSetPrice;
  c.set_price.sku_id = sku_id;
  c.set_price.price_fen = price_fen;
  return c;
}

inline Command MakeCreateDrop(uint64_t drop_id, uint64_t sku_id, int64_t live_price_fen,
                              uint32_t quota, uint64_t opens_at_us, uint64_t closes_at_us,
                              uint32_t per_buyer_limit) {
  Command c{};
  c.create_drop.operation = Operation::kCreateDrop;
  c.create_drop.drop_id = drop_id;
  c.create_drop.sku_id = sku_id;
  c.create_drop.live_price_fen = live_price_fen;
  c.create_drop.quota = quota;
  c.create_drop.opens_at_us = opens_at_us;
  c.create_drop.closes_at_us = closes_at_us;
  c.create_drop.per_buyer_limit = per_buyer_limit;
  return c;
}

inline Command MakeCloseDrop(uint64_t drop_id) {
  Command c{};
  c.close_drop.operation = Operation::kCloseDrop;
  c.close_drop.drop_id = drop_id;
  return c;
}

struct Line {
  uint64_t sku_id;
  uint16_t quantity;
};

// Lines beyond kOrderLineCountMax are not stored; line_count still says how many were given,
// so the engine refuses the order (invalid_line_count) rather than silently truncating it.
inline Command MakePlaceOrder(uint64_t key, uint64_t merchant_id, uint64_t buyer_id,
                              uint16_t region, uint8_t city_tier, std::initializer_list<Line> lines,
                              uint64_t drop_id = 0) {
  Command c{};
  PlaceOrder& o = c.place_order;
  o.operation = Operation::kPlaceOrder;
  o.idempotency_key = key;
  o.merchant_id = merchant_id;
  o.buyer_id = buyer_id;
  o.region = region;
  o.city_tier = city_tier;
  o.drop_id = drop_id;
  o.line_count = static_cast<uint8_t>(lines.size());
  int l = 0;
  for (const Line& line : lines) {
    if (l == kOrderLineCountMax) break;
    o.sku_id[l] = line.sku_id;
    o.quantity[l] = line.quantity;
    l++;
  }
  return c;
}

inline Command MakePayOrder(uint64_t order_id, int64_t amount_fen, uint8_t payment_method = 0,
                            uint8_t instalment_periods = 0) {
  Command c{};
  c.pay_order.operation = Operation::kPayOrder;
  c.pay_order.order_id = order_id;
  c.pay_order.amount_fen = amount_fen;
  c.pay_order.payment_method = payment_method;
  c.pay_order.instalment_periods = instalment_periods;
  return c;
}

inline Command MakeCancelOrder(uint64_t order_id) {
  Command c{};
  c.cancel_order.operation = Operation::kCancelOrder;
  c.cancel_order.order_id = order_id;
  return c;
}

// Coupons (docs/promotions.md). threshold_fen: 0 for a fixed coupon.
inline Command MakeCreateCoupon(uint64_t coupon_id, uint64_t merchant_id, CouponKind kind,
                                int64_t amount_fen, int64_t threshold_fen, uint32_t count,
                                uint64_t starts_at_us, uint64_t ends_at_us, uint64_t drop_id = 0) {
  Command c{};
  CreateCoupon& o = c.create_coupon;
  o.operation = Operation::kCreateCoupon;
  o.kind = kind;
  o.count = count;
  o.coupon_id = coupon_id;
  o.merchant_id = merchant_id;
  o.amount_fen = amount_fen;
  o.threshold_fen = threshold_fen;
  o.starts_at_us = starts_at_us;
  o.ends_at_us = ends_at_us;
  o.drop_id = drop_id;
  return c;
}

inline Command MakeClaimCoupon(uint64_t coupon_id, uint64_t buyer_id) {
  Command c{};
  c.claim_coupon.operation = Operation::kClaimCoupon;
  c.claim_coupon.coupon_id = coupon_id;
  c.claim_coupon.buyer_id = buyer_id;
  return c;
}

// Adds a coupon to a place order: its id in the sku_id slot after the lines and the coupons
// already added (the quantity slot stays zero). Past the last slot only the count grows, so
// the engine refuses the order (invalid_coupon_count) rather than dropping a coupon.
inline void AddCoupon(Command& c, uint64_t coupon_id) {
  PlaceOrder& o = c.place_order;
  const int slot = o.line_count + o.coupon_count;
  if (slot < kOrderLineCountMax) {
    o.sku_id[slot] = coupon_id;
    o.quantity[slot] = 0;
  }
  o.coupon_count++;
}

}  // namespace eleven::wire
