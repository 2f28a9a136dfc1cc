// The names the HTTP gateway gives enum values in JSON, both ways: the decoder reads them
// (payment_method, mode, event) and the encoder writes them (states). Index = the value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace eleven::server {

inline constexpr std::string_view kPaymentMethodNames[] = {
    "", "balance", "card", "instalment_merchant_fee", "instalment_buyer_fee"};
inline constexpr std::string_view kCourierModeNames[] = {"", "express", "charter_air", "europe_rail"};
// wire::ParcelState; a tracking event is named after the state it moves the parcel into.
inline constexpr std::string_view kParcelStateNames[] = {
    "none",        "allocated",    "picked",           "packed",    "handed_to_courier", "departed_hub",
    "arrived_hub", "out_for_delivery", "delivered", "exception", "returned", "cancelled"};
inline constexpr std::string_view kTransferStateNames[] = {
    "", "posted", "pending", "pending_posted", "pending_voided", "pending_expired"};
inline constexpr std::string_view kOrderMoneyStateNames[] = {"", "paid", "refunded", "settled", "converted"};
inline constexpr std::string_view kPlanStateNames[] = {"", "active", "repaid", "cancelled", "overdue"};
// wire::Role and wire::KeyState (docs/access.md).
inline constexpr std::string_view kRoleNames[] = {"", "operator", "storefront", "merchant", "courier", "viewer"};
inline constexpr std::string_view kKeyStateNames[] = {"", "active", "revoked"};
inline constexpr std::string_view kShipmentStateNames[] = {"none", "backlogged", "allocated", "completed"};
// wire::OrderState and wire::DropState.
inline constexpr std::string_view kOrderStateNames[] = {"none",     "pending",   "paid",     "cancelled",
                                                        "expired",  "rejected",  "delivered", "returned"};
inline constexpr std::string_view kDropStateNames[] = {"", "scheduled", "open", "closed"};
// wire::CouponKind and wire::ClaimState (docs/promotions.md).
inline constexpr std::string_view kCouponKindNames[] = {"", "fixed", "threshold"};
inline constexpr std::string_view kClaimStateNames[] = {"", "claimed", "held", "used"};
// wire::PresaleState and wire::DepositState.
inline constexpr std::string_view kPresaleStateNames[] = {"", "scheduled", "deposits", "waiting", "balance", "closed"};
inline constexpr std::string_view kDepositStateNames[] = {"", "paid", "converted", "forfeited"};

// names[value], or "unknown" when the value has no name.
inline std::string_view NameOf(std::span<const std::string_view> names, uint8_t value) {
  return value < names.size() && !names[value].empty() ? names[value] : "unknown";
}

// The value named `name`, or false (an empty name is never a value).
inline bool ValueOf(std::span<const std::string_view> names, std::string_view name, uint8_t* value) {
  for (size_t i = 0; i < names.size(); i++) {
    if (!name.empty() && names[i] == name) {
      *value = static_cast<uint8_t>(i);
      return true;
    }
  }
  return false;
}

}  // namespace eleven::server
