// FixedMap: an open-addressing hash map from a small key to a uint32 value (usually an index
// into a table), with a capacity fixed at construction. It never allocates after that; an
// insert into a full map fails and the caller turns that into a result code.
//
// Linear probing over a power-of-two slot array sized to keep the load at or under 1/2;
// deletion shifts later entries back (no tombstones), so probe lengths stay short over a
// long run of inserts and erases. The layout depends only on the sequence of operations,
// so two maps fed the same operations hold the same bytes (state digests rely on this).
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

inline constexpr uint32_t kNoValue = 0xFFFFFFFFu;

// Backward-shift deletion for linear probing over `mask + 1` slots: moves each later entry of
// the cluster into the hole if its home slot does not lie cyclically in (hole, i], then
// writes `blank` into the last hole. `home_of(slot)` and `used(slot)` read a slot.
template <typename Slot, typename HomeOf, typename Used>
void ShiftBackInto(Slot* slots, uint64_t mask, uint64_t hole, const HomeOf& home_of, const Used& used,
                   const Slot& blank) {
  uint64_t i = hole;
  for (;;) {
    i = (i + 1) & mask;
    if (!used(slots[i])) break;
    const uint64_t home = home_of(slots[i]) & mask;
    if (((i - home) & mask) < ((i - hole) & mask)) continue;
    slots[hole] = slots[i];
    hole = i;
  }
  slots[hole] = blank;
}

struct U64Hash {
  uint64_t operator()(uint64_t key) const { return Fmix64(key); }
};

template <typename Key, typename Hash = U64Hash>
class FixedMap {
 public:
  struct Slot {
    Key key;
    uint32_t value;  // kNoValue marks an empty slot.
    uint32_t reserved;  // always zero: slots have no padding, so their bytes can be digested
  };

  explicit FixedMap(uint32_t entry_count_max) : entry_count_max_(entry_count_max) {
    ELEVEN_ASSERT(entry_count_max > 0 && entry_count_max <= (1u << 30));
    uint64_t slot_count = 16;
    while (slot_count < uint64_t{entry_count_max} * 2) slot_count *= 2;
    mask_ = slot_count - 1;
    slots_ = BigArray<Slot>(slot_count);
    Clear();
  }

  uint32_t count() const { return count_; }
  uint32_t count_max() const { return entry_count_max_; }
  bool full() const { return count_ == entry_count_max_; }
  uint64_t slot_count() const { return mask_ + 1; }

  void Clear() {
    std::memset(static_cast<void*>(slots_.get()), 0, sizeof(Slot) * slot_count());  // also keys
    for (uint64_t i = 0; i <= mask_; i++) slots_[i].value = kNoValue;
    count_ = 0;
  }

  // The lines of the key's home slot and of the slot after it: at a load of 1/2 a probe often
  // goes on, and a slot may straddle two lines.
  void Prefetch(const Key& key) const {
    const uint64_t home = Hash{}(key) & mask_;
    eleven::Prefetch(&slots_[home]);
    eleven::Prefetch(reinterpret_cast<const char*>(&slots_[(home + 1) & mask_]) + sizeof(Slot) - 1);
  }

  // The value stored under `key`, or kNoValue.
  uint32_t Find(const Key& key) const {
    const Slot* slot = FindSlot(key);
    return slot == nullptr ? kNoValue : slot->value;
  }

  // A pointer to the value under `key` (valid until the next insert or erase), or nullptr.
  uint32_t* FindValue(const Key& key) {
    Slot* slot = const_cast<Slot*>(FindSlot(key));
    return slot == nullptr ? nullptr : &slot->value;
  }

  // Inserts a key that must not be present. Returns false, changing nothing, when full.
  bool Insert(const Key& key, uint32_t value) {
    ELEVEN_DASSERT(value != kNoValue);
    ELEVEN_DASSERT(FindSlot(key) == nullptr);
    if (full()) return false;
    uint64_t i = Hash{}(key) & mask_;
    while (slots_[i].value != kNoValue) i = (i + 1) & mask_;
    slots_[i].key = key;
    slots_[i].value = value;
    count_++;
    return true;
  }

  // Removes `key`; returns false if it was absent.
  bool Erase(const Key& key) {
    Slot* slot = const_cast<Slot*>(FindSlot(key));
    if (slot == nullptr) return false;
    Slot blank;
    std::memset(static_cast<void*>(&blank), 0, sizeof(Slot));  // keys' padding too
    blank.value = kNoValue;
    ShiftBackInto(
        slots_.get(), mask_, static_cast<uint64_t>(slot - slots_.get()),
        [](const Slot& s) { return Hash{}(s.key); }, [](const Slot& s) { return s.value != kNoValue; }, blank);
    ELEVEN_ASSERT(count_ > 0);
    count_--;
    return true;
  }

  // The slot array, for digests and snapshots: its bytes are a function of the operations.
  const Slot* slots() const { return slots_.get(); }
  size_t slot_bytes() const { return sizeof(Slot) * slot_count(); }

  // Replaces the whole map with slot bytes saved from a map of the same capacity. Returns
  // false, leaving the map empty, if the size is wrong or the slots do not hold `count`
  // entries.
  [[nodiscard]] bool Restore(const void* bytes, size_t size_bytes, uint32_t count) {
    Clear();
    if (size_bytes != slot_bytes() || count > entry_count_max_) return false;
    std::memcpy(static_cast<void*>(slots_.get()), bytes, size_bytes);
    uint64_t used = 0;
    for (uint64_t i = 0; i <= mask_; i++) used += slots_[i].value != kNoValue;
    if (used != count) {
      Clear();
      return false;
    }
    count_ = count;
    return true;
  }

 private:
  const Slot* FindSlot(const Key& key) const {
    uint64_t i = Hash{}(key) & mask_;
    // Bounded: the load is at most 1/2, so an empty slot always ends the probe.
    for (;;) {
      const Slot& slot = slots_[i];
      if (slot.value == kNoValue) return nullptr;
      if (slot.key == key) return &slot;
      i = (i + 1) & mask_;
    }
  }

  uint32_t entry_count_max_;
  uint32_t count_ = 0;
  uint64_t mask_ = 0;
  BigArray<Slot> slots_;
};

}  // namespace eleven
