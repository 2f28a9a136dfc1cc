#include "storage/manifest.h"

#include <gtest/gtest.h>

#include "base/hash.h"
#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::AsBytes;
using testing::TempDir;

const std::vector<ManifestEntry> kEntries = {{"engine.clock", "\"wall\""},
                                             {"engine.skus_max", "4096"},
                                             {"fulfilment.milestones", "[10, 20]"}};

TEST(Manifest, EncodesAsTheGrammarSays) {
  const std::string text = EncodeManifest(kEntries);
  const std::string body =
      "eleven-manifest 1\n"
      "engine.clock = \"wall\"\n"
      "engine.skus_max = 4096\n"
      "fulfilment.milestones = [10, 20]\n";
  ASSERT_EQ(text.substr(0, body.size()), body);
  char checksum[17];
  std::snprintf(checksum, sizeof(checksum), "%016llx",
                static_cast<unsigned long long>(Checksum64(body.data(), body.size())));
  EXPECT_EQ(text.substr(body.size()), "checksum = " + std::string(checksum) + "\n");
}

TEST(Manifest, WritesAndReadsBack) {
  TempDir dir;
  ASSERT_TRUE(WriteManifest(Env::Default(), dir.path(), kEntries).ok());
  std::vector<ManifestEntry> read;
  const Status status = ReadManifest(Env::Default(), dir.path(), &read);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(read, kEntries);
  EXPECT_EQ(ReadManifest(Env::Default(), dir.File("missing"), &read).code(), StatusCode::kNotFound);
}

// Every single flipped byte (and a cut at every length) is Corruption naming the file.
TEST(Manifest, AnyFlippedByteOrCutIsCorruption) {
  const std::string text = EncodeManifest(kEntries);
  std::vector<ManifestEntry> read;
  for (size_t i = 0; i < text.size(); i++) {
    for (const char flip : {char(0x01), char(0x20), char(0x80)}) {
      std::string damaged = text;
      damaged[i] = char(damaged[i] ^ flip);
      const Status status = DecodeManifest("/d/MANIFEST", damaged, &read);
      EXPECT_EQ(status.code(), StatusCode::kCorruption)
          << "byte " << i << ": " << status.ToString();
      EXPECT_NE(status.message().find("/d/MANIFEST"), std::string::npos) << status.ToString();
    }
  }
  for (size_t size = 0; size < text.size(); size++) {
    EXPECT_EQ(DecodeManifest("/d/MANIFEST", text.substr(0, size), &read).code(),
              StatusCode::kCorruption)
        << "cut at " << size;
  }
}

// A file with a right checksum but wrong lines was written wrong: Corruption too; another
// version is FailedPrecondition.
TEST(Manifest, WellChecksummedButMalformedIsRefused) {
  auto with_checksum = [](const std::string& body) {
    char checksum[17];
    std::snprintf(checksum, sizeof(checksum), "%016llx",
                  static_cast<unsigned long long>(Checksum64(body.data(), body.size())));
    return body + "checksum = " + checksum + "\n";
  };
  std::vector<ManifestEntry> read;
  EXPECT_EQ(DecodeManifest("m", with_checksum("eleven-manifest 1\na = 1\na = 2\n"), &read).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeManifest("m", with_checksum("eleven-manifest 1\nA = 1\n"), &read).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeManifest("m", with_checksum("eleven-manifest 1\na=1\n"), &read).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeManifest("m", with_checksum("eleven-manifest 1\n"), &read).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeManifest("m", with_checksum("something else\na = 1\n"), &read).code(),
            StatusCode::kCorruption);
  const Status future = DecodeManifest("m", with_checksum("eleven-manifest 2\na = 1\n"), &read);
  EXPECT_EQ(future.code(), StatusCode::kFailedPrecondition) << future.ToString();
  EXPECT_TRUE(DecodeManifest("m", with_checksum("eleven-manifest 1\na.b_2 = x y\n"), &read).ok());
  EXPECT_EQ(read, (std::vector<ManifestEntry>{{"a.b_2", "x y"}}));
}

TEST(Manifest, ALargerFileIsRefusedBeforeItIsRead) {
  TempDir dir;
  ASSERT_TRUE(WriteFileDurably(Env::Default(), dir.path(), kManifestName,
                               AsBytes(std::string(kManifestSizeBytesMax + 1, 'x')))
                  .ok());
  std::vector<ManifestEntry> read;
  EXPECT_EQ(ReadManifest(Env::Default(), dir.path(), &read).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace eleven
