// Helpers for storage tests only: temp directories, seeds that print and replay.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/assert.h"
#include "base/hash.h"
#include "storage/data_dir.h"
#include "storage/env.h"

namespace eleven::testing {

// The seed of a randomised test: $ELEVEN_SEED if set (to replay a failure), else random.
// Printed so that any failing run can be replayed.
inline uint64_t TestSeed(const char* test_name) {
  uint64_t seed = 0;
  if (const char* text = std::getenv("ELEVEN_SEED"); text != nullptr && *text != '\0') {
    seed = std::strtoull(text, nullptr, 10);
  } else {
    seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  }
  std::printf("%s seed=%llu (replay with ELEVEN_SEED=%llu)\n", test_name,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

// True under scripts/test --long.
inline bool LongRun() {
  const char* text = std::getenv("ELEVEN_LONG");
  return text != nullptr && std::string(text) == "1";
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/eleven-storage-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    ELEVEN_ASSERT(::mkdtemp(buffer.data()) != nullptr);
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

inline std::vector<std::byte> RandomBytes(std::mt19937_64& rng, size_t size_bytes) {
  std::vector<std::byte> bytes(size_bytes);
  for (std::byte& b : bytes) b = std::byte{static_cast<uint8_t>(rng())};
  return bytes;
}

inline ByteSpan AsBytes(const std::string& text) {
  return ByteSpan(reinterpret_cast<const std::byte*>(text.data()), text.size());
}

// Writes an identity of `version` over the directory's own (checksum recomputed).
inline void RewriteIdentityVersion(const std::string& path, uint16_t version) {
  std::vector<std::byte> data;
  ASSERT_TRUE(ReadWholeFile(Env::Default(), JoinPath(path, kDataDirIdentityName), sizeof(DataDirIdentity), &data).ok());
  DataDirIdentity identity;
  ASSERT_EQ(data.size(), sizeof(identity));
  std::memcpy(&identity, data.data(), sizeof(identity));
  identity.version = version;
  // The checksum covers the bytes after its own field.
  constexpr size_t kChecksumFieldSizeBytes = sizeof(identity.checksum);
  identity.checksum = Checksum64(reinterpret_cast<const std::byte*>(&identity) + kChecksumFieldSizeBytes,
                                 sizeof(identity) - kChecksumFieldSizeBytes);
  ASSERT_TRUE(WriteFileDurably(Env::Default(), path, kDataDirIdentityName,
                               ByteSpan(reinterpret_cast<const std::byte*>(&identity), sizeof(identity)))
                  .ok());
}

}  // namespace eleven::testing
