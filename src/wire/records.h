// Command, result and query records: fixed-size, little-endian, no implicit padding.
// The grammar and the meaning of every field are in docs/wire-format.md; the sizes and
// offsets here are asserted so that a layout change cannot slip in unnoticed.
//
// Every command is kCommandSize bytes and starts with its operation byte; reserved bytes
// must be zero (so later versions can give them meaning). Every result is kResultSize bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "wire/codes.h"

namespace eleven::wire {

inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kCommandSize = 128;
inline constexpr size_t kResultSize = 32;
inline constexpr int kOrderLineCountMax = 8;
inline constexpr uint32_t kLineQuantityMax = 10000;   // units of one SKU in one order line
// The most one order may cost: what one ledger transfer may move (wire/ledger.h,
// kLedgerAmountMaxFen), so every accepted order can be paid: 1 trillion yuan.
inline constexpr int64_t kOrderTotalMaxFen = 100'000'000'000'000;
inline constexpr int64_t kPriceMaxFen = 10'000'000'000;  // 100 million yuan per unit
inline constexpr uint32_t kStockMax = 2'000'000'000;   // units of one SKU
inline constexpr uint8_t kCityTierMax = 5;            // tiers 1 (Beijing, Shanghai, ...) .. 5
inline constexpr uint16_t kRegionMax = 999;           // province/region code, 1..999

// Operation numbers: 1..31 catalog, inventory, drops and orders (this file); 32..63 ledger and
// payments (wire/ledger.h); 64..95 fulfilment (wire/fulfilment.h). Those modules define
// their operations as `constexpr Operation` values in their own headers.
enum class Operation : uint8_t {
  kCreateMerchant = 1,
  kCreateSku = 2,
  kRestock = 3,
  kSetPrice = 4,
  kCreateDrop = 5,
  kCloseDrop = 6,
  kPlaceOrder = 7,
  kPayOrder = 8,
  kCancelOrder = 9,
  kCreateCoupon = 10,  // docs/promotions.md
  kClaimCoupon = 11,
  kCreatePresale = 12,  // docs/promotions.md, "Pre-sale"
  kPayDeposit = 13,
  kPayBalance = 14,
};
inline constexpr uint8_t kOperationMax = 14;  // the last order-engine operation

// The last 8 bytes of every command: who issued it (docs/access.md). The server writes
// `issuer` over whatever a client sent: the key it authenticated, or 0 for the local
// operator. `reserved` must be zero.
struct Trailer {
  uint32_t issuer;  // key id; 0 = the local operator
  uint32_t reserved;
};
inline constexpr size_t kTrailerOffset = kCommandSize - sizeof(Trailer);

enum class MerchantFlags : uint8_t { kOverseas = 1 };
inline constexpr uint8_t kMerchantFlagsAll = 1;

struct CreateMerchant {
  Operation operation;  // kCreateMerchant
  uint8_t flags;        // MerchantFlags
  char country[2];      // ISO 3166-1 alpha-2, upper case ("CN", "JP", ...)
  uint32_t reserved0;
  uint64_t merchant_id;  // nonzero
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CreateSku {
  Operation operation;  // kCreateSku
  uint8_t reserved0[3];
  uint32_t per_buyer_limit;  // units one buyer may hold; 0 = no limit
  uint64_t sku_id;           // nonzero
  uint64_t merchant_id;
  int64_t price_fen;  // 1 .. kPriceMaxFen
  uint32_t stock;     // initial units, 0 .. kStockMax
  uint8_t reserved[84];
  Trailer trailer;  // issuer (docs/access.md)
};

struct Restock {
  Operation operation;  // kRestock
  uint8_t reserved0[3];
  uint32_t quantity;  // 1 .. kStockMax
  uint64_t sku_id;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

struct SetPrice {
  Operation operation;  // kSetPrice
  uint8_t reserved0[7];
  uint64_t sku_id;
  int64_t price_fen;
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CreateDrop {
  Operation operation;  // kCreateDrop
  uint8_t reserved0[3];
  uint32_t per_buyer_limit;  // units one buyer may hold from this drop; 0 = no limit
  uint64_t drop_id;          // nonzero
  uint64_t sku_id;
  int64_t live_price_fen;
  uint32_t quota;  // units moved from the SKU's available stock into the drop
  uint32_t reserved1;
  uint64_t opens_at_us;   // log time
  uint64_t closes_at_us;  // log time, > opens_at_us; unsold quota returns to the SKU
  uint8_t reserved[64];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CloseDrop {
  Operation operation;  // kCloseDrop
  uint8_t reserved0[7];
  uint64_t drop_id;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

// A place order may redeem up to kOrderCouponCountMax coupons (docs/promotions.md): their ids
// ride in the last coupon_count sku_id slots, whose quantities are zero, so line_count +
// coupon_count <= kOrderLineCountMax.
inline constexpr int kOrderCouponCountMax = 2;
struct PlaceOrder {
  Operation operation;  // kPlaceOrder
  uint8_t line_count;   // 1 .. kOrderLineCountMax - coupon_count
  uint8_t city_tier;    // 1 .. kCityTierMax
  uint8_t coupon_count;  // 0 .. kOrderCouponCountMax
  uint16_t region;  // 1 .. kRegionMax
  uint16_t reserved1;
  uint64_t idempotency_key;  // nonzero; a repeat of the same request returns the first result
  uint64_t merchant_id;
  uint64_t buyer_id;  // nonzero
  uint64_t drop_id;   // 0 = no drop
  uint64_t sku_id[kOrderLineCountMax];
  uint16_t quantity[kOrderLineCountMax];
  Trailer trailer;  // issuer (docs/access.md)
};

struct PayOrder {
  Operation operation;     // kPayOrder
  uint8_t payment_method;  // with payments on: wire::PaymentMethod (1..4); with them off: 0
  uint8_t instalment_periods;  // 3, 6, 12 or 24 for an instalment method; else 0
  uint8_t reserved0[5];
  uint64_t order_id;
  int64_t amount_fen;  // must equal the order's total
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CancelOrder {
  Operation operation;  // kCancelOrder
  uint8_t reserved0[7];
  uint64_t order_id;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

enum class CouponKind : uint8_t {
  kFixed = 1,      // amount_fen off an order worth more than amount_fen
  kThreshold = 2,  // amount_fen off an order worth at least threshold_fen
};

struct CreateCoupon {
  Operation operation;  // kCreateCoupon
  CouponKind kind;
  uint8_t reserved0[2];
  uint32_t count;      // claims it allows, 1 .. kStockMax
  uint64_t coupon_id;  // nonzero
  uint64_t merchant_id;  // 0: a platform coupon; else a shop coupon of this merchant
  int64_t amount_fen;    // 1 .. kPriceMaxFen
  int64_t threshold_fen;  // kThreshold: amount_fen + 1 .. kOrderTotalMaxFen; kFixed: 0
  uint64_t starts_at_us;  // log time; claims and redemptions in [starts_at_us, ends_at_us)
  uint64_t ends_at_us;
  uint64_t drop_id;  // 0 = any order; else only in this drop's orders (claimed while it is open)
  uint8_t reserved[56];
  Trailer trailer;  // issuer (docs/access.md)
};

struct ClaimCoupon {
  Operation operation;  // kClaimCoupon
  uint8_t reserved0[7];
  uint64_t coupon_id;
  uint64_t buyer_id;  // nonzero
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

// Pre-sale (docs/promotions.md). Windows are log time: deposit_starts_us < deposit_ends_us <=
// balance_starts_us < balance_ends_us.
struct CreatePresale {
  Operation operation;  // kCreatePresale
  uint8_t reserved0[3];
  uint32_t per_buyer_limit;  // units one buyer's deposit may cover; 0 = no limit
  uint64_t presale_id;       // nonzero
  uint64_t sku_id;
  int64_t price_fen;          // the unit price: 1 .. the SKU's list price
  int64_t deposit_fen;        // per unit: 1 .. deposit_value_fen
  int64_t deposit_value_fen;  // what a unit's deposit counts for at the balance: < price_fen
  uint32_t quota;             // units moved from the SKU's available stock
  uint32_t reserved1;
  uint64_t deposit_starts_us;
  uint64_t deposit_ends_us;
  uint64_t balance_starts_us;
  uint64_t balance_ends_us;
  uint8_t reserved[32];
  Trailer trailer;  // issuer (docs/access.md)
};

struct PayDeposit {
  Operation operation;     // kPayDeposit
  uint8_t payment_method;  // with payments on: balance (1) or card (2); with them off: 0
  uint8_t reserved0[2];
  uint32_t quantity;  // units, 1 .. the pre-sale's per-buyer limit
  uint64_t presale_id;
  uint64_t buyer_id;  // nonzero
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct PayBalance {
  Operation operation;         // kPayBalance
  uint8_t payment_method;      // as pay_order's
  uint8_t instalment_periods;  // as pay_order's
  uint8_t city_tier;           // the order's: 1 .. kCityTierMax
  uint16_t region;             // the order's: 1 .. kRegionMax
  uint16_t reserved0;
  uint64_t presale_id;
  uint64_t buyer_id;
  int64_t amount_fen;  // must equal the balance: (price - deposit value) x quantity
  uint8_t reserved[88];
  Trailer trailer;  // issuer (docs/access.md)
};

// Any command: read `operation` first (every member starts with it), then the member it names.
union Command {
  Operation operation;
  CreateMerchant create_merchant;
  CreateSku create_sku;
  Restock restock;
  SetPrice set_price;
  CreateDrop create_drop;
  CloseDrop close_drop;
  PlaceOrder place_order;
  PayOrder pay_order;
  CancelOrder cancel_order;
  CreateCoupon create_coupon;
  ClaimCoupon claim_coupon;
  CreatePresale create_presale;
  PayDeposit pay_deposit;
  PayBalance pay_balance;
  uint8_t bytes[kCommandSize];
};

enum class OrderState : uint8_t {
  kNone = 0,
  kPending = 1,    // stock reserved, waiting for payment until pay_by
  kPaid = 2,       // stock sold
  kCancelled = 3,  // stock returned
  kExpired = 4,    // not paid by pay_by; stock returned
  kRejected = 5,   // the attempt was refused; `code` says why; nothing was reserved
  kDelivered = 6,  // paid, every parcel delivered or some returned (fulfilment on); settled
  kReturned = 7,   // paid, every parcel returned (fulfilment on); refunded (payments on)
};

// Result::flags.
enum class ResultFlags : uint8_t {
  // The command repeated one already applied (the same request under the same idempotency
  // key, order or id): nothing changed, and the result is the first one's (docs/engine.md).
  kReplayed = 1,
};

// One result per command, in command order.
struct Result {
  Code code;
  Operation operation;
  OrderState state;  // place/pay/cancel: the order's state after the command
  uint8_t flags;     // ResultFlags
  uint8_t reserved0[3];
  uint64_t id;        // place: the order id (also for remembered rejections); else the object id
  int64_t amount_fen;  // place/pay: the order total
  uint64_t at_us;      // place: pay-by deadline; pay/cancel: the log time applied
};

// Query answers (not logged; read from the state at a log position).

// get_merchant (27).
struct MerchantRecord {
  uint64_t merchant_id;
  char country[2];  // ISO 3166-1 alpha-2
  uint8_t flags;    // MerchantFlags (overseas)
  uint8_t reserved[5];
};
struct OrderRecord {
  uint64_t order_id;
  uint64_t idempotency_key;
  uint64_t merchant_id;
  uint64_t buyer_id;
  uint64_t drop_id;
  uint64_t created_at_us;
  uint64_t pay_by_us;
  int64_t total_fen;
  OrderState state;
  uint8_t line_count;
  Code code;  // ok, or why the attempt was rejected
  uint16_t region;
  uint8_t city_tier;
  uint8_t reserved0;
  uint64_t sku_id[kOrderLineCountMax];
  uint16_t quantity[kOrderLineCountMax];
  // Coupons redeemed (docs/promotions.md): 0 = none. total_fen is what the buyer pays: the
  // lines' value less both discounts.
  uint64_t platform_coupon_id;
  uint64_t shop_coupon_id;
  int64_t platform_discount_fen;
  int64_t shop_discount_fen;
};

struct SkuRecord {
  uint64_t sku_id;
  uint64_t merchant_id;
  int64_t price_fen;
  uint32_t available;  // salable now
  uint32_t reserved;   // held by pending orders
  uint32_t sold;       // paid
  uint32_t in_drops;   // quota held by open drops, not yet reserved
  uint64_t received;   // initial + restocked = available + in_drops + reserved + sold
  uint32_t per_buyer_limit;
  uint32_t reserved0;
};

enum class DropState : uint8_t { kScheduled = 1, kOpen = 2, kClosed = 3 };

struct DropRecord {
  uint64_t drop_id;
  uint64_t sku_id;
  int64_t live_price_fen;
  uint32_t quota;
  uint32_t available;  // quota left to sell
  uint32_t reserved;   // held by pending drop orders
  uint32_t sold;       // paid drop orders
  uint32_t returned;   // given back to the SKU (unsold at close, or released after it)
  uint32_t per_buyer_limit;
  uint64_t opens_at_us;
  uint64_t closes_at_us;
  uint64_t sold_out_at_us;  // log time the quota first ran out; 0 if it has not
  DropState state;
  uint8_t reserved0[7];
};

// get_coupon (31).
struct CouponRecord {
  uint64_t coupon_id;
  uint64_t merchant_id;  // 0: platform
  uint64_t drop_id;
  int64_t amount_fen;
  int64_t threshold_fen;  // what the order must reach (a fixed coupon: amount_fen + 1)
  uint64_t starts_at_us;
  uint64_t ends_at_us;
  uint32_t count;
  uint32_t claimed;
  uint32_t held;      // claims held by unpaid orders
  uint32_t redeemed;  // claims used by paid orders
  int64_t discount_fen;  // given off its paid orders
  CouponKind kind;
  uint8_t reserved[7];
};

enum class ClaimState : uint8_t {
  kClaimed = 1,  // usable
  kHeld = 2,     // by an unpaid order (order_id)
  kUsed = 3,     // by a paid order (order_id); not given back by a refund
};

// get_coupon_claim (32): by (coupon id, buyer id).
struct CouponClaimRecord {
  uint64_t coupon_id;
  uint64_t buyer_id;
  uint64_t order_id;  // the order holding or that used it; 0 while claimed
  uint64_t claimed_at_us;
  ClaimState state;
  uint8_t reserved[7];
};

enum class PresaleState : uint8_t {
  kScheduled = 1,  // before the deposit window
  kDeposits = 2,   // in the deposit window
  kWaiting = 3,    // between the windows
  kBalance = 4,    // in the balance window
  kClosed = 5,     // after it: unpaid deposits forfeited
};

// get_presale (33).
struct PresaleRecord {
  uint64_t presale_id;
  uint64_t sku_id;
  uint64_t merchant_id;
  int64_t price_fen;
  int64_t deposit_fen;
  int64_t deposit_value_fen;
  uint64_t deposit_starts_us;
  uint64_t deposit_ends_us;
  uint64_t balance_starts_us;
  uint64_t balance_ends_us;
  // quota = available + deposited + converted + returned; forfeited units are in returned.
  uint32_t quota;
  uint32_t available;
  uint32_t deposited;  // under a paid deposit, balance unpaid
  uint32_t converted;  // balance paid
  uint32_t returned;
  uint32_t forfeited;
  uint32_t per_buyer_limit;
  uint32_t deposits;  // deposits paid (buyers)
  int64_t forfeited_fen;
  PresaleState state;
  uint8_t reserved[7];
};

enum class DepositState : uint8_t {
  kPaid = 1,       // balance not paid yet
  kConverted = 2,  // balance paid: order_id is its order
  kForfeited = 3,  // balance window ended unpaid: the deposit went to the merchant
};

// get_deposit (34): by (pre-sale id, buyer id).
struct DepositRecord {
  uint64_t presale_id;
  uint64_t buyer_id;
  uint64_t money_id;  // the deposit's payment in the ledger: kDepositMoneyIdBase + its number
  uint64_t order_id;  // the balance's order; 0 until then
  uint64_t paid_at_us;
  int64_t deposit_fen;  // paid: deposit_fen x quantity
  int64_t balance_fen;  // due: (price - deposit value) x quantity
  uint32_t quantity;
  DepositState state;
  uint8_t reserved[3];
};
// Deposit number n's payment id in the ledger, outside the order ids.
inline constexpr uint64_t kDepositMoneyIdBase = uint64_t{1} << 55;

static_assert(sizeof(Command) == kCommandSize);
static_assert(sizeof(CreatePresale) == kCommandSize && sizeof(PayDeposit) == kCommandSize &&
              sizeof(PayBalance) == kCommandSize);
static_assert(sizeof(PresaleRecord) == 128 && sizeof(DepositRecord) == 64);
static_assert(sizeof(CreateCoupon) == kCommandSize && sizeof(ClaimCoupon) == kCommandSize);
static_assert(sizeof(CouponRecord) == 88 && sizeof(CouponClaimRecord) == 40);
static_assert(sizeof(MerchantRecord) == 16);
static_assert(sizeof(CreateMerchant) == kCommandSize && sizeof(CreateSku) == kCommandSize);
static_assert(sizeof(Restock) == kCommandSize && sizeof(SetPrice) == kCommandSize);
static_assert(sizeof(CreateDrop) == kCommandSize && sizeof(CloseDrop) == kCommandSize);
static_assert(sizeof(PlaceOrder) == kCommandSize && sizeof(PayOrder) == kCommandSize);
static_assert(sizeof(CancelOrder) == kCommandSize);
static_assert(sizeof(Result) == kResultSize && offsetof(Result, flags) == 4);
static_assert(sizeof(OrderRecord) == 184);
static_assert(sizeof(SkuRecord) == 56);
static_assert(sizeof(DropRecord) == 80);
static_assert(offsetof(PlaceOrder, sku_id) == 40 && offsetof(PlaceOrder, quantity) == 104);
static_assert(offsetof(PlaceOrder, trailer) == kTrailerOffset && offsetof(CancelOrder, trailer) == kTrailerOffset);
static_assert(std::is_trivially_copyable_v<Command> && std::is_trivially_copyable_v<Result>);

// True if every byte of `bytes` is zero.
bool AllZero(const void* bytes, size_t size);

// A place order's reserved bytes are all zero: CheckStructure's test for it, inline for the
// engine's hot path, which applies place orders without the general check.
inline bool ReservedZero(const PlaceOrder& c) {
  return c.reserved1 == 0 && c.trailer.reserved == 0;
}

// Any command's issuer and its trailer's reserved word (every command ends with a Trailer).
// The trailer's issuer word: the key id in bits 0..30; bit 31 says that the server resolved
// a place order's key against the archive and found no order under it (docs/archive.md). The
// server writes the whole word over whatever the client sent (SetIssuer), so only the server
// sets the bit (MarkArchiveChecked).
inline constexpr uint32_t kIssuerArchiveChecked = 1u << 31;
inline uint32_t KeyIdOfIssuer(uint32_t issuer) { return issuer & ~kIssuerArchiveChecked; }
inline uint32_t IssuerOf(const Command& c) {
  uint32_t issuer;
  std::memcpy(&issuer, c.bytes + kTrailerOffset, sizeof(issuer));
  return KeyIdOfIssuer(issuer);
}
inline void SetIssuer(Command& c, uint32_t issuer) {
  std::memcpy(c.bytes + kTrailerOffset, &issuer, sizeof(issuer));
}
inline bool ArchiveChecked(const Trailer& t) { return (t.issuer & kIssuerArchiveChecked) != 0; }
inline void MarkArchiveChecked(Command& c) {
  const uint32_t issuer = IssuerOf(c) | kIssuerArchiveChecked;
  std::memcpy(c.bytes + kTrailerOffset, &issuer, sizeof(issuer));
}
inline bool TrailerReservedZero(const Command& c) {
  uint32_t reserved;
  std::memcpy(&reserved, c.bytes + kTrailerOffset + sizeof(uint32_t), sizeof(reserved));
  return reserved == 0;
}

// Whether a result answers a repeat of a command already applied.
inline bool IsReplay(const Result& r) {
  return (r.flags & static_cast<uint8_t>(ResultFlags::kReplayed)) != 0;
}

// Checks an order-engine command's structure only (operation 1..kOperationMax, reserved
// bytes zero); the engine checks everything that needs state. Returns ok or the first problem.
Code CheckStructure(const Command& command);

}  // namespace eleven::wire
