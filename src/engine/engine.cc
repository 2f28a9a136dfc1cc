#include "engine/engine.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;

Engine::Engine(const EngineConfig& config)
    : config_(config),
      merchants_(BigArray<Merchant>(config.merchant_count_max)),
      merchant_index_(config.merchant_count_max),
      skus_(BigArray<Sku>(config.sku_count_max)),
      sku_index_(config.sku_count_max),
      drops_(BigArray<Drop>(config.drop_count_max)),
      drop_index_(config.drop_count_max),
      close_heap_(BigArray<uint32_t>(config.drop_count_max)),
      orders_(BigArray<Order>(config.order_slot_count)),
      key_index_(config.order_slot_count),
      holdings_(config.holding_count_max) {
  ELEVEN_ASSERT(config.order_slot_count >= 2);
  ELEVEN_ASSERT(config.batch_command_count_max > 0);
  ELEVEN_ASSERT(config.pay_window_us > 0);
}

Engine::~Engine() = default;

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

  // Placing an order costs a few lookups in tables far larger than the cache (keys, SKUs,
  // holdings), so they are prefetched in two stages: the hash slots of the order 16 ahead,
  // then, their slots now cached, the SKU rows and holding slots of the order 8 ahead.
  constexpr size_t kSlotPrefetchDistance = 16;
  constexpr size_t kRowPrefetchDistance = 8;
  const size_t count = commands.size();
  for (size_t i = 0; i < count; i++) {
    if (i + kSlotPrefetchDistance < count) PrefetchSlots(commands[i + kSlotPrefetchDistance]);
    if (i + kRowPrefetchDistance < count) PrefetchRows(commands[i + kRowPrefetchDistance]);
    results[i] = Execute(commands[i], timestamp_us);
  }
#ifndef NDEBUG
  CheckInvariants();
#endif
  return BatchError::kNone;
}

void Engine::PrefetchSlots(const wire::Command& command) const {
  if (command.operation != Operation::kPlaceOrder) return;
  const wire::PlaceOrder& order = command.place_order;
  key_index_.Prefetch(order.idempotency_key);
  const int lines = std::min<int>(order.line_count, wire::kOrderLineCountMax);
  for (int l = 0; l < lines; l++) sku_index_.Prefetch(order.sku_id[l]);
}

void Engine::PrefetchRows(const wire::Command& command) const {
  if (command.operation != Operation::kPlaceOrder) return;
  const wire::PlaceOrder& order = command.place_order;
  const int lines = std::min<int>(order.line_count, wire::kOrderLineCountMax);
  for (int l = 0; l < lines; l++) {
    const uint32_t sku = sku_index_.Find(order.sku_id[l]);
    if (sku == kNoValue) continue;
    __builtin_prefetch(&skus_[sku]);
    holdings_.Prefetch(HoldingKey{order.buyer_id, sku, 0});
  }
}

wire::Result Engine::Execute(const wire::Command& command, uint64_t now_us) {
  Code structure = wire::CheckStructure(command);
  if (structure != Code::ok) {
    wire::Result result{};
    result.code = structure;
    result.operation = command.operation;
    return result;
  }
  switch (command.operation) {
    case Operation::kCreateMerchant: return CreateMerchant(command.create_merchant);
    case Operation::kCreateSku: return CreateSku(command.create_sku);
    case Operation::kRestock: return Restock(command.restock);
    case Operation::kSetPrice: return SetPrice(command.set_price);
    case Operation::kCreateDrop: return CreateDrop(command.create_drop, now_us);
    case Operation::kCloseDrop: return CloseDropCommand(command.close_drop, now_us);
    case Operation::kPlaceOrder: return PlaceOrder(command.place_order, now_us);
    case Operation::kPayOrder: return PayOrder(command.pay_order, now_us);
    case Operation::kCancelOrder: return CancelOrder(command.cancel_order, now_us);
  }
  ELEVEN_ASSERT(false && "CheckStructure admitted an unknown operation");
  return {};
}

Digest128 Engine::Digest() const {
  Digester d;
  d.UpdateValue(last_op_);
  d.UpdateValue(last_timestamp_us_);
  static_assert(std::has_unique_object_representations_v<EngineStats>);
  d.UpdateValue(stats_);
  d.UpdateValue(merchant_count_);
  d.Update(merchants_.get(), sizeof(Merchant) * merchant_count_);
  d.UpdateValue(sku_count_);
  d.Update(skus_.get(), sizeof(Sku) * sku_count_);
  d.UpdateValue(drop_count_);
  d.Update(drops_.get(), sizeof(Drop) * drop_count_);
  d.UpdateValue(close_heap_count_);
  d.Update(close_heap_.get(), sizeof(uint32_t) * close_heap_count_);
  d.UpdateValue(next_order_id_);
  d.UpdateValue(expiry_cursor_);
  d.Update(orders_.get(), sizeof(Order) * config_.order_slot_count);
  // The hash maps' layouts follow from the operations, but hashing them still catches a
  // map that drifted from the tables it indexes.
  d.Update(key_index_.slots(), sizeof(*key_index_.slots()) * key_index_.slot_count());
  d.Update(holdings_.slots(), sizeof(*holdings_.slots()) * holdings_.slot_count());
  return d.Finish();
}

std::string_view BatchErrorName(BatchError error) {
  switch (error) {
    case BatchError::kNone: return "none";
    case BatchError::kOpNotNext: return "op_not_next";
    case BatchError::kTimestampBackwards: return "timestamp_backwards";
    case BatchError::kTooManyCommands: return "too_many_commands";
    case BatchError::kResultsTooSmall: return "results_too_small";
  }
  return "unknown";
}

}  // namespace eleven::engine
