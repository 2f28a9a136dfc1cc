#include "base/fixed_map.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <unordered_map>

namespace eleven {
namespace {

TEST(FixedMap, InsertFindErase) {
  FixedMap<uint64_t> map(4);
  EXPECT_EQ(map.Find(7), kNoValue);
  EXPECT_TRUE(map.Insert(7, 70));
  EXPECT_TRUE(map.Insert(0, 0));
  EXPECT_EQ(map.Find(7), 70u);
  EXPECT_EQ(map.Find(0), 0u);
  EXPECT_TRUE(map.Erase(7));
  EXPECT_FALSE(map.Erase(7));
  EXPECT_EQ(map.Find(7), kNoValue);
  EXPECT_EQ(map.count(), 1u);
}

TEST(FixedMap, FullMapRefusesInsertAndChangesNothing) {
  FixedMap<uint64_t> map(3);
  for (uint64_t k = 0; k < 3; k++) EXPECT_TRUE(map.Insert(k * 1000, uint32_t(k)));
  EXPECT_TRUE(map.full());
  EXPECT_FALSE(map.Insert(99, 9));
  EXPECT_EQ(map.Find(99), kNoValue);
  EXPECT_EQ(map.count(), 3u);
}

// Random operations against std::unordered_map, with keys crowded into few home slots so
// the backward-shift deletion is exercised across wrap-around clusters.
TEST(FixedMap, MatchesReferenceUnderRandomOperations) {
  uint64_t seed = std::random_device{}();
  std::printf("FixedMap random test seed=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  constexpr uint32_t kMax = 200;
  FixedMap<uint64_t> map(kMax);
  std::unordered_map<uint64_t, uint32_t> model;
  for (int step = 0; step < 200000; step++) {
    uint64_t key = rng() % 600;
    int action = static_cast<int>(rng() % 3);
    if (action == 0) {
      bool present = model.count(key) != 0;
      if (present) continue;
      bool inserted = map.Insert(key, uint32_t(step));
      ASSERT_EQ(inserted, model.size() < kMax) << "seed " << seed;
      if (inserted) model[key] = uint32_t(step);
    } else if (action == 1) {
      ASSERT_EQ(map.Erase(key), model.erase(key) == 1) << "seed " << seed;
    } else {
      auto it = model.find(key);
      ASSERT_EQ(map.Find(key), it == model.end() ? kNoValue : it->second) << "seed " << seed;
    }
    ASSERT_EQ(map.count(), model.size());
  }
}

}  // namespace
}  // namespace eleven
