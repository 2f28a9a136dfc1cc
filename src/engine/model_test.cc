// Model-based test: random commands, valid and invalid, go to the engine and to Model, a
// small reference written for clarity over speed (std::map, ids instead of indexes, full
// scans instead of heaps and cursors). Every result must match byte for byte, and after
// every batch the engine's invariants hold and its SKUs, drops, orders and API keys equal
// the model's. Commands come from random issuers (the local operator, each key, revoked and
// unknown keys), and the model says who may do what as docs/access.md does.
//
// Prints its seed; ELEVEN_SEED=<n> replays a run, ELEVEN_MODEL_COMMANDS=<n> sets its length,
// ELEVEN_LONG=1 runs 50 million commands.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/fulfilment/fulfilment_test_util.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/access.h"
#include "wire/country.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::Operation;
using wire::OrderState;
using wire::Role;

// Operation numbers as docs/wire-format.md, docs/ledger.md, docs/fulfilment.md and
// docs/access.md give them, so the model does not lean on the engine's own tables.
constexpr uint8_t kOpCreateSku = 2, kOpRestock = 3, kOpSetPrice = 4, kOpCreateDrop = 5,
                  kOpCloseDrop = 6, kOpPlaceOrder = 7, kOpPayOrder = 8, kOpCancelOrder = 9,
                  kOpCreateCoupon = 10, kOpClaimCoupon = 11,
                  kOpCreatePresale = 12, kOpPayDeposit = 13, kOpPayBalance = 14;
constexpr uint8_t kOpWithdraw = 35, kOpDrawDown = 38, kOpRepayCredit = 39, kOpPayOrderMoney = 40,
                  kOpRefundOrderMoney = 41, kOpConfirmDelivery = 42, kOpRepayInstalment = 43,
                  kOpAfterSalesRefund = 44;
constexpr uint8_t kOpStockWarehouse = 65, kOpShipOrder = 69;
constexpr uint8_t kOpCreateKey = 96, kOpRevokeKey = 97;
// The trailer (docs/wire-format.md): bytes 120..123 the issuer word, whose bit 31 is the
// server's archive-checked mark and the rest the key id; 124..127 reserved.
constexpr size_t kIssuerOffset = 120;
constexpr size_t kTrailerReservedOffset = 124;
constexpr uint32_t kArchiveCheckedBit = 1u << 31;

// The key id: random issuers set bit 31 too, which names no key (the model's filter of evicted
// keys is off, so the mark changes nothing else).
uint32_t IssuerBytes(const wire::Command& c) {
  uint32_t issuer;
  std::memcpy(&issuer, c.bytes + kIssuerOffset, sizeof(issuer));
  return issuer & ~kArchiveCheckedBit;
}
void Stamp(wire::Command& c, uint32_t issuer) {
  std::memcpy(c.bytes + kIssuerOffset, &issuer, sizeof(issuer));
}
bool ZeroBytes(const wire::Command& c, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    if (c.bytes[i] != 0) return false;
  }
  return true;
}
template <typename T>
T FieldAt(const wire::Command& c, size_t offset) {
  T value;
  std::memcpy(&value, c.bytes + offset, sizeof(value));
  return value;
}

struct Model {
  struct Sku {
    uint64_t merchant;
    uint32_t limit;
    int64_t price;
    uint64_t available, in_drops, reserved, sold, received;
  };
  struct Drop {
    uint64_t sku;
    uint32_t limit;
    int64_t price;
    uint64_t quota, available, reserved, sold, returned;
    bool closed;
    uint64_t opens, closes, sold_out_at;
  };
  struct Order {
    uint64_t key, buyer, merchant, drop, created;
    int64_t total;
    OrderState state;
    Code code;
    uint16_t region;
    uint8_t tier;
    std::vector<std::pair<uint64_t, uint32_t>> lines;
    std::vector<uint64_t> request;  // RequestOf the attempt: what a repeat of its key must ask
    uint64_t storefront;            // the storefront that placed it; 0: an operator
  };
  struct Key {
    Role role;
    uint64_t scope;
    std::array<uint8_t, wire::kSecretHashSize> hash;
    bool revoked;
    uint64_t created_at, revoked_at;
    uint32_t created_by, revoked_by;
  };
  struct Who {
    Role role = Role::kNone;
    uint64_t scope = 0;
  };
  // Holdings are keyed by (is drop, sku or drop id, buyer).
  using HoldingKey = std::tuple<bool, uint64_t, uint64_t>;

  EngineConfig config;
  std::map<uint64_t, bool> merchants;
  std::map<uint64_t, Sku> skus;
  std::map<uint64_t, Drop> drops;
  std::map<uint64_t, Order> orders;  // by id; only the last order_slot_count ids
  std::map<uint64_t, uint64_t> keys;  // idempotency key -> order id
  std::map<HoldingKey, uint64_t> holdings;
  uint64_t next_id = 1;
  std::map<Operation, uint64_t> replays;  // answered as replays, by operation
  std::vector<Key> api_keys;              // key id n is api_keys[n - 1]
  uint64_t key_replays = 0;               // revocations of revoked keys
  // The access cases met (the run must meet each): refusals and grants, by a short name.
  std::map<std::string, uint64_t> cases;

  // Every field a place order asks with, in full, and who asks (the engine keeps a hash of
  // them): another storefront's request under the same key is another request.
  static std::vector<uint64_t> RequestOf(const wire::PlaceOrder& c, uint64_t storefront) {
    std::vector<uint64_t> r = {c.line_count, c.city_tier, c.region,  c.merchant_id,
                               c.buyer_id,   c.drop_id,   storefront};
    for (int l = 0; l < c.line_count && l < wire::kOrderLineCountMax; l++) {
      r.push_back(c.sku_id[l]);
      r.push_back(c.quantity[l]);
    }
    return r;
  }

  static wire::Result Replay(wire::Result r) {
    r.code = Code::ok;
    r.flags = uint8_t(wire::ResultFlags::kReplayed);
    return r;
  }

  static wire::Result Plain(Code code, Operation op, uint64_t id) {
    wire::Result r{};
    r.code = code;
    r.operation = op;
    r.id = id;
    return r;
  }

  void Tick(uint64_t now) {
    for (auto& [id, d] : drops) {
      if (!d.closed && d.closes <= now) Close(d);
    }
    for (auto& [id, o] : orders) {
      if (o.state == OrderState::kPending && o.created + config.pay_window_us <= now) {
        Release(o);
        o.state = OrderState::kExpired;
      }
    }
  }

  void Close(Drop& d) {
    skus[d.sku].in_drops -= d.available;
    skus[d.sku].available += d.available;
    d.returned += d.available;
    d.available = 0;
    d.closed = true;
  }

  void Hold(const HoldingKey& k, int64_t delta) {
    holdings[k] += delta;
    if (holdings[k] == 0) holdings.erase(k);
  }
  uint64_t Held(const HoldingKey& k) const {
    auto it = holdings.find(k);
    return it == holdings.end() ? 0 : it->second;
  }

  bool FromDrop(const Order& o, uint64_t sku) const { return o.drop != 0 && drops.at(o.drop).sku == sku; }

  void Release(Order& o) {
    for (auto [sku_id, q] : o.lines) {
      Sku& s = skus[sku_id];
      s.reserved -= q;
      if (FromDrop(o, sku_id)) {
        Drop& d = drops[o.drop];
        d.reserved -= q;
        if (d.closed) {
          s.available += q;
          d.returned += q;
        } else {
          d.available += q;
          s.in_drops += q;
        }
        if (d.limit) Hold({true, o.drop, o.buyer}, -int64_t(q));
      } else {
        s.available += q;
      }
      if (s.limit) Hold({false, sku_id, o.buyer}, -int64_t(q));
    }
  }

