// The replica: results are released only when durable, recovery restores exactly the
// durable state (from a snapshot and the journal after it), a failed sync stops writes, and
// a power cut keeps every acknowledged batch.
#include "replica/replica.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "storage/fault_env.h"
#include "storage/test_util.h"
#include "wire/make.h"
#include "wire/packed.h"

namespace eleven::replica {
namespace {

constexpr uint64_t kSecond = 1'000'000;

std::string TempDir() {
  std::string dir = std::filesystem::temp_directory_path() / "eleven-replica-test-XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  std::filesystem::remove(dir);  // Format wants to create it
  return dir;
}

ReplicaOptions SmallOptions() {
  ReplicaOptions o;
  o.engine.merchant_count_max = 8;
  o.engine.sku_count_max = 64;
  o.engine.drop_count_max = 4;
  o.engine.order_slot_count = 1 << 12;
  o.engine.holding_count_max = 64;
  o.engine.batch_command_count_max = 64;
  o.journal.segment_size_bytes_max = 64 << 10;  // small segments: rolling and removal happen
  o.staging_size_bytes = 1 << 20;
  return o;
}

// SmallOptions, with snapshots by the follower catching up every `interval_ms`.
ReplicaOptions SmallFollowerOptions(uint32_t interval_ms) {
  ReplicaOptions o = SmallOptions();
  o.snapshot_mode = ReplicaOptions::SnapshotMode::kFollower;
  o.follower_interval_ms = interval_ms;
  return o;
}

// Starts a snapshot and waits for it to end: what PollSnapshot said of it.
Status SnapshotAndWait(Replica* r, SnapshotReport* snap) {
  ELEVEN_RETURN_IF_ERROR(r->StartSnapshot());
  bool done = false;
  const Status polled = r->PollSnapshot(/*wait=*/true, &done, snap);
  EXPECT_TRUE(done);
  return polled;
}

std::vector<wire::Command> Catalog() {
  std::vector<wire::Command> c{wire::MakeCreateMerchant(1, "CN", 0)};
  for (uint64_t s = 1; s <= 20; s++) c.push_back(wire::MakeCreateSku(s, 1, 100 * int64_t(s), 1000, 0));
  return c;
}

wire::Command Order(uint64_t key) {
  return wire::MakePlaceOrder(key, 1, 1 + key % 97, 11, 3, {{1 + key % 20, uint16_t(1 + key % 3)}});
}

// Journals written before packing (body format 0, raw records) recover as they always did,
// to the same state as the packed journal the replica writes now.
TEST(Replica, RawAndPackedJournalsRecoverToTheSameState) {
  std::vector<std::vector<wire::Command>> batches{Catalog()};
  for (uint64_t b = 0; b < 50; b++) {
    std::vector<wire::Command> batch;
    for (uint64_t i = 0; i < 40; i++) batch.push_back(Order(b * 40 + i % 37));  // some repeats
    batches.push_back(batch);
  }
  const std::string packed_dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), packed_dir, ShapeOf(SmallOptions())).ok());
  Digest128 packed_digest;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), packed_dir, SmallOptions(), &r, &report).ok());
    std::vector<wire::Result> results(64);
    uint64_t op = 0;
    for (size_t b = 0; b < batches.size(); b++) {
      ASSERT_TRUE(r->Submit(batches[b], kSecond * (1 + b), results, &op).ok());
    }
    r->Flush();
    ASSERT_TRUE(r->WaitDurable(op).ok());
    packed_digest = r->engine().Digest();
  }
  // The same batches as raw records, written straight to a journal.
  // In a version-1 data directory, as a build before packing left it.
  const std::string raw_dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), raw_dir, ShapeOf(SmallOptions())).ok());
  testing::RewriteIdentityVersion(raw_dir, 1);
  {
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(Env::Default(), raw_dir, SmallOptions().journal, &writer, &recovery).ok());
    for (size_t b = 0; b < batches.size(); b++) {
      const ByteSpan body(reinterpret_cast<const std::byte*>(batches[b].data()),
                          batches[b].size() * wire::kCommandSize);
      ASSERT_TRUE(writer->Append(b + 1, kSecond * (1 + b), uint32_t(batches[b].size()), body,
                                 uint16_t(BodyFormat::kRaw))
                      .ok());
    }
    ASSERT_TRUE(writer->Sync().ok());
  }
  for (const std::string& dir : {packed_dir, raw_dir}) {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    const Status opened = Replica::Open(Env::Default(), dir, SmallOptions(), &r, &report);
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    EXPECT_EQ(report.entries_replayed, batches.size());
    EXPECT_EQ(r->engine().Digest(), packed_digest) << dir;
    r.reset();
    std::unique_ptr<DataDir> opened_dir;
    ASSERT_TRUE(DataDir::Open(Env::Default(), dir, &opened_dir).ok());
    EXPECT_EQ(opened_dir->format_version(), kDataDirFormatVersion) << "recovery upgrades " << dir;
    std::filesystem::remove_all(dir);
  }
}

