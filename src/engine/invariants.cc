// The engine's invariants, checked in full. Debug builds run this after every batch; tests
// call it directly. It allocates scratch arrays, so it is never on the release apply path.
#include <vector>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::OrderState;

void Engine::CheckInvariants() const {
  ELEVEN_ASSERT(merchant_index_.count() == merchant_count_);
  ELEVEN_ASSERT(drop_index_.count() == drop_count_);
  ELEVEN_ASSERT(close_heap_count_ <= drop_count_);
  ELEVEN_ASSERT(expiry_cursor_ <= next_order_id_);
  ELEVEN_ASSERT(next_slot_ == next_order_id_ % config_.order_slot_count);
  ELEVEN_ASSERT(api_key_count_ <= config_.api_key_count_max);
  CheckSales();
  CheckCouponState();
  for (uint32_t k = 0; k < api_key_count_; k++) {
    const ApiKeyRow& key = api_keys_[k];
    const auto role = static_cast<uint8_t>(key.role);
    ELEVEN_ASSERT(role >= 1 && role <= wire::kRoleMax);
    ELEVEN_ASSERT(key.state == wire::KeyState::kActive || key.state == wire::KeyState::kRevoked);
    ELEVEN_ASSERT((key.state == wire::KeyState::kRevoked) == (key.revoked_at_us != 0 || key.revoked_by != 0 ||
                                                              key.state == wire::KeyState::kRevoked));
  }

  // What the live orders in the ring account for, per SKU and per drop.
  std::vector<uint64_t> reserved_by_sku(skus_.slot_count(), 0);
  std::vector<uint64_t> reserved_by_drop(drop_count_, 0);
  uint64_t slots_used = 0;
  uint64_t slots_keyed = 0;
  for (uint32_t slot = 0; slot < config_.order_slot_count; slot++) {
    const Order& order = orders_[slot];
    if (order.id == 0) continue;
    slots_used++;
    ELEVEN_ASSERT(order.id % config_.order_slot_count == slot);
    ELEVEN_ASSERT(order.id < next_order_id_);
    // A balance payment's order has no key (presales.cc).
    ELEVEN_ASSERT(order.key == 0 ? order.promotion == kPresale
                                 : key_index_.Find(order.key, [this](uint32_t s) { return KeyOfSlot(s); }) == slot);
    slots_keyed += order.key != 0;
    ELEVEN_ASSERT((order.state == OrderState::kRejected) == (order.code != wire::Code::ok));
    if (order.state == OrderState::kPending) {
      // A pending order is never past its deadline once a batch has been applied.
      ELEVEN_ASSERT(order.created_at_us + config_.pay_window_us > last_timestamp_us_);
      for (int l = 0; l < order.line_count; l++) {
        reserved_by_sku[order.sku_index[l]] += order.quantity[l];
        if (order.drop_index != kNoValue &&
            drops_[order.drop_index].sku_index == order.sku_index[l]) {
          reserved_by_drop[order.drop_index] += order.quantity[l];
        }
      }
    }
  }
  ELEVEN_ASSERT(key_index_.count() == slots_keyed && slots_keyed <= slots_used);

  std::vector<uint64_t> in_drops_by_sku(skus_.slot_count(), 0);
  CheckPresales(reserved_by_sku, in_drops_by_sku);
  for (uint32_t d = 0; d < drop_count_; d++) {
    const Drop& drop = drops_[d];
    ELEVEN_ASSERT(uint64_t{drop.available} + drop.reserved + drop.sold + drop.returned ==
                  drop.quota);
    ELEVEN_ASSERT(drop.reserved == reserved_by_drop[d]);
    ELEVEN_ASSERT(drop.closed == 0 || drop.available == 0);
    in_drops_by_sku[drop.sku_index] += drop.available;
  }
  uint32_t sku_count = 0;
  for (uint32_t s = 0; s < skus_.slot_count(); s++) {
    const Sku& sku = skus_[s];
    if (sku.id == 0) {
      ELEVEN_ASSERT(reserved_by_sku[s] == 0 && in_drops_by_sku[s] == 0);
      continue;
    }
    sku_count++;
    ELEVEN_ASSERT(skus_.Find(sku.id) == s);
    ELEVEN_ASSERT(uint64_t{sku.available} + sku.in_drops + sku.reserved + sku.sold ==
                  sku.received);
    ELEVEN_ASSERT(sku.received <= wire::kStockMax);
    ELEVEN_ASSERT(sku.reserved == reserved_by_sku[s]);
    ELEVEN_ASSERT(sku.in_drops == in_drops_by_sku[s]);
    ELEVEN_ASSERT(sku.merchant_index < merchant_count_);
    ELEVEN_ASSERT(merchants_[sku.merchant_index].id == sku.merchant_id);
  }
  ELEVEN_ASSERT(sku_count == skus_.count());

  // Per-buyer limits: no holding exceeds its owner's limit, and none is zero.
  const auto* slots = holdings_.slots();
  for (uint64_t i = 0; i < holdings_.slot_count(); i++) {
    if (slots[i].value == kNoValue) continue;
    const HoldingKey& key = slots[i].key;
    ELEVEN_ASSERT(slots[i].value > 0);
    if ((key.owner & kOwnerDrop) != 0) {
      const uint32_t d = key.owner & ~kOwnerDrop;
      ELEVEN_ASSERT(d < drop_count_ && slots[i].value <= drops_[d].per_buyer_limit);
    } else {
      ELEVEN_ASSERT(skus_.used(key.owner) && slots[i].value <= skus_[key.owner].per_buyer_limit);
    }
  }
}

}  // namespace eleven::engine
