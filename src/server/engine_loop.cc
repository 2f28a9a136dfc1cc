#include "server/engine_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/assert.h"

namespace eleven::server {

namespace {

// Requests taken from the inbox per round before the loop looks at durability again, so a
// flood of small requests cannot starve the release of finished ones.
constexpr int kGatherRoundMax = 4096;
// The longest the loop sleeps without a wake-up (it also wakes for the stop flag).
constexpr int kSleepMsMax = 100;
// A submit of at least this many commands wakes the loop even while a sync runs: applying
// it then keeps the work off the start of the next sync.
constexpr uint32_t kEagerCommandCount = 256;

uint64_t LogNowUs() {
  // Log time is wall-clock time in µs, stamped once per batch (the replica keeps it monotonic).
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void WriteEventFd(int fd) {
  const uint64_t one = 1;
  // A full counter (never reached) or EAGAIN still leaves the fd readable: ignoring is safe.
  ssize_t ignored = write(fd, &one, sizeof(one));
  (void)ignored;
}

void ReadEventFd(int fd) {
  uint64_t value = 0;
  ssize_t ignored = read(fd, &value, sizeof(value));
  (void)ignored;
}

}  // namespace

EngineLoop::EngineLoop(replica::Replica* replica, uint32_t request_count_max,
                       EngineMetrics* metrics, protocol::ClockMode clock,
                       uint64_t snapshot_journal_bytes, uint32_t tick_late_ms_max)
    : replica_(replica),
      batch_command_count_max_(replica->engine().config().batch_command_count_max),
      clock_mode_(clock),
      snapshot_journal_bytes_(snapshot_journal_bytes),
      tick_late_us_max_(uint64_t{tick_late_ms_max} * 1000),
      metrics_(metrics),
      inbox_(request_count_max),
      outbox_(request_count_max),
      waiting_capacity_(request_count_max) {
  ELEVEN_ASSERT(replica != nullptr && metrics != nullptr);
  ELEVEN_ASSERT(batch_command_count_max_ > 0);
  ELEVEN_ASSERT(tick_late_ms_max >= 1);
  batch_.resize(batch_command_count_max_);
  results_.resize(batch_command_count_max_);
  batch_requests_.reserve(request_count_max);
  waiting_ = std::make_unique<Request*[]>(waiting_capacity_);
  // After a restart the client clock resumes where the log stopped.
  client_clock_us_ = replica->engine().last_timestamp_us();
}

EngineLoop::~EngineLoop() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (done_fd_ >= 0) close(done_fd_);
}

Status EngineLoop::Start() {
  ELEVEN_ASSERT(!thread_.joinable());
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  done_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0 || done_fd_ < 0) {
    return Status::IOError(std::string("eventfd: ") + strerror(errno));
  }
  // Durability advanced: replies may leave (the I/O thread first: that is the latency), and
  // the loop may hand over what it staged meanwhile.
  const int wake_fd = wake_fd_;
  const int done_fd = done_fd_;
  replica_->SetDurableCallback([wake_fd, done_fd](uint64_t) {
    WriteEventFd(done_fd);
    WriteEventFd(wake_fd);
  });
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void EngineLoop::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_seq_cst);
  WriteEventFd(wake_fd_);
  thread_.join();
  replica_->SetDurableCallback(nullptr);
  stopped_.store(true, std::memory_order_release);
  WriteEventFd(done_fd_);
}

bool EngineLoop::PopDone(Request** request) {
  Request* passed = nullptr;
  while (waiting_tail_ - waiting_head_ < waiting_capacity_ && outbox_.Pop(&passed)) {
    waiting_[waiting_tail_ % waiting_capacity_] = passed;
    waiting_tail_++;
  }
  if (waiting_head_ == waiting_tail_) return false;
  Request* next = waiting_[waiting_head_ % waiting_capacity_];
  if (next->op > replica_->op_durable()) {
    // Its op will never be durable once the journal failed (op_durable stops for good), nor
    // once stopped: it goes out failed, so its reply shows nothing undurable.
    if (!replica_->journal_failed() && !stopped_.load(std::memory_order_acquire)) return false;
    next->status = protocol::FrameStatus::kReplicaFailed;
  }
  waiting_head_++;
  *request = next;
  return true;
}

void EngineLoop::Push(Request* request) {
  ELEVEN_ASSERT(request != nullptr);
  const bool pushed = inbox_.Push(request);
  ELEVEN_ASSERT(pushed);  // the pool is no larger than the inbox
  // Pairs with the fence in Sleep(): either the loop sees the request, or we see it asleep.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const Sleeping sleeping = sleeping_.load(std::memory_order_relaxed);
  if (sleeping == Sleeping::kAsleep ||
      (sleeping == Sleeping::kUntilDurable &&
       (request->kind != RequestKind::kSubmit || request->count >= kEagerCommandCount))) {
    WriteEventFd(wake_fd_);
  }
}

