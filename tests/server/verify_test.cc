// `eleven verify` (the binary, run as a user runs it) against a data directory with two
// snapshots and journal segments kept for the older one: damage anywhere — in a segment
// before the newest snapshot, which recovery skips but the older snapshot's fallback needs,
// or in a snapshot — makes it exit non-zero, naming the file; a healthy directory exits 0.
// The same journal check in-process: replica::CheckJournal.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "replica/replay.h"
#include "replica/replica.h"
#include "storage/journal.h"
#include "storage/snapshot.h"
#include "wire/make.h"

namespace eleven {
namespace {

constexpr uint64_t kSecond = 1'000'000;
// The capacities the directory is written with, and the same as `eleven verify` flags.
constexpr const char* kCapacityFlags =
    "--merchants-max 8 --skus-max 64 --drops-max 4 --order-slots 16384 --holdings-max 64";

replica::ReplicaOptions Options() {
  replica::ReplicaOptions o;
  o.engine.merchant_count_max = 8;
  o.engine.sku_count_max = 64;
  o.engine.drop_count_max = 4;
  o.engine.order_slot_count = 16384;
  o.engine.holding_count_max = 64;
  o.journal.segment_size_bytes_max = 64 << 10;  // several segments between the snapshots
  o.staging_size_bytes = 8 << 20;
  return o;
}

struct VerifyRun {
  int exit_code = -1;
  std::string output;
};

VerifyRun Verify(const std::string& dir) {
  const std::string command =
      std::string(ELEVEN_BINARY) + " verify --data " + dir + " " + kCapacityFlags + " 2>&1";
  VerifyRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

void FlipByte(const std::string& path, uint64_t offset) {
  FILE* file = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
  const int byte = std::fgetc(file);
  ASSERT_NE(byte, EOF);
  ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
  std::fputc(byte ^ 0x10, file);
  std::fclose(file);
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / "eleven-verify-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
    std::filesystem::remove(dir_);  // Format creates it
    ASSERT_TRUE(replica::FormatDataDir(Env::Default(), dir_, replica::ShapeOf(Options())).ok());
    std::unique_ptr<replica::Replica> r;
    replica::RecoveryReport report;
    ASSERT_TRUE(replica::Replica::Open(Env::Default(), dir_, Options(), &r, &report).ok());
    std::vector<wire::Result> results(64);
    uint64_t op = 0;
    const std::vector<wire::Command> catalog{wire::MakeCreateMerchant(1, "CN", 0),
                                             wire::MakeCreateSku(1, 1, 100, 1'000'000, 0)};
    ASSERT_TRUE(r->Submit(catalog, kSecond, results, &op).ok());
    uint64_t key = 1;
    // 3 rounds of entries with a snapshot after the first two: two snapshots, and segments
    // between them that only the older one's fallback reads.
    for (int round = 0; round < 3; round++) {
      for (int b = 0; b < (round == 2 ? 400 : 150); b++) {
        std::vector<wire::Command> batch;
        for (int i = 0; i < 20; i++, key++) batch.push_back(wire::MakePlaceOrder(key, 1, 1 + key % 50, 11, 3, {{1, 1}}));
        ASSERT_TRUE(r->Submit(batch, kSecond * (2 + key), results, &op).ok());
      }
      if (round == 2) break;
      ASSERT_TRUE(r->StartSnapshot().ok());
      bool done = false;
      replica::SnapshotReport snap;
      ASSERT_TRUE(r->PollSnapshot(/*wait=*/true, &done, &snap).ok());
      ASSERT_TRUE(done);
      snapshot_ops_.push_back(snap.op);
    }
    ASSERT_TRUE(r->WaitDurable(op).ok());
    r.reset();
    ASSERT_TRUE(ListJournalSegments(Env::Default(), dir_, &segments_).ok());
    ASSERT_TRUE(ListSnapshots(Env::Default(), dir_, &snapshots_).ok());
    ASSERT_EQ(snapshots_.size(), 2u);
    // The journal reaches back to the older snapshot, and its first segment lies wholly
    // before the newer one: recovery never reads it.
    ASSERT_GE(segments_.size(), 3u);
    ASSERT_LE(segments_[0].first_op, snapshots_[1].op + 1);
    ASSERT_LE(segments_[1].first_op, snapshots_[0].op);
    // A segment wholly after the newest snapshot that is not the last (damage in the last
    // one's last entry would be a torn tail).
    for (size_t i = 1; i + 1 < segments_.size() && after_newest_.empty(); i++) {
      if (segments_[i].first_op > snapshots_[0].op) after_newest_ = segments_[i].path;
    }
    ASSERT_FALSE(after_newest_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::vector<uint64_t> snapshot_ops_;
  std::vector<JournalSegment> segments_;  // by first op
  std::vector<SnapshotFile> snapshots_;   // newest first
  std::string after_newest_;
};

// An offset inside the first entry's body of a segment.
constexpr uint64_t kInFirstBody = kJournalEntryHeaderSizeBytes + 8;

TEST_F(VerifyTest, AHealthyDirectoryExitsZero) {
  const VerifyRun run = Verify(dir_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(dir_ + ": ok"), std::string::npos) << run.output;
  replica::JournalCheck check;
  ASSERT_TRUE(replica::CheckJournal(Env::Default(), dir_, 8190, &check).ok());
  EXPECT_EQ(check.op_first, segments_[0].first_op);
  EXPECT_EQ(check.segment_count, segments_.size());
  EXPECT_EQ(check.entries, check.op_last - check.op_first + 1);
}

TEST_F(VerifyTest, DamageBeforeTheNewestSnapshotIsFoundAndExitsNonZero) {
  FlipByte(segments_[0].path, kInFirstBody);
  replica::JournalCheck check;
  const Status checked = replica::CheckJournal(Env::Default(), dir_, 8190, &check);
  EXPECT_EQ(checked.code(), StatusCode::kCorruption) << checked.ToString();
  EXPECT_NE(checked.ToString().find(segments_[0].path), std::string::npos) << checked.ToString();
  const VerifyRun run = Verify(dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;  // damaged, recovery from the newest still works
  EXPECT_NE(run.output.find(segments_[0].path), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("DAMAGED"), std::string::npos) << run.output;
}

TEST_F(VerifyTest, ASnapshotFailingItsChecksExitsNonZero) {
  FlipByte(snapshots_[1].path, sizeof(SnapshotHeader) + 100);  // the older one's body
  VerifyRun run = Verify(dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(snapshots_[1].path), std::string::npos) << run.output;
  FlipByte(snapshots_[1].path, sizeof(SnapshotHeader) + 100);
  FlipByte(snapshots_[0].path, sizeof(SnapshotHeader) + 100);  // the newest: recovery falls back
  run = Verify(dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(snapshots_[0].path), std::string::npos) << run.output;
}

TEST_F(VerifyTest, DamageAfterTheNewestSnapshotIsUnrecoverable) {
  FlipByte(after_newest_, kInFirstBody);
  const VerifyRun run = Verify(dir_);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find(after_newest_), std::string::npos) << run.output;
}

}  // namespace
}  // namespace eleven
