#include "server/queries.h"

#include <array>
#include <cstring>

#include "base/assert.h"

namespace eleven::server {

namespace {

using protocol::Operation;
using wire::Code;

template <typename R>
R* As(void* record) {
  return static_cast<R*>(record);
}

bool IsLedgerQuery(Operation op) {
  return (op >= Operation::kGetAccount && op <= Operation::kGetAccountTransfers);
}
bool IsFulfilmentQuery(Operation op) {
  return (op >= Operation::kGetParcel && op <= Operation::kGetCourierHour) || op == Operation::kGetWarehouse ||
         op == Operation::kGetCourier;
}

// The code of a query whose module is off, or ok.
Code ModuleCode(const engine::Engine& engine, Operation op) {
  if (IsLedgerQuery(op) && engine.ledger() == nullptr) return Code::payments_disabled;
  if (IsFulfilmentQuery(op) && engine.fulfilment() == nullptr) return Code::fulfilment_disabled;
  return Code::ok;
}

Code AnswerLedger(const engine::Ledger& ledger, Operation op, uint64_t id, void* record) {
  switch (op) {
    case Operation::kGetAccount: return ledger.LookupAccount(id, As<wire::AccountRecord>(record));
    case Operation::kGetTransfer: return ledger.LookupTransfer(id, As<wire::TransferRecord>(record));
    case Operation::kGetOrderMoney: return ledger.LookupOrderMoney(id, As<wire::OrderMoneyRecord>(record));
    case Operation::kGetPlan: return ledger.LookupPlan(id, As<wire::PlanRecord>(record));
    case Operation::kGetMerchantCredit:
      return ledger.LookupMerchantCredit(id, As<wire::MerchantCreditRecord>(record));
    case Operation::kGetBuyerCredit: return ledger.LookupBuyerCredit(id, As<wire::BuyerCreditRecord>(record));
    default: break;
  }
  ELEVEN_ASSERT(false);  // ShapeOf and IsLedgerQuery route only these here
  return Code::invalid_operation;
}

Code AnswerFulfilment(const engine::Fulfilment& fulfilment, Operation op, const uint64_t* key,
                      void* record) {
  switch (op) {
    case Operation::kGetParcel: return fulfilment.QueryParcel(key[0], As<wire::ParcelRecord>(record));
    case Operation::kGetShipment: return fulfilment.QueryShipment(key[0], As<wire::ShipmentRecord>(record));
    case Operation::kGetFigures: *As<wire::FiguresRecord>(record) = fulfilment.QueryFigures(); return Code::ok;
    case Operation::kGetWarehouseStock: {
      auto* stock = As<protocol::WarehouseStockRecord>(record);
      stock->warehouse_id = key[0];
      stock->sku_id = key[1];
      return fulfilment.QueryStock(key[0], key[1], &stock->units);
    }
    case Operation::kGetWarehouseHour:
      return fulfilment.QueryWarehouseHour(key[0], key[1], As<wire::HourFigure>(record));
    case Operation::kGetCourierHour:
      return fulfilment.QueryCourierHour(key[0], key[1], As<wire::HourFigure>(record));
    case Operation::kGetWarehouse: return fulfilment.QueryWarehouse(key[0], As<wire::WarehouseRecord>(record));
    case Operation::kGetCourier: return fulfilment.QueryCourier(key[0], As<wire::CourierRecord>(record));
    default: break;
  }
  ELEVEN_ASSERT(false);
  return Code::invalid_operation;
}

// One entry of a by-key or keyless query. `key` points at the request record's words.
Code AnswerEntry(const engine::Engine& engine, Operation op, const uint64_t* key, void* record) {
  const Code module = ModuleCode(engine, op);
  if (module != Code::ok) return module;
  switch (op) {
    case Operation::kGetOrder: return engine.GetOrder(key[0], As<wire::OrderRecord>(record));
    case Operation::kGetOrderByKey: return engine.GetOrderByKey(key[0], As<wire::OrderRecord>(record));
    case Operation::kGetSku: return engine.GetSku(key[0], As<wire::SkuRecord>(record));
    case Operation::kGetDrop: return engine.GetDrop(key[0], As<wire::DropRecord>(record));
    case Operation::kGetDigest: {
      auto* digest = As<protocol::DigestRecord>(record);
      const Digest128 d = engine.Digest();
      digest->op = engine.last_op();
      digest->timestamp_us = engine.last_timestamp_us();
      digest->digest_low = d.low;
      digest->digest_high = d.high;
      return Code::ok;
    }
    case Operation::kGetStats: *As<wire::StatsRecord>(record) = engine::StatsRecordOf(engine.stats()); return Code::ok;
    case Operation::kGetLimits: *As<wire::LimitsRecord>(record) = engine::LimitsOf(engine.config()); return Code::ok;
    case Operation::kGetKey: return engine.GetKey(key[0], As<wire::KeyRecord>(record));
    case Operation::kGetMerchant: return engine.GetMerchant(key[0], As<wire::MerchantRecord>(record));
    case Operation::kGetCoupon: return engine.GetCoupon(key[0], As<wire::CouponRecord>(record));
    case Operation::kGetCouponClaim:
      return engine.GetCouponClaim(key[0], key[1], As<wire::CouponClaimRecord>(record));
    case Operation::kGetPresale: return engine.GetPresale(key[0], As<wire::PresaleRecord>(record));
    case Operation::kGetDeposit: return engine.GetDeposit(key[0], key[1], As<wire::DepositRecord>(record));
    default: break;
  }
  if (IsLedgerQuery(op)) return AnswerLedger(*engine.ledger(), op, key[0], record);
  return AnswerFulfilment(*engine.fulfilment(), op, key, record);
}

// Whether a merchant may read an account: its own wallet or loan (docs/ledger.md, id spaces).
bool MerchantAccount(uint64_t account_id, uint64_t merchant_id) {
  const uint64_t space = account_id >> wire::kIdSpaceShift;
  const uint64_t owner = account_id & ((uint64_t{1} << wire::kIdSpaceShift) - 1);
  return (space == 4 || space == 5) && owner == merchant_id;
}

// Whether the caller may read an order's records: its storefront, or its merchant.
bool OwnsOrder(const engine::Engine& engine, uint64_t order_id, const Caller& caller) {
  uint64_t storefront = 0;
  uint64_t merchant_id = 0;
  if (!engine.OrderParties(order_id, &storefront, &merchant_id)) return true;  // not found says so
  if (caller.role == wire::Role::kStorefront) return storefront == caller.scope_id;
  return caller.role == wire::Role::kMerchant && merchant_id == caller.scope_id;
}

bool OwnsParcel(const engine::Engine& engine, uint64_t waybill, const Caller& caller) {
  wire::ParcelRecord parcel;
  if (engine.fulfilment() == nullptr || engine.fulfilment()->QueryParcel(waybill, &parcel) != Code::ok) {
    return true;  // the query says why not
  }
  if (caller.role == wire::Role::kCourier) return parcel.courier_id == caller.scope_id;
  return OwnsOrder(engine, parcel.order_id, caller);
}

}  // namespace

// docs/access.md, "Roles": public reads for every key, the rest by ownership.
wire::Code QueryAccess(const engine::Engine& engine, Operation op, const uint64_t* key,
                       const Caller& caller) {
  if (caller.role == wire::Role::kOperator) return Code::ok;
  if (caller.role == wire::Role::kNone) return Code::unauthenticated;
  const wire::Role role = caller.role;
  bool allowed = false;
  switch (op) {
    case Operation::kGetSku:
    case Operation::kGetDrop:
    case Operation::kGetMerchant:
    case Operation::kGetCoupon:
    case Operation::kGetPresale:
    case Operation::kGetWarehouse:
    case Operation::kGetFigures:
    case Operation::kGetWarehouseHour:
    case Operation::kGetCourierHour:
    case Operation::kGetStats:
    case Operation::kGetLimits: allowed = true; break;
    case Operation::kGetDigest:
    case Operation::kGetSales: allowed = role == wire::Role::kViewer; break;
    case Operation::kGetOrder:
    case Operation::kGetOrderMoney:
    case Operation::kGetPlan:
    case Operation::kGetShipment: allowed = OwnsOrder(engine, key[0], caller); break;
    case Operation::kGetOrderByKey: {
      wire::OrderRecord order;
      allowed = engine.GetOrderByKey(key[0], &order) != Code::ok || OwnsOrder(engine, order.order_id, caller);
      break;
    }
    case Operation::kGetAccount:
    case Operation::kGetAccountTransfers:
      allowed = role == wire::Role::kMerchant && MerchantAccount(key[0], caller.scope_id);
      break;
    case Operation::kGetMerchantCredit: allowed = role == wire::Role::kMerchant && key[0] == caller.scope_id; break;
    case Operation::kGetCourier: allowed = role == wire::Role::kViewer || (role == wire::Role::kCourier && key[0] == caller.scope_id); break;
    case Operation::kGetParcel:
    case Operation::kGetTimeline: allowed = OwnsParcel(engine, key[0], caller); break;
    case Operation::kGetCouponClaim: {  // storefronts act for buyers; a merchant sees its coupons'
      wire::CouponRecord coupon;
      allowed = role == wire::Role::kStorefront ||
                (role == wire::Role::kMerchant &&
                 (engine.GetCoupon(key[0], &coupon) != Code::ok || coupon.merchant_id == caller.scope_id));
      break;
    }
    case Operation::kGetDeposit: {  // storefronts act for buyers; a merchant sees its pre-sales'
      wire::PresaleRecord presale;
      allowed = role == wire::Role::kStorefront ||
                (role == wire::Role::kMerchant &&
                 (engine.GetPresale(key[0], &presale) != Code::ok || presale.merchant_id == caller.scope_id));
      break;
    }
    case Operation::kGetWarehouseStock: {
      wire::SkuRecord sku;
      allowed = role == wire::Role::kMerchant &&
                (engine.GetSku(key[1], &sku) != Code::ok || sku.merchant_id == caller.scope_id);
      break;
    }
    default: break;  // transfers by id, buyers' credit, keys, the clock: operators only
  }
  return allowed ? Code::ok : Code::forbidden;
}

namespace {

// Writes one entry: the code, and the record (null, so zeroed, unless the code is ok).
void PutEntry(std::byte* entry, size_t entry_size, Code code, const void* record) {
  ELEVEN_ASSERT((code == Code::ok) == (record != nullptr));
  std::memset(entry, 0, protocol::kQueryEntryHeadSize);
  std::memcpy(entry, &code, sizeof(code));
  const size_t record_size = entry_size - protocol::kQueryEntryHeadSize;
  if (record != nullptr) {
    std::memcpy(entry + protocol::kQueryEntryHeadSize, record, record_size);
  } else {
    std::memset(entry + protocol::kQueryEntryHeadSize, 0, record_size);
  }
}

}  // namespace

QueryAnswerer::QueryAnswerer()
    : transfers_(std::make_unique<wire::TransferRecord[]>(wire::kAccountTransfersMax)),
      sales_(std::make_unique<wire::SalesRecord[]>(wire::kSalesFixedEntriesMax + wire::kSalesDropsMax)) {}

uint32_t QueryAnswerer::Answer(const engine::Engine& engine, Operation op,
                               std::span<const uint64_t> keys, uint32_t count,
                               std::span<std::byte> body, const Caller& caller) {
  const protocol::QueryShape shape = protocol::ShapeOf(op);
  ELEVEN_ASSERT(shape != protocol::QueryShape::kNotQuery && count >= 1);
  ELEVEN_ASSERT(keys.size() * sizeof(uint64_t) == count * protocol::RequestRecordSize(op));
  if (shape == protocol::QueryShape::kList) {
    const Code access = QueryAccess(engine, op, keys.data(), caller);
    if (access == Code::ok) return AnswerList(engine, op, keys, body);
    PutEntry(body.data(), protocol::ReplyRecordSize(op), access, nullptr);
    return 1;
  }
  const size_t entry_size = protocol::ReplyRecordSize(op);
  const size_t words = protocol::RequestRecordSize(op) / sizeof(uint64_t);
  ELEVEN_ASSERT(body.size() >= count * entry_size);
  static constexpr uint64_t kNoKey[2] = {0, 0};  // keyless queries read no key
  for (uint32_t i = 0; i < count; i++) {
    std::byte* entry = body.data() + i * entry_size;
    std::memset(entry, 0, entry_size);
    void* record = entry + protocol::kQueryEntryHeadSize;
    const uint64_t* key = words == 0 ? kNoKey : keys.data() + i * words;
    Code code = QueryAccess(engine, op, key, caller);
    if (code == Code::ok) code = AnswerEntry(engine, op, key, record);
    if (code != Code::ok) std::memset(record, 0, entry_size - protocol::kQueryEntryHeadSize);
    std::memcpy(entry, &code, sizeof(code));
  }
  return count;
}

uint32_t QueryAnswerer::AnswerList(const engine::Engine& engine, Operation op,
                                   std::span<const uint64_t> keys, std::span<std::byte> body) {
  const size_t entry_size = protocol::ReplyRecordSize(op);
  ELEVEN_ASSERT(body.size() >= entry_size);  // room for at least the refusing entry
  Code code = ModuleCode(engine, op);
  uint32_t n = 0;
  if (op == Operation::kGetTimeline) {
    std::array<wire::TimelineEntry, wire::kTimelineEventCountMax> events;
    if (code == Code::ok) code = engine.fulfilment()->QueryTimeline(keys[0], events, &n);
    if (code != Code::ok) n = 0;
    ELEVEN_ASSERT(n * entry_size <= body.size());
    for (uint32_t i = 0; i < n; i++) PutEntry(body.data() + i * entry_size, entry_size, code, &events[i]);
  } else if (op == Operation::kGetSales) {
    wire::SalesQuery query;
    std::memcpy(&query, keys.data(), sizeof(query));
    if (query.reserved != 0) code = Code::reserved_nonzero;
    if (code == Code::ok && query.drop_limit > wire::kSalesDropsMax) code = Code::invalid_query;
    if (code == Code::ok) {
      n = engine.QuerySales(query.drop_limit,
                            std::span(sales_.get(), wire::kSalesFixedEntriesMax + wire::kSalesDropsMax));
    }
    ELEVEN_ASSERT(n * entry_size <= body.size());
    for (uint32_t i = 0; i < n; i++) PutEntry(body.data() + i * entry_size, entry_size, code, &sales_[i]);
  } else {
    ELEVEN_ASSERT(op == Operation::kGetAccountTransfers);
    protocol::AccountTransfersQuery query;
    std::memcpy(&query, keys.data(), sizeof(query));
    if (code == Code::ok && (query.reserved[0] | query.reserved[1] | query.reserved[2]) != 0) {
      code = Code::reserved_nonzero;
    }
    if (code == Code::ok && (query.limit == 0 || query.limit > wire::kAccountTransfersMax)) {
      code = Code::invalid_query;
    }
    size_t found = 0;
    if (code == Code::ok) {
      code = engine.ledger()->AccountTransfers(query.account_id, query.flags, query.after_transfer_id,
                                               std::span(transfers_.get(), query.limit), &found);
    }
    n = code == Code::ok ? static_cast<uint32_t>(found) : 0;
    ELEVEN_ASSERT(n * entry_size <= body.size());
    for (uint32_t i = 0; i < n; i++) PutEntry(body.data() + i * entry_size, entry_size, code, &transfers_[i]);
  }
  if (code == Code::ok) return n;
  PutEntry(body.data(), entry_size, code, nullptr);
  return 1;
}

}  // namespace eleven::server
