// The Ledger's internal records. Private to src/engine/ledger; not a format (the wire
// records in wire/ledger.h are). Every struct has explicit padding fields so that its bytes,
// which Digest() hashes, are fully determined by its values.
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/assert.h"
#include "engine/ledger/ledger.h"

namespace eleven::engine {

inline constexpr uint32_t kNone = 0xFFFFFFFFu;

struct Ledger::Account {
  uint64_t id;
  uint64_t user_data;
  int64_t debits_pending;
  int64_t debits_posted;
  int64_t credits_pending;
  int64_t credits_posted;
  uint64_t created_at_us;
  uint32_t ledger;
  uint16_t code;
  uint8_t flags;
  uint8_t reserved0;
  uint32_t transfer_head;  // the newest transfer touching this account, or kNone
  uint32_t reserved1;
};

struct Ledger::Transfer {
  uint64_t id;
  uint64_t user_data;
  int64_t amount;
  uint64_t pending_id;
  uint64_t timeout_us;  // as requested (for the idempotency check)
  uint64_t created_at_us;
  uint64_t expires_at_us;  // pending with a timeout; else 0
  int64_t posted;          // a pending transfer: the amount posted
  uint32_t debit;          // account index
  uint32_t credit;         // account index
  uint32_t next_debit;     // the debit account's previous transfer (a per-account list)
  uint32_t next_credit;    // the credit account's previous transfer
  uint32_t ledger;
  uint16_t code;
  uint8_t flags;
  wire::TransferState state;
};

struct Ledger::Buyer {
  uint64_t id;
  int64_t credit_limit;
  uint32_t wallet;      // account index
  uint32_t receivable;  // account index
  uint32_t plan_count;  // plans ever opened
  // The storefront whose orders may spend this buyer's wallet and credit (docs/access.md): the
  // first that paid from them; 0 until then.
  uint32_t storefront;
};

struct Ledger::Merchant {
  uint64_t id;
  int64_t limit;
  int64_t drawn;
  int64_t repaid;    // by hand and withheld
  int64_t withheld;  // withheld from settlements
  uint32_t wallet;   // account index
  uint32_t loan;     // account index
  uint16_t withhold_bp;
  uint8_t has_line;
  uint8_t reserved0[5];
};

struct Ledger::Order {
  uint64_t order_id;
  int64_t amount;
  uint64_t paid_at_us;
  uint64_t closed_at_us;
  int64_t commission;
  int64_t merchant_fee;
  int64_t withheld;
  int64_t net;
  int64_t refunded;  // refunded of amount so far (returns, cancellation, after sales)
  int64_t subsidy;   // paid by the marketing account at payment, 0 .. amount - 1
  // Given back to the marketing account so far: ProRataShare(subsidy, refunded, amount).
  // The buyer received refunded - subsidy_refunded.
  int64_t subsidy_refunded;
  // A pre-sale deposit carried into this payment (docs/ledger.md, "Pre-sale deposits"):
  // 0 .. amount - 1, already in escrow when this order was paid; never with a subsidy.
  int64_t deposit;
  // Refunded the way the deposit was paid so far: ProRataShare(deposit, refunded, amount).
  // Of refunded - subsidy_refunded, the rest went the way this payment was made.
  int64_t deposit_refunded;
  // state kConverted: the order id whose payment took this deposit. Otherwise the money id
  // of the deposit carried into this payment (deposit > 0), or 0.
  uint64_t deposit_id;
  uint32_t buyer;     // index
  uint32_t merchant;  // index
  uint32_t plan;      // index, or kNone
  wire::PaymentMethod method;
  uint8_t periods;
  wire::OrderMoneyState state;
  // How the carried deposit was paid (kBalance or kCard), where its refunds go; 0 without one.
  wire::PaymentMethod deposit_method;
};

struct Ledger::Plan {
  uint64_t order_id;
  int64_t principal;
  int64_t fee;  // borne by the buyer
  int64_t total;
  int64_t repaid;
  uint64_t started_at_us;
  uint32_t buyer;  // index
  uint32_t order;  // index
  uint8_t periods;
  uint8_t repaid_count;
  wire::PlanState state;  // kActive, kRepaid or kCancelled; kOverdue is derived in queries
  uint8_t reserved0[5];
};

enum class UndoKind : uint8_t {
  kAccountInsert,
  kAccount,
  kTransferInsert,
  kTransfer,
  kBuyerInsert,
  kBuyer,
  kMerchantInsert,
  kMerchant,
  kOrderInsert,
  kOrder,
  kPlanInsert,
  kPlan,
  kReserved,
};

// One undo entry: the kind, the index touched, and for updates the record's old bytes.
struct Ledger::Undo {
  UndoKind kind;
  uint8_t reserved0[3];
  uint32_t index;  // kReserved: the old transfers_reserved_
  alignas(8) uint8_t old[128];
};

static_assert(sizeof(Ledger::Account) == 72 && sizeof(Ledger::Transfer) == 88);
static_assert(sizeof(Ledger::Buyer) == 32 && sizeof(Ledger::Merchant) == 56);
static_assert(sizeof(Ledger::Order) == 128 && sizeof(Ledger::Plan) == 64);
static_assert(sizeof(Ledger::Transfer) <= sizeof(Ledger::Undo::old));
static_assert(sizeof(Ledger::Order) <= sizeof(Ledger::Undo::old));
static_assert(sizeof(Ledger::Undo) == 136);
static_assert(std::is_trivially_copyable_v<Ledger::Transfer>);

// Undo entries one chain member may need: create_transfer saves two accounts, a pending
// transfer and inserts itself (4); create_account inserts one (1).
inline constexpr uint32_t kUndoPerChainMemberMax = 4;
// Undo entries one payments command may need. The most: a partial return of a subsidised
// (or deposit-carrying) instalment order (reserved, order, 3 refund moves of 3, plan; then the
// settlement: reserved, order, merchant, 4 moves of 3 = 27); pay by instalments with a
// subsidy and a new buyer and merchant: 6 inserts, 3 moves of 3, plan, order, buyer, reserved
// = 19 (with a deposit instead: no inserts for the parties, 2 moves, the deposit's order and
// reserved, fewer). Asserted on every push.
inline constexpr uint32_t kUndoPerPaymentMax = 32;
// A Tick's settlements and expiries are applied one by one, each within this budget.
inline constexpr uint32_t kSettleTransferCount = 4;  // commission, fee, withheld, net
// Transfers reserved for every paid, unsettled order: a settlement after a partial return
// (docs/returns.md) makes up to two refund legs and then the four settlement legs, so the
// engine's return path can never find the transfer table full.
inline constexpr uint32_t kOrderTransferReserve = kSettleTransferCount + 2;
// A subsidised order reserves one more: the subsidy's leg back to the marketing account, in a
// partial return (three refund legs, then four settlement legs) or a full refund (at most
// four legs: instalments repaid, principal, buyer fee, subsidy).
inline constexpr uint32_t kSubsidyTransferReserve = 1;
// An order carrying a pre-sale deposit reserves one more likewise: the deposit's leg back the
// way the deposit was paid (a subsidy and a deposit never meet in one order).
inline constexpr uint32_t kDepositTransferReserve = 1;
inline uint32_t OrderTransferReserve(const Ledger::Order& order) {
  ELEVEN_DASSERT(order.subsidy == 0 || order.deposit == 0);
  return kOrderTransferReserve + (order.subsidy > 0 ? kSubsidyTransferReserve : 0) +
         (order.deposit > 0 ? kDepositTransferReserve : 0);
}

// The part of an order's payment that a second source paid (a platform subsidy, a carried
// deposit) which goes back to that source once `refunded_fen` of the order's `amount_fen` is
// refunded: floor(part * refunded / amount), in 128 bits (each factor is up to 1e14).
// Cumulative, so the refunds' shares sum to exactly the part when everything is refunded.
inline int64_t ProRataShare(int64_t part_fen, int64_t refunded_fen, int64_t amount_fen) {
  ELEVEN_ASSERT(amount_fen > 0 && part_fen >= 0 && part_fen < amount_fen);
  ELEVEN_ASSERT(refunded_fen >= 0 && refunded_fen <= amount_fen);
  const auto share =
      static_cast<int64_t>(static_cast<__int128>(part_fen) * refunded_fen / amount_fen);
  ELEVEN_DASSERT(share <= part_fen && (refunded_fen < amount_fen || share == part_fen));
  return share;
}
// What a refund of `refund_fen` sends back to such a source that has had `part_refunded_fen`
// so far, `refunded_fen` of the order being refunded before it: 0 .. refund_fen.
inline int64_t NextProRataShare(int64_t part_fen, int64_t part_refunded_fen, int64_t refunded_fen,
                                int64_t refund_fen, int64_t amount_fen) {
  ELEVEN_ASSERT(refund_fen > 0 && refund_fen <= amount_fen - refunded_fen);
  ELEVEN_DASSERT(part_refunded_fen == ProRataShare(part_fen, refunded_fen, amount_fen));
  const int64_t share = ProRataShare(part_fen, refunded_fen + refund_fen, amount_fen) - part_refunded_fen;
  ELEVEN_ASSERT(share >= 0 && share <= refund_fen);
  return share;
}

// Whether moving `amount` from dr to cr (pending or posted) keeps every balance in int64 and
// every balance flag true: ok, or the overflows_* / exceeds_* code. Defined in ledger.cc.
wire::Code CheckBalances(const Ledger::Account& dr, const Ledger::Account& cr, int64_t amount,
                         bool pending);

}  // namespace eleven::engine