  wire::Result OrderResult(uint64_t id, Operation op) const {
    const Order& o = orders.at(id);
    wire::Result r{};
    r.code = o.code;
    r.operation = op;
    r.state = o.state;
    r.id = id;
    r.amount_fen = o.total;
    r.at_us = o.created + config.pay_window_us;
    return r;
  }

  Code CheckOrder(const wire::PlaceOrder& c, uint64_t now, int64_t* total) const {
    if (c.line_count == 0 || c.line_count > wire::kOrderLineCountMax) return Code::invalid_line_count;
    if (c.city_tier == 0 || c.city_tier > wire::kCityTierMax) return Code::invalid_city_tier;
    if (c.region == 0 || c.region > wire::kRegionMax) return Code::invalid_region;
    if (c.buyer_id == 0) return Code::invalid_id;
    if (!merchants.count(c.merchant_id)) return Code::merchant_not_found;
    const Drop* drop = nullptr;
    if (c.drop_id != 0) {
      if (!drops.count(c.drop_id)) return Code::drop_not_found;
      drop = &drops.at(c.drop_id);
      if (skus.at(drop->sku).merchant != c.merchant_id) return Code::drop_of_other_merchant;
      if (drop->closed || now >= drop->closes) return Code::drop_closed;
      if (now < drop->opens) return Code::drop_not_open;
    }
    bool seen = false;
    for (int l = 0; l < c.line_count; l++) {
      if (c.quantity[l] == 0 || c.quantity[l] > wire::kLineQuantityMax) return Code::invalid_quantity;
      if (!skus.count(c.sku_id[l])) return Code::sku_not_found;
      if (skus.at(c.sku_id[l]).merchant != c.merchant_id) return Code::sku_of_other_merchant;
      for (int k = 0; k < l; k++) {
        if (c.sku_id[k] == c.sku_id[l]) return Code::duplicate_line;
      }
      if (drop && drop->sku == c.sku_id[l]) seen = true;
    }
    if (drop && !seen) return Code::drop_sku_not_in_order;
    uint64_t fresh = 0;
    *total = 0;
    for (int l = 0; l < c.line_count; l++) {
      const Sku& s = skus.at(c.sku_id[l]);
      const uint64_t q = c.quantity[l];
      const bool from_drop = drop && drop->sku == c.sku_id[l];
      const HoldingKey sk{false, c.sku_id[l], c.buyer_id}, dk{true, c.drop_id, c.buyer_id};
      if (s.limit && Held(sk) + q > s.limit) return Code::buyer_limit;
      if (from_drop && drop->limit && Held(dk) + q > drop->limit) return Code::buyer_limit;
      if ((from_drop ? drop->available : s.available) < q) return Code::insufficient_stock;
      if (s.limit && Held(sk) == 0) fresh++;
      if (from_drop && drop->limit && Held(dk) == 0) fresh++;
      *total += (from_drop ? drop->price : s.price) * int64_t(q);
    }
    if (*total > wire::kOrderTotalMaxFen) return Code::order_total_too_large;
    if (holdings.size() + fresh > config.holding_count_max) return Code::holdings_full;
    return Code::ok;
  }

  wire::Result Place(const wire::PlaceOrder& c, uint64_t now, uint64_t storefront) {
    if (c.idempotency_key == 0)
      return Plain(Code::invalid_idempotency_key, Operation::kPlaceOrder, 0);
    if (keys.count(c.idempotency_key)) {
      const uint64_t first = keys[c.idempotency_key];
      if (orders.at(first).request != RequestOf(c, storefront))
        return Plain(Code::idempotency_key_reused, Operation::kPlaceOrder, 0);
      replays[Operation::kPlaceOrder]++;
      wire::Result r = OrderResult(first, Operation::kPlaceOrder);
      r.flags = uint8_t(wire::ResultFlags::kReplayed);
      return r;
    }
    const uint64_t id = next_id;
    if (id > config.order_slot_count) {
      const uint64_t old = id - config.order_slot_count;
      const Order& o = orders.at(old);
      if (o.state == OrderState::kPending) return Plain(Code::orders_full, Operation::kPlaceOrder, 0);
      keys.erase(o.key);
      orders.erase(old);
    }
    int64_t total = 0;
    Order o{c.idempotency_key,
            c.buyer_id,
            0,
            0,
            now,
            0,
            OrderState::kRejected,
            Code::ok,
            c.region,
            c.city_tier,
            {},
            RequestOf(c, storefront),
            storefront};
    o.code = CheckOrder(c, now, &total);
    next_id++;
    keys[c.idempotency_key] = id;
    if (o.code == Code::ok) {
      o.state = OrderState::kPending;
      o.total = total;
      o.merchant = c.merchant_id;
      o.drop = c.drop_id;
      for (int l = 0; l < c.line_count; l++) {
        const uint64_t sku_id = c.sku_id[l], q = c.quantity[l];
        o.lines.push_back({sku_id, c.quantity[l]});
        Sku& s = skus[sku_id];
        if (FromDrop(o, sku_id)) {
          Drop& d = drops[o.drop];
          d.available -= q;
          d.reserved += q;
          s.in_drops -= q;
          if (d.available == 0 && d.sold_out_at == 0) d.sold_out_at = now;
          if (d.limit) Hold({true, o.drop, o.buyer}, q);
        } else {
          s.available -= q;
        }
        s.reserved += q;
        if (s.limit) Hold({false, sku_id, o.buyer}, q);
      }
    }
    orders[id] = o;
    return OrderResult(id, Operation::kPlaceOrder);
  }

  Code Find(uint64_t id) const {
    if (id == 0 || id >= next_id) return Code::order_not_found;
    if (!orders.count(id)) return Code::order_evicted;
    return Code::ok;
  }

  // Pay and cancel take the order id as their key: a repeat of the command that made the order
  // paid (the same amount, no payment method with payments off) or cancelled is a replay.
  wire::Result PayOrCancel(Operation op, uint64_t id, int64_t amount, uint64_t now) {
    wire::Result r = Plain(Find(id), op, id);
    r.at_us = now;
    if (r.code != Code::ok) return r;
    Order& o = orders[id];
    r.state = o.state;
    r.amount_fen = o.total;
    const bool repeat = op == Operation::kCancelOrder
                            ? o.state == OrderState::kCancelled
                            : o.state == OrderState::kPaid && amount == o.total;
    if (repeat) {
      replays[op]++;
      return Replay(r);
    }
    if (o.state == OrderState::kExpired) {
      r.code = Code::order_expired;
    } else if (o.state != OrderState::kPending) {
      r.code = Code::order_not_pending;
    } else if (op == Operation::kPayOrder && amount != o.total) {
      r.code = Code::amount_mismatch;
    }
    if (r.code != Code::ok) return r;
    if (op == Operation::kCancelOrder) {
      Release(o);
      o.state = OrderState::kCancelled;
    } else {
      for (auto [sku_id, q] : o.lines) {
        skus[sku_id].reserved -= q;
        skus[sku_id].sold += q;
        if (FromDrop(o, sku_id)) {
          drops[o.drop].reserved -= q;
          drops[o.drop].sold += q;
        }
      }
      o.state = OrderState::kPaid;
    }
    r.state = o.state;
    return r;
  }

