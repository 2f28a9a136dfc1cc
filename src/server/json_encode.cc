#include "server/json_encode.h"

#include <cstdio>

namespace eleven::server {

void JsonOut::Text(std::string_view key, std::string_view value) {
  Key(key);
  *out_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      *out_ += '\\';
      *out_ += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
      *out_ += escaped;
    } else {
      *out_ += c;
    }
  }
  *out_ += '"';
}

std::string_view OperationName(wire::Operation operation) {
  switch (operation) {
    case wire::Operation::kCreateMerchant: return "create_merchant";
    case wire::Operation::kCreateSku: return "create_sku";
    case wire::Operation::kRestock: return "restock";
    case wire::Operation::kSetPrice: return "set_price";
    case wire::Operation::kCreateDrop: return "create_drop";
    case wire::Operation::kCloseDrop: return "close_drop";
    case wire::Operation::kPlaceOrder: return "place_order";
    case wire::Operation::kPayOrder: return "pay_order";
    case wire::Operation::kCancelOrder: return "cancel_order";
    default: break;  // ledger and fulfilment operations are not routed through the gateway yet
  }
  return "unknown";
}

std::string_view OrderStateName(wire::OrderState state) {
  switch (state) {
    case wire::OrderState::kNone: return "none";
    case wire::OrderState::kPending: return "pending";
    case wire::OrderState::kPaid: return "paid";
    case wire::OrderState::kCancelled: return "cancelled";
    case wire::OrderState::kExpired: return "expired";
    case wire::OrderState::kRejected: return "rejected";
    case wire::OrderState::kDelivered: return "delivered";
  }
  return "unknown";
}

std::string_view DropStateName(wire::DropState state) {
  switch (state) {
    case wire::DropState::kScheduled: return "scheduled";
    case wire::DropState::kOpen: return "open";
    case wire::DropState::kClosed: return "closed";
  }
  return "unknown";
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out = "{";
  JsonOut j(&out);
  j.Text("error", code);
  j.Text("message", message);
  out += '}';
  return out;
}

std::string ResultJson(const wire::Result& r) {
  std::string out = "{";
  JsonOut j(&out);
  const std::string_view code = wire::CodeName(r.code);
  const std::string_view operation = OperationName(r.operation);
  if (r.code == wire::Code::ok) {
    j.Name("code", code);
  } else {
    j.Name("error", code);
    j.Text("message", std::string(operation) + " refused: " + std::string(code));
  }
  j.Name("operation", operation);
  j.Uint("id", r.id);
  if (r.state != wire::OrderState::kNone) j.Name("state", OrderStateName(r.state));
  j.Int("amount_fen", r.amount_fen);
  j.Uint("at_us", r.at_us);
  out += '}';
  return out;
}

std::string OrderJson(const wire::OrderRecord& o) {
  std::string out = "{";
  JsonOut j(&out);
  j.Uint("order_id", o.order_id);
  j.Uint("idempotency_key", o.idempotency_key);
  j.Uint("merchant_id", o.merchant_id);
  j.Uint("buyer_id", o.buyer_id);
  j.Uint("drop_id", o.drop_id);
  j.Uint("created_at_us", o.created_at_us);
  j.Uint("pay_by_us", o.pay_by_us);
  j.Int("total_fen", o.total_fen);
  j.Name("state", OrderStateName(o.state));
  j.Name("code", wire::CodeName(o.code));
  j.Uint("region", o.region);
  j.Uint("city_tier", o.city_tier);
  std::string lines = "[";
  for (int l = 0; l < o.line_count && l < wire::kOrderLineCountMax; l++) {
    if (l > 0) lines += ',';
    lines += '{';
    JsonOut line(&lines);
    line.Uint("sku_id", o.sku_id[l]);
    line.Uint("quantity", o.quantity[l]);
    lines += '}';
  }
  lines += ']';
  j.Raw("lines", lines);
  out += '}';
  return out;
}

std::string SkuJson(const wire::SkuRecord& s) {
  std::string out = "{";
  JsonOut j(&out);
  j.Uint("sku_id", s.sku_id);
  j.Uint("merchant_id", s.merchant_id);
  j.Int("price_fen", s.price_fen);
  j.Uint("available", s.available);
  j.Uint("reserved", s.reserved);
  j.Uint("sold", s.sold);
  j.Uint("in_drops", s.in_drops);
  j.Uint("received", s.received);
  j.Uint("per_buyer_limit", s.per_buyer_limit);
  out += '}';
  return out;
}

std::string DropJson(const wire::DropRecord& d) {
  std::string out = "{";
  JsonOut j(&out);
  j.Uint("drop_id", d.drop_id);
  j.Uint("sku_id", d.sku_id);
  j.Int("live_price_fen", d.live_price_fen);
  j.Uint("quota", d.quota);
  j.Uint("available", d.available);
  j.Uint("reserved", d.reserved);
  j.Uint("sold", d.sold);
  j.Uint("returned", d.returned);
  j.Uint("per_buyer_limit", d.per_buyer_limit);
  j.Uint("opens_at_us", d.opens_at_us);
  j.Uint("closes_at_us", d.closes_at_us);
  j.Uint("sold_out_at_us", d.sold_out_at_us);
  j.Name("state", DropStateName(d.state));
  out += '}';
  return out;
}

}  // namespace eleven::server
