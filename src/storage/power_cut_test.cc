// Crash tests: random appends, flushes, syncs, segment removals and injected I/O faults, then
// a simulated power cut at a random point, then recovery; several crash cycles per run.
// Recovery must yield exactly the synced prefix (or, when some unsynced pages survive, a
// longer prefix of what was appended, never anything else).
#include <gtest/gtest.h>

#include "storage/fault_env.h"
#include "storage/journal.h"
#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::TestSeed;

constexpr int kCrashCycleCount = 4;
constexpr int kStepCountMax = 120;
constexpr size_t kBodySizeBytesMax = 3000;

// Totals over all runs, printed so that a run shows it exercised what it claims to.
struct Coverage {
  uint64_t torn_tail_count = 0;
  uint64_t fault_count = 0;
  uint64_t segment_count_max = 0;
  uint64_t entry_count = 0;
  uint64_t prepared_segment_count = 0;  // Segments begun on a prepared (zero-filled) file.
  uint64_t cut_over_zero_fill_count = 0;  // Cuts of a run whose last segment was prepared.
  uint64_t recycled_segment_count = 0;  // Segments begun on a recycled file.
  uint64_t cut_over_recycled_count = 0;  // Cuts of a cycle that began a recycled segment.
};
Coverage coverage;

struct Entry {
  uint64_t timestamp_us;
  uint32_t command_count;
  std::vector<std::byte> body;
};

class CrashRun {
 public:
  explicit CrashRun(uint64_t seed) : rng_(seed), env_(Env::Default(), seed ^ 0x5eed) {
    const uint64_t segment_sizes[] = {4096, 16384, uint64_t{1} << 20};
    options_.segment_size_bytes_max = segment_sizes[rng_() % 3];
    // Half the runs begin on a prepared (zero-filled) segment, and every run writes over
    // recycled segments once it removed some: a cut must give the overwritten bytes back.
    options_.prepare_segments = rng_() % 2 == 0;
    options_.recycled_segments_max = rng_() % 4;  // 0: every removed segment is deleted
    env_.set_forward_syncs(false);  // The cut is simulated; real fdatasyncs would only cost time.
  }

  void Run() {
    for (int cycle = 0; cycle < kCrashCycleCount; cycle++) {
      SCOPED_TRACE("crash cycle " + std::to_string(cycle));
      ASSERT_NO_FATAL_FAILURE(RecoverAndCheck());
      ASSERT_NO_FATAL_FAILURE(Work());
      const PowerCutMode mode = rng_() % 2 == 0 ? PowerCutMode::kDropUnsynced
                                                : PowerCutMode::kKeepRandomPrefix;
      for (int kind = 0; kind < kFaultKindCount; kind++) {
        coverage.fault_count += env_.fired_count(static_cast<FaultKind>(kind)) - fired_before_[kind];
        fired_before_[kind] = env_.fired_count(static_cast<FaultKind>(kind));
      }
      env_.DisarmAll();
      coverage.prepared_segment_count += writer_->prepared_segment_count();
      if (options_.prepare_segments && writer_->prepared_segment_count() > 0) coverage.cut_over_zero_fill_count++;
      coverage.recycled_segment_count += writer_->recycled_segment_count();
      if (writer_->recycled_segment_count() > 0) coverage.cut_over_recycled_count++;
      ASSERT_TRUE(env_.PowerCut(mode).ok());
      writer_.reset();  // Writes nothing: the "process" died with the power.
      exact_ = mode == PowerCutMode::kDropUnsynced;
    }
    ASSERT_NO_FATAL_FAILURE(RecoverAndCheck());
  }

 private:
  void RecoverAndCheck() {
    JournalRecovery recovery;
    Status status = JournalWriter::Open(&env_, dir_.path(), options_, &writer_, &recovery);
    ASSERT_TRUE(status.ok()) << status.ToString();
    const uint64_t recovered = recovery.op_last;
    coverage.torn_tail_count += recovery.torn_tail.has_value() ? 1 : 0;
    coverage.segment_count_max = std::max(coverage.segment_count_max, recovery.segment_count);
    coverage.entry_count = std::max<uint64_t>(coverage.entry_count, recovered);
    if (exact_) {
      ASSERT_EQ(recovered, durable_) << "recovery must yield exactly the synced prefix";
    } else {
      ASSERT_GE(recovered, durable_);
      ASSERT_LE(recovered, model_.size());
    }
    std::vector<JournalSegment> segments;
    ASSERT_TRUE(ListJournalSegments(&env_, dir_.path(), &segments).ok());
    uint64_t next_op = segments.empty() ? 1 : segments.front().first_op;
    std::unique_ptr<JournalReader> reader;
    ASSERT_TRUE(JournalReader::Open(&env_, dir_.path(), next_op, &reader).ok());
    for (;;) {  // Bounded by the entries on disk.
      JournalEntry entry;
      bool done = false;
      status = reader->Next(&entry, &done);
      ASSERT_TRUE(status.ok()) << status.ToString();
      if (done) break;
      ASSERT_EQ(entry.op, next_op);
      ASSERT_LE(entry.op, model_.size());
      const Entry& want = model_[entry.op - 1];
      ASSERT_EQ(entry.timestamp_us, want.timestamp_us);
      ASSERT_EQ(entry.command_count, want.command_count);
      ASSERT_TRUE(std::equal(entry.body.begin(), entry.body.end(), want.body.begin(), want.body.end()));
      next_op++;
    }
    ASSERT_FALSE(reader->torn_tail().has_value());  // The writer truncated it.
    ASSERT_EQ(next_op - 1, recovered);
    model_.resize(recovered);
    durable_ = recovered;
  }

