#include <algorithm>
#include <cstring>
#include <vector>

#include "base/assert.h"
#include "storage/journal.h"

namespace eleven {

JournalWriter::JournalWriter(Env* env, std::string dir, const JournalOptions& options)
    : env_(env),
      dir_(std::move(dir)),
      options_(options),
      buffer_(std::make_unique_for_overwrite<std::byte[]>(options.write_buffer_size_bytes)),
      prepared_path_(JoinPath(dir_, kJournalPreparedName)) {
  ELEVEN_ASSERT(options_.write_buffer_size_bytes >= kJournalEntrySizeBytesMax);
  ELEVEN_ASSERT(options_.segment_size_bytes_max >= kJournalEntryHeaderSizeBytes);
}

// Unflushed appends are dropped, as in a crash.
JournalWriter::~JournalWriter() = default;

Status JournalWriter::Open(Env* env, const std::string& dir, const JournalOptions& options,
                           std::unique_ptr<JournalWriter>* writer, JournalRecovery* recovery) {
  ELEVEN_ASSERT(env != nullptr && recovery != nullptr);
  *recovery = JournalRecovery{};
  std::unique_ptr<JournalWriter> result(new JournalWriter(env, dir, options));
  ELEVEN_RETURN_IF_ERROR(result->Recover(recovery));
  if (options.prepare_segments && recovery->segment_count == 0) {
    // A failure is counted, not the journal's: the first segment is then a plain one, and the
    // half-written file goes (on a small disk it is what would fill it).
    if (result->PrepareFile().ok()) {
      result->prepared_ready_ = true;
    } else {
      result->prepare_failure_count_++;
      ELEVEN_RETURN_IF_ERROR(result->RemovePrepared());
    }
  }
  *writer = std::move(result);
  return Status::Ok();
}

// Writes the prepared file: segment_size_bytes_max zeros, then one fdatasync. NoSpace without
// writing anything when the file system has not that much room: zeros must never take the
// space the journal's entries need.
Status JournalWriter::PrepareFile() {
  constexpr uint64_t kChunkBytes = uint64_t{1} << 20;
  const uint64_t size_max = options_.segment_size_bytes_max;
  uint64_t free_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(env_->GetFreeSpace(dir_, &free_bytes));
  if (free_bytes < size_max) {
    return Status::NoSpace("prepare " + prepared_path_ + ": " + std::to_string(free_bytes) +
                           " bytes free, a segment takes " + std::to_string(size_max));
  }
  std::unique_ptr<WritableFile> file;
  ELEVEN_RETURN_IF_ERROR(env_->NewWritableFile(prepared_path_, &file));
  const std::vector<std::byte> zeros(std::min(kChunkBytes, size_max));
  for (uint64_t at = 0; at < size_max; at += zeros.size()) {
    ELEVEN_RETURN_IF_ERROR(file->Append(ByteSpan(zeros.data(), std::min<uint64_t>(zeros.size(), size_max - at))));
  }
  ELEVEN_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

Status JournalWriter::RemovePrepared() {
  const Status removed = env_->RemoveFile(prepared_path_);
  if (removed.ok() || removed.code() == StatusCode::kNotFound) return Status::Ok();
  return removed;
}

Status JournalWriter::OldestRecycled(std::string* path) {
  path->clear();
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env_->GetChildren(dir_, &names));
  uint64_t oldest = UINT64_MAX;
  for (const std::string& name : names) {
    std::optional<uint64_t> first_op = ParseJournalRecycledName(name);
    if (first_op && *first_op < oldest) {
      oldest = *first_op;
      *path = JoinPath(dir_, name);
    }
  }
  return Status::Ok();
}

// Reads the end of the journal, truncates a torn tail and reopens the last segment. Only
// the last segment is scanned (and the one before it when the last holds no good entry, to
// learn the header checksum the next entry chains to); JournalReader verifies the rest.
Status JournalWriter::Recover(JournalRecovery* recovery) {
  // A leftover from before may be half written (or preparing is off now): it goes.
  ELEVEN_RETURN_IF_ERROR(RemovePrepared());
  std::vector<JournalSegment> segments;
  ELEVEN_RETURN_IF_ERROR(ListJournalSegments(env_, dir_, &segments));
  recovery->segment_count = segments.size();
  if (segments.empty()) return Status::Ok();
  std::unique_ptr<JournalReader> reader;
  const size_t last_index = segments.size() - 1;
  size_t start_index = last_index;
  for (int pass = 0; pass < 2; pass++) {
    ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env_, dir_, segments[start_index].first_op, &reader));
    JournalEntry entry;
    bool done = false;
    // Bounded by the entries of two segments.
    while (!done) ELEVEN_RETURN_IF_ERROR(reader->Next(&entry, &done));
    if (reader->entry_count() > 0 || start_index == 0) break;
    start_index--;
  }
  const JournalSegment& last = segments.back();
  ELEVEN_ASSERT(reader->end_path() == last.path);
  if (reader->torn_tail()) {
    ELEVEN_ASSERT(reader->torn_tail()->path == last.path);
    ELEVEN_RETURN_IF_ERROR(env_->TruncateFile(last.path, reader->torn_tail()->offset));
    recovery->torn_tail = reader->torn_tail();
  }
  if (reader->op_last() > 0) {
    op_last_appended_ = reader->op_last();
    prev_header_checksum_ = reader->header_checksum_last();
  } else {
    op_last_appended_ = last.first_op - 1;  // An empty last segment fixes the next op.
    prev_header_checksum_ = 0;
  }
  op_last_written_ = op_last_appended_;
  uint64_t file_size_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(env_->GetFileSize(last.path, &file_size_bytes));
  segment_size_bytes_ = reader->end_offset();
  ELEVEN_ASSERT(file_size_bytes == segment_size_bytes_ + reader->unused_size_bytes());
  segment_overwritten_ = reader->unused_size_bytes() > 0;
  if (segment_overwritten_) {
    // A prepared or recycled segment: the next entry goes over what follows the last one.
    ELEVEN_RETURN_IF_ERROR(env_->NewOverwritingFile(last.path, segment_size_bytes_, &file_));
  } else {
    ELEVEN_RETURN_IF_ERROR(env_->NewAppendableFile(last.path, &file_));
  }
  segment_first_op_ = last.first_op;
  // A process crash leaves written but unsynced entries in the page cache, readable but not
  // durable; make them durable before anything is built on them.
  ELEVEN_RETURN_IF_ERROR(SyncFile());
  recovery->op_last = op_last_appended_;
  return Status::Ok();
}

