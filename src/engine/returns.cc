// The order engine's side of returns and cancellations after payment (docs/returns.md):
// settling an order whose parcels are all terminal (refunding the returned lines' share),
// cancelling a paid order that has not shipped, and confirm_delivery only for a shipped one.
// The money moves in the ledger (engine/ledger/refunds.cc), the parcels in fulfilment
// (engine/fulfilment/fulfilment_cancel.cc); this file keeps the three in step.
#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::OrderState;
using wire::ParcelState;

namespace {

// A parcel that has left the warehouse with a courier and has not come back.
bool Shipped(ParcelState state) {
  return state == ParcelState::kHandedToCourier || state == ParcelState::kDepartedHub ||
         state == ParcelState::kArrivedHub || state == ParcelState::kOutForDelivery ||
         state == ParcelState::kException || state == ParcelState::kDelivered;
}

}  // namespace

// The returned lines' share of `whole_fen`: whole x V(returned) / V(all) rounded down, V =
// the lines' value at the unit prices of today (the drop's live price for its line). Coupons'
// discounts are so split across the lines in proportion to their value (docs/promotions.md).
int64_t Engine::ReturnedShareFen(const Order& order, uint8_t returned_lines, int64_t whole_fen) const {
  ELEVEN_ASSERT(order.line_count >= 1 && order.line_count <= wire::kOrderLineCountMax);
  __int128 part = 0;
  __int128 whole = 0;
  for (int l = 0; l < order.line_count; l++) {
    const bool from_drop =
        order.drop_index != kNoValue && drops_[order.drop_index].sku_index == order.sku_index[l];
    const int64_t price =
        from_drop ? drops_[order.drop_index].live_price_fen : skus_[order.sku_index[l]].price_fen;
    const __int128 value = static_cast<__int128>(price) * order.quantity[l];
    whole += value;
    if ((returned_lines >> l & 1) != 0) part += value;
  }
  if (whole <= 0) return 0;
  const __int128 share = static_cast<__int128>(whole_fen) * part / whole;
  ELEVEN_ASSERT(share >= 0 && share <= whole_fen);
  return static_cast<int64_t>(share);
}

int64_t Engine::BuyerRefundedFen(uint64_t order_id) const {
  wire::OrderMoneyRecord money{};
  if (ledger_->LookupOrderMoney(order_id, &money) != Code::ok) return 0;
  return money.refunded_fen - money.subsidy_refunded_fen;
}

// An order every parcel of which is delivered or returned: the money follows the parcels.
void Engine::SettleDelivered(const DeliveredOrder& delivered, uint64_t now_us) {
  ELEVEN_ASSERT(delivered.returned_count <= delivered.parcel_count);
  const uint64_t order_id = delivered.order_id;
  const Order* found = nullptr;
  const bool in_ring = FindOrder(order_id, &found) == Code::ok;
  const bool all_returned = delivered.returned_count == delivered.parcel_count;
  if (ledger_) {
    wire::OrderMoneyRecord money{};
    const bool paid = ledger_->LookupOrderMoney(order_id, &money) == Code::ok;
    int64_t refund_fen = 0;
    if (paid && all_returned) {
      refund_fen = money.amount_fen - money.refunded_fen;
    } else if (paid && delivered.returned_count > 0 && in_ring) {
      refund_fen = ReturnedShareFen(*found, delivered.returned_lines, money.amount_fen);
    }
    // Already settled by auto-confirm with nothing to give back, already refunded, or (after
    // settlement) a merchant that cannot fund the refund: nothing more moves here; the
    // after-sales refund can still give it back (docs/returns.md).
    if (refund_fen > 0) {
      const int64_t before = money.refunded_fen - money.subsidy_refunded_fen;
      if (ledger_->ReturnOrder(order_id, refund_fen, now_us) == Code::ok) {
        CountRefund(order_id, BuyerRefundedFen(order_id) - before);
      }
    } else {
      (void)ledger_->ConfirmDelivery(order_id, now_us);
    }
  } else if (in_ring && found->state == OrderState::kPaid && delivered.returned_count > 0) {
    // Payments made elsewhere: the returned share is refunded there, and counted here.
    CountRefund(order_id, all_returned ? found->total_fen
                                       : ReturnedShareFen(*found, delivered.returned_lines, found->total_fen));
  }
  if (in_ring && found->state == OrderState::kPaid) {
    const_cast<Order*>(found)->state =
        all_returned ? OrderState::kReturned : OrderState::kDelivered;
    if (!all_returned) stats_.orders_delivered++;
  }
}

