// Ledger::NextDueUs: when log time alone would next change the ledger (docs/engine.md, "Time").
#include <algorithm>

#include "base/assert.h"
#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_internal.h"

namespace eleven::engine {

uint64_t Ledger::NextDueUs() const {
  uint64_t due = kNeverDue;
  // The heap's top, stale or not: popping a stale entry is progress too.
  if (expiry_count_ > 0) due = expiry_heap_[0].expires_at_us;
  // AutoConfirm stops at the first order whose period has not passed, settled or not.
  if (settle_cursor_ < order_count_) {
    due = std::min(due, orders_[settle_cursor_].paid_at_us + config_.auto_confirm_us);
  }
  // An active plan's next instalment falls due at started + (repaid + 1) periods; one already
  // due stays overdue until repaid, so only those still ahead count. Plans are stored in
  // start (log-time) order and any of a plan's due times is at least one period after its
  // start, so no plan after one that starts a period or less before `due` can come earlier.
  const uint64_t period = config_.instalment_period_us;
  for (uint32_t i = 0; i < plan_count_; i++) {
    const Plan& p = plans_[i];
    ELEVEN_DASSERT(i == 0 || plans_[i - 1].started_at_us <= p.started_at_us);
    if (p.started_at_us + period >= due) break;
    if (p.state != wire::PlanState::kActive) continue;
    const uint64_t next = p.started_at_us + uint64_t{p.repaid_count + 1u} * period;
    if (next > now_us_) due = std::min(due, next);
  }
  return due;
}

}  // namespace eleven::engine
