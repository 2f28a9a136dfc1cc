#include "server/json_encode.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <vector>

#include "server/json_names.h"

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
  static constexpr std::string_view kLedgerNames[] = {
      "create_account",         "create_transfer",   "deposit",           "withdraw",
      "set_buyer_credit_limit", "set_merchant_credit_line", "draw_down", "repay_merchant_credit",
      "pay_order_money",        "refund_order_money", "confirm_delivery", "repay_instalment",
      "after_sales_refund"};
  static constexpr std::string_view kFulfilmentNames[] = {
      "create_warehouse", "stock_warehouse", "create_courier", "set_coverage",
      "set_region_point", "ship_order",      "track_parcel"};
  static_assert(std::size(kLedgerNames) == wire::kLedgerCommandMax - wire::kLedgerCommandMin + 1);
  static_assert(std::size(kFulfilmentNames) ==
                wire::kFulfilmentOperationLast - wire::kFulfilmentOperationMin + 1);
  const auto op = static_cast<uint8_t>(operation);
  if (op >= wire::kLedgerCommandMin && op <= wire::kLedgerCommandMax) {
    return kLedgerNames[op - wire::kLedgerCommandMin];
  }
  if (op >= wire::kFulfilmentOperationMin && op <= wire::kFulfilmentOperationLast) {
    return kFulfilmentNames[op - wire::kFulfilmentOperationMin];
  }
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
    case wire::Operation::kCreateCoupon: return "create_coupon";
    case wire::Operation::kClaimCoupon: return "claim_coupon";
    case wire::Operation::kCreatePresale: return "create_presale";
    case wire::Operation::kPayDeposit: return "pay_deposit";
    case wire::Operation::kPayBalance: return "pay_balance";
    default: break;
  }
  if (operation == wire::kCreateKey) return "create_key";
  if (operation == wire::kRevokeKey) return "revoke_key";
  return "unknown";
}

namespace {

// The name of a result's `state` byte, which each module gives its own meaning
// (docs/ledger.md "Results", docs/fulfilment.md); "" when the operation sets none.
std::string_view ResultStateName(wire::Operation operation, uint8_t state) {
  if (state == 0) return "";
  const auto op = static_cast<uint8_t>(operation);
  if (op <= wire::kOperationMax) return OrderStateName(static_cast<wire::OrderState>(state));
  if (operation == wire::kCreateTransfer || operation == wire::kDeposit || operation == wire::kWithdraw ||
      operation == wire::kDrawDown || operation == wire::kRepayMerchantCredit) {
    return NameOf(kTransferStateNames, state);
  }
  if (operation == wire::kRepayInstalment) return NameOf(kPlanStateNames, state);
  if (wire::IsLedgerCommand(operation)) return NameOf(kOrderMoneyStateNames, state);
  if (operation == wire::kTrackParcel) return NameOf(kParcelStateNames, state);
  return "unknown";
}

// "flags":["linked",...]: the names of the set bits (bit i named names[i]).
void FlagNames(JsonOut& j, std::span<const std::string_view> names, uint8_t flags) {
  std::string list = "[";
  for (size_t bit = 0; bit < names.size(); bit++) {
    if ((flags & (1u << bit)) == 0) continue;
    if (list.size() > 1) list += ',';
    list += '"';
    list += names[bit];
    list += '"';
  }
  list += ']';
  j.Raw("flags", list);
}

constexpr std::string_view kAccountFlagNames[] = {"linked", "debits_must_not_exceed_credits",
                                                  "credits_must_not_exceed_debits"};
constexpr std::string_view kTransferFlagNames[] = {"linked", "pending", "post_pending_transfer",
                                                   "void_pending_transfer", "balancing_debit",
                                                   "balancing_credit"};

// "lines":[{"sku_id":...,"quantity":...},...]
void Lines(JsonOut& j, const uint64_t* sku_id, const uint16_t* quantity, int count) {
  std::string lines = "[";
  for (int l = 0; l < count && l < wire::kOrderLineCountMax; l++) {
    if (l > 0) lines += ',';
    lines += '{';
    JsonOut line(&lines);
    line.Uint("sku_id", sku_id[l]);
    line.Uint("quantity", quantity[l]);
    lines += '}';
  }
  lines += ']';
  j.Raw("lines", lines);
}

// `"key":[...]` of elements each written by `element(j, i)` into its own object.
template <typename Element>
void ObjectList(JsonOut& j, std::string_view key, size_t count, Element element) {
  std::string list = "[";
  for (size_t i = 0; i < count; i++) {
    if (i > 0) list += ',';
    list += '{';
    JsonOut item(&list);
    element(item, i);
    list += '}';
  }
  list += ']';
  j.Raw(key, list);
}

// Runs `fill` on a fresh object and returns it, braces added.
template <typename Fill>
std::string Object(Fill fill) {
  std::string out = "{";
  JsonOut j(&out);
  fill(j);
  out += '}';
  return out;
}

}  // namespace