// A paid order's units go back: sold -> available (or to its drop while the drop is open),
// and the buyer's holdings under per-buyer limits shrink.
void Engine::ReleasePaidOrder(Order& order) {
  ELEVEN_ASSERT(order.state == OrderState::kPaid);
  for (int l = 0; l < order.line_count; l++) {
    Sku& sku = skus_[order.sku_index[l]];
    const uint32_t quantity = order.quantity[l];
    ELEVEN_ASSERT(sku.sold >= quantity);
    sku.sold -= quantity;
    const bool from_drop =
        order.drop_index != kNoValue && drops_[order.drop_index].sku_index == order.sku_index[l];
    if (from_drop) {
      ELEVEN_ASSERT(drops_[order.drop_index].sold >= quantity);
      drops_[order.drop_index].sold -= quantity;
    }
    GiveBack(order, l, from_drop);
  }
}

// cancel_order on an order that is not pending: a paid order that has not shipped is
// cancelled and refunded; `result` is what the pending check answered.
wire::Result Engine::CancelAfterPayment(uint64_t order_id, uint64_t now_us, wire::Result result) {
  if (result.code != Code::order_not_pending) return result;
  const Order* found = nullptr;
  const Code in_ring = FindOrder(order_id, &found);
  ELEVEN_ASSERT(in_ring == Code::ok);  // PendingOrder found it
  if (found->state == OrderState::kDelivered || found->state == OrderState::kReturned) {
    result.code = Code::order_already_shipped;
    return result;
  }
  // Without fulfilment nothing says whether a paid order has shipped: it stays final.
  if (found->state != OrderState::kPaid || !fulfilment_) return result;
  Code code = fulfilment_->CheckCancelShipment(order_id);
  if (code == Code::shipment_dispatched) code = Code::order_already_shipped;
  int64_t refund_fen = found->total_fen;  // payments made elsewhere: refunded there, whole
  if (code == Code::ok && ledger_) {
    const int64_t before = BuyerRefundedFen(order_id);
    code = ledger_->CancelPaidOrder(order_id, now_us);
    refund_fen = BuyerRefundedFen(order_id) - before;
  }
  result.code = code;
  if (code != Code::ok) return result;
  CountRefund(order_id, refund_fen);
  const Code cancelled = fulfilment_->CancelShipment(order_id, now_us);
  ELEVEN_ASSERT(cancelled == Code::ok);  // checked above; the ledger changed nothing of it
  Order& order = const_cast<Order&>(*found);
  ReleasePaidOrder(order);
  order.state = OrderState::kCancelled;
  stats_.orders_cancelled++;
  result.state = order.state;
  return result;
}

// confirm_delivery with fulfilment on: only once every parcel of the order is with a
// courier (or delivered); then the ledger settles as before.
size_t Engine::ConfirmShipped(std::span<const wire::Command> commands, uint64_t now_us,
                              std::span<wire::Result> results) {
  ELEVEN_ASSERT(fulfilment_ && ledger_ && commands[0].operation == wire::kConfirmDelivery);
  const wire::LedgerCommand c = wire::AsLedgerCommand(commands[0]);
  wire::ShipmentRecord shipment{};
  // An unknown shipment (an unknown order, or one completed long ago): the ledger answers.
  bool shipped = true;
  if (wire::CheckLedgerStructure(c) == Code::ok &&
      fulfilment_->QueryShipment(c.order_money.order_id, &shipment) == Code::ok) {
    shipped = shipment.state != wire::ShipmentState::kBacklogged && shipment.parcel_count > 0;
    for (uint32_t n = 0; shipped && n < shipment.parcel_count; n++) {
      wire::ParcelRecord parcel{};
      const Code found = fulfilment_->QueryParcel(shipment.waybill[n], &parcel);
      ELEVEN_ASSERT(found == Code::ok);  // a shipment in memory has its parcels in memory
      shipped = Shipped(parcel.state);
    }
  }
  if (!shipped) {
    results[0] =
        CommandResult(Code::order_not_shipped, wire::kConfirmDelivery, c.order_money.order_id);
    results[0].at_us = now_us;
    return 1;
  }
  const size_t consumed = ledger_->Apply(commands.first(1), now_us, results.first(1));
  ELEVEN_ASSERT(consumed == 1);
  return consumed;
}

}  // namespace eleven::engine
