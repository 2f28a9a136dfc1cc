// Access control records (docs/access.md): the key commands (operations 96..127, the access
// block of wire::Operation), roles and the key query record. Every command's issuer is in its
// Trailer (wire/records.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "wire/records.h"

namespace eleven::wire {

inline constexpr Operation kCreateKey = static_cast<Operation>(96);
inline constexpr Operation kRevokeKey = static_cast<Operation>(97);
inline constexpr uint8_t kAccessOperationMin = 96;
inline constexpr uint8_t kAccessOperationLast = 97;  // the last one defined so far
inline constexpr uint8_t kAccessOperationMax = 127;  // the end of the access block

enum class Role : uint8_t {
  kNone = 0,
  kOperator = 1,    // everything
  kStorefront = 2,  // orders it places, for its buyers
  kMerchant = 3,    // its own SKUs, drops, stock, money and credit
  kCourier = 4,     // its own parcels' tracking events
  kViewer = 5,      // public reads
};
inline constexpr uint8_t kRoleMax = 5;
// A storefront's id fits the order row's 32 bits.
inline constexpr uint64_t kStorefrontIdMax = UINT32_MAX;
inline constexpr size_t kSecretHashSize = 32;  // SHA-256

enum class KeyState : uint8_t { kActive = 1, kRevoked = 2 };

struct CreateKey {
  Operation operation;  // kCreateKey
  Role role;
  uint8_t reserved0[6];
  uint64_t scope_id;  // storefront, merchant or courier id; 0 for operator and viewer
  uint8_t secret_sha256[kSecretHashSize];  // SHA-256 of the secret; nonzero
  uint8_t reserved[72];
  Trailer trailer;
};

struct RevokeKey {
  Operation operation;  // kRevokeKey
  uint8_t reserved0[7];
  uint64_t key_id;
  uint8_t reserved[104];
  Trailer trailer;
};

// A key as queries show it: never its secret or hash.
struct KeyRecord {
  uint64_t key_id;
  uint64_t scope_id;
  uint64_t created_at_us;
  uint64_t revoked_at_us;  // 0 while active
  uint32_t created_by;     // the issuer of its create_key (0: the local operator)
  uint32_t revoked_by;
  Role role;
  KeyState state;
  uint8_t reserved[6];
};

static_assert(sizeof(CreateKey) == kCommandSize && sizeof(RevokeKey) == kCommandSize);
static_assert(offsetof(CreateKey, trailer) == kTrailerOffset);
static_assert(sizeof(KeyRecord) == 48);

inline bool IsAccessOperation(Operation operation) {
  const auto op = static_cast<uint8_t>(operation);
  return op >= kAccessOperationMin && op <= kAccessOperationMax;
}

// Checks a key command's structure only (a defined operation, reserved bytes zero).
Code CheckAccessStructure(const Command& command);

// "operator", "storefront", ...; "" for kNone or an undefined value.
const char* RoleName(Role role);
// Parses a role name; false if it is none.
bool RoleFromName(const char* name, size_t size, Role* role);

}  // namespace eleven::wire