TEST(Replica, AnEntryWhoseBodyIsNotItsCommandsIsCorruption) {
  const std::vector<wire::Command> commands{Order(1), Order(2)};
  std::vector<std::byte> packed(commands.size() * wire::kPackedCommandSizeMax);
  packed.resize(wire::PackCommands(commands, packed.data()));
  std::vector<wire::Command> out;
  JournalEntry entry;
  entry.op = 41;
  entry.command_count = 2;
  entry.body_format = uint16_t(BodyFormat::kPacked);
  entry.body = packed;
  ASSERT_TRUE(EntryCommands(entry, 64, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::memcmp(out.data(), commands.data(), 2 * wire::kCommandSize), 0);
  const auto refused = [&](const std::string& what) {
    const Status s = EntryCommands(entry, 64, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << what;
    EXPECT_NE(s.message().find("journal entry 41"), std::string::npos) << s.ToString();
  };
  entry.command_count = 3;
  refused("one command more than packed");
  entry.command_count = 2;
  entry.body = std::span(packed).first(packed.size() - 1);
  refused("cut short");
  entry.body = packed;
  entry.body_format = uint16_t(BodyFormat::kRaw);
  refused("packed bytes read as raw records");
  entry.body_format = 9;
  refused("unknown body format");
  entry.body_format = uint16_t(BodyFormat::kPacked);
  entry.command_count = 65;
  refused("over the batch limit");
  // No commands, in either format: an empty body, and nothing to read from it.
  for (const BodyFormat format : {BodyFormat::kRaw, BodyFormat::kPacked}) {
    std::vector<wire::Command> none;
    entry.command_count = 0;
    entry.body = {};
    entry.body_format = uint16_t(format);
    ASSERT_TRUE(EntryCommands(entry, 64, &none).ok());
    EXPECT_TRUE(none.empty());
  }
}

class ReplicaSnapshot : public ::testing::TestWithParam<ReplicaOptions::SnapshotMode> {
 protected:
  ReplicaOptions Options() const {
    ReplicaOptions o = SmallOptions();
    o.snapshot_mode = GetParam();
    return o;
  }
};

TEST_P(ReplicaSnapshot, RecoversSnapshotAndJournalToTheSameState) {
  const std::string dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(Options())).ok());
  Digest128 before;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
    std::vector<wire::Result> results(64);
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(Catalog(), kSecond, results, &op).ok());
    EXPECT_LE(r->op_durable(), op);  // not released before its sync
    for (uint64_t b = 0; b < 300; b++) {
      std::vector<wire::Command> batch;
      for (uint64_t i = 0; i < 40; i++) batch.push_back(Order(b * 40 + i));
      ASSERT_TRUE(r->Submit(batch, kSecond * (2 + b), results, &op).ok());
      r->Flush();
      if (b == 150) {
        SnapshotReport snap;
        ASSERT_TRUE(SnapshotAndWait(r.get(), &snap).ok());
        EXPECT_EQ(snap.op, op);  // the last submitted op
      }
    }
    ASSERT_TRUE(r->WaitDurable(op).ok());
    EXPECT_EQ(r->op_durable(), op);
    before = r->engine().Digest();
  }
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
  EXPECT_TRUE(report.snapshot_found) << report.ToString();
  EXPECT_EQ(report.entries_replayed, 301u - report.snapshot_op + 1 - 1) << report.ToString();
  EXPECT_EQ(r->engine().Digest(), before);
  // A second process (or opener) of the same directory is refused.
  std::unique_ptr<Replica> second;
  EXPECT_EQ(Replica::Open(Env::Default(), dir, Options(), &second, &report).code(), StatusCode::kBusy);
  r.reset();
  std::filesystem::remove_all(dir);
}