std::string_view OrderStateName(wire::OrderState state) {
  return NameOf(kOrderStateNames, static_cast<uint8_t>(state));
}

std::string_view DropStateName(wire::DropState state) {
  return NameOf(kDropStateNames, static_cast<uint8_t>(state));
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out = "{";
  JsonOut j(&out);
  j.Text("error", code);
  j.Text("message", message);
  out += '}';
  return out;
}

// What a validation refusal means, naming the field and its valid range; "" for the others.
std::string CodeHint(wire::Code code) {
  using wire::Code;
  const auto range = [](std::string_view what, int64_t min, int64_t max) {
    return std::string(what) + " must be " + std::to_string(min) + ".." + std::to_string(max);
  };
  switch (code) {
    case Code::invalid_quantity:
      return range("an order line's quantity", 1, wire::kLineQuantityMax) + "; " +
             range("stock, quota, restock and warehouse units", 1, wire::kStockMax);
    case Code::invalid_price:
      return range("price_fen and live_price_fen", 1, wire::kPriceMaxFen);
    case Code::invalid_country:
      return "country must be an ISO 3166-1 alpha-2 code in upper case (\"CN\", \"JP\", ...)";
    case Code::invalid_region:
      return range("region", 1, wire::kRegionMax);
    case Code::invalid_city_tier:
      return range("city_tier", 1, wire::kCityTierMax);
    case Code::invalid_line_count:
      return range("an order's number of lines", 1, wire::kOrderLineCountMax);
    case Code::invalid_drop_window:
      return "closes_at_us must be after opens_at_us and after the log time";
    case Code::drop_price_above_list:
      return "live_price_fen must not exceed the SKU's price_fen";
    case Code::order_total_too_large:
      return "the order's total must not exceed " + std::to_string(wire::kOrderTotalMaxFen) +
             " fen (what one payment may move)";
    default:
      return "";
  }
}

std::string ResultJson(const wire::Result& r) {
  return Object([&](JsonOut& j) {
    const std::string_view code = wire::CodeName(r.code);
    const std::string_view operation = OperationName(r.operation);
    if (r.code == wire::Code::ok) {
      j.Name("code", code);
    } else {
      j.Name("error", code);
      const std::string hint = CodeHint(r.code);
      j.Text("message", std::string(operation) + " refused: " + std::string(code) +
                            (hint.empty() ? "" : ": " + hint));
    }
    j.Name("operation", operation);
    j.Uint("id", r.id);
    const std::string_view state = ResultStateName(r.operation, static_cast<uint8_t>(r.state));
    if (!state.empty()) j.Name("state", state);
    j.Int("amount_fen", r.amount_fen);
    j.Uint("at_us", r.at_us);
    // A retry's reply: the first result, and this marker (docs/server.md, "Retries").
    if (wire::IsReplay(r)) j.Bool("replayed", true);
  });
}

std::string OrderJson(const wire::OrderRecord& o) {
  return Object([&](JsonOut& j) {
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
    Lines(j, o.sku_id, o.quantity, o.line_count);
    // Coupons (docs/promotions.md): total_fen is net of both discounts.
    j.Uint("platform_coupon_id", o.platform_coupon_id);
    j.Int("platform_discount_fen", o.platform_discount_fen);
    j.Uint("shop_coupon_id", o.shop_coupon_id);
    j.Int("shop_discount_fen", o.shop_discount_fen);
  });
}

