// KeyFilter: a blocked Bloom filter of 64-bit keys, with a capacity fixed at construction
// (docs/archive.md, "Idempotency for the whole day"). It answers "certainly never inserted"
// or "maybe inserted"; it never forgets a key, so past its capacity only its false-positive
// rate grows.
//
// A key sets kProbes bits of one 64-byte block (one cache line): an insert or a query costs
// one line, which the caller can prefetch. kBitsPerKey bits of blocks per key of capacity,
// the block count a power of two. The bytes depend only on the keys inserted, in any order
// (bits are OR-ed), so two filters fed the same keys hold the same bytes (state digests and
// snapshots rely on this).
//
// Not thread-safe; owned by one engine thread.
#pragma once

#include <cstdint>
#include <cstring>

#include "base/assert.h"
#include "base/big_array.h"
#include "base/hash.h"
#include "base/prefetch.h"

namespace eleven {

class KeyFilter {
 public:
  static constexpr int kBitsPerKey = 8;
  static constexpr int kProbes = 6;
  struct alignas(64) Block {
    uint64_t words[8];
  };

  KeyFilter() = default;  // no capacity: enabled() is false, and nothing may be inserted
  explicit KeyFilter(uint64_t key_count_max) {
    ELEVEN_ASSERT(key_count_max > 0 && key_count_max <= (uint64_t{1} << 36));
    uint64_t blocks = 1;
    while (blocks * 512 < key_count_max * kBitsPerKey) blocks *= 2;
    mask_ = blocks - 1;
    blocks_ = BigArray<Block>(blocks);
  }

  bool enabled() const { return blocks_.get() != nullptr; }
  uint64_t count() const { return count_; }  // inserts made, repeats included
  uint64_t block_count() const { return enabled() ? mask_ + 1 : 0; }

  void Prefetch(uint64_t key) const { eleven::Prefetch(&blocks_[BlockOf(key)]); }
  void Insert(uint64_t key) {
    Block& block = blocks_[BlockOf(key)];
    uint64_t bits = ProbesOf(key);
    for (int p = 0; p < kProbes; p++, bits >>= 9) block.words[(bits >> 6) & 7] |= uint64_t{1} << (bits & 63);
    count_++;
  }
  bool MayContain(uint64_t key) const {
    const Block& block = blocks_[BlockOf(key)];
    uint64_t bits = ProbesOf(key);
    uint64_t all = 1;
    for (int p = 0; p < kProbes; p++, bits >>= 9) all &= block.words[(bits >> 6) & 7] >> (bits & 63);
    return (all & 1) != 0;
  }

  // The blocks, for digests and snapshots.
  const Block* blocks() const { return blocks_.get(); }
  size_t bytes() const { return sizeof(Block) * block_count(); }
  // Replaces the filter with bytes saved from one of the same capacity. False, leaving it
  // empty, if the size is wrong.
  [[nodiscard]] bool Restore(const void* bytes, size_t size_bytes, uint64_t count) {
    if (!enabled()) return size_bytes == 0 && count == 0;
    std::memset(static_cast<void*>(blocks_.get()), 0, this->bytes());
    count_ = 0;
    if (size_bytes != this->bytes()) return false;
    std::memcpy(static_cast<void*>(blocks_.get()), bytes, size_bytes);
    count_ = count;
    return true;
  }

 private:
  // The block by a mix of the key of its own (not the key index's tag, Fmix64 of the key, so
  // that keys sharing a tag do not share a block); the probes, 6 bit positions of 9 bits
  // each, by a second mix, independent of the block's bits.
  uint64_t BlockOf(uint64_t key) const { return Fmix64(key ^ 0x2545F4914F6CDD1DULL) & mask_; }
  static uint64_t ProbesOf(uint64_t key) { return Fmix64(key ^ 0x9E6C63D0676A9A99ULL); }

  uint64_t mask_ = 0;
  uint64_t count_ = 0;
  BigArray<Block> blocks_;
};

}  // namespace eleven
