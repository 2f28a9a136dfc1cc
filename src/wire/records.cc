#include "wire/records.h"

#include <cstring>

namespace eleven::wire {

bool AllZero(const void* bytes, size_t size) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= size; i += sizeof(uint64_t)) {  // a word at a time
    uint64_t word;
    std::memcpy(&word, p + i, sizeof(word));
    acc |= word;
  }
  for (; i < size; i++) acc |= p[i];
  return acc == 0;
}

namespace {

template <typename T>
bool TailZero(const T& record) {
  return AllZero(record.reserved, sizeof(record.reserved));
}

}  // namespace

Code CheckStructure(const Command& command) {
  auto op = static_cast<uint8_t>(command.operation);
  if (op == 0 || op > kOperationMax) return Code::invalid_operation;
  // Every command's trailer, then the reserved bytes of its own layout.
  const bool trailer_clean = TrailerReservedZero(command);
  bool clean = false;
  switch (command.operation) {
    case Operation::kCreateMerchant:
      clean = command.create_merchant.reserved0 == 0 && TailZero(command.create_merchant);
      break;
    case Operation::kCreateSku:
      clean = AllZero(command.create_sku.reserved0, 3) && TailZero(command.create_sku);
      break;
    case Operation::kRestock:
      clean = AllZero(command.restock.reserved0, 3) && TailZero(command.restock);
      break;
    case Operation::kSetPrice:
      clean = AllZero(command.set_price.reserved0, 7) && TailZero(command.set_price);
      break;
    case Operation::kCreateDrop:
      clean = AllZero(command.create_drop.reserved0, 3) && command.create_drop.reserved1 == 0 &&
              TailZero(command.create_drop);
      break;
    case Operation::kCloseDrop:
      clean = AllZero(command.close_drop.reserved0, 7) && TailZero(command.close_drop);
      break;
    case Operation::kPlaceOrder:
      clean = ReservedZero(command.place_order);
      break;
    case Operation::kPayOrder:
      clean = AllZero(command.pay_order.reserved0, 5) && TailZero(command.pay_order);
      break;
    case Operation::kCancelOrder:
      clean = AllZero(command.cancel_order.reserved0, 7) && TailZero(command.cancel_order);
      break;
    case Operation::kCreateCoupon:
      clean = AllZero(command.create_coupon.reserved0, 2) && TailZero(command.create_coupon);
      break;
    case Operation::kClaimCoupon:
      clean = AllZero(command.claim_coupon.reserved0, 7) && TailZero(command.claim_coupon);
      break;
    case Operation::kCreatePresale:
      clean = AllZero(command.create_presale.reserved0, 3) && command.create_presale.reserved1 == 0 &&
              TailZero(command.create_presale);
      break;
    case Operation::kPayDeposit:
      clean = AllZero(command.pay_deposit.reserved0, 2) && TailZero(command.pay_deposit);
      break;
    case Operation::kPayBalance:
      clean = command.pay_balance.reserved0 == 0 && TailZero(command.pay_balance);
      break;
  }
  return trailer_clean && clean ? Code::ok : Code::reserved_nonzero;
}

}  // namespace eleven::wire
