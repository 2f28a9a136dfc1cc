#include "sim/w1_engine.h"

#include <unordered_set>

#include "base/assert.h"
#include "wire/make.h"

namespace eleven::sim {

namespace {

constexpr uint64_t kCatalogBatchSize = 8000;
constexpr uint64_t kCatalogTimestampUs = 1'000'000;

}  // namespace

engine::EngineConfig W1EngineConfig(uint64_t order_count) {
  engine::EngineConfig config;
  config.merchant_count_max = static_cast<uint32_t>(w1::kMerchantCount);
  config.sku_count_max = static_cast<uint32_t>(w1::kSkuCount);
  uint64_t slots = 1 << 16;
  while (slots < order_count) slots *= 2;
  ELEVEN_ASSERT(slots <= (1u << 30));
  config.order_slot_count = static_cast<uint32_t>(slots);
  // One holding per accepted hot line: at most a fifth of the orders, plus rare normal ones.
  config.holding_count_max = static_cast<uint32_t>(slots / 4 + 1024);
  config.batch_command_count_max = 8190;
  return config;
}

std::vector<wire::Command> W1CatalogCommands() {
  std::vector<wire::Command> commands;
  commands.reserve(w1::kMerchantCount + w1::kSkuCount);
  for (uint64_t m = 0; m < w1::kMerchantCount; m++) {
    commands.push_back(wire::MakeCreateMerchant(m + kW1IdOffset, "CN", 0));
  }
  for (uint64_t s = 0; s < w1::kSkuCount; s++) {
    commands.push_back(wire::MakeCreateSku(s + kW1IdOffset, s / w1::kSkusPerMerchant + kW1IdOffset,
                                           w1::Price(s), w1::InitialStock(s),
                                           w1::IsHot(s) ? 1 : 0));
  }
  return commands;
}

Status LoadW1Catalog(engine::Engine& engine) {
  const std::vector<wire::Command> commands = W1CatalogCommands();
  std::vector<wire::Result> results(kCatalogBatchSize);
  for (size_t at = 0; at < commands.size(); at += kCatalogBatchSize) {
    const size_t count = std::min<size_t>(kCatalogBatchSize, commands.size() - at);
    std::span<const wire::Command> batch(commands.data() + at, count);
    auto error = engine.Apply(engine.last_op() + 1, kCatalogTimestampUs, batch, results);
    if (error != engine::BatchError::kNone) {
      return Status::FailedPrecondition("W1 catalog batch refused: " +
                                        std::string(engine::BatchErrorName(error)));
    }
    for (size_t i = 0; i < count; i++) {
      if (results[i].code != wire::Code::ok) {
        return Status::FailedPrecondition("W1 catalog command refused: " +
                                          std::string(wire::CodeName(results[i].code)));
      }
    }
  }
  return Status::Ok();
}

wire::Command W1OrderCommand(const w1::Order& order) {
  wire::Command c{};
  wire::PlaceOrder& o = c.place_order;
  o.operation = wire::Operation::kPlaceOrder;
  o.idempotency_key = order.key;
  o.merchant_id = order.merchant + kW1IdOffset;
  o.buyer_id = order.buyer + kW1IdOffset;
  o.region = static_cast<uint16_t>(1 + order.buyer % 31);
  o.city_tier = static_cast<uint8_t>(1 + (order.buyer / 31) % 5);
  o.line_count = order.line_count;
  for (int l = 0; l < order.line_count; l++) {
    o.sku_id[l] = order.sku[l] + kW1IdOffset;
    o.quantity[l] = static_cast<uint16_t>(order.quantity[l]);
  }
  return c;
}

void W1Tally::Count(const w1::Order& order, const wire::Result& result) {
  if (result.code != wire::Code::ok) {
    rejected++;
    return;
  }
  accepted++;
  for (int l = 0; l < order.line_count; l++) accepted_units[order.sku[l]] += order.quantity[l];
}

Status VerifyW1(const engine::Engine& engine, const W1Tally& tally, uint64_t seed,
                uint64_t order_count) {
  for (uint64_t s = 0; s < w1::kSkuCount; s++) {
    wire::SkuRecord sku{};
    if (engine.GetSku(s + kW1IdOffset, &sku) != wire::Code::ok) {
      return Status::Corruption("W1 SKU " + std::to_string(s) + " missing");
    }
    const uint64_t taken = uint64_t{sku.reserved} + sku.sold;
    if (sku.available + taken != w1::InitialStock(s) || taken != tally.accepted_units[s]) {
      return Status::Corruption("W1 SKU " + std::to_string(s) + ": initial - remaining = " +
                                std::to_string(w1::InitialStock(s) - sku.available) +
                                ", accepted units = " + std::to_string(tally.accepted_units[s]));
    }
  }
  // Every sent order, looked up by its key: accepted ones stored with their total.
  w1::Generator generator(seed);
  uint64_t stored_accepted = 0;
  std::unordered_set<uint64_t> hot_holders;  // (hot sku, buyer) pairs seen
  for (uint64_t i = 0; i < order_count; i++) {
    const w1::Order order = generator.Next();
    wire::OrderRecord record{};
    if (engine.GetOrderByKey(order.key, &record) != wire::Code::ok) {
      return Status::Corruption("W1 order " + std::to_string(i) + " has no stored result");
    }
    if (record.state == wire::OrderState::kRejected) continue;
    stored_accepted++;
    int64_t total = 0;
    for (int l = 0; l < record.line_count; l++) {
      const uint64_t sku = record.sku_id[l] - kW1IdOffset;
      total += w1::Price(sku) * record.quantity[l];
      if (w1::IsHot(sku) && (record.quantity[l] != 1 ||
                             !hot_holders.insert(sku * w1::kBuyerCount + record.buyer_id).second)) {
        return Status::Corruption("W1 buyer " + std::to_string(record.buyer_id) +
                                  " holds more than one unit of hot SKU " + std::to_string(sku));
      }
    }
    if (total != record.total_fen) {
      return Status::Corruption("W1 order " + std::to_string(i) + " total " +
                                std::to_string(record.total_fen) + " != " + std::to_string(total));
    }
  }
  if (stored_accepted != tally.accepted) {
    return Status::Corruption("W1 stored accepted orders " + std::to_string(stored_accepted) +
                              " != accepted count " + std::to_string(tally.accepted));
  }
  return Status::Ok();
}

}  // namespace eleven::sim
