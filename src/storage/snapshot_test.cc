#include "storage/snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "storage/fault_env.h"
#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::TestSeed;

class SnapshotTest : public ::testing::Test {
 protected:
  // Writes a snapshot at `op` from three chunks and returns its body.
  std::vector<std::byte> Write(Env* env, uint64_t op, size_t size_bytes,
                               SnapshotWriteResult* result = nullptr) {
    std::vector<std::byte> body = RandomBytes(rng_, size_bytes);
    size_t third = body.size() / 3;
    ByteSpan all(body);
    ByteSpan chunks[] = {all.first(third), all.subspan(third, third), all.subspan(2 * third)};
    SnapshotWriteResult local;
    Status status = WriteSnapshot(env, dir_.path(), op, op * 10, chunks, result ? result : &local);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return body;
  }

  void FlipByte(const std::string& path, uint64_t offset) {
    FILE* file = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
    int byte = std::fgetc(file);
    ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
    std::fputc(byte ^ 1, file);
    std::fclose(file);
  }

  TempDir dir_;
  std::mt19937_64 rng_{777};
};

TEST_F(SnapshotTest, RoundTripFromChunks) {
  std::vector<std::byte> body = Write(Env::Default(), 42, 100'000);
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  ASSERT_TRUE(load.found);
  EXPECT_EQ(load.snapshot.op, 42u);
  EXPECT_EQ(load.snapshot.timestamp_us, 420u);
  EXPECT_EQ(load.snapshot.path, dir_.File("snapshot-00000000000000000042.snap"));
  EXPECT_EQ(load.snapshot.body, body);
  EXPECT_TRUE(load.skipped.empty());
}

// Written in slices across the chunks' boundaries, at a bounded rate, the file is the same;
// a cancelled write leaves no snapshot and no temp file.
TEST_F(SnapshotTest, SlicedPacedAndCancelledWrites) {
  std::vector<std::byte> body = RandomBytes(rng_, 1'000'003);
  ByteSpan all(body);
  ByteSpan chunks[] = {all.first(100), all.subspan(100, 600'000), all.subspan(600'100)};
  SnapshotWriteResult result;
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(WriteSnapshot(Env::Default(), dir_.path(), 7, 70, chunks, &result,
                            {.slice_size_bytes = 65'536, .bytes_per_second_max = 10'000'000})
                  .ok());
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(90));  // 1 MB at 10 MB/s
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  ASSERT_TRUE(load.found);
  EXPECT_EQ(load.snapshot.op, 7u);
  EXPECT_EQ(load.snapshot.body, body);

  std::atomic<bool> cancel{true};
  const Status cancelled = WriteSnapshot(Env::Default(), dir_.path(), 8, 80, chunks, &result,
                                         {.slice_size_bytes = 65'536, .cancel = &cancel});
  EXPECT_EQ(cancelled.code(), StatusCode::kUnavailable) << cancelled.ToString();
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  EXPECT_EQ(load.snapshot.op, 7u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("snapshot-00000000000000000008.snap.tmp")));
}

// A snapshot whose write fails (a full disk) removes its half-written temp file at once, and
// the snapshots before it stay; a temp file a crash left is removed by
// RemoveSnapshotTempFiles (start-up) and by the next snapshot written.
TEST_F(SnapshotTest, AFailedWriteLeavesNoTempFileAndLeftoversAreRemoved) {
  FaultEnv env(Env::Default(), 3);
  Write(&env, 5, 100'000);
  env.Arm(FaultKind::kNoSpace, FaultTrigger{2, 0, ".snap.tmp"});  // after the header
  std::vector<std::byte> body = RandomBytes(rng_, 100'000);
  ByteSpan chunks[] = {ByteSpan(body)};
  SnapshotWriteResult result;
  const Status failed = WriteSnapshot(&env, dir_.path(), 6, 60, chunks, &result);
  EXPECT_EQ(failed.code(), StatusCode::kNoSpace) << failed.ToString();
  EXPECT_EQ(env.fired_count(FaultKind::kNoSpace), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("snapshot-00000000000000000006.snap.tmp")));
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(&env, dir_.path(), &load).ok());
  EXPECT_EQ(load.snapshot.op, 5u);

  const std::vector<std::byte> junk(1000, std::byte{1});
  for (const char* name : {"snapshot-00000000000000000007.snap.tmp", "snapshot-00000000000000000008.snap.tmp"}) {
    ASSERT_TRUE(WriteFileDurably(Env::Default(), dir_.path(), name, junk).ok());
  }
  uint64_t removed = 0;
  ASSERT_TRUE(RemoveSnapshotTempFiles(Env::Default(), dir_.path(), &removed).ok());
  EXPECT_EQ(removed, 2u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("snapshot-00000000000000000007.snap.tmp")));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("snapshot-00000000000000000005.snap")));
  ASSERT_TRUE(WriteFileDurably(Env::Default(), dir_.path(), "snapshot-00000000000000000009.snap.tmp", junk).ok());
  Write(Env::Default(), 10, 1000);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("snapshot-00000000000000000009.snap.tmp")));
}