  wire::Result CreateDrop(const wire::CreateDrop& c, uint64_t now) {
    const Operation op = Operation::kCreateDrop;
    if (c.drop_id == 0) return Plain(Code::invalid_id, op, c.drop_id);
    if (c.live_price_fen <= 0 || c.live_price_fen > wire::kPriceMaxFen) return Plain(Code::invalid_price, op, c.drop_id);
    if (c.quota == 0 || c.quota > wire::kStockMax) return Plain(Code::invalid_quantity, op, c.drop_id);
    if (c.closes_at_us <= c.opens_at_us || c.closes_at_us <= now) return Plain(Code::invalid_drop_window, op, c.drop_id);
    if (drops.count(c.drop_id)) return Plain(Code::drop_exists, op, c.drop_id);
    if (!skus.count(c.sku_id)) return Plain(Code::sku_not_found, op, c.drop_id);
    Sku& s = skus[c.sku_id];
    if (c.live_price_fen > s.price) return Plain(Code::drop_price_above_list, op, c.drop_id);
    if (s.available < c.quota) return Plain(Code::insufficient_stock, op, c.drop_id);
    if (drops.size() == config.drop_count_max) return Plain(Code::drops_full, op, c.drop_id);
    drops[c.drop_id] = Drop{c.sku_id, c.per_buyer_limit, c.live_price_fen, c.quota, c.quota, 0, 0, 0,
                            false, c.opens_at_us, c.closes_at_us, 0};
    s.available -= c.quota;
    s.in_drops += c.quota;
    return Plain(Code::ok, op, c.drop_id);
  }

  // The principal an issuer names (docs/access.md): 0 the local operator, else an active key.
  Who PrincipalOf(uint32_t issuer) const {
    if (issuer == 0) return {Role::kOperator, 0};
    if (issuer > api_keys.size()) return {};
    const Key& key = api_keys[issuer - 1];
    if (key.revoked) return {};
    return {key.role, key.scope};
  }

  void Met(const char* name) { cases[name]++; }

  // Whether a storefront placed the order: ok for an id never given (the command then says
  // order_not_found); an evicted order's storefront and a rejected attempt's are not known.
  Code StorefrontOwns(uint64_t id, uint64_t storefront) const {
    const Code found = Find(id);
    if (found == Code::order_not_found) return Code::ok;
    if (found != Code::ok) return Code::forbidden;
    const Order& o = orders.at(id);
    return o.state != OrderState::kRejected && o.storefront == storefront ? Code::ok
                                                                          : Code::forbidden;
  }
  Code MerchantOwnsOrder(uint64_t id, uint64_t merchant) const {
    const Code found = Find(id);
    if (found == Code::order_not_found) return Code::ok;
    // With the ledger off no money record names an evicted order's merchant.
    if (found != Code::ok || orders.at(id).state == OrderState::kRejected) return Code::forbidden;
    return orders.at(id).merchant == merchant ? Code::ok : Code::forbidden;
  }
  Code MerchantOwnsSku(uint64_t sku_id, uint64_t merchant, const char* op) {
    if (!skus.count(sku_id)) return Code::ok;  // the command says sku_not_found
    const bool own = skus.at(sku_id).merchant == merchant;
    Met((std::string(op) + (own ? ": merchant, its own sku" : ": merchant, another's sku"))
            .c_str());
    return own ? Code::ok : Code::forbidden;
  }

  // The role matrix of docs/access.md for all but an operator and a place order.
  Code Authorize(const wire::Command& cmd, const Who& who) {
    const bool merchant = who.role == Role::kMerchant;
    const bool storefront = who.role == Role::kStorefront;
    const wire::LedgerCommand l = wire::AsLedgerCommand(cmd);
    switch (uint8_t(cmd.operation)) {
      case kOpCreateSku:
        return merchant && cmd.create_sku.merchant_id == who.scope ? Code::ok : Code::forbidden;
      case kOpRestock:
        return merchant ? MerchantOwnsSku(cmd.restock.sku_id, who.scope, "restock")
                        : Code::forbidden;
      case kOpSetPrice:
        return merchant ? MerchantOwnsSku(cmd.set_price.sku_id, who.scope, "set_price")
                        : Code::forbidden;
      case kOpCreateDrop:
        return merchant ? MerchantOwnsSku(cmd.create_drop.sku_id, who.scope, "create_drop")
                        : Code::forbidden;
      case kOpCloseDrop: {
        if (!merchant) return Code::forbidden;
        auto drop = drops.find(cmd.close_drop.drop_id);
        return drop == drops.end() ? Code::ok
                                   : MerchantOwnsSku(drop->second.sku, who.scope, "close_drop");
      }
      case kOpPayOrder:
      case kOpCancelOrder: {
        if (!storefront) return Code::forbidden;
        const uint64_t id = uint8_t(cmd.operation) == kOpPayOrder ? cmd.pay_order.order_id
                                                                  : cmd.cancel_order.order_id;
        const Code owns = StorefrontOwns(id, who.scope);
        if (Find(id) == Code::ok && orders.at(id).state != OrderState::kRejected) {
          const bool other = orders.at(id).storefront != who.scope;
          Met(uint8_t(cmd.operation) == kOpPayOrder
                  ? (other ? "pay: another storefront's order" : "pay: its own order")
                  : (other ? "cancel: another storefront's order" : "cancel: its own order"));
        }
        return owns;
      }
      // Coupons (docs/promotions.md): platform coupons are operators' only.
      case kOpCreateCoupon:
        return merchant && cmd.create_coupon.merchant_id == who.scope ? Code::ok : Code::forbidden;
      case kOpClaimCoupon: return storefront ? Code::ok : Code::forbidden;
      // Pre-sales: this run names none, so no SKU or deposit is found to own.
      case kOpCreatePresale: return merchant ? Code::ok : Code::forbidden;
      case kOpPayDeposit:
      case kOpPayBalance: return storefront ? Code::ok : Code::forbidden;
      case kOpWithdraw:
      case kOpDrawDown:
      case kOpRepayCredit:
        return merchant && l.party_transfer.party_id == who.scope ? Code::ok : Code::forbidden;
      case kOpConfirmDelivery:
        return storefront ? StorefrontOwns(l.order_money.order_id, who.scope) : Code::forbidden;
      case kOpRepayInstalment:
        return storefront ? StorefrontOwns(l.repay_instalment.order_id, who.scope)
                          : Code::forbidden;
      case kOpAfterSalesRefund:
        return merchant ? MerchantOwnsOrder(l.after_sales_refund.order_id, who.scope)
                        : Code::forbidden;
      case kOpStockWarehouse: {
        const auto stock = wire::AsRecord<wire::StockWarehouse>(cmd);
        return merchant ? MerchantOwnsSku(stock.sku_id, who.scope, "stock_warehouse")
                        : Code::forbidden;
      }
      default:
        // Merchants, the raw ledger, deposits, credit, warehouses, couriers, keys (and
        // track_parcel, a courier's, but no courier key exists with fulfilment off).
        return Code::forbidden;
    }
  }

