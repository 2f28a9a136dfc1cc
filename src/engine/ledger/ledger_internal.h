// The Ledger's internal records. Private to src/engine/ledger; not a format (the wire
// records in wire/ledger.h are). Every struct has explicit padding fields so that its bytes,
// which Digest() hashes, are fully determined by its values.
#pragma once

#include <cstdint>
#include <type_traits>

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
  int64_t refunded;   // given back to the buyer so far (returns, cancellation, after sales)
  uint32_t buyer;     // index
  uint32_t merchant;  // index
  uint32_t plan;      // index, or kNone
  wire::PaymentMethod method;
  uint8_t periods;
  wire::OrderMoneyState state;
  uint8_t reserved0;
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
  alignas(8) uint8_t old[88];
};

static_assert(sizeof(Ledger::Account) == 72 && sizeof(Ledger::Transfer) == 88);
static_assert(sizeof(Ledger::Buyer) == 32 && sizeof(Ledger::Merchant) == 56);
static_assert(sizeof(Ledger::Order) == 88 && sizeof(Ledger::Plan) == 64);
static_assert(sizeof(Ledger::Transfer) <= sizeof(Ledger::Undo::old));
static_assert(std::is_trivially_copyable_v<Ledger::Transfer>);

// Undo entries one chain member may need: create_transfer saves two accounts, a pending
// transfer and inserts itself (4); create_account inserts one (1).
inline constexpr uint32_t kUndoPerChainMemberMax = 4;
// Undo entries one payments command may need (pay by instalments with new buyer and
// merchant: 6 inserts, 2 moves of 3, plan, order, buyer, reserved = 15; settlement: order,
// reserved, merchant, 4 moves of 3 = 15). Twice that, for margin; asserted on every push.
inline constexpr uint32_t kUndoPerPaymentMax = 32;
// A Tick's settlements and expiries are applied one by one, each within this budget.
inline constexpr uint32_t kSettleTransferCount = 4;  // commission, fee, withheld, net
// Transfers reserved for every paid, unsettled order: a settlement after a partial return
// (docs/returns.md) makes up to two refund legs and then the four settlement legs, so the
// engine's return path can never find the transfer table full.
inline constexpr uint32_t kOrderTransferReserve = kSettleTransferCount + 2;

// Whether moving `amount` from dr to cr (pending or posted) keeps every balance in int64 and
// every balance flag true: ok, or the overflows_* / exceeds_* code. Defined in ledger.cc.
wire::Code CheckBalances(const Ledger::Account& dr, const Ledger::Account& cr, int64_t amount,
                         bool pending);

}  // namespace eleven::engine
