// LogHistogram: durations in microseconds, counted in log-spaced buckets (four per power of
// two, so a bucket is at most 25% wide), for percentiles of things that happen thousands of
// times a second, such as journal syncs. One thread records; any thread may read at any time
// (relaxed atomics, no lock): a reader sees each bucket as of some recent moment. Recording
// is a few instructions and allocates nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace eleven {

class LogHistogram {
 public:
  // Values 0..3 have a bucket each; above, four buckets per power of two up to 2^40 µs
  // (12.7 days), where values are clamped.
  static constexpr int kBucketCount = 156;  // BucketOf(2^40 - 1) + 1
  using Counts = std::array<uint64_t, kBucketCount>;

  static int BucketOf(uint64_t us) {
    if (us >= kClampUs) us = kClampUs - 1;
    if (us < 4) return static_cast<int>(us);
    const int exponent = 63 - __builtin_clzll(us);  // >= 2
    const int quarter = static_cast<int>((us >> (exponent - 2)) & 3);
    return 4 * (exponent - 1) + quarter;
  }
  // The largest value bucket `b` holds.
  static uint64_t UpperUs(int b) {
    if (b < 4) return static_cast<uint64_t>(b);
    const int exponent = b / 4 + 1;
    return ((uint64_t{5} + static_cast<uint64_t>(b % 4)) << (exponent - 2)) - 1;
  }

  // Recording thread only.
  void Record(uint64_t us) {
    std::atomic<uint64_t>& bucket = counts_[BucketOf(us)];
    bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_us_.store(sum_us_.load(std::memory_order_relaxed) + us, std::memory_order_relaxed);
  }
  // Any thread: the exact sum of everything recorded.
  uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

  // Any thread.
  Counts Read() const {
    Counts counts;
    for (int b = 0; b < kBucketCount; b++) counts[b] = counts_[b].load(std::memory_order_relaxed);
    return counts;
  }
  // What was recorded between two reads.
  static Counts Since(const Counts& now, const Counts& before) {
    Counts counts;
    for (int b = 0; b < kBucketCount; b++) counts[b] = now[b] - before[b];
    return counts;
  }
  static uint64_t Total(const Counts& counts) {
    uint64_t total = 0;
    for (uint64_t n : counts) total += n;
    return total;
  }
  // The upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty. The
  // true value is at most that and more than 80% of it (above 4 µs).
  static uint64_t QuantileUs(const Counts& counts, double q) {
    const uint64_t total = Total(counts);
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank < 1) rank = 1;
    if (rank > total) rank = total;
    uint64_t seen = 0;
    for (int b = 0; b < kBucketCount; b++) {
      seen += counts[b];
      if (seen >= rank) return UpperUs(b);
    }
    return UpperUs(kBucketCount - 1);
  }

 private:
  static constexpr uint64_t kClampUs = uint64_t{1} << 40;
  std::array<std::atomic<uint64_t>, kBucketCount> counts_{};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace eleven