std::string CouponJson(const wire::CouponRecord& c) {
  return Object([&](JsonOut& j) {
    j.Uint("coupon_id", c.coupon_id);
    j.Uint("merchant_id", c.merchant_id);
    j.Name("kind", NameOf(kCouponKindNames, static_cast<uint8_t>(c.kind)));
    j.Int("amount_fen", c.amount_fen);
    j.Int("threshold_fen", c.threshold_fen);
    j.Uint("drop_id", c.drop_id);
    j.Uint("starts_at_us", c.starts_at_us);
    j.Uint("ends_at_us", c.ends_at_us);
    j.Uint("count", c.count);
    j.Uint("claimed", c.claimed);
    j.Uint("held", c.held);
    j.Uint("redeemed", c.redeemed);
    j.Int("discount_fen", c.discount_fen);
  });
}

std::string PresaleJson(const wire::PresaleRecord& p) {
  return Object([&](JsonOut& j) {
    j.Uint("presale_id", p.presale_id);
    j.Uint("sku_id", p.sku_id);
    j.Uint("merchant_id", p.merchant_id);
    j.Int("price_fen", p.price_fen);
    j.Int("deposit_fen", p.deposit_fen);
    j.Int("deposit_value_fen", p.deposit_value_fen);
    j.Uint("deposit_starts_at_us", p.deposit_starts_us);
    j.Uint("deposit_ends_at_us", p.deposit_ends_us);
    j.Uint("balance_starts_at_us", p.balance_starts_us);
    j.Uint("balance_ends_at_us", p.balance_ends_us);
    j.Uint("quota", p.quota);
    j.Uint("available", p.available);
    j.Uint("deposited", p.deposited);
    j.Uint("converted", p.converted);
    j.Uint("returned", p.returned);
    j.Uint("forfeited", p.forfeited);
    j.Int("forfeited_fen", p.forfeited_fen);
    j.Uint("per_buyer_limit", p.per_buyer_limit);
    j.Uint("deposits", p.deposits);
    j.Name("state", NameOf(kPresaleStateNames, static_cast<uint8_t>(p.state)));
  });
}

std::string DepositJson(const wire::DepositRecord& d) {
  return Object([&](JsonOut& j) {
    j.Uint("presale_id", d.presale_id);
    j.Uint("buyer_id", d.buyer_id);
    j.Name("state", NameOf(kDepositStateNames, static_cast<uint8_t>(d.state)));
    j.Uint("quantity", d.quantity);
    j.Int("deposit_fen", d.deposit_fen);
    j.Int("balance_fen", d.balance_fen);
    j.Uint("money_id", d.money_id);
    j.Uint("order_id", d.order_id);
    j.Uint("paid_at_us", d.paid_at_us);
  });
}

