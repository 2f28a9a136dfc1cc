#include "base/key_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

#include "base/test_seed.h"

namespace eleven {
namespace {

// Two different keys whose hashes share the upper 32 bits: the same tag, the same home.
std::pair<uint64_t, uint64_t> TwoKeysWithOneTag() {
  std::unordered_map<uint32_t, uint64_t> seen;
  for (uint64_t key = 1;; key++) {
    const uint32_t tag = static_cast<uint32_t>(Fmix64(key) >> 32);
    const auto [it, fresh] = seen.emplace(tag, key);
    if (!fresh) return {it->second, key};
  }
}

TEST(KeyIndex, ATagMatchIsConfirmedAgainstTheTable) {
  const auto [a, b] = TwoKeysWithOneTag();
  std::vector<uint64_t> table = {a, b};  // value i holds key table[i]
  const auto key_of = [&](uint32_t value) { return table[value]; };
  KeyIndex index(8);
  ASSERT_TRUE(index.Insert(a, 0));
  EXPECT_EQ(index.Find(a, key_of), 0u);
  EXPECT_EQ(index.Find(b, key_of), kNoValue);  // same tag, another key: not found
  ASSERT_TRUE(index.Insert(b, 1));
  EXPECT_EQ(index.Find(a, key_of), 0u);
  EXPECT_EQ(index.Find(b, key_of), 1u);
  EXPECT_TRUE(index.Erase(a, key_of));
  EXPECT_EQ(index.Find(a, key_of), kNoValue);
  EXPECT_EQ(index.Find(b, key_of), 1u);  // shifted back into the hole, still found
  EXPECT_FALSE(index.Erase(a, key_of));
}

// Pair keys under one tag: FirstTagged is only a hint, FindTagged confirms by the table.
TEST(KeyIndex, TaggedKeysAreConfirmedByTheCallersMatch) {
  struct Pair {
    uint64_t a;
    uint32_t b;
  };
  const std::vector<Pair> table = {{7, 1}, {7, 2}, {9, 1}};  // all three under one tag
  const uint32_t tag = 0x1234'0005;
  const auto matching = [&](Pair key) {
    return [&table, key](uint32_t value) { return table[value].a == key.a && table[value].b == key.b; };
  };
  KeyIndex index(8);
  EXPECT_EQ(index.FirstTagged(tag), kNoValue);
  EXPECT_EQ(index.FindTagged(tag, matching({7, 1})), kNoValue);
  for (uint32_t v = 0; v < table.size(); v++) ASSERT_TRUE(index.InsertTagged(tag, v));
  EXPECT_EQ(index.FirstTagged(tag), 0u);  // the first under the tag, whichever key it holds
  EXPECT_EQ(index.FindTagged(tag, matching({7, 1})), 0u);
  EXPECT_EQ(index.FindTagged(tag, matching({7, 2})), 1u);
  EXPECT_EQ(index.FindTagged(tag, matching({9, 1})), 2u);
  EXPECT_EQ(index.FindTagged(tag, matching({9, 2})), kNoValue);
  EXPECT_EQ(index.FindTagged(tag + 1, matching({7, 1})), kNoValue);  // the next home: no tag there
  EXPECT_EQ(index.FirstTagged(tag + 1), kNoValue);
  EXPECT_EQ(index.count(), 3u);
}

TEST(KeyIndex, FullIndexRefusesAndRestoreChecksItsSlots) {
  std::vector<uint64_t> table = {11, 12, 13};
  const auto key_of = [&](uint32_t value) { return table[value]; };
  KeyIndex index(2);
  ASSERT_TRUE(index.Insert(11, 0));
  ASSERT_TRUE(index.Insert(12, 1));
  EXPECT_FALSE(index.Insert(13, 2));
  EXPECT_EQ(index.count(), 2u);
  EXPECT_EQ(index.Find(13, key_of), kNoValue);

  std::vector<std::byte> bytes(index.slot_bytes());
  std::memcpy(bytes.data(), index.slots(), bytes.size());
  KeyIndex copy(2);
  ASSERT_TRUE(copy.Restore(bytes.data(), bytes.size(), 2));
  EXPECT_EQ(copy.Find(12, key_of), 1u);
  EXPECT_FALSE(copy.Restore(bytes.data(), bytes.size(), 1));      // wrong count
  EXPECT_FALSE(copy.Restore(bytes.data(), bytes.size() - 8, 2));  // wrong size
  // An empty slot with a tag is damage, not an entry.
  for (size_t i = 0; i < index.slot_count(); i++) {
    KeyIndex::Slot slot;
    std::memcpy(&slot, bytes.data() + i * sizeof(slot), sizeof(slot));
    if (slot.value != kNoValue) continue;
    slot.tag = 1;
    std::memcpy(bytes.data() + i * sizeof(slot), &slot, sizeof(slot));
    break;
  }
  EXPECT_FALSE(copy.Restore(bytes.data(), bytes.size(), 2));
  EXPECT_EQ(copy.count(), 0u);
}

// Random inserts, finds and erases against std::unordered_map, in a small index so clusters
// run long and wrap around the end of the array; the table reuses values as the engine's
// order ring does.
TEST(KeyIndex, MatchesReferenceUnderRandomOperations) {
  const uint64_t seed = TestSeed("KeyIndex random test");
  std::mt19937_64 rng(seed);
  constexpr uint32_t kMax = 500;
  std::vector<uint64_t> table(kMax, 0);  // value -> key (0: free)
  const auto key_of = [&](uint32_t value) { return table[value]; };
  KeyIndex index(kMax);
  std::unordered_map<uint64_t, uint32_t> reference;
  for (int step = 0; step < 200000; step++) {
    const uint64_t key = 1 + rng() % 3000;
    const auto it = reference.find(key);
    ASSERT_EQ(index.Find(key, key_of), it == reference.end() ? kNoValue : it->second) << "step " << step;
    if (it == reference.end()) {
      const uint32_t value = static_cast<uint32_t>(rng() % kMax);
      if (table[value] != 0) {  // the slot is taken: its old key goes first, as in the ring
        ASSERT_TRUE(index.Erase(table[value], key_of)) << "step " << step;
        reference.erase(table[value]);
      }
      table[value] = key;
      ASSERT_TRUE(index.Insert(key, value));
      reference[key] = value;
    } else if (rng() % 3 == 0) {
      ASSERT_TRUE(index.Erase(key, key_of)) << "step " << step;
      table[it->second] = 0;
      reference.erase(it);
    }
    ASSERT_EQ(index.count(), reference.size());
  }
  for (const auto& [key, value] : reference) ASSERT_EQ(index.Find(key, key_of), value);
}

}  // namespace
}  // namespace eleven
