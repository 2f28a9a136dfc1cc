#include "view/read_view.h"

#include <algorithm>

#include "base/assert.h"

namespace eleven::view {

using wire::Code;

ReadView::ReadView(const engine::EngineConfig& config)
    : slot_count_(config.order_slot_count),
      links_(BigArray<OrderLink>(config.order_slot_count)),
      buyer_head_(config.order_slot_count),
      merchant_head_(config.merchant_count_max) {}

void ReadView::Attach(const engine::Engine* engine) {
  std::unique_lock lock(mutex_);
  engine_ = engine;
  ready_.store(false, std::memory_order_release);
  if (used_) {  // the tables are zeroed when mapped: gigabytes not to clear twice
    std::memset(static_cast<void*>(links_.get()), 0, sizeof(OrderLink) * slot_count_);
    buyer_head_.Clear();
    merchant_head_.Clear();
    skus_.clear();
  }
  used_ = engine != nullptr;
  indexed_to_ = 1;
  if (engine == nullptr) return;
  // The ring holds the last slot_count ids: index them oldest first, as they came.
  const uint64_t next = engine->next_order_id();
  indexed_to_ = next > slot_count_ ? next - slot_count_ : 1;
  IndexOrdersTo(next);
  engine->ForEachSku([this](uint64_t sku, uint64_t merchant) { skus_.emplace(merchant, sku); });
  op_.store(engine->last_op(), std::memory_order_release);
  ready_.store(true, std::memory_order_release);
}

void ReadView::Applied(std::span<const wire::Command> commands) {
  ELEVEN_ASSERT(engine_ != nullptr);
  IndexOrdersTo(engine_->next_order_id());
  for (const wire::Command& c : commands) {
    if (c.operation != wire::Operation::kCreateSku) continue;
    wire::SkuRecord sku;
    if (engine_->GetSku(c.create_sku.sku_id, &sku) == Code::ok) skus_.emplace(sku.merchant_id, sku.sku_id);
  }
  op_.store(engine_->last_op(), std::memory_order_release);
}

// The slot's indexed order leaves the ring: a head that names it goes (its chain has gone
// with it: older orders left first).
void ReadView::Unlink(uint32_t slot) {
  OrderLink& old = links_[slot];
  if (old.id == 0) return;
  if (buyer_head_.Find(old.buyer) == slot) buyer_head_.Erase(old.buyer);
  if (merchant_head_.Find(old.merchant) == slot) merchant_head_.Erase(old.merchant);
  old = OrderLink{};
}

void ReadView::IndexOrdersTo(uint64_t next_order_id) {
  // The heads are a table of up to a GB, one random line an order: fetched kAhead orders early
  // (the order rows and links run in sequence, which the hardware prefetches itself).
  constexpr uint64_t kAhead = 8;
  for (uint64_t id = indexed_to_; id < next_order_id; id++) {
    if (id + kAhead < next_order_id) {
      const OrderLink& leaving = links_[(id + kAhead) % slot_count_];
      if (leaving.id != 0) buyer_head_.Prefetch(leaving.buyer);
      uint64_t buyer = 0, merchant = 0;
      if (engine_->OrderOwners(id + kAhead, &buyer, &merchant)) buyer_head_.Prefetch(buyer);
    }
    const auto slot = static_cast<uint32_t>(id % slot_count_);
    Unlink(slot);
    uint64_t buyer = 0, merchant = 0;
    if (!engine_->OrderOwners(id, &buyer, &merchant)) continue;  // a rejected attempt
    OrderLink& link = links_[slot];
    link.id = id;
    link.buyer = buyer;
    link.merchant = merchant;
    auto push = [&](FixedMap<uint64_t>& heads, uint64_t owner, uint64_t* prev) {
      uint32_t* head = heads.FindValue(owner);
      if (head != nullptr) {
        *prev = links_[*head].id;
        *head = slot;
      } else {
        *prev = 0;
        const bool inserted = heads.Insert(owner, slot);
        ELEVEN_ASSERT(inserted);  // one head per indexed order at most: sized for it
      }
    };
    push(buyer_head_, link.buyer, &link.prev_buyer);
    push(merchant_head_, link.merchant, &link.prev_merchant);
  }
  indexed_to_ = std::max(indexed_to_, next_order_id);
}

ListPage ReadView::List(const ListRequest& r) const {
  ELEVEN_ASSERT(r.limit >= 1 && r.limit <= kPageMax && r.scan_max >= r.limit);
  std::shared_lock lock(mutex_);
  ListPage page;
  if (engine_ == nullptr) {
    page.detached = true;  // the follower dropped its copy and is loading it again
    return page;
  }
  page.op = engine_->last_op();
  switch (r.kind) {
    case ListKind::kBuyerOrders:
    case ListKind::kMerchantOrders: ListOrders(r, &page); break;
    case ListKind::kMerchantSkus: ListSkus(r, &page); break;
    case ListKind::kDrops: ListDrops(r, &page); break;
    case ListKind::kCourierParcels: ListParcels(r, &page); break;
    case ListKind::kAccountTransfers: ELEVEN_ASSERT(false);  // the ledger's (server/queries.cc)
  }
  return page;
}

void ReadView::ListOrders(const ListRequest& r, ListPage* page) const {
  const bool by_buyer = r.kind == ListKind::kBuyerOrders;
  wire::MerchantRecord merchant;
  if (!by_buyer && engine_->GetMerchant(r.owner, &merchant) != Code::ok) {
    page->code = Code::merchant_not_found;
    return;
  }
  uint64_t id = 0;
  if (r.after == 0) {
    const uint32_t head = (by_buyer ? buyer_head_ : merchant_head_).Find(r.owner);
    id = head == kNoValue ? 0 : links_[head].id;
  } else {
    const OrderLink& from = links_[r.after % slot_count_];
    if (from.id != r.after || (by_buyer ? from.buyer : from.merchant) != r.owner) {
      page->truncated = true;  // the cursor's order has left memory since
      return;
    }
    id = by_buyer ? from.prev_buyer : from.prev_merchant;
  }
  uint32_t scanned = 0;
  for (; id != 0 && page->orders.size() < r.limit && scanned < r.scan_max; scanned++) {
    wire::OrderRecord order;
    if (engine_->GetOrder(id, &order) != Code::ok) {
      page->truncated = true;  // older orders are gone too
      return;
    }
    const OrderLink& link = links_[id % slot_count_];
    ELEVEN_ASSERT(link.id == id);
    uint64_t storefront = 0, merchant_id = 0;
    bool keep = r.filter == 0 || static_cast<uint8_t>(order.state) == r.filter;
    if (keep && r.merchant != 0) keep = order.merchant_id == r.merchant;
    if (keep && r.storefront != 0) {
      keep = engine_->OrderParties(id, &storefront, &merchant_id) && storefront == r.storefront;
    }
    if (keep) page->orders.push_back(order);
    page->next = id;
    id = by_buyer ? link.prev_buyer : link.prev_merchant;
  }
  if (id == 0) page->next = 0;  // nothing older
}

void ReadView::ListSkus(const ListRequest& r, ListPage* page) const {
  wire::MerchantRecord merchant;
  if (engine_->GetMerchant(r.owner, &merchant) != Code::ok) {
    page->code = Code::merchant_not_found;
    return;
  }
  // Newest first = highest id first: from the merchant's entry just below `after`.
  auto it = skus_.lower_bound({r.owner, r.after == 0 ? UINT64_MAX : r.after});
  while (it != skus_.begin() && page->skus.size() < r.limit) {
    --it;
    if (it->first != r.owner) break;
    wire::SkuRecord sku;
    const Code found = engine_->GetSku(it->second, &sku);
    ELEVEN_ASSERT(found == Code::ok);  // SKUs never leave
    page->skus.push_back(sku);
    page->next = it->second;
  }
  if (it == skus_.begin() || std::prev(it)->first != r.owner) page->next = 0;
}

void ReadView::ListDrops(const ListRequest& r, ListPage* page) const {
  // Positions are drop indexes + 1, newest (the last created) first.
  uint64_t at = r.after == 0 ? engine_->drop_count() : std::min<uint64_t>(r.after - 1, engine_->drop_count());
  uint32_t scanned = 0;
  for (; at > 0 && page->drops.size() < r.limit && scanned < r.scan_max; at--, scanned++) {
    wire::DropRecord drop;
    engine_->GetDropAt(static_cast<uint32_t>(at - 1), &drop);
    if (r.filter == 0 || static_cast<uint8_t>(drop.state) == r.filter) page->drops.push_back(drop);
    page->next = at;
  }
  if (at == 0) page->next = 0;
}

void ReadView::ListParcels(const ListRequest& r, ListPage* page) const {
  if (engine_->fulfilment() == nullptr) {
    page->code = Code::fulfilment_disabled;
    return;
  }
  wire::CourierRecord courier;
  page->code = engine_->fulfilment()->QueryCourier(r.owner, &courier);
  if (page->code != Code::ok) return;
  // A courier's waybills are issued in sequence from its first: newest = the last issued.
  const uint64_t first = courier.waybill_first;
  uint64_t waybill = r.after == 0 ? first + courier.waybill_issued : r.after;  // one past
  uint32_t scanned = 0;
  for (; waybill > first && page->parcels.size() < r.limit && scanned < r.scan_max; scanned++) {
    wire::ParcelRecord parcel;
    if (engine_->fulfilment()->QueryParcel(waybill - 1, &parcel) != Code::ok) {
      page->truncated = true;  // it and older ones have left memory
      page->next = 0;
      return;
    }
    if (r.filter == 0 || static_cast<uint8_t>(parcel.state) == r.filter) page->parcels.push_back(parcel);
    waybill--;
    page->next = waybill;
  }
  if (waybill == first) page->next = 0;
}

}  // namespace eleven::view
