#include "wire/packed.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/test_seed.h"
#include "wire/make.h"

namespace eleven::wire {
namespace {

std::vector<std::byte> Pack(const std::vector<Command>& commands) {
  std::vector<std::byte> out(commands.size() * kPackedCommandSizeMax);
  out.resize(PackCommands(commands, out.data()));
  return out;
}

bool SameBytes(const std::vector<Command>& a, const std::vector<Command>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * kCommandSize) == 0;
}

TEST(PackedCommands, OrdersShrinkToTheirNonzeroWords) {
  const std::vector<Command> one{MakePlaceOrder(77, 5, 9, 3, 1, {{501, 1}})};
  // Mask, then word 0 (operation, lines, tier, region), key, merchant, buyer, the SKU and
  // the first quantities: six words.
  EXPECT_EQ(Pack(one).size(), 2u + 6 * 8);
  const std::vector<Command> three{MakePlaceOrder(77, 5, 9, 3, 1, {{501, 1}, {502, 2}, {503, 1}})};
  EXPECT_EQ(Pack(three).size(), 2u + 8 * 8);
  std::vector<Command> back(1);
  ASSERT_TRUE(UnpackCommands(Pack(three), back));
  EXPECT_TRUE(SameBytes(back, three));
}

TEST(PackedCommands, RandomCommandsRoundTrip) {
  const uint64_t seed = TestSeed("PackedCommands.RandomCommandsRoundTrip");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; round++) {
    std::vector<Command> commands(1 + rng() % 40);
    for (Command& c : commands) {
      std::memset(c.bytes, 0, kCommandSize);
      // Any mix of zero and nonzero bytes, words and whole commands.
      const int density = static_cast<int>(rng() % 5);
      for (size_t b = 0; b < kCommandSize; b++) {
        if (density > 0 && int(rng() % 4) < density) c.bytes[b] = static_cast<uint8_t>(rng());
      }
    }
    const std::vector<std::byte> packed = Pack(commands);
    ASSERT_LE(packed.size(), commands.size() * kPackedCommandSizeMax);
    std::vector<Command> back(commands.size());
    ASSERT_TRUE(UnpackCommands(packed, back)) << "round " << round;
    ASSERT_TRUE(SameBytes(back, commands)) << "round " << round;
    // One command fewer or more than packed is refused, as is any shortened packing.
    std::vector<Command> fewer(commands.size() - 1), more(commands.size() + 1);
    EXPECT_FALSE(UnpackCommands(packed, fewer));
    EXPECT_FALSE(UnpackCommands(packed, more));
    const size_t cut = rng() % packed.size();
    EXPECT_FALSE(UnpackCommands(std::span(packed).first(cut), back)) << "cut at " << cut;
  }
}

TEST(PackedCommands, NonCanonicalPackingIsRefused) {
  // The mask claims word 1, whose bytes are zero: a packing PackCommands never makes.
  std::vector<std::byte> bytes(2 + 2 * 8, std::byte{0});
  const uint16_t mask = 0b11;
  std::memcpy(bytes.data(), &mask, sizeof(mask));
  bytes[2] = std::byte{7};  // word 0: operation 7
  std::vector<Command> out(1);
  EXPECT_FALSE(UnpackCommands(bytes, out));
  bytes[10] = std::byte{1};  // word 1 is now nonzero: a good packing
  ASSERT_TRUE(UnpackCommands(bytes, out));
  EXPECT_EQ(out[0].bytes[0], 7);
  EXPECT_EQ(out[0].bytes[8], 1);
}

TEST(PackedCommands, EmptyBatchIsEmpty) {
  std::vector<Command> none;
  EXPECT_EQ(Pack(none).size(), 0u);
  EXPECT_TRUE(UnpackCommands({}, std::span<Command>{}));
  const std::vector<std::byte> stray(1, std::byte{0});
  EXPECT_FALSE(UnpackCommands(stray, std::span<Command>{}));
}

}  // namespace
}  // namespace eleven::wire
