#include "server/engine_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
                       uint64_t snapshot_journal_bytes)
    : replica_(replica),
      batch_command_count_max_(replica->engine().config().batch_command_count_max),
      clock_mode_(clock),
      snapshot_journal_bytes_(snapshot_journal_bytes),
      metrics_(metrics),
      inbox_(request_count_max),
      outbox_(request_count_max),
      held_capacity_(request_count_max) {
  ELEVEN_ASSERT(replica != nullptr && metrics != nullptr);
  ELEVEN_ASSERT(batch_command_count_max_ > 0);
  batch_.resize(batch_command_count_max_);
  results_.resize(batch_command_count_max_);
  batch_requests_.reserve(request_count_max);
  held_ = std::make_unique<Request*[]>(held_capacity_);
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
  const int wake_fd = wake_fd_;
  replica_->SetDurableCallback([wake_fd](uint64_t) { WriteEventFd(wake_fd); });
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void EngineLoop::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_seq_cst);
  WriteEventFd(wake_fd_);
  thread_.join();
  replica_->SetDurableCallback(nullptr);
}

void EngineLoop::Push(Request* request) {
  ELEVEN_ASSERT(request != nullptr);
  const bool pushed = inbox_.Push(request);
  ELEVEN_ASSERT(pushed);  // the pool is no larger than the inbox
  // Pairs with the fence in Sleep(): either the loop sees the request, or we see it asleep.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) WriteEventFd(wake_fd_);
}

void EngineLoop::Run() {
  for (;;) {
    const bool stopping = stopping_.load(std::memory_order_acquire);
    bool progress = Gather();
    if (batch_count_ > 0) SubmitBatch();
    if (replica_->op_submitted() > replica_->op_durable()) replica_->Flush();
    progress |= Release();
    TendSnapshot();
    metrics_->inbox_depth.Set(inbox_.SizeApprox());
    metrics_->pending_durable.Set(held_tail_ - held_head_);
    if (stopping && inbox_.SizeApprox() == 0) break;
    if (!progress) Sleep();
  }
  // Everything applied must become durable before its reply may leave.
  if (replica_->op_submitted() > 0 && replica_->failure().ok()) {
    replica_->WaitDurable(replica_->op_submitted()).IgnoreError();  // failure handled below
  }
  Release();
  FailPending();
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
  if (batch_count_ + request->count > batch_command_count_max_) SubmitBatch();
  std::memcpy(batch_.data() + batch_count_, request->commands(),
              size_t{request->count} * wire::kCommandSize);
  batch_count_ += request->count;
  batch_requests_.push_back(request);
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
    Hold(request);
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
    metrics_->op_submitted.Set(op);
  }
  batch_count_ = 0;
  batch_requests_.clear();
}

void EngineLoop::Answer(Request* request) {
  switch (request->kind) {
    case RequestKind::kQuery: AnswerQuery(request); break;
    case RequestKind::kFeedPoll: AnswerFeedPoll(request); break;
    case RequestKind::kSetClock: AnswerSetClock(request); break;
    case RequestKind::kPing: break;
    case RequestKind::kSubmit: ELEVEN_ASSERT(false);
  }
  metrics_->queries.Add(1);
  // What was read may include applied but not yet durable commands: hold it until they are.
  request->op = replica_->op_submitted();
  Hold(request);
}

void EngineLoop::AnswerQuery(Request* request) {
  // The reply's entry count replaces the request's record count (they differ for a list).
  const uint32_t entries = answerer_.Answer(
      replica_->engine(), request->operation, request->ids, request->count,
      std::span(request->body(), request->buffer.size() - protocol::kHeaderSize));
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
  if (clock_mode_ == protocol::ClockMode::kWall) {
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

void EngineLoop::Hold(Request* request) {
  ELEVEN_ASSERT(held_tail_ - held_head_ < held_capacity_);  // bounded by the pool
  ELEVEN_DASSERT(held_tail_ == held_head_ || request->op == 0 ||
                 held_[(held_tail_ - 1) % held_capacity_]->op <= request->op);
  held_[held_tail_ % held_capacity_] = request;
  held_tail_++;
}

bool EngineLoop::Release() {
  const uint64_t durable = replica_->op_durable();
  metrics_->op_durable.Set(durable);
  metrics_->journal_syncs.Set(replica_->journal_sync_count());
  metrics_->journal_bytes.Set(replica_->journal_bytes_written());
  bool released = false;
  while (held_head_ < held_tail_) {
    Request* request = held_[held_head_ % held_capacity_];
    if (request->op > durable) break;
    const bool pushed = outbox_.Push(request);
    ELEVEN_ASSERT(pushed);  // the outbox holds every request the pool can hand out
    held_head_++;
    released = true;
  }
  if (released) WriteEventFd(done_fd_);
  return released;
}

// On shutdown after a journal failure: whatever could not become durable is answered with
// the failure (its reply carries no results, so nothing undurable is shown).
void EngineLoop::FailPending() {
  bool released = false;
  while (held_head_ < held_tail_) {
    Request* request = held_[held_head_ % held_capacity_];
    request->status = protocol::FrameStatus::kReplicaFailed;
    const bool pushed = outbox_.Push(request);
    ELEVEN_ASSERT(pushed);
    held_head_++;
    released = true;
  }
  if (released) WriteEventFd(done_fd_);
}

void EngineLoop::TendSnapshot() {
  if (replica_->snapshot_running()) {
    bool done = false;
    replica::SnapshotReport report;
    const Status status = replica_->PollSnapshot(false, &done, &report);
    if (!done) return;
    if (status.ok()) {
      metrics_->snapshots.Add(1);
      metrics_->snapshot_op.Set(report.op);
      metrics_->snapshot_stall_us.Set(uint64_t(report.stall_ms * 1000));
      std::fprintf(stderr, "eleven serve: snapshot at op %llu, %.1f MB in %.1f s, engine stalled %.1f ms\n",
                   (unsigned long long)report.op, double(report.size_bytes) / 1e6, report.write_ms / 1e3,
                   report.stall_ms);
    } else {
      metrics_->snapshot_failures.Add(1);
      std::fprintf(stderr, "eleven serve: %s (the journal still holds everything)\n", status.ToString().c_str());
    }
    return;
  }
  if (snapshot_journal_bytes_ == 0 || !replica_->failure().ok()) return;
  const uint64_t written = replica_->journal_bytes_written();
  if (written - journal_bytes_at_snapshot_ < snapshot_journal_bytes_ || replica_->op_submitted() == 0) return;
  journal_bytes_at_snapshot_ = written;
  const Status status = replica_->StartSnapshot();
  if (!status.ok()) {
    metrics_->snapshot_failures.Add(1);
    std::fprintf(stderr, "eleven serve: snapshot not started: %s\n", status.ToString().c_str());
  }
}

void EngineLoop::Sleep() {
  sleeping_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Push()
  const bool durable_ready = held_head_ < held_tail_ &&
                             held_[held_head_ % held_capacity_]->op <= replica_->op_durable();
  if (inbox_.SizeApprox() == 0 && !durable_ready && !stopping_.load(std::memory_order_acquire)) {
    // Staged entries were handed over by Flush() (or the sync thread is busy and will write
    // wake_fd when durability advances); otherwise only the I/O thread or Stop() wakes us.
    pollfd pfd{wake_fd_, POLLIN, 0};
    poll(&pfd, 1, kSleepMsMax);
  }
  ReadEventFd(wake_fd_);
  sleeping_.store(false, std::memory_order_relaxed);
}

}  // namespace eleven::server
