// The engine's internal records. Private to src/engine. Every record has no implicit
// padding (asserted), so its bytes are a function of its fields: digests and snapshots hash
// and copy the arrays as they are.
#pragma once

#include <type_traits>

#include "engine/engine.h"

namespace eleven::engine {

struct MerchantRow {
  uint64_t id;
  char country[2];
  uint8_t flags;
  uint8_t reserved[5];
};

struct SkuRow {
  uint64_t id;  // first, as FixedTable wants: 0 marks an empty slot
  uint64_t merchant_id;  // so an order finds its merchant through its first SKU
  uint32_t merchant_index;
  uint32_t per_buyer_limit;
  int64_t price_fen;
  // Invariant: available + in_drops + reserved + sold == received.
  uint32_t available;
  uint32_t in_drops;
  uint32_t reserved;
  uint32_t sold;
  uint64_t received;
  uint64_t reserved1;
};

struct DropRow {
  uint64_t id;
  uint32_t sku_index;
  uint32_t per_buyer_limit;
  int64_t live_price_fen;
  // Invariant: quota == available + reserved + sold + returned.
  uint32_t quota;
  uint32_t available;
  uint32_t reserved;
  uint32_t sold;
  uint32_t returned;
  uint8_t closed;  // closed by command or because closes_at passed
  uint8_t reserved0[3];
  uint64_t opens_at_us;
  uint64_t closes_at_us;
  uint64_t sold_out_at_us;
};

struct OrderRow {
  uint64_t id;  // 0 for a slot never used
  uint64_t key;
  // An accepted order (merchant_index set): the storefront that placed it, 0 for an operator
  // (Engine::StorefrontOf); its other fields hold its request (Engine::SameRequest). A
  // rejected attempt: its request's fingerprint (PlaceOrderFingerprint, seeded with the
  // storefront), which a repeat of its key must match.
  uint64_t storefront_or_fingerprint;
  uint64_t buyer;
  int64_t total_fen;
  uint64_t created_at_us;
  uint32_t merchant_index;
  uint32_t drop_index;  // kNoValue: no drop
  uint32_t sku_index[wire::kOrderLineCountMax];
  uint16_t quantity[wire::kOrderLineCountMax];
  uint16_t region;
  uint8_t city_tier;
  wire::OrderState state;
  uint8_t line_count;
  // 0: a place order without coupons; kCoupons: a CouponOrderRow holds its coupons;
  // kPresale: made by a pre-sale's balance payment (no key; sku_index[kPresaleSlot] holds
  // the pre-sale's index, its one line the first).
  uint8_t promotion;
  wire::Code code;
};
inline constexpr uint8_t kCoupons = 1;
inline constexpr uint8_t kPresale = 2;
inline constexpr int kPresaleSlot = wire::kOrderLineCountMax - 1;

// A coupon (docs/promotions.md). Never changes once created but for its counters.
struct CouponRow {
  uint64_t id;
  uint64_t merchant_id;  // 0: platform
  uint64_t drop_id;      // 0: any order
  int64_t amount_fen;
  int64_t threshold_fen;  // the value an order must reach (a fixed coupon: amount + 1)
  uint64_t starts_at_us;
  uint64_t ends_at_us;
  int64_t discount_fen;  // given off its paid orders
  // Invariant: held + redeemed <= claimed <= count.
  uint32_t count;
  uint32_t claimed;
  uint32_t held;
  uint32_t redeemed;
  uint32_t drop_index;  // kNoValue: any order
  wire::CouponKind kind;
  uint8_t reserved0[3];
};

// One buyer's claim of one coupon.
struct ClaimRow {
  uint64_t buyer;
  uint64_t order_id;  // the order holding or that used it; 0 while claimed
  uint64_t claimed_at_us;
  uint32_t coupon_index;
  wire::ClaimState state;
  uint8_t reserved0[3];
};

// A pre-sale (docs/promotions.md). Invariant: quota = available + deposited + converted +
// returned; the SKU counts `available` in in_drops and `deposited` in reserved.
struct PresaleRow {
  uint64_t id;
  int64_t price_fen;
  int64_t deposit_fen;
  int64_t deposit_value_fen;
  uint64_t deposit_starts_us;
  uint64_t deposit_ends_us;
  uint64_t balance_starts_us;
  uint64_t balance_ends_us;
  int64_t forfeited_fen;
  uint32_t sku_index;
  uint32_t per_buyer_limit;
  uint32_t quota;
  uint32_t available;
  uint32_t deposited;
  uint32_t converted;
  uint32_t returned;
  uint32_t forfeited;
  uint32_t deposits;
  uint32_t first_deposit;   // deposits before this index are other pre-sales'
  uint32_t forfeit_cursor;  // forfeiting: deposits before it are done
  uint8_t deposits_closed;  // the deposit window's end was applied
  uint8_t balance_closed;   // the balance window's end was applied, forfeits done
  uint8_t reserved0[2];
};

// One buyer's deposit on one pre-sale.
struct DepositRow {
  uint64_t buyer;
  uint64_t storefront;  // that paid it (0: an operator); the balance is its to pay
  uint64_t order_id;    // the balance's order; 0 until then
  uint64_t paid_at_us;
  uint32_t presale_index;
  uint32_t quantity;
  wire::DepositState state;
  uint8_t reserved0[7];
};

// An accepted order that redeemed coupons, kept while its ring slot holds it.
struct CouponOrderRow {
  uint64_t order_id;
  int64_t discount_fen[2];  // [Engine::kPlatform], [Engine::kShop]
  uint32_t claim[2];        // claim rows; kNoValue: none
};

static_assert(std::has_unique_object_representations_v<MerchantRow>);
static_assert(std::has_unique_object_representations_v<SkuRow>);
static_assert(std::has_unique_object_representations_v<DropRow>);
static_assert(std::has_unique_object_representations_v<OrderRow>);
static_assert(std::has_unique_object_representations_v<CouponRow>);
static_assert(std::has_unique_object_representations_v<ClaimRow>);
static_assert(std::has_unique_object_representations_v<CouponOrderRow>);
static_assert(std::has_unique_object_representations_v<PresaleRow>);
static_assert(std::has_unique_object_representations_v<DepositRow>);
static_assert(sizeof(SkuRow) == 64);  // one cache line per slot
static_assert(sizeof(OrderRow) == 112);

// A command's result with only its code, operation and the id it names.
inline wire::Result CommandResult(wire::Code code, wire::Operation operation, uint64_t id) {
  wire::Result result{};
  result.code = code;
  result.operation = operation;
  result.id = id;
  return result;
}

// The key an order slot holds: what confirms a match in the key index.
inline uint64_t Engine::KeyOfSlot(uint32_t slot) const { return orders_[slot].key; }

inline bool IsFinal(wire::OrderState state) {
  return state != wire::OrderState::kPending && state != wire::OrderState::kNone;
}

}  // namespace eleven::engine
