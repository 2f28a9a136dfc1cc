// Ledger and payments records: commands (operations 32..63), query requests and query
// answers. Fixed-size, little-endian, no implicit padding; the grammar (every field, its
// offset and size) is docs/ledger.md, and the offsets below are asserted against it.
//
// Like every command, a ledger command is wire::kCommandSize (128) bytes, starts with its
// operation byte, and has reserved bytes that must be zero. Results are wire::Result: `id` is
// the account, transfer, order or party id the command names; `amount_fen` the money moved;
// `state` carries the ledger state byte named per operation in docs/ledger.md (a
// TransferState, OrderMoneyState or PlanState, cast); `at_us` the log time applied.
//
// Ids: user accounts and user transfers have the top byte of their id zero. Ids with a
// nonzero top byte belong to the payments layer (docs/ledger.md, "Id spaces"), so a user can
// never collide with, or move money out of, escrow, a buyer's wallet or a loan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "wire/records.h"

namespace eleven::wire {

// ---- Operations ----------------------------------------------------------------------------
// Commands (logged, applied by engine::Ledger::Apply): 32..47.
inline constexpr Operation kCreateAccount = static_cast<Operation>(32);
inline constexpr Operation kCreateTransfer = static_cast<Operation>(33);
inline constexpr Operation kDeposit = static_cast<Operation>(34);  // bank -> buyer wallet
inline constexpr Operation kWithdraw = static_cast<Operation>(35);  // merchant wallet -> bank
inline constexpr Operation kSetBuyerCreditLimit = static_cast<Operation>(36);
inline constexpr Operation kSetMerchantCreditLine = static_cast<Operation>(37);
inline constexpr Operation kDrawDown = static_cast<Operation>(38);
inline constexpr Operation kRepayMerchantCredit = static_cast<Operation>(39);
inline constexpr Operation kPayOrderMoney = static_cast<Operation>(40);
inline constexpr Operation kRefundOrderMoney = static_cast<Operation>(41);
inline constexpr Operation kConfirmDelivery = static_cast<Operation>(42);
inline constexpr Operation kRepayInstalment = static_cast<Operation>(43);
// A merchant-funded refund of a settled order (docs/returns.md).
inline constexpr Operation kAfterSalesRefund = static_cast<Operation>(44);
inline constexpr uint8_t kLedgerCommandMin = 32;
inline constexpr uint8_t kLedgerCommandMax = 44;
// Queries (not logged; answered from the state at a log position): 56..63.
inline constexpr Operation kLookupAccount = static_cast<Operation>(56);
inline constexpr Operation kAccountTransfers = static_cast<Operation>(57);
inline constexpr Operation kLookupTransfer = static_cast<Operation>(58);
inline constexpr Operation kLookupOrderMoney = static_cast<Operation>(59);
inline constexpr Operation kLookupPlan = static_cast<Operation>(60);
inline constexpr Operation kLookupMerchantCredit = static_cast<Operation>(61);
inline constexpr Operation kLookupBuyerCredit = static_cast<Operation>(62);
inline constexpr uint8_t kLedgerQueryMin = 56;
inline constexpr uint8_t kLedgerQueryMax = 62;
inline constexpr uint8_t kLedgerOperationMin = 32;
inline constexpr uint8_t kLedgerOperationMax = 63;

inline constexpr bool IsLedgerOperation(Operation op) {
  auto n = static_cast<uint8_t>(op);
  return n >= kLedgerOperationMin && n <= kLedgerOperationMax;
}
inline constexpr bool IsLedgerCommand(Operation op) {
  auto n = static_cast<uint8_t>(op);
  return n >= kLedgerCommandMin && n <= kLedgerCommandMax;
}

// ---- Limits --------------------------------------------------------------------------------
// One transfer moves at most 1e14 fen (one trillion yuan, ~4x the whole 2019 festival's GMV):
// small enough that amount * 10'000 basis points fits in int64 with room to spare.
inline constexpr int64_t kLedgerAmountMaxFen = 100'000'000'000'000;
static_assert(kOrderTotalMaxFen == kLedgerAmountMaxFen,
              "every accepted order can be paid in one transfer");
inline constexpr uint32_t kLedgerCny = 156;  // ISO 4217 numeric: the ledger of all payments
inline constexpr uint16_t kBasisPointsMax = 10'000;
// User-chosen ids (accounts, transfers) and party ids (orders, buyers, merchants) are below
// 2^56; the top byte names the id space (docs/ledger.md).
inline constexpr uint64_t kUserIdLimit = uint64_t{1} << 56;
inline constexpr int kIdSpaceShift = 56;

// ---- Flags ---------------------------------------------------------------------------------
enum AccountFlags : uint8_t {
  kAccountLinked = 1,
  kDebitsMustNotExceedCredits = 2,
  kCreditsMustNotExceedDebits = 4,
};
inline constexpr uint8_t kAccountFlagsAll = 7;

enum TransferFlags : uint8_t {
  kTransferLinked = 1,
  kTransferPending = 2,
  kPostPendingTransfer = 4,
  kVoidPendingTransfer = 8,
  kBalancingDebit = 16,   // move at most the debit account's available credit balance
  kBalancingCredit = 32,  // move at most the credit account's available debit balance
};
inline constexpr uint8_t kTransferFlagsAll = 63;

enum class PaymentMethod : uint8_t {
  kBalance = 1,                // the buyer's wallet
  kCard = 2,                   // an external card, through the card clearing account
  kInstalmentMerchantFee = 3,  // Huabei, interest-free to the buyer; the merchant pays the fee
  kInstalmentBuyerFee = 4,     // Huabei; the buyer pays the fee, spread over the instalments
};
inline constexpr uint8_t kPaymentMethodMax = 4;
inline constexpr bool IsInstalment(PaymentMethod m) {
  return m == PaymentMethod::kInstalmentMerchantFee || m == PaymentMethod::kInstalmentBuyerFee;
}
// Plans offered: 3, 6, 12 or 24 periods. Index into per-plan fee tables.
inline constexpr uint8_t kInstalmentPlans[4] = {3, 6, 12, 24};
inline constexpr int InstalmentPlanIndex(uint8_t periods) {
  for (int i = 0; i < 4; i++) {
    if (kInstalmentPlans[i] == periods) return i;
  }
  return -1;
}

// Instalment k (1-based) of a plan owing `total_fen` over `periods`: the total divided evenly,
// the remainder fen going one each to the earliest instalments, so the schedule sums exactly
// to the total and no two instalments differ by more than one fen.
inline constexpr int64_t InstalmentAmountFen(int64_t total_fen, uint8_t periods, uint8_t k) {
  int64_t base = total_fen / periods;
  int64_t remainder = total_fen % periods;
  return base + (k <= remainder ? 1 : 0);
}

// ---- States (carried in Result::state, cast) ----------------------------------------------
enum class TransferState : uint8_t {
  kPosted = 1,   // a single-phase transfer, or a post/void of a pending one
  kPending = 2,  // holding pending balances
  kPendingPosted = 3,
  kPendingVoided = 4,
  kPendingExpired = 5,
};
// kConverted: a pre-sale deposit carried into another order's payment (docs/ledger.md,
// "Pre-sale deposits"); terminal, it holds no escrow of its own.
enum class OrderMoneyState : uint8_t { kPaid = 1, kRefunded = 2, kSettled = 3, kConverted = 4 };
inline constexpr uint8_t kOrderMoneyStateMax = 4;
enum class PlanState : uint8_t { kActive = 1, kRepaid = 2, kCancelled = 3, kOverdue = 4 };

// ---- Commands (128 bytes each) -------------------------------------------------------------
struct CreateAccount {
  Operation operation;  // kCreateAccount
  uint8_t flags;        // AccountFlags
  uint16_t code;        // nonzero; the account's kind in the user's chart of accounts
  uint32_t ledger;      // nonzero; accounts only meet accounts of the same ledger
  uint64_t account_id;  // 1 .. 2^56-1
  uint64_t user_data;   // opaque
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CreateTransfer {
  Operation operation;  // kCreateTransfer
  uint8_t flags;        // TransferFlags
  uint16_t code;        // nonzero (0 allowed on post/void: taken from the pending transfer)
  uint32_t ledger;      // nonzero (0 allowed on post/void)
  uint64_t transfer_id;  // 1 .. 2^56-1
  uint64_t debit_account_id;   // 0 allowed on post/void
  uint64_t credit_account_id;  // 0 allowed on post/void
  int64_t amount_fen;  // 1 .. kLedgerAmountMaxFen; post: 0 = the full pending amount
  uint64_t pending_id;  // post/void: the pending transfer; else 0
  uint64_t timeout_us;  // pending only: expires this long after its log time; 0 = never
  uint64_t user_data;
  uint8_t reserved[56];
  Trailer trailer;  // issuer (docs/access.md)
};

// kDeposit (party = buyer), kWithdraw, kDrawDown, kRepayMerchantCredit (party = merchant):
// a transfer with a user-chosen id between a party's account and a fixed counterpart.
struct PartyTransfer {
  Operation operation;
  uint8_t reserved0[7];
  uint64_t transfer_id;  // 1 .. 2^56-1; idempotent like kCreateTransfer
  uint64_t party_id;     // buyer or merchant, 1 .. 2^56-1
  int64_t amount_fen;    // 1 .. kLedgerAmountMaxFen
  uint8_t reserved[88];
  Trailer trailer;  // issuer (docs/access.md)
};

struct SetBuyerCreditLimit {
  Operation operation;  // kSetBuyerCreditLimit
  uint8_t reserved0[7];
  uint64_t buyer_id;
  int64_t limit_fen;  // 0 .. kLedgerAmountMaxFen; the most the buyer may owe on instalments
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct SetMerchantCreditLine {
  Operation operation;  // kSetMerchantCreditLine
  uint8_t reserved0;
  uint16_t withhold_bp;  // share of each settlement withheld to repay the line, 0 .. 10000
  uint32_t reserved1;
  uint64_t merchant_id;
  int64_t limit_fen;  // 0 .. kLedgerAmountMaxFen; the most the merchant may owe
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct PayOrderMoney {
  Operation operation;          // kPayOrderMoney
  PaymentMethod method;         // 1 .. kPaymentMethodMax
  uint8_t instalment_periods;   // 3, 6, 12, 24 for instalments; else 0
  uint8_t reserved0[5];
  uint64_t order_id;     // 1 .. 2^56-1; the key of the payment
  uint64_t buyer_id;     // 1 .. 2^56-1
  uint64_t merchant_id;  // 1 .. 2^56-1
  int64_t amount_fen;    // 1 .. kLedgerAmountMaxFen
  // The storefront that placed the order (0: an operator): its buyer's wallet and credit
  // serve one storefront (docs/access.md).
  uint32_t storefront;
  uint32_t reserved1;
  // 0 .. amount_fen - 1: the platform coupons' share of the price, paid into escrow by the
  // platform's marketing account; the buyer pays amount_fen - subsidy_fen (docs/ledger.md).
  int64_t subsidy_fen;
  // 0, or the money id of a paid pre-sale deposit of the same buyer and merchant, carried into
  // this payment: amount_fen includes it and the buyer pays amount_fen - its amount now
  // (docs/ledger.md, "Pre-sale deposits"). Not with a subsidy.
  uint64_t deposit_id;
  uint8_t reserved[56];
  Trailer trailer;  // issuer (docs/access.md)
};

// kRefundOrderMoney, kConfirmDelivery.
struct OrderMoneyCommand {
  Operation operation;
  uint8_t reserved0[7];
  uint64_t order_id;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

struct AfterSalesRefund {
  Operation operation;  // kAfterSalesRefund
  uint8_t reserved0[7];
  uint64_t refund_id;   // 1 .. 2^56-1; the id of the refund's last transfer, so a retry is
                        // answered as a replay and moves nothing
  uint64_t order_id;    // a settled order
  int64_t amount_fen;   // 1 .. amount - refunded
  uint8_t reserved[88];
  Trailer trailer;  // issuer (docs/access.md)
};

struct RepayInstalment {
  Operation operation;  // kRepayInstalment
  uint8_t periods;      // instalments to repay, the earliest unpaid first; 0 = all (early)
  uint8_t reserved0[6];
  uint64_t transfer_id;  // 1 .. 2^56-1; idempotent
  uint64_t order_id;     // the plan (one per order paid by instalments)
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

// Every query: kLookupAccount/kLookupTransfer/kLookupOrderMoney/kLookupPlan/
// kLookupMerchantCredit/kLookupBuyerCredit take `id`; kAccountTransfers also `limit` and
// `flags` (1 = as debit account, 2 = as credit account, 0 = both).
struct LedgerQuery {
  Operation operation;
  uint8_t flags;
  uint16_t reserved0;
  uint32_t limit;  // 1 .. kAccountTransfersMax
  uint64_t id;
  uint8_t reserved[112];
};
inline constexpr uint32_t kAccountTransfersMax = 8190;  // one reply frame of transfers
enum AccountTransfersFlags : uint8_t { kQueryDebits = 1, kQueryCredits = 2 };

// Any ledger command or query: read `operation`, then the member it names.
union LedgerCommand {
  Operation operation;
  CreateAccount create_account;
  CreateTransfer create_transfer;
  PartyTransfer party_transfer;
  SetBuyerCreditLimit set_buyer_credit_limit;
  SetMerchantCreditLine set_merchant_credit_line;
  PayOrderMoney pay_order_money;
  OrderMoneyCommand order_money;
  RepayInstalment repay_instalment;
  AfterSalesRefund after_sales_refund;
  LedgerQuery query;
  uint8_t bytes[kCommandSize];
};

// ---- Query answers -------------------------------------------------------------------------
struct AccountRecord {
  uint64_t account_id;
  uint64_t user_data;
  int64_t debits_pending_fen;
  int64_t debits_posted_fen;
  int64_t credits_pending_fen;
  int64_t credits_posted_fen;
  uint32_t ledger;
  uint16_t code;
  uint8_t flags;
  uint8_t reserved0;
  uint64_t created_at_us;
};

struct TransferRecord {
  uint64_t transfer_id;
  uint64_t debit_account_id;
  uint64_t credit_account_id;
  int64_t amount_fen;
  uint64_t pending_id;
  uint64_t user_data;
  uint64_t created_at_us;
  uint64_t expires_at_us;  // pending with a timeout; else 0
  int64_t posted_fen;      // a pending transfer: how much was posted
  uint32_t ledger;
  uint16_t code;
  uint8_t flags;
  TransferState state;
};

struct OrderMoneyRecord {
  uint64_t order_id;
  uint64_t buyer_id;
  uint64_t merchant_id;
  int64_t amount_fen;
  uint64_t paid_at_us;
  uint64_t closed_at_us;  // settled or refunded; 0 while paid
  int64_t commission_fen;  // settled: to the platform
  int64_t merchant_fee_fen;  // instalments with the merchant paying: to the credit provider
  int64_t withheld_fen;      // settled: to the merchant's credit line
  int64_t merchant_net_fen;  // settled: to the merchant's wallet
  // Refunded of amount_fen: returns, cancellation, after sales. The buyer received
  // refunded_fen - subsidy_refunded_fen of it (deposit_refunded_fen of that the way the
  // deposit was paid, the rest the way this payment was); the rest went back to the
  // marketing account.
  int64_t refunded_fen;
  PaymentMethod method;
  uint8_t instalment_periods;
  OrderMoneyState state;
  uint8_t reserved0[5];
  int64_t subsidy_fen;           // paid by the platform's marketing account (< amount_fen)
  int64_t subsidy_refunded_fen;  // returned to it: floor(subsidy_fen * refunded_fen / amount_fen)
  int64_t deposit_fen;  // a pre-sale deposit carried into this payment (< amount_fen; 0: none)
  // Refunded the way the deposit was paid: floor(deposit_fen * refunded_fen / amount_fen).
  int64_t deposit_refunded_fen;
  // state kConverted: the order whose payment this deposit went into. Otherwise the money id
  // of the deposit carried into this payment, 0 if none.
  uint64_t deposit_id;
};

struct PlanRecord {
  uint64_t order_id;
  uint64_t buyer_id;
  int64_t principal_fen;
  int64_t fee_fen;    // borne by the buyer (0 when the merchant pays it)
  int64_t total_fen;  // principal + fee = the sum of the schedule
  int64_t repaid_fen;
  uint64_t started_at_us;
  uint64_t period_us;
  uint64_t next_due_us;  // the earliest unpaid instalment's due time; 0 when none
  uint8_t periods;
  uint8_t repaid_count;
  PlanState state;  // kOverdue when active and next_due_us has passed
  uint8_t reserved0[5];
};

struct MerchantCreditRecord {
  uint64_t merchant_id;
  int64_t limit_fen;
  int64_t outstanding_fen;  // drawn - repaid
  int64_t drawn_fen;
  int64_t repaid_fen;    // by hand and withheld
  int64_t withheld_fen;  // the part of repaid_fen withheld from settlements
  int64_t wallet_fen;    // the merchant wallet's balance
  uint16_t withhold_bp;
  uint8_t has_line;
  uint8_t reserved0[5];
};

struct BuyerCreditRecord {
  uint64_t buyer_id;
  int64_t credit_limit_fen;
  int64_t outstanding_fen;  // owed on instalment plans
  int64_t wallet_fen;
  uint32_t plan_count;
  uint32_t reserved0;
};

static_assert(sizeof(CreateAccount) == kCommandSize && sizeof(CreateTransfer) == kCommandSize);
static_assert(sizeof(PartyTransfer) == kCommandSize && sizeof(SetBuyerCreditLimit) == kCommandSize);
static_assert(sizeof(SetMerchantCreditLine) == kCommandSize);
static_assert(sizeof(PayOrderMoney) == kCommandSize && sizeof(OrderMoneyCommand) == kCommandSize);
static_assert(sizeof(RepayInstalment) == kCommandSize && sizeof(LedgerQuery) == kCommandSize);
static_assert(sizeof(AfterSalesRefund) == kCommandSize);
static_assert(sizeof(LedgerCommand) == kCommandSize);
static_assert(offsetof(CreateTransfer, transfer_id) == 8 && offsetof(CreateTransfer, amount_fen) == 32);
static_assert(offsetof(CreateTransfer, timeout_us) == 48 && offsetof(CreateTransfer, reserved) == 64);
static_assert(offsetof(PayOrderMoney, amount_fen) == 32 && offsetof(PayOrderMoney, storefront) == 40);
static_assert(offsetof(PayOrderMoney, subsidy_fen) == 48 &&
              offsetof(PayOrderMoney, deposit_id) == 56);
static_assert(offsetof(PayOrderMoney, reserved) == 64);
static_assert(offsetof(PayOrderMoney, trailer) == 120);
static_assert(offsetof(SetMerchantCreditLine, withhold_bp) == 2);
static_assert(sizeof(AccountRecord) == 64 && sizeof(TransferRecord) == 80);
static_assert(sizeof(OrderMoneyRecord) == 136 && sizeof(PlanRecord) == 80);
static_assert(offsetof(OrderMoneyRecord, refunded_fen) == 80 &&
              offsetof(OrderMoneyRecord, method) == 88);
static_assert(offsetof(OrderMoneyRecord, subsidy_fen) == 96 &&
              offsetof(OrderMoneyRecord, subsidy_refunded_fen) == 104);
static_assert(offsetof(OrderMoneyRecord, deposit_fen) == 112 &&
              offsetof(OrderMoneyRecord, deposit_refunded_fen) == 120 &&
              offsetof(OrderMoneyRecord, deposit_id) == 128);
static_assert(sizeof(MerchantCreditRecord) == 64 && sizeof(BuyerCreditRecord) == 40);
static_assert(std::is_trivially_copyable_v<LedgerCommand>);

// Views a wire::Command as a ledger command (both are 128 trivially copyable bytes).
inline LedgerCommand AsLedgerCommand(const Command& command) {
  LedgerCommand out;
  std::memcpy(&out, &command, kCommandSize);
  return out;
}
inline Command AsCommand(const LedgerCommand& command) {
  Command out;
  std::memcpy(&out, &command, kCommandSize);
  return out;
}

// Checks a ledger command's or query's structure only: a known operation and zero reserved
// bytes. Returns ok, invalid_operation or reserved_nonzero. Everything else needs state.
inline Code CheckLedgerStructure(const LedgerCommand& c) {
  auto op = static_cast<uint8_t>(c.operation);
  bool known = (op >= kLedgerCommandMin && op <= kLedgerCommandMax) ||
               (op >= kLedgerQueryMin && op <= kLedgerQueryMax);
  if (!known) return Code::invalid_operation;
  // A query is not a command and has no trailer.
  const bool trailer_clean = op > kLedgerCommandMax || TrailerReservedZero(AsCommand(c));
  bool clean = true;
  if (c.operation == kCreateAccount) {
    clean = AllZero(c.create_account.reserved, sizeof c.create_account.reserved);
  } else if (c.operation == kCreateTransfer) {
    clean = AllZero(c.create_transfer.reserved, sizeof c.create_transfer.reserved);
  } else if (c.operation == kDeposit || c.operation == kWithdraw || c.operation == kDrawDown ||
             c.operation == kRepayMerchantCredit) {
    clean = AllZero(c.party_transfer.reserved0, 7) && AllZero(c.party_transfer.reserved, sizeof c.party_transfer.reserved);
  } else if (c.operation == kSetBuyerCreditLimit) {
    clean = AllZero(c.set_buyer_credit_limit.reserved0, 7) &&
            AllZero(c.set_buyer_credit_limit.reserved, sizeof c.set_buyer_credit_limit.reserved);
  } else if (c.operation == kSetMerchantCreditLine) {
    const SetMerchantCreditLine& s = c.set_merchant_credit_line;
    clean = s.reserved0 == 0 && s.reserved1 == 0 && AllZero(s.reserved, sizeof s.reserved);
  } else if (c.operation == kPayOrderMoney) {
    const PayOrderMoney& p = c.pay_order_money;
    clean = AllZero(p.reserved0, 5) && p.reserved1 == 0 && AllZero(p.reserved, sizeof p.reserved);
  } else if (c.operation == kRefundOrderMoney || c.operation == kConfirmDelivery) {
    clean = AllZero(c.order_money.reserved0, 7) && AllZero(c.order_money.reserved, sizeof c.order_money.reserved);
  } else if (c.operation == kRepayInstalment) {
    clean = AllZero(c.repay_instalment.reserved0, 6) && AllZero(c.repay_instalment.reserved, sizeof c.repay_instalment.reserved);
  } else if (c.operation == kAfterSalesRefund) {
    clean = AllZero(c.after_sales_refund.reserved0, 7) && AllZero(c.after_sales_refund.reserved, sizeof c.after_sales_refund.reserved);
  } else {
    clean = c.query.reserved0 == 0 && AllZero(c.query.reserved, sizeof c.query.reserved);
  }
  return trailer_clean && clean ? Code::ok : Code::reserved_nonzero;
}

}  // namespace eleven::wire