  // create_key and revoke_key (docs/access.md, "Key commands").
  wire::Result ApplyAccess(const wire::Command& cmd, uint32_t issuer, uint64_t now) {
    const uint8_t op = uint8_t(cmd.operation);
    if (op != kOpCreateKey && op != kOpRevokeKey)
      return Plain(Code::invalid_operation, cmd.operation, 0);
    const bool clean = ZeroBytes(cmd, kTrailerReservedOffset, wire::kCommandSize) &&
                       (op == kOpCreateKey ? ZeroBytes(cmd, 2, 8) && ZeroBytes(cmd, 48, 120)
                                           : ZeroBytes(cmd, 1, 8) && ZeroBytes(cmd, 16, 120));
    if (!clean) return Plain(Code::reserved_nonzero, cmd.operation, 0);
    if (op == kOpCreateKey) {
      const uint8_t role = cmd.bytes[1];
      const uint64_t scope = FieldAt<uint64_t>(cmd, 8);
      std::array<uint8_t, wire::kSecretHashSize> hash;
      std::memcpy(hash.data(), cmd.bytes + 16, hash.size());
      if (role == 0 || role > 5) return Plain(Code::invalid_role, cmd.operation, 0);
      const bool scoped = role == 2 || role == 3 || role == 4;
      if (scoped != (scope != 0) || (role == 2 && scope > UINT32_MAX))
        return Plain(Code::invalid_key_scope, cmd.operation, 0);
      if (role == 3 && !merchants.count(scope))
        return Plain(Code::merchant_not_found, cmd.operation, 0);
      if (role == 4) return Plain(Code::courier_not_found, cmd.operation, 0);  // fulfilment is off
      if (hash == std::array<uint8_t, wire::kSecretHashSize>{})
        return Plain(Code::invalid_id, cmd.operation, 0);
      for (size_t k = 0; k < api_keys.size(); k++) {
        if (api_keys[k].hash == hash) return Plain(Code::key_exists, cmd.operation, k + 1);
      }
      if (api_keys.size() == config.api_key_count_max)
        return Plain(Code::keys_full, cmd.operation, 0);
      api_keys.push_back(Key{Role(role), scope, hash, false, now, 0, issuer, 0});
      wire::Result r = Plain(Code::ok, cmd.operation, api_keys.size());
      r.at_us = now;
      return r;
    }
    const uint64_t id = FieldAt<uint64_t>(cmd, 8);
    if (id == 0 || id > api_keys.size()) return Plain(Code::key_not_found, cmd.operation, id);
    Key& key = api_keys[id - 1];
    wire::Result r = Plain(Code::ok, cmd.operation, id);
    if (key.revoked) {
      key_replays++;
      r.at_us = key.revoked_at;
      r.flags = uint8_t(wire::ResultFlags::kReplayed);
      return r;
    }
    size_t active_operators = 0;
    for (const Key& k : api_keys) active_operators += k.role == Role::kOperator && !k.revoked;
    if (key.role == Role::kOperator && active_operators == 1)
      return Plain(Code::last_operator_key, cmd.operation, id);
    key.revoked = true;
    key.revoked_at = now;
    key.revoked_by = issuer;
    r.at_us = now;
    return r;
  }

  wire::Result Apply(const wire::Command& cmd, uint64_t now) {
    const uint8_t op = uint8_t(cmd.operation);
    const uint32_t issuer = IssuerBytes(cmd);
    const Who who = PrincipalOf(issuer);
    const bool trailer_clean = ZeroBytes(cmd, kTrailerReservedOffset, wire::kCommandSize);
    if (issuer != 0 && issuer <= api_keys.size() && api_keys[issuer - 1].revoked)
      Met("a revoked key");
    if (op == kOpPlaceOrder) {
      // Structure first, then who places it: an operator or a storefront, which the order keeps.
      if (!trailer_clean || wire::CheckStructure(cmd) != Code::ok)
        return Plain(Code::reserved_nonzero, cmd.operation, 0);
      if (who.role == Role::kNone) return Plain(Code::unauthenticated, cmd.operation, 0);
      if (who.role != Role::kOperator && who.role != Role::kStorefront) {
        Met("place: a role that may not place");
        return Plain(Code::forbidden, cmd.operation, 0);
      }
      if (who.role == Role::kStorefront) Met("place: a storefront");
      return Place(cmd.place_order, now, who.role == Role::kStorefront ? who.scope : 0);
    }
    // Every other command: its issuer's role and ownership first, then the command.
    if (who.role == Role::kNone) return Plain(Code::unauthenticated, cmd.operation, 0);
    if (who.role != Role::kOperator) {
      const Code allowed = Authorize(cmd, who);
      if (allowed != Code::ok) return Plain(allowed, cmd.operation, 0);
    }
    // Ledger (32..63) and fulfilment (64..95) operations with both modules off.
    if (op == kOpPayOrderMoney || op == kOpRefundOrderMoney || op == kOpShipOrder) {
      return Plain(Code::operation_owned_by_engine, cmd.operation, 0);
    }
    if (op >= 32 && op <= 63) return Plain(Code::payments_disabled, cmd.operation, 0);
    if (op >= 64 && op <= 95) return Plain(Code::fulfilment_disabled, cmd.operation, 0);
    if (op >= 96 && op <= 127) return ApplyAccess(cmd, issuer, now);
    if (op == 0 || op > kOpPayBalance) return Plain(Code::invalid_operation, cmd.operation, 0);
    if (!trailer_clean) {
      if (who.role == Role::kOperator) Met("trailer junk");
      return Plain(Code::reserved_nonzero, cmd.operation, 0);
    }
    if (wire::CheckStructure(cmd) != Code::ok) {
      return Plain(wire::CheckStructure(cmd), cmd.operation, 0);
    }
    switch (cmd.operation) {
      // This run sends coupon commands only as a garbage operation byte over zeros; the
      // coupons have their own model (coupons_test.cc).
      case Operation::kCreateCoupon:
        EXPECT_EQ(cmd.create_coupon.coupon_id, 0u) << "coupons are modelled in coupons_test.cc";
        return Plain(Code::invalid_id, cmd.operation, 0);
      case Operation::kClaimCoupon: {
        EXPECT_EQ(cmd.claim_coupon.coupon_id, 0u) << "coupons are modelled in coupons_test.cc";
        wire::Result r = Plain(Code::invalid_id, cmd.operation, 0);
        r.at_us = now;
        return r;
      }
      // Pre-sales, likewise (presales_test.cc).
      case Operation::kCreatePresale:
        EXPECT_EQ(cmd.create_presale.presale_id, 0u) << "pre-sales are tested in presales_test.cc";
        return Plain(Code::invalid_id, cmd.operation, 0);
      case Operation::kPayDeposit:
      case Operation::kPayBalance: {
        EXPECT_EQ(cmd.pay_deposit.presale_id, 0u) << "pre-sales are tested in presales_test.cc";
        wire::Result r = Plain(op == kOpPayDeposit ? Code::invalid_id : Code::presale_not_found, cmd.operation, 0);
        r.at_us = now;
        return r;
      }
      case Operation::kCreateMerchant: {
        const auto& c = cmd.create_merchant;
        const Operation op = cmd.operation;
        if (c.merchant_id == 0) return Plain(Code::invalid_id, op, 0);
        if (!wire::IsCountryCode(c.country)) return Plain(Code::invalid_country, op, c.merchant_id);
        if (c.flags > 1) return Plain(Code::invalid_merchant_flags, op, c.merchant_id);
        if (merchants.count(c.merchant_id)) return Plain(Code::merchant_exists, op, c.merchant_id);
        if (merchants.size() == config.merchant_count_max) return Plain(Code::merchants_full, op, c.merchant_id);
        merchants[c.merchant_id] = true;
        return Plain(Code::ok, op, c.merchant_id);
      }
      case Operation::kCreateSku: {
        const auto& c = cmd.create_sku;
        const Operation op = cmd.operation;
        if (c.sku_id == 0) return Plain(Code::invalid_id, op, 0);
        if (c.price_fen <= 0 || c.price_fen > wire::kPriceMaxFen) return Plain(Code::invalid_price, op, c.sku_id);
        if (c.stock > wire::kStockMax) return Plain(Code::invalid_quantity, op, c.sku_id);
        if (!merchants.count(c.merchant_id)) return Plain(Code::merchant_not_found, op, c.sku_id);
        if (skus.count(c.sku_id)) return Plain(Code::sku_exists, op, c.sku_id);
        if (skus.size() == config.sku_count_max) return Plain(Code::skus_full, op, c.sku_id);
        skus[c.sku_id] = Sku{c.merchant_id, c.per_buyer_limit, c.price_fen, c.stock, 0, 0, 0, c.stock};
        return Plain(Code::ok, op, c.sku_id);
      }
      case Operation::kRestock: {
        const auto& c = cmd.restock;
        if (c.quantity == 0 || c.quantity > wire::kStockMax) return Plain(Code::invalid_quantity, cmd.operation, c.sku_id);
        if (!skus.count(c.sku_id)) return Plain(Code::sku_not_found, cmd.operation, c.sku_id);
        Sku& s = skus[c.sku_id];
        if (s.received + c.quantity > wire::kStockMax) return Plain(Code::stock_overflow, cmd.operation, c.sku_id);
        s.available += c.quantity;
        s.received += c.quantity;
        wire::Result r = Plain(Code::ok, cmd.operation, c.sku_id);
        r.amount_fen = int64_t(s.available);
        return r;
      }
      case Operation::kSetPrice: {
        const auto& c = cmd.set_price;
        if (c.price_fen <= 0 || c.price_fen > wire::kPriceMaxFen) return Plain(Code::invalid_price, cmd.operation, c.sku_id);
        if (!skus.count(c.sku_id)) return Plain(Code::sku_not_found, cmd.operation, c.sku_id);
        skus[c.sku_id].price = c.price_fen;
        wire::Result r = Plain(Code::ok, cmd.operation, c.sku_id);
        r.amount_fen = c.price_fen;
        return r;
      }
      case Operation::kCreateDrop: return CreateDrop(cmd.create_drop, now);
      case Operation::kCloseDrop: {
        const uint64_t id = cmd.close_drop.drop_id;
        if (!drops.count(id)) return Plain(Code::drop_not_found, cmd.operation, id);
        Drop& d = drops[id];
        if (d.closed) return Plain(Code::drop_closed, cmd.operation, id);
        wire::Result r = Plain(Code::ok, cmd.operation, id);
        r.amount_fen = int64_t(d.available);
        r.at_us = now;
        Close(d);
        return r;
      }
      case Operation::kPlaceOrder:
        break;  // above
      case Operation::kPayOrder: return PayOrCancel(cmd.operation, cmd.pay_order.order_id, cmd.pay_order.amount_fen, now);
      case Operation::kCancelOrder: return PayOrCancel(cmd.operation, cmd.cancel_order.order_id, 0, now);
    }
    return Plain(Code::invalid_operation, cmd.operation, 0);
  }
};