// The follower keeps up between snapshots, writes one after another while batches are
// submitted (resuming where it stopped, over segments that are removed and recycled behind
// it), and recovery from its last one gives the same state.
TEST(Replica, FollowerSnapshotsUnderWritesAndRecovers) {
  const std::string dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(SmallFollowerOptions(1))).ok());
  ReplicaOptions options = SmallFollowerOptions(1);
  options.journal.prepare_segments = true;
  options.journal.recycled_segments_max = 4;
  Digest128 before;
  uint64_t snapshots = 0;
  uint64_t last_snapshot_op = 0;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, options, &r, &report).ok());
    std::vector<wire::Result> results(64);
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(Catalog(), kSecond, results, &op).ok());
    for (uint64_t b = 0; b < 1500; b++) {
      std::vector<wire::Command> batch;
      for (uint64_t i = 0; i < 40; i++) batch.push_back(Order(b * 40 + i));
      ASSERT_TRUE(r->Submit(batch, kSecond * (2 + b / 10), results, &op).ok());
      r->Flush();
      if (r->snapshot_running()) {
        // Mostly polled while batches go on; every 100th batch waits for it to end.
        bool done = false;
        SnapshotReport snap;
        const Status polled = r->PollSnapshot(/*wait=*/b % 100 == 60, &done, &snap);
        ASSERT_TRUE(polled.ok()) << polled.ToString();
        if (done) {
          EXPECT_GT(snap.op, last_snapshot_op);
          last_snapshot_op = snap.op;
          snapshots++;
        }
      } else if (b % 50 == 0) {
        ASSERT_TRUE(r->StartSnapshot().ok());
        EXPECT_TRUE(r->snapshot_running());
        EXPECT_EQ(r->StartSnapshot().code(), StatusCode::kFailedPrecondition);
      }
    }
    ASSERT_TRUE(r->WaitDurable(op).ok());
    // Between snapshots it catches up with the durable journal on its own.
    for (int i = 0; i < 10'000 && r->op_followed() < op; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(r->op_followed(), op);
    if (r->snapshot_running()) {
      bool done = false;
      SnapshotReport snap;
      ASSERT_TRUE(r->PollSnapshot(true, &done, &snap).ok());
      last_snapshot_op = snap.op;
      snapshots++;
    }
    before = r->engine().Digest();
  }
  std::printf("follower: %llu snapshots, the last at op %llu\n", (unsigned long long)snapshots,
              (unsigned long long)last_snapshot_op);
  EXPECT_GE(snapshots, 10u);
  std::vector<JournalSegment> segments;
  ASSERT_TRUE(ListJournalSegments(Env::Default(), dir, &segments).ok());
  ASSERT_FALSE(segments.empty());
  EXPECT_GT(segments.front().first_op, 1u);  // old segments went after the snapshots
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, options, &r, &report).ok());
  EXPECT_TRUE(report.snapshot_found) << report.ToString();
  EXPECT_EQ(report.snapshot_op, last_snapshot_op) << report.ToString();
  EXPECT_EQ(r->engine().Digest(), before);
  // Reopened, the follower starts from the snapshot recovery read and replays the rest.
  EXPECT_GE(r->op_followed(), last_snapshot_op);
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  ASSERT_TRUE(r->Submit(std::vector{Order(1'000'001)}, kSecond * 1000, results, &op).ok());
  SnapshotReport snap;
  ASSERT_TRUE(SnapshotAndWait(r.get(), &snap).ok());
  EXPECT_EQ(snap.op, op);
  EXPECT_EQ(r->op_followed(), op);
  r.reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Modes, ReplicaSnapshot,
                         ::testing::Values(ReplicaOptions::SnapshotMode::kFork,
                                           ReplicaOptions::SnapshotMode::kFollower),
                         [](const auto& info) {
                           return info.param == ReplicaOptions::SnapshotMode::kFork ? "Fork" : "Follower";
                         });

// A new data directory in `dir`, opened through `env`, with Catalog() applied and durable.
void OpenWithCatalog(FaultEnv* env, const std::string& dir, std::unique_ptr<Replica>* r,
                     const ReplicaOptions& options = SmallOptions()) {
  ASSERT_TRUE(FormatDataDir(env, dir, ShapeOf(options)).ok());
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(env, dir, options, r, &report).ok());
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  ASSERT_TRUE((*r)->Submit(Catalog(), kSecond, results, &op).ok());
  ASSERT_TRUE((*r)->WaitDurable(op).ok());
}

