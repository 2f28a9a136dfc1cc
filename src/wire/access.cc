#include "wire/access.h"

#include <cstring>

#include "wire/fulfilment.h"

namespace eleven::wire {

namespace {

constexpr const char* kRoleNames[] = {"",         "operator", "storefront",
                                      "merchant", "courier",  "viewer"};
static_assert(sizeof(kRoleNames) / sizeof(kRoleNames[0]) == kRoleMax + 1);

}  // namespace

Code CheckAccessStructure(const Command& command) {
  const auto op = static_cast<uint8_t>(command.operation);
  if (op < kAccessOperationMin || op > kAccessOperationLast) return Code::invalid_operation;
  bool clean = TrailerReservedZero(command);
  if (command.operation == kCreateKey) {
    const auto c = AsRecord<CreateKey>(command);
    clean =
        clean && AllZero(c.reserved0, sizeof c.reserved0) && AllZero(c.reserved, sizeof c.reserved);
  } else {
    const auto c = AsRecord<RevokeKey>(command);
    clean =
        clean && AllZero(c.reserved0, sizeof c.reserved0) && AllZero(c.reserved, sizeof c.reserved);
  }
  return clean ? Code::ok : Code::reserved_nonzero;
}

const char* RoleName(Role role) {
  const auto r = static_cast<uint8_t>(role);
  return r <= kRoleMax ? kRoleNames[r] : "";
}

bool RoleFromName(const char* name, size_t size, Role* role) {
  for (uint8_t r = 1; r <= kRoleMax; r++) {
    if (std::strlen(kRoleNames[r]) == size && std::memcmp(kRoleNames[r], name, size) == 0) {
      *role = static_cast<Role>(r);
      return true;
    }
  }
  return false;
}

}  // namespace eleven::wire
