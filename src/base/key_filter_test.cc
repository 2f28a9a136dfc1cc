#include "base/key_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <unordered_set>
#include <vector>

#include "base/test_seed.h"

namespace eleven {
namespace {

std::vector<uint64_t> DistinctKeys(std::mt19937_64& rng, size_t n, const std::unordered_set<uint64_t>& avoid) {
  std::unordered_set<uint64_t> seen;
  std::vector<uint64_t> keys;
  while (keys.size() < n) {
    const uint64_t key = rng();
    if (key != 0 && !avoid.count(key) && seen.insert(key).second) keys.push_back(key);
  }
  return keys;
}

// Filled to its capacity: every key inserted is found, and keys never inserted are found at
// the blocked filter's false-positive rate (an unblocked one's at 8 bits a key is 2.2%).
TEST(KeyFilter, FindsEveryKeyAndFewOthersAtCapacity) {
  std::mt19937_64 rng(TestSeed("KeyFilter false positives"));
  constexpr size_t kCapacity = 1 << 20;
  KeyFilter filter(kCapacity);
  EXPECT_EQ(filter.bytes(), kCapacity * KeyFilter::kBitsPerKey / 8);
  const std::vector<uint64_t> keys = DistinctKeys(rng, kCapacity, {});
  for (const uint64_t key : keys) filter.Insert(key);
  EXPECT_EQ(filter.count(), kCapacity);
  size_t missed = 0;
  for (const uint64_t key : keys) missed += !filter.MayContain(key);
  EXPECT_EQ(missed, 0u);
  const std::vector<uint64_t> others = DistinctKeys(rng, kCapacity, {keys.begin(), keys.end()});
  size_t false_positives = 0;
  for (const uint64_t key : others) false_positives += filter.MayContain(key);
  const double rate = static_cast<double>(false_positives) / others.size();
  std::printf("false-positive rate at capacity: %.4f (%zu of %zu)\n", rate, false_positives, others.size());
  EXPECT_LT(rate, 0.035);
}

// Sequential keys (idempotency keys are often counters) spread as random ones do.
TEST(KeyFilter, SequentialKeysDoNotCrowdBlocks) {
  constexpr size_t kCapacity = 1 << 18;
  KeyFilter filter(kCapacity);
  for (uint64_t key = 1; key <= kCapacity; key++) filter.Insert(key);
  size_t false_positives = 0;
  for (uint64_t key = kCapacity + 1; key <= 2 * kCapacity; key++) false_positives += filter.MayContain(key);
  const double rate = static_cast<double>(false_positives) / kCapacity;
  std::printf("false-positive rate, sequential keys: %.4f\n", rate);
  EXPECT_LT(rate, 0.035);
}

// The bytes depend on the keys alone, not on their order; Restore takes them back.
TEST(KeyFilter, BytesDependOnTheKeysAloneAndRestore) {
  std::mt19937_64 rng(TestSeed("KeyFilter bytes"));
  std::vector<uint64_t> keys = DistinctKeys(rng, 5000, {});
  KeyFilter a(8192);
  KeyFilter b(8192);
  for (const uint64_t key : keys) a.Insert(key);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (const uint64_t key : keys) b.Insert(key);
  ASSERT_EQ(a.bytes(), b.bytes());
  EXPECT_EQ(std::memcmp(a.blocks(), b.blocks(), a.bytes()), 0);

  KeyFilter copy(8192);
  ASSERT_TRUE(copy.Restore(a.blocks(), a.bytes(), a.count()));
  EXPECT_EQ(copy.count(), a.count());
  for (const uint64_t key : keys) EXPECT_TRUE(copy.MayContain(key));
  EXPECT_FALSE(copy.Restore(a.blocks(), a.bytes() - 64, a.count()));  // wrong size: emptied
  EXPECT_EQ(copy.count(), 0u);
  size_t found = 0;
  for (const uint64_t key : keys) found += copy.MayContain(key);
  EXPECT_EQ(found, 0u);
}

TEST(KeyFilter, WithoutCapacityItIsOff) {
  const KeyFilter off;
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.bytes(), 0u);
  EXPECT_TRUE(KeyFilter(1).enabled());
  EXPECT_EQ(KeyFilter(1).bytes(), 64u);  // one block at least
}

}  // namespace
}  // namespace eleven