TEST(Replica, AFailedSyncStopsWritesAndNothingUnsyncedIsReleased) {
  const std::string dir = TempDir();
  FaultEnv env(Env::Default(), 1);
  std::unique_ptr<Replica> r;
  ASSERT_NO_FATAL_FAILURE(OpenWithCatalog(&env, dir, &r));
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  const uint64_t durable = r->op_durable();
  env.Arm(FaultKind::kSyncError, FaultTrigger{1, 0, "journal"});
  std::vector<wire::Command> batch{Order(1), Order(2)};
  ASSERT_TRUE(r->Submit(batch, 2 * kSecond, results, &op).ok());
  const Status waited = r->WaitDurable(op);
  EXPECT_EQ(waited.code(), StatusCode::kIOError) << waited.ToString();
  EXPECT_EQ(r->op_durable(), durable);  // the batch was never released
  // No more writes, even once the disk would work again: the first error stays.
  EXPECT_FALSE(r->Submit(batch, 3 * kSecond, results, &op).ok());
  r.reset();
  std::filesystem::remove_all(dir);
}

// A full disk (ENOSPC on the journal's write) reaches the replica's owner without its asking:
// journal_failed() turns true and the durable callback runs, and every later Submit is
// refused at once with NoSpace, applying nothing.
TEST(Replica, AFailedJournalWriteIsReportedAndLaterSubmitsApplyNothing) {
  const std::string dir = TempDir();
  FaultEnv env(Env::Default(), 1);
  std::unique_ptr<Replica> r;
  ASSERT_NO_FATAL_FAILURE(OpenWithCatalog(&env, dir, &r));
  std::mutex mutex;
  std::condition_variable cv;
  bool called_failed = false;
  r->SetDurableCallback([&](uint64_t) {
    std::lock_guard lock(mutex);
    called_failed = called_failed || r->journal_failed();
    cv.notify_all();
  });
  EXPECT_FALSE(r->journal_failed());
  env.Arm(FaultKind::kNoSpace, FaultTrigger{1, 0, "journal"});
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  const uint64_t durable = r->op_durable();
  ASSERT_TRUE(r->Submit(std::vector{Order(1)}, 2 * kSecond, results, &op).ok());
  r->Flush();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return called_failed; }))
        << "the failure never reached the callback";
  }
  EXPECT_TRUE(r->journal_failed());
  EXPECT_EQ(r->journal_failure().code(), StatusCode::kNoSpace) << r->journal_failure().ToString();
  EXPECT_EQ(r->op_durable(), durable);
  const uint64_t submitted = r->op_submitted();
  const Status refused = r->Submit(std::vector{Order(2)}, 3 * kSecond, results, &op);
  EXPECT_EQ(refused.code(), StatusCode::kNoSpace) << refused.ToString();
  EXPECT_EQ(r->op_submitted(), submitted) << "a batch was applied after the journal failed";
  r->SetDurableCallback(nullptr);
  r.reset();
  std::filesystem::remove_all(dir);
}

// Temp files a crash left (a snapshot being written, a segment being prepared) are removed
// when the replica opens, before anything is written: on a small disk they are what fills it.
TEST(Replica, OpenRemovesLeftoverTempFiles) {
  const std::string dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(SmallOptions())).ok());
  const std::vector<std::byte> junk(4096, std::byte{9});
  const std::string snapshot_temp = "snapshot-00000000000000000042.snap.tmp";
  ASSERT_TRUE(WriteFileDurably(Env::Default(), dir, snapshot_temp, junk).ok());
  ASSERT_TRUE(WriteFileDurably(Env::Default(), dir, kJournalPreparedName, junk).ok());
  ReplicaOptions options = SmallOptions();  // preparing off: the prepared file is not made anew
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, options, &r, &report).ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + snapshot_temp));
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kJournalPreparedName));
  r.reset();
  std::filesystem::remove_all(dir);
}