TEST_F(SnapshotTest, EmptyDirectoryHasNoSnapshotAndEmptyBodyWorks) {
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  EXPECT_FALSE(load.found);
  Write(Env::Default(), 1, 0);
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  EXPECT_TRUE(load.found);
  EXPECT_TRUE(load.snapshot.body.empty());
}

TEST_F(SnapshotTest, KeepsTheTwoNewestAndSaysWhereTheJournalMustStart) {
  SnapshotWriteResult result;
  for (uint64_t op : {10, 20, 30, 40}) Write(Env::Default(), op, 1000, &result);
  std::vector<SnapshotFile> snapshots;
  ASSERT_TRUE(ListSnapshots(Env::Default(), dir_.path(), &snapshots).ok());
  ASSERT_EQ(snapshots.size(), kSnapshotKeepCount);
  EXPECT_EQ(snapshots[0].op, 40u);  // Newest first.
  EXPECT_EQ(snapshots[1].op, 30u);
  EXPECT_EQ(result.journal_op_keep_from, 31u);
  EXPECT_EQ(result.removed_count, 1u);
  std::vector<std::string> names;
  ASSERT_TRUE(Env::Default()->GetChildren(dir_.path(), &names).ok());
  EXPECT_EQ(names.size(), 2u);  // No temp files left.
}

TEST_F(SnapshotTest, BadNewestFallsBackToThePreviousOne) {
  std::vector<std::byte> older = Write(Env::Default(), 10, 5000);
  Write(Env::Default(), 20, 5000);
  const std::string newest = dir_.File(SnapshotName(20));
  for (uint64_t offset : {uint64_t{9}, uint64_t{64 + 4000}}) {  // Header, then body.
    FlipByte(newest, offset);
    SnapshotLoad load;
    ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
    ASSERT_TRUE(load.found);
    EXPECT_EQ(load.snapshot.op, 10u);
    EXPECT_EQ(load.snapshot.body, older);
    ASSERT_EQ(load.skipped.size(), 1u);
    EXPECT_NE(load.skipped[0].find(newest), std::string::npos) << load.skipped[0];
    EXPECT_NE(load.skipped[0].find("corruption"), std::string::npos) << load.skipped[0];
    FlipByte(newest, offset);
  }
  // A truncated newest snapshot is caught by its size.
  ASSERT_TRUE(Env::Default()->TruncateFile(newest, 1000).ok());
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(Env::Default(), dir_.path(), &load).ok());
  EXPECT_EQ(load.snapshot.op, 10u);
  // None good: Corruption.
  FlipByte(dir_.File(SnapshotName(10)), 100);
  Status status = LoadNewestSnapshot(Env::Default(), dir_.path(), &load);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
}

TEST_F(SnapshotTest, ReadBitFlipNeverYieldsABadBody) {
  const uint64_t seed = TestSeed("SnapshotTest.ReadBitFlipNeverYieldsABadBody");
  std::mt19937_64 rng(seed);
  std::vector<std::byte> body = Write(Env::Default(), 5, 3 * kSnapshotReadChunkSizeBytes / 2);
  for (int iteration = 0; iteration < 20; iteration++) {
    FaultEnv env(Env::Default(), rng());
    env.Arm(FaultKind::kReadBitFlip, {.nth_call = 1 + rng() % 3});  // Header or a body chunk.
    SnapshotHeader header;
    std::vector<std::byte> read;
    Status status = ReadSnapshot(&env, dir_.File(SnapshotName(5)), &header, &read);
    ASSERT_EQ(status.code(), StatusCode::kCorruption) << "seed " << seed;
    EXPECT_NE(status.message().find("offset"), std::string::npos) << status.ToString();
    EXPECT_TRUE(read.empty() || read == body);
  }
}

TEST_F(SnapshotTest, PowerCutBeforeTheDirectorySyncLosesOnlyTheNewSnapshot) {
  FaultEnv env(Env::Default(), 5);
  std::vector<std::byte> older = Write(&env, 10, 3000);
  env.Arm(FaultKind::kSyncError, {.nth_call = 1});  // The new snapshot's fdatasync fails.
  std::vector<std::byte> body = RandomBytes(rng_, 3000);
  ByteSpan chunks[] = {ByteSpan(body)};
  SnapshotWriteResult result;
  EXPECT_EQ(WriteSnapshot(&env, dir_.path(), 20, 200, chunks, &result).code(), StatusCode::kIOError);
  ASSERT_TRUE(env.PowerCut().ok());
  SnapshotLoad load;
  ASSERT_TRUE(LoadNewestSnapshot(&env, dir_.path(), &load).ok());
  EXPECT_EQ(load.snapshot.op, 10u);
  EXPECT_EQ(load.snapshot.body, older);
}

}  // namespace
}  // namespace eleven
