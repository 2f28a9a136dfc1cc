#include "replica/replica.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "base/assert.h"
#include "base/clock.h"
#include "replica/journal_log.h"
#include "storage/snapshot.h"
#include "wire/packed.h"

namespace eleven::replica {

namespace {

// A staged entry: this head, then command_count command records.
struct StagedHead {
  uint64_t op;
  uint64_t timestamp_us;
  uint32_t command_count;
  uint32_t reserved;
};
static_assert(sizeof(StagedHead) == 24);


// What a snapshot child reports to its parent through a pipe.
struct ChildReport {
  uint64_t ok;
  uint64_t size_bytes;
  uint64_t journal_op_keep_from;
  char error[232];
};

}  // namespace

std::string RecoveryReport::ToString() const {
  std::string out = snapshot_found ? "snapshot at op " + std::to_string(snapshot_op) : "no snapshot";
  out += ", replayed " + std::to_string(entries_replayed) + " entries (" +
         std::to_string(commands_replayed) + " commands) in " + std::to_string(replay_seconds) +
         " s, now at op " + std::to_string(op_last);
  for (const auto& s : snapshots_skipped) out += "; skipped snapshot " + s;
  if (torn_tail) out += "; " + torn_tail->ToString();
  return out;
}

Status FormatDataDir(Env* env, const std::string& path, const DataShape& shape) {
  // The id only has to be unique among directories: time and pid are enough here.
  const uint64_t now = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count());
  DataDirId id{Fmix64(now), Fmix64(now ^ static_cast<uint64_t>(getpid()) << 32) | 1};
  return DataDir::Format(env, path, id, ShapeToManifest(shape));
}

Status AdoptDataDir(Env* env, const std::string& path, const DataShape& shape,
                    ReplayReport* replay) {
  ELEVEN_ASSERT(env != nullptr && replay != nullptr);
  std::unique_ptr<DataDir> dir;
  ELEVEN_RETURN_IF_ERROR(DataDir::Open(env, path, &dir));
  DataShape recorded;
  const Status read = ReadDataShape(env, path, &recorded);
  if (read.ok()) {
    return Status::FailedPrecondition("data directory " + path + " already has a " + kManifestName +
                                      "; its shape is recorded");
  }
  if (read.code() != StatusCode::kFailedPrecondition) return read;  // damaged, or not formatted
  engine::Engine engine(shape.engine);
  SnapshotLoad load;
  ELEVEN_RETURN_IF_ERROR(LoadNewestSnapshot(env, path, &load));
  if (load.found) {
    const Status restored = engine.Restore(load.snapshot.body);
    if (!restored.ok()) {
      return Status::FailedPrecondition(load.snapshot.path +
                                        " does not restore with the shape given (" +
                                        restored.ToString() + "); nothing was recorded");
    }
  }
  std::vector<std::byte>().swap(load.snapshot.body);
  ELEVEN_RETURN_IF_ERROR(ReplayJournal(env, path, &engine, RecoveryProgress(), replay));
  engine.CheckInvariants();
  return dir->Adopt(env, ShapeToManifest(shape));
}

Replica::Replica(Env* env, std::unique_ptr<DataDir> dir, const ReplicaOptions& options,
                 std::unique_ptr<Log> log)
    : env_(env), dir_(std::move(dir)), options_(options), log_(std::move(log)) {
  if (log_ == nullptr) log_ = std::make_unique<JournalLog>(env, dir_->path(), options.journal);
  ELEVEN_ASSERT(options.staging_size_bytes >=
                sizeof(StagedHead) + wire::kCommandSize * options.engine.batch_command_count_max);
  for (Staging& s : staging_) s.bytes = std::make_unique<std::byte[]>(options.staging_size_bytes);
  packed_ = std::make_unique<std::byte[]>(size_t{options.engine.batch_command_count_max} *
                                          wire::kPackedCommandSizeMax);
}

// DataDir::Open, retried every kDataDirLockRetryMs while the lock is held (Busy), for at most
// `wait_ms`; then Busy, saying how long it waited.
static Status OpenDataDirWaiting(Env* env, const std::string& path, uint32_t wait_ms, std::unique_ptr<DataDir>* dir) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  // Bounded by wait_ms / kDataDirLockRetryMs + 1 tries.
  for (;;) {
    Status opened = DataDir::Open(env, path, dir);
    if (opened.code() != StatusCode::kBusy) return opened;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (wait_ms == 0) return opened;
      return Status::Busy(opened.message() + " (still after waiting " + std::to_string(wait_ms) + " ms)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kDataDirLockRetryMs));
  }
}