Status JournalWriter::Fail(Status status) {
  ELEVEN_ASSERT(!status.ok());
  if (failure_.ok()) failure_ = std::move(status);
  return failure_;
}

Status JournalWriter::Append(uint64_t op, uint64_t timestamp_us, uint32_t command_count,
                             ByteSpan body, uint16_t body_format) {
  if (!failure_.ok()) return failure_;
  ELEVEN_ASSERT(op >= 1);
  ELEVEN_ASSERT(body.size() <= kJournalEntryBodySizeBytesMax);
  ELEVEN_ASSERT(command_count <= kJournalEntryCommandCountMax);
  if (file_ != nullptr || op_last_appended_ > 0) ELEVEN_ASSERT(op == op_last_appended_ + 1);
  const uint64_t entry_size_bytes = JournalEntrySize(body.size());
  if (file_ == nullptr) {
    // An empty journal starts at any op (1 unless its segments went with a snapshot).
    op_last_appended_ = op - 1;
    op_last_written_ = op - 1;
    op_last_durable_ = op - 1;
    ELEVEN_RETURN_IF_ERROR(CreateSegment(op));
  } else if (segment_size_bytes_ > 0 &&
             segment_size_bytes_ + entry_size_bytes > options_.segment_size_bytes_max) {
    ELEVEN_RETURN_IF_ERROR(Roll(op));
  }
  if (buffer_used_bytes_ + entry_size_bytes > options_.write_buffer_size_bytes) {
    ELEVEN_RETURN_IF_ERROR(Flush());
  }
  JournalEntryHeader header{};
  header.magic = kJournalMagic;
  header.version = kJournalFormatVersion;
  header.op = op;
  header.timestamp_us = timestamp_us;
  header.command_count = command_count;
  header.body_format = body_format;
  header.body_size_bytes = static_cast<uint32_t>(body.size());
  header.body_checksum = Checksum64(body.data(), body.size());
  header.prev_header_checksum = op == 1 ? 0 : prev_header_checksum_;
  header.header_checksum = JournalHeaderChecksum(header);
  ELEVEN_ASSERT(JournalHeaderValid(header));
  std::byte* out = buffer_.get() + buffer_used_bytes_;
  std::memcpy(out, &header, sizeof(header));
  if (!body.empty()) std::memcpy(out + sizeof(header), body.data(), body.size());
  const uint64_t padding_bytes = entry_size_bytes - sizeof(header) - body.size();
  std::memset(out + sizeof(header) + body.size(), 0, padding_bytes);
  ELEVEN_DASSERT(CheckJournalEntry(ByteSpan(out, entry_size_bytes), &header) == JournalEntryCheck::kOk);
  buffer_used_bytes_ += entry_size_bytes;
  segment_size_bytes_ += entry_size_bytes;
  op_last_appended_ = op;
  prev_header_checksum_ = header.header_checksum;
  return Status::Ok();
}

