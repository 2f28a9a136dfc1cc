// Ledger: double-entry accounts and transfers on TigerBeetle's model, and the payments built
// on them (order payment into escrow, refund, settlement less commission, Huabei-style
// instalments, merchant credit lines). Every movement of money is a transfer between two
// accounts, so money is conserved by construction: the sum of all debits equals the sum of
// all credits, pending and posted, at every command boundary.
//
// Deterministic: the state after a call depends only on the state before it and the call's
// arguments (log time comes in as `now_us`; nothing reads a clock or randomness).
// Bounded: every table is sized from LedgerConfig at construction; nothing allocates after
// that. A full table is a result code, never a crash. Not thread-safe: one engine thread
// owns a Ledger (DESIGN.md, "one writer").
//
// Atomicity: each command, and each linked chain of commands, applies all-or-nothing. State
// changes are recorded in a bounded undo log while a chain applies; a failing member rolls
// the chain back in reverse order, so nothing of it remains (not even a map slot layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/big_array.h"
#include "base/bytes.h"
#include "base/fixed_map.h"
#include "base/hash.h"
#include "base/status.h"
#include "wire/ledger.h"
#include "wire/records.h"

namespace eleven::engine {

inline constexpr uint64_t kMicrosPerDay = 86'400'000'000;

struct LedgerConfig {
  // User accounts + 6 system accounts + 2 per buyer (wallet, Huabei receivable) + 2 per
  // merchant (wallet, loan). 2^20 accounts * 72 bytes = 72 MiB plus a 32 MiB index.
  uint32_t account_count_max = 1u << 20;
  // Transfers are kept for idempotency and queries (TigerBeetle keeps them for ever; the
  // archive is later work). 2^22 * 104 bytes = 416 MiB with its index.
  uint32_t transfer_count_max = 1u << 22;
  uint32_t buyer_count_max = 1u << 18;
  uint32_t merchant_count_max = 1u << 16;
  // Order payments, kept until the order archive lands; each paid order reserves 6 transfers
  // (7 with a platform subsidy or a pre-sale deposit).
  uint32_t order_count_max = 1u << 20;
  uint32_t plan_count_max = 1u << 18;
  // The longest linked chain = the largest batch (8190 commands in a 1 MiB message).
  uint32_t chain_length_max = 8190;
  // Work one Tick may do, so a Tick never stalls the engine thread for long (a few hundred
  // microseconds at most); the rest waits for the next Tick.
  uint32_t expire_per_tick_max = 4096;
  uint32_t settle_per_tick_max = 4096;
  // Platform commission on each settled order (Tmall: 2..5% by category; one rate here).
  uint16_t commission_bp = 200;
  // Taobao auto-confirms receipt 10 days after shipping; we count from payment.
  uint64_t auto_confirm_us = 10 * kMicrosPerDay;
  uint64_t instalment_period_us = 30 * kMicrosPerDay;
  // After-sales refunds (op 44) are taken until this long after settlement (Tmall keeps
  // after-sales open 15 days after confirmed receipt); docs/returns.md.
  uint64_t after_sales_window_us = 15 * kMicrosPerDay;
  // Fee rates per plan of 3, 6, 12, 24 periods (Huabei's published buyer rates, 2019).
  uint16_t merchant_fee_bp[4] = {230, 450, 750, 1500};
  uint16_t buyer_fee_bp[4] = {250, 450, 750, 1500};
  int64_t buyer_credit_limit_default_fen = 0;  // a buyer needs a SetBuyerCreditLimit first
};

// Id spaces (top byte of an account id): 0 = user accounts; the rest belong to payments.
enum class IdSpace : uint8_t {
  kUser = 0,
  kSystem = 1,
  kBuyerWallet = 2,
  kBuyerReceivable = 3,  // what the buyer owes the credit provider on instalment plans
  kMerchantWallet = 4,
  kMerchantLoan = 5,  // what the merchant owes on its credit line
};
inline constexpr uint64_t AccountIdOf(IdSpace space, uint64_t party_id) {
  return (uint64_t{static_cast<uint8_t>(space)} << wire::kIdSpaceShift) | party_id;
}
// The system accounts (space kSystem), created at construction in this order.
enum class SystemAccount : uint8_t {
  kBank = 1,          // money from and to the outside world (deposits, withdrawals)
  kCardClearing = 2,  // card payments in, card refunds out
  kEscrow = 3,        // paid, not yet settled orders
  kCommission = 4,    // the platform's commission income
  kFeeIncome = 5,     // the credit provider's instalment fee income
  kMarketing = 6,     // the platform's marketing budget: coupon subsidies out, their returns in
};
inline constexpr uint32_t kSystemAccountCount = 6;
inline constexpr uint64_t SystemAccountId(SystemAccount a) {
  return AccountIdOf(IdSpace::kSystem, static_cast<uint8_t>(a));
}
// Transfers the ledger makes itself have ids with this top bit set, and their index below.
inline constexpr uint64_t kGeneratedTransferTag = uint64_t{1} << 63;
// The subsidy leg of an after-sales refund that also pays the buyer has the id
// kSubsidyLegTag | refund_id (the refund's id is on the buyer's leg), so a retry of the refund
// finds both legs by id (docs/returns.md).
inline constexpr uint64_t kSubsidyLegTag = uint64_t{1} << 62;
// Likewise the deposit leg of an after-sales refund of an order carrying a pre-sale deposit,
// when the balance's way also gets something: kDepositLegTag | refund_id.
inline constexpr uint64_t kDepositLegTag = uint64_t{1} << 61;

// The `code` of transfers the payments layer makes, so statements can say what each was.
enum class MoneyCode : uint16_t {
  kDeposit = 1,
  kWithdraw = 2,
  kDrawDown = 3,
  kRepayMerchantCredit = 4,
  kOrderPayment = 5,
  kBuyerFee = 6,
  kRefund = 7,
  kCommission = 8,
  kMerchantFee = 9,
  kWithheld = 10,
  kSettlement = 11,
  kRepayInstalment = 12,
  kRefundRepaid = 13,
  kRefundBuyerFee = 14,
  kAfterSalesRefund = 15,  // merchant wallet -> the buyer's side, after settlement
  kCouponSubsidy = 16,     // marketing -> escrow: the platform coupons' share of a payment
  kSubsidyReturned = 17,   // escrow or merchant wallet -> marketing: that share of a refund
  // escrow or merchant wallet -> buyer wallet or card clearing: a carried pre-sale deposit's
  // share of a refund, back the way the deposit was paid
  kDepositRefund = 18,
};

class Ledger {
 public:
  // Allocates every table. Asserts the config is sane (nonzero limits, fee rates that fit).
  explicit Ledger(const LedgerConfig& config);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Applies consecutive ledger commands starting at commands[0] (which must be a ledger
  // operation), stopping before the first non-ledger command; linked chains apply
  // all-or-nothing. Writes one result per consumed command to results (same index) and
  // returns how many it consumed (>= 1). `now_us` is the log time and never goes back.
  size_t Apply(std::span<const wire::Command> commands, uint64_t now_us,
               std::span<wire::Result> results);

  // Log-time work: expires pending transfers whose timeout passed, settles orders whose
  // auto-confirm period passed. At most the config's per-Tick budgets; deterministic.
  void Tick(uint64_t now_us);
  // The earliest log time at which Tick would change something, or kNeverDue: a pending
  // transfer's timeout, an order's auto-confirm, an instalment falling due (overdue is derived
  // from log time, so the tick makes queries show it). Work left over by a Tick's budget is
  // due at once (a time <= now_us()). O(1) but for the plans: O(plans started up to one
  // instalment period before the earliest due one). Deterministic; changes nothing.
  [[nodiscard]] uint64_t NextDueUs() const;
  static constexpr uint64_t kNeverDue = UINT64_MAX;

  // The order engine's calls (each atomic; also reachable as commands 40..42). `storefront`:
  // the one that placed the order (0: an operator), whose buyers' money it may spend.
  // `amount_fen` is what escrow holds and the merchant is settled on; `subsidy_fen` (0 ..
  // amount_fen - 1) of it is paid by the marketing account (platform coupons), the rest by the
  // buyer through `method`. Refunds give the subsidy back pro rata (docs/ledger.md).
  // `deposit_id` (0: none) names a pre-sale deposit: the money of an earlier payment of the
  // same buyer and merchant, paid by balance or card, still paid and never refunded, carrying
  // no subsidy or deposit itself (else deposit_not_payable; order_payment_not_found if there
  // is none). Its amount D (< amount_fen, and subsidy_fen must be 0) is carried into this
  // payment: the buyer pays amount_fen - D through `method` (a plan's principal and fees on
  // that), D stays in escrow as this order's, and the deposit's money becomes kConverted
  // (its deposit_id then names this order). Refunds send floor(D * refunded / amount) back
  // the way the deposit was paid (docs/ledger.md, "Pre-sale deposits").
  [[nodiscard]] wire::Code PayOrder(uint64_t order_id, uint64_t buyer_id, uint64_t merchant_id,
                                    int64_t amount_fen, wire::PaymentMethod method,
                                    uint8_t instalment_periods, uint64_t now_us,
                                    uint64_t storefront = 0, int64_t subsidy_fen = 0,
                                    uint64_t deposit_id = 0);
  [[nodiscard]] wire::Code RefundOrder(uint64_t order_id, uint64_t now_us);
  [[nodiscard]] wire::Code ConfirmDelivery(uint64_t order_id, uint64_t now_us);
  // Returns and cancellations after payment (refunds.cc; docs/returns.md). Each is atomic.
  // ReturnOrder: the order's parcels are all back or delivered and `refund_fen` (0..amount)
  // is the returned lines' share: a paid order refunds it and settles the rest; a settled
  // order refunds it from the merchant (no window). CancelPaidOrder refunds everything not yet
  // refunded (escrow if paid, the merchant if settled). Codes as the after-sales refund.
  // Every call on a converted deposit's money (RefundOrder, ConfirmDelivery, these two) is
  // refused deposit_converted: its money belongs to the order that took it.
  [[nodiscard]] wire::Code ReturnOrder(uint64_t order_id, int64_t refund_fen, uint64_t now_us);
  [[nodiscard]] wire::Code CancelPaidOrder(uint64_t order_id, uint64_t now_us);

  // Queries (read only). Each returns ok or the *_not_found code.
  [[nodiscard]] wire::Code LookupAccount(uint64_t account_id, wire::AccountRecord* out) const;
  [[nodiscard]] wire::Code LookupTransfer(uint64_t transfer_id, wire::TransferRecord* out) const;
  // The account's transfers, newest first, at most out.size() (<= kAccountTransfersMax),
  // starting after transfer `after_id` of the account (0: from the newest; transfer_not_found
  // if no such transfer, invalid_query if it is not the account's). flags:
  // wire::AccountTransfersFlags (0 = both sides).
  [[nodiscard]] wire::Code AccountTransfers(uint64_t account_id, uint8_t flags, uint64_t after_id,
                                            std::span<wire::TransferRecord> out,
                                            size_t* count) const;
  [[nodiscard]] wire::Code LookupOrderMoney(uint64_t order_id, wire::OrderMoneyRecord* out) const;
  [[nodiscard]] wire::Code LookupPlan(uint64_t order_id, wire::PlanRecord* out) const;
  [[nodiscard]] wire::Code LookupMerchantCredit(uint64_t merchant_id,
                                                wire::MerchantCreditRecord* out) const;
  [[nodiscard]] wire::Code LookupBuyerCredit(uint64_t buyer_id, wire::BuyerCreditRecord* out) const;

  // Iteration for audits and invariant checks (index < the matching count).
  uint32_t account_count() const { return account_count_; }
  wire::AccountRecord AccountAt(uint32_t index) const;
  uint32_t order_count() const { return order_count_; }
  wire::OrderMoneyRecord OrderAt(uint32_t index) const;
  uint32_t plan_count() const { return plan_count_; }
  wire::PlanRecord PlanAt(uint32_t index) const;
  uint32_t merchant_count() const { return merchant_count_; }
  wire::MerchantCreditRecord MerchantAt(uint32_t index) const;
  uint32_t transfer_count() const { return transfer_count_; }
  uint64_t now_us() const { return now_us_; }

  // Folds the whole state into `digester`: equal states give equal digests.
  void Digest(Digester& digester) const;

  // ---- Snapshots (snapshot.cc; the layout is described there) ----
  // The whole state as byte ranges, for a snapshot. Only between commands (never inside a
  // chain). Writes nothing but its outputs: `head` receives a small fixed record (magic,
  // version, the configuration, every scalar of the state, the table counts) and must
  // outlive the chunks; `chunks` is cleared and gets `head` first, then every table and
  // every index map. The concatenation of the chunks is the ledger's state. The table chunks
  // point into the live tables (nothing is copied) and stay valid until the next Apply,
  // Tick or payment call.
  void SnapshotChunks(std::vector<std::byte>* head, std::vector<ByteSpan>* chunks) const;
  // Loads the concatenation of SnapshotChunks' chunks into this FRESH ledger (constructed
  // with the same config and not used since). InvalidArgument if the snapshot was taken with
  // a different configuration (the message names the field); Corruption if the magic or
  // version is wrong, the sizes or counts do not add up (every byte must be consumed, no
  // more), or the loaded state breaks an invariant (maps vs tables, indices in range). After
  // a failed Restore the ledger holds a partial state and must be discarded.
  [[nodiscard]] Status Restore(ByteSpan state);

  // Internal records (public so the .cc helpers and tests can name them; not an API).
  struct Account;
  struct Transfer;
  struct Buyer;
  struct Merchant;
  struct Order;
  struct Plan;
  struct Undo;
  struct Expiry {
    uint64_t expires_at_us;
    uint32_t transfer;
    uint32_t reserved0;
  };

 private:
  // ---- chains and undo (ledger.cc) ----
  size_t ApplyChain(std::span<const wire::Command> commands, std::span<wire::Result> results);
  wire::Code ApplyOne(const wire::LedgerCommand& command, wire::Result* result);
  // Replays (ledger.cc): a command whose code says it repeats one already applied (the
  // *_exists codes of an identical request, a refund of a refunded order, a confirmation of a
  // settled one) is answered as the first was, marked wire::ResultFlags::kReplayed. Commands
  // only: the order engine's calls keep the codes, since the engine pays only pending orders.
  static bool IsRepeat(wire::Operation operation, wire::Code code);
  wire::Code AnswerReplay(const wire::LedgerCommand& command, wire::Result* result) const;
  void Prefetch(const wire::Command& command) const;
  void BeginAtomic(uint64_t now_us);
  void Commit();
  void Rollback();
  void SaveAccount(uint32_t index);
  void SaveTransfer(uint32_t index);
  void SaveBuyer(uint32_t index);
  void SaveMerchant(uint32_t index);
  void SaveOrder(uint32_t index);
  void SavePlan(uint32_t index);
  void SaveReserved();
  Undo& PushUndo();

  // ---- accounts and transfers (ledger.cc) ----
  wire::Code CreateAccount(const wire::CreateAccount& a);
  wire::Code CreateTransfer(const wire::CreateTransfer& t, wire::Result* result);
  wire::Code CreateSingle(const wire::CreateTransfer& t, wire::Result* result);
  wire::Code CheckSingle(const wire::CreateTransfer& t, const Account& dr, const Account& cr,
                         int64_t amount) const;
  wire::Code PostOrVoid(const wire::CreateTransfer& t, wire::Result* result);
  wire::Code CheckPostOrVoid(const wire::CreateTransfer& t, const Transfer& p) const;
  wire::Code ExistsSingle(const wire::CreateTransfer& t, const Transfer& e) const;
  wire::Code ExistsPostOrVoid(const wire::CreateTransfer& t, const Transfer& e) const;
  uint32_t InsertAccount(uint64_t id, uint32_t ledger, uint16_t code, uint8_t flags,
                         uint64_t user_data);
  uint32_t InsertTransfer(const Transfer& t);
  bool TransferRoom(uint32_t count) const;
  void ExpireDue(uint64_t now_us);

  // ---- snapshots (snapshot.cc) ----
  // After a Restore: Corruption unless every map matches its table and every stored index
  // points into its table.
  Status CheckRestored() const;
  Status CheckRestoredHeap() const;
  // The order money: amounts in range, each subsidy's returned part and each deposit's
  // refunded part as the refund rule gives it, every carried deposit linked both ways to its
  // converted record, escrow, the marketing account's balance and the transfer reservation as
  // the orders say.
  Status CheckRestoredOrders() const;
  Status CheckRestoredDeposit(uint32_t order_index) const;

  // ---- payments (payments.cc) ----
  // Moves money between two accounts as a posted transfer; id 0 = a generated id.
  wire::Code Move(uint32_t debit, uint32_t credit, int64_t amount_fen, uint64_t id,
                  uint64_t user_data, MoneyCode code);
  wire::Code PartyTransfer(const wire::PartyTransfer& p, wire::Result* result);
  wire::Code PartyExists(const wire::PartyTransfer& p, const Transfer& e) const;
  wire::Code SetBuyerCreditLimit(const wire::SetBuyerCreditLimit& s);
  wire::Code SetMerchantCreditLine(const wire::SetMerchantCreditLine& s);
  wire::Code EnsureBuyer(uint64_t buyer_id, uint32_t* index);
  wire::Code EnsureMerchant(uint64_t merchant_id, uint32_t* index);
  wire::Code DoPayOrder(const wire::PayOrderMoney& p, wire::Result* result);
  wire::Code CheckPayOrder(const wire::PayOrderMoney& p) const;
  // The deposit a payment carries: *index its order money, or kNone when p.deposit_id is 0.
  wire::Code CheckDeposit(const wire::PayOrderMoney& p, uint32_t* index) const;
  // Closes the deposit at `deposit_index` as carried into order `order_id`: kConverted, its
  // reservation released (the caller reserves for the new order).
  void ConvertDeposit(uint32_t deposit_index, uint64_t order_id);
  // Opens the plan financing `principal_fen` of the payment (both fees on it).
  wire::Code OpenPlan(const wire::PayOrderMoney& p, int64_t principal_fen, uint32_t buyer,
                      uint32_t order, int64_t* merchant_fee_fen, uint32_t* plan);
  wire::Code DoRefund(uint64_t order_id, wire::Result* result);
  wire::Code RefundPlan(const Order& order);
  wire::Code DoConfirm(uint64_t order_id, wire::Result* result);
  wire::Code Settle(uint32_t order_index);
  wire::Code RepayInstalment(const wire::RepayInstalment& r, wire::Result* result);
  void AutoConfirm(uint64_t now_us);

  // ---- returns and refunds (refunds.cc) ----
  wire::Code DoAfterSalesRefund(const wire::AfterSalesRefund& r, wire::Result* result);
  wire::Code AfterSalesExists(const wire::AfterSalesRefund& r, uint32_t existing) const;
  // What the after-sales refund whose id is on transfer `existing` refunded: that leg and, if
  // the refund's subsidy or deposit share went back on a leg of its own, that one too.
  int64_t AfterSalesAmount(uint32_t existing) const;
  // The subsidy's share of refunding `refund_fen` more of the order (docs/ledger.md): moved
  // from `source` to the marketing account (no transfer if it is 0) and recorded in the
  // order, which the caller has saved for undo; *returned_fen is the share. Its leg's id:
  // generated when `last_id` is 0, else `last_id` if the share is the whole refund (the
  // buyer gets nothing, so this is the last leg), else kSubsidyLegTag | last_id.
  wire::Code ReturnSubsidy(uint32_t order_index, uint32_t source, int64_t refund_fen,
                           uint64_t last_id, int64_t* returned_fen);
  // The same for a carried deposit's share: moved from `source` back the way the deposit was
  // paid (its buyer's wallet or card clearing), with code kDepositRefund; ids as the subsidy's
  // with kDepositLegTag. A subsidy and a deposit never meet in one order.
  wire::Code ReturnDeposit(uint32_t order_index, uint32_t source, int64_t refund_fen,
                           uint64_t last_id, int64_t* returned_fen);
  // Refunds `refund_fen` of the order from `source` (escrow or the merchant's wallet): the
  // subsidy's share to the marketing account, a deposit's share the deposit's way, the rest
  // to the buyer's side as this payment was made, the last leg with transfer id `last_id`
  // (0 = generated).
  wire::Code RefundPart(uint32_t order_index, uint32_t source, int64_t refund_fen,
                        uint64_t last_id, MoneyCode code);
  wire::Code ReducePlan(uint32_t order_index, uint32_t source, int64_t refund_fen,
                        uint64_t last_id, MoneyCode code);
  // Makes the merchant's wallet hold `amount_fen`, drawing the shortfall on its line.
  wire::Code FundFromMerchant(uint32_t merchant_index, int64_t amount_fen);
  wire::Code RefundSettled(uint32_t order_index, int64_t refund_fen, uint64_t last_id);
  wire::Code DoReturn(uint32_t order_index, int64_t refund_fen);
  template <typename Body>
  wire::Code Atomically(uint64_t now_us, Body body);
  int64_t Outstanding(uint32_t account) const;  // debits_posted - credits_posted
  int64_t Available(uint32_t account) const;    // credits_posted - debits (pending + posted)
  wire::Code RunAtomic(const wire::LedgerCommand& command, uint64_t now_us, wire::Result* result);

  LedgerConfig config_;
  uint64_t now_us_ = 0;

  BigArray<Account> accounts_;
  uint32_t account_count_ = 0;
  FixedMap<uint64_t> account_index_;
  BigArray<Transfer> transfers_;
  uint32_t transfer_count_ = 0;
  FixedMap<uint64_t> transfer_index_;
  // Transfers promised to paid, unsettled orders (6 each, 7 with a subsidy or a deposit:
  // refund and settlement legs), so a settlement in Tick can never find the transfer table
  // full.
  uint32_t transfers_reserved_ = 0;
  BigArray<Buyer> buyers_;
  uint32_t buyer_count_ = 0;
  FixedMap<uint64_t> buyer_index_;
  BigArray<Merchant> merchants_;
  uint32_t merchant_count_ = 0;
  FixedMap<uint64_t> merchant_index_;
  BigArray<Order> orders_;
  uint32_t order_count_ = 0;
  FixedMap<uint64_t> order_index_;
  uint32_t settle_cursor_ = 0;  // orders are in payment (log time) order; auto-confirm walks them
  BigArray<Plan> plans_;
  uint32_t plan_count_ = 0;

  // Pending transfers with a timeout, a min-heap on (expires_at_us, transfer). Each transfer
  // enters at most once, so transfer_count_max bounds it.
  BigArray<Expiry> expiry_heap_;
  uint32_t expiry_count_ = 0;
  // Timeouts created by the chain being applied; pushed on commit, dropped on rollback.
  BigArray<uint32_t> new_timeouts_;
  uint32_t new_timeout_count_ = 0;

  BigArray<Undo> undo_;
  uint32_t undo_count_ = 0;
  uint32_t undo_count_max_ = 0;
};

}  // namespace eleven::engine
