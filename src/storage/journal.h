// The journal: the durable, append-only log of entries (one entry = one group of client
// batches, opaque bytes to storage) in segment files inside one directory. Format and
// recovery rules: journal_format.h and docs/storage-format.md.
//
// Typical use by the replica:
//   1. JournalWriter::Open(env, dir, options, &writer, &recovery): scans the tail, truncates
//      a torn last entry (reported in `recovery`), positions after the last good entry.
//   2. JournalReader::Open(env, dir, snapshot_op + 1, &reader); Next() until done: replays
//      the entries after the snapshot, verifying every checksum and the hash chain. Any
//      Corruption must stop recovery.
//   3. Loop: Append() each entry of a group, Sync() once, then release the group's replies
//      (everything up to op_last_durable() is on disk).
//   4. After a snapshot at op S: RemoveJournalSegmentsBefore(env, dir, S + 1).
//
// Thread-safety: none of these types are thread-safe; each is used by one thread. A reader
// and a writer on the same directory must not run at the same time (recovery reads, then
// the writer appends). RemoveJournalSegmentsBefore never touches the last segment, so it
// may run on the writer's thread between appends.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/env.h"
#include "storage/journal_format.h"

namespace eleven {

// The write buffer must hold at least one entry of the largest size.
inline constexpr uint64_t kJournalWriteBufferSizeBytesDefault =
    kJournalEntrySizeBytesMax + (uint64_t{16} << 20);

struct JournalOptions {
  // Roll to a new segment before an entry would take the current one past this size. A
  // segment always takes at least one entry, so the largest segment is this plus one entry.
  uint64_t segment_size_bytes_max = kJournalSegmentSizeBytesDefault;
  // Appends are copied here; Flush writes it with one write(2). >= kJournalEntrySizeBytesMax.
  uint64_t write_buffer_size_bytes = kJournalWriteBufferSizeBytesDefault;
  // Prepared first segment: a new journal's first segment is written as
  // segment_size_bytes_max zeros (synced, made under kJournalPreparedName) inside Open, while
  // the journal is quiet, and entries are written over them, so a sync commits data only (no
  // file size or block allocation): fdatasync's median falls by a quarter to a third here.
  // Later segments are recycled ones (RemoveJournalSegmentsBefore), written over the same way,
  // or else plain appended files: zeros are never written under load, where they cost the
  // journal's syncs more than the overwrite saves (docs/benchmarks.md). Costs one segment of
  // zeros written at Open. Off by default; on in `eleven serve` and `eleven w1`.
  bool prepare_segments = false;
  // How many removed segments RemoveJournalSegmentsBefore keeps, as recycled files, for the
  // writer to write later segments over (the writer takes any that are there). Enough to
  // cover the journal written between two snapshots makes every segment an overwritten one;
  // each costs a segment of disk.
  uint64_t recycled_segments_max = 1;
};

// A torn last entry: a crash cut it short (or left garbage after the last good entry).
struct JournalTornTail {
  uint64_t op = 0;                  // The op the torn entry would have had.
  std::string path;                 // Its segment.
  uint64_t offset = 0;              // Byte offset of the torn entry in the segment.
  uint64_t dropped_size_bytes = 0;  // Bytes from `offset` to the end of the segment.
  std::string reason;               // "short header", "body checksum mismatch", ...
  std::string ToString() const;
};

struct JournalSegment {
  uint64_t first_op = 0;
  std::string path;
};

// The segments of `dir`, ordered by first op. Other files are ignored.
[[nodiscard]] Status ListJournalSegments(Env* env, const std::string& dir,
                                         std::vector<JournalSegment>* segments);

// Removes every segment all of whose entries have op < `op_keep_from` (never the last
// segment), then syncs the directory. `*removed_count` (optional) gets how many went. The
// newest of them are not deleted but renamed to JournalRecycledName(first op), for the
// writer to write later segments over, until `recycled_max` recycled files are there.
[[nodiscard]] Status RemoveJournalSegmentsBefore(Env* env, const std::string& dir,
                                                 uint64_t op_keep_from,
                                                 uint64_t* removed_count = nullptr,
                                                 uint64_t recycled_max = 1);

// Where a reader stands after a good entry: enough to open another reader right after it
// (JournalReader::OpenAfter) without reading its segment again from the start.
struct JournalPosition {
  uint64_t segment_first_op = 0;  // The segment that holds op_last.
  uint64_t offset = 0;            // Where op_last's entry ends in it.
  uint64_t op_last = 0;
  uint64_t header_checksum_last = 0;
};

inline constexpr uint64_t kJournalOpMax = ~uint64_t{0};

// One entry as read back. `body` points into the reader's buffer and is valid until the
// next call on the reader.
struct JournalEntry {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  uint32_t command_count = 0;
  uint64_t header_checksum = 0;
  uint16_t body_format = 0;  // What the body's owner said it holds (0 in version-1 entries).
  ByteSpan body;
};

// Reads entries in op order across segments, verifying each one (magic, version, header
// checksum, body checksum, zero padding, op continuity, segment names, hash chain). A
// segment's entries may be followed by bytes that are not entries: where every byte from an
// entry boundary to the end of the file is zero (a prepared segment's unused end), or where
// an end mark or an entry older than the segment (a recycled file's old bytes) stands at an
// entry boundary and no entry of the segment follows, the segment ends. A bad
// entry with nothing valid after it at the end of the last segment is a torn tail: reading
// ends there and torn_tail() describes it. Any other bad entry is Status::Corruption naming
// the segment and byte offset. A read error is returned as is. After an error the reader
// must not be used again.
//
// A reader bounded by `op_to` is done right after that op's entry and reads nothing after
// it: it may read a journal that a writer is appending to, up to an op known to be durable
// (the snapshot follower, replica/follower.h). Unbounded, it must not run beside a writer.
class JournalReader {
 public:
  // NotFound if the journal starts after `op_from` (its segments were removed). An empty or
  // missing journal reads as done.
  [[nodiscard]] static Status Open(Env* env, const std::string& dir, uint64_t op_from,
                                   std::unique_ptr<JournalReader>* reader,
                                   uint64_t op_to = kJournalOpMax);
  // Reads on right after `after` (a position() of an earlier reader of this journal), checking
  // the hash chain from it. If its segment is gone (removed after a snapshot), reading starts
  // at the segment that begins at after.op_last + 1; NotFound if there is none either.
  [[nodiscard]] static Status OpenAfter(Env* env, const std::string& dir,
                                        const JournalPosition& after, uint64_t op_to,
                                        std::unique_ptr<JournalReader>* reader);
  ~JournalReader();

