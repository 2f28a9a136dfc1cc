// FixedTable: rows kept in their own hash slots, for a table looked up by a 64-bit id on the
// hot path. A FixedMap in front of a dense array costs two cache misses per lookup (the
// slot, then the row); here the row is the slot, so a lookup usually costs one.
//
// Open addressing with linear probing over a power-of-two row array sized to keep the load
// at or under 1/2. An id's home slot is the top bits of id × 2^64/φ (multiplicative, or
// Fibonacci, hashing): ids handed out in sequence, as SKU ids usually are, land almost evenly
// spaced, so a lookup seldom reads a second slot (a slot is a cache line) and its probe's
// length seldom mispredicts; ids in no order land as under any other hash. On W1 it gained
// 13% over the splitmix finaliser at a load of 1/4 (docs/benchmarks.md, "Engine alone").
// Row must be trivially copyable, start with `uint64_t id` (0 marks an empty slot; id 0 is
// never stored) and hold no padding. Rows are never erased, so a row's index
// is fixed from its insert on and can be stored elsewhere (orders, drops, holdings refer to
// SKUs by index). The layout depends only on the sequence of inserts, so two tables fed the
// same inserts hold the same bytes (state digests rely on this). Capacity is fixed at
// construction; an insert into a full table fails and the caller makes that a result code.
//
// Not thread-safe; owned by one engine thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "base/assert.h"
#include "base/big_array.h"
#include "base/fixed_map.h"
#include "base/prefetch.h"

namespace eleven {

template <typename Row>
class FixedTable {
 public:
  explicit FixedTable(uint32_t row_count_max) : row_count_max_(row_count_max) {
    // Here, not at class scope: Row may still be incomplete where the table is declared.
    static_assert(std::is_trivially_copyable_v<Row>);
    static_assert(std::has_unique_object_representations_v<Row>);
    ELEVEN_ASSERT(row_count_max > 0 && row_count_max <= (1u << 30));
    int bits = 4;
    while ((uint64_t{1} << bits) < uint64_t{row_count_max} * 2) bits++;
    const uint64_t slot_count = uint64_t{1} << bits;
    mask_ = slot_count - 1;
    shift_ = 64 - bits;
    rows_ = BigArray<Row>(slot_count);  // zeroed: every slot empty
  }

  uint32_t count() const { return count_; }
  uint32_t count_max() const { return row_count_max_; }
  bool full() const { return count_ == row_count_max_; }
  uint64_t slot_count() const { return mask_ + 1; }

  // Where a lookup of `id` starts: hashed once, a batch loop can prefetch the slot and later
  // probe from it (FindFrom) without hashing again.
  uint64_t Home(uint64_t id) const { return (id * kGoldenRatio64) >> shift_; }
  void PrefetchHome(uint64_t home) const { eleven::Prefetch(&rows_[home & mask_]); }

  // The index of the row with `id`, or kNoValue.
  uint32_t Find(uint64_t id) const { return FindFrom(Home(id), id); }

  // The same, probing from `home`, which must be Home(id).
  uint32_t FindFrom(uint64_t home, uint64_t id) const {
    ELEVEN_DASSERT(home == Home(id));
    uint64_t i = home & mask_;
    // Bounded: the load is at most 1/2, so an empty slot always ends the probe.
    for (;;) {
      const uint64_t at = rows_[i].id;
      if (at == 0) return kNoValue;  // first: id 0 is never found
      if (at == id) return static_cast<uint32_t>(i);
      i = (i + 1) & mask_;
    }
  }

  // Places a zeroed row with `id`, which must not be present, and returns its index; or
  // kNoValue, changing nothing, when the table is full.
  uint32_t Insert(uint64_t id) {
    ELEVEN_ASSERT(id != 0);
    ELEVEN_DASSERT(Find(id) == kNoValue);
    if (full()) return kNoValue;
    uint64_t i = Home(id);
    while (rows_[i].id != 0) i = (i + 1) & mask_;
    rows_[i] = Row{};
    rows_[i].id = id;
    count_++;
    return static_cast<uint32_t>(i);
  }

  // By index (from Find or Insert); the row's id must not be changed.
  Row& operator[](uint32_t index) { return rows_[index]; }
  const Row& operator[](uint32_t index) const { return rows_[index]; }
  bool used(uint64_t index) const { return index <= mask_ && rows_[index].id != 0; }

  // The whole slot array, for digests and snapshots: its bytes are a function of the inserts.
  const Row* rows() const { return rows_.get(); }
  size_t slot_bytes() const { return sizeof(Row) * slot_count(); }

  // Replaces the table with slot bytes saved from a table of the same capacity. Returns false,
  // leaving the table empty, if the size is wrong, the slots do not hold `count` rows, or a
  // row does not sit where a lookup of its id would find it.
  [[nodiscard]] bool Restore(const void* bytes, size_t size_bytes, uint32_t count) {
    Clear();
    if (size_bytes != slot_bytes() || count > row_count_max_) return false;
    std::memcpy(static_cast<void*>(rows_.get()), bytes, size_bytes);
    uint32_t used_count = 0;
    for (uint64_t i = 0; i <= mask_; i++) {
      if (rows_[i].id == 0) continue;
      used_count++;
      if (used_count > count || Find(rows_[i].id) != i) {
        Clear();
        return false;
      }
    }
    if (used_count != count) {
      Clear();
      return false;
    }
    count_ = count;
    return true;
  }

 private:
  void Clear() {
    std::memset(static_cast<void*>(rows_.get()), 0, slot_bytes());
    count_ = 0;
  }

  uint32_t row_count_max_;
  uint32_t count_ = 0;
  static constexpr uint64_t kGoldenRatio64 = 0x9E3779B97F4A7C15ull;  // 2^64 / φ, odd
  uint64_t mask_ = 0;
  int shift_ = 64;  // 64 - log2(slot count)
  BigArray<Row> rows_;
};

}  // namespace eleven
