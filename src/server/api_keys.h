// API key secrets and the server's table of them (docs/access.md).
//
// A secret is "ek_" and 43 base64url characters (32 random bytes); the engine keeps only its
// SHA-256. ApiKeyTable maps hashes to keys so the I/O thread can authenticate a request
// without touching the engine: the engine thread builds a new table from the engine's keys
// (ApiKeyTable::Of) whenever a batch created or revoked one, and publishes it
// (ApiKeyDirectory::Publish); the I/O thread reads the latest (Current). A table is immutable
// once built, so readers need no lock beyond taking the pointer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "wire/access.h"

namespace eleven::engine {
class Engine;
}

namespace eleven::server {

using SecretHash = std::array<uint8_t, wire::kSecretHashSize>;

inline constexpr std::string_view kSecretPrefix = "ek_";
inline constexpr size_t kSecretSize = 46;  // "ek_" + 43 base64url characters

// A new secret from the operating system's random source (OpenSSL RAND_bytes).
std::string NewSecret();
SecretHash HashSecret(std::string_view secret);
// Whether `text` has the shape of a secret (prefix, length, alphabet).
bool WellFormedSecret(std::string_view text);

// Who a request comes from once authenticated.
struct Caller {
  uint32_t key_id = 0;  // 0: the local operator (anonymous, where the config allows it)
  wire::Role role = wire::Role::kNone;
  uint64_t scope_id = 0;
};

class ApiKeyTable {
 public:
  // The engine's active keys. Engine thread (it reads the engine).
  static std::shared_ptr<const ApiKeyTable> Of(const engine::Engine& engine);
  // The caller a secret names, or false if it names no active key. The hash is compared
  // whole (a map lookup by the hash of a 256-bit secret reveals nothing useful by timing).
  bool Find(std::string_view secret, Caller* caller) const;
  // The caller an active key id names (a TLS client certificate's key), or false.
  bool FindId(uint32_t key_id, Caller* caller) const;
  size_t size() const { return by_hash_.size(); }

 private:
  struct HashOf {
    size_t operator()(const SecretHash& h) const {
      size_t v;
      static_assert(sizeof(v) <= sizeof(SecretHash));
      __builtin_memcpy(&v, h.data(), sizeof(v));
      return v;
    }
  };
  std::unordered_map<SecretHash, Caller, HashOf> by_hash_;
  std::unordered_map<uint32_t, Caller> by_id_;
};

// The latest table, shared between the engine thread (Publish) and the I/O thread (Current).
class ApiKeyDirectory {
 public:
  void Publish(std::shared_ptr<const ApiKeyTable> table) {
    std::lock_guard lock(mutex_);
    table_ = std::move(table);
  }
  std::shared_ptr<const ApiKeyTable> Current() const {
    std::lock_guard lock(mutex_);
    return table_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ApiKeyTable> table_ = std::make_shared<ApiKeyTable>();
};

}  // namespace eleven::server