// Draws commands over small id spaces, so that duplicates, unknown ids, limits and full
// tables all happen often.
class CommandSource {
 public:
  explicit CommandSource(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }

  wire::Command Next(uint64_t now, uint64_t next_order_id, const Model& model) {
    wire::Command c = Unstamped(now, next_order_id, model);
    // Now and then junk in the trailer's reserved word, from any issuer.
    if (Below(150) == 0) c.bytes[kTrailerReservedOffset + Below(4)] = uint8_t(1 + Below(255));
    return c;
  }

 private:
  static constexpr size_t kSentOrdersKept = 32;
  // Place-order bytes that are reserved: reserved1 and the trailer's reserved word (byte 3 is
  // the coupon count, which coupons_test.cc covers).
  static constexpr size_t kOrderReserved[] = {6, 7, 124, 125, 126, 127};
  std::vector<wire::Command> sent_orders_;

  // A command, and its issuer.
  wire::Command Unstamped(uint64_t now, uint64_t next_order_id, const Model& model) {
    if (Below(200) == 0) return KeyCommand(model);
    if (Below(100) == 0) return ModuleCommand(next_order_id, model);
    const uint64_t roll = Below(100);
    wire::Command c{};
    if (roll < 3) {
      const char* countries[] = {"CN", "JP", "US", "c1", "XX"};
      c = wire::MakeCreateMerchant(Below(7), countries[Below(5)], uint8_t(Below(3)));
    } else if (roll < 8) {
      // A quarter of the SKUs get a per-buyer limit, and every one does until four limited
      // SKUs exist: the SKU table fills for good, and with none limited, no run can reach
      // holdings_full.
      const bool limited = Below(4) == 0 || LimitedSkus(model) < 4;
      c = wire::MakeCreateSku(Below(32), 1 + Below(6), int64_t(Below(2000)) - 5, uint32_t(Below(40)),
                              uint32_t(limited ? 1 + Below(3) : 0));
    } else if (roll < 11) {
      c = wire::MakeRestock(Below(32), uint32_t(Below(30)));
    } else if (roll < 12) {
      c = wire::MakeSetPrice(Below(32), int64_t(Below(3000)) - 2);
    } else if (roll < 15) {
      const uint64_t opens = now + Below(6) * 10'000'000;
      c = wire::MakeCreateDrop(Below(80), Below(32), int64_t(Below(1000)), uint32_t(Below(20)),
                               opens, opens + Below(300) * 1'000'000, uint32_t(Below(3)));
    } else if (roll < 16) {
      c = wire::MakeCloseDrop(Below(80));
    } else if (roll < 70) {
      // A sixth of the orders are retries, byte for byte, of one sent lately, issuer and all;
      // now and then another storefront (or anyone) sends the retry.
      const bool retry = roll < 25 && !sent_orders_.empty();
      c = retry ? sent_orders_[Below(sent_orders_.size())] : RandomOrder(model);
      if (!retry || Below(8) == 0) Stamp(c, Issuer(model, Role::kStorefront));
      if (sent_orders_.size() < kSentOrdersKept) {
        sent_orders_.push_back(c);
      } else {
        sent_orders_[Below(kSentOrdersKept)] = c;
      }
      return c;
    } else if (roll < 88) {
      c = wire::MakePayOrder(RecentOrderId(next_order_id), 0);
      auto it = model.orders.find(c.pay_order.order_id);
      c.pay_order.amount_fen = it == model.orders.end() ? 1 : it->second.total + (Below(10) == 0 ? 1 : 0);
    } else if (roll < 97) {
      c = wire::MakeCancelOrder(RecentOrderId(next_order_id));
    } else if (roll < 99) {
      c = RandomOrder(model);
      Stamp(c, Issuer(model, Role::kStorefront));
      // Reserved bytes must be zero.
      c.bytes[kOrderReserved[Below(std::size(kOrderReserved))]] = uint8_t(1 + Below(255));
      return c;
    } else {
      c.bytes[0] = uint8_t(Below(256));  // garbage operation (or a valid one with zeros)
      if (Below(2) == 0) Stamp(c, Issuer(model, Role(1 + Below(wire::kRoleMax))));
      return c;
    }
    Stamp(c, IssuerFor(c, model));
    return c;
  }