Status Replica::Open(Env* env, const std::string& path, const ReplicaOptions& options,
                     std::unique_ptr<Replica>* replica, RecoveryReport* report,
                     const RecoveryProgress& progress) {
  return Open(env, path, options, nullptr, replica, report, progress);
}

Status Replica::Open(Env* env, const std::string& path, const ReplicaOptions& options,
                     std::unique_ptr<Log> log, std::unique_ptr<Replica>* replica,
                     RecoveryReport* report, const RecoveryProgress& progress) {
  if (log != nullptr && options.snapshot_mode == ReplicaOptions::SnapshotMode::kFollower) {
    return Status::InvalidArgument(
        "the snapshot follower reads the local journal: a replica on the " +
        std::string(log->name()) + " log writes its snapshots by fork");
  }
  std::unique_ptr<DataDir> dir;
  ELEVEN_RETURN_IF_ERROR(OpenDataDirWaiting(env, path, options.lock_wait_ms, &dir));
  // Under the lock: the journal is replayed only into the shape the directory records.
  DataShape recorded;
  ELEVEN_RETURN_IF_ERROR(ReadDataShape(env, path, &recorded));
  ELEVEN_RETURN_IF_ERROR(
      CheckShape(path, recorded, ShapeOf(options), AllShapeKeys("in the replica's options")));
  std::unique_ptr<Replica> r(new Replica(env, std::move(dir), options, std::move(log)));
  *report = RecoveryReport{};
  ELEVEN_RETURN_IF_ERROR(r->Recover(report, progress));
  r->sync_thread_ = std::thread([raw = r.get()] { raw->SyncLoop(); });
  if (options.snapshot_mode == ReplicaOptions::SnapshotMode::kFollower) {
    if (options.read_view) r->read_view_ = std::make_unique<view::ReadView>(options.engine);
    r->follower_ = std::make_unique<Follower>(
        env, path,
        FollowerOptions{.engine = options.engine,
                        .interval_ms = options.follower_interval_ms,
                        .nice = options.follower_nice,
                        .write = options.follower_write,
                        .view = r->read_view_.get()},
        std::move(r->follower_engine_), [raw = r.get()] { return raw->op_durable(); },
        [raw = r.get()] { return raw->journal_failure(); });
  }
  *replica = std::move(r);
  return Status::Ok();
}

Status Replica::Recover(RecoveryReport* report, const RecoveryProgress& progress) {
  const uint64_t started = MonotonicNs();
  engine_ = std::make_unique<engine::Engine>(options_.engine);
  // A snapshot a crash cut short: never read, and on a small disk what would fill it.
  ELEVEN_RETURN_IF_ERROR(RemoveSnapshotTempFiles(env_, dir_->path(), nullptr));
  SnapshotLoad load;
  ELEVEN_RETURN_IF_ERROR(LoadNewestSnapshot(env_, dir_->path(), &load));
  report->snapshots_skipped = load.skipped;
  if (load.found) {
    report->snapshot_found = true;
    report->snapshot_op = load.snapshot.op;
    Status restored = engine_->Restore(load.snapshot.body);
    if (!restored.ok()) return Status::Corruption(load.snapshot.path + ": " + restored.ToString());
    if (engine_->last_op() != load.snapshot.op) {
      return Status::Corruption(load.snapshot.path + ": its state is at op " +
                                std::to_string(engine_->last_op()));
    }
  }
  if (options_.snapshot_mode == ReplicaOptions::SnapshotMode::kFollower) {
    // The follower's copy is made here, before anything is served: allocating (and zeroing)
    // gigabytes of tables, and restoring the snapshot just read, cost a core for seconds,
    // which under load would be taken from the engine. It replays the journal in the
    // background, from its own thread.
    follower_engine_ = std::make_unique<engine::Engine>(options_.engine);
    if (load.found) ELEVEN_RETURN_IF_ERROR(follower_engine_->Restore(load.snapshot.body));
  }
  std::vector<std::byte>().swap(load.snapshot.body);  // not needed for the replay
  // The journal writer appends version-2 entries: from here on, older builds must refuse
  // the directory rather than misread it.
  ELEVEN_RETURN_IF_ERROR(dir_->Upgrade(env_));
  ReplayReport replay;
  ELEVEN_RETURN_IF_ERROR(log_->Recover(engine_.get(), progress, &replay));
  report->entries_replayed = replay.entries;
  report->commands_replayed = replay.commands;
  report->bytes_replayed = replay.bytes;
  journal_bytes_replayed_ = replay.bytes;
  report->replay_seconds = replay.seconds;
  report->torn_tail = replay.torn_tail;

  op_durable_.store(engine_->last_op(), std::memory_order_release);
  report->op_last = engine_->last_op();
  report->seconds = double(MonotonicNs() - started) / 1e9;
  return Status::Ok();
}

