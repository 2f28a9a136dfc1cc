#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "storage/journal.h"

namespace eleven {
namespace {

// Read-ahead buffer: one largest entry plus room to batch many small ones per read.
constexpr uint64_t kReadBufferSizeBytes = kJournalEntrySizeBytesMax + (uint64_t{4} << 20);
// When looking for a valid header after a bad entry, read the tail in chunks of this size.
constexpr uint64_t kScanChunkSizeBytes = uint64_t{1} << 20;

}  // namespace

std::string JournalTornTail::ToString() const {
  return "torn entry op " + std::to_string(op) + " in " + path + " at offset " +
         std::to_string(offset) + " (" + reason + "), " + std::to_string(dropped_size_bytes) +
         " bytes dropped";
}

Status ListJournalSegments(Env* env, const std::string& dir, std::vector<JournalSegment>* segments) {
  segments->clear();
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  for (const std::string& name : names) {
    std::optional<uint64_t> first_op = ParseJournalSegmentName(name);
    if (first_op) segments->push_back({*first_op, JoinPath(dir, name)});
  }
  std::sort(segments->begin(), segments->end(),
            [](const JournalSegment& a, const JournalSegment& b) { return a.first_op < b.first_op; });
  return Status::Ok();
}

Status RemoveJournalSegmentsBefore(Env* env, const std::string& dir, uint64_t op_keep_from,
                                   uint64_t* removed_count, uint64_t recycled_max) {
  ELEVEN_ASSERT(op_keep_from >= 1);
  std::vector<JournalSegment> segments;
  ELEVEN_RETURN_IF_ERROR(ListJournalSegments(env, dir, &segments));
  // Segment i holds ops [first_op(i), first_op(i + 1) - 1]; the last one is never removed.
  uint64_t removed = 0;
  while (removed + 1 < segments.size() && segments[removed + 1].first_op <= op_keep_from) removed++;
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  uint64_t recycled_count = static_cast<uint64_t>(std::count_if(
      names.begin(), names.end(), [](const std::string& name) { return ParseJournalRecycledName(name).has_value(); }));
  // Newest first: they go on as recycled files, whose blocks are written, so a later segment
  // written over them syncs data only.
  for (size_t i = removed; i-- > 0;) {
    if (recycled_count < recycled_max) {
      ELEVEN_RETURN_IF_ERROR(env->RenameFile(segments[i].path, JoinPath(dir, JournalRecycledName(segments[i].first_op))));
      recycled_count++;
    } else {
      ELEVEN_RETURN_IF_ERROR(env->RemoveFile(segments[i].path));
    }
  }
  if (removed > 0) ELEVEN_RETURN_IF_ERROR(env->SyncDir(dir));
  if (removed_count != nullptr) *removed_count = removed;
  return Status::Ok();
}

JournalReader::JournalReader(Env* env, std::vector<JournalSegment> segments, size_t segment_index,
                             uint64_t op_from, uint64_t op_to)
    : env_(env),
      segments_(std::move(segments)),
      op_from_(op_from),
      op_to_(op_to),
      segment_index_(segment_index),
      buffer_(std::make_unique_for_overwrite<std::byte[]>(kReadBufferSizeBytes)) {
  ELEVEN_ASSERT(segments_.empty() || segment_index_ < segments_.size());
}

JournalReader::~JournalReader() = default;

Status JournalReader::Open(Env* env, const std::string& dir, uint64_t op_from,
                           std::unique_ptr<JournalReader>* reader, uint64_t op_to) {
  ELEVEN_ASSERT(op_from >= 1 && op_to >= op_from - 1);
  std::vector<JournalSegment> segments;
  ELEVEN_RETURN_IF_ERROR(ListJournalSegments(env, dir, &segments));
  size_t index = 0;
  if (!segments.empty()) {
    if (op_from < segments.front().first_op) {
      return Status::NotFound("journal " + dir + " starts at op " +
                              std::to_string(segments.front().first_op) + ", after op " +
                              std::to_string(op_from) + " (its segment was removed)");
    }
    // The last segment whose first op is at or before op_from holds op_from (if it exists).
    while (index + 1 < segments.size() && segments[index + 1].first_op <= op_from) index++;
  }
  reader->reset(new JournalReader(env, std::move(segments), index, op_from, op_to));
  return Status::Ok();
}

Status JournalReader::OpenAfter(Env* env, const std::string& dir, const JournalPosition& after,
                                uint64_t op_to, std::unique_ptr<JournalReader>* reader) {
  ELEVEN_ASSERT(after.op_last >= 1 && op_to >= after.op_last);
  // Twice at most: a segment listed may be removed (after a snapshot) before it is opened.
  for (int attempt = 0;; attempt++) {
    std::vector<JournalSegment> segments;
    ELEVEN_RETURN_IF_ERROR(ListJournalSegments(env, dir, &segments));
    const auto starting = [&](uint64_t first_op) {
      return std::find_if(segments.begin(), segments.end(),
                          [&](const JournalSegment& s) { return s.first_op == first_op; });
    };
    auto at = starting(after.segment_first_op);
    uint64_t offset = after.offset;
    if (at == segments.end()) {
      at = starting(after.op_last + 1);
      offset = 0;
    }
    if (at == segments.end()) {
      return Status::NotFound("journal " + dir + " no longer holds the segment of op " +
                              std::to_string(after.op_last) + " nor one starting at op " +
                              std::to_string(after.op_last + 1));
    }
    const auto index = static_cast<size_t>(at - segments.begin());
    std::unique_ptr<JournalReader> r(
        new JournalReader(env, std::move(segments), index, after.op_last + 1, op_to));
    Status opened = r->OpenSegment();
    if (opened.code() == StatusCode::kNotFound && attempt == 0) continue;
    ELEVEN_RETURN_IF_ERROR(opened);
    if (offset > r->file_size_bytes_ || offset % kJournalEntryAlignment != 0) {
      return r->CorruptionAt(offset, "cannot resume here: the segment holds " +
                                         std::to_string(r->file_size_bytes_) + " bytes");
    }
    r->offset_ = offset;
    r->segment_entry_count_ = offset > 0 ? 1 : 0;  // op_last's entry lies before offset
    r->op_last_ = after.op_last;
    r->header_checksum_last_ = after.header_checksum_last;
    r->last_known_ = true;
    *reader = std::move(r);
    return Status::Ok();
  }
}

JournalPosition JournalReader::position() const {
  ELEVEN_ASSERT(last_known_);
  return JournalPosition{.segment_first_op = segments_[segment_index_].first_op,
                         .offset = offset_,
                         .op_last = op_last_,
                         .header_checksum_last = header_checksum_last_};
}

const std::string& JournalReader::end_path() const {
  static const std::string kNoPath;
  return segments_.empty() ? kNoPath : segments_[segment_index_].path;
}

Status JournalReader::CorruptionAt(uint64_t offset, const std::string& what) const {
  return Status::Corruption("journal " + segments_[segment_index_].path + " at offset " +
                            std::to_string(offset) + ": " + what);
}

uint64_t JournalReader::ExpectedOp() const {
  if (segment_entry_count_ == 0) return segments_[segment_index_].first_op;
  return op_last_ + 1;
}

Status JournalReader::OpenSegment() {
  ELEVEN_ASSERT(segment_index_ < segments_.size());
  const std::string& path = segments_[segment_index_].path;
  ELEVEN_RETURN_IF_ERROR(env_->NewRandomAccessFile(path, &file_));
  ELEVEN_RETURN_IF_ERROR(env_->GetFileSize(path, &file_size_bytes_));
  offset_ = 0;
  buffer_offset_ = 0;
  buffer_size_ = 0;
  segment_entry_count_ = 0;
  unused_size_bytes_ = 0;
  return Status::Ok();
}

// At the clean end of the current segment: move on to the next one, or finish.
Status JournalReader::NextSegment(bool* done) {
  ELEVEN_ASSERT(offset_ == file_size_bytes_);
  if (last_segment()) {
    done_ = true;
    *done = true;
    return Status::Ok();
  }
  if (segment_entry_count_ == 0) return CorruptionAt(0, "empty segment before the last one");
  segment_index_++;
  file_.reset();
  const JournalSegment& next = segments_[segment_index_];
  if (next.first_op != op_last_ + 1) {
    return CorruptionAt(0, "segment starts at op " + std::to_string(next.first_op) +
                               " but the previous one ends at op " + std::to_string(op_last_));
  }
  return OpenSegment();
}

// Makes file bytes [offset_, offset_ + size_bytes) available in buffer_, or as many as the
// file has; `*available_bytes` says how many.
Status JournalReader::Fill(uint64_t size_bytes, uint64_t* available_bytes) {
  ELEVEN_ASSERT(size_bytes <= kReadBufferSizeBytes);
  ELEVEN_ASSERT(offset_ <= file_size_bytes_);
  const uint64_t wanted_bytes = std::min(size_bytes, file_size_bytes_ - offset_);
  const bool buffered = offset_ >= buffer_offset_ &&
                        offset_ + wanted_bytes <= buffer_offset_ + buffer_size_;
  if (!buffered) {
    const uint64_t read_size_bytes = std::min(kReadBufferSizeBytes, file_size_bytes_ - offset_);
    size_t read_bytes = 0;
    ELEVEN_RETURN_IF_ERROR(file_->Read(offset_, read_size_bytes, buffer_.get(), &read_bytes));
    buffer_offset_ = offset_;
    buffer_size_ = read_bytes;
  }
  *available_bytes = std::min(wanted_bytes, buffer_offset_ + buffer_size_ - offset_);
  return Status::Ok();
}

Status JournalReader::ReadAt(uint64_t offset, uint64_t size_bytes, std::vector<std::byte>* out) {
  out->resize(size_bytes);
  size_t read_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(file_->Read(offset, size_bytes, out->data(), &read_bytes));
  out->resize(read_bytes);
  return Status::Ok();
}

Status JournalReader::Next(JournalEntry* entry, bool* done) {
  *done = false;
  // Bounded: each pass consumes an entry or a segment, or returns.
  for (;;) {
    if (done_ || segments_.empty() || (last_known_ && op_last_ >= op_to_)) {
      done_ = true;
      *done = true;
      return Status::Ok();
    }
    if (file_ == nullptr) ELEVEN_RETURN_IF_ERROR(OpenSegment());
    if (offset_ == file_size_bytes_) {
      ELEVEN_RETURN_IF_ERROR(NextSegment(done));
      if (*done) return Status::Ok();
      continue;
    }
    uint64_t available_bytes = 0;
    ELEVEN_RETURN_IF_ERROR(Fill(kJournalEntryHeaderSizeBytes, &available_bytes));
    const std::byte* at = buffer_.get() + (offset_ - buffer_offset_);
    if (std::all_of(at, at + available_bytes, [](std::byte b) { return b == std::byte{0}; })) {
      bool zero = false;
      ELEVEN_RETURN_IF_ERROR(ZeroToEnd(&zero));
      if (zero) {  // The segment's zero fill: its entries end here.
        unused_size_bytes_ = file_size_bytes_ - offset_;
        file_size_bytes_ = offset_;
        continue;
      }
    }
    uint64_t entry_size_bytes = kJournalEntryHeaderSizeBytes;
    JournalEntryHeader header;
    if (available_bytes == kJournalEntryHeaderSizeBytes) {
      std::memcpy(&header, buffer_.get() + (offset_ - buffer_offset_), sizeof(header));
      bool ended = false;
      ELEVEN_RETURN_IF_ERROR(EndsHere(header, &ended));
      if (ended) continue;
      if (JournalHeaderValid(header)) entry_size_bytes = JournalEntrySize(header.body_size_bytes);
    }
    ELEVEN_RETURN_IF_ERROR(Fill(entry_size_bytes, &available_bytes));
    ByteSpan bytes(buffer_.get() + (offset_ - buffer_offset_), available_bytes);
    JournalEntryCheck check = CheckJournalEntry(bytes, &header);
    if (check != JournalEntryCheck::kOk) return HandleBadEntry(check, done);
    ELEVEN_RETURN_IF_ERROR(CheckGoodEntry(header));
    ELEVEN_ASSERT(bytes.size() == JournalEntrySize(header.body_size_bytes));
    offset_ += bytes.size();
    segment_entry_count_++;
    entry_count_++;
    op_last_ = header.op;
    header_checksum_last_ = header.header_checksum;
    last_known_ = true;
    if (header.op < op_from_) continue;
    *entry = JournalEntry{.op = header.op,
                          .timestamp_us = header.timestamp_us,
                          .command_count = header.command_count,
                          .header_checksum = header.header_checksum,
                          .body_format = header.body_format,
                          .body = bytes.subspan(kJournalEntryHeaderSizeBytes, header.body_size_bytes)};
    return Status::Ok();
  }
}

// An entry whose checksums are good: check that it is the one expected here.
Status JournalReader::CheckGoodEntry(const JournalEntryHeader& header) {
  const uint64_t expected_op = ExpectedOp();
  if (header.op != expected_op) {
    return CorruptionAt(offset_, "entry has op " + std::to_string(header.op) + ", expected op " +
                                     std::to_string(expected_op));
  }
  if (last_known_ && header.prev_header_checksum != header_checksum_last_) {
    return CorruptionAt(offset_, "hash chain broken: op " + std::to_string(header.op) +
                                     " does not name the header checksum of op " +
                                     std::to_string(op_last_));
  }
  if (header.op == 1 && header.prev_header_checksum != 0) {
    return CorruptionAt(offset_, "hash chain broken: op 1 names a predecessor");
  }
  return Status::Ok();
}

// At an entry boundary: an end mark, or an entry older than the segment (a recycled file's
// old bytes), ends the segment's entries, if no entry of this segment follows.
Status JournalReader::EndsHere(const JournalEntryHeader& header, bool* ended) {
  *ended = false;
  const uint64_t first_op = segments_[segment_index_].first_op;
  std::string why;
  if (JournalEndMarkValid(header) && header.op >= first_op) {
    if (header.op != ExpectedOp()) {
      return CorruptionAt(offset_, "end mark names op " + std::to_string(header.op) +
                                       ", expected op " + std::to_string(ExpectedOp()));
    }
    if (last_known_ && header.prev_header_checksum != header_checksum_last_) {
      return CorruptionAt(offset_, "end mark does not name the header checksum of op " +
                                       std::to_string(op_last_));
    }
    why = "an end mark";
  } else if (header.op < first_op && (JournalEndMarkValid(header) || JournalHeaderValid(header))) {
    // The op first: an entry of this segment is not checksummed here, only once below.
    why = "op " + std::to_string(header.op) + ", older than the segment: a recycled file's old bytes";
  } else {
    return Status::Ok();
  }
  bool found = false;
  uint64_t found_offset = 0;
  ELEVEN_RETURN_IF_ERROR(ScanForValidHeader(offset_ + kJournalEntryHeaderSizeBytes, &found, &found_offset));
  if (found) {
    return CorruptionAt(offset_, "the entries end here (" + why +
                                     "), but an entry of this segment follows at offset " +
                                     std::to_string(found_offset));
  }
  unused_size_bytes_ = file_size_bytes_ - offset_;
  file_size_bytes_ = offset_;
  *ended = true;
  return Status::Ok();
}

// A bad entry at offset_. Torn tail if it is in the last segment, reads back the same twice
// and no valid header follows it; Corruption otherwise.
Status JournalReader::HandleBadEntry(JournalEntryCheck check, bool* done) {
  const std::string reason = JournalEntryCheckName(check);
  if (!last_segment()) return CorruptionAt(offset_, reason + " in a segment that is not the last");
  const uint64_t tail_size_bytes = file_size_bytes_ - offset_;
  const uint64_t reread_size_bytes = std::min(tail_size_bytes, kJournalEntrySizeBytesMax);
  std::vector<std::byte> first;
  std::vector<std::byte> second;
  ELEVEN_RETURN_IF_ERROR(ReadAt(offset_, reread_size_bytes, &first));
  ELEVEN_RETURN_IF_ERROR(ReadAt(offset_, reread_size_bytes, &second));
  if (first != second) {
    return CorruptionAt(offset_, reason + "; two more reads of it differ (unstable storage)");
  }
  JournalEntryHeader header;
  JournalEntryCheck recheck = CheckJournalEntry(first, &header);
  if (recheck != check) {
    return CorruptionAt(offset_, reason + "; a second read found " +
                                     JournalEntryCheckName(recheck) + " (unstable storage)");
  }
  const bool header_good = check == JournalEntryCheck::kBadBody ||
                           check == JournalEntryCheck::kBadPadding ||
                           check == JournalEntryCheck::kShortBody;
  uint64_t scan_from = offset_ + (header_good ? JournalEntrySize(header.body_size_bytes)
                                              : kJournalEntryAlignment);
  bool found = false;
  uint64_t found_offset = 0;
  ELEVEN_RETURN_IF_ERROR(ScanForValidHeader(scan_from, &found, &found_offset));
  if (found) {
    return CorruptionAt(offset_, reason + ", but a valid entry header follows at offset " +
                                     std::to_string(found_offset) + ": not a torn tail");
  }
  torn_tail_ = JournalTornTail{.op = ExpectedOp(),
                               .path = segments_[segment_index_].path,
                               .offset = offset_,
                               .dropped_size_bytes = tail_size_bytes,
                               .reason = reason};
  done_ = true;
  *done = true;
  return Status::Ok();
}

// Whether every byte from offset_ to the end of the file is zero.
Status JournalReader::ZeroToEnd(bool* zero) {
  std::vector<std::byte> chunk;
  for (uint64_t at = offset_; at < file_size_bytes_; at += kScanChunkSizeBytes) {
    ELEVEN_RETURN_IF_ERROR(ReadAt(at, std::min(kScanChunkSizeBytes, file_size_bytes_ - at), &chunk));
    if (chunk.empty()) break;  // The file shrank under the reader: what is left is nothing.
    if (!std::all_of(chunk.begin(), chunk.end(), [](std::byte b) { return b == std::byte{0}; })) {
      *zero = false;
      return Status::Ok();
    }
  }
  *zero = true;
  return Status::Ok();
}

// Looks for a valid entry header of this segment (op >= its first op; older ones are a
// recycled file's old bytes) at an aligned offset in [scan_from, end of file). Each chunk is
// read twice and must read the same, so one flipped read cannot hide a header.
Status JournalReader::ScanForValidHeader(uint64_t scan_from, bool* found, uint64_t* found_offset) {
  ELEVEN_ASSERT(scan_from % kJournalEntryAlignment == 0);
  *found = false;
  std::vector<std::byte> first;
  std::vector<std::byte> second;
  // Chunks overlap by a header so that a header across a chunk boundary is seen.
  for (uint64_t chunk_offset = scan_from; chunk_offset + kJournalEntryHeaderSizeBytes <= file_size_bytes_;
       chunk_offset += kScanChunkSizeBytes) {
    const uint64_t size_bytes = std::min(file_size_bytes_ - chunk_offset,
                                         kScanChunkSizeBytes + kJournalEntryHeaderSizeBytes);
    ELEVEN_RETURN_IF_ERROR(ReadAt(chunk_offset, size_bytes, &first));
    ELEVEN_RETURN_IF_ERROR(ReadAt(chunk_offset, size_bytes, &second));
    if (first != second) {
      return CorruptionAt(chunk_offset, "two reads of the tail differ (unstable storage)");
    }
    for (uint64_t at = 0; at < kScanChunkSizeBytes && at + kJournalEntryHeaderSizeBytes <= first.size();
         at += kJournalEntryAlignment) {
      JournalEntryHeader header;
      std::memcpy(&header, first.data() + at, sizeof(header));
      if (JournalHeaderValid(header) && header.op >= segments_[segment_index_].first_op) {
        *found = true;
        *found_offset = chunk_offset + at;
        return Status::Ok();
      }
    }
  }
  return Status::Ok();
}

}  // namespace eleven