std::string CouponClaimJson(const wire::CouponClaimRecord& c) {
  return Object([&](JsonOut& j) {
    j.Uint("coupon_id", c.coupon_id);
    j.Uint("buyer_id", c.buyer_id);
    j.Name("state", NameOf(kClaimStateNames, static_cast<uint8_t>(c.state)));
    j.Uint("order_id", c.order_id);
    j.Uint("claimed_at_us", c.claimed_at_us);
  });
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


std::string AccountJson(const wire::AccountRecord& a) {
  return Object([&](JsonOut& j) {
    j.Uint("account_id", a.account_id);
    j.Uint("ledger", a.ledger);
    j.Uint("code", a.code);
    FlagNames(j, kAccountFlagNames, a.flags);
    j.Int("debits_pending_fen", a.debits_pending_fen);
    j.Int("debits_posted_fen", a.debits_posted_fen);
    j.Int("credits_pending_fen", a.credits_pending_fen);
    j.Int("credits_posted_fen", a.credits_posted_fen);
    j.Uint("user_data", a.user_data);
    j.Uint("created_at_us", a.created_at_us);
  });
}

namespace {
void TransferFields(JsonOut& j, const wire::TransferRecord& t) {
  j.Uint("transfer_id", t.transfer_id);
  j.Uint("debit_account_id", t.debit_account_id);
  j.Uint("credit_account_id", t.credit_account_id);
  j.Int("amount_fen", t.amount_fen);
  j.Uint("pending_id", t.pending_id);
  j.Uint("ledger", t.ledger);
  j.Uint("code", t.code);
  FlagNames(j, kTransferFlagNames, t.flags);
  j.Name("state", NameOf(kTransferStateNames, static_cast<uint8_t>(t.state)));
  j.Int("posted_fen", t.posted_fen);
  j.Uint("user_data", t.user_data);
  j.Uint("created_at_us", t.created_at_us);
  j.Uint("expires_at_us", t.expires_at_us);
}
}  // namespace

std::string TransferJson(const wire::TransferRecord& t) {
  return Object([&](JsonOut& j) { TransferFields(j, t); });
}

std::string TransfersJson(uint64_t account_id, std::span<const wire::TransferRecord> transfers,
                          const std::string& next_cursor) {
  return Object([&](JsonOut& j) {
    j.Uint("account_id", account_id);
    ObjectList(j, "transfers", transfers.size(), [&](JsonOut& item, size_t i) { TransferFields(item, transfers[i]); });
    if (!next_cursor.empty()) j.Name("next_cursor", next_cursor);
  });
}

std::string OrderMoneyJson(const wire::OrderMoneyRecord& m) {
  return Object([&](JsonOut& j) {
    j.Uint("order_id", m.order_id);
    j.Uint("buyer_id", m.buyer_id);
    j.Uint("merchant_id", m.merchant_id);
    j.Int("amount_fen", m.amount_fen);
    j.Name("payment_method", NameOf(kPaymentMethodNames, static_cast<uint8_t>(m.method)));
    j.Uint("instalment_periods", m.instalment_periods);
    j.Name("state", NameOf(kOrderMoneyStateNames, static_cast<uint8_t>(m.state)));
    j.Uint("paid_at_us", m.paid_at_us);
    j.Uint("closed_at_us", m.closed_at_us);
    j.Int("commission_fen", m.commission_fen);
    j.Int("merchant_fee_fen", m.merchant_fee_fen);
    j.Int("withheld_fen", m.withheld_fen);
    j.Int("merchant_net_fen", m.merchant_net_fen);
    j.Int("refunded_fen", m.refunded_fen);
    j.Int("subsidy_fen", m.subsidy_fen);
    j.Int("subsidy_refunded_fen", m.subsidy_refunded_fen);
    j.Int("deposit_fen", m.deposit_fen);
    j.Int("deposit_refunded_fen", m.deposit_refunded_fen);
    j.Uint("deposit_id", m.deposit_id);
  });
}

std::string PlanJson(const wire::PlanRecord& p) {
  return Object([&](JsonOut& j) {
    j.Uint("order_id", p.order_id);
    j.Uint("buyer_id", p.buyer_id);
    j.Uint("periods", p.periods);
    j.Uint("repaid_count", p.repaid_count);
    j.Name("state", NameOf(kPlanStateNames, static_cast<uint8_t>(p.state)));
    j.Int("principal_fen", p.principal_fen);
    j.Int("fee_fen", p.fee_fen);
    j.Int("total_fen", p.total_fen);
    j.Int("repaid_fen", p.repaid_fen);
    j.Uint("started_at_us", p.started_at_us);
    j.Uint("period_us", p.period_us);
    j.Uint("next_due_us", p.next_due_us);
  });
}

std::string MerchantCreditJson(const wire::MerchantCreditRecord& c) {
  return Object([&](JsonOut& j) {
    j.Uint("merchant_id", c.merchant_id);
    j.Bool("has_line", c.has_line != 0);
    j.Int("limit_fen", c.limit_fen);
    j.Uint("withhold_bp", c.withhold_bp);
    j.Int("outstanding_fen", c.outstanding_fen);
    j.Int("drawn_fen", c.drawn_fen);
    j.Int("repaid_fen", c.repaid_fen);
    j.Int("withheld_fen", c.withheld_fen);
    j.Int("wallet_fen", c.wallet_fen);
  });
}

std::string BuyerCreditJson(const wire::BuyerCreditRecord& c) {
  return Object([&](JsonOut& j) {
    j.Uint("buyer_id", c.buyer_id);
    j.Int("credit_limit_fen", c.credit_limit_fen);
    j.Int("outstanding_fen", c.outstanding_fen);
    j.Int("wallet_fen", c.wallet_fen);
    j.Uint("plan_count", c.plan_count);
  });
}

std::string ParcelJson(const wire::ParcelRecord& p) {
  return Object([&](JsonOut& j) {
    j.Uint("waybill", p.waybill);
    j.Uint("order_id", p.order_id);
    j.Uint("warehouse_id", p.warehouse_id);
    j.Uint("courier_id", p.courier_id);
    j.Name("state", NameOf(kParcelStateNames, static_cast<uint8_t>(p.state)));
    j.Uint("allocated_at_us", p.allocated_at_us);
    j.Uint("handed_at_us", p.handed_at_us);
    j.Uint("sort_code", p.sort_code);
    j.Uint("event_count", p.event_count);
    j.Uint("region", p.region);
    j.Uint("city_tier", p.city_tier);
    j.Uint("parcel_number", p.parcel_number);
    j.Uint("parcel_count", p.parcel_count);
    Lines(j, p.sku_id, p.quantity, p.line_count);
  });
}

std::string ShipmentJson(const wire::ShipmentRecord& s) {
  return Object([&](JsonOut& j) {
    j.Uint("order_id", s.order_id);
    j.Name("state", NameOf(kShipmentStateNames, static_cast<uint8_t>(s.state)));
    j.Uint("region", s.region);
    if (s.state == wire::ShipmentState::kBacklogged && s.backlog_position != wire::kBacklogPositionUnknown) {
      j.Uint("backlog_position", s.backlog_position);
    }
    std::string waybills = "[";
    for (uint32_t p = 0; p < s.parcel_count && p < wire::kShipmentParcelCountMax; p++) {
      if (p > 0) waybills += ',';
      waybills += std::to_string(s.waybill[p]);
    }
    waybills += ']';
    j.Raw("waybills", waybills);
  });
}

std::string TimelineJson(uint64_t waybill, std::span<const wire::TimelineEntry> events) {
  return Object([&](JsonOut& j) {
    j.Uint("waybill", waybill);
    ObjectList(j, "events", events.size(), [&](JsonOut& item, size_t i) {
      item.Name("state", NameOf(kParcelStateNames, static_cast<uint8_t>(events[i].state)));
      item.Uint("at_us", events[i].at_us);
      item.Uint("hub", events[i].hub);
    });
  });
}

std::string FiguresJson(const wire::FiguresRecord& f) {
  return Object([&](JsonOut& j) {
    j.Uint("parcels_allocated", f.parcels_allocated);
    j.Uint("parcels_dispatched", f.parcels_dispatched);
    j.Uint("parcels_delivered", f.parcels_delivered);
    j.Uint("parcels_returned", f.parcels_returned);
    j.Uint("parcels_evicted", f.parcels_evicted);
    j.Uint("shipments_cancelled", f.shipments_cancelled);
    j.Uint("shipments_allocated", f.shipments_allocated);
    j.Uint("shipments_split", f.shipments_split);
    j.Uint("backlog_count", f.backlog_count);
    j.Uint("backlog_count_high", f.backlog_count_high);
    const size_t milestones = std::min<size_t>(f.milestone_count, wire::kMilestoneCountMax);
    ObjectList(j, "milestones", milestones, [&](JsonOut& item, size_t i) {
      item.Uint("parcels", f.milestone_parcels[i]);
      item.Uint("at_us", f.milestone_at_us[i]);
    });
  });
}

namespace {

void SalesFields(JsonOut& j, const wire::SalesRecord& s) {
  j.Int("gross_fen", s.gross_fen);
  j.Int("discounts_fen", s.discounts_fen);
  j.Int("refunds_fen", s.refunds_fen);
  j.Int("net_fen", s.net_fen);
  j.Uint("orders", s.orders);
  j.Uint("units", s.units);
}

}  // namespace

std::string SalesJson(uint64_t op, std::span<const wire::SalesRecord> sales) {
  using D = wire::SalesDimension;
  return Object([&](JsonOut& j) {
    j.Uint("op", op);
    for (const wire::SalesRecord& s : sales) {
      if (s.dimension == D::kTotal) j.Raw("total", Object([&](JsonOut& t) { SalesFields(t, s); }));
    }
    auto list = [&](std::string_view key, D dimension, auto name) {
      std::vector<const wire::SalesRecord*> of;
      for (const wire::SalesRecord& s : sales) {
        if (s.dimension == dimension) of.push_back(&s);
      }
      ObjectList(j, key, of.size(), [&](JsonOut& item, size_t i) {
        name(item, *of[i]);
        SalesFields(item, *of[i]);
      });
    };
    list("by_city_tier", D::kCityTier, [](JsonOut& item, const wire::SalesRecord& s) { item.Uint("city_tier", s.key); });
    list("by_region", D::kRegion, [](JsonOut& item, const wire::SalesRecord& s) { item.Uint("region", s.key); });
    list("by_country", D::kCountry, [](JsonOut& item, const wire::SalesRecord& s) {
      char code[2];
      std::memcpy(code, &s.key, 2);
      item.Name("country", std::string_view(code, 2));
    });
    list("by_drop", D::kDrop, [](JsonOut& item, const wire::SalesRecord& s) { item.Uint("drop_id", s.key); });
  });
}

std::string StockJson(const protocol::WarehouseStockRecord& s) {
  return Object([&](JsonOut& j) {
    j.Uint("warehouse_id", s.warehouse_id);
    j.Uint("sku_id", s.sku_id);
    j.Uint("units", s.units);
  });
}

std::string HourJson(const wire::HourFigure& h) {
  return Object([&](JsonOut& j) {
    j.Uint("id", h.object_id);
    j.Uint("hour_index", h.hour_index);
    j.Uint("allocated", h.allocated);
    j.Uint("dispatched", h.dispatched);
  });
}

std::string DigestJson(const protocol::DigestRecord& d) {
  return Object([&](JsonOut& j) {
    j.Uint("op", d.op);
    j.Uint("timestamp_us", d.timestamp_us);
    char hex[33];
    std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(d.digest_high),
                  static_cast<unsigned long long>(d.digest_low));
    j.Name("digest", hex);
  });
}

