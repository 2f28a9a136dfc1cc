// Reading and writing module states for snapshots (engine, ledger, fulfilment): chunks are
// byte ranges over the live tables; StateReader takes them back in the same order, every
// read bounds-checked. Private to src/engine.
#pragma once

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/fixed_map.h"
#include "base/key_filter.h"

namespace eleven::engine {

inline ByteSpan Bytes(const void* data, size_t size) {
  return ByteSpan(static_cast<const std::byte*>(data), size);
}

class StateReader {
 public:
  explicit StateReader(ByteSpan state) : state_(state) {}
  // Copies the next `size_bytes`; false (copying nothing) if fewer are left.
  bool Take(void* to, size_t size_bytes) {
    if (state_.size() - at_ < size_bytes) return false;
    if (size_bytes > 0) std::memcpy(to, state_.data() + at_, size_bytes);
    at_ += size_bytes;
    return true;
  }
  // The `count` live entries of a ring of `capacity` starting at `head`, as written by
  // chunks that wrap around the ring's end.
  template <typename T>
  bool TakeRing(T* ring, uint32_t capacity, uint32_t head, uint32_t count) {
    ELEVEN_ASSERT(head < capacity && count <= capacity);
    const uint32_t first = std::min(count, capacity - head);
    return Take(ring + head, sizeof(T) * first) && Take(ring, sizeof(T) * (count - first));
  }
  // A whole FixedMap's or FixedTable's slots, which must hold exactly `count` entries.
  template <typename Map>
  bool TakeMap(Map* map, uint32_t count) {
    const size_t size_bytes = map->slot_bytes();
    if (state_.size() - at_ < size_bytes) return false;
    if (!map->Restore(state_.data() + at_, size_bytes, count)) return false;
    at_ += size_bytes;
    return true;
  }
  // A KeyFilter's blocks (none when the filter is off).
  bool TakeFilter(KeyFilter* filter, uint64_t count) {
    const size_t size_bytes = filter->bytes();
    if (state_.size() - at_ < size_bytes) return false;
    if (!filter->Restore(state_.data() + at_, size_bytes, count)) return false;
    at_ += size_bytes;
    return true;
  }
  bool AtEnd() const { return at_ == state_.size(); }
  size_t position() const { return at_; }

 private:
  ByteSpan state_;
  size_t at_ = 0;  // Invariant: at_ <= state_.size().
};

}  // namespace eleven::engine