// A data directory whose lock is held (a dying fork-mode snapshot child shares its parent's)
// is tried again for lock_wait_ms: released meanwhile, Open succeeds; held for longer, Busy
// after the wait, saying so.
TEST(Replica, OpenWaitsABoundedTimeForTheLock) {
  const std::string dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(SmallOptions())).ok());
  std::unique_ptr<DataDir> holder;
  ASSERT_TRUE(DataDir::Open(Env::Default(), dir, &holder).ok());
  ReplicaOptions options = SmallOptions();
  options.lock_wait_ms = 200;
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  const auto started = std::chrono::steady_clock::now();
  const Status refused = Replica::Open(Env::Default(), dir, options, &r, &report);
  EXPECT_EQ(refused.code(), StatusCode::kBusy) << refused.ToString();
  EXPECT_NE(refused.message().find("after waiting 200 ms"), std::string::npos) << refused.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200));

  options.lock_wait_ms = kDataDirLockWaitMsDefault;
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the child dying
    holder.reset();
  });
  const Status opened = Replica::Open(Env::Default(), dir, options, &r, &report);
  releaser.join();
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  r.reset();
  std::filesystem::remove_all(dir);
}

// A snapshot asked of the follower for an op the failed journal will never make durable
// ends with the journal's error instead of waiting for ever.
TEST(Replica, AFollowerSnapshotOfAnOpNeverDurableReportsTheJournalsFailure) {
  const std::string dir = TempDir();
  FaultEnv env(Env::Default(), 1);
  std::unique_ptr<Replica> r;
  ASSERT_NO_FATAL_FAILURE(OpenWithCatalog(&env, dir, &r, SmallFollowerOptions(100)));
  env.Arm(FaultKind::kSyncError, FaultTrigger{1, 0, "journal"});
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  ASSERT_TRUE(r->Submit(std::vector{Order(1), Order(2)}, 2 * kSecond, results, &op).ok());
  SnapshotReport snap;
  const Status polled = SnapshotAndWait(r.get(), &snap);
  EXPECT_EQ(polled.code(), StatusCode::kIOError) << polled.ToString();
  EXPECT_NE(polled.ToString().find("snapshot at op " + std::to_string(op)), std::string::npos) << polled.ToString();
  std::vector<SnapshotFile> snapshots;
  ASSERT_TRUE(ListSnapshots(Env::Default(), dir, &snapshots).ok());
  EXPECT_TRUE(snapshots.empty());
  r.reset();
  std::filesystem::remove_all(dir);
}

// The follower reads the journal with every check recovery makes: a damaged entry fails the
// snapshot (nothing written, the journal goes on), and each snapshot asked for tries again.
TEST(Replica, AFollowerMeetingADamagedEntryFailsTheSnapshotAndWritesGoOn) {
  const std::string dir = TempDir();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(SmallFollowerOptions(0))).ok());
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  // Interval 0: it reads the journal only when asked.
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, SmallFollowerOptions(0), &r, &report).ok());
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  ASSERT_TRUE(r->Submit(Catalog(), kSecond, results, &op).ok());
  ASSERT_TRUE(r->Submit(std::vector{Order(1)}, 2 * kSecond, results, &op).ok());
  ASSERT_TRUE(r->WaitDurable(op).ok());
  std::vector<JournalSegment> segments;
  ASSERT_TRUE(ListJournalSegments(Env::Default(), dir, &segments).ok());
  ASSERT_EQ(segments.front().first_op, 1u);
  {  // a byte of op 1's body flipped on disk, after the engine applied it
    std::fstream file(segments.front().path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(kJournalEntryHeaderSizeBytes + 8);
    char byte = 0;
    file.get(byte);
    file.seekp(kJournalEntryHeaderSizeBytes + 8);
    file.put(char(byte ^ 0x10));
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    SnapshotReport snap;
    const Status polled = SnapshotAndWait(r.get(), &snap);
    EXPECT_FALSE(polled.ok());
    EXPECT_NE(polled.ToString().find("corruption"), std::string::npos) << polled.ToString();
    EXPECT_NE(polled.ToString().find(segments.front().path), std::string::npos) << polled.ToString();
    ASSERT_TRUE(r->Submit(std::vector{Order(2 + attempt)}, 3 * kSecond, results, &op).ok());
    ASSERT_TRUE(r->WaitDurable(op).ok());
  }
  std::vector<SnapshotFile> snapshots;
  ASSERT_TRUE(ListSnapshots(Env::Default(), dir, &snapshots).ok());
  EXPECT_TRUE(snapshots.empty());
  r.reset();
  std::filesystem::remove_all(dir);
}

