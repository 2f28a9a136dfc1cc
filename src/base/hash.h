// Hashing and checksums. Checksums are XXH3 (xxHash, Debian libxxhash): fast enough to
// checksum every journal entry and frame, and stable across versions and machines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace eleven {

// The splitmix64 finalizer (W1 uses it; also a good mixer for integer hash tables).
constexpr uint64_t Fmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t Checksum64(const void* data, size_t size, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(data, size, seed);
}

struct Digest128 {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const Digest128&, const Digest128&) = default;
};

// Incremental 128-bit digest over a sequence of byte ranges (state digests).
class Digester {
 public:
  Digester() { XXH3_128bits_reset(&state_); }
  void Update(const void* data, size_t size) { XXH3_128bits_update(&state_, data, size); }
  template <typename T>
  void UpdateValue(const T& value) {
    Update(&value, sizeof(T));
  }
  Digest128 Finish() const {
    XXH128_hash_t h = XXH3_128bits_digest(&state_);
    return {h.low64, h.high64};
  }

 private:
  XXH3_state_t state_;
};

}  // namespace eleven
