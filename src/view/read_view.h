// The read view: the lists of docs/read-side.md ("a buyer's orders, newest first"), answered
// from the snapshot follower's copy of the state and indexes kept beside it, so the engine
// thread neither keeps the indexes nor answers the lists.
//
// The follower (replica/follower.h) attaches its engine, and holds the view's lock
// exclusively while it applies each journal entry and indexes what the entry added (Applied).
// Readers (the HTTP threads) take the lock shared for one page: a page is exact to the op
// the view is at (op()), which lags the durable op by at most the follower's catch-up
// interval; WakeFollower asks for a catch-up now (read-your-writes, `min_op`).
//
// Indexes (allocated at construction, sized from the engine's configuration):
//  - orders by buyer and by merchant: per order slot, the previous order of the same buyer
//    and of the same merchant; a head per buyer (as many as there are slots) and per merchant.
//    A chain ends where the ring dropped an order (the page then says truncated).
//  - SKUs by merchant, ordered by id (a std::set: SKUs are few and never leave).
// Drops are listed from the engine's table (creation order), a courier's parcels from its
// waybill range (waybills are issued in sequence): neither needs an index.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <utility>
#include <vector>

#include "base/big_array.h"
#include "base/fixed_map.h"
#include "engine/engine.h"
#include "wire/fulfilment.h"
#include "wire/records.h"

namespace eleven::view {

enum class ListKind : uint8_t {
  kBuyerOrders = 1,     // owner: buyer id; filter: order state
  kMerchantOrders = 2,  // owner: merchant id; filter: order state
  kMerchantSkus = 3,    // owner: merchant id
  kDrops = 4,           // filter: drop state (1 upcoming, 2 open, 3 closed)
  kCourierParcels = 5,  // owner: courier id; filter: parcel state
  // Answered by the engine thread from the ledger's own chains, not by the view; named here
  // so that its cursors are the lists' (owner: account id; filter: the side flags).
  kAccountTransfers = 6,
};

struct ListRequest {
  ListKind kind = ListKind::kBuyerOrders;
  uint64_t owner = 0;
  uint8_t filter = 0;     // 0: none; else the state value items must have
  uint32_t limit = 20;    // 1 .. kPageMax
  uint64_t after = 0;     // from a cursor: continue after this position; 0 = from the newest
  uint64_t storefront = 0;  // orders: only those this storefront placed (0: no such limit)
  uint64_t merchant = 0;    // orders: only this merchant's (0: no such limit)
  uint32_t scan_max = 10000;  // items visited at most for one page
};
inline constexpr uint32_t kPageMax = 100;

struct ListPage {
  wire::Code code = wire::Code::ok;  // ok, or why not (merchant_not_found, ...)
  uint64_t op = 0;                   // the log op the page is exact to
  std::vector<wire::OrderRecord> orders;
  std::vector<wire::SkuRecord> skus;
  std::vector<wire::DropRecord> drops;
  std::vector<wire::ParcelRecord> parcels;
  uint64_t next = 0;       // the `after` of the next page; 0: this is the last
  bool truncated = false;  // the list ended where memory no longer holds its items
  bool detached = false;   // no state to answer from (the follower is loading it again)
};

class ReadView {
 public:
  explicit ReadView(const engine::EngineConfig& config);
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  // ---- the follower's side ----
  // Indexes `engine`'s whole state (null: the follower dropped its copy; lists wait). Takes
  // the lock; `engine` must stay alive and change only under LockForApply until the next
  // Attach.
  void Attach(const engine::Engine* engine);
  // Held around applying one entry and calling Applied for it.
  std::unique_lock<std::shared_mutex> LockForApply() { return std::unique_lock(mutex_); }
  // Indexes what the entry just applied added (its commands), under LockForApply's lock.
  void Applied(std::span<const wire::Command> commands);
  // Set by the follower: wakes it for a catch-up to the durable op now.
  void SetWake(std::function<void()> wake) { wake_ = std::move(wake); }

  // ---- readers ----
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  uint64_t op() const { return op_.load(std::memory_order_acquire); }
  void WakeFollower() const {
    if (wake_) wake_();
  }
  // One page of a list (the view must be ready).
  ListPage List(const ListRequest& request) const;

 private:
  struct OrderLink {
    uint64_t id;  // 0: the slot holds no indexed order
    uint64_t buyer;
    uint64_t merchant;
    uint64_t prev_buyer;  // the same buyer's previous order (0: none)
    uint64_t prev_merchant;
  };
  void IndexOrdersTo(uint64_t next_order_id);  // mutex_ held exclusively
  void Unlink(uint32_t slot);
  void ListOrders(const ListRequest& r, ListPage* page) const;
  void ListSkus(const ListRequest& r, ListPage* page) const;
  void ListDrops(const ListRequest& r, ListPage* page) const;
  void ListParcels(const ListRequest& r, ListPage* page) const;

  const uint32_t slot_count_;
  mutable std::shared_mutex mutex_;
  const engine::Engine* engine_ = nullptr;  // guarded by mutex_
  uint64_t indexed_to_ = 0;                 // orders below this id are indexed
  bool used_ = false;                       // the tables may hold entries
  BigArray<OrderLink> links_;               // by order slot
  FixedMap<uint64_t> buyer_head_;           // buyer -> slot of their newest order
  FixedMap<uint64_t> merchant_head_;        // merchant -> slot of its newest order
  std::set<std::pair<uint64_t, uint64_t>> skus_;  // (merchant id, SKU id)
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> op_{0};
  std::function<void()> wake_;
};

}  // namespace eleven::view