  // An issuer for a catalog, pay or cancel command: often the key that owns what it names.
  uint32_t IssuerFor(const wire::Command& c, const Model& model) {
    uint64_t sku = 0;
    switch (c.operation) {
      case Operation::kCreateSku:
        return Issuer(model, Role::kMerchant, c.create_sku.merchant_id);
      case Operation::kRestock:
        sku = c.restock.sku_id;
        break;
      case Operation::kSetPrice:
        sku = c.set_price.sku_id;
        break;
      case Operation::kCreateDrop:
        sku = c.create_drop.sku_id;
        break;
      case Operation::kCloseDrop: {
        auto drop = model.drops.find(c.close_drop.drop_id);
        if (drop != model.drops.end()) sku = drop->second.sku;
        break;
      }
      case Operation::kPayOrder:
      case Operation::kCancelOrder: {
        const uint64_t id =
            c.operation == Operation::kPayOrder ? c.pay_order.order_id : c.cancel_order.order_id;
        auto order = model.orders.find(id);
        return Issuer(model, Role::kStorefront,
                      order == model.orders.end() ? 0 : order->second.storefront);
      }
      default:
        return Issuer(model, Role::kOperator);
    }
    auto s = model.skus.find(sku);
    return Issuer(model, Role::kMerchant, s == model.skus.end() ? 0 : s->second.merchant);
  }

  // The local operator, an active key (of `role` more often than not, and of `scope` too
  // when it is not 0, so that ownership decides), any key (revoked ones too), one not (yet)
  // created, or any id at all.
  uint32_t Issuer(const Model& model, Role role, uint64_t scope = 0) {
    const uint64_t count = model.api_keys.size();
    const uint64_t roll = Below(100);
    if (roll < 30 || (count == 0 && roll < 90)) return 0;
    if (roll < 90) {
      std::vector<uint32_t> active, fit, owner;
      for (uint32_t k = 0; k < count; k++) {
        const Model::Key& key = model.api_keys[k];
        if (key.revoked) continue;
        active.push_back(k + 1);
        if (key.role != role) continue;
        fit.push_back(k + 1);
        if (scope != 0 && key.scope == scope) owner.push_back(k + 1);
      }
      if (roll < 55 && !owner.empty()) return owner[Below(owner.size())];
      if (roll < 75 && !fit.empty()) return fit[Below(fit.size())];
      if (roll < 85 && !active.empty()) return active[Below(active.size())];
      return uint32_t(1 + Below(count));
    }
    if (roll < 97) return uint32_t(count + 1 + Below(3));
    return uint32_t(rng_());
  }

  // A key's secret hash: one of a few, so that reusing one (key_exists) happens.
  std::array<uint8_t, wire::kSecretHashSize> Hash() {
    std::array<uint8_t, wire::kSecretHashSize> hash{};
    if (Below(40) == 0) return hash;  // all zero: invalid
    const uint64_t n = 1 + Below(48);
    for (size_t i = 0; i < hash.size(); i++) hash[i] = uint8_t(n * 37 + i * 11 + 1);
    return hash;
  }

  // create_key (two thirds) or revoke_key, mostly by an operator.
  wire::Command KeyCommand(const Model& model) {
    wire::Command c{};
    const uint64_t count = model.api_keys.size();
    if (count == 0 || Below(3) != 0) {
      // Roles by weight: operator 3, storefront 5, merchant 5, courier 1, viewer 2, none 1.
      static constexpr uint8_t kRoles[] = {1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 5, 5, 0};
      uint8_t role = kRoles[Below(std::size(kRoles))];
      if (role == 0) role = Below(2) == 0 ? 0 : uint8_t(6 + Below(250));
      // The first key is an operator's, as `eleven format` makes it: the table fills early,
      // and without an operator key among its 24 (about one seed in a hundred) the last
      // operator key could never be revoked.
      if (count == 0) role = 1;
      uint64_t scope = 0;
      if (role == 2) {
        // Storefronts 1..3, so two keys of one storefront and of two storefronts both happen;
        // sometimes the edges of the storefront id space.
        static constexpr uint64_t kEdges[] = {0, UINT32_MAX, uint64_t(UINT32_MAX) + 1, UINT64_MAX};
        scope = Below(20) == 0 ? kEdges[Below(std::size(kEdges))] : 1 + Below(3);
      } else if (role == 3) {
        scope = Below(7);  // a merchant that exists, or not
        if (Below(4) != 0 && !model.merchants.empty()) {
          auto it = model.merchants.begin();
          std::advance(it, Below(model.merchants.size()));
          scope = it->first;
        }
      } else if (role == 4) {
        scope = Below(4);
      } else if (Below(10) == 0) {
        scope = 1 + Below(5);  // operator, viewer: no scope
      }
      c.bytes[0] = kOpCreateKey;
      c.bytes[1] = role;
      std::memcpy(c.bytes + 8, &scope, sizeof(scope));
      const auto hash = Hash();
      std::memcpy(c.bytes + 16, hash.data(), hash.size());
      if (Below(100) == 0) c.bytes[2 + Below(6)] = 1;  // reserved
    } else {
      c.bytes[0] = kOpRevokeKey;
      const uint64_t key_id = RevokeTarget(model);
      std::memcpy(c.bytes + 8, &key_id, sizeof(key_id));
      if (Below(100) == 0) c.bytes[16 + Below(104)] = 1;  // reserved
    }
    Stamp(c, Issuer(model, Role::kOperator));
    return c;
  }

  // Which key to revoke: an unknown id, a revoked key (a replay), an operator key (the last
  // active one is refused), or a key of another role while it has two active others, so that
  // every role keeps keys to send commands with.
  uint64_t RevokeTarget(const Model& model) {
    const uint64_t count = model.api_keys.size();
    std::vector<uint64_t> revoked, operators, spare;
    std::map<Role, int> active;
    for (const Model::Key& k : model.api_keys) active[k.role] += !k.revoked;
    for (uint64_t k = 0; k < count; k++) {
      const Model::Key& key = model.api_keys[k];
      if (key.revoked) {
        revoked.push_back(k + 1);
      } else if (key.role == Role::kOperator) {
        operators.push_back(k + 1);
      } else if (active[key.role] >= 3) {
        spare.push_back(k + 1);
      }
    }
    const uint64_t roll = Below(10);
    if (roll < 3 && !revoked.empty()) return revoked[Below(revoked.size())];
    if (roll < 5 && !operators.empty()) return operators[Below(operators.size())];
    if (roll < 8 && !spare.empty()) return spare[Below(spare.size())];
    return Below(3) == 0 ? 0 : count + 1 + Below(3);
  }