Replica::~Replica() {
  // A snapshot the follower is writing is cancelled (its temp file is removed).
  follower_.reset();  // before the journal it reads stops
  if (sync_thread_.joinable()) {
    Flush();
    (void)WaitDurable(engine_->last_op());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    sync_thread_.join();
  }
  if (snapshot_pid_ > 0) {
    bool done = false;
    SnapshotReport ignored;
    PollSnapshot(/*wait=*/true, &done, &ignored).IgnoreError();
  }
}

Status Replica::journal_failure() {
  std::lock_guard<std::mutex> lock(mutex_);
  return sync_failure_;
}

void Replica::SetDurableCallback(std::function<void(uint64_t op)> callback) {
  std::lock_guard<std::mutex> lock(mutex_);
  durable_callback_ = std::move(callback);
}

Status Replica::Submit(std::span<const wire::Command> commands, uint64_t now_us,
                       std::span<wire::Result> results, uint64_t* op) {
  if (!failure_.ok()) return failure_;
  if (commands.empty() || commands.size() > options_.engine.batch_command_count_max) {
    return Status::InvalidArgument("a batch holds 1 to " +
                                   std::to_string(options_.engine.batch_command_count_max) +
                                   " commands, not " + std::to_string(commands.size()));
  }
  return Append(commands, now_us, results, op);
}

Status Replica::ApplyLogged(uint64_t op, uint64_t timestamp_us,
                            std::span<const wire::Command> commands,
                            std::span<wire::Result> results) {
  if (!failure_.ok()) return failure_;
  ELEVEN_ASSERT(op_durable() == engine_->last_op());  // nothing of this node's own is pending
  if (op != engine_->last_op() + 1) {
    return Status::Corruption("the log delivered op " + std::to_string(op) + " after op " +
                              std::to_string(engine_->last_op()));
  }
  ELEVEN_ASSERT(results.size() >= commands.size());
  const auto error = engine_->Apply(op, timestamp_us, commands, results);
  if (error != engine::BatchError::kNone) {
    failure_ = Status::Corruption("the engine refused the log's entry at op " + std::to_string(op) +
                                  " as a batch: " + std::string(engine::BatchErrorName(error)));
    return failure_;
  }
  op_durable_.store(op, std::memory_order_release);
  return Status::Ok();
}

Status Replica::Tick(uint64_t now_us, uint64_t* op) {
  if (!failure_.ok()) return failure_;
  return Append({}, now_us, {}, op);
}

Status Replica::Append(std::span<const wire::Command> commands, uint64_t now_us,
                       std::span<wire::Result> results, uint64_t* op) {
  ELEVEN_ASSERT(commands.size() <= options_.engine.batch_command_count_max);
  ELEVEN_ASSERT(results.size() >= commands.size());
  const uint64_t body_bytes = commands.size() * wire::kCommandSize;
  const uint64_t entry_bytes = sizeof(StagedHead) + body_bytes;
  const StagedHead head{engine_->last_op() + 1, std::max(now_us, engine_->last_timestamp_us()),
                        static_cast<uint32_t>(commands.size()), 0};
  // Staged before it is applied and published after: op_durable() never passes an op whose
  // results are not yet written (a caller on another thread may read them once it is
  // durable). Both under the lock, since the sync thread takes the filling buffer by itself
  // when a sync ends (SyncLoop): the buffer may change hands while the batch is applied.
  int staged_in = 0;
  std::byte* at = nullptr;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!sync_failure_.ok()) {  // the journal failed: nothing more is applied
      failure_ = sync_failure_;
      return failure_;
    }
    const auto fits = [&] { return staging_[filling_].used_bytes + entry_bytes <= options_.staging_size_bytes; };
    if (!fits()) {
      HandOverLocked();  // back-pressure: the disk is behind
      cv_.wait(lock, [&] { return fits() || !sync_failure_.ok(); });
      if (!sync_failure_.ok()) {
        failure_ = sync_failure_;
        return failure_;
      }
    }
    staged_in = filling_;
    at = staging_[filling_].bytes.get() + staging_[filling_].used_bytes;
    std::memcpy(at, &head, sizeof(head));
    if (body_bytes > 0) std::memcpy(at + sizeof(head), commands.data(), body_bytes);
  }
  // Applied from the staged copy, so the journal holds exactly the bytes that were applied.
  // The copy lies past the buffer's used bytes: the sync thread never reads it, and only this
  // thread writes the buffer.
  const auto* staged = reinterpret_cast<const wire::Command*>(at + sizeof(head));
  const auto error =
      engine_->Apply(head.op, head.timestamp_us, std::span(staged, commands.size()), results);
  ELEVEN_ASSERT(error == engine::BatchError::kNone);  // op, time and size are ours to get right
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Staging& staging = staging_[filling_];
    if (filling_ != staged_in) {
      // The sync thread took the buffer meanwhile (without this entry): the entry moves to the
      // one now filling, which that sync just emptied and nothing has been published to since.
      ELEVEN_ASSERT(staging.used_bytes == 0);
      std::memcpy(staging.bytes.get(), at, entry_bytes);
    }
    staging.used_bytes += entry_bytes;
    staging.op_last = head.op;
  }
  *op = head.op;
  return Status::Ok();
}

