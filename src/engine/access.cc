// API keys and who may apply what (docs/access.md): the key commands, and the check every
// command but a place order passes before it is applied (place orders check their issuer on
// the hot path, orders.cc).
#include <cstring>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;
using wire::Role;

Principal Engine::PrincipalOf(uint32_t issuer) const {
  if (issuer == 0) return {Role::kOperator, 0};
  if (issuer > api_key_count_) return {};
  const ApiKeyRow& key = api_keys_[issuer - 1];
  if (key.state != wire::KeyState::kActive) return {};
  return {key.role, key.scope_id};
}

uint64_t Engine::StorefrontOf(const Order& order) {
  return order.merchant_index == kNoValue ? 0 : order.storefront_or_fingerprint;
}

wire::Code Engine::GetKey(uint64_t key_id, wire::KeyRecord* out) const {
  if (key_id == 0 || key_id > api_key_count_) return Code::key_not_found;
  const ApiKeyRow& key = api_keys_[key_id - 1];
  *out = wire::KeyRecord{};
  out->key_id = key_id;
  out->scope_id = key.scope_id;
  out->created_at_us = key.created_at_us;
  out->revoked_at_us = key.revoked_at_us;
  out->created_by = key.created_by;
  out->revoked_by = key.revoked_by;
  out->role = key.role;
  out->state = key.state;
  return Code::ok;
}

// Whether the order is the principal's: the storefront that placed it, or (merchant) the
// merchant it buys from. An order the ring no longer holds is the merchant's by its money
// record; its storefront is no longer known, so only an operator may act on it.
wire::Code Engine::OrderOwnedBy(uint64_t order_id, const Principal& p, bool merchant) const {
  const Order* order = nullptr;
  const Code found = FindOrder(order_id, &order);
  if (found == Code::order_not_found) return Code::ok;  // the command says so
  if (merchant) {
    uint64_t merchant_id = 0;
    if (found == Code::ok && order->merchant_index != kNoValue) {
      merchant_id = merchants_[order->merchant_index].id;
    } else if (ledger_) {
      wire::OrderMoneyRecord money;
      if (ledger_->LookupOrderMoney(order_id, &money) == Code::ok) merchant_id = money.merchant_id;
    }
    return merchant_id == p.scope_id ? Code::ok : Code::forbidden;
  }
  if (found != Code::ok) return Code::forbidden;
  return order->merchant_index != kNoValue && StorefrontOf(*order) == p.scope_id ? Code::ok
                                                                                 : Code::forbidden;
}

wire::Code Engine::Authorize(const wire::Command& command) const {
  const Principal p = PrincipalOf(wire::IssuerOf(command));
  if (p.role == Role::kNone) return Code::unauthenticated;
  if (p.role == Role::kOperator) return Code::ok;
  return AuthorizeFor(command, p);
}

// Everything but an operator: the role first, then the objects the command names.
wire::Code Engine::AuthorizeFor(const wire::Command& command, const Principal& p) const {
  const uint8_t op = static_cast<uint8_t>(command.operation);
  const bool merchant = p.role == Role::kMerchant;
  const bool storefront = p.role == Role::kStorefront;
  auto owns_sku = [&](uint64_t sku_id) {
    const uint32_t index = skus_.Find(sku_id);
    return index == kNoValue || skus_[index].merchant_id == p.scope_id ? Code::ok : Code::forbidden;
  };
  switch (op) {
    case static_cast<uint8_t>(Operation::kCreateSku):
      return merchant && command.create_sku.merchant_id == p.scope_id ? Code::ok : Code::forbidden;
    case static_cast<uint8_t>(Operation::kRestock):
      return merchant ? owns_sku(command.restock.sku_id) : Code::forbidden;
    case static_cast<uint8_t>(Operation::kSetPrice):
      return merchant ? owns_sku(command.set_price.sku_id) : Code::forbidden;
    case static_cast<uint8_t>(Operation::kCreateDrop):
      return merchant ? owns_sku(command.create_drop.sku_id) : Code::forbidden;
    case static_cast<uint8_t>(Operation::kCloseDrop): {
      if (!merchant) return Code::forbidden;
      const uint32_t drop = drop_index_.Find(command.close_drop.drop_id);
      return drop == kNoValue ? Code::ok : owns_sku(skus_[drops_[drop].sku_index].id);
    }
    case static_cast<uint8_t>(Operation::kPlaceOrder):
      return storefront ? Code::ok : Code::forbidden;
    case static_cast<uint8_t>(Operation::kCreateCoupon):  // platform coupons: operators only
      return merchant && command.create_coupon.merchant_id == p.scope_id ? Code::ok : Code::forbidden;
    case static_cast<uint8_t>(Operation::kClaimCoupon):
      return storefront ? Code::ok : Code::forbidden;
    case static_cast<uint8_t>(Operation::kCreatePresale):
    case static_cast<uint8_t>(Operation::kPayDeposit):
    case static_cast<uint8_t>(Operation::kPayBalance): return PresaleAccess(command, p);
    case static_cast<uint8_t>(Operation::kPayOrder):
      return storefront ? OrderOwnedBy(command.pay_order.order_id, p, false) : Code::forbidden;
    case static_cast<uint8_t>(Operation::kCancelOrder):
      return storefront ? OrderOwnedBy(command.cancel_order.order_id, p, false) : Code::forbidden;
    case static_cast<uint8_t>(wire::kWithdraw):
    case static_cast<uint8_t>(wire::kDrawDown):
    case static_cast<uint8_t>(wire::kRepayMerchantCredit): {
      const auto c = wire::AsRecord<wire::PartyTransfer>(command);
      return merchant && c.party_id == p.scope_id ? Code::ok : Code::forbidden;
    }
    case static_cast<uint8_t>(wire::kConfirmDelivery): {
      const auto c = wire::AsRecord<wire::OrderMoneyCommand>(command);
      return storefront ? OrderOwnedBy(c.order_id, p, false) : Code::forbidden;
    }
    case static_cast<uint8_t>(wire::kRepayInstalment): {
      const auto c = wire::AsRecord<wire::RepayInstalment>(command);
      return storefront ? OrderOwnedBy(c.order_id, p, false) : Code::forbidden;
    }
    case static_cast<uint8_t>(wire::kAfterSalesRefund): {
      const auto c = wire::AsRecord<wire::AfterSalesRefund>(command);
      return merchant ? OrderOwnedBy(c.order_id, p, true) : Code::forbidden;
    }
    case static_cast<uint8_t>(wire::kStockWarehouse): {
      const auto c = wire::AsRecord<wire::StockWarehouse>(command);
      return merchant ? owns_sku(c.sku_id) : Code::forbidden;
    }
    case static_cast<uint8_t>(wire::kTrackParcel): {
      if (p.role != Role::kCourier || !fulfilment_) return Code::forbidden;
      const auto c = wire::AsRecord<wire::TrackParcel>(command);
      wire::ParcelRecord parcel;
      if (fulfilment_->QueryParcel(c.waybill, &parcel) != Code::ok) return Code::ok;
      return parcel.courier_id == p.scope_id ? Code::ok : Code::forbidden;
    }
    default:
      // Merchants, the raw ledger, deposits, credit limits and lines, warehouses, couriers,
      // coverage, region points and keys: operators only.
      return Code::forbidden;
  }
}

