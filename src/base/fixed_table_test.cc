#include "base/fixed_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

namespace eleven {
namespace {

struct Row {
  uint64_t id;
  uint64_t value;
};

TEST(FixedTable, InsertFindAndStableIndexes) {
  FixedTable<Row> table(4);
  EXPECT_EQ(table.Find(7), kNoValue);
  EXPECT_EQ(table.Find(0), kNoValue);  // never stored, never found, even in an empty slot
  const uint32_t seven = table.Insert(7);
  ASSERT_NE(seven, kNoValue);
  table[seven].value = 70;
  const uint32_t eight = table.Insert(8);
  ASSERT_NE(eight, kNoValue);
  EXPECT_EQ(table.Find(7), seven);
  EXPECT_EQ(table[table.Find(7)].value, 70u);
  EXPECT_EQ(table[eight].value, 0u);  // a new row starts zeroed
  EXPECT_TRUE(table.used(seven));
  EXPECT_EQ(table.count(), 2u);
}

TEST(FixedTable, FullTableRefusesInsertAndChangesNothing) {
  FixedTable<Row> table(3);
  for (uint64_t id = 1; id <= 3; id++) EXPECT_NE(table.Insert(id * 1000), kNoValue);
  EXPECT_TRUE(table.full());
  std::vector<Row> before(table.rows(), table.rows() + table.slot_count());
  EXPECT_EQ(table.Insert(99), kNoValue);
  EXPECT_EQ(table.Find(99), kNoValue);
  EXPECT_EQ(table.count(), 3u);
  EXPECT_EQ(0, std::memcmp(before.data(), table.rows(), table.slot_bytes()));
}

TEST(FixedTable, RestoreChecksCountSizeAndPlacement) {
  FixedTable<Row> table(8);
  for (uint64_t id = 1; id <= 5; id++) table[table.Insert(id)].value = id * 10;
  std::vector<Row> bytes(table.rows(), table.rows() + table.slot_count());

  FixedTable<Row> copy(8);
  ASSERT_TRUE(copy.Restore(bytes.data(), table.slot_bytes(), 5));
  for (uint64_t id = 1; id <= 5; id++) EXPECT_EQ(copy[copy.Find(id)].value, id * 10);
  EXPECT_FALSE(copy.Restore(bytes.data(), table.slot_bytes(), 4));  // wrong count
  EXPECT_EQ(copy.count(), 0u);
  EXPECT_FALSE(copy.Restore(bytes.data(), table.slot_bytes() - 1, 5));  // wrong size

  // A row moved to an empty slot is refused: the slot it left now ends its id's probe.
  const uint32_t at = table.Find(3);
  const uint32_t empty = [&] {
    for (uint32_t i = 0; i < table.slot_count(); i++) {
      if (bytes[i].id == 0) return i;
    }
    return kNoValue;
  }();
  ASSERT_NE(empty, kNoValue);
  std::vector<Row> moved = bytes;
  std::swap(moved[at], moved[empty]);
  EXPECT_FALSE(copy.Restore(moved.data(), table.slot_bytes(), 5));

  // So is a duplicated id.
  std::vector<Row> duplicated = bytes;
  for (uint32_t i = 0; i < table.slot_count(); i++) {
    if (duplicated[i].id == 0) {
      duplicated[i] = duplicated[at];
      break;
    }
  }
  EXPECT_FALSE(copy.Restore(duplicated.data(), table.slot_bytes(), 6));
}

// Ids that share the last slot as their home: each probes past the ones before it, and the
// chain wraps around to the array's start.
TEST(FixedTable, CollidingIdsProbeOnAndWrapAround) {
  FixedTable<Row> table(8);
  const uint64_t last = table.slot_count() - 1;
  std::vector<uint64_t> ids;
  for (uint64_t id = 1; ids.size() < 4; id++) {
    if (table.Home(id) == last) ids.push_back(id);
  }
  std::vector<uint32_t> at;
  for (uint64_t id : ids) at.push_back(table.Insert(id));
  EXPECT_EQ(at, (std::vector<uint32_t>{uint32_t(last), 0, 1, 2}));
  for (size_t k = 0; k < ids.size(); k++) EXPECT_EQ(table.Find(ids[k]), at[k]) << ids[k];
  EXPECT_EQ(table.Find(ids.back() + 1), kNoValue);
}

// Random inserts and lookups against std::unordered_map, ids crowded into a small range.
TEST(FixedTable, MatchesReferenceUnderRandomOperations) {
  uint64_t seed = std::random_device{}();
  std::printf("FixedTable random test seed=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  constexpr uint32_t kMax = 500;
  FixedTable<Row> table(kMax);
  std::unordered_map<uint64_t, uint32_t> reference;  // id -> index
  for (int step = 0; step < 20000; step++) {
    const uint64_t id = rng() % 2000;
    if (rng() % 2 == 0) {
      const uint32_t found = table.Find(id);
      const auto it = reference.find(id);
      ASSERT_EQ(found, it == reference.end() ? kNoValue : it->second) << "id " << id;
    } else if (id != 0 && reference.count(id) == 0) {
      const uint32_t index = table.Insert(id);
      if (reference.size() == kMax) {
        ASSERT_EQ(index, kNoValue);
      } else {
        ASSERT_NE(index, kNoValue);
        reference[id] = index;
      }
    }
  }
  ASSERT_EQ(table.count(), reference.size());
  for (const auto& [id, index] : reference) {
    ASSERT_EQ(table.Find(id), index);
    ASSERT_EQ(table[index].id, id);  // indexes never move
  }
}

}  // namespace
}  // namespace eleven