  void ArmRandomFaults() {
    if (rng_() % 3 != 0) return;  // Most cycles run clean, so they get far.
    const FaultKind kinds[] = {FaultKind::kShortWrite, FaultKind::kWriteError, FaultKind::kNoSpace,
                               FaultKind::kSyncError};
    env_.Arm(kinds[rng_() % 4], {.probability = 0.03});
  }

  void Work() {
    ArmRandomFaults();
    const int step_count = static_cast<int>(rng_() % kStepCountMax);
    for (int step = 0; step < step_count; step++) {
      const uint64_t action = rng_() % 100;
      Status status;
      if (action < 70) {
        Entry entry{rng_(), static_cast<uint32_t>(rng_() % 1000),
                    RandomBytes(rng_, rng_() % (kBodySizeBytesMax + 1))};
        status = writer_->Append(model_.size() + 1, entry.timestamp_us, entry.command_count, entry.body);
        if (status.ok()) model_.push_back(std::move(entry));
      } else if (action < 90) {
        status = writer_->Sync();
        if (status.ok()) {
          durable_ = writer_->op_last_durable();
          ASSERT_EQ(durable_, model_.size());
        }
      } else if (action < 97) {
        status = writer_->Flush();
      } else {
        // As after a snapshot at a durable op.
        uint64_t keep_from = 1 + rng_() % (durable_ + 1);
        status = RemoveJournalSegmentsBefore(&env_, dir_.path(), keep_from, nullptr, options_.recycled_segments_max);
        ASSERT_TRUE(status.ok()) << status.ToString();
      }
      // Rolling a segment syncs too, so the writer is the authority on what is durable.
      ASSERT_GE(writer_->op_last_durable(), durable_);
      durable_ = writer_->op_last_durable();
      if (!status.ok()) {
        ASSERT_EQ(writer_->failure().message(), status.message());
        return;  // A failed writer is done: crash and recover.
      }
    }
  }

  std::mt19937_64 rng_;
  TempDir dir_;
  FaultEnv env_;
  JournalOptions options_;
  std::unique_ptr<JournalWriter> writer_;
  std::vector<Entry> model_;  // model_[i] is op i + 1: everything ever appended.
  uint64_t durable_ = 0;
  bool exact_ = true;
  uint64_t fired_before_[kFaultKindCount] = {};
};

TEST(PowerCut, RecoveryYieldsExactlyTheSyncedPrefix) {
  const uint64_t seed = TestSeed("PowerCut.RecoveryYieldsExactlyTheSyncedPrefix");
  std::mt19937_64 rng(seed);
  const int run_count = testing::LongRun() ? 2000 : 150;
  for (int run = 0; run < run_count; run++) {
    const uint64_t run_seed = rng();
    SCOPED_TRACE("seed " + std::to_string(seed) + " run " + std::to_string(run) + " run seed " +
                 std::to_string(run_seed));
    CrashRun crash_run(run_seed);
    ASSERT_NO_FATAL_FAILURE(crash_run.Run());
  }
  std::printf("%d runs: %llu torn tails truncated, %llu faults injected, up to %llu segments and "
              "%llu entries, %llu prepared segments, %llu cuts after beginning a prepared segment, "
              "%llu recycled segments, %llu cuts after beginning a recycled one\n", run_count,
              static_cast<unsigned long long>(coverage.torn_tail_count),
              static_cast<unsigned long long>(coverage.fault_count),
              static_cast<unsigned long long>(coverage.segment_count_max),
              static_cast<unsigned long long>(coverage.entry_count),
              static_cast<unsigned long long>(coverage.prepared_segment_count),
              static_cast<unsigned long long>(coverage.cut_over_zero_fill_count),
              static_cast<unsigned long long>(coverage.recycled_segment_count),
              static_cast<unsigned long long>(coverage.cut_over_recycled_count));
  EXPECT_GT(coverage.torn_tail_count, 0u);
  EXPECT_GT(coverage.fault_count, 0u);
  EXPECT_GT(coverage.prepared_segment_count, 0u);
  EXPECT_GT(coverage.cut_over_zero_fill_count, 0u);
  EXPECT_GT(coverage.recycled_segment_count, 0u);
  EXPECT_GT(coverage.cut_over_recycled_count, 0u);
}

}  // namespace
}  // namespace eleven
