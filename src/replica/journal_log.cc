#include "replica/journal_log.h"

#include <utility>

#include "base/assert.h"

namespace eleven::replica {

JournalLog::JournalLog(Env* env, std::string dir, const JournalOptions& options)
    : env_(env), dir_(std::move(dir)), options_(options) {
  ELEVEN_ASSERT(env != nullptr);
}

Status JournalLog::Recover(engine::Engine* engine, const RecoveryProgress& progress,
                           ReplayReport* report) {
  ELEVEN_ASSERT(writer_ == nullptr);
  ELEVEN_RETURN_IF_ERROR(ReplayJournal(env_, dir_, engine, progress, report));
  JournalRecovery journal;
  ELEVEN_RETURN_IF_ERROR(JournalWriter::Open(env_, dir_, options_, &writer_, &journal));
  if (journal.op_last != engine->last_op() && journal.op_last != 0) {
    return Status::Corruption("journal ends at op " + std::to_string(journal.op_last) +
                              " but the recovered state is at op " +
                              std::to_string(engine->last_op()));
  }
  return Status::Ok();
}

Status JournalLog::Append(const LogEntry& entry) {
  ELEVEN_ASSERT(writer_ != nullptr);
  ELEVEN_RETURN_IF_ERROR(writer_->Append(entry.op, entry.timestamp_us, entry.command_count,
                                         entry.packed, static_cast<uint16_t>(BodyFormat::kPacked)));
  return Status::Ok();
}

Status JournalLog::Sync() {
  ELEVEN_ASSERT(writer_ != nullptr);
  const Status synced = writer_->Sync();
  bytes_written_.store(writer_->bytes_written(), std::memory_order_relaxed);
  sync_count_.store(writer_->sync_count(), std::memory_order_relaxed);
  return synced;
}

Status JournalLog::Release(uint64_t op_keep_from) {
  return RemoveJournalSegmentsBefore(env_, dir_, op_keep_from, nullptr,
                                     options_.recycled_segments_max);
}

}  // namespace eleven::replica
