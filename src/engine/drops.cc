// Drops: live-stream flash sales. A drop moves a quota of a SKU's available stock into
// itself, sells it at a live price between opens_at and closes_at with a per-buyer limit,
// and gives back what is unsold when it closes (by command or when closes_at passes).
#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;

// Ties break on the index, so the heap order is total and the same on every replica.
bool Engine::ClosesBefore(uint32_t drop_a, uint32_t drop_b) const {
  const uint64_t a = drops_[drop_a].closes_at_us;
  const uint64_t b = drops_[drop_b].closes_at_us;
  return a != b ? a < b : drop_a < drop_b;
}

wire::Result Engine::CreateDrop(const wire::CreateDrop& c, uint64_t now_us) {
  const Operation op = Operation::kCreateDrop;
  if (c.drop_id == 0) return CommandResult(Code::invalid_id, op, c.drop_id);
  if (c.live_price_fen <= 0 || c.live_price_fen > wire::kPriceMaxFen) {
    return CommandResult(Code::invalid_price, op, c.drop_id);
  }
  if (c.quota == 0 || c.quota > wire::kStockMax) {
    return CommandResult(Code::invalid_quantity, op, c.drop_id);
  }
  if (c.closes_at_us <= c.opens_at_us || c.closes_at_us <= now_us) {
    return CommandResult(Code::invalid_drop_window, op, c.drop_id);
  }
  if (drop_index_.Find(c.drop_id) != kNoValue) return CommandResult(Code::drop_exists, op, c.drop_id);
  const uint32_t sku_index = skus_.Find(c.sku_id);
  if (sku_index == kNoValue) return CommandResult(Code::sku_not_found, op, c.drop_id);
  Sku& sku = skus_[sku_index];
  // A live price is a discount: a drop never sells above the SKU's list price.
  if (c.live_price_fen > sku.price_fen) {
    return CommandResult(Code::drop_price_above_list, op, c.drop_id);
  }
  if (sku.available < c.quota) return CommandResult(Code::insufficient_stock, op, c.drop_id);
  if (drop_count_ == config_.drop_count_max) return CommandResult(Code::drops_full, op, c.drop_id);

  const uint32_t index = drop_count_;
  ELEVEN_ASSERT(drop_index_.Insert(c.drop_id, index));
  Drop& d = drops_[index];
  d = Drop{};
  d.id = c.drop_id;
  d.sku_index = sku_index;
  d.per_buyer_limit = c.per_buyer_limit;
  d.live_price_fen = c.live_price_fen;
  d.quota = c.quota;
  d.available = c.quota;
  d.opens_at_us = c.opens_at_us;
  d.closes_at_us = c.closes_at_us;
  drop_count_++;
  sku.available -= c.quota;
  sku.in_drops += c.quota;

  // Push onto the close heap (sift up).
  ELEVEN_ASSERT(close_heap_count_ < config_.drop_count_max);
  uint32_t at = close_heap_count_++;
  close_heap_[at] = index;
  while (at > 0 && ClosesBefore(close_heap_[at], close_heap_[(at - 1) / 2])) {
    std::swap(close_heap_[at], close_heap_[(at - 1) / 2]);
    at = (at - 1) / 2;
  }
  return CommandResult(Code::ok, op, c.drop_id);
}

void Engine::CloseDrop(Drop& drop, uint64_t now_us) {
  ELEVEN_ASSERT(drop.closed == 0);
  (void)now_us;
  Sku& sku = skus_[drop.sku_index];
  ELEVEN_ASSERT(sku.in_drops >= drop.available);
  sku.in_drops -= drop.available;
  sku.available += drop.available;
  drop.returned += drop.available;
  drop.available = 0;
  drop.closed = 1;
}

wire::Result Engine::CloseDropCommand(const wire::CloseDrop& c, uint64_t now_us) {
  const Operation op = Operation::kCloseDrop;
  const uint32_t index = drop_index_.Find(c.drop_id);
  if (index == kNoValue) return CommandResult(Code::drop_not_found, op, c.drop_id);
  Drop& drop = drops_[index];
  if (drop.closed != 0) return CommandResult(Code::drop_closed, op, c.drop_id);
  const uint32_t returned = drop.available;
  CloseDrop(drop, now_us);
  wire::Result result = CommandResult(Code::ok, op, c.drop_id);
  result.amount_fen = returned;
  result.at_us = now_us;
  return result;
}

void Engine::CloseDueDrops(uint64_t now_us) {
  // Bounded by the number of drops: each is pushed once and popped once.
  while (close_heap_count_ > 0 && drops_[close_heap_[0]].closes_at_us <= now_us) {
    Drop& drop = drops_[close_heap_[0]];
    if (drop.closed == 0) CloseDrop(drop, now_us);
    close_heap_[0] = close_heap_[--close_heap_count_];
    uint32_t at = 0;
    for (;;) {  // sift down
      uint32_t smallest = at;
      uint32_t left = 2 * at + 1;
      uint32_t right = left + 1;
      if (left < close_heap_count_ && ClosesBefore(close_heap_[left], close_heap_[smallest])) {
        smallest = left;
      }
      if (right < close_heap_count_ && ClosesBefore(close_heap_[right], close_heap_[smallest])) {
        smallest = right;
      }
      if (smallest == at) break;
      std::swap(close_heap_[at], close_heap_[smallest]);
      at = smallest;
    }
  }
}

wire::Code Engine::GetDrop(uint64_t drop_id, wire::DropRecord* out) const {
  const uint32_t index = drop_index_.Find(drop_id);
  if (index == kNoValue) return Code::drop_not_found;
  GetDropAt(index, out);
  return Code::ok;
}

void Engine::GetDropAt(uint32_t index, wire::DropRecord* out) const {
  ELEVEN_ASSERT(index < drop_count_);
  const Drop& d = drops_[index];
  *out = wire::DropRecord{};
  out->drop_id = d.id;
  out->sku_id = skus_[d.sku_index].id;
  out->live_price_fen = d.live_price_fen;
  out->quota = d.quota;
  out->available = d.available;
  out->reserved = d.reserved;
  out->sold = d.sold;
  out->returned = d.returned;
  out->per_buyer_limit = d.per_buyer_limit;
  out->opens_at_us = d.opens_at_us;
  out->closes_at_us = d.closes_at_us;
  out->sold_out_at_us = d.sold_out_at_us;
  if (d.closed != 0) {
    out->state = wire::DropState::kClosed;
  } else if (last_timestamp_us_ >= d.opens_at_us) {
    out->state = wire::DropState::kOpen;
  } else {
    out->state = wire::DropState::kScheduled;
  }
}

}  // namespace eleven::engine
