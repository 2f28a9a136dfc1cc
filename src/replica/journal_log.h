// The local journal as a replica's Log (replica/log.h): entries are written to the data
// directory's journal segments (storage/journal.h) and made durable by one fdatasync per
// Sync (a group commit). The default log, and the only one of a single-node server.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "replica/log.h"
#include "storage/env.h"
#include "storage/journal.h"

namespace eleven::replica {

class JournalLog final : public Log {
 public:
  // `env` must outlive the log; `dir` is a data directory the caller holds the lock of.
  JournalLog(Env* env, std::string dir, const JournalOptions& options);

  // Replays the journal after engine->last_op() (ReplayJournal), then opens it for appending
  // (a torn last entry is cut off: `report->torn_tail` says what went). The journal may end
  // before the engine's op only if it holds nothing after it (its old segments were removed
  // and nothing was written since); else Corruption.
  [[nodiscard]] Status Recover(engine::Engine* engine, const RecoveryProgress& progress,
                               ReplayReport* report) override;
  [[nodiscard]] Status Append(const LogEntry& entry) override;
  [[nodiscard]] Status Sync() override;
  // Removes the segments wholly before `op_keep_from` (RemoveJournalSegmentsBefore), keeping
  // recycled_segments_max of them to write over.
  [[nodiscard]] Status Release(uint64_t op_keep_from) override;

  std::string_view name() const override { return "journal"; }
  uint64_t bytes_written() const override { return bytes_written_.load(std::memory_order_relaxed); }
  uint64_t sync_count() const override { return sync_count_.load(std::memory_order_relaxed); }

 private:
  Env* const env_;
  const std::string dir_;
  const JournalOptions options_;
  std::unique_ptr<JournalWriter> writer_;
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> sync_count_{0};
};

}  // namespace eleven::replica