void EngineLoop::Wake() {
  if (wake_fd_ >= 0) WriteEventFd(wake_fd_);
}

// Cluster mode: what the node's role asks of the engine thread (replica/role.h).
bool EngineLoop::TendRole() {
  if (role_ == nullptr) return false;
  if (batch_count_ > 0) SubmitBatch();  // a follower gathers none; a new leader, none yet
  const replica::RoleWork work = role_->Tend(replica_, std::span(results_.data(), results_.size()));
  if (work.entries_applied > 0) {
    metrics_->followed_entries.Add(work.entries_applied);
    metrics_->op_submitted.Set(replica_->op_submitted());
    metrics_->SetSales(replica_->engine().sales());
  }
  if (work.keys_changed && keys_ != nullptr) keys_->Publish(ApiKeyTable::Of(replica_->engine()));
  if (work.role_changed) {
    metrics_->cluster_leader.Set(role_->leading() ? 1 : 0);
    metrics_->cluster_term.Set(role_->leading() ? role_->term() : 0);
    metrics_->cluster_catch_up_ms.Set(role_->catch_up_ms());
  }
  return work.entries_applied > 0 || work.role_changed;
}

void EngineLoop::Run() {
  for (;;) {
    const bool stopping = stopping_.load(std::memory_order_acquire);
    bool progress = !stopping && TendRole();
    progress |= Gather();
    if (batch_count_ > 0) SubmitBatch();
    if (!progress && !stopping) progress = TendTicks();
    if (replica_->op_submitted() > replica_->op_durable()) replica_->Flush();
    SignalPassed();
    if (replica_->journal_failed() && !failure_reported_) ReportJournalFailure();
    TendSnapshot();
    metrics_->inbox_depth.Set(inbox_.SizeApprox());
    metrics_->journal_syncs.Set(replica_->journal_sync_count());
    metrics_->journal_bytes.Set(replica_->journal_bytes_written());
    if (stopping && inbox_.SizeApprox() == 0) break;
    if (!progress) Sleep();
  }
  // Everything applied must become durable before its reply may leave (PopDone fails what
  // cannot, once stopped).
  if (replica_->op_submitted() > 0 && replica_->failure().ok()) {
    replica_->WaitDurable(replica_->op_submitted()).IgnoreError();
  }
}

bool EngineLoop::Gather() {
  Request* request = nullptr;
  int taken = 0;
  while (taken < kGatherRoundMax && inbox_.Pop(&request)) {
    taken++;
    if (request->kind == RequestKind::kSubmit) {
      AddSubmit(request);
    } else {
      // A query sees every command that arrived before it: submit those first.
      if (batch_count_ > 0) SubmitBatch();
      Answer(request);
    }
  }
  return taken > 0;
}

void EngineLoop::AddSubmit(Request* request) {
  ELEVEN_ASSERT(request->count >= 1 && request->count <= batch_command_count_max_);
  if (role_ != nullptr && !role_->leading()) return RefuseNotLeader(request);
  // Who may apply what, checked against the state before the batch (docs/access.md). Sound:
  // what makes a command forbidden (an object's owner, a key's revocation) never changes
  // back, so the engine, which checks again at apply, would refuse it too. A request with a
  // command refused here is refused whole and never reaches the log.
  const engine::Engine& engine = replica_->engine();
  const wire::Command* commands = request->commands();
  for (uint32_t i = 0; i < request->count; i++) {
    const wire::Code code = engine.Authorize(commands[i]);
    if (code != wire::Code::ok) return RefuseSubmit(request, code);
  }
  if (batch_count_ + request->count > batch_command_count_max_) SubmitBatch();
  std::memcpy(batch_.data() + batch_count_, request->commands(),
              size_t{request->count} * wire::kCommandSize);
  batch_count_ += request->count;
  batch_requests_.push_back(request);
}

