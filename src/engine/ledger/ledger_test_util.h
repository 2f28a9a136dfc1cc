// Command builders for the ledger's tests and benchmark: one function per record, fields in
// the order a reader expects, everything else zero.
#pragma once

#include <vector>

#include "engine/ledger/ledger.h"
#include "wire/ledger.h"

namespace eleven::engine::testing {

inline wire::Command CreateAccountCmd(uint64_t id, uint8_t flags = 0, uint32_t ledger = 1,
                                      uint16_t code = 1, uint64_t user_data = 0) {
  wire::LedgerCommand c{};
  c.create_account = {wire::kCreateAccount, flags, code, ledger, id, user_data, {}};
  return wire::AsCommand(c);
}

struct TransferArgs {
  uint64_t id = 0;
  uint64_t debit = 0;
  uint64_t credit = 0;
  int64_t amount = 0;
  uint8_t flags = 0;
  uint64_t pending_id = 0;
  uint64_t timeout_us = 0;
  uint32_t ledger = 1;
  uint16_t code = 1;
  uint64_t user_data = 0;
};

inline wire::Command TransferCmd(const TransferArgs& a) {
  wire::LedgerCommand c{};
  wire::CreateTransfer& t = c.create_transfer;
  t.operation = wire::kCreateTransfer;
  t.flags = a.flags;
  t.code = a.code;
  t.ledger = a.ledger;
  t.transfer_id = a.id;
  t.debit_account_id = a.debit;
  t.credit_account_id = a.credit;
  t.amount_fen = a.amount;
  t.pending_id = a.pending_id;
  t.timeout_us = a.timeout_us;
  t.user_data = a.user_data;
  return wire::AsCommand(c);
}

inline wire::Command PartyCmd(wire::Operation op, uint64_t transfer_id, uint64_t party_id,
                              int64_t amount_fen) {
  wire::LedgerCommand c{};
  c.party_transfer.operation = op;
  c.party_transfer.transfer_id = transfer_id;
  c.party_transfer.party_id = party_id;
  c.party_transfer.amount_fen = amount_fen;
  return wire::AsCommand(c);
}

inline wire::Command SetBuyerLimitCmd(uint64_t buyer_id, int64_t limit_fen) {
  wire::LedgerCommand c{};
  c.set_buyer_credit_limit.operation = wire::kSetBuyerCreditLimit;
  c.set_buyer_credit_limit.buyer_id = buyer_id;
  c.set_buyer_credit_limit.limit_fen = limit_fen;
  return wire::AsCommand(c);
}

inline wire::Command SetLineCmd(uint64_t merchant_id, int64_t limit_fen, uint16_t withhold_bp) {
  wire::LedgerCommand c{};
  c.set_merchant_credit_line.operation = wire::kSetMerchantCreditLine;
  c.set_merchant_credit_line.merchant_id = merchant_id;
  c.set_merchant_credit_line.limit_fen = limit_fen;
  c.set_merchant_credit_line.withhold_bp = withhold_bp;
  return wire::AsCommand(c);
}

inline wire::Command PayCmd(uint64_t order_id, uint64_t buyer_id, uint64_t merchant_id,
                            int64_t amount_fen, wire::PaymentMethod method, uint8_t periods = 0,
                            int64_t subsidy_fen = 0, uint64_t deposit_id = 0) {
  wire::LedgerCommand c{};
  wire::PayOrderMoney& p = c.pay_order_money;
  p.operation = wire::kPayOrderMoney;
  p.method = method;
  p.instalment_periods = periods;
  p.order_id = order_id;
  p.buyer_id = buyer_id;
  p.merchant_id = merchant_id;
  p.amount_fen = amount_fen;
  p.subsidy_fen = subsidy_fen;
  p.deposit_id = deposit_id;
  return wire::AsCommand(c);
}

inline wire::Command OrderCmd(wire::Operation op, uint64_t order_id) {
  wire::LedgerCommand c{};
  c.order_money.operation = op;
  c.order_money.order_id = order_id;
  return wire::AsCommand(c);
}

inline wire::Command AfterSalesCmd(uint64_t refund_id, uint64_t order_id, int64_t amount_fen) {
  wire::LedgerCommand c{};
  c.after_sales_refund.operation = wire::kAfterSalesRefund;
  c.after_sales_refund.refund_id = refund_id;
  c.after_sales_refund.order_id = order_id;
  c.after_sales_refund.amount_fen = amount_fen;
  return wire::AsCommand(c);
}

inline wire::Command RepayCmd(uint64_t transfer_id, uint64_t order_id, uint8_t periods) {
  wire::LedgerCommand c{};
  c.repay_instalment.operation = wire::kRepayInstalment;
  c.repay_instalment.periods = periods;
  c.repay_instalment.transfer_id = transfer_id;
  c.repay_instalment.order_id = order_id;
  return wire::AsCommand(c);
}

// Applies a whole batch of ledger commands (Apply may stop early only at a non-ledger one).
inline std::vector<wire::Result> ApplyAll(Ledger& ledger, const std::vector<wire::Command>& batch,
                                          uint64_t now_us) {
  std::vector<wire::Result> results(batch.size());
  size_t done = 0;
  while (done < batch.size()) {
    done += ledger.Apply(std::span(batch).subspan(done), now_us, std::span(results).subspan(done));
  }
  return results;
}

inline LedgerConfig SmallConfig() {
  LedgerConfig c;
  c.account_count_max = 4096;
  c.transfer_count_max = 1 << 16;
  c.buyer_count_max = 512;
  c.merchant_count_max = 128;
  c.order_count_max = 4096;
  c.plan_count_max = 1024;
  c.chain_length_max = 64;
  return c;
}

}  // namespace eleven::engine::testing
