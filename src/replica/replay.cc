#include "replica/replay.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "wire/packed.h"
#include "wire/records.h"

namespace eleven::replica {

namespace {

constexpr uint64_t kProgressEveryEntries = 4096;
constexpr size_t kBufferCount = 4;  // entries read ahead of the one being applied

// One entry read ahead: its header fields and its commands, unpacked by the reader thread.
struct Buffered {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  uint64_t size_bytes = 0;  // the entry's in the journal: header, body, padding
  std::vector<wire::Command> commands;
};

// The reader thread's side of the hand-over: it fills free buffers and queues them; the
// applier takes them in order and gives them back. Not the hot path (one hand-over per
// entry of up to 8,190 commands), so a mutex and condition variables are enough.
class ReadAhead {
 public:
  ReadAhead(std::unique_ptr<JournalReader> reader, uint32_t command_count_max)
      : reader_(std::move(reader)), command_count_max_(command_count_max), buffers_(kBufferCount) {
    for (Buffered& b : buffers_) {
      b.commands.reserve(command_count_max);
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
        b->size_bytes = JournalEntrySize(entry.body.size());
        s = EntryCommands(entry, command_count_max_, &b->commands);
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
  const uint32_t command_count_max_;
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

Status EntryCommands(const JournalEntry& entry, uint32_t command_count_max,
                     std::vector<wire::Command>* commands) {
  const auto corrupt = [&](const std::string& what) {
    return Status::Corruption("journal entry " + std::to_string(entry.op) + " " + what);
  };
  if (entry.command_count > command_count_max) {
    return corrupt("holds " + std::to_string(entry.command_count) + " commands, more than the batch limit " +
                   std::to_string(command_count_max));
  }
  commands->resize(entry.command_count);
  switch (static_cast<BodyFormat>(entry.body_format)) {
    case BodyFormat::kRaw:
      if (entry.body.size() != uint64_t{entry.command_count} * wire::kCommandSize) {
        return corrupt("does not hold whole command records");
      }
      if (!entry.body.empty()) {
        std::memcpy(static_cast<void*>(commands->data()), entry.body.data(), entry.body.size());
      }
      return Status::Ok();
    case BodyFormat::kPacked:
      if (!wire::UnpackCommands(entry.body, *commands)) {
        return corrupt("does not hold " + std::to_string(entry.command_count) + " packed commands");
      }
      return Status::Ok();
  }
  return corrupt("has an unknown body format " + std::to_string(entry.body_format));
}

Status ReplayJournal(Env* env, const std::string& dir, engine::Engine* engine,
                     const ReplayOptions& options, ReplayReport* report) {
  const uint64_t started = MonotonicNs();
  *report = ReplayReport{};
  std::unique_ptr<JournalReader> reader;
  if (options.after) {
    ELEVEN_ASSERT(options.after->op_last == engine->last_op());
    ELEVEN_RETURN_IF_ERROR(JournalReader::OpenAfter(env, dir, *options.after, options.op_to, &reader));
    report->end = options.after;
  } else {
    ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env, dir, engine->last_op() + 1, &reader, options.op_to));
  }
  const uint32_t batch_max = engine->config().batch_command_count_max;
  std::vector<wire::Result> results(batch_max);
  ReadAhead ahead(std::move(reader), batch_max);
  for (;;) {
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) {
      return Status::Unavailable("replay stopped at op " + std::to_string(engine->last_op()));
    }
    Status read_status;
    Buffered* entry = ahead.Next(&read_status);
    if (entry == nullptr) {
      ELEVEN_RETURN_IF_ERROR(read_status);
      break;
    }
    engine::BatchError error;
    if (options.view != nullptr) {
      const auto lock = options.view->LockForApply();
      error = engine->Apply(entry->op, entry->timestamp_us, entry->commands, results);
      if (error == engine::BatchError::kNone) options.view->Applied(entry->commands);
    } else {
      error = engine->Apply(entry->op, entry->timestamp_us, entry->commands, results);
    }
    if (error != engine::BatchError::kNone) {
      return Status::Corruption("journal entry " + std::to_string(entry->op) +
                                " cannot follow the state: " + std::string(engine::BatchErrorName(error)));
    }
    report->entries++;
    report->commands += entry->commands.size();
    report->bytes += entry->size_bytes;
    ahead.Release(entry);
    if (options.progress && report->entries % kProgressEveryEntries == 0) options.progress(report->entries);
  }
  report->torn_tail = ahead.reader().torn_tail();
  if (report->entries > 0) report->end = ahead.reader().position();
  if (options.op_to != kJournalOpMax && engine->last_op() != options.op_to) {
    return Status::Corruption("journal " + dir + " ends at op " + std::to_string(engine->last_op()) +
                              ", before op " + std::to_string(options.op_to));
  }
  report->seconds = double(MonotonicNs() - started) / 1e9;
  return Status::Ok();
}

Status CheckJournal(Env* env, const std::string& dir, uint32_t command_count_max,
                    JournalCheck* check) {
  *check = JournalCheck{};
  std::vector<JournalSegment> segments;
  ELEVEN_RETURN_IF_ERROR(ListJournalSegments(env, dir, &segments));
  check->segment_count = segments.size();
  if (segments.empty()) return Status::Ok();
  check->op_first = segments.front().first_op;
  std::unique_ptr<JournalReader> reader;
  ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env, dir, check->op_first, &reader));
  std::vector<wire::Command> commands;
  commands.reserve(command_count_max);
  // Bounded by the entries of the kept segments.
  for (;;) {
    JournalEntry entry;
    bool done = false;
    ELEVEN_RETURN_IF_ERROR(reader->Next(&entry, &done));
    if (done) break;
    ELEVEN_ASSERT(entry.op == check->op_first + check->entries);  // the reader checks continuity
    ELEVEN_RETURN_IF_ERROR(EntryCommands(entry, command_count_max, &commands));
    check->entries++;
    check->op_last = entry.op;
  }
  check->torn_tail = reader->torn_tail();
  return Status::Ok();
}

}  // namespace eleven::replica
