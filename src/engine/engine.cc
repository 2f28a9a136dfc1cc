#include "engine/engine.h"

#include <cstring>

#include "base/assert.h"
#include "engine/engine_state.h"

namespace eleven::engine {

using wire::Code;
using wire::Operation;

Engine::Engine(const EngineConfig& config)
    : config_(config),
      merchants_(BigArray<Merchant>(config.merchant_count_max)),
      merchant_index_(config.merchant_count_max),
      skus_(config.sku_count_max),
      drops_(BigArray<Drop>(config.drop_count_max)),
      drop_sales_(BigArray<SalesFigures>(config.drop_count_max)),
      sales_(std::make_unique<EngineSales>()),
      drop_index_(config.drop_count_max),
      close_heap_(BigArray<uint32_t>(config.drop_count_max)),
      orders_(BigArray<Order>(config.order_slot_count)),
      key_index_(config.order_slot_count),
      evicted_keys_(config.evicted_key_count_max > 0 ? KeyFilter(config.evicted_key_count_max) : KeyFilter()),
      holdings_(config.holding_count_max),
      coupons_(BigArray<CouponRow>(config.coupon_count_max)),
      coupon_index_(config.coupon_count_max),
      claims_(BigArray<ClaimRow>(config.coupon_claim_count_max)),
      claim_index_(config.coupon_claim_count_max),
      coupon_orders_(BigArray<CouponOrderRow>(config.coupon_order_count_max)),
      presales_(BigArray<PresaleRow>(config.presale_count_max)),
      presale_index_(config.presale_count_max),
      deposits_(BigArray<DepositRow>(config.deposit_count_max)),
      deposit_index_(config.deposit_count_max),
      api_keys_(BigArray<ApiKeyRow>(config.api_key_count_max)),
      ledger_(config.ledger_enabled ? std::make_unique<Ledger>(config.ledger) : nullptr),
      fulfilment_(config.fulfilment_enabled ? std::make_unique<Fulfilment>(config.fulfilment)
                                            : nullptr),
      delivered_(std::make_unique<DeliveredOrder[]>(kDeliveredDrainChunk)) {
  ELEVEN_ASSERT(config.order_slot_count >= 2);
  ELEVEN_ASSERT(config.batch_command_count_max > 0);
  ELEVEN_ASSERT(config.pay_window_us > 0);
  ELEVEN_ASSERT(config.api_key_count_max < wire::kIssuerArchiveChecked);  // key ids fit the issuer's 31 bits
  ELEVEN_ASSERT(config.coupon_count_max > 0 && config.coupon_claim_count_max > 0 &&
                config.coupon_order_count_max > 0);
  ELEVEN_ASSERT(config.presale_count_max > 0 && config.deposit_count_max > 0 &&
                config.deposit_count_max < (uint32_t{1} << 31));
}

Engine::~Engine() = default;

namespace {

constexpr uint8_t kLedgerOperationFirst = 32;
constexpr uint8_t kLedgerOperationLast = 63;
constexpr uint8_t kFulfilmentOperationFirst = 64;
constexpr uint8_t kFulfilmentOperationLast = 95;

bool IsLedgerOperation(uint8_t op) { return op >= kLedgerOperationFirst && op <= kLedgerOperationLast; }

// Order money and shipments follow the orders: only the engine may pay, refund or ship an
// order, so the order, its money and its parcels can never disagree.
bool IsOwnedByEngine(wire::Operation op) {
  return op == wire::kPayOrderMoney || op == wire::kRefundOrderMoney || op == wire::kShipOrder;
}

}  // namespace

size_t Engine::ExecuteModule(std::span<const wire::Command> commands, uint64_t now_us,
                             std::span<wire::Result> results) {
  ELEVEN_ASSERT(!commands.empty() && results.size() >= commands.size());
  const wire::Operation operation = commands[0].operation;
  const uint8_t op = static_cast<uint8_t>(operation);
  if (IsOwnedByEngine(operation)) {
    results[0] = CommandResult(Code::operation_owned_by_engine, operation, 0);
    return 1;
  }
  if (IsLedgerOperation(op)) {
    if (!ledger_) {
      results[0] = CommandResult(Code::payments_disabled, operation, 0);
      return 1;
    }
    // With fulfilment on, confirm_delivery first checks the parcels (returns.cc).
    auto checked = [this](wire::Operation o) { return fulfilment_ && o == wire::kConfirmDelivery; };
    if (checked(operation)) return ConfirmShipped(commands, now_us, results);
    // An after-sales refund is applied alone, so the sales figures count what its buyer got
    // (the platform's coupon subsidy goes back to the platform).
    if (operation == wire::kAfterSalesRefund) {
      const auto& refund = wire::AsRecord<wire::AfterSalesRefund>(commands[0]);
      const int64_t before = BuyerRefundedFen(refund.order_id);
      ELEVEN_ASSERT(ledger_->Apply(commands.first(1), now_us, results.first(1)) == 1);
      if (results[0].code == Code::ok && !wire::IsReplay(results[0])) {
        CountRefund(refund.order_id, BuyerRefundedFen(refund.order_id) - before);
      }
      return 1;
    }
    // The run of ledger commands (a linked chain lives inside one run), up to the next
    // command that is not the ledger's to apply.
    size_t run = 0;
    // Each member is authorized as the first was (Apply): a refused one ends the run.
    while (run < commands.size() && IsLedgerOperation(static_cast<uint8_t>(commands[run].operation)) &&
           !IsOwnedByEngine(commands[run].operation) && !checked(commands[run].operation) &&
           commands[run].operation != wire::kAfterSalesRefund &&
           (run == 0 || Authorize(commands[run]) == Code::ok)) {
      run++;
    }
    const size_t consumed = ledger_->Apply(commands.first(run), now_us, results.first(run));
    ELEVEN_ASSERT(consumed >= 1 && consumed <= run);
    return consumed;
  }
  if (op >= kFulfilmentOperationFirst && op <= kFulfilmentOperationLast) {
    if (!fulfilment_) {
      results[0] = CommandResult(Code::fulfilment_disabled, operation, 0);
      return 1;
    }
    // Warehouse stock is of a SKU in the catalog: the catalog is the engine's, so it checks.
    if (operation == wire::kStockWarehouse) {
      const auto& stock = wire::AsRecord<wire::StockWarehouse>(commands[0]);
      if (stock.sku_id != 0 && skus_.Find(stock.sku_id) == kNoValue) {
        results[0] = CommandResult(Code::sku_not_found, operation, stock.warehouse_id);
        return 1;
      }
    }
    results[0] = fulfilment_->Apply(commands[0], now_us);
    return 1;
  }
  if (wire::IsAccessOperation(operation)) {
    results[0] = ExecuteAccess(commands[0], now_us);
    return 1;
  }
  results[0] = CommandResult(Code::invalid_operation, operation, 0);
  return 1;
}

wire::Result Engine::Execute(const wire::Command& command, uint64_t now_us) {
  Code structure = wire::CheckStructure(command);
  if (structure != Code::ok) return CommandResult(structure, command.operation, 0);
  switch (command.operation) {
    case Operation::kCreateMerchant: return CreateMerchant(command.create_merchant);
    case Operation::kCreateSku: return CreateSku(command.create_sku);
    case Operation::kRestock: return Restock(command.restock);
    case Operation::kSetPrice: return SetPrice(command.set_price);
    case Operation::kCreateDrop: return CreateDrop(command.create_drop, now_us);
    case Operation::kCloseDrop: return CloseDropCommand(command.close_drop, now_us);
    case Operation::kPlaceOrder: break;  // Apply applies them itself
    case Operation::kPayOrder: return PayOrder(command.pay_order, now_us);
    case Operation::kCancelOrder: return CancelOrder(command.cancel_order, now_us);
    case Operation::kCreateCoupon: return CreateCoupon(command.create_coupon, now_us);
    case Operation::kClaimCoupon: return ClaimCoupon(command.claim_coupon, now_us);
    case Operation::kCreatePresale: return CreatePresale(command.create_presale, now_us);
    case Operation::kPayDeposit: return PayDeposit(command.pay_deposit, now_us);
    case Operation::kPayBalance: return PayBalance(command.pay_balance, now_us);
  }
  ELEVEN_ASSERT(false && "CheckStructure admits only known operations; Apply places orders");
  return {};
}

Digest128 Engine::Digest() const {
  Digester d;
  d.UpdateValue(last_op_);
  d.UpdateValue(last_timestamp_us_);
  static_assert(std::has_unique_object_representations_v<EngineStats>);
  d.UpdateValue(stats_);
  d.UpdateValue(merchant_count_);
  d.Update(merchants_.get(), sizeof(Merchant) * merchant_count_);
  d.UpdateValue(skus_.count());
  d.Update(skus_.rows(), skus_.slot_bytes());
  d.UpdateValue(drop_count_);
  d.Update(drops_.get(), sizeof(Drop) * drop_count_);
  static_assert(std::has_unique_object_representations_v<EngineSales>);
  d.UpdateValue(*sales_);
  d.Update(drop_sales_.get(), sizeof(SalesFigures) * drop_count_);
  d.UpdateValue(close_heap_count_);
  d.Update(close_heap_.get(), sizeof(uint32_t) * close_heap_count_);
  d.UpdateValue(next_order_id_);
  d.UpdateValue(expiry_cursor_);
  d.Update(orders_.get(), sizeof(Order) * config_.order_slot_count);
  // The hash maps' layouts follow from the operations, but hashing them still catches a
  // map that drifted from the tables it indexes.
  d.Update(key_index_.slots(), sizeof(*key_index_.slots()) * key_index_.slot_count());
  d.UpdateValue(evicted_keys_.count());
  d.Update(evicted_keys_.blocks(), evicted_keys_.bytes());
  d.Update(holdings_.slots(), sizeof(*holdings_.slots()) * holdings_.slot_count());
  d.UpdateValue(api_key_count_);
  d.Update(api_keys_.get(), sizeof(ApiKeyRow) * api_key_count_);
  d.UpdateValue(coupon_count_);
  d.Update(coupons_.get(), sizeof(CouponRow) * coupon_count_);
  d.UpdateValue(claim_count_);
  d.Update(claims_.get(), sizeof(ClaimRow) * claim_count_);
  d.UpdateValue(coupon_order_head_);
  d.UpdateValue(coupon_order_count_);
  for (uint32_t k = 0; k < coupon_order_count_; k++) {  // the live part of the ring, in order
    const uint32_t i = (coupon_order_head_ + k) % config_.coupon_order_count_max;
    d.UpdateValue(coupon_orders_[i]);
  }
  d.UpdateValue(presale_count_);
  d.Update(presales_.get(), sizeof(PresaleRow) * presale_count_);
  d.UpdateValue(deposit_count_);
  d.Update(deposits_.get(), sizeof(DepositRow) * deposit_count_);
  if (ledger_) ledger_->Digest(d);
  if (fulfilment_) fulfilment_->Digest(d);
  return d.Finish();
}

wire::StatsRecord StatsRecordOf(const EngineStats& s) {
  static_assert(sizeof(EngineStats) == sizeof(wire::StatsRecord));
  return wire::StatsRecord{s.orders_accepted, s.orders_rejected, s.orders_paid, s.orders_cancelled,
                           s.orders_expired,  s.orders_replayed, s.gmv_placed_fen, s.gmv_paid_fen,
                           s.units_sold,      s.orders_delivered};
}

wire::LimitsRecord LimitsOf(const EngineConfig& c) {
  wire::LimitsRecord r{};
  r.pay_window_us = c.pay_window_us;
  r.merchant_count_max = c.merchant_count_max;
  r.sku_count_max = c.sku_count_max;
  r.drop_count_max = c.drop_count_max;
  r.order_slot_count = c.order_slot_count;
  r.holding_count_max = c.holding_count_max;
  r.batch_command_count_max = c.batch_command_count_max;
  r.coupon_count_max = c.coupon_count_max;
  r.coupon_claim_count_max = c.coupon_claim_count_max;
  r.coupon_order_count_max = c.coupon_order_count_max;
  r.presale_count_max = c.presale_count_max;
  r.deposit_count_max = c.deposit_count_max;
  r.ledger_enabled = c.ledger_enabled ? 1 : 0;
  r.fulfilment_enabled = c.fulfilment_enabled ? 1 : 0;
  r.account_count_max = c.ledger.account_count_max;
  r.transfer_count_max = c.ledger.transfer_count_max;
  r.buyer_count_max = c.ledger.buyer_count_max;
  r.ledger_merchant_count_max = c.ledger.merchant_count_max;
  r.ledger_order_count_max = c.ledger.order_count_max;
  r.plan_count_max = c.ledger.plan_count_max;
  const FulfilmentConfig& f = c.fulfilment;
  r.warehouse_count_max = f.warehouse_count_max;
  r.courier_count_max = f.courier_count_max;
  r.stock_entry_count_max = f.stock_entry_count_max;
  r.fulfilment_sku_count_max = f.sku_count_max;
  r.parcel_count_max = f.parcel_count_max;
  r.shipment_count_max = f.shipment_count_max;
  r.backlog_count_max = f.backlog_count_max;
  r.delivered_outbox_count_max = f.delivered_outbox_count_max;
  ELEVEN_ASSERT(f.milestone_count <= wire::kMilestoneCountMax);
  r.milestone_count = f.milestone_count;
  for (uint32_t i = 0; i < f.milestone_count; i++) r.milestone_parcels[i] = f.milestone_parcels[i];
  return r;
}

std::string_view BatchErrorName(BatchError error) {
  switch (error) {
    case BatchError::kNone: return "none";
    case BatchError::kOpNotNext: return "op_not_next";
    case BatchError::kTimestampBackwards: return "timestamp_backwards";
    case BatchError::kTooManyCommands: return "too_many_commands";
    case BatchError::kResultsTooSmall: return "results_too_small";
  }
  return "unknown";
}

}  // namespace eleven::engine