  // The next entry with op >= op_from, or *done = true at the end of the journal.
  [[nodiscard]] Status Next(JournalEntry* entry, bool* done);

  // After done: the torn tail at the end, if there was one.
  const std::optional<JournalTornTail>& torn_tail() const { return torn_tail_; }
  // The op and header checksum of the last good entry read (0 if none).
  uint64_t op_last() const { return op_last_; }
  uint64_t header_checksum_last() const { return header_checksum_last_; }
  // How many good entries were read (including the skipped ones below op_from).
  uint64_t entry_count() const { return entry_count_; }
  // Where the last good entry ends (in the segment being read when done).
  uint64_t end_offset() const { return offset_; }
  // After done: the bytes after end_offset() in the last segment that hold no entries (a
  // prepared segment's zero fill, or an end mark and a recycled file's old bytes; 0 if none).
  uint64_t unused_size_bytes() const { return unused_size_bytes_; }
  const std::string& end_path() const;
  // After at least one good entry (or OpenAfter): where the last one ends.
  JournalPosition position() const;

 private:
  JournalReader(Env* env, std::vector<JournalSegment> segments, size_t segment_index,
                uint64_t op_from, uint64_t op_to);
  [[nodiscard]] Status OpenSegment();
  [[nodiscard]] Status NextSegment(bool* done);
  [[nodiscard]] Status Fill(uint64_t size_bytes, uint64_t* available_bytes);
  [[nodiscard]] Status ReadAt(uint64_t offset, uint64_t size_bytes, std::vector<std::byte>* out);
  [[nodiscard]] Status CheckGoodEntry(const JournalEntryHeader& header);
  [[nodiscard]] Status EndsHere(const JournalEntryHeader& header, bool* ended);
  [[nodiscard]] Status HandleBadEntry(JournalEntryCheck check, bool* done);
  [[nodiscard]] Status ZeroToEnd(bool* zero);
  uint64_t ExpectedOp() const;
  [[nodiscard]] Status ScanForValidHeader(uint64_t scan_from, bool* found, uint64_t* found_offset);
  Status CorruptionAt(uint64_t offset, const std::string& what) const;
  bool last_segment() const { return segment_index_ + 1 == segments_.size(); }

