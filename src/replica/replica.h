// Replica: the engine, its log and its snapshots put together. This is what an embedded
// user (the festival, `eleven w1`) and the server drive.
//
// The log (replica/log.h) is the local journal unless Open is given another one (a JetStream
// stream in cluster mode, docs/cluster.md); below, "the journal" means whichever it is.
//
// One *engine thread* owns the Replica and calls everything below. Submit() stamps a batch
// with the next op and the log time, appends it to a staging buffer and applies it to the
// engine at once; its results are correct immediately but must not be released (shown to
// anyone) until op_durable() has reached its op. A background *sync thread* takes the
// staged entries, appends them to the log and makes them durable with one Log::Sync per
// group (group commit: one fdatasync for the journal), while the engine thread goes on
// applying the next batches.
//
// A replica that follows a log another node writes (a cluster follower) never submits: it
// applies the entries the log delivers with ApplyLogged, which are durable already.
//
// Failure: if a journal write or sync fails (ENOSPC, EIO), the replica is failed for good:
// op_durable() stops, journal_failed() turns true at once (any thread may ask), the durable
// callback is called, WaitDurable() returns the error, and every later Submit() returns it
// without applying anything. Nothing applied after the last durable op was ever released,
// so nothing acknowledged is lost; restarting recovers from disk.
//
// Recovery (Open): the newest valid snapshot, then every journal entry after it, replayed
// through the same engine. A torn entry at the journal's tail is cut off and reported; any
// other damage refuses to open, naming the file and offset.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/histogram.h"
#include "base/status.h"
#include "engine/engine.h"
#include "replica/follower.h"
#include "replica/log.h"
#include "replica/replay.h"
#include "replica/shape.h"
#include "storage/data_dir.h"
#include "storage/env.h"
#include "storage/journal.h"
#include "storage/snapshot.h"
#include "wire/records.h"

namespace eleven::replica {

// How long Open waits for the data directory's lock before answering Busy, and how often it
// tries meanwhile. A fork-mode snapshot child shares its parent's lock: a restart right after
// a crash may find the dying child still holding it (it is killed with its parent, but not
// at the same instant).
inline constexpr uint32_t kDataDirLockWaitMsDefault = 5000;
inline constexpr uint32_t kDataDirLockRetryMs = 50;

struct ReplicaOptions {
  // The data directory's shape (replica/shape.h): Open refuses options that differ from
  // what its manifest records (callers read it first, ReadDataShape).
  engine::EngineConfig engine;
  // Open retries a held lock for this long (kDataDirLockWaitMsDefault); 0 answers Busy at once.
  uint32_t lock_wait_ms = kDataDirLockWaitMsDefault;
  LogClock clock = LogClock::kWall;
  JournalOptions journal;
  // Each staging buffer holds entries waiting for the sync thread; two of them alternate.
  // A full buffer while the other is still being synced is back-pressure: Submit waits.
  uint64_t staging_size_bytes = uint64_t{32} << 20;
  // After a snapshot, journal segments older than the oldest kept snapshot are removed.
  // Off keeps the whole journal (audits, and tests that replay it from op 1).
  bool remove_old_journal_segments = true;
  // How snapshots are written (docs/operations.md, "Snapshots"):
  //  - kFork: a forked child writes the engine's own memory, copy-on-write. No second copy of
  //    the state, but every page the engine writes after the fork is copied 4 KiB at a time,
  //    each copy a fault: under load that stalls apply (and so the journal) for seconds here.
  //  - kFollower: a second copy of the state follows the durable journal on a thread of its
  //    own and writes it (replica/follower.h): the engine stands still for a hand-over only;
  //    twice the state's memory.
  enum class SnapshotMode { kFork, kFollower };
  SnapshotMode snapshot_mode = SnapshotMode::kFork;
  uint32_t follower_interval_ms = 100;  // FollowerOptions::interval_ms
  int follower_nice = 10;               // FollowerOptions::nice
  SnapshotWriteOptions follower_write;  // FollowerOptions::write
  // kFollower: keep the lists' view beside the follower's copy (read_view(); its indexes take
  // 40 bytes an order slot plus 32 for the buyers' heads, docs/read-side.md).
  bool read_view = true;
};

struct RecoveryReport {
  bool snapshot_found = false;
  uint64_t snapshot_op = 0;
  std::vector<std::string> snapshots_skipped;  // newer snapshots that failed their checks
  uint64_t entries_replayed = 0;
  uint64_t commands_replayed = 0;
  uint64_t bytes_replayed = 0;  // journal bytes after the snapshot (they count toward the next)
  std::optional<JournalTornTail> torn_tail;
  uint64_t op_last = 0;
  double seconds = 0;         // the whole recovery
  double replay_seconds = 0;  // of which replaying the journal
  std::string ToString() const;
};


struct SnapshotReport {
  uint64_t op = 0;
  uint64_t size_bytes = 0;
  // How long the engine thread stood still: kFork, the wait for durability and the fork;
  // kFollower, the hand-over.
  double stall_ms = 0;
  double write_ms = 0;     // from the start to the end of the background writer
  double replay_ms = 0;    // kFollower: of which catching up to op
};

class Replica {
 public:
  // Opens a formatted data directory (see storage/data_dir.h), recovers, and starts the sync
  // thread. The Env must outlive the Replica. A directory whose lock is held is tried again
  // for options.lock_wait_ms before Busy. FailedPrecondition, naming every key and both
  // values, if `options` contradict the shape its manifest records (nothing is written).
  [[nodiscard]] static Status Open(Env* env, const std::string& dir, const ReplicaOptions& options,
                                   std::unique_ptr<Replica>* replica, RecoveryReport* report,
                                   const RecoveryProgress& progress = nullptr);
  // The same on `log` instead of the data directory's journal (the directory then holds the
  // snapshots only). The snapshot follower reads the local journal: SnapshotMode::kFollower
  // is refused (InvalidArgument) with another log.
  [[nodiscard]] static Status Open(Env* env, const std::string& dir, const ReplicaOptions& options,
                                   std::unique_ptr<Log> log, std::unique_ptr<Replica>* replica,
                                   RecoveryReport* report,
                                   const RecoveryProgress& progress = nullptr);
  ~Replica();  // waits for the sync thread (syncing what is staged) and any snapshot child;
              // cancels a snapshot the follower is writing