void Replica::Flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  HandOverLocked();
}

void Replica::HandOverLocked() {
  if (handed_ || staging_[filling_].used_bytes == 0) return;
  handed_ = true;
  filling_ = 1 - filling_;
  ELEVEN_ASSERT(staging_[filling_].used_bytes == 0);
  cv_.notify_all();
}

Status Replica::WaitDurable(uint64_t op) {
  ELEVEN_ASSERT(op <= engine_->last_op());
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    HandOverLocked();
    cv_.wait(lock, [&] { return op_durable() >= op || !handed_ || !sync_failure_.ok(); });
    if (!sync_failure_.ok()) {
      failure_ = sync_failure_;
      return failure_;
    }
    if (op_durable() >= op) return Status::Ok();
  }
}

Status Replica::SyncStaging(const Staging& staging) {
  uint64_t at = 0;
  while (at < staging.used_bytes) {
    StagedHead head;
    std::memcpy(&head, staging.bytes.get() + at, sizeof(head));
    const uint64_t body_bytes = uint64_t{head.command_count} * wire::kCommandSize;
    // Packed here, on the sync thread: the engine thread only copies the batch it applies.
    const std::span commands(reinterpret_cast<const wire::Command*>(staging.bytes.get() + at + sizeof(head)),
                             head.command_count);
    const size_t packed_bytes = wire::PackCommands(commands, packed_.get());
    ELEVEN_RETURN_IF_ERROR(log_->Append(LogEntry{.op = head.op,
                                                 .timestamp_us = head.timestamp_us,
                                                 .command_count = head.command_count,
                                                 .packed = ByteSpan(packed_.get(), packed_bytes)}));
    at += sizeof(head) + body_bytes;
  }
  ELEVEN_ASSERT(at == staging.used_bytes);
  const uint64_t started = MonotonicNs();
  Status synced = log_->Sync();
  journal_sync_us_.Record((MonotonicNs() - started) / 1000);
  return synced;
}

void Replica::SyncLoop() {
  for (;;) {
    uint64_t remove_before = 0;
    Staging* staging = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return handed_ || stopping_; });
      if (!handed_) return;  // stopping with nothing to write
      staging = &staging_[1 - filling_];
      remove_before = remove_segments_before_op_;
      remove_segments_before_op_ = 0;
    }
    Status status = SyncStaging(*staging);
    if (status.ok() && remove_before > 0) {
      // Old segments go only after this sync: never while an entry they hold is unsynced.
      status = log_->Release(remove_before);
    }
    std::function<void(uint64_t)> callback;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (status.ok()) {
        op_durable_.store(staging->op_last, std::memory_order_release);
        staging->used_bytes = 0;
        // What was staged meanwhile is taken now, not when the engine thread next calls
        // Flush(): a busy or sleeping engine thread is then not on the path to durability.
        handed_ = false;
        HandOverLocked();
      } else {
        sync_failure_ = status;  // permanent: handed_ stays, nothing more is synced
        journal_failed_.store(true, std::memory_order_release);
      }
      callback = durable_callback_;
    }
    cv_.notify_all();
    if (callback) callback(op_durable());  // on a failure too: see journal_failure()
    if (!status.ok()) return;
  }
}

