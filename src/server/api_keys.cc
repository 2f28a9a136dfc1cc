#include "server/api_keys.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/assert.h"
#include "engine/engine.h"

namespace eleven::server {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kSecretBytes = 32;

bool Base64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::string NewSecret() {
  uint8_t bytes[kSecretBytes + 1] = {};  // a zero byte pads the last group of three
  ELEVEN_ASSERT(RAND_bytes(bytes, kSecretBytes) == 1);
  std::string out(kSecretPrefix);
  for (size_t i = 0; i < kSecretBytes; i += 3) {
    const uint32_t group = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    const size_t chars = i + 3 <= kSecretBytes ? 4 : 3;  // 32 bytes: 10 groups of 4, then 3
    for (size_t k = 0; k < chars; k++) out += kAlphabet[(group >> (18 - 6 * k)) & 63];
  }
  ELEVEN_ASSERT(out.size() == kSecretSize);
  return out;
}

SecretHash HashSecret(std::string_view secret) {
  SecretHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), hash.data());
  return hash;
}

bool WellFormedSecret(std::string_view text) {
  if (text.size() != kSecretSize || text.substr(0, kSecretPrefix.size()) != kSecretPrefix) {
    return false;
  }
  for (char c : text.substr(kSecretPrefix.size())) {
    if (!Base64Url(c)) return false;
  }
  return true;
}

std::shared_ptr<const ApiKeyTable> ApiKeyTable::Of(const engine::Engine& engine) {
  auto table = std::make_shared<ApiKeyTable>();
  for (uint32_t id = 1; id <= engine.api_key_count(); id++) {
    const engine::ApiKeyRow& row = engine.api_key(id);
    if (row.state != wire::KeyState::kActive) continue;
    SecretHash hash;
    std::copy(std::begin(row.secret_sha256), std::end(row.secret_sha256), hash.begin());
    const Caller caller{id, row.role, row.scope_id};
    table->by_hash_.emplace(hash, caller);
    table->by_id_.emplace(id, caller);
  }
  return table;
}

bool ApiKeyTable::Find(std::string_view secret, Caller* caller) const {
  if (!WellFormedSecret(secret)) return false;
  const auto it = by_hash_.find(HashSecret(secret));
  if (it == by_hash_.end()) return false;
  *caller = it->second;
  return true;
}

bool ApiKeyTable::FindId(uint32_t key_id, Caller* caller) const {
  const auto it = by_id_.find(key_id);
  if (it == by_id_.end()) return false;
  *caller = it->second;
  return true;
}

}  // namespace eleven::server