  // Applies `commands` as the next log entry at log time max(now_us, last timestamp) and
  // stages it for the journal. `*op` receives its op; `results[i]` the result of commands[i]
  // (not to be released before op_durable() >= *op). InvalidArgument for an empty or
  // oversized batch (nothing changes); the failure after a failed journal.
  [[nodiscard]] Status Submit(std::span<const wire::Command> commands, uint64_t now_us,
                              std::span<wire::Result> results, uint64_t* op);
  // Appends an entry with no commands at log time max(now_us, last timestamp) — a tick: the
  // engine does the time-driven work due by then (Engine::NextDueUs), and the journal records
  // it so a replay does the same. Durable and released like Submit's entries.
  [[nodiscard]] Status Tick(uint64_t now_us, uint64_t* op);
  // Applies an entry the log already holds (`op` = op_submitted() + 1, at `timestamp_us`, no
  // earlier than the last one's), as a follower of a log another node writes: the entry is
  // not staged and is durable at once. Corruption if the engine refuses it as a batch (a log
  // that is not this engine's). Never mixed with Submit/Tick entries not yet durable.
  [[nodiscard]] Status ApplyLogged(uint64_t op, uint64_t timestamp_us,
                                   std::span<const wire::Command> commands,
                                   std::span<wire::Result> results);
  // Hands staged entries to the sync thread if it is idle (after each sync it also takes them
  // itself); never blocks but for the lock.
  void Flush();
  // Blocks until `op` is durable (or the replica failed).
  [[nodiscard]] Status WaitDurable(uint64_t op);
  uint64_t op_durable() const { return op_durable_.load(std::memory_order_acquire); }
  uint64_t op_submitted() const { return engine_->last_op(); }
  // Called on the sync thread each time a sync ends: op_durable() advanced, or the journal
  // failed (journal_failure() then says how). E.g. to wake a server loop.
  void SetDurableCallback(std::function<void(uint64_t op)> callback);
  // The sync thread's failure (ok while the journal is healthy); any thread may ask.
  [[nodiscard]] Status journal_failure();
  // Whether the journal failed (journal_failure() says how); lock-free, any thread. Once
  // true, op_durable() never moves again: an op above it will never be durable.
  bool journal_failed() const { return journal_failed_.load(std::memory_order_acquire); }

  // Starts a snapshot of the state at the last submitted op in the background. kFork: in a
  // forked child (copy-on-write), after waiting for that op to be durable. kFollower: by the
  // follower, once that op is durable (the engine thread does not wait). Returns once it is
  // started; PollSnapshot tells when it ended. FailedPrecondition if one is already running.
  [[nodiscard]] Status StartSnapshot();
  // If a snapshot child has ended: its report (and old journal segments are removed).
  // Returns ok with *done = false while it runs. `wait` blocks until it ends.
  [[nodiscard]] Status PollSnapshot(bool wait, bool* done, SnapshotReport* report);
  bool snapshot_running() const {
    return follower_ != nullptr ? follower_->requested() : snapshot_pid_ > 0;
  }
  // kFollower: the op the follower's copy of the state is at (0 otherwise).
  uint64_t op_followed() const { return follower_ != nullptr ? follower_->op_followed() : 0; }
  bool snapshot_follower() const { return follower_ != nullptr; }
  // kFollower: the lists' view of the follower's state (docs/read-side.md); null otherwise.
  // Any thread may read it; it lives as long as the replica.
  view::ReadView* read_view() const { return read_view_.get(); }

