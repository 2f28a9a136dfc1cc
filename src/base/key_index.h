// KeyIndex: a map from 64-bit keys to uint32 values (indexes into a table that holds each
// key itself), in 8-byte slots: half of FixedMap's 16, so the engine's largest index (one
// entry per order slot, read at random on every order) takes half the cache and TLB.
//
// A slot keeps 32 bits of the key's hash (its tag) and the value; the tag's low bits are the
// slot's home, so deletion can shift entries back without the keys. A tag match is confirmed
// by the caller's `key_of(value)`, the key the table holds at that index: the index never
// answers for a key it does not have, whatever the tags. Linear probing, load at most 1/2,
// backward-shift deletion, no tombstones; the bytes depend only on the operations (digests
// and snapshots rely on this), as FixedMap's.
//
// Not thread-safe; owned by one engine thread.
#pragma once

#include <cstdint>
#include <cstring>

#include "base/assert.h"
#include "base/big_array.h"
#include "base/fixed_map.h"
#include "base/hash.h"
#include "base/prefetch.h"

namespace eleven {

class KeyIndex {
 public:
  struct Slot {
    uint32_t tag;
    uint32_t value;  // kNoValue marks an empty slot (its tag is then 0)
  };

  explicit KeyIndex(uint32_t entry_count_max) : entry_count_max_(entry_count_max) {
    ELEVEN_ASSERT(entry_count_max > 0 && entry_count_max <= (1u << 30));
    uint64_t slot_count = 16;
    while (slot_count < uint64_t{entry_count_max} * 2) slot_count *= 2;
    mask_ = slot_count - 1;  // at most 2^31 - 1: a tag's low bits cover it
    slots_ = BigArray<Slot>(slot_count);
    Clear();
  }

  uint32_t count() const { return count_; }
  uint32_t count_max() const { return entry_count_max_; }
  bool full() const { return count_ == entry_count_max_; }
  uint64_t slot_count() const { return mask_ + 1; }

  void Clear() {
    for (uint64_t i = 0; i <= mask_; i++) slots_[i] = Slot{0, kNoValue};
    count_ = 0;
  }

  // The 32 bits of a key's hash the index keeps. The calls below that take a tag take it
  // from here, so that a caller touching one key several times hashes it once.
  static uint32_t Tag(uint64_t key) { return static_cast<uint32_t>(Fmix64(key) >> 32); }

  // The tag's home slot, and the slot after it, which is in the next cache line when the
  // home is a line's last (a probe at the load of 1/2 often reads one more slot).
  void PrefetchTag(uint32_t tag) const {
    eleven::Prefetch(&slots_[tag & mask_]);
    eleven::Prefetch(&slots_[(tag + 1) & mask_]);
  }

  // The value stored under `key`, or kNoValue. `key_of(value)` is the key at that index.
  template <typename KeyOf>
  uint32_t Find(uint64_t key, const KeyOf& key_of) const {
    return Find(key, Tag(key), key_of);
  }
  template <typename KeyOf>
  uint32_t Find(uint64_t key, uint32_t tag, const KeyOf& key_of) const {
    const Slot* slot = FindSlot(key, tag, key_of);
    return slot == nullptr ? kNoValue : slot->value;
  }

  // Keys wider than 64 bits (a pair, say) are indexed by a tag the caller computes and
  // confirmed by `matches(value)`, which compares the key the table holds at that index.
  template <typename Matches>
  uint32_t FindTagged(uint32_t tag, const Matches& matches) const {
    for (uint64_t i = tag & mask_;; i = (i + 1) & mask_) {  // ends at an empty slot (load <= 1/2)
      const Slot& slot = slots_[i];
      if (slot.value == kNoValue) return kNoValue;
      if (slot.tag == tag && matches(slot.value)) return slot.value;
    }
  }
  // The value of the first slot with this tag, unconfirmed (kNoValue: none): a hint for
  // prefetching the row that FindTagged will confirm, read without touching any row.
  uint32_t FirstTagged(uint32_t tag) const {
    for (uint64_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.value == kNoValue || slot.tag == tag) return slot.value;
    }
  }
  // Inserts under a tag; the caller has checked that FindTagged finds no equal key.
  bool InsertTagged(uint32_t tag, uint32_t value) {
    ELEVEN_DASSERT(value != kNoValue);
    if (full()) return false;
    uint64_t i = tag & mask_;
    while (slots_[i].value != kNoValue) i = (i + 1) & mask_;
    slots_[i] = Slot{tag, value};
    count_++;
    return true;
  }

  // Inserts a key that must not be present. Returns false, changing nothing, when full.
  bool Insert(uint64_t key, uint32_t value) { return Insert(key, Tag(key), value); }
  bool Insert([[maybe_unused]] uint64_t key, uint32_t tag, uint32_t value) {
    ELEVEN_DASSERT(tag == Tag(key));
    return InsertTagged(tag, value);
  }

  // Removes `key`; returns false if it was absent.
  template <typename KeyOf>
  bool Erase(uint64_t key, const KeyOf& key_of) {
    Slot* slot = const_cast<Slot*>(FindSlot(key, Tag(key), key_of));
    if (slot == nullptr) return false;
    // A slot's home is its tag's low bits: the entries shift back without their keys.
    ShiftBackInto(
        slots_.get(), mask_, static_cast<uint64_t>(slot - slots_.get()), [](const Slot& s) { return s.tag; },
        [](const Slot& s) { return s.value != kNoValue; }, Slot{0, kNoValue});
    ELEVEN_ASSERT(count_ > 0);
    count_--;
    return true;
  }

  // The slot array, for digests and snapshots.
  const Slot* slots() const { return slots_.get(); }
  size_t slot_bytes() const { return sizeof(Slot) * slot_count(); }

  // Replaces the whole index with slot bytes saved from one of the same capacity. Returns
  // false, leaving it empty, if the size is wrong, or the slots do not hold `count` entries,
  // or an empty slot has a tag.
  [[nodiscard]] bool Restore(const void* bytes, size_t size_bytes, uint32_t count) {
    Clear();
    if (size_bytes != slot_bytes() || count > entry_count_max_) return false;
    std::memcpy(static_cast<void*>(slots_.get()), bytes, size_bytes);
    uint64_t used = 0;
    bool clean = true;
    for (uint64_t i = 0; i <= mask_; i++) {
      used += slots_[i].value != kNoValue;
      clean &= slots_[i].value != kNoValue || slots_[i].tag == 0;
    }
    if (used != count || !clean) {
      Clear();
      return false;
    }
    count_ = count;
    return true;
  }

 private:
  template <typename KeyOf>
  const Slot* FindSlot(uint64_t key, uint32_t tag, const KeyOf& key_of) const {
    ELEVEN_DASSERT(tag == Tag(key));
    uint64_t i = tag & mask_;
    // Bounded: the load is at most 1/2, so an empty slot always ends the probe.
    for (;;) {
      const Slot& slot = slots_[i];
      if (slot.value == kNoValue) return nullptr;
      if (slot.tag == tag && key_of(slot.value) == key) return &slot;
      i = (i + 1) & mask_;
    }
  }

  uint32_t entry_count_max_;
  uint32_t count_ = 0;
  uint64_t mask_ = 0;
  BigArray<Slot> slots_;
};

}  // namespace eleven