  // A ledger or fulfilment command (both modules are off): who may send it is still checked.
  wire::Command ModuleCommand(uint64_t next_order_id, const Model& model) {
    const uint64_t order_id = RecentOrderId(next_order_id);
    auto order = model.orders.find(order_id);
    const uint64_t storefront = order == model.orders.end() ? 0 : order->second.storefront;
    const uint64_t merchant = order == model.orders.end() ? 0 : order->second.merchant;
    wire::Command c{};
    Role role = Role::kMerchant;
    uint64_t scope = 0;
    switch (Below(9)) {
      case 0:
        c = testing::PartyCmd(wire::kDeposit, 1 + Below(100), 1 + Below(300), 100);
        role = Role::kStorefront;
        break;
      case 1:
        scope = Below(7);
        c = testing::PartyCmd(wire::kWithdraw, 1 + Below(100), scope, 100);
        break;
      case 2:
        scope = Below(7);
        c = testing::PartyCmd(wire::kDrawDown, 1 + Below(100), scope, 100);
        break;
      case 3:
        scope = Below(7);
        c = testing::PartyCmd(wire::kRepayMerchantCredit, 1 + Below(100), scope, 100);
        break;
      case 4:
        c = testing::OrderCmd(wire::kConfirmDelivery, order_id);
        role = Role::kStorefront;
        scope = storefront;
        break;
      case 5:
        c = testing::RepayCmd(1 + Below(100), order_id, 0);
        role = Role::kStorefront;
        scope = storefront;
        break;
      case 6: {
        wire::LedgerCommand l{};
        l.after_sales_refund.operation = wire::kAfterSalesRefund;
        l.after_sales_refund.refund_id = 1 + Below(100);
        l.after_sales_refund.order_id = order_id;
        l.after_sales_refund.amount_fen = 1;
        c = wire::AsCommand(l);
        scope = merchant;
        break;
      }
      case 7: {
        const uint64_t sku = Below(32);
        c = testing::StockCommand(1, sku, 1);
        auto s = model.skus.find(sku);
        scope = s == model.skus.end() ? 0 : s->second.merchant;
        break;
      }
      default:
        c = testing::TrackCommand(1 + Below(1000), wire::ParcelState::kPicked);
        role = Role::kCourier;
        break;
    }
    Stamp(c, Issuer(model, role, scope));
    return c;
  }

  static size_t LimitedSkus(const Model& model) {
    size_t n = 0;
    for (const auto& [id, s] : model.skus) n += s.limit != 0;
    return n;
  }

  uint64_t RecentOrderId(uint64_t next_order_id) {
    if (Below(20) == 0) return Below(next_order_id + 3);
    return next_order_id > 1 ? next_order_id - 1 - Below(std::min<uint64_t>(next_order_id - 1, 40)) : 1;
  }

  wire::Command RandomOrder(const Model& model) {
    uint64_t merchant = 1 + Below(6);
    uint64_t drop_id = Below(4) == 0 ? Below(80) : 0;
    // Half the drop orders aim at a drop not yet closed: the drop table fills for good and
    // every drop closes at last, so a drawn id alone rarely meets an open one.
    if (drop_id != 0 && Below(2) == 0) {
      std::vector<uint64_t> live;
      for (const auto& [id, d] : model.drops) {
        if (!d.closed) live.push_back(id);
      }
      if (!live.empty()) drop_id = live[Below(live.size())];
    }
    auto drop = model.drops.find(drop_id);
    const bool aim_at_drop = drop != model.drops.end() && Below(4) != 0;
    if (aim_at_drop) merchant = model.skus.at(drop->second.sku).merchant;
    // Mostly SKUs of the merchant, sometimes any SKU.
    std::vector<uint64_t> own;
    for (const auto& [id, s] : model.skus) {
      if (s.merchant == merchant) own.push_back(id);
    }
    wire::Command c = wire::MakePlaceOrder(Below(300), merchant, Below(12), uint16_t(1 + Below(40)),
                                           uint8_t(1 + Below(5)), {});
    wire::PlaceOrder& o = c.place_order;
    o.line_count = uint8_t(Below(50) == 0 ? Below(10) : 1 + Below(3));
    for (int l = 0; l < o.line_count && l < wire::kOrderLineCountMax; l++) {
      // Own SKUs, mostly distinct (a partial shuffle), sometimes any SKU at all.
      if (!own.empty() && Below(8) != 0) {
        const size_t pick = l < int(own.size()) && Below(10) != 0 ? l + Below(own.size() - l) : Below(own.size());
        if (l < int(own.size())) std::swap(own[l], own[pick]);
        o.sku_id[l] = own[l < int(own.size()) ? l : pick];
      } else {
        o.sku_id[l] = Below(32);
      }
      o.quantity[l] = uint16_t(Below(30) == 0 ? Below(3) * 6000 : 1 + Below(3));
    }
    o.drop_id = drop_id;
    if (aim_at_drop && Below(4) != 0) o.sku_id[0] = drop->second.sku;  // the drop's SKU first
    if (Below(100) == 0) o.region = 0;
    if (Below(100) == 0) o.city_tier = 9;
    return c;
  }

  std::mt19937_64 rng_;
};

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

void CompareState(const Engine& engine, const Model& model, uint64_t seed, uint64_t batch) {
  for (uint64_t id = 0; id < 32; id++) {
    wire::SkuRecord s{};
    auto it = model.skus.find(id);
    ASSERT_EQ(engine.GetSku(id, &s), it == model.skus.end() ? Code::sku_not_found : Code::ok);
    if (it == model.skus.end()) continue;
    const Model::Sku& m = it->second;
    ASSERT_EQ(std::make_tuple(s.available, s.in_drops, s.reserved, s.sold, s.received, s.price_fen),
              std::make_tuple(m.available, m.in_drops, m.reserved, m.sold, m.received, m.price))
        << "sku " << id << " seed " << seed << " batch " << batch;
  }
  for (const auto& [id, m] : model.drops) {
    wire::DropRecord d{};
    ASSERT_EQ(engine.GetDrop(id, &d), Code::ok);
    ASSERT_EQ(std::make_tuple(d.available, d.reserved, d.sold, d.returned, d.sold_out_at_us, d.state == wire::DropState::kClosed),
              std::make_tuple(m.available, m.reserved, m.sold, m.returned, m.sold_out_at, m.closed))
        << "drop " << id << " seed " << seed << " batch " << batch;
  }
  for (const auto& [id, m] : model.orders) {
    wire::OrderRecord o{};
    ASSERT_EQ(engine.GetOrder(id, &o), Code::ok) << "order " << id << " seed " << seed;
    ASSERT_EQ(std::make_tuple(o.idempotency_key, o.buyer_id, o.state, o.code, o.total_fen, o.line_count),
              std::make_tuple(m.key, m.buyer, m.state, m.code, m.total, uint8_t(m.lines.size())))
        << "order " << id << " seed " << seed << " batch " << batch;
  }
  ASSERT_EQ(engine.api_key_count(), model.api_keys.size()) << "seed " << seed << " batch " << batch;
  wire::KeyRecord k{};
  ASSERT_EQ(engine.GetKey(0, &k), Code::key_not_found);
  ASSERT_EQ(engine.GetKey(model.api_keys.size() + 1, &k), Code::key_not_found);
  for (uint64_t id = 1; id <= model.api_keys.size(); id++) {
    const Model::Key& m = model.api_keys[id - 1];
    ASSERT_EQ(engine.GetKey(id, &k), Code::ok);
    const auto state = m.revoked ? wire::KeyState::kRevoked : wire::KeyState::kActive;
    ASSERT_EQ(std::make_tuple(k.key_id, k.role, k.scope_id, k.state, k.created_at_us, k.created_by,
                              k.revoked_at_us, k.revoked_by),
              std::make_tuple(id, m.role, m.scope, state, m.created_at, m.created_by, m.revoked_at,
                              m.revoked_by))
        << "key " << id << " seed " << seed << " batch " << batch;
    ASSERT_EQ(0,
              std::memcmp(engine.api_key(uint32_t(id)).secret_sha256, m.hash.data(), m.hash.size()))
        << "key " << id << " seed " << seed;
  }
}

