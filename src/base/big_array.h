// BigArray: a fixed-size array of trivial records for the engine's large tables, allocated
// once at start-up, zero-filled and faulted in then (so the request path never page-faults),
// and backed by 2 MiB transparent huge pages where the kernel allows it. The tables are
// read at random (idempotency keys, SKUs, holdings); with 4 KiB pages nearly every lookup
// also misses the TLB, and under virtualisation a TLB miss costs more than the cache miss.
//
// Owns its memory; not copyable; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "base/assert.h"

namespace eleven {

// Maps `size_bytes` of zeroed memory (huge pages advised, every page touched). Never null:
// running out of memory at start-up is fatal.
void* MapZeroed(size_t size_bytes);
void Unmap(void* data, size_t size_bytes);
// The bytes MapZeroed has mapped and faulted in so far, less those unmapped (any thread; a
// start-up reports its progress with it).
uint64_t MappedBytes();

template <typename T>
class BigArray {
 public:
  BigArray() = default;
  // T may be incomplete where a BigArray<T> member is declared; it is checked here.
  explicit BigArray(size_t count)
      : data_(static_cast<T*>(MapZeroed(count * sizeof(T)))), count_(count) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  }
  ~BigArray() { Unmap(data_, count_ * sizeof(T)); }
  BigArray(BigArray&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  BigArray& operator=(BigArray&& other) noexcept {
    if (this != &other) {
      Unmap(data_, count_ * sizeof(T));
      data_ = other.data_;
      count_ = other.count_;
      other.data_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  BigArray(const BigArray&) = delete;
  BigArray& operator=(const BigArray&) = delete;

  T& operator[](size_t index) {
    ELEVEN_DASSERT(index < count_);
    return data_[index];
  }
  const T& operator[](size_t index) const {
    ELEVEN_DASSERT(index < count_);
    return data_[index];
  }
  T* get() { return data_; }
  const T* get() const { return data_; }
  size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace eleven
