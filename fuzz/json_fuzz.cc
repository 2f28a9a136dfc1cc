// libFuzzer target: the HTTP gateway's JSON request decoder (src/server/json_decode.h) on
// arbitrary bodies for every command route (orders, coupons, payments, fulfilment; arrays for the
// batch routes). It must either refuse with a code and a message and no commands, or produce
// 1..kJsonCommandCountMax commands whose reserved bytes are zero and whose operation is the
// route's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "server/json_decode.h"
#include "wire/access.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"
#include "wire/records.h"

using namespace eleven;
using server::JsonCommand;

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

// The operation each route builds, indexed by JsonCommand.
constexpr wire::Operation kOperations[] = {
    wire::Operation::kCreateMerchant, wire::Operation::kCreateSku, wire::Operation::kRestock,
    wire::Operation::kSetPrice, wire::Operation::kCreateDrop, wire::Operation::kCloseDrop,
    wire::Operation::kPlaceOrder, wire::Operation::kPayOrder, wire::Operation::kCancelOrder,
    wire::kCreateAccount, wire::kCreateTransfer, wire::kDeposit, wire::kSetBuyerCreditLimit,
    wire::kWithdraw, wire::kSetMerchantCreditLine, wire::kDrawDown, wire::kRepayMerchantCredit,
    wire::kConfirmDelivery, wire::kRepayInstalment, wire::kAfterSalesRefund, wire::kCreateWarehouse,
    wire::kStockWarehouse,
    wire::kCreateCourier, wire::kSetCoverage, wire::kSetRegionPoint, wire::kTrackParcel,
    wire::kCreateKey, wire::kRevokeKey, wire::Operation::kCreateCoupon, wire::Operation::kClaimCoupon,
    wire::Operation::kCreatePresale, wire::Operation::kPayDeposit, wire::Operation::kPayBalance};
static_assert(std::size(kOperations) == server::kJsonCommandCount);

// Reserved bytes zero and a known operation, per module.
void CheckReservedZero(const wire::Command& command) {
  if (wire::IsLedgerOperation(command.operation)) {
    Check(wire::CheckLedgerStructure(wire::AsLedgerCommand(command)) == wire::Code::ok);
  } else if (wire::IsFulfilmentOperation(command.operation)) {
    Check(wire::CheckFulfilmentStructure(command) == wire::Code::ok);
  } else if (wire::IsAccessOperation(command.operation)) {
    Check(wire::CheckAccessStructure(command) == wire::Code::ok);
  } else {
    // Everything the decoder builds is structurally valid except a line count it passes on
    // for the engine to refuse.
    const wire::Code structure = wire::CheckStructure(command);
    Check(structure != wire::Code::reserved_nonzero && structure != wire::Code::invalid_operation);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t route = data[0] % server::kJsonCommandCount;
  const auto kind = static_cast<JsonCommand>(route);
  simdjson::padded_string body(reinterpret_cast<const char*>(data + 1), size - 1);
  static simdjson::ondemand::parser parser;
  static std::vector<wire::Command> commands(server::kJsonCommandCountMax);
  size_t count = 0;
  bool batch = false;
  server::JsonDecodeError error;
  if (server::DecodeJsonCommands(kind, 77, body, &parser, commands, &count, &batch, &error)) {
    Check(count >= 1 && count <= server::kJsonCommandCountMax);
    Check(!batch || server::JsonBatchAllowed(kind));
    for (size_t i = 0; i < count; i++) {
      Check(commands[i].operation == kOperations[route]);
      CheckReservedZero(commands[i]);
    }
  } else {
    Check(count == 0 && !error.code.empty() && !error.message.empty());
  }
  return 0;
}
