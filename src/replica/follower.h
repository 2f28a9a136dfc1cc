// The snapshot follower: a second copy of the state machine, on a thread of its own, that
// follows the durable journal (replaying it with recovery's code, ReplayJournal) and writes
// snapshots of its own state when asked. The engine thread shares no memory with the writer:
// no fork, so no copy-on-write fault on each page the engine writes after it, which under
// load stalled the journal for seconds in this machine's guest (docs/benchmarks.md,
// "Snapshots under load"). It costs a second copy of the state in memory (plus, while it
// loads the newest snapshot, that snapshot's body) and replaying every entry once more, on a
// thread that runs beneath the server's (niceness `nice`).
//
// It reads only entries up to an op already durable when it starts a catch-up (a bounded
// JournalReader), so it may read the journal beside the writer; each catch-up resumes where
// the last one ended (JournalPosition). Old segments are removed only after a snapshot it
// wrote, and never those it has still to read.
//
// Threads: the owner (the replica's engine thread) calls Request and Poll; the follower's
// own thread does the rest. If it cannot read or apply a journal entry it drops its copy and
// loads it afresh at the next catch-up; the snapshot asked for reports the failure (as it
// does a failed write).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/status.h"
#include "engine/engine.h"
#include "view/read_view.h"
#include "storage/env.h"
#include "storage/journal.h"
#include "storage/snapshot.h"

namespace eleven::replica {

struct FollowerOptions {
  engine::EngineConfig engine;
  // How often it catches up with the durable journal between snapshots, so a snapshot asked
  // for has little left to replay. 0: only when a snapshot is asked for.
  uint32_t interval_ms = 100;
  // Its thread's niceness (setpriority): above 0 it yields the cores to the engine and the
  // network threads, and replays with what they leave.
  int nice = 10;
  // Its snapshot file is written in slices at a bounded rate (SnapshotWriteOptions).
  SnapshotWriteOptions write;
  // If set, the lists' view of its state (view/read_view.h): attached to each copy it
  // loads, told of each entry it applies, and able to wake it for a catch-up now.
  view::ReadView* view = nullptr;
};

struct FollowerSnapshot {
  Status status;
  uint64_t op = 0;
  SnapshotWriteResult write;
  double replay_ms = 0;  // catching up to op after the request
  double write_ms = 0;   // writing the snapshot file
};

class Follower {
 public:
  // Called on the follower's thread (thread-safe): `op_durable`, the newest durable op;
  // `journal_failure`, why the journal stopped (ok while it runs), asked while the follower
  // waits for a snapshot's op to become durable.
  // `engine` (may be null: it is then loaded from the newest snapshot at the first catch-up)
  // is its copy of the state to start from, at an op the journal holds or precedes.
  Follower(Env* env, std::string dir, const FollowerOptions& options,
           std::unique_ptr<engine::Engine> engine, std::function<uint64_t()> op_durable,
           std::function<Status()> journal_failure);
  ~Follower();  // stops between two entries or two slices of a snapshot being written

  // Asks for a snapshot of the state at `op` (written once `op` is durable). False if one was
  // asked for and Poll has not yet returned it.
  bool Request(uint64_t op);
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  // Once the snapshot asked for is written (or failed): true, with *snapshot filled. `wait`
  // blocks until then.
  bool Poll(bool wait, FollowerSnapshot* snapshot);
  // The op its copy of the state is at (0 before it loaded one).
  uint64_t op_followed() const { return op_followed_.load(std::memory_order_relaxed); }
  // Catches up with the durable journal now rather than at the next interval (any thread).
  void Wake();

 private:
  void Run();
  [[nodiscard]] Status CatchUp(uint64_t op);
  [[nodiscard]] Status Write(FollowerSnapshot* snapshot);

  Env* const env_;
  const std::string dir_;
  const FollowerOptions options_;
  const std::function<uint64_t()> op_durable_;
  const std::function<Status()> journal_failure_;
  std::unique_ptr<engine::Engine> engine_;   // the follower thread's
  std::optional<JournalPosition> position_;  // where engine_'s last op ends in the journal
  bool catch_up_failed_ = false;             // the last catch-up failed: none until a request

  std::atomic<bool> stop_{false};
  std::atomic<bool> requested_{false};
  bool woken_ = false;  // guarded by mutex_
  std::atomic<uint64_t> op_followed_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t request_op_ = 0;  // guarded by mutex_, as are the two below
  bool done_ = false;
  FollowerSnapshot result_;
  std::thread thread_;
};

}  // namespace eleven::replica
