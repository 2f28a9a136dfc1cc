// API key secrets on the client side (docs/access.md, "Keys"): a new secret and the SHA-256
// that create_key carries. The server keeps only that hash; the secret is what a client
// authenticates with (ClientOptions::key, or HTTP `Authorization: Bearer`).
//
// Free functions, thread-safe (OpenSSL's RAND_bytes and SHA256 are).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/access.h"

namespace eleven::client {

inline constexpr std::string_view kKeySecretPrefix = "ek_";
inline constexpr size_t kKeySecretSize = 46;  // "ek_" + base64url of 32 random bytes

using KeySecretHash = std::array<uint8_t, wire::kSecretHashSize>;

// A new secret of 32 bytes from the operating system's random source (RAND_bytes).
std::string NewKeySecret();
// SHA-256 of the secret's bytes: what create_key's secret_sha256 holds.
KeySecretHash HashKeySecret(std::string_view secret);
// Whether `text` has a secret's shape: the prefix, 46 characters, base64url after it.
bool WellFormedKeySecret(std::string_view text);

// A create_key command for a new key of `role` (scope_id: the storefront, merchant or courier
// id; 0 for operator and viewer) whose secret is `secret`.
wire::Command MakeCreateKey(wire::Role role, uint64_t scope_id, std::string_view secret);
wire::Command MakeRevokeKey(uint64_t key_id);

}  // namespace eleven::client