  Env* const env_;
  const std::vector<JournalSegment> segments_;
  const uint64_t op_from_;
  const uint64_t op_to_;
  size_t segment_index_;
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t file_size_bytes_ = 0;  // Cut to end_offset() where the entries end before it.
  uint64_t unused_size_bytes_ = 0;
  uint64_t offset_ = 0;  // File offset of the next entry.
  uint64_t segment_entry_count_ = 0;
  // Read-ahead: buffer_ holds file bytes [buffer_offset_, buffer_offset_ + buffer_size_).
  std::unique_ptr<std::byte[]> buffer_;
  uint64_t buffer_offset_ = 0;
  uint64_t buffer_size_ = 0;
  uint64_t op_last_ = 0;
  uint64_t header_checksum_last_ = 0;
  bool last_known_ = false;  // op_last_ and header_checksum_last_ name a good entry
  uint64_t entry_count_ = 0;
  bool done_ = false;
  std::optional<JournalTornTail> torn_tail_;
};

// What JournalWriter::Open found.
struct JournalRecovery {
  // The op of the last good entry (0 for a new journal; first op - 1 when the last segment
  // is empty): the next Append must be op_last + 1.
  uint64_t op_last = 0;
  uint64_t segment_count = 0;
  std::optional<JournalTornTail> torn_tail;  // Truncated away before the writer opened.
};

// Appends entries to the journal. Append copies into a write buffer allocated at Open (no
// allocation per append); Flush writes the buffer; Sync flushes and makes every appended
// entry durable with one fdatasync (group commit). Rolling to a new segment syncs the old
// one and the directory first, so only the last segment can ever have a torn tail. A new
// segment is, in this order of preference, the prepared file (JournalOptions), the oldest
// recycled one (RemoveJournalSegmentsBefore) or a new file. In the first two the entries go over the
// file's bytes, and each Flush writes an end mark after them (WritableFile::WriteTrailer),
// which the next Flush writes over; at a roll such a segment is cut to its last entry.
//
// Failure is permanent: after any failed write or sync the writer returns that first error
// from every later call and never retries (after a failed fsync the kernel may have dropped
// the dirty pages, so a retry could report success for data that is gone). The owner must
// reopen the journal (recovery) to continue.
class JournalWriter {
 public:
  [[nodiscard]] static Status Open(Env* env, const std::string& dir, const JournalOptions& options,
                                   std::unique_ptr<JournalWriter>* writer,
                                   JournalRecovery* recovery);
  ~JournalWriter();

  // `op` must be op_last_appended() + 1 (any op >= 1 if the journal is empty); the body
  // must hold at most kJournalEntryBodySizeBytesMax bytes and is copied before returning.
  // `body_format` is kept in the header for the body's owner (the replica: how its commands
  // are encoded). May write (buffer full) or roll a segment, so it can fail.
  [[nodiscard]] Status Append(uint64_t op, uint64_t timestamp_us, uint32_t command_count,
                              ByteSpan body, uint16_t body_format = 0);
  // Writes the buffered entries (not durable yet).
  [[nodiscard]] Status Flush();
  // Flushes and fdatasyncs: every entry appended so far is durable when this returns ok.
  [[nodiscard]] Status Sync();

  uint64_t op_last_appended() const { return op_last_appended_; }
  uint64_t op_last_durable() const { return op_last_durable_; }
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t sync_count() const { return sync_count_; }
  // Segments begun on the prepared file, and preparations that failed (the writer then
  // appends to a plain new segment; the failure is not the journal's).
  uint64_t prepared_segment_count() const { return prepared_segment_count_; }
  uint64_t prepare_failure_count() const { return prepare_failure_count_; }
  // Segments begun on a recycled file.
  uint64_t recycled_segment_count() const { return recycled_segment_count_; }
  // Ok, or the error that failed the writer for good.
  const Status& failure() const { return failure_; }

 private:
  JournalWriter(Env* env, std::string dir, const JournalOptions& options);
  [[nodiscard]] Status Recover(JournalRecovery* recovery);
  [[nodiscard]] Status CreateSegment(uint64_t first_op);
  [[nodiscard]] Status Roll(uint64_t first_op);
  [[nodiscard]] Status SyncFile();
  Status Fail(Status status);
  // The prepared first segment (options_.prepare_segments).
  [[nodiscard]] Status PrepareFile();
  // Removes the prepared file if there is one.
  [[nodiscard]] Status RemovePrepared();
  // The path of the oldest recycled file in dir_, or "" if there is none.
  [[nodiscard]] Status OldestRecycled(std::string* path);

  Env* const env_;
  const std::string dir_;
  const JournalOptions options_;
  std::unique_ptr<WritableFile> file_;  // The last segment; null while the journal is empty.
  uint64_t segment_first_op_ = 0;
  uint64_t segment_size_bytes_ = 0;  // Written plus buffered.
  std::unique_ptr<std::byte[]> buffer_;
  uint64_t buffer_used_bytes_ = 0;
  uint64_t op_last_appended_ = 0;
  uint64_t op_last_written_ = 0;
  uint64_t op_last_durable_ = 0;
  uint64_t prev_header_checksum_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t sync_count_ = 0;
  Status failure_;

  const std::string prepared_path_;
  bool prepared_ready_ = false;  // prepared_path_ holds a prepared file.
  // The current segment is written over an existing file (prepared or recycled): its entries
  // are followed by an end mark and the file's other bytes.
  bool segment_overwritten_ = false;
  uint64_t prepared_segment_count_ = 0;
  uint64_t prepare_failure_count_ = 0;
  uint64_t recycled_segment_count_ = 0;
};

}  // namespace eleven