  const engine::Engine& engine() const { return *engine_; }
  std::string_view log_name() const { return log_->name(); }
  const std::string& dir() const { return dir_->path(); }
  // Journal figures (read on the engine thread; updated by the sync thread).
  uint64_t journal_bytes_written() const { return log_->bytes_written(); }
  // The journal after the newest snapshot that Open replayed: with the bytes written since, what
  // the next snapshot makes unnecessary to replay (a snapshot trigger counts both).
  uint64_t journal_bytes_replayed() const { return journal_bytes_replayed_; }
  uint64_t journal_sync_count() const { return log_->sync_count(); }
  // How long each group commit's write + fdatasync took, in µs (any thread may read).
  const LogHistogram& journal_sync_histogram() const { return journal_sync_us_; }
  const Status& failure() const { return failure_; }

 private:
  struct Staging {
    std::unique_ptr<std::byte[]> bytes;
    uint64_t used_bytes = 0;
    uint64_t op_last = 0;
  };
  Replica(Env* env, std::unique_ptr<DataDir> dir, const ReplicaOptions& options,
          std::unique_ptr<Log> log);
  // Submit and Tick: stages, applies and publishes one entry of 0..batch max commands.
  [[nodiscard]] Status Append(std::span<const wire::Command> commands, uint64_t now_us,
                              std::span<wire::Result> results, uint64_t* op);
  [[nodiscard]] Status Recover(RecoveryReport* report, const RecoveryProgress& progress);
  void SyncLoop();
  [[nodiscard]] Status SyncStaging(const Staging& staging);
  // Hands the filling buffer to the sync thread if it is idle and the buffer holds entries.
  void HandOverLocked();  // mutex_ held

  Env* const env_;
  const std::unique_ptr<DataDir> dir_;
  const ReplicaOptions options_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Log> log_;  // used only by the sync thread once it runs

  Staging staging_[2];
  std::unique_ptr<std::byte[]> packed_;  // the sync thread's: one entry's packed commands
  int filling_ = 0;  // index of the buffer Submit() appends to (guarded by mutex_)

  std::mutex mutex_;
  std::condition_variable cv_;
  bool handed_ = false;     // staging_[1 - filling_] is with the sync thread
  bool stopping_ = false;
  uint64_t remove_segments_before_op_ = 0;  // set after a snapshot; done by the sync thread
  Status sync_failure_;     // guarded by mutex_
  std::atomic<bool> journal_failed_{false};  // set with sync_failure_, before the callback
  std::function<void(uint64_t)> durable_callback_;
  std::atomic<uint64_t> op_durable_{0};
  uint64_t journal_bytes_replayed_ = 0;  // set by Recover
  LogHistogram journal_sync_us_;  // recorded by the sync thread
  Status failure_;          // engine-thread copy of the failure
  std::thread sync_thread_;

  std::unique_ptr<view::ReadView> read_view_;  // kFollower; outlives follower_, which feeds it
  std::unique_ptr<Follower> follower_;  // kFollower
  std::unique_ptr<engine::Engine> follower_engine_;  // made by Recover, then the follower's
  int snapshot_pid_ = 0;
  int snapshot_pipe_ = -1;
  uint64_t snapshot_op_ = 0;
  double snapshot_stall_ms_ = 0;
  uint64_t snapshot_started_ns_ = 0;
};

// The shape part of `options`.
inline DataShape ShapeOf(const ReplicaOptions& options) {
  return DataShape{options.engine, options.clock};
}

// Creates and formats a data directory with `shape` recorded in its manifest (refusing an
// existing non-empty one).
[[nodiscard]] Status FormatDataDir(Env* env, const std::string& path, const DataShape& shape);

// Records `shape` in the manifest of a directory formatted before manifests, once it has
// shown that the directory reads with it: its newest good snapshot restores into an engine
// of that shape (capacities and pay window are checked there) and the journal replays onto
// it. Nothing is written if not. `*replay` tells what was replayed.
[[nodiscard]] Status AdoptDataDir(Env* env, const std::string& path, const DataShape& shape,
                                  ReplayReport* replay);

}  // namespace eleven::replica