TEST(EngineModel, RandomCommandsMatchTheReferenceModel) {
  const uint64_t seed = EnvU64("ELEVEN_SEED", std::random_device{}());
  const bool is_long = EnvU64("ELEVEN_LONG", 0) != 0;
  const uint64_t command_count = EnvU64("ELEVEN_MODEL_COMMANDS", is_long ? 50'000'000 : 3'000'000);
  std::printf("engine model test: seed=%llu commands=%llu (replay: ELEVEN_SEED=%llu)\n",
              (unsigned long long)seed, (unsigned long long)command_count, (unsigned long long)seed);

  EngineConfig config;
  config.merchant_count_max = 5;
  config.sku_count_max = 24;
  config.drop_count_max = 64;
  config.order_slot_count = 128;
  config.holding_count_max = 16;
  config.pay_window_us = 30'000'000;
  config.batch_command_count_max = 64;
  config.api_key_count_max = 24;  // fills early: keys_full, then a fixed set of principals
  Engine engine(config);
  Model model;
  model.config = config;
  CommandSource source(seed);

  uint64_t now = 1'000'000, op = 0, applied = 0;
  std::map<Code, uint64_t> seen_codes;
  std::vector<wire::Command> batch;
  std::vector<wire::Result> results;
  while (applied < command_count) {
    now += source.Below(10) == 0 ? source.Below(40'000'000) : source.Below(4'000'000);
    const size_t size = 1 + source.Below(config.batch_command_count_max);
    batch.clear();
    for (size_t i = 0; i < size; i++) batch.push_back(source.Next(now, model.next_id, model));
    results.assign(size, wire::Result{});
    ASSERT_EQ(engine.Apply(++op, now, batch, results), BatchError::kNone);
    model.Tick(now);
    for (size_t i = 0; i < size; i++) {
      const wire::Result expected = model.Apply(batch[i], now);
      ASSERT_EQ(0, std::memcmp(&expected, &results[i], sizeof(expected)))
          << "seed " << seed << " batch " << op << " command " << i << " op "
          << int(batch[i].operation) << ": engine " << wire::CodeName(results[i].code)
          << " model " << wire::CodeName(expected.code);
      seen_codes[results[i].code]++;
    }
    engine.CheckInvariants();
    CompareState(engine, model, seed, op);
    if (::testing::Test::HasFatalFailure()) return;
    applied += size;
  }
  for (const auto& [code, count] : seen_codes) {
    std::printf("  %-24s %llu\n", std::string(wire::CodeName(code)).c_str(), (unsigned long long)count);
  }
  // The run must reach every refusal the random source aims at, or it tests less than it says.
  for (Code code : {Code::ok,
                    Code::reserved_nonzero,
                    Code::invalid_operation,
                    Code::invalid_id,
                    Code::merchant_exists,
                    Code::merchant_not_found,
                    Code::merchants_full,
                    Code::invalid_country,
                    Code::sku_exists,
                    Code::sku_not_found,
                    Code::skus_full,
                    Code::invalid_price,
                    Code::invalid_quantity,
                    Code::sku_of_other_merchant,
                    Code::drop_exists,
                    Code::drop_not_found,
                    Code::drops_full,
                    Code::invalid_drop_window,
                    Code::drop_price_above_list,
                    Code::drop_not_open,
                    Code::drop_closed,
                    Code::drop_sku_not_in_order,
                    Code::invalid_line_count,
                    Code::duplicate_line,
                    Code::insufficient_stock,
                    Code::buyer_limit,
                    Code::holdings_full,
                    Code::orders_full,
                    Code::invalid_city_tier,
                    Code::invalid_region,
                    Code::order_not_found,
                    Code::order_evicted,
                    Code::order_not_pending,
                    Code::order_expired,
                    Code::amount_mismatch,
                    Code::idempotency_key_reused,
                    Code::invalid_idempotency_key,
                    Code::unauthenticated,
                    Code::forbidden,
                    Code::invalid_role,
                    Code::invalid_key_scope,
                    Code::courier_not_found,
                    Code::key_exists,
                    Code::keys_full,
                    Code::key_not_found,
                    Code::last_operator_key,
                    Code::payments_disabled,
                    Code::fulfilment_disabled}) {
    EXPECT_GT(seen_codes[code], 0u) << "never produced: " << wire::CodeName(code);
  }
  for (const auto& [name, count] : model.cases) {
    std::printf("  %-40s %llu\n", name.c_str(), (unsigned long long)count);
  }
  // Every ownership and role case of docs/access.md the model decides, both ways.
  for (const char* name :
       {"restock: merchant, another's sku", "restock: merchant, its own sku",
        "set_price: merchant, another's sku", "set_price: merchant, its own sku",
        "create_drop: merchant, another's sku", "create_drop: merchant, its own sku",
        "close_drop: merchant, another's sku", "close_drop: merchant, its own sku",
        "stock_warehouse: merchant, another's sku", "pay: another storefront's order",
        "pay: its own order", "cancel: another storefront's order", "cancel: its own order",
        "place: a storefront", "place: a role that may not place", "a revoked key",
        "trailer junk"}) {
    EXPECT_GT(model.cases[name], 0u) << "never met: " << name;
  }
  EXPECT_GT(model.key_replays, 0u);
  // Every kind of retry happened and was answered as a replay.
  for (Operation op : {Operation::kPlaceOrder, Operation::kPayOrder, Operation::kCancelOrder}) {
    EXPECT_GT(model.replays[op], 0u) << "never replayed: operation " << int(op);
  }
  uint64_t replays = 0;
  for (const auto& [op, count] : model.replays) replays += count;
  EXPECT_EQ(engine.stats().orders_replayed, replays);
  EXPECT_GT(engine.stats().orders_accepted, 0u);
  EXPECT_GT(engine.stats().orders_expired, 0u);
  EXPECT_GT(engine.stats().orders_paid, 0u);
}

// Two engines fed the same batches give byte-identical results and equal digests; an
// engine fed one different batch ends with a different digest.
TEST(EngineModel, SameBatchesSameBytes) {
  const uint64_t seed = EnvU64("ELEVEN_SEED", std::random_device{}());
  std::printf("engine determinism test: seed=%llu\n", (unsigned long long)seed);
  EngineConfig config;
  config.sku_count_max = 64;
  config.merchant_count_max = 8;
  config.order_slot_count = 256;
  config.holding_count_max = 64;
  config.drop_count_max = 16;
  config.pay_window_us = 30'000'000;
  Engine a(config), b(config), c(config);
  Model model;
  model.config = config;
  CommandSource source(seed);
  uint64_t now = 1'000'000;
  for (uint64_t op = 1; op <= 2000; op++) {
    now += source.Below(3'000'000);
    std::vector<wire::Command> batch;
    for (int i = 0; i < 40; i++) batch.push_back(source.Next(now, model.next_id, model));
    model.Tick(now);
    for (const auto& cmd : batch) model.Apply(cmd, now);  // keeps the source's view current
    std::vector<wire::Result> ra(batch.size()), rb(batch.size()), rc(batch.size());
    ASSERT_EQ(a.Apply(op, now, batch, ra), BatchError::kNone);
    ASSERT_EQ(b.Apply(op, now, batch, rb), BatchError::kNone);
    if (op == 1500) batch[0] = wire::MakeCreateMerchant(7, "DE", 1);
    ASSERT_EQ(c.Apply(op, now, batch, rc), BatchError::kNone);
    ASSERT_EQ(0, std::memcmp(ra.data(), rb.data(), ra.size() * sizeof(wire::Result))) << "op " << op;
  }
  EXPECT_EQ(a.Digest(), b.Digest());
  EXPECT_NE(a.Digest(), c.Digest());
}

}  // namespace
}  // namespace eleven::engine
