#include "replica/replay.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "wire/records.h"

namespace eleven::replica {

namespace {

constexpr uint64_t kProgressEveryEntries = 4096;
constexpr size_t kBufferCount = 4;  // entries read ahead of the one being applied

// One entry read ahead: its header fields and a copy of its body (the reader's own buffer
// is reused by its next read).
struct Buffered {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  uint32_t command_count = 0;
  std::vector<std::byte> body;
};

// The reader thread's side of the hand-over: it fills free buffers and queues them; the
// applier takes them in order and gives them back. Not the hot path (one hand-over per
// entry of up to 8,190 commands), so a mutex and condition variables are enough.
class ReadAhead {
 public:
  ReadAhead(std::unique_ptr<JournalReader> reader, size_t body_bytes_max)
      : reader_(std::move(reader)), buffers_(kBufferCount) {
    for (Buffered& b : buffers_) {
      b.body.reserve(body_bytes_max);
      free_.push_back(&b);
    }
    thread_ = std::thread([this] { Run(); });
  }

  ~ReadAhead() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  // The next entry, or nullptr at the end (*status says whether the end is an error).
  Buffered* Next(Status* status) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !full_.empty() || finished_; });
    if (!full_.empty()) {
      Buffered* b = full_.front();
      full_.pop_front();
      return b;
    }
    *status = status_;
    return nullptr;
  }

  void Release(Buffered* b) {
    {
      std::lock_guard lock(mutex_);
      free_.push_back(b);
    }
    changed_.notify_all();
  }

  // After Next returned nullptr: the reader is finished and its state can be read.
  const JournalReader& reader() const { return *reader_; }

 private:
  void Run() {
    for (;;) {
      Buffered* b = nullptr;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || stop_; });
        if (stop_) break;
        b = free_.front();
        free_.pop_front();
      }
      JournalEntry entry;
      bool done = false;
      Status s = reader_->Next(&entry, &done);
      if (s.ok() && !done) {
        b->op = entry.op;
        b->timestamp_us = entry.timestamp_us;
        b->command_count = entry.command_count;
        b->body.assign(entry.body.begin(), entry.body.end());
      }
      {
        std::lock_guard lock(mutex_);
        if (!s.ok() || done) {
          status_ = s;
          finished_ = true;
        } else {
          full_.push_back(b);
        }
      }
      changed_.notify_all();
      if (!s.ok() || done) break;
    }
  }

  std::unique_ptr<JournalReader> reader_;
  std::vector<Buffered> buffers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Buffered*> free_;  // guarded by mutex_, as are the three below
  std::deque<Buffered*> full_;
  bool finished_ = false;
  bool stop_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace

Status ReplayJournal(Env* env, const std::string& dir, engine::Engine* engine,
                     const RecoveryProgress& progress, ReplayReport* report) {
  const uint64_t started = MonotonicNs();
  *report = ReplayReport{};
  std::unique_ptr<JournalReader> reader;
  ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env, dir, engine->last_op() + 1, &reader));
  const uint32_t batch_max = engine->config().batch_command_count_max;
  std::vector<wire::Result> results(batch_max);
  ReadAhead ahead(std::move(reader), size_t{batch_max} * wire::kCommandSize);
  for (;;) {
    Status read_status;
    Buffered* entry = ahead.Next(&read_status);
    if (entry == nullptr) {
      ELEVEN_RETURN_IF_ERROR(read_status);
      break;
    }
    if (entry->body.size() != uint64_t{entry->command_count} * wire::kCommandSize ||
        entry->command_count > batch_max) {
      return Status::Corruption("journal entry " + std::to_string(entry->op) +
                                " does not hold whole command records within the batch limit");
    }
    const auto* commands = reinterpret_cast<const wire::Command*>(entry->body.data());
    const auto error = engine->Apply(entry->op, entry->timestamp_us,
                                     std::span(commands, entry->command_count), results);
    if (error != engine::BatchError::kNone) {
      return Status::Corruption("journal entry " + std::to_string(entry->op) +
                                " cannot follow the state: " + std::string(engine::BatchErrorName(error)));
    }
    report->entries++;
    report->commands += entry->command_count;
    ahead.Release(entry);
    if (progress && report->entries % kProgressEveryEntries == 0) progress(report->entries);
  }
  report->torn_tail = ahead.reader().torn_tail();
  report->seconds = double(MonotonicNs() - started) / 1e9;
  return Status::Ok();
}

}  // namespace eleven::replica
