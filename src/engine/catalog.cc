// Catalog and inventory: merchants, SKUs, restocking and prices.
#include <cstring>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"
#include "wire/country.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;

wire::Result Engine::CreateMerchant(const wire::CreateMerchant& c) {
  const Operation op = Operation::kCreateMerchant;
  if (c.merchant_id == 0) return CommandResult(Code::invalid_id, op, c.merchant_id);
  if (!wire::IsCountryCode(c.country)) {
    return CommandResult(Code::invalid_country, op, c.merchant_id);
  }
  if ((c.flags & ~wire::kMerchantFlagsAll) != 0) {
    return CommandResult(Code::invalid_merchant_flags, op, c.merchant_id);
  }
  if (merchant_index_.Find(c.merchant_id) != kNoValue) {
    return CommandResult(Code::merchant_exists, op, c.merchant_id);
  }
  if (merchant_count_ == config_.merchant_count_max) {
    return CommandResult(Code::merchants_full, op, c.merchant_id);
  }
  const uint32_t index = merchant_count_;
  ELEVEN_ASSERT(merchant_index_.Insert(c.merchant_id, index));
  Merchant& m = merchants_[index];
  m = Merchant{};
  m.id = c.merchant_id;
  std::memcpy(m.country, c.country, 2);
  m.flags = c.flags;
  merchant_count_++;
  return CommandResult(Code::ok, op, c.merchant_id);
}

wire::Result Engine::CreateSku(const wire::CreateSku& c) {
  const Operation op = Operation::kCreateSku;
  if (c.sku_id == 0) return CommandResult(Code::invalid_id, op, c.sku_id);
  if (c.price_fen <= 0 || c.price_fen > wire::kPriceMaxFen) {
    return CommandResult(Code::invalid_price, op, c.sku_id);
  }
  if (c.stock > wire::kStockMax) return CommandResult(Code::invalid_quantity, op, c.sku_id);
  const uint32_t merchant = merchant_index_.Find(c.merchant_id);
  if (merchant == kNoValue) return CommandResult(Code::merchant_not_found, op, c.sku_id);
  if (skus_.Find(c.sku_id) != kNoValue) return CommandResult(Code::sku_exists, op, c.sku_id);
  const uint32_t index = skus_.Insert(c.sku_id);
  if (index == kNoValue) return CommandResult(Code::skus_full, op, c.sku_id);
  Sku& s = skus_[index];
  s.merchant_id = c.merchant_id;
  s.merchant_index = merchant;
  s.per_buyer_limit = c.per_buyer_limit;
  s.price_fen = c.price_fen;
  s.available = c.stock;
  s.received = c.stock;
  return CommandResult(Code::ok, op, c.sku_id);
}

wire::Result Engine::Restock(const wire::Restock& c) {
  const Operation op = Operation::kRestock;
  if (c.quantity == 0 || c.quantity > wire::kStockMax) {
    return CommandResult(Code::invalid_quantity, op, c.sku_id);
  }
  const uint32_t index = skus_.Find(c.sku_id);
  if (index == kNoValue) return CommandResult(Code::sku_not_found, op, c.sku_id);
  Sku& s = skus_[index];
  // Every counter of the SKU is bounded by `received`, so bounding it bounds them all.
  if (s.received + c.quantity > wire::kStockMax) return CommandResult(Code::stock_overflow, op, c.sku_id);
  s.available += c.quantity;
  s.received += c.quantity;
  wire::Result result = CommandResult(Code::ok, op, c.sku_id);
  result.amount_fen = s.available;
  return result;
}

wire::Result Engine::SetPrice(const wire::SetPrice& c) {
  const Operation op = Operation::kSetPrice;
  if (c.price_fen <= 0 || c.price_fen > wire::kPriceMaxFen) {
    return CommandResult(Code::invalid_price, op, c.sku_id);
  }
  const uint32_t index = skus_.Find(c.sku_id);
  if (index == kNoValue) return CommandResult(Code::sku_not_found, op, c.sku_id);
  skus_[index].price_fen = c.price_fen;
  wire::Result result = CommandResult(Code::ok, op, c.sku_id);
  result.amount_fen = c.price_fen;
  return result;
}

wire::Code Engine::GetMerchant(uint64_t merchant_id, wire::MerchantRecord* out) const {
  const uint32_t index = merchant_index_.Find(merchant_id);
  if (index == kNoValue) return Code::merchant_not_found;
  const Merchant& m = merchants_[index];
  *out = wire::MerchantRecord{};
  out->merchant_id = m.id;
  std::memcpy(out->country, m.country, 2);
  out->flags = m.flags;
  return Code::ok;
}

void Engine::ForEachSku(const std::function<void(uint64_t sku_id, uint64_t merchant_id)>& visit) const {
  for (uint64_t slot = 0; slot < skus_.slot_count(); slot++) {
    const Sku& s = skus_.rows()[slot];
    if (s.id != 0) visit(s.id, s.merchant_id);
  }
}

wire::Code Engine::GetSku(uint64_t sku_id, wire::SkuRecord* out) const {
  const uint32_t index = skus_.Find(sku_id);
  if (index == kNoValue) return Code::sku_not_found;
  const Sku& s = skus_[index];
  *out = wire::SkuRecord{};
  out->sku_id = s.id;
  out->merchant_id = merchants_[s.merchant_index].id;
  out->price_fen = s.price_fen;
  out->available = s.available;
  out->reserved = s.reserved;
  out->sold = s.sold;
  out->in_drops = s.in_drops;
  out->received = s.received;
  out->per_buyer_limit = s.per_buyer_limit;
  return Code::ok;
}

}  // namespace eleven::engine
