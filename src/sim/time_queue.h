// TimeQueue: a simulation's future events, taken in time order a tick at a time.
//
// The order is exactly a min-heap's on (at_us, sequence), but a heap of millions of pending
// events costs a cache miss per level on every push and pop. Here an event goes into a ring
// of buckets `width_us` wide that covers the next `bucket_count` widths (one append); one
// further out waits in a heap and moves into the ring when the ring reaches it; one for a
// time already taken goes into the bucket being taken (it is due at once, as in a heap).
// PopBefore gathers the buckets a tick covers and sorts just those.
//
// E has `uint64_t at_us`, `uint64_t sequence` (unique: ties of at_us break on it) and
// `bool operator>(const E&)` ordering by (at_us, sequence).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "base/assert.h"

namespace eleven::sim {

template <typename E>
class TimeQueue {
 public:
  TimeQueue(uint64_t width_us, size_t bucket_count) : width_us_(width_us), ring_(bucket_count) {
    ELEVEN_ASSERT(width_us > 0 && bucket_count > 0);
  }

  void Push(const E& e) {
    const uint64_t bucket = std::max(e.at_us / width_us_, base_);
    if (bucket < base_ + ring_.size()) {
      ring_[bucket % ring_.size()].push_back(e);
    } else {
      far_.push(e);
    }
    size_++;
  }

  // Appends every event with at_us < end_us to *out in (at_us, sequence) order and forgets
  // them. end_us must not go back from one call to the next.
  void PopBefore(uint64_t end_us, std::vector<E>* out) {
    ELEVEN_ASSERT(end_us >= last_end_us_);
    last_end_us_ = end_us;
    if (end_us == 0) return;
    const size_t first = out->size();
    // The bucket holding end_us - 1, or the one being taken if that is later: events pushed
    // for a time already taken wait there, and may be due before end_us.
    const uint64_t last = std::max((end_us - 1) / width_us_, base_);
    for (uint64_t b = base_; b <= last; b++) {
      base_ = b;
      Refill();
      std::vector<E>& bucket = ring_[b % ring_.size()];
      if (b < last) {
        out->insert(out->end(), bucket.begin(), bucket.end());
        bucket.clear();
        continue;
      }
      // The last bucket may hold events at end_us or later: they stay.
      auto keep = std::partition(bucket.begin(), bucket.end(), [&](const E& e) { return e.at_us < end_us; });
      out->insert(out->end(), bucket.begin(), keep);
      bucket.erase(bucket.begin(), keep);
    }
    base_ = std::max(base_, end_us / width_us_);
    Refill();
    std::sort(out->begin() + long(first), out->end(), [](const E& a, const E& b) { return b > a; });
    size_ -= out->size() - first;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  // Moves the far events the ring now covers into it.
  void Refill() {
    while (!far_.empty() && far_.top().at_us / width_us_ < base_ + ring_.size()) {
      const E& e = far_.top();
      ring_[std::max(e.at_us / width_us_, base_) % ring_.size()].push_back(e);
      far_.pop();
    }
  }

  const uint64_t width_us_;
  std::vector<std::vector<E>> ring_;
  std::priority_queue<E, std::vector<E>, std::greater<E>> far_;
  uint64_t base_ = 0;  // the first bucket not yet wholly taken
  uint64_t last_end_us_ = 0;
  size_t size_ = 0;
};

}  // namespace eleven::sim