wire::Result Engine::ExecuteAccess(const wire::Command& command, uint64_t now_us) {
  const Code structure = wire::CheckAccessStructure(command);
  if (structure != Code::ok) return CommandResult(structure, command.operation, 0);
  const uint32_t issuer = wire::IssuerOf(command);
  if (command.operation == wire::kCreateKey) {
    const auto c = wire::AsRecord<wire::CreateKey>(command);
    const Operation op = wire::kCreateKey;
    const auto role = static_cast<uint8_t>(c.role);
    if (role == 0 || role > wire::kRoleMax) return CommandResult(Code::invalid_role, op, 0);
    const bool scoped =
        c.role == Role::kStorefront || c.role == Role::kMerchant || c.role == Role::kCourier;
    if (scoped != (c.scope_id != 0) ||
        (c.role == Role::kStorefront && c.scope_id > wire::kStorefrontIdMax)) {
      return CommandResult(Code::invalid_key_scope, op, 0);
    }
    if (c.role == Role::kMerchant && merchant_index_.Find(c.scope_id) == kNoValue) {
      return CommandResult(Code::merchant_not_found, op, 0);
    }
    if (c.role == Role::kCourier && (!fulfilment_ || !fulfilment_->HasCourier(c.scope_id))) {
      return CommandResult(Code::courier_not_found, op, 0);
    }
    if (wire::AllZero(c.secret_sha256, sizeof c.secret_sha256)) {
      return CommandResult(Code::invalid_id, op, 0);
    }
    // Keys are few and created rarely: a scan finds a reused secret.
    for (uint32_t k = 0; k < api_key_count_; k++) {
      if (std::memcmp(api_keys_[k].secret_sha256, c.secret_sha256, wire::kSecretHashSize) == 0) {
        return CommandResult(Code::key_exists, op, k + 1);
      }
    }
    if (api_key_count_ == config_.api_key_count_max) return CommandResult(Code::keys_full, op, 0);
    ApiKeyRow& key = api_keys_[api_key_count_++];
    key = ApiKeyRow{};
    key.scope_id = c.scope_id;
    key.created_at_us = now_us;
    key.created_by = issuer;
    key.role = c.role;
    key.state = wire::KeyState::kActive;
    std::memcpy(key.secret_sha256, c.secret_sha256, wire::kSecretHashSize);
    wire::Result result = CommandResult(Code::ok, op, api_key_count_);
    result.at_us = now_us;
    return result;
  }
  const auto c = wire::AsRecord<wire::RevokeKey>(command);
  const Operation op = wire::kRevokeKey;
  if (c.key_id == 0 || c.key_id > api_key_count_)
    return CommandResult(Code::key_not_found, op, c.key_id);
  ApiKeyRow& key = api_keys_[c.key_id - 1];
  wire::Result result = CommandResult(Code::ok, op, c.key_id);
  if (key.state == wire::KeyState::kRevoked) {
    result.at_us = key.revoked_at_us;
    result.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);
    return result;
  }
  if (key.role == Role::kOperator) {
    uint32_t active_operators = 0;
    for (uint32_t k = 0; k < api_key_count_; k++) {
      active_operators +=
          api_keys_[k].role == Role::kOperator && api_keys_[k].state == wire::KeyState::kActive;
    }
    if (active_operators == 1) return CommandResult(Code::last_operator_key, op, c.key_id);
  }
  key.state = wire::KeyState::kRevoked;
  key.revoked_at_us = now_us;
  key.revoked_by = issuer;
  result.at_us = now_us;
  return result;
}

}  // namespace eleven::engine
