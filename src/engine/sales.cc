// Sales figures (docs/read-side.md, "Live figures"): what paid orders sold and what they
// refunded later, by the buyer's city tier and region, the merchant's country and the drop.
// Counted as commands apply, so they are exact to the op the state is at and a replay of the
// log gives the same figures.
#include <cstring>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

namespace {

uint32_t CountryIndex(const char country[2]) {
  ELEVEN_ASSERT(country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' && country[1] <= 'Z');
  return uint32_t(country[0] - 'A') * 26 + uint32_t(country[1] - 'A');
}

void PutSales(wire::SalesDimension dimension, uint64_t key, const SalesFigures& f, wire::SalesRecord* out) {
  *out = wire::SalesRecord{};
  out->dimension = dimension;
  out->key = key;
  out->gross_fen = f.gross_fen;
  out->discounts_fen = f.discounts_fen;
  out->refunds_fen = f.refunds_fen;
  out->net_fen = f.gross_fen - f.discounts_fen - f.refunds_fen;
  out->orders = f.orders;
  out->units = f.units;
}

}  // namespace

void Engine::CountSale(const Order& order) {
  ELEVEN_ASSERT(order.merchant_index != kNoValue);
  uint64_t units = 0;
  for (int l = 0; l < order.line_count; l++) units += order.quantity[l];
  const int64_t discounts = DiscountOf(order);
  auto add = [&](SalesFigures& f) {
    f.gross_fen += order.total_fen + discounts;
    f.discounts_fen += discounts;
    f.orders++;
    f.units += units;
  };
  add(sales_->total);
  add(sales_->city_tier[order.city_tier]);
  add(sales_->region[order.region]);
  add(sales_->country[CountryIndex(merchants_[order.merchant_index].country)]);
  if (order.drop_index != kNoValue) add(drop_sales_[order.drop_index]);
}

void Engine::CountRefund(uint64_t order_id, int64_t fen) {
  if (fen <= 0) return;
  sales_->total.refunds_fen += fen;
  const Order* order = nullptr;
  if (FindOrder(order_id, &order) == wire::Code::ok) {
    ELEVEN_ASSERT(order->merchant_index != kNoValue);  // it was paid
    sales_->city_tier[order->city_tier].refunds_fen += fen;
    sales_->region[order->region].refunds_fen += fen;
    sales_->country[CountryIndex(merchants_[order->merchant_index].country)].refunds_fen += fen;
    if (order->drop_index != kNoValue) drop_sales_[order->drop_index].refunds_fen += fen;
    return;
  }
  // The ring dropped it: its money record still names the merchant (refunds that late are
  // the ledger's after-sales ones); its tier, region and drop are gone with the order.
  uint64_t storefront = 0, merchant_id = 0;
  const bool known = OrderParties(order_id, &storefront, &merchant_id);
  const uint32_t merchant = known ? merchant_index_.Find(merchant_id) : kNoValue;
  ELEVEN_ASSERT(merchant != kNoValue);  // money was refunded, so the order was paid
  sales_->country[CountryIndex(merchants_[merchant].country)].refunds_fen += fen;
}

uint32_t Engine::QuerySales(uint32_t drop_limit, std::span<wire::SalesRecord> out) const {
  ELEVEN_ASSERT(drop_limit <= wire::kSalesDropsMax);
  ELEVEN_ASSERT(out.size() >= wire::kSalesFixedEntriesMax + drop_limit);
  using D = wire::SalesDimension;
  uint32_t n = 0;
  PutSales(D::kTotal, 0, sales_->total, &out[n++]);
  for (uint64_t t = 1; t <= wire::kCityTierMax; t++) {
    if (sales_->city_tier[t].orders != 0) PutSales(D::kCityTier, t, sales_->city_tier[t], &out[n++]);
  }
  for (uint64_t r = 1; r <= wire::kRegionMax; r++) {
    if (sales_->region[r].orders != 0) PutSales(D::kRegion, r, sales_->region[r], &out[n++]);
  }
  for (uint32_t c = 0; c < 26 * 26; c++) {
    if (sales_->country[c].orders == 0) continue;
    const char code[2] = {char('A' + c / 26), char('A' + c % 26)};
    uint64_t key = 0;
    std::memcpy(&key, code, 2);
    PutSales(D::kCountry, key, sales_->country[c], &out[n++]);
  }
  for (uint32_t d = drop_count_, taken = 0; d > 0 && taken < drop_limit; d--) {
    if (drop_sales_[d - 1].orders == 0) continue;
    PutSales(D::kDrop, drops_[d - 1].id, drop_sales_[d - 1], &out[n++]);
    taken++;
  }
  return n;
}

// The figures agree with each other and with the counters (Engine::CheckInvariants).
void Engine::CheckSales() const {
  const SalesFigures& total = sales_->total;
  // Paid orders' totals are net of their coupons' discounts.
  ELEVEN_ASSERT(total.gross_fen - total.discounts_fen == stats_.gmv_paid_fen &&
                total.orders == stats_.orders_paid);
  auto sum = [](const SalesFigures* begin, const SalesFigures* end) {
    SalesFigures s;
    for (const SalesFigures* f = begin; f != end; f++) {
      s.gross_fen += f->gross_fen;
      s.discounts_fen += f->discounts_fen;
      s.refunds_fen += f->refunds_fen;
      s.orders += f->orders;
      s.units += f->units;
    }
    return s;
  };
  const SalesFigures tiers = sum(sales_->city_tier + 1, sales_->city_tier + wire::kCityTierMax + 1);
  const SalesFigures regions = sum(sales_->region + 1, sales_->region + wire::kRegionMax + 1);
  const SalesFigures countries = sum(sales_->country, sales_->country + 26 * 26);
  const SalesFigures drops = sum(drop_sales_.get(), drop_sales_.get() + drop_count_);
  for (const SalesFigures* s : {&tiers, &regions, &countries}) {
    ELEVEN_ASSERT(s->gross_fen == total.gross_fen && s->discounts_fen == total.discounts_fen &&
                  s->orders == total.orders && s->units == total.units);
  }
  // A refund finds its country always, its tier, region and drop while the ring holds it.
  ELEVEN_ASSERT(countries.refunds_fen == total.refunds_fen);
  ELEVEN_ASSERT(tiers.refunds_fen <= total.refunds_fen && regions.refunds_fen <= total.refunds_fen);
  ELEVEN_ASSERT(drops.gross_fen <= total.gross_fen && drops.refunds_fen <= total.refunds_fen);
  ELEVEN_ASSERT(drops.discounts_fen <= total.discounts_fen);
  ELEVEN_ASSERT(total.refunds_fen <= total.gross_fen - total.discounts_fen);
  ELEVEN_ASSERT(sales_->city_tier[0].orders == 0 && sales_->region[0].orders == 0);
}

}  // namespace eleven::engine