Status Replica::StartSnapshot() {
  if (snapshot_running()) return Status::FailedPrecondition("a snapshot is already being written");
  const uint64_t started = MonotonicNs();
  const uint64_t op = engine_->last_op();
  if (op == 0) return Status::FailedPrecondition("nothing to snapshot yet");
  if (follower_ != nullptr) {
    Flush();  // the follower writes it once it is durable
    ELEVEN_ASSERT(follower_->Request(op));
    snapshot_op_ = op;
    snapshot_started_ns_ = MonotonicNs();
    snapshot_stall_ms_ = double(snapshot_started_ns_ - started) / 1e6;
    return Status::Ok();
  }
  // Only durable state goes into a snapshot, so the journal always continues right after it.
  ELEVEN_RETURN_IF_ERROR(WaitDurable(op));
  int fds[2];
  if (pipe(fds) != 0) return Status::IOError("pipe for the snapshot child: " + std::string(strerror(errno)));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::IOError("fork for the snapshot: " + std::string(strerror(errno)));
  }
  if (pid == 0) {  // the child: its memory is the state at `op`, copy-on-write
    // It must not outlive the replica's process: an orphan would hold the data directory's
    // lock and write into it beside the next process.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    close(fds[0]);
    engine::Engine::SnapshotParts parts;
    engine_->SnapshotChunks(&parts);
    SnapshotWriteResult result;
    Status s = WriteSnapshot(env_, dir_->path(), op, engine_->last_timestamp_us(), parts.chunks, &result);
    ChildReport report{};
    report.ok = s.ok();
    report.size_bytes = result.size_bytes;
    report.journal_op_keep_from = result.journal_op_keep_from;
    std::snprintf(report.error, sizeof(report.error), "%s", s.ToString().c_str());
    ssize_t written = write(fds[1], &report, sizeof(report));
    _exit(written == sizeof(report) && s.ok() ? 0 : 1);
  }
  close(fds[1]);
  snapshot_pid_ = pid;
  snapshot_op_ = op;
  snapshot_pipe_ = fds[0];
  snapshot_started_ns_ = MonotonicNs();
  snapshot_stall_ms_ = double(snapshot_started_ns_ - started) / 1e6;
  return Status::Ok();
}

Status Replica::PollSnapshot(bool wait, bool* done, SnapshotReport* report) {
  *done = false;
  if (!snapshot_running()) return Status::FailedPrecondition("no snapshot is being written");
  if (follower_ != nullptr) {
    FollowerSnapshot snapshot;
    if (!follower_->Poll(wait, &snapshot)) return Status::Ok();
    *done = true;
    if (!snapshot.status.ok()) {
      return Status::IOError("snapshot at op " + std::to_string(snapshot.op) +
                             " failed: " + snapshot.status.ToString());
    }
    *report = SnapshotReport{};
    report->op = snapshot.op;
    report->size_bytes = snapshot.write.size_bytes;
    report->stall_ms = snapshot_stall_ms_;
    report->write_ms = double(MonotonicNs() - snapshot_started_ns_) / 1e6;
    report->replay_ms = snapshot.replay_ms;
    log_->SnapshotWritten(snapshot.op);
    std::lock_guard<std::mutex> lock(mutex_);
    if (options_.remove_old_journal_segments) remove_segments_before_op_ = snapshot.write.journal_op_keep_from;
    return Status::Ok();
  }
  int wstatus = 0;
  const pid_t got = waitpid(snapshot_pid_, &wstatus, wait ? 0 : WNOHANG);
  if (got == 0) return Status::Ok();
  ChildReport child{};
  const ssize_t read_bytes = read(snapshot_pipe_, &child, sizeof(child));
  close(snapshot_pipe_);
  snapshot_pid_ = 0;
  *done = true;
  if (got < 0 || !WIFEXITED(wstatus) || read_bytes != sizeof(child) || child.ok == 0) {
    return Status::IOError("snapshot at op " + std::to_string(snapshot_op_) + " failed: " +
                           (read_bytes == sizeof(child) ? std::string(child.error) : "child died"));
  }
  *report = SnapshotReport{};
  report->op = snapshot_op_;
  report->size_bytes = child.size_bytes;
  report->stall_ms = snapshot_stall_ms_;
  report->write_ms = double(MonotonicNs() - snapshot_started_ns_) / 1e6;
  log_->SnapshotWritten(snapshot_op_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (options_.remove_old_journal_segments) remove_segments_before_op_ = child.journal_op_keep_from;
  }
  return Status::Ok();
}

}  // namespace eleven::replica
