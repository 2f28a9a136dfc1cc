// JSON for the gateway's replies: command results, query records, errors, feed events.
// Numbers are written as plain integers (ids are u64: clients parse them as such).
#pragma once

#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "client/protocol.h"
#include "wire/codes.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"
#include "wire/records.h"

namespace eleven::server {

// Appends `"key":value` pairs with commas; the caller adds the braces.
class JsonOut {
 public:
  explicit JsonOut(std::string* out) : out_(out) {}
  void Key(std::string_view key) {
    if (!first_) *out_ += ',';
    first_ = false;
    *out_ += '"';
    *out_ += key;
    *out_ += "\":";
  }
  void Uint(std::string_view key, uint64_t value) {
    Key(key);
    Number(value);
  }
  void Int(std::string_view key, int64_t value) {
    Key(key);
    Number(value);
  }
  void Bool(std::string_view key, bool value) {
    Key(key);
    *out_ += value ? "true" : "false";
  }
  // `value` must need no escaping (codes, names): every caller passes fixed identifiers.
  void Name(std::string_view key, std::string_view value) {
    Key(key);
    *out_ += '"';
    *out_ += value;
    *out_ += '"';
  }
  // Free text, escaped.
  void Text(std::string_view key, std::string_view value);
  void Raw(std::string_view key, std::string_view json) {
    Key(key);
    *out_ += json;
  }

 private:
  template <typename T>
  void Number(T value) {
    char buffer[24];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
    (void)ec;
    out_->append(buffer, end);
  }
  std::string* out_;
  bool first_ = true;
};

std::string_view OperationName(wire::Operation operation);
std::string_view OrderStateName(wire::OrderState state);
std::string_view DropStateName(wire::DropState state);

// {"error":"<code>","message":"..."} (plus nothing else).
std::string ErrorJson(std::string_view code, std::string_view message);
// A command's result: ok -> {"code":"ok",...}; otherwise the error object with the fields.
std::string ResultJson(const wire::Result& result);
std::string OrderJson(const wire::OrderRecord& order);
std::string SkuJson(const wire::SkuRecord& sku);
std::string DropJson(const wire::DropRecord& drop);
// Coupons (docs/promotions.md).
std::string CouponJson(const wire::CouponRecord& coupon);
std::string CouponClaimJson(const wire::CouponClaimRecord& claim);
// Pre-sales (docs/promotions.md, "Pre-sale").
std::string PresaleJson(const wire::PresaleRecord& presale);
std::string DepositJson(const wire::DepositRecord& deposit);
// Ledger records (docs/ledger.md); flags are written as arrays of their names.
std::string AccountJson(const wire::AccountRecord& account);
std::string TransferJson(const wire::TransferRecord& transfer);
std::string OrderMoneyJson(const wire::OrderMoneyRecord& money);
std::string PlanJson(const wire::PlanRecord& plan);
std::string MerchantCreditJson(const wire::MerchantCreditRecord& credit);
std::string BuyerCreditJson(const wire::BuyerCreditRecord& credit);
// {"account_id":...,"transfers":[...],"next_cursor":"..."}, newest first; next_cursor only
// when `next_cursor` is not empty.
std::string TransfersJson(uint64_t account_id, std::span<const wire::TransferRecord> transfers,
                          const std::string& next_cursor);
// Fulfilment records (docs/fulfilment.md).
std::string ParcelJson(const wire::ParcelRecord& parcel);
std::string ShipmentJson(const wire::ShipmentRecord& shipment);
// {"waybill":...,"events":[...]}, oldest first.
std::string TimelineJson(uint64_t waybill, std::span<const wire::TimelineEntry> events);
std::string FiguresJson(const wire::FiguresRecord& figures);
// GET /figures: {"op":...,"total":{...},"by_city_tier":[...],"by_region":[...],
// "by_country":[...],"by_drop":[...]} from get_sales' records, exact to `op`.
std::string SalesJson(uint64_t op, std::span<const wire::SalesRecord> sales);
std::string StockJson(const protocol::WarehouseStockRecord& stock);
std::string HourJson(const wire::HourFigure& hour);
// {"op":...,"timestamp_us":...,"digest":"<32 hex digits>"}.
std::string DigestJson(const protocol::DigestRecord& digest);
// POST /clock's reply: {"mode": "client"|"wall", "log_time_us": N}.
std::string ClockJson(const protocol::ClockRecord& clock);
std::string KeyJson(const wire::KeyRecord& key);
std::string MerchantJson(const wire::MerchantRecord& merchant);
std::string WarehouseJson(const wire::WarehouseRecord& warehouse);
std::string CourierJson(const wire::CourierRecord& courier);

}  // namespace eleven::server
