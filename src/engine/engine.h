// Engine: the deterministic state machine of catalog, inventory, drops and orders.
//
// Apply() takes one batch of fixed-size commands, stamped by the caller with an op number
// and a log timestamp, and writes one fixed-size result per command. The result of a batch
// depends only on the state before it and the batch: nothing here reads a clock, a random
// source, or does I/O. Every table is sized from EngineConfig at construction; applying a
// batch allocates nothing, and a full table is a result code.
//
// Time: the batch timestamp is the only clock. At the start of every batch, before its
// commands, the engine closes drops whose closes_at has passed and expires unpaid orders
// whose pay-by deadline has passed, in that order.
//
// Thread-safety: none; one engine thread owns an Engine. Queries read the state as of the
// last applied batch.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/big_array.h"
#include "base/bytes.h"
#include "base/fixed_map.h"
#include "base/fixed_table.h"
#include "base/key_filter.h"
#include "base/key_index.h"
#include "wire/engine_records.h"
#include "base/hash.h"
#include "base/status.h"
#include "engine/fulfilment/fulfilment.h"
#include "engine/ledger/ledger.h"
#include "wire/access.h"
#include "wire/records.h"

namespace eleven::engine {

// Internal records, defined in engine_state.h.
struct MerchantRow;
struct SkuRow;
struct DropRow;
struct OrderRow;
struct CouponRow;
struct ClaimRow;
struct CouponOrderRow;
struct PresaleRow;
struct DepositRow;

struct EngineConfig {
  uint32_t merchant_count_max = 1 << 17;
  uint32_t sku_count_max = 1 << 21;
  uint32_t drop_count_max = 1 << 18;  // drops do not retire: a day's drops must fit
  // Orders kept in memory: the last order_slot_count place-order attempts (accepted or
  // rejected). This is also the idempotency window. A slot is reused only once its order
  // is final (paid, cancelled, expired or rejected); see docs/engine.md for sizing.
  uint32_t order_slot_count = 1 << 22;
  // (owner, buyer) pairs with units held under a per-buyer limit (SKU or drop).
  uint32_t holding_count_max = 1 << 21;
  uint64_t pay_window_us = 15ull * 60 * 1000 * 1000;
  uint32_t batch_command_count_max = 8190;
  // API keys ever created (docs/access.md); ids are never reused.
  uint32_t api_key_count_max = 4096;
  // Coupons (docs/promotions.md): coupons ever created, claims ever made (a day's), and
  // orders with coupons kept beside the order ring (an entry leaves with its order's slot).
  uint32_t coupon_count_max = 1 << 16;
  uint32_t coupon_claim_count_max = 1 << 20;
  uint32_t coupon_order_count_max = 1 << 20;
  // Pre-sales ever created and deposits ever paid (docs/promotions.md, "Pre-sale").
  uint32_t presale_count_max = 4096;
  // The keys the order ring has evicted, in a filter (docs/archive.md): 0 leaves it off (an
  // evicted key is then forgotten with its order); else its capacity, 1 byte a key. A place
  // order whose key may be in it is answered archive_check unless the server has marked it
  // archive-checked (wire::kIssuerArchiveChecked).
  uint64_t evicted_key_count_max = 0;
  uint32_t deposit_count_max = 1 << 20;
  // Payments: with the ledger on, paying an order moves money (wire/ledger.h); off, a payment
  // is recorded as made elsewhere. Fulfilment: on, every paid order is allocated to
  // warehouses and couriers (or backlogged), and delivery settles it in the ledger.
  bool ledger_enabled = false;
  LedgerConfig ledger;
  bool fulfilment_enabled = false;
  FulfilmentConfig fulfilment;
};

// An API key as the engine keeps it (docs/access.md). Key id n lives at index n - 1.
struct ApiKeyRow {
  uint64_t scope_id;
  uint64_t created_at_us;
  uint64_t revoked_at_us;
  uint32_t created_by;
  uint32_t revoked_by;
  wire::Role role;
  wire::KeyState state;
  uint8_t reserved[6];
  uint8_t secret_sha256[wire::kSecretHashSize];
};
static_assert(sizeof(ApiKeyRow) == 72);

// Who issued a command: the role and scope of its issuer's key. kNone: no such active key.
struct Principal {
  wire::Role role = wire::Role::kNone;
  uint64_t scope_id = 0;
};

enum class BatchError : uint8_t {
  kNone = 0,
  kOpNotNext,          // op must be the last applied op + 1
  kTimestampBackwards,  // timestamps never decrease
  kTooManyCommands,     // more than batch_command_count_max
  kResultsTooSmall,     // fewer result slots than commands
};

// The sales figures of one bucket (docs/read-side.md, "Live figures"): wire::SalesRecord
// without its dimension, key and net. Part of the state (and of the digest).
struct SalesFigures {
  int64_t gross_fen = 0;      // totals of paid orders
  int64_t discounts_fen = 0;  // coupons' discounts of paid orders (docs/promotions.md)
  int64_t refunds_fen = 0;    // refunded to buyers after payment (cancellations, returns, after-sales)
  uint64_t orders = 0;        // paid orders
  uint64_t units = 0;         // their units
};
// Every bucket but the drops' (which sit beside the drops): by the buyer's city tier and
// region and by the merchant's country (index (first letter - 'A') * 26 + second - 'A').
struct EngineSales {
  SalesFigures total;
  SalesFigures city_tier[wire::kCityTierMax + 1];  // [0] unused
  SalesFigures region[wire::kRegionMax + 1];       // [0] unused
  SalesFigures country[26 * 26];
};

// Per-engine counters, part of the state (and of the digest).
struct EngineStats {
  uint64_t orders_accepted = 0;
  uint64_t orders_rejected = 0;
  uint64_t orders_paid = 0;
  uint64_t orders_cancelled = 0;
  uint64_t orders_expired = 0;
  uint64_t orders_replayed = 0;  // place/pay/cancel repeats answered as replays
  int64_t gmv_placed_fen = 0;    // totals of accepted orders
  int64_t gmv_paid_fen = 0;
  uint64_t units_sold = 0;
  uint64_t orders_delivered = 0;
};

class Engine {
 public:
  explicit Engine(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies `commands` as log entry `op` at `timestamp_us`, writing results[i] for
  // commands[i]. A batch error changes nothing and writes no result.
  [[nodiscard]] BatchError Apply(uint64_t op, uint64_t timestamp_us,
                                 std::span<const wire::Command> commands,
                                 std::span<wire::Result> results);

  // Queries. Each returns ok and fills `out`, or the code saying why not.
  wire::Code GetOrder(uint64_t order_id, wire::OrderRecord* out) const;
  wire::Code GetOrderByKey(uint64_t idempotency_key, wire::OrderRecord* out) const;
  wire::Code GetMerchant(uint64_t merchant_id, wire::MerchantRecord* out) const;
  wire::Code GetSku(uint64_t sku_id, wire::SkuRecord* out) const;
  wire::Code GetDrop(uint64_t drop_id, wire::DropRecord* out) const;
  wire::Code GetCoupon(uint64_t coupon_id, wire::CouponRecord* out) const;
  wire::Code GetCouponClaim(uint64_t coupon_id, uint64_t buyer_id, wire::CouponClaimRecord* out) const;
  uint32_t coupon_count() const { return coupon_count_; }
  wire::Code GetPresale(uint64_t presale_id, wire::PresaleRecord* out) const;
  wire::Code GetDeposit(uint64_t presale_id, uint64_t buyer_id, wire::DepositRecord* out) const;
  // Drop number `index` (0 .. drop_count() - 1) in the order drops were created.
  void GetDropAt(uint32_t index, wire::DropRecord* out) const;
  // Every SKU, in no particular order (the read side's index; docs/read-side.md).
  void ForEachSku(const std::function<void(uint64_t sku_id, uint64_t merchant_id)>& visit) const;
  // The id the next place-order attempt gets: orders below it and within the last
  // order_slot_count are in memory.
  uint64_t next_order_id() const { return next_order_id_; }
  // The sales figures (docs/protocol.md, get_sales): every bucket with a sale (total first,
  // then tiers, regions and countries by key), then up to `drop_limit` drops with a sale,
  // newest drop first. Returns how many records it wrote; `out` holds
  // wire::kSalesFixedEntriesMax + drop_limit.
  uint32_t QuerySales(uint32_t drop_limit, std::span<wire::SalesRecord> out) const;
  const EngineSales& sales() const { return *sales_; }
  // Who an order belongs to (docs/access.md): the storefront that placed it (0: an operator,
  // or an order the ring no longer holds) and its merchant (from its money record once the
  // ring dropped it). False if no such order is known.
  bool OrderParties(uint64_t order_id, uint64_t* storefront, uint64_t* merchant_id) const;
  // An accepted order's buyer and merchant id, reading its row only (the read side's index);
  // false for a rejected attempt or an order the ring does not hold.
  bool OrderOwners(uint64_t order_id, uint64_t* buyer, uint64_t* merchant_id) const;

  // API keys (docs/access.md). GetKey fills a record without the secret's hash.
  wire::Code GetKey(uint64_t key_id, wire::KeyRecord* out) const;
  uint32_t api_key_count() const { return api_key_count_; }
  // Key `key_id` (1 .. api_key_count()) with its hash, for the server's table of secrets.
  const ApiKeyRow& api_key(uint32_t key_id) const { return api_keys_[key_id - 1]; }
  // The principal a command's issuer names: issuer 0 is the local operator; a key that is
  // unknown or revoked is kNone.
  Principal PrincipalOf(uint32_t issuer) const;
  // Whether the command's issuer may apply it (docs/access.md): ok, unauthenticated (an
  // unknown or revoked key) or forbidden (the role, or an object another principal owns); ok
  // when an object is not found (the command then says so). Apply checks every command but
  // place orders with it; the server checks whole requests with it before they are batched.
  wire::Code Authorize(const wire::Command& command) const;

  // The payment and fulfilment modules, or null when the configuration leaves them off.
  const Ledger* ledger() const { return ledger_.get(); }
  const Fulfilment* fulfilment() const { return fulfilment_.get(); }

  // The earliest log time at which applying a batch, even an empty one, would change the
  // state or what a query shows, or kNeverDue: a drop opening or closing, an unpaid order's
  // pay-by deadline, the ledger's timeouts, auto-confirms and instalment due dates, the next
  // hour while fulfilment has a backlog. A time <= last_timestamp_us() means work the last
  // batch left over (the per-batch budgets). Applying a batch at or after the time returned
  // always changes the state, so a server that writes an empty entry (a tick) whenever this
  // has come makes progress with each one (docs/engine.md, "Time"). Changes nothing.
  [[nodiscard]] uint64_t NextDueUs() const;
  static constexpr uint64_t kNeverDue = UINT64_MAX;

  uint64_t last_op() const { return last_op_; }
  uint64_t last_timestamp_us() const { return last_timestamp_us_; }
  const EngineStats& stats() const { return stats_; }
  const EngineConfig& config() const { return config_; }
  uint32_t sku_count() const { return skus_.count(); }
  uint32_t drop_count() const { return drop_count_; }

  // The whole state as byte ranges for a snapshot: the heads receive small records (and must
  // outlive the chunks); the other chunks point into the tables and stay valid until the
  // next Apply. The concatenation of the chunks is what Restore takes.
  struct SnapshotParts {
    std::vector<std::byte> engine_head, ledger_head, fulfilment_head;
    std::vector<ByteSpan> chunks;
  };
  void SnapshotChunks(SnapshotParts* parts) const;
  // Loads a state produced by SnapshotChunks into this fresh engine. InvalidArgument if the
  // configuration differs, Corruption if the bytes are not a consistent state.
  [[nodiscard]] Status Restore(ByteSpan state);

  // A 128-bit digest of the whole state: equal digests mean equal states.
  Digest128 Digest() const;
  // Checks every invariant of docs/engine.md; aborts on a broken one. O(state).
  void CheckInvariants() const;

 private:
  using Merchant = MerchantRow;
  using Sku = SkuRow;
  using Drop = DropRow;
  using Order = OrderRow;
  struct HoldingKey {
    uint64_t buyer;
    uint32_t owner;  // kOwnerDrop | drop index, or sku index
    uint32_t zero;
    bool operator==(const HoldingKey&) const = default;
  };
  struct HoldingHash {
    uint64_t operator()(const HoldingKey& k) const {
      return Fmix64(k.buyer * 0x9E3779B97F4A7C15ull + k.owner);
    }
  };
  static constexpr uint32_t kOwnerDrop = 1u << 31;
  // Claims and deposits are keyed by a (buyer, coupon or pre-sale) pair: their indexes keep
  // 8-byte slots of the pair's tag and the row, and the row confirms the pair
  // (KeyIndex::FindTagged).
  static uint32_t PairTag(uint64_t buyer, uint32_t owner) {
    return static_cast<uint32_t>(HoldingHash{}(HoldingKey{buyer, owner, 0}) >> 32);
  }
  uint32_t ClaimOf(uint64_t buyer, uint32_t coupon_index) const;  // kNoValue: none
  uint32_t DepositOf(uint64_t buyer, uint32_t presale_index) const;

  // Time-driven work at the start of a batch.
  void CloseDueDrops(uint64_t now_us);
  void ExpireDueOrders(uint64_t now_us);

  // What the batch loop learnt about a place-order command while prefetching for it, so that
  // applying it hashes nothing twice: its key's tag and, per line, its SKU's home slot, then
  // the SKU's row (kNoValue where none was found). Hints only: PlaceOrder confirms each row's
  // id and looks up again a SKU that was not found, so a stale hint costs time, never a result.
  struct Lookahead {
    uint32_t key_tag;
    uint32_t sku[wire::kOrderLineCountMax];
    // An order with coupons: per coupon its row and its claim's tag (slot stage), then the
    // first claim under the tag (row stage); kNoValue where none was found. Hints too
    // (CheckCoupons confirms them).
    uint32_t coupon[wire::kOrderCouponCountMax];
    uint32_t claim_tag[wire::kOrderCouponCountMax];
    uint32_t claim[wire::kOrderCouponCountMax];
  };
  // Entries by command position modulo the size, which exceeds the farthest prefetch.
  static constexpr size_t kLookaheadSize = 64;

  // What checking a place order found, for reserving its lines.
  struct OrderPlan {
    uint32_t sku_index[wire::kOrderLineCountMax] = {};  // zero past the last line
    uint32_t held[wire::kOrderLineCountMax];  // units the buyer holds (lines with a limit)
    uint32_t merchant_index;
    uint32_t drop_index;  // kNoValue: no drop
    uint32_t drop_held;   // units of the drop the buyer holds (a drop with a limit)
    int64_t total_fen;    // what the buyer pays: the lines' value less the coupons' discounts
    // Coupons (CheckCoupons): by kPlatform and kShop, the claim redeemed (kNoValue: none) and
    // its discount.
    uint32_t claim[2];
    int64_t discount_fen[2];
  };
  static constexpr int kPlatform = 0;
  static constexpr int kShop = 1;

  void PrefetchSlots(const wire::Command& command, Lookahead& ahead) const;
  void PrefetchRows(const wire::Command& command, Lookahead& ahead) const;
  static void PrefetchCommand(const wire::Command& command);
  void PrefetchOrderSlots(uint64_t first, size_t count) const;
  uint32_t ResolveSku(uint64_t sku_id, uint32_t hint) const;
  wire::Result Execute(const wire::Command& command, uint64_t now_us);  // all but place orders
  wire::Code AuthorizeFor(const wire::Command& command, const Principal& p) const;
  wire::Code OrderOwnedBy(uint64_t order_id, const Principal& p, bool merchant) const;
  wire::Result ExecuteAccess(const wire::Command& command, uint64_t now_us);
  // The storefront an accepted order was placed by (0: an operator).
  static uint64_t StorefrontOf(const Order& order);
  // Ledger and fulfilment commands: returns how many commands were consumed (>= 1).
  size_t ExecuteModule(std::span<const wire::Command> commands, uint64_t now_us,
                       std::span<wire::Result> results);
  void DrainDelivered(uint64_t now_us);
  // Returns and cancellations after payment (returns.cc; docs/returns.md).
  void SettleDelivered(const DeliveredOrder& delivered, uint64_t now_us);
  // The returned lines' share of `whole_fen` (what escrow holds for the order, or its total).
  int64_t ReturnedShareFen(const Order& order, uint8_t returned_lines, int64_t whole_fen) const;
  // What the ledger has given back to the order's buyer so far (refunds less the platform's
  // subsidy returned; docs/promotions.md); 0 for an order without payment.
  int64_t BuyerRefundedFen(uint64_t order_id) const;
  void ReleasePaidOrder(Order& order);  // gives a paid order's units back
  wire::Result CancelAfterPayment(uint64_t order_id, uint64_t now_us, wire::Result result);
  size_t ConfirmShipped(std::span<const wire::Command> commands, uint64_t now_us,
                        std::span<wire::Result> results);
  wire::Code PayThroughModules(const Order& order, const wire::PayOrder& c, uint64_t now_us);
  wire::Code PayPresaleOrder(const Order& order, const wire::PayBalance& c, uint64_t deposit_money_id,
                             uint64_t now_us);
  OrderToShip ShipmentOf(const Order& order) const;
  wire::Result CreateMerchant(const wire::CreateMerchant& c);
  wire::Result CreateSku(const wire::CreateSku& c);
  wire::Result Restock(const wire::Restock& c);
  wire::Result SetPrice(const wire::SetPrice& c);
  wire::Result CreateDrop(const wire::CreateDrop& c, uint64_t now_us);
  wire::Result CloseDropCommand(const wire::CloseDrop& c, uint64_t now_us);
  // Coupons (coupons.cc; docs/promotions.md).
  wire::Result CreateCoupon(const wire::CreateCoupon& c, uint64_t now_us);
  wire::Result ClaimCoupon(const wire::ClaimCoupon& c, uint64_t now_us);
  // The coupons a place order names, against the order `plan` holds (its total the lines'
  // value): ok and the claims and discounts in `plan`, or the code refusing the order.
  wire::Code CheckCoupons(const wire::PlaceOrder& c, uint64_t now_us, const Lookahead& ahead,
                          OrderPlan* plan) const;
  // The prefetch stages' part for an order with coupons (coupons.cc).
  void PrefetchClaimSlots(const wire::PlaceOrder& c, Lookahead& ahead) const;
  void PrefetchClaimRows(Lookahead& ahead) const;
  void HoldCoupons(uint64_t order_id, const OrderPlan& plan);  // an accepted order's claims
  void ReleaseCoupons(const Order& order);  // its unpaid order ended: the claims are usable again
  void UseCoupons(const Order& order);      // its order was paid
  void DropCouponOrder(uint64_t order_id);  // its ring slot is reused
  // The coupons of an order that has them (Order::promotion is kCoupons), in memory while its slot is.
  const CouponOrderRow& CouponOrderOf(uint64_t order_id) const;
  bool SameCoupons(const Order& first, const wire::PlaceOrder& c) const;  // SameRequest
  int64_t DiscountOf(const Order& order) const;  // both coupons' discounts; 0 without
  void CheckCouponState() const;  // CheckInvariants
  // Pre-sales (presales.cc; docs/promotions.md, "Pre-sale").
  wire::Result CreatePresale(const wire::CreatePresale& c, uint64_t now_us);
  wire::Result PayDeposit(const wire::PayDeposit& c, uint64_t now_us);
  wire::Result PayBalance(const wire::PayBalance& c, uint64_t now_us);
  // At the start of a batch: deposit windows that ended return their unsold quota, balance
  // windows that ended forfeit their unpaid deposits (at most kForfeitsPerBatch deposits
  // looked at a batch; the rest is due at once).
  void ClosePresales(uint64_t now_us);
  uint64_t PresaleDueUs() const;  // NextDueUs
  wire::Code PresaleAccess(const wire::Command& command, const Principal& p) const;  // Authorize
  const DepositRow* FindDeposit(uint64_t presale_id, uint64_t buyer_id) const;
  // The pre-sale's deposits of deposited or paid units, per SKU slot (CheckInvariants).
  void CheckPresales(std::vector<uint64_t>& reserved_by_sku, std::vector<uint64_t>& in_drops_by_sku) const;
  static constexpr uint32_t kForfeitsPerBatch = 4096;
  // Writes its result into `out` (a batch's results slot): built in place, not copied.
  void PlaceOrder(const wire::PlaceOrder& c, uint64_t now_us, const Lookahead& ahead,
                  wire::Result& out);
  wire::Result PayOrder(const wire::PayOrder& c, uint64_t now_us);
  wire::Result CancelOrder(const wire::CancelOrder& c, uint64_t now_us);
  bool RepeatsPayment(const Order& order, const wire::PayOrder& c) const;
  void AnswerReplay(wire::Result* result);

  // Orders.
  wire::Code CheckOrder(const wire::PlaceOrder& c, uint64_t now_us, const Lookahead& ahead,
                        OrderPlan* plan) const;
  wire::Code CheckDrop(uint64_t drop_id, uint32_t merchant, uint64_t now_us,
                       uint32_t* drop_index) const;
  wire::Code CheckDropLine(const wire::PlaceOrder& c, int l, OrderPlan* plan,
                           uint32_t* holdings_new, int64_t* total) const;
  void ReserveLines(const wire::PlaceOrder& c, const OrderPlan& plan);
  void ReleaseOrder(Order& order);  // gives a pending order's units back
  void GiveBack(const Order& order, int l, bool from_drop);  // ReleaseOrder, ReleasePaidOrder
  wire::Code FindOrder(uint64_t order_id, const Order** out) const;
  Order* PendingOrder(uint64_t order_id, wire::Operation operation, uint64_t now_us,
                      wire::Result* result);
  // Frees `slot`, the ring slot for `order_id`, if its occupant is final.
  bool TakeSlot(uint32_t slot, uint64_t order_id);
  bool TakeSlotCold(uint32_t slot, uint64_t order_id);  // TakeSlot, called (pre-sale balances)
  wire::Result OrderResult(const Order& order, wire::Operation operation) const;
  bool SameRequest(const Order& first, const wire::PlaceOrder& c, uint64_t storefront) const;
  void FillOrderRecord(const Order& order, wire::OrderRecord* out) const;
  uint32_t Held(uint32_t owner, uint64_t buyer) const;
  void AddHeld(uint32_t owner, uint64_t buyer, int32_t delta);
  void AddHeldChecked(uint32_t owner, uint64_t buyer, uint32_t held, uint32_t quantity);
  void CloseDrop(Drop& drop, uint64_t now_us);
  // Sales figures: a paid order's sale, and a refund of `fen` of order `order_id` (its
  // buckets found from the ring, or only the total and its merchant's country once the ring
  // dropped it).
  void CountSale(const Order& order);
  void CountRefund(uint64_t order_id, int64_t fen);
  void CheckSales() const;  // CheckInvariants
  bool ClosesBefore(uint32_t drop_a, uint32_t drop_b) const;  // close-heap order

  const EngineConfig config_;
  uint64_t last_op_ = 0;
  uint64_t last_timestamp_us_ = 0;
  EngineStats stats_;

  BigArray<Merchant> merchants_;
  uint32_t merchant_count_ = 0;
  FixedMap<uint64_t> merchant_index_;

  FixedTable<Sku> skus_;  // rows in their hash slots: a SKU lookup is one cache miss

  BigArray<Drop> drops_;
  uint32_t drop_count_ = 0;
  BigArray<SalesFigures> drop_sales_;  // by drop index
  std::unique_ptr<EngineSales> sales_;
  FixedMap<uint64_t> drop_index_;
  // Open and scheduled drops ordered by closes_at (a binary min-heap of drop indexes).
  BigArray<uint32_t> close_heap_;
  uint32_t close_heap_count_ = 0;

  // Order ring: order id n (from 1) lives in slot n % order_slot_count.
  BigArray<Order> orders_;
  uint64_t next_order_id_ = 1;
  uint32_t next_slot_ = 1;  // next_order_id_ % order_slot_count, kept without a division
  uint64_t expiry_cursor_ = 1;  // every order below it is past its pay-by or final
  KeyIndex key_index_;  // idempotency key -> slot (confirmed by orders_[slot].key)
  KeyFilter evicted_keys_;  // keys the ring has evicted (off: evicted_key_count_max = 0)
  uint64_t KeyOfSlot(uint32_t slot) const;  // engine_state.h

  FixedMap<HoldingKey, HoldingHash> holdings_;  // value = units held

  // Coupons: the table, the claims by (buyer, coupon index) (claims never leave), and the
  // orders with coupons in order id order, a ring from coupon_order_head_.
  BigArray<CouponRow> coupons_;
  uint32_t coupon_count_ = 0;
  FixedMap<uint64_t> coupon_index_;
  BigArray<ClaimRow> claims_;
  uint32_t claim_count_ = 0;
  KeyIndex claim_index_;  // PairTag(buyer, coupon index) -> claim (confirmed by its row)
  BigArray<CouponOrderRow> coupon_orders_;
  uint32_t coupon_order_head_ = 0;
  uint32_t coupon_order_count_ = 0;

  // Pre-sales and their deposits (by (buyer, pre-sale index)).
  BigArray<PresaleRow> presales_;
  uint32_t presale_count_ = 0;
  FixedMap<uint64_t> presale_index_;
  BigArray<DepositRow> deposits_;
  uint32_t deposit_count_ = 0;
  KeyIndex deposit_index_;  // PairTag(buyer, pre-sale index) -> deposit (confirmed by its row)

  std::array<Lookahead, kLookaheadSize> lookahead_{};  // scratch of the batch loop

  BigArray<ApiKeyRow> api_keys_;
  uint32_t api_key_count_ = 0;

  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Fulfilment> fulfilment_;
  static constexpr uint32_t kDeliveredDrainChunk = 256;
  std::unique_ptr<DeliveredOrder[]> delivered_;  // scratch for draining fulfilment's outbox
};

std::string_view BatchErrorName(BatchError error);

// The engine's counters and capacities as query records (docs/protocol.md, get_stats and
// get_limits).
wire::StatsRecord StatsRecordOf(const EngineStats& stats);
wire::LimitsRecord LimitsOf(const EngineConfig& config);

}  // namespace eleven::engine
