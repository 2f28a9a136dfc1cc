// Log entries as stream messages (docs/cluster.md, "Entries"): both body formats come back as
// the commands that went in; a damaged message of either is refused, naming its sequence.
#include "cluster/entry.h"

#include <gtest/gtest.h>

#include <cstring>

#include "wire/make.h"
#include "wire/packed.h"

namespace eleven::cluster {
namespace {

std::vector<wire::Command> Orders(int count) {
  std::vector<wire::Command> commands;
  for (int i = 0; i < count; i++) {
    commands.push_back(wire::MakePlaceOrder(1000 + i, 1 + i % 7, 50000 + i, uint16_t(i % 31),
                                            uint8_t(1 + i % 5), {{10 + uint64_t(i % 3), 1}}));
  }
  return commands;
}

class EntryTest : public ::testing::TestWithParam<bool> {
 protected:
  // The message of op 42 holding `commands`, compressed or not.
  std::vector<std::byte> Encode(const std::vector<wire::Command>& commands) {
    packed_.resize(commands.size() * wire::kPackedCommandSizeMax);
    packed_.resize(wire::PackCommands(commands, packed_.data()));
    std::vector<std::byte> message;
    EncodeEntry({.op = 42,
                 .timestamp_us = 7,
                 .command_count = uint32_t(commands.size()),
                 .packed = packed_},
                &message, GetParam() ? &compressor_ : nullptr);
    return message;
  }
  std::vector<std::byte> packed_;
  EntryCompressor compressor_;
};

TEST_P(EntryTest, CommandsComeBackAsTheyWent) {
  const std::vector<wire::Command> commands = Orders(1000);
  const std::vector<std::byte> message = Encode(commands);
  EntryHead head{};
  std::vector<wire::Command> got;
  const Status s = DecodeEntry(message, 42, 8190, &head, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(head.body_format, GetParam() ? kEntryBodyPackedZstd : kEntryBodyPacked);
  EXPECT_EQ(head.op, 42u);
  EXPECT_EQ(head.timestamp_us, 7u);
  ASSERT_EQ(got.size(), commands.size());
  EXPECT_EQ(std::memcmp(got.data(), commands.data(), commands.size() * sizeof(wire::Command)), 0);
  if (GetParam()) {
    EXPECT_LT(message.size() - kEntryHeadSize, packed_.size() / 2) << "W1-like orders compress";
  }
  // An empty entry too.
  ASSERT_TRUE(DecodeEntry(Encode({}), 42, 8190, &head, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_P(EntryTest, ADamagedMessageIsRefusedNamingItsSequence) {
  const std::vector<std::byte> message = Encode(Orders(100));
  EntryHead head{};
  std::vector<wire::Command> got;
  std::vector<std::byte> flipped = message;
  flipped[kEntryHeadSize + 5] ^= std::byte{0x10};
  Status s = DecodeEntry(flipped, 42, 8190, &head, &got);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("stream message 42 fails its checksum"), std::string::npos)
      << s.ToString();
  s = DecodeEntry(message, 43, 8190, &head, &got);
  EXPECT_NE(s.message().find("holds op 42"), std::string::npos) << s.ToString();
  s = DecodeEntry(message, 42, 99, &head, &got);
  EXPECT_NE(s.message().find("more than the batch limit 99"), std::string::npos) << s.ToString();
  s = DecodeEntry(std::span(message).first(kEntryHeadSize - 1), 42, 8190, &head, &got);
  EXPECT_NE(s.message().find("shorter than an entry head"), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Bodies, EntryTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Zstd" : "Packed"; });

// A compressed body that passes its checksum but says it holds more than its commands could
// pack into is refused before anything is decompressed.
TEST(EntryZstd, ABodyClaimingMoreThanItsCommandsCanHoldIsRefused) {
  std::vector<std::byte> big(100 * wire::kPackedCommandSizeMax, std::byte{1});
  EntryCompressor compressor;
  std::vector<std::byte> message;
  // 100 commands' worth of bytes, claimed as 1 command.
  EncodeEntry({.op = 5, .timestamp_us = 1, .command_count = 1, .packed = big}, &message,
              &compressor);
  EntryHead head{};
  std::vector<wire::Command> got;
  const Status s = DecodeEntry(message, 5, 8190, &head, &got);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("too large a size"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace eleven::cluster