std::string KeyJson(const wire::KeyRecord& k) {
  return Object([&](JsonOut& j) {
    j.Uint("key_id", k.key_id);
    j.Name("role", NameOf(kRoleNames, static_cast<uint8_t>(k.role)));
    if (k.role == wire::Role::kStorefront) j.Uint("storefront_id", k.scope_id);
    if (k.role == wire::Role::kMerchant) j.Uint("merchant_id", k.scope_id);
    if (k.role == wire::Role::kCourier) j.Uint("courier_id", k.scope_id);
    j.Name("state", NameOf(kKeyStateNames, static_cast<uint8_t>(k.state)));
    j.Uint("created_at_us", k.created_at_us);
    j.Uint("created_by", k.created_by);
    if (k.state == wire::KeyState::kRevoked) {
      j.Uint("revoked_at_us", k.revoked_at_us);
      j.Uint("revoked_by", k.revoked_by);
    }
  });
}

std::string MerchantJson(const wire::MerchantRecord& m) {
  return Object([&](JsonOut& j) {
    j.Uint("merchant_id", m.merchant_id);
    j.Text("country", std::string_view(m.country, 2));
    j.Bool("overseas", (m.flags & 1) != 0);
  });
}

std::string WarehouseJson(const wire::WarehouseRecord& w) {
  return Object([&](JsonOut& j) {
    j.Uint("warehouse_id", w.warehouse_id);
    j.Uint("region", w.region);
    j.Uint("city", w.city);
    j.Int("x_km", w.x_km);
    j.Int("y_km", w.y_km);
    j.Uint("hourly_capacity", w.hourly_capacity);
    j.Uint("daily_capacity", w.daily_capacity);
    j.Bool("bonded", (w.flags & static_cast<uint8_t>(wire::WarehouseFlags::kBonded)) != 0);
    j.Uint("hour_index", w.hour_index);
    j.Uint("hour_used", w.hour_used);
    j.Uint("day_index", w.day_index);
    j.Uint("day_used", w.day_used);
  });
}

std::string CourierJson(const wire::CourierRecord& c) {
  return Object([&](JsonOut& j) {
    j.Uint("courier_id", c.courier_id);
    j.Text("name", std::string_view(c.name, strnlen(c.name, sizeof(c.name))));
    j.Name("mode", NameOf(kCourierModeNames, static_cast<uint8_t>(c.mode)));
    j.Uint("promised_days", c.promised_days);
    j.Uint("hourly_capacity", c.hourly_capacity);
    j.Int("cost_fen", c.cost_fen);
    j.Uint("waybill_first", c.waybill_first);
    j.Uint("waybill_count", c.waybill_count);
    j.Uint("waybill_issued", c.waybill_issued);
    j.Uint("regions_covered", c.regions_covered);
  });
}

std::string ClockJson(const protocol::ClockRecord& c) {
  return Object([&](JsonOut& j) {
    j.Name("mode", c.mode == protocol::ClockMode::kClient ? "client" : "wall");
    j.Uint("log_time_us", c.log_time_us);
  });
}

}  // namespace eleven::server