Status JournalWriter::Flush() {
  if (!failure_.ok()) return failure_;
  if (buffer_used_bytes_ == 0) return Status::Ok();
  ELEVEN_ASSERT(file_ != nullptr);
  ELEVEN_ASSERT(buffer_used_bytes_ <= options_.write_buffer_size_bytes);
  // The data right before it goes to disk: the buffer starts with a good header.
  JournalEntryHeader first;
  std::memcpy(&first, buffer_.get(), sizeof(first));
  ELEVEN_ASSERT(JournalHeaderValid(first) && first.op == op_last_written_ + 1);
  Status status = file_->Append(ByteSpan(buffer_.get(), buffer_used_bytes_));
  if (!status.ok()) return Fail(std::move(status));
  bytes_written_ += buffer_used_bytes_;
  buffer_used_bytes_ = 0;
  if (segment_overwritten_) {
    // What follows may be a recycled file's old entries: mark where these end.
    const JournalEntryHeader mark = MakeJournalEndMark(op_last_appended_ + 1, prev_header_checksum_);
    status = file_->WriteTrailer(ByteSpan(reinterpret_cast<const std::byte*>(&mark), sizeof(mark)));
    if (!status.ok()) return Fail(std::move(status));
  }
  op_last_written_ = op_last_appended_;
  return Status::Ok();
}

Status JournalWriter::Sync() {
  ELEVEN_RETURN_IF_ERROR(Flush());
  if (op_last_durable_ == op_last_written_) return Status::Ok();
  return SyncFile();
}

Status JournalWriter::SyncFile() {
  ELEVEN_ASSERT(file_ != nullptr);
  ELEVEN_ASSERT(buffer_used_bytes_ == 0);
  Status status = file_->Sync();
  if (!status.ok()) return Fail(std::move(status));
  sync_count_++;
  op_last_durable_ = op_last_written_;
  return Status::Ok();
}

Status JournalWriter::CreateSegment(uint64_t first_op) {
  ELEVEN_ASSERT(file_ == nullptr);
  const std::string path = JoinPath(dir_, JournalSegmentName(first_op));
  std::unique_ptr<WritableFile> file;
  // The prepared file, else the oldest recycled one, else a new file.
  std::string recycled;
  Status status;
  if (!prepared_ready_) {
    status = OldestRecycled(&recycled);
    if (!status.ok()) return Fail(std::move(status));
  }
  const bool overwritten = prepared_ready_ || !recycled.empty();
  if (prepared_ready_) {
    prepared_ready_ = false;
    status = env_->RenameFile(prepared_path_, path);
    prepared_segment_count_++;
  } else if (!recycled.empty()) {
    status = env_->RenameFile(recycled, path);
    recycled_segment_count_++;
  } else {
    status = env_->NewWritableFile(path, &file);
  }
  if (!status.ok()) return Fail(std::move(status));
  // The segment's name must be durable before any entry in it is reported durable.
  status = env_->SyncDir(dir_);
  if (!status.ok()) return Fail(std::move(status));
  if (overwritten) {
    status = env_->NewOverwritingFile(path, 0, &file);
    if (!status.ok()) return Fail(std::move(status));
  }
  segment_overwritten_ = overwritten;
  file_ = std::move(file);
  segment_first_op_ = first_op;
  segment_size_bytes_ = 0;
  return Status::Ok();
}

// Closes the current segment durably and starts a new one whose first entry is `first_op`.
// Syncing first means a crash can only tear the last segment.
Status JournalWriter::Roll(uint64_t first_op) {
  ELEVEN_ASSERT(first_op == op_last_appended_ + 1);
  ELEVEN_RETURN_IF_ERROR(Flush());
  if (op_last_durable_ != op_last_written_) ELEVEN_RETURN_IF_ERROR(SyncFile());
  Status status = file_->Close();
  if (!status.ok()) return Fail(std::move(status));
  file_.reset();
  if (segment_overwritten_) {
    // A sealed segment ends with its last entry, as one that was appended does: builds from
    // before prepared segments read it, and only the last segment ever has other bytes.
    status = env_->TruncateFile(JoinPath(dir_, JournalSegmentName(segment_first_op_)), segment_size_bytes_);
    if (!status.ok()) return Fail(std::move(status));
  }
  return CreateSegment(first_op);
}

}  // namespace eleven
