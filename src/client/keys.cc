#include "client/keys.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

#include "base/assert.h"
#include "wire/fulfilment.h"

namespace eleven::client {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kSecretBytes = 32;

bool Base64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::string NewKeySecret() {
  uint8_t bytes[kSecretBytes + 1] = {};  // a zero byte pads the last group of three
  const int random_ok = RAND_bytes(bytes, kSecretBytes);
  ELEVEN_ASSERT(random_ok == 1);
  std::string out(kKeySecretPrefix);
  for (size_t i = 0; i < kSecretBytes; i += 3) {
    const uint32_t group = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    const size_t chars = i + 3 <= kSecretBytes ? 4 : 3;  // 32 bytes: 10 groups of 4, then 3
    for (size_t k = 0; k < chars; k++) out += kAlphabet[(group >> (18 - 6 * k)) & 63];
  }
  ELEVEN_ASSERT(out.size() == kKeySecretSize && WellFormedKeySecret(out));
  return out;
}

KeySecretHash HashKeySecret(std::string_view secret) {
  KeySecretHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), hash.data());
  return hash;
}

bool WellFormedKeySecret(std::string_view text) {
  if (text.size() != kKeySecretSize || text.substr(0, kKeySecretPrefix.size()) != kKeySecretPrefix) {
    return false;
  }
  for (char c : text.substr(kKeySecretPrefix.size())) {
    if (!Base64Url(c)) return false;
  }
  return true;
}

wire::Command MakeCreateKey(wire::Role role, uint64_t scope_id, std::string_view secret) {
  wire::CreateKey c{};
  c.operation = wire::kCreateKey;
  c.role = role;
  c.scope_id = scope_id;
  const KeySecretHash hash = HashKeySecret(secret);
  std::memcpy(c.secret_sha256, hash.data(), hash.size());
  return wire::ToCommand(c);
}

wire::Command MakeRevokeKey(uint64_t key_id) {
  wire::RevokeKey c{};
  c.operation = wire::kRevokeKey;
  c.key_id = key_id;
  return wire::ToCommand(c);
}

}  // namespace eleven::client
