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
  uint8_t reserved0;
  wire::Code code;
};

static_assert(std::has_unique_object_representations_v<MerchantRow>);
static_assert(std::has_unique_object_representations_v<SkuRow>);
static_assert(std::has_unique_object_representations_v<DropRow>);
static_assert(std::has_unique_object_representations_v<OrderRow>);
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