// What is staged while a sync runs is synced as soon as that sync ends, without the engine
// thread handing it over (no Flush, no WaitDurable): a busy engine thread is not on the path
// to durability.
TEST(Replica, WhatIsStagedDuringASyncIsTakenWhenItEnds) {
  const std::string dir = TempDir();
  FaultEnv env(Env::Default(), 1);
  std::unique_ptr<Replica> r;
  ASSERT_NO_FATAL_FAILURE(OpenWithCatalog(&env, dir, &r));
  std::vector<wire::Result> results(64);
  uint64_t op = 0;
  env.HoldSyncs(true);
  std::vector<wire::Command> first{Order(1), Order(2)};
  ASSERT_TRUE(r->Submit(first, 2 * kSecond, results, &op).ok());
  const uint64_t first_op = op;
  r->Flush();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (env.syncs_held() == 0) {  // the sync thread is now inside the first batch's sync
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the first batch's sync never started";
    std::this_thread::yield();
  }
  std::vector<wire::Command> second{Order(3)};
  ASSERT_TRUE(r->Submit(second, 3 * kSecond, results, &op).ok());
  EXPECT_EQ(r->op_durable(), first_op - 1);
  env.HoldSyncs(false);
  while (r->op_durable() < op) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "op " << op << " was staged during a sync and never synced (durable: " << r->op_durable() << ")";
    std::this_thread::yield();
  }
  EXPECT_EQ(r->op_durable(), op);
  r.reset();
  std::filesystem::remove_all(dir);
}

// Power cuts at random moments: recovery gives every acknowledged batch, in order, and the
// same state as replaying the journal that survived.
TEST(Replica, PowerCutKeepsEveryAcknowledgedBatch) {
  const uint64_t seed = std::getenv("ELEVEN_SEED") ? std::strtoull(std::getenv("ELEVEN_SEED"), nullptr, 10)
                                                   : std::random_device{}();
  std::printf("replica power-cut test: seed=%llu\n", (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  const char* long_run = std::getenv("ELEVEN_LONG");
  const int rounds = long_run != nullptr && long_run[0] == '1' ? 200 : 20;
  for (int round = 0; round < rounds; round++) {
    const std::string dir = TempDir();
    FaultEnv env(Env::Default(), rng());
    env.set_forward_syncs(false);
    ASSERT_TRUE(FormatDataDir(&env, dir, ShapeOf(SmallOptions())).ok());
    uint64_t acked_key_end = 1, key = 1, now = kSecond;  // keys from 1: key 0 is refused
    {
      std::unique_ptr<Replica> r;
      RecoveryReport report;
      ASSERT_TRUE(Replica::Open(&env, dir, SmallOptions(), &r, &report).ok());
      std::vector<wire::Result> results(64);
      uint64_t op = 0;
      ASSERT_TRUE(r->Submit(Catalog(), now, results, &op).ok());
      ASSERT_TRUE(r->WaitDurable(op).ok());
      const int batches = 1 + int(rng() % 60);
      for (int b = 0; b < batches; b++) {
        std::vector<wire::Command> batch;
        for (int i = 0; i < 30; i++) batch.push_back(Order(key++));
        ASSERT_TRUE(r->Submit(batch, now += kSecond, results, &op).ok());
        r->Flush();
        if (rng() % 4 == 0) {  // the client waits for this one: acknowledged
          ASSERT_TRUE(r->WaitDurable(op).ok());
          acked_key_end = key;
        }
      }
      // The power goes: the process stops here, unsynced data is gone.
      ASSERT_TRUE(env.PowerCut(rng() % 2 ? PowerCutMode::kDropUnsynced : PowerCutMode::kKeepRandomPrefix).ok());
      r.reset();  // files open across the cut fail from now on: nothing more becomes durable
    }
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(&env, dir, SmallOptions(), &r, &report).ok()) << "seed " << seed;
    for (uint64_t k = 1; k < acked_key_end; k++) {
      wire::OrderRecord rec{};
      ASSERT_EQ(r->engine().GetOrderByKey(k, &rec), wire::Code::ok) << "acknowledged order lost, seed " << seed;
      ASSERT_EQ(rec.buyer_id, 1 + k % 97);
    }
    r->engine().CheckInvariants();
    r.reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace eleven::replica
