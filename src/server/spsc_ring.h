// A bounded single-producer single-consumer ring of trivially copyable values. One thread
// pushes, one other thread pops; no lock, one cache line per index so the two threads do not
// share a line on the hot path. The capacity is fixed at construction (rounded up to a power
// of two) and the storage allocated then: pushing never allocates.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "base/assert.h"

namespace eleven::server {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit SpscRing(size_t capacity_min) {
    ELEVEN_ASSERT(capacity_min > 0 && capacity_min <= (size_t{1} << 30));
    capacity_ = 1;
    while (capacity_ < capacity_min) capacity_ *= 2;
    slots_ = std::make_unique<T[]>(capacity_);
  }

  size_t capacity() const { return capacity_; }

  // Producer only. False if full (the caller decides: back-pressure, never a wait here).
  bool Push(const T& value) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == capacity_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == capacity_) return false;
    }
    slots_[tail & (capacity_ - 1)] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False if empty.
  bool Pop(T* value) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    *value = slots_[head & (capacity_ - 1)];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Either side: an instantaneous (possibly stale) count, for metrics and sleep decisions.
  size_t SizeApprox() const {
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    const uint64_t head = head_.load(std::memory_order_acquire);
    return tail >= head ? static_cast<size_t>(tail - head) : 0;
  }

 private:
  static constexpr size_t kLine = 64;
  size_t capacity_ = 0;
  std::unique_ptr<T[]> slots_;
  alignas(kLine) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;  // consumer's copy of tail_
  alignas(kLine) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;  // producer's copy of head_
};

}  // namespace eleven::server