namespace {

// Whether a batch created or revoked an API key (the I/O thread's table is then rebuilt).
bool KeysChanged(std::span<const wire::Result> results) {
  for (const wire::Result& r : results) {
    if ((r.operation == wire::kCreateKey || r.operation == wire::kRevokeKey) &&
        r.code == wire::Code::ok && !wire::IsReplay(r)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void EngineLoop::RefuseSubmit(Request* request, wire::Code code) {
  // The commands gathered before it go first, so replies keep their order.
  if (batch_count_ > 0) SubmitBatch();
  const wire::Command* commands = request->commands();
  for (uint32_t i = 0; i < request->count; i++) {
    wire::Result result{};
    result.code = code;
    result.operation = commands[i].operation;
    // Results are written over the commands: command i is read before result i lands.
    std::memcpy(request->body() + size_t{i} * wire::kResultSize, &result, sizeof(result));
  }
  metrics_->results_by_code[static_cast<uint16_t>(code)].Add(request->count);
  request->op = replica_->op_submitted();  // released after what was submitted before it
  Pass(request);
}

// A follower does not sequence: the request goes back at once, status not_leader, its body the
// leader's binary address (docs/protocol.md), its count that address's length.
void EngineLoop::RefuseNotLeader(Request* request) {
  if (batch_count_ > 0) SubmitBatch();
  std::string leader = role_->leader_binary_address();
  if (leader.size() > protocol::kLeaderAddressSizeMax) leader.clear();
  ELEVEN_ASSERT(request->buffer.size() >= protocol::kHeaderSize + leader.size());
  std::memcpy(request->body(), leader.data(), leader.size());
  request->count = uint32_t(leader.size());
  request->status = protocol::FrameStatus::kNotLeader;
  request->op = 0;  // nothing to wait for
  metrics_->not_leader.Add(1);
  Pass(request);
}

void EngineLoop::SubmitBatch() {
  ELEVEN_ASSERT(batch_count_ > 0 && !batch_requests_.empty());
  uint64_t op = 0;
  const Status status = replica_->Submit(std::span(batch_.data(), batch_count_), LogTimeUs(),
                                         std::span(results_.data(), batch_count_), &op);
  uint32_t at = 0;
  for (Request* request : batch_requests_) {
    if (status.ok()) {
      std::memcpy(request->body(), results_.data() + at, size_t{request->count} * wire::kResultSize);
      request->op = op;
    } else {
      request->status = protocol::FrameStatus::kReplicaFailed;
      request->op = 0;  // nothing to wait for: the failure is the answer
    }
    at += request->count;
    Pass(request);
  }
  ELEVEN_ASSERT(at == batch_count_);
  if (status.ok()) {
    metrics_->batches.Add(1);
    metrics_->commands.Add(batch_count_);
    uint64_t accepted = 0;
    for (uint32_t i = 0; i < batch_count_; i++) {
      const auto code = static_cast<uint16_t>(results_[i].code);
      if (code < kCodeCountMax) metrics_->results_by_code[code].Add(1);
      accepted += results_[i].operation == wire::Operation::kPlaceOrder &&
                  results_[i].code == wire::Code::ok;
    }
    metrics_->orders_accepted.Add(accepted);
    if (keys_ != nullptr && KeysChanged(std::span(results_.data(), batch_count_))) {
      keys_->Publish(ApiKeyTable::Of(replica_->engine()));
    }
    metrics_->op_submitted.Set(op);
    metrics_->SetSales(replica_->engine().sales());
  }
  batch_count_ = 0;
  batch_requests_.clear();
}

void EngineLoop::Answer(Request* request) {
  if (replica_->journal_failed() && replica_->op_submitted() > replica_->op_durable()) {
    // The state holds applied commands that will never be durable: it is not answered from.
    request->status = protocol::FrameStatus::kReplicaFailed;
    request->op = 0;
    Pass(request);
    return;
  }
  switch (request->kind) {
    case RequestKind::kQuery: AnswerQuery(request); break;
    case RequestKind::kFeedPoll: AnswerFeedPoll(request); break;
    case RequestKind::kSetClock: AnswerSetClock(request); break;
    case RequestKind::kPing: break;
    case RequestKind::kSubmit: ELEVEN_ASSERT(false);
  }
  metrics_->queries.Add(1);
  // What was read may include applied but not yet durable commands: held until they are.
  request->op = replica_->op_submitted();
  Pass(request);
}

void EngineLoop::AnswerQuery(Request* request) {
  // The reply's entry count replaces the request's record count (they differ for a list).
  const uint32_t entries = answerer_.Answer(
      replica_->engine(), request->operation, request->ids, request->count,
      std::span(request->body(), request->buffer.size() - protocol::kHeaderSize), request->caller);
  ELEVEN_ASSERT(protocol::kHeaderSize + entries * protocol::ReplyRecordSize(request->operation) <=
                request->buffer.size());
  request->count = entries;
}

uint64_t EngineLoop::LogTimeUs() const {
  return clock_mode_ == protocol::ClockMode::kClient ? client_clock_us_ : LogNowUs();
}

// Moves the client clock forward (never back); refused in wall-clock mode. The reply entry
// carries the code and the time the next batch will be stamped with.
void EngineLoop::AnswerSetClock(Request* request) {
  ELEVEN_ASSERT(request->count == 1 && request->ids.size() == 1);
  ELEVEN_ASSERT(request->buffer.size() >= protocol::kHeaderSize + protocol::ReplyRecordSize(request->operation));
  ELEVEN_ASSERT(batch_count_ == 0);  // what came before was submitted under the old time
  const uint64_t at_us = request->ids[0];
  wire::Code code = wire::Code::ok;
  if (request->caller.role != wire::Role::kOperator) {
    code = wire::Code::forbidden;  // the client clock is an operator's (docs/access.md)
  } else if (clock_mode_ == protocol::ClockMode::kWall) {
    code = wire::Code::clock_is_wall;
  } else if (at_us < client_clock_us_) {
    code = wire::Code::clock_backwards;
  } else {
    client_clock_us_ = at_us;
  }
  protocol::ClockRecord record{};
  record.log_time_us = LogTimeUs();
  record.mode = clock_mode_;
  std::byte* entry = request->body();
  std::memset(entry, 0, protocol::kQueryEntryHeadSize);
  std::memcpy(entry, &code, sizeof(code));
  std::memcpy(entry + protocol::kQueryEntryHeadSize, &record, sizeof(record));
  ELEVEN_ASSERT(code != wire::Code::ok || client_clock_us_ == at_us);
}

void EngineLoop::AnswerFeedPoll(Request* request) {
  const engine::Engine& engine = replica_->engine();
  ELEVEN_ASSERT(request->ids.size() == request->count && request->topic_kinds.size() == request->count);
  ELEVEN_ASSERT(request->buffer.size() >= protocol::kHeaderSize + request->count * kFeedEntrySize);
  for (uint32_t i = 0; i < request->count; i++) {
    std::byte* entry = request->body() + i * kFeedEntrySize;
    std::memset(entry, 0, kFeedEntrySize);
    void* record = entry + protocol::kQueryEntryHeadSize;
    const wire::Code code =
        request->topic_kinds[i] == TopicKind::kSku
            ? engine.GetSku(request->ids[i], static_cast<wire::SkuRecord*>(record))
            : engine.GetDrop(request->ids[i], static_cast<wire::DropRecord*>(record));
    std::memcpy(entry, &code, sizeof(code));
  }
  // The log time the poll saw, for the feed's "at_us".
  const uint64_t at_us = engine.last_timestamp_us();
  std::memcpy(request->buffer.data(), &at_us, sizeof(at_us));
}

void EngineLoop::Pass(Request* request) {
  const bool pushed = outbox_.Push(request);
  ELEVEN_ASSERT(pushed);  // the outbox holds every request the pool can hand out
  passed_op_min_ = std::min(passed_op_min_, request->op);
}

// Wakes the I/O thread if a request passed this round may leave already. One that may not is
// released when the sync thread makes its op durable, and writes done_fd then.
void EngineLoop::SignalPassed() {
  if (passed_op_min_ == UINT64_MAX) return;
  // Pairs with the sync thread's store of op_durable before it writes done_fd: either we see
  // the op durable, or its wake-up comes after our push.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // After a journal failure every request passed may leave (failed, if its op is undurable).
  if (passed_op_min_ <= replica_->op_durable() || replica_->journal_failed()) WriteEventFd(done_fd_);
  passed_op_min_ = UINT64_MAX;
}

bool EngineLoop::TendTicks() {
  tick_wait_ms_ = kSleepMsMax;
  if (clock_mode_ != protocol::ClockMode::kWall || replica_->journal_failed()) return false;
  if (role_ != nullptr && !role_->leading()) return false;  // a follower applies the leader's ticks
  const engine::Engine& engine = replica_->engine();
  // NextDueUs depends on the state alone: asked again only after the state changed.
  if (due_at_op_ != engine.last_op()) {
    due_us_ = engine.NextDueUs();
    due_at_op_ = engine.last_op();
  }
  if (due_us_ == engine::Engine::kNeverDue) return false;
  // Work a budget left over is due at once; else at its time, but no sooner than one bound
  // after the last entry, so a stream of deadlines costs one tick per bound, not one each.
  const uint64_t last_us = engine.last_timestamp_us();
  const uint64_t at_us =
      due_us_ <= last_us ? due_us_ : std::max(due_us_, last_us + tick_late_us_max_);
  const uint64_t now_us = LogNowUs();
  if (now_us < at_us) {
    tick_wait_ms_ = int(std::min<uint64_t>(kSleepMsMax, (at_us - now_us + 999) / 1000));
    return false;
  }
  uint64_t op = 0;
  const Status status = replica_->Tick(now_us, &op);
  if (!status.ok()) return false;  // the journal failed: Submit answers every request with it
  ELEVEN_ASSERT(op == engine.last_op());
  metrics_->ticks.Add(1);
  metrics_->op_submitted.Set(op);
  metrics_->SetSales(replica_->engine().sales());
  return true;
}

// Once, on the engine thread: the journal's failure (its file and errno are in the status) on
// stderr. The I/O thread fails what waits (PopDone) and reports it (/healthz, /metrics).
void EngineLoop::ReportJournalFailure() {
  failure_reported_ = true;
  std::fprintf(stderr,
               "eleven serve: the journal failed: %s; durable up to op %llu. Every write and every "
               "read of state is refused (503 replica_failed) until the server is restarted.\n",
               replica_->journal_failure().ToString().c_str(),
               static_cast<unsigned long long>(replica_->op_durable()));
}

void EngineLoop::TendSnapshot() {
  metrics_->snapshot_follower_op.Set(replica_->op_followed());
  const uint64_t durable = replica_->op_durable();
  const uint64_t followed = replica_->op_followed();
  metrics_->snapshot_follower_lag_ops.Set(replica_->snapshot_follower() && durable > followed ? durable - followed : 0);
  // The journal recovery replayed counts as if written now: a server that crashes faster than
  // it snapshots would otherwise replay more at every restart.
  const uint64_t written = replica_->journal_bytes_replayed() + replica_->journal_bytes_written();
  metrics_->journal_bytes_since_snapshot.Set(written - journal_bytes_at_snapshot_);
  if (replica_->snapshot_running()) {
    bool done = false;
    replica::SnapshotReport report;
    const Status status = replica_->PollSnapshot(false, &done, &report);
    if (!done) return;
    if (status.ok()) {
      metrics_->snapshots.Add(1);
      metrics_->snapshot_op.Set(report.op);
      metrics_->snapshot_stall_us.Set(uint64_t(report.stall_ms * 1000));
      std::fprintf(stderr,
                   "eleven serve: snapshot at op %llu, %.1f MB in %.1f s (%.1f s of it catching up), "
                   "engine stalled %.1f ms\n",
                   (unsigned long long)report.op, double(report.size_bytes) / 1e6, report.write_ms / 1e3,
                   report.replay_ms / 1e3, report.stall_ms);
    } else {
      metrics_->snapshot_failures.Add(1);
      std::fprintf(stderr, "eleven serve: %s (the journal still holds everything)\n", status.ToString().c_str());
    }
    return;
  }
  if (snapshot_journal_bytes_ == 0 || replica_->journal_failed()) return;
  if (written - journal_bytes_at_snapshot_ < snapshot_journal_bytes_ || replica_->op_submitted() == 0) return;
  journal_bytes_at_snapshot_ = written;
  const Status status = replica_->StartSnapshot();
  if (!status.ok()) {
    metrics_->snapshot_failures.Add(1);
    std::fprintf(stderr, "eleven serve: snapshot not started: %s\n", status.ToString().c_str());
  }
}

// While a sync runs, a small submit gains nothing from being applied at once: its reply waits
// for the sync after this one either way. So the loop then sleeps until the sync ends (the
// sync thread writes wake_fd) and applies what gathered meanwhile as one batch, instead of
// being woken for every request (a context switch each: at 30,000 HTTP orders/s, most of
// the engine thread's time). Anything else — a query, a feed poll, a large batch — still
// wakes it at once.
void EngineLoop::Sleep() {
  const bool sync_running =
      replica_->op_submitted() > replica_->op_durable() && !replica_->journal_failed();
  sleeping_.store(sync_running ? Sleeping::kUntilDurable : Sleeping::kAsleep,
                  std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Push()
  if (inbox_.SizeApprox() == 0 && !stopping_.load(std::memory_order_acquire)) {
    // Staged entries were handed over by Flush() (or the sync thread is busy and will write
    // wake_fd when durability advances); otherwise only the I/O thread or Stop() wakes us.
    pollfd pfd{wake_fd_, POLLIN, 0};
    poll(&pfd, 1, tick_wait_ms_);
  }
  ReadEventFd(wake_fd_);
  sleeping_.store(Sleeping::kAwake, std::memory_order_relaxed);
}

}  // namespace eleven::server
