#include "replica/follower.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "base/assert.h"
#include "base/clock.h"
#include "replica/replay.h"

namespace eleven::replica {

Follower::Follower(Env* env, std::string dir, const FollowerOptions& options,
                   std::unique_ptr<engine::Engine> engine, std::function<uint64_t()> op_durable,
                   std::function<Status()> journal_failure)
    : env_(env),
      dir_(std::move(dir)),
      options_(options),
      op_durable_(std::move(op_durable)),
      journal_failure_(std::move(journal_failure)),
      engine_(std::move(engine)) {
  if (engine_ != nullptr) op_followed_.store(engine_->last_op(), std::memory_order_relaxed);
  if (options_.view != nullptr) options_.view->SetWake([this] { Wake(); });
  thread_ = std::thread([this] { Run(); });
}

Follower::~Follower() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
  thread_.join();
  if (options_.view != nullptr) {
    options_.view->Attach(nullptr);  // before its copy goes
    options_.view->SetWake(nullptr);
  }
}

void Follower::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool Follower::Request(uint64_t op) {
  {
    std::lock_guard lock(mutex_);
    if (requested_.load(std::memory_order_relaxed)) return false;
    request_op_ = op;
    done_ = false;
    requested_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  return true;
}

bool Follower::Poll(bool wait, FollowerSnapshot* snapshot) {
  std::unique_lock lock(mutex_);
  ELEVEN_ASSERT(requested_.load(std::memory_order_relaxed));
  if (wait) cv_.wait(lock, [this] { return done_; });
  if (!done_) return false;
  *snapshot = std::move(result_);
  result_ = FollowerSnapshot{};
  request_op_ = 0;
  done_ = false;
  requested_.store(false, std::memory_order_release);
  return true;
}

void Follower::Run() {
  // Linux takes a thread id here: only this thread runs beneath the others.
  if (options_.nice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.nice);
  // The lists' indexes are built here, off the thread that opened the replica.
  if (options_.view != nullptr && engine_ != nullptr) options_.view->Attach(engine_.get());
  for (;;) {
    uint64_t snapshot_op = 0;
    uint64_t durable = 0;
    {
      std::unique_lock lock(mutex_);
      const auto woken = [this] {
        return stop_.load(std::memory_order_relaxed) || (request_op_ != 0 && !done_) || woken_;
      };
      if (options_.interval_ms == 0) {
        cv_.wait(lock, woken);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms), woken);
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      woken_ = false;
      if (request_op_ != 0 && !done_) snapshot_op = request_op_;
      // Read under the lock, as Request writes: a request made after this read is for an op
      // (the last submitted) at or past it, so a catch-up to it never passes the op asked for.
      durable = op_durable_();
    }
    Status failure;
    if (snapshot_op != 0 && durable < snapshot_op) failure = journal_failure_();
    if (!failure.ok()) {  // the op asked for will never be durable
      std::lock_guard lock(mutex_);
      result_ = FollowerSnapshot{.status = failure, .op = snapshot_op};
      done_ = true;
      cv_.notify_all();
      continue;
    }
    if (snapshot_op == 0 || durable < snapshot_op) {
      // Between snapshots, or until the op asked for is durable: keep up, so that a snapshot
      // has little left to replay. After a failure (its copy is dropped) it waits for the next
      // snapshot asked for, which tries again and reports it: reloading gigabytes every
      // interval would take the machine from the engine.
      if (!catch_up_failed_) catch_up_failed_ = !CatchUp(durable).ok();
      if (snapshot_op != 0) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(1), [this] { return stop_.load(std::memory_order_relaxed); });
      }
      continue;
    }
    FollowerSnapshot snapshot;
    snapshot.op = snapshot_op;
    const uint64_t started = MonotonicNs();
    snapshot.status = CatchUp(snapshot_op);
    catch_up_failed_ = !snapshot.status.ok();
    snapshot.replay_ms = double(MonotonicNs() - started) / 1e6;
    if (snapshot.status.ok()) snapshot.status = Write(&snapshot);
    {
      std::lock_guard lock(mutex_);
      result_ = std::move(snapshot);
      done_ = true;
    }
    cv_.notify_all();
  }
}

Status Follower::CatchUp(uint64_t op) {
  Status status;
  if (engine_ == nullptr) {
    auto engine = std::make_unique<engine::Engine>(options_.engine);
    SnapshotLoad load;
    status = LoadNewestSnapshot(env_, dir_, &load);
    if (status.ok() && load.found) {
      status = engine->Restore(load.snapshot.body);
      if (!status.ok()) status = Status::Corruption(load.snapshot.path + ": " + status.ToString());
    }
    if (!status.ok()) return status;
    engine_ = std::move(engine);
    position_.reset();
    op_followed_.store(engine_->last_op(), std::memory_order_relaxed);
    if (options_.view != nullptr) options_.view->Attach(engine_.get());
  }
  if (engine_->last_op() > op) {
    // Its copy was loaded from a snapshot newer than what it is asked for.
    return Status::FailedPrecondition("the follower is at op " + std::to_string(engine_->last_op()) +
                                      ", past op " + std::to_string(op));
  }
  if (engine_->last_op() == op) return Status::Ok();
  ReplayOptions replay{.op_to = op, .after = position_, .stop = &stop_, .view = options_.view};
  ReplayReport report;
  status = ReplayJournal(env_, dir_, engine_.get(), replay, &report);
  if (!status.ok()) {
    if (options_.view != nullptr) options_.view->Attach(nullptr);  // before its copy goes
    engine_.reset();  // at an unknown op, or stopped: loaded afresh next time
    position_.reset();
    return status;
  }
  position_ = report.end;
  op_followed_.store(engine_->last_op(), std::memory_order_relaxed);
  return Status::Ok();
}

Status Follower::Write(FollowerSnapshot* snapshot) {
  ELEVEN_ASSERT(engine_ != nullptr && engine_->last_op() == snapshot->op);
  const uint64_t started = MonotonicNs();
  engine::Engine::SnapshotParts parts;
  engine_->SnapshotChunks(&parts);
  SnapshotWriteOptions write = options_.write;
  write.cancel = &stop_;
  Status status = WriteSnapshot(env_, dir_, snapshot->op, engine_->last_timestamp_us(), parts.chunks,
                                &snapshot->write, write);
  snapshot->write_ms = double(MonotonicNs() - started) / 1e6;
  return status;
}

}  // namespace eleven::replica
