#include "base/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "base/test_seed.h"

namespace eleven {
namespace {

// Every value lies in exactly one bucket, buckets run in value order, and above 4 µs a
// bucket's values are within 25% of each other.
TEST(LogHistogram, BucketsCoverEveryValueInOrder) {
  int previous = 0;
  for (uint64_t us = 0; us < 300'000; us++) {
    const int b = LogHistogram::BucketOf(us);
    ASSERT_GE(b, previous) << us;
    ASSERT_LE(b, previous + 1) << us;  // no bucket skipped
    ASSERT_GE(LogHistogram::UpperUs(b), us) << us;
    if (b > 0) {
      ASSERT_LT(LogHistogram::UpperUs(b - 1), us) << us;
    }
    previous = b;
  }
  for (int b = 5; b < LogHistogram::kBucketCount; b++) {
    const double low = double(LogHistogram::UpperUs(b - 1) + 1);
    ASSERT_LE(double(LogHistogram::UpperUs(b)), low * 1.25) << b;
  }
  EXPECT_EQ(LogHistogram::BucketOf(uint64_t{1} << 40), LogHistogram::kBucketCount - 1);  // clamped
  EXPECT_EQ(LogHistogram::BucketOf(UINT64_MAX), LogHistogram::kBucketCount - 1);
}

// Quantiles from the buckets bracket the exact ones of a random sample: at least the exact
// value, at most 25% above it.
TEST(LogHistogram, QuantilesBracketTheExactOnes) {
  const uint64_t seed = TestSeed("LogHistogram.QuantilesBracketTheExactOnes");
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(6.5, 1.0);  // ~650 µs, a long right tail
  LogHistogram histogram;
  const LogHistogram::Counts before = histogram.Read();
  std::vector<uint64_t> values;
  for (int i = 0; i < 100'000; i++) {
    values.push_back(static_cast<uint64_t>(latency(rng)));
    histogram.Record(values.back());
  }
  const LogHistogram::Counts counts = LogHistogram::Since(histogram.Read(), before);
  ASSERT_EQ(LogHistogram::Total(counts), values.size());
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  EXPECT_EQ(histogram.sum_us(), sum);
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    const uint64_t exact = values[static_cast<size_t>(q * double(values.size())) - 1];
    const uint64_t got = LogHistogram::QuantileUs(counts, q);
    EXPECT_GE(got, exact) << "q " << q << " seed " << seed;
    EXPECT_LE(double(got), double(exact) * 1.25 + 1) << "q " << q << " seed " << seed;
  }
  EXPECT_EQ(LogHistogram::QuantileUs(LogHistogram::Counts{}, 0.99), 0u);
}

}  // namespace
}  // namespace eleven
