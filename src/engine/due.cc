// Engine::NextDueUs: when log time alone would next change the state (docs/engine.md, "Time").
#include <algorithm>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"

namespace eleven::engine {

namespace {
// Orders looked at past the expiry cursor for the first one still pending. Those before it
// are final (paid, cancelled, rejected) or their slot was reused, so their deadlines change
// nothing but the cursor; after this many the last one's deadline is returned, at which the
// cursor at least moves past them all.
constexpr uint32_t kOrderScanMax = 4096;
}  // namespace

uint64_t Engine::NextDueUs() const {
  uint64_t due = kNeverDue;
  // Drops: the close heap's top (closed by command or not: popping it is progress), and the
  // earliest opening still ahead (a drop's open state is derived from log time).
  if (close_heap_count_ > 0) due = drops_[close_heap_[0]].closes_at_us;
  for (uint32_t i = 0; i < close_heap_count_; i++) {
    const Drop& drop = drops_[close_heap_[i]];
    if (drop.closed == 0 && drop.opens_at_us > last_timestamp_us_)
      due = std::min(due, drop.opens_at_us);
  }
  // Orders: pay-by deadlines rise with the order id (ExpireDueOrders).
  uint32_t scanned = 0;
  for (uint64_t id = expiry_cursor_; id < next_order_id_ && scanned < kOrderScanMax;
       id++, scanned++) {
    const Order& order = orders_[id % config_.order_slot_count];
    if (order.id != id) continue;  // reused slot: skipped whenever the cursor gets there
    const uint64_t deadline = order.created_at_us + config_.pay_window_us;
    if (order.state == wire::OrderState::kPending || scanned + 1 == kOrderScanMax) {
      due = std::min(due, deadline);
      break;
    }
  }
  if (presale_count_ > 0) due = std::min(due, PresaleDueUs());
  if (ledger_) due = std::min(due, ledger_->NextDueUs());
  // Fulfilment: warehouse and courier capacity is counted per hour and per day (days roll on
  // an hour boundary), so a backlog may drain when the next hour starts.
  if (fulfilment_ && fulfilment_->backlog_count() > 0) {
    due = std::min(due, (last_timestamp_us_ / fulfilment::kHourUs + 1) * fulfilment::kHourUs);
  }
  return due;
}

}  // namespace eleven::engine
