#include "storage/journal.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "storage/fault_env.h"
#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::TestSeed;

struct ModelEntry {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  uint32_t command_count = 0;
  std::vector<std::byte> body;
  uint16_t body_format = 0;
};

ModelEntry MakeEntry(std::mt19937_64& rng, uint64_t op, size_t body_size_max) {
  ModelEntry entry;
  entry.op = op;
  entry.timestamp_us = 1'700'000'000'000'000 + op * 1000 + rng() % 1000;
  entry.command_count = static_cast<uint32_t>(rng() % 100);
  entry.body = RandomBytes(rng, rng() % (body_size_max + 1));
  entry.body_format = static_cast<uint16_t>(rng() % 3);  // opaque to storage: any value
  return entry;
}

Status AppendModel(JournalWriter* writer, const ModelEntry& entry) {
  return writer->Append(entry.op, entry.timestamp_us, entry.command_count, entry.body, entry.body_format);
}

// Reads every entry `reader` has left into `entries`.
Status ReadToEnd(JournalReader* reader, std::vector<ModelEntry>* entries) {
  entries->clear();
  for (;;) {
    JournalEntry entry;
    bool done = false;
    ELEVEN_RETURN_IF_ERROR(reader->Next(&entry, &done));
    if (done) return Status::Ok();
    entries->push_back({entry.op, entry.timestamp_us, entry.command_count,
                        std::vector<std::byte>(entry.body.begin(), entry.body.end()), entry.body_format});
  }
}

// Reads every entry from `op_from` to the end into `entries`.
Status ReadJournal(Env* env, const std::string& dir, uint64_t op_from,
                   std::vector<ModelEntry>* entries,
                   std::optional<JournalTornTail>* torn_tail = nullptr) {
  std::unique_ptr<JournalReader> reader;
  ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env, dir, op_from, &reader));
  ELEVEN_RETURN_IF_ERROR(ReadToEnd(reader.get(), entries));
  if (torn_tail != nullptr) *torn_tail = reader->torn_tail();
  return Status::Ok();
}

void ExpectEntriesEqual(const std::vector<ModelEntry>& got, const std::vector<ModelEntry>& want,
                        size_t want_from, size_t want_count) {
  ASSERT_EQ(got.size(), want_count);
  for (size_t i = 0; i < want_count; i++) {
    const ModelEntry& expected = want[want_from + i];
    ASSERT_EQ(got[i].op, expected.op);
    ASSERT_EQ(got[i].timestamp_us, expected.timestamp_us);
    ASSERT_EQ(got[i].command_count, expected.command_count);
    ASSERT_EQ(got[i].body, expected.body) << "op " << expected.op;
    ASSERT_EQ(got[i].body_format, expected.body_format) << "op " << expected.op;
  }
}

// Version 2 is written; version 1 (body_format always 0 there) is still read.
TEST(JournalFormat, VersionsOneAndTwoAreReadAndNothingElse) {
  JournalEntryHeader header{};
  header.magic = kJournalMagic;
  header.op = 7;
  header.command_count = 3;
  header.body_size_bytes = 384;
  const auto valid = [&](uint16_t version, uint16_t body_format) {
    header.version = version;
    header.body_format = body_format;
    header.header_checksum = JournalHeaderChecksum(header);
    return JournalHeaderValid(header);
  };
  EXPECT_EQ(kJournalFormatVersion, 2);
  EXPECT_TRUE(valid(2, 0));
  EXPECT_TRUE(valid(2, 1));
  EXPECT_TRUE(valid(1, 0));
  EXPECT_FALSE(valid(1, 1));  // version 1 had no body format: the field was reserved
  EXPECT_FALSE(valid(0, 0));
  EXPECT_FALSE(valid(3, 0));
}

class JournalTest : public ::testing::Test {
 protected:
  // Writes `count` entries (ops 1..count) and syncs.
  void WriteEntries(Env* env, uint64_t count, size_t body_size_max, JournalOptions options = {}) {
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(env, dir_.path(), options, &writer, &recovery).ok());
    for (uint64_t i = 0; i < count; i++) {
      model_.push_back(MakeEntry(rng_, model_.size() + 1, body_size_max));
      ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
    }
    ASSERT_TRUE(writer->Sync().ok());
    EXPECT_EQ(writer->op_last_durable(), model_.size());
  }

  std::vector<JournalSegment> Segments() {
    std::vector<JournalSegment> segments;
    EXPECT_TRUE(ListJournalSegments(Env::Default(), dir_.path(), &segments).ok());
    return segments;
  }

  // The byte offset of entry `op` in a single-segment journal.
  uint64_t OffsetOf(uint64_t op) const {
    uint64_t offset = 0;
    for (uint64_t i = 1; i < op; i++) offset += JournalEntrySize(model_[i - 1].body.size());
    return offset;
  }

  void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t size) {
    FILE* file = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
    ASSERT_EQ(std::fwrite(data, 1, size, file), size);
    std::fclose(file);
  }

  void FlipByte(const std::string& path, uint64_t offset) {
    FILE* file = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
    int byte = std::fgetc(file);
    ASSERT_NE(byte, EOF);
    ASSERT_EQ(std::fseek(file, static_cast<long>(offset), SEEK_SET), 0);
    std::fputc(byte ^ 0x40, file);
    std::fclose(file);
  }

  TempDir dir_;
  std::mt19937_64 rng_{12345};
  std::vector<ModelEntry> model_;
};

TEST_F(JournalTest, EmptyJournalReadsAsDone) {
  std::vector<ModelEntry> got;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_F(JournalTest, RoundTripWithReadFromAnyOp) {
  WriteEntries(Env::Default(), 300, 5000);
  std::vector<ModelEntry> got;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got).ok());
  ExpectEntriesEqual(got, model_, 0, model_.size());
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 137, &got).ok());
  ExpectEntriesEqual(got, model_, 136, model_.size() - 136);
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 301, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_F(JournalTest, ReopenContinuesTheChainAndCountsSyncs) {
  WriteEntries(Env::Default(), 10, 100);
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), {}, &writer, &recovery).ok());
  EXPECT_EQ(recovery.op_last, 10u);
  EXPECT_FALSE(recovery.torn_tail.has_value());
  uint64_t syncs_before = writer->sync_count();
  for (int i = 0; i < 50; i++) {
    model_.push_back(MakeEntry(rng_, model_.size() + 1, 100));
    ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
  }
  EXPECT_EQ(writer->op_last_durable(), 10u);
  ASSERT_TRUE(writer->Sync().ok());
  EXPECT_EQ(writer->sync_count(), syncs_before + 1);  // One fdatasync for the whole group.
  EXPECT_EQ(writer->op_last_durable(), 60u);
  EXPECT_GT(writer->bytes_written(), 50 * kJournalEntryHeaderSizeBytes);
  std::vector<ModelEntry> got;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got).ok());
  ExpectEntriesEqual(got, model_, 0, model_.size());
}

TEST_F(JournalTest, SegmentsRollAndOldOnesAreRemoved) {
  JournalOptions options{.segment_size_bytes_max = 8192};
  WriteEntries(Env::Default(), 200, 1000, options);
  std::vector<JournalSegment> segments = Segments();
  ASSERT_GT(segments.size(), 10u);
  EXPECT_EQ(segments.front().first_op, 1u);
  for (size_t i = 0; i < segments.size(); i++) {
    uint64_t size_bytes = 0;
    ASSERT_TRUE(Env::Default()->GetFileSize(segments[i].path, &size_bytes).ok());
    EXPECT_LE(size_bytes, options.segment_size_bytes_max + kJournalEntryHeaderSizeBytes + 1000);
    EXPECT_EQ(segments[i].path, dir_.File(JournalSegmentName(segments[i].first_op)));
  }
  std::vector<ModelEntry> got;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got).ok());
  ExpectEntriesEqual(got, model_, 0, model_.size());

  // A snapshot at op 120: entries from 121 on must stay.
  uint64_t removed = 0;
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), 121, &removed).ok());
  EXPECT_GT(removed, 0u);
  std::vector<JournalSegment> left = Segments();
  EXPECT_LE(left.front().first_op, 121u);
  EXPECT_EQ(left.size() + removed, segments.size());
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 121, &got).ok());
  ExpectEntriesEqual(got, model_, 120, model_.size() - 120);
  std::unique_ptr<JournalReader> reader;
  EXPECT_EQ(JournalReader::Open(Env::Default(), dir_.path(), 1, &reader).code(), StatusCode::kNotFound);
  // The last segment is never removed; the writer continues after it.
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), 1000, &removed).ok());
  EXPECT_EQ(Segments().size(), 1u);
  WriteEntries(Env::Default(), 5, 100, options);
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), Segments().front().first_op, &got).ok());
  EXPECT_EQ(got.back().op, 205u);
}

// Reads entries after `after` (or from op 1 if unset) up to `op_to` into `entries`; `*end`
// gets the reader's position.
Status ReadBounded(const std::string& dir, const std::optional<JournalPosition>& after, uint64_t op_to,
                   std::vector<ModelEntry>* entries, JournalPosition* end) {
  entries->clear();
  std::unique_ptr<JournalReader> reader;
  if (after) {
    ELEVEN_RETURN_IF_ERROR(JournalReader::OpenAfter(Env::Default(), dir, *after, op_to, &reader));
  } else {
    ELEVEN_RETURN_IF_ERROR(JournalReader::Open(Env::Default(), dir, 1, &reader, op_to));
  }
  ELEVEN_RETURN_IF_ERROR(ReadToEnd(reader.get(), entries));
  EXPECT_FALSE(reader->torn_tail().has_value());
  *end = reader->position();
  return Status::Ok();
}

// A reader bounded by op_to reads nothing past that op's entry; another reader resumes at its
// position, across a segment end and after that segment was removed, checking the chain.
TEST_F(JournalTest, BoundedReaderStopsAtItsOpAndAnotherResumesFromItsPosition) {
  WriteEntries(Env::Default(), 200, 1000, {.segment_size_bytes_max = 8192});
  const std::vector<JournalSegment> segments = Segments();
  ASSERT_GE(segments.size(), 5u);
  std::vector<ModelEntry> got;
  JournalPosition at77;
  ASSERT_TRUE(ReadBounded(dir_.path(), std::nullopt, 77, &got, &at77).ok());
  ExpectEntriesEqual(got, model_, 0, 77);
  EXPECT_EQ(at77.op_last, 77u);

  // Entry 78 damaged: the bounded read to 77 never looks at it; an unbounded one fails there.
  const auto segment_of = [&](uint64_t op) {
    size_t i = 0;
    while (i + 1 < segments.size() && segments[i + 1].first_op <= op) i++;
    return i;
  };
  ASSERT_LT(segment_of(78), segments.size() - 1);
  const std::string path78 = segments[segment_of(78)].path;
  uint64_t offset78 = 0;
  for (uint64_t op = segments[segment_of(78)].first_op; op < 78; op++) offset78 += JournalEntrySize(model_[op - 1].body.size());
  FlipByte(path78, offset78 + 20);
  JournalPosition ignored;
  EXPECT_TRUE(ReadBounded(dir_.path(), std::nullopt, 77, &got, &ignored).ok());
  EXPECT_EQ(ReadJournal(Env::Default(), dir_.path(), 1, &got).code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadBounded(dir_.path(), at77, 100, &got, &ignored).code(), StatusCode::kCorruption);
  FlipByte(path78, offset78 + 20);  // back as it was

  JournalPosition at150;
  ASSERT_TRUE(ReadBounded(dir_.path(), at77, 150, &got, &at150).ok());
  ExpectEntriesEqual(got, model_, 77, 150 - 77);

  // A position at the very end of a segment: the next reader goes on into the next segment,
  // and still does once that segment is removed (it starts at the next one's first op).
  const size_t later = segment_of(160);
  ASSERT_LT(later + 1, segments.size());
  const uint64_t last_of_later = segments[later + 1].first_op - 1;
  JournalPosition at_end;
  ASSERT_TRUE(ReadBounded(dir_.path(), at150, last_of_later, &got, &at_end).ok());
  EXPECT_EQ(at_end.segment_first_op, segments[later].first_op);
  ASSERT_TRUE(ReadBounded(dir_.path(), at_end, 200, &got, &ignored).ok());
  ExpectEntriesEqual(got, model_, last_of_later, 200 - last_of_later);
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), last_of_later + 1).ok());
  ASSERT_TRUE(ReadBounded(dir_.path(), at_end, 200, &got, &ignored).ok());
  ExpectEntriesEqual(got, model_, last_of_later, 200 - last_of_later);
  // Neither the segment of op 77 nor one starting at op 78 is left.
  ASSERT_NE(segments[segment_of(78)].first_op, 78u);
  EXPECT_EQ(ReadBounded(dir_.path(), at77, 200, &got, &ignored).code(), StatusCode::kNotFound);

  // A position naming the wrong predecessor breaks the hash chain.
  JournalPosition wrong = at_end;
  wrong.header_checksum_last ^= 1;
  const Status chain = ReadBounded(dir_.path(), wrong, 200, &got, &ignored);
  EXPECT_EQ(chain.code(), StatusCode::kCorruption) << chain.ToString();
  EXPECT_NE(chain.message().find("hash chain"), std::string::npos) << chain.ToString();
}

// A bounded reader follows a journal while the writer appends over prepared and recycled
// segments (end marks after the last entry) and old segments are removed behind it.
TEST_F(JournalTest, BoundedReadersFollowAJournalBeingWritten) {
  const JournalOptions options{.segment_size_bytes_max = 32 << 10, .prepare_segments = true,
                               .recycled_segments_max = 3};
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), options, &writer, &recovery).ok());
  std::optional<JournalPosition> followed;
  uint64_t recycled_before = 0;
  for (int round = 0; round < 150; round++) {
    const uint64_t count = 1 + rng_() % 6;
    for (uint64_t i = 0; i < count; i++) {
      model_.push_back(MakeEntry(rng_, model_.size() + 1, 2000));
      ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
    }
    ASSERT_TRUE(writer->Sync().ok());
    // Written but not synced: the reader must stop before these.
    model_.push_back(MakeEntry(rng_, model_.size() + 1, 2000));
    ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
    ASSERT_TRUE(writer->Flush().ok());
    const uint64_t durable = writer->op_last_durable();
    const uint64_t from = followed ? followed->op_last : 0;
    std::vector<ModelEntry> got;
    JournalPosition end;
    ASSERT_TRUE(ReadBounded(dir_.path(), followed, durable, &got, &end).ok()) << "round " << round;
    ExpectEntriesEqual(got, model_, from, durable - from);
    followed = end;
    if (round % 10 == 9) {  // a "snapshot" at the followed op: older segments go
      ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), followed->op_last + 1, nullptr,
                                              options.recycled_segments_max).ok());
    }
    recycled_before = writer->recycled_segment_count();
  }
  EXPECT_GT(recycled_before, 3u);
  EXPECT_GT(writer->prepared_segment_count(), 0u);
}

TEST_F(JournalTest, MissingMiddleSegmentIsCorruption) {
  WriteEntries(Env::Default(), 60, 1000, {.segment_size_bytes_max = 8192});
  std::vector<JournalSegment> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  ASSERT_TRUE(Env::Default()->RemoveFile(segments[1].path).ok());
  std::vector<ModelEntry> got;
  Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find(segments[2].path), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("previous one ends at op"), std::string::npos) << status.ToString();
}

TEST_F(JournalTest, BrokenHashChainIsCorruption) {
  WriteEntries(Env::Default(), 20, 200);
  // Rewrite entry 7's header with a wrong predecessor and a correct header checksum.
  const std::string path = Segments().front().path;
  const uint64_t offset = OffsetOf(7);
  std::vector<std::byte> data;
  ASSERT_TRUE(ReadWholeFile(Env::Default(), path, 1 << 20, &data).ok());
  JournalEntryHeader header;
  std::memcpy(&header, data.data() + offset, sizeof(header));
  header.prev_header_checksum ^= 1;
  header.header_checksum = JournalHeaderChecksum(header);
  PatchFile(path, offset, &header, sizeof(header));
  std::vector<ModelEntry> got;
  Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("hash chain"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find(path + " at offset " + std::to_string(offset)), std::string::npos)
      << status.ToString();
}

TEST_F(JournalTest, MidFileChecksumMismatchIsCorruptionWithFileAndOffset) {
  WriteEntries(Env::Default(), 20, 200);
  const std::string path = Segments().front().path;
  for (uint64_t op : {1, 9, 19}) {  // Header byte, body byte: each followed by good entries.
    for (uint64_t delta : {uint64_t{20}, kJournalEntryHeaderSizeBytes}) {
      if (model_[op - 1].body.empty() && delta == kJournalEntryHeaderSizeBytes) continue;
      FlipByte(path, OffsetOf(op) + delta);
      std::vector<ModelEntry> got;
      Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
      EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
      EXPECT_NE(status.message().find(path + " at offset " + std::to_string(OffsetOf(op))),
                std::string::npos)
          << status.ToString();
      std::unique_ptr<JournalWriter> writer;
      JournalRecovery recovery;
      // Recovery must refuse to start (and must not truncate anything).
      EXPECT_EQ(JournalWriter::Open(Env::Default(), dir_.path(), {}, &writer, &recovery).code(),
                StatusCode::kCorruption);
      FlipByte(path, OffsetOf(op) + delta);  // Repair.
    }
  }
  std::vector<ModelEntry> got;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got).ok());
  ExpectEntriesEqual(got, model_, 0, model_.size());
}

TEST_F(JournalTest, BadEntryAtTheEndOfAnOlderSegmentIsCorruption) {
  WriteEntries(Env::Default(), 60, 1000, {.segment_size_bytes_max = 8192});
  std::vector<JournalSegment> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  uint64_t size_bytes = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(segments[1].path, &size_bytes).ok());
  FlipByte(segments[1].path, size_bytes - 1 - 8);  // In its last entry (padding is < 8).
  std::vector<ModelEntry> got;
  Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find(segments[1].path), std::string::npos) << status.ToString();
}

// The ways a crash (or junk after it) can leave the end of the last segment. (A tail of
// nothing but zeros is a prepared segment's zero fill, not a torn entry: see below.)
enum class TornKind { kCutInHeader, kCutInBody, kZerosThenGarbage, kGarbageTail, kBadLastBody };

class JournalTornTest : public JournalTest, public ::testing::WithParamInterface<TornKind> {};

INSTANTIATE_TEST_SUITE_P(AllKinds, JournalTornTest,
                         ::testing::Values(TornKind::kCutInHeader, TornKind::kCutInBody,
                                           TornKind::kZerosThenGarbage, TornKind::kGarbageTail,
                                           TornKind::kBadLastBody));

TEST_P(JournalTornTest, TornTailIsReportedTruncatedAndWritingContinues) {
  const TornKind kind = GetParam();
  {
    WriteEntries(Env::Default(), 10, 3000);
    const std::string path = Segments().front().path;
    uint64_t last_offset = OffsetOf(10);
    uint64_t end_offset = OffsetOf(11);
    std::vector<std::byte> garbage = RandomBytes(rng_, 4096);
    if (kind == TornKind::kCutInHeader) {
      ASSERT_TRUE(Env::Default()->TruncateFile(path, last_offset + 30).ok());
    }
    if (kind == TornKind::kCutInBody) {
      ASSERT_TRUE(Env::Default()->TruncateFile(path, end_offset - 1).ok());
    }
    if (kind == TornKind::kZerosThenGarbage) std::fill_n(garbage.begin(), 2048, std::byte{0});
    if (kind == TornKind::kZerosThenGarbage || kind == TornKind::kGarbageTail) {
      PatchFile(path, end_offset, garbage.data(), garbage.size());
    }
    if (kind == TornKind::kBadLastBody) FlipByte(path, end_offset - 1 - 8);
    uint64_t file_size_bytes = 0;
    ASSERT_TRUE(Env::Default()->GetFileSize(path, &file_size_bytes).ok());
    const bool last_entry_lost = kind == TornKind::kCutInHeader || kind == TornKind::kCutInBody ||
                                 kind == TornKind::kBadLastBody;
    const uint64_t torn_offset = last_entry_lost ? last_offset : end_offset;

    std::vector<ModelEntry> got;
    std::optional<JournalTornTail> torn;
    ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got, &torn).ok());
    ExpectEntriesEqual(got, model_, 0, last_entry_lost ? 9 : 10);
    ASSERT_TRUE(torn.has_value());
    EXPECT_EQ(torn->op, last_entry_lost ? 10u : 11u);
    EXPECT_EQ(torn->path, path);
    EXPECT_EQ(torn->offset, torn_offset);
    EXPECT_EQ(torn->dropped_size_bytes, file_size_bytes - torn_offset);

    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), {}, &writer, &recovery).ok());
    ASSERT_TRUE(recovery.torn_tail.has_value());
    EXPECT_EQ(recovery.torn_tail->offset, torn_offset);
    model_.resize(last_entry_lost ? 9 : 10);
    for (int i = 0; i < 5; i++) {
      model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
      ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
    }
    ASSERT_TRUE(writer->Sync().ok());
    ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got, &torn).ok());
    EXPECT_FALSE(torn.has_value());
    ExpectEntriesEqual(got, model_, 0, model_.size());
  }
}

// Zeros after the last entry are a prepared segment's unused end: the segment ends there,
// nothing is reported torn, and the writer goes on over the zeros without truncating.
TEST_F(JournalTest, ZeroFillEndsTheSegmentAndTheWriterWritesOverIt) {
  WriteEntries(Env::Default(), 10, 3000);
  const std::string path = Segments().front().path;
  const uint64_t end_offset = OffsetOf(11);
  const std::vector<std::byte> zeros(20000);
  PatchFile(path, end_offset, zeros.data(), zeros.size());

  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::Open(Env::Default(), dir_.path(), 1, &reader).ok());
  uint64_t read_count = 0;
  for (bool done = false; !done;) {
    JournalEntry entry;
    ASSERT_TRUE(reader->Next(&entry, &done).ok());
    read_count += done ? 0 : 1;
  }
  EXPECT_EQ(read_count, 10u);
  EXPECT_FALSE(reader->torn_tail().has_value());
  EXPECT_EQ(reader->end_offset(), end_offset);
  EXPECT_EQ(reader->unused_size_bytes(), zeros.size());

  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), {}, &writer, &recovery).ok());
  EXPECT_FALSE(recovery.torn_tail.has_value());
  EXPECT_EQ(recovery.op_last, 10u);
  for (int i = 0; i < 3; i++) {  // ~9 KB: inside the fill, so the file keeps its size.
    model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
    ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
  }
  ASSERT_TRUE(writer->Sync().ok());
  uint64_t size_bytes = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size_bytes).ok());
  EXPECT_EQ(size_bytes, end_offset + zeros.size());
  std::vector<ModelEntry> got;
  std::optional<JournalTornTail> torn;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got, &torn).ok());
  EXPECT_FALSE(torn.has_value());
  ExpectEntriesEqual(got, model_, 0, model_.size());
}

// A new journal with prepared segments: its first segment is a full-size file of zeros
// written over (made in Open; later ones are appended, as nothing was recycled), a sealed
// segment is cut to its entries; every entry reads back, a leftover prepared file is neither
// a segment nor used, and a reopened writer goes on.
TEST_F(JournalTest, PreparedSegmentsReadBackAndReopen) {
  const JournalOptions options{.segment_size_bytes_max = 64 << 10, .prepare_segments = true};
  const std::string leftover = JoinPath(dir_.path(), kJournalPreparedName);
  {
    const std::vector<std::byte> junk(100, std::byte{7});
    ASSERT_TRUE(WriteFileDurably(Env::Default(), dir_.path(), kJournalPreparedName, junk).ok());
  }
  uint64_t prepared_count = 0;
  for (int round = 0; round < 2; round++) {
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), options, &writer, &recovery).ok());
    EXPECT_FALSE(recovery.torn_tail.has_value());
    for (int i = 0; i < 60; i++) {
      model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
      ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
      if (i % 7 == 0) {
        ASSERT_TRUE(writer->Sync().ok());
      }
    }
    ASSERT_TRUE(writer->Sync().ok());
    EXPECT_EQ(writer->prepare_failure_count(), 0u);
    prepared_count += writer->prepared_segment_count();
    EXPECT_EQ(writer->recycled_segment_count(), 0u);
    EXPECT_EQ(writer->prepared_segment_count(), round == 0 ? 1u : 0u);  // Only a new journal's.
    if (round == 0) {
      const std::vector<JournalSegment> segments = Segments();
      ASSERT_GE(segments.size(), 2u);
      uint64_t size_bytes = 0;
      ASSERT_TRUE(Env::Default()->GetFileSize(segments.front().path, &size_bytes).ok());
      EXPECT_EQ(size_bytes, OffsetOf(segments[1].first_op));  // sealed: its entries, no fill
      uint64_t leftover_size_bytes = 0;
      if (Env::Default()->GetFileSize(leftover, &leftover_size_bytes).ok()) {
        EXPECT_EQ(leftover_size_bytes, options.segment_size_bytes_max);  // made anew, not the junk
      }
    }
  }
  std::printf("prepared segments used: %llu of %zu\n", static_cast<unsigned long long>(prepared_count),
              Segments().size());
  std::vector<ModelEntry> got;
  std::optional<JournalTornTail> torn;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), 1, &got, &torn).ok());
  EXPECT_FALSE(torn.has_value());
  ExpectEntriesEqual(got, model_, 0, model_.size());
}

// A preparation that fails part-way (a full disk) removes its half-written file: the journal
// then starts on a plain segment and works.
TEST_F(JournalTest, AFailedPreparationLeavesNoTempFile) {
  FaultEnv env(Env::Default(), 5);
  const JournalOptions options{.segment_size_bytes_max = 4 << 20, .prepare_segments = true};
  env.Arm(FaultKind::kNoSpace, FaultTrigger{3, 0, kJournalPreparedName});  // 2 MiB written
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(&env, dir_.path(), options, &writer, &recovery).ok());
  EXPECT_EQ(env.fired_count(FaultKind::kNoSpace), 1u);
  EXPECT_EQ(writer->prepare_failure_count(), 1u);
  EXPECT_FALSE(std::filesystem::exists(JoinPath(dir_.path(), kJournalPreparedName)));
  model_.push_back(MakeEntry(rng_, 1, 3000));
  ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
  ASSERT_TRUE(writer->Sync().ok());
  EXPECT_EQ(writer->prepared_segment_count(), 0u);
  std::vector<ModelEntry> got;
  std::optional<JournalTornTail> torn;
  ASSERT_TRUE(ReadJournal(&env, dir_.path(), 1, &got, &torn).ok());
  ExpectEntriesEqual(got, model_, 0, model_.size());
}

// A segment is prepared only when the file system has room for all of it (Env::GetFreeSpace):
// otherwise nothing is written, and the journal starts on a plain segment.
TEST_F(JournalTest, NoSegmentIsPreparedWithoutRoomForIt) {
  FaultEnv env(Env::Default(), 6);
  const JournalOptions options{.segment_size_bytes_max = 1 << 20, .prepare_segments = true};
  const std::string prepared = JoinPath(dir_.path(), kJournalPreparedName);
  env.SetFreeSpace(options.segment_size_bytes_max - 1);
  {
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(&env, dir_.path(), options, &writer, &recovery).ok());
    EXPECT_EQ(writer->prepare_failure_count(), 1u);
    EXPECT_FALSE(std::filesystem::exists(prepared));
  }
  env.SetFreeSpace(options.segment_size_bytes_max);
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(&env, dir_.path(), options, &writer, &recovery).ok());
  EXPECT_EQ(writer->prepare_failure_count(), 0u);
  uint64_t size_bytes = 0;
  ASSERT_TRUE(env.GetFileSize(prepared, &size_bytes).ok());
  EXPECT_EQ(size_bytes, options.segment_size_bytes_max);
  // The real file system answers too.
  uint64_t free_bytes = 0;
  ASSERT_TRUE(Env::Default()->GetFreeSpace(dir_.path(), &free_bytes).ok());
  EXPECT_GT(free_bytes, 0u);
}

// Removed segments: the newest becomes the recycled file and the next segment is written
// over it. Its old entries after the new ones end the segment (after an end mark), nothing is
// torn, a reopened writer goes on over them, and a segment that is a recycled file with no
// new entry yet (a crash right after the rename) reads as empty.
TEST_F(JournalTest, RecycledSegmentIsWrittenOverAndReadsBack) {
  const JournalOptions options{.segment_size_bytes_max = 64 << 10};
  WriteEntries(Env::Default(), 150, 3000, options);  // ~225 KB: 3 or 4 segments
  std::vector<JournalSegment> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  const std::string recycled = JoinPath(dir_.path(), JournalRecycledName(segments[1].first_op));
  uint64_t old_size_bytes = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(segments[1].path, &old_size_bytes).ok());
  uint64_t removed = 0;
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), segments[2].first_op, &removed).ok());
  EXPECT_EQ(removed, 2u);
  uint64_t size_bytes = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(recycled, &size_bytes).ok());
  EXPECT_EQ(size_bytes, old_size_bytes);  // The newer of the two, kept whole.
  const uint64_t keep_from = segments[2].first_op;

  for (int round = 0; round < 2; round++) {
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), options, &writer, &recovery).ok());
    EXPECT_FALSE(recovery.torn_tail.has_value());
    EXPECT_EQ(recovery.op_last, model_.size());
    // Round 0: until the writer rolls onto the recycled file, and a few entries into it, so
    // that its old entries follow the new ones. Round 1: more over the same file.
    int extra_count = 3;
    for (int i = 0; i < 200 && extra_count > 0; i++) {
      model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
      ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
      if (round == 1 || writer->recycled_segment_count() > 0) extra_count--;
      if (i % 2 == 0) {
        ASSERT_TRUE(writer->Sync().ok());
      }
    }
    ASSERT_TRUE(writer->Sync().ok());
    EXPECT_EQ(writer->recycled_segment_count(), round == 0 ? 1u : 0u);
    EXPECT_FALSE(Env::Default()->GetFileSize(recycled, &size_bytes).ok());  // Taken.
    segments = Segments();
    ASSERT_TRUE(Env::Default()->GetFileSize(segments.back().path, &size_bytes).ok());
    EXPECT_EQ(size_bytes, old_size_bytes);  // Written over, not appended to.
    std::unique_ptr<JournalReader> reader;
    ASSERT_TRUE(JournalReader::Open(Env::Default(), dir_.path(), keep_from, &reader).ok());
    uint64_t read_count = 0;
    for (bool done = false; !done;) {
      JournalEntry entry;
      Status status = reader->Next(&entry, &done);
      ASSERT_TRUE(status.ok()) << status.ToString();
      read_count += done ? 0 : 1;
    }
    EXPECT_FALSE(reader->torn_tail().has_value());
    EXPECT_EQ(read_count, model_.size() - keep_from + 1);
    EXPECT_GT(reader->unused_size_bytes(), 0u);
  }
  std::vector<ModelEntry> got;
  std::optional<JournalTornTail> torn;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), keep_from, &got, &torn).ok());
  EXPECT_FALSE(torn.has_value());
  ExpectEntriesEqual(got, model_, keep_from - 1, model_.size() - keep_from + 1);

  // A crash right after a segment was renamed from the recycled file: it holds only old
  // entries, which end it at once.
  segments = Segments();
  ASSERT_GE(segments.size(), 2u);
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), segments.back().first_op, &removed).ok());
  ASSERT_TRUE(Env::Default()
                  ->RenameFile(JoinPath(dir_.path(), JournalRecycledName(segments[segments.size() - 2].first_op)),
                               JoinPath(dir_.path(), JournalSegmentName(model_.size() + 1)))
                  .ok());
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), options, &writer, &recovery).ok());
  EXPECT_FALSE(recovery.torn_tail.has_value());
  EXPECT_EQ(recovery.op_last, model_.size());
  model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
  ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
  ASSERT_TRUE(writer->Sync().ok());
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), segments.back().first_op, &got, &torn).ok());
  EXPECT_FALSE(torn.has_value());
  const uint64_t from = segments.back().first_op;
  ExpectEntriesEqual(got, model_, from - 1, model_.size() - from + 1);
}

// Up to recycled_max removed segments are kept, newest first, and the writer takes the
// oldest first.
TEST_F(JournalTest, RecycledFilesArePooledAndTakenOldestFirst) {
  const JournalOptions options{.segment_size_bytes_max = 64 << 10};
  WriteEntries(Env::Default(), 200, 3000, options);  // ~300 KB: 4 or 5 segments
  std::vector<JournalSegment> segments = Segments();
  ASSERT_GE(segments.size(), 4u);
  uint64_t removed = 0;
  ASSERT_TRUE(RemoveJournalSegmentsBefore(Env::Default(), dir_.path(), segments[3].first_op, &removed,
                                          /*recycled_max=*/2).ok());
  EXPECT_EQ(removed, 3u);
  const auto exists = [&](const JournalSegment& segment) {
    uint64_t size_bytes = 0;
    return Env::Default()->GetFileSize(JoinPath(dir_.path(), JournalRecycledName(segment.first_op)), &size_bytes).ok();
  };
  EXPECT_FALSE(exists(segments[0]));  // Deleted: two were kept, the newest.
  EXPECT_TRUE(exists(segments[1]));
  EXPECT_TRUE(exists(segments[2]));

  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ASSERT_TRUE(JournalWriter::Open(Env::Default(), dir_.path(), options, &writer, &recovery).ok());
  for (int i = 0; i < 400 && writer->recycled_segment_count() < 2; i++) {
    model_.push_back(MakeEntry(rng_, model_.size() + 1, 3000));
    ASSERT_TRUE(AppendModel(writer.get(), model_.back()).ok());
    if (writer->recycled_segment_count() == 1) {
      EXPECT_FALSE(exists(segments[1]));  // The oldest went first.
      EXPECT_TRUE(exists(segments[2]));
    }
  }
  ASSERT_TRUE(writer->Sync().ok());
  EXPECT_EQ(writer->recycled_segment_count(), 2u);
  EXPECT_FALSE(exists(segments[2]));
  std::vector<ModelEntry> got;
  std::optional<JournalTornTail> torn;
  ASSERT_TRUE(ReadJournal(Env::Default(), dir_.path(), segments[3].first_op, &got, &torn).ok());
  EXPECT_FALSE(torn.has_value());
  const uint64_t from = segments[3].first_op;
  ExpectEntriesEqual(got, model_, from - 1, model_.size() - from + 1);
}

// An end mark says the entries end where it stands: one with entries of its segment after
// it, or naming the wrong op, is corruption, not an end.
TEST_F(JournalTest, EndMarkWithEntriesAfterItOrTheWrongOpIsCorruption) {
  WriteEntries(Env::Default(), 10, 3000);
  const std::string path = Segments().front().path;
  JournalEntryHeader header7;
  {
    std::unique_ptr<RandomAccessFile> file;
    ASSERT_TRUE(Env::Default()->NewRandomAccessFile(path, &file).ok());
    size_t read_bytes = 0;
    ASSERT_TRUE(file->Read(OffsetOf(7), sizeof(header7), reinterpret_cast<std::byte*>(&header7), &read_bytes).ok());
    ASSERT_EQ(read_bytes, sizeof(header7));
  }
  JournalEntryHeader mark = MakeJournalEndMark(8, header7.header_checksum);
  ASSERT_TRUE(JournalEndMarkValid(mark));
  PatchFile(path, OffsetOf(8), &mark, sizeof(mark));
  std::vector<ModelEntry> got;
  Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("an entry of this segment follows"), std::string::npos) << status.ToString();

  mark = MakeJournalEndMark(9, header7.header_checksum);
  PatchFile(path, OffsetOf(8), &mark, sizeof(mark));
  status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("end mark names op 9, expected op 8"), std::string::npos) << status.ToString();
}

TEST_F(JournalTest, BadEntryFollowedByAValidOneInTheLastSegmentIsCorruption) {
  WriteEntries(Env::Default(), 10, 3000);
  const std::string path = Segments().front().path;
  FlipByte(path, OffsetOf(8) + 3);  // Entry 8's header; entries 9 and 10 are good.
  std::vector<ModelEntry> got;
  Status status = ReadJournal(Env::Default(), dir_.path(), 1, &got);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("not a torn tail"), std::string::npos) << status.ToString();
}

// Each write fault fails the writer for good; reopening recovers exactly the synced entries.
TEST_F(JournalTest, WriteFaultsFailTheWriterForGood) {
  const FaultKind kinds[] = {FaultKind::kShortWrite, FaultKind::kWriteError, FaultKind::kNoSpace,
                             FaultKind::kSyncError};
  for (FaultKind kind : kinds) {
    TempDir dir;
    FaultEnv env(Env::Default(), 99);
    std::unique_ptr<JournalWriter> writer;
    JournalRecovery recovery;
    ASSERT_TRUE(JournalWriter::Open(&env, dir.path(), {}, &writer, &recovery).ok());
    std::vector<ModelEntry> model;
    for (int i = 0; i < 5; i++) {
      model.push_back(MakeEntry(rng_, model.size() + 1, 2000));
      ASSERT_TRUE(AppendModel(writer.get(), model.back()).ok());
    }
    ASSERT_TRUE(writer->Sync().ok());
    env.Arm(kind, {.nth_call = 1});
    model.push_back(MakeEntry(rng_, model.size() + 1, 2000));
    ASSERT_TRUE(AppendModel(writer.get(), model.back()).ok());
    Status failed = writer->Sync();
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.code(), kind == FaultKind::kNoSpace ? StatusCode::kNoSpace : StatusCode::kIOError);
    EXPECT_NE(failed.message().find(JournalSegmentName(1)), std::string::npos) << failed.ToString();
    EXPECT_EQ(writer->failure().message(), failed.message());
    // Permanently failed: the same error for everything, even with the fault gone.
    env.DisarmAll();
    model.push_back(MakeEntry(rng_, model.size() + 1, 2000));
    EXPECT_EQ(AppendModel(writer.get(), model.back()).message(), failed.message());
    EXPECT_EQ(writer->Flush().message(), failed.message());
    EXPECT_EQ(writer->Sync().message(), failed.message());
    EXPECT_EQ(writer->op_last_durable(), 5u);
    writer.reset();
    ASSERT_TRUE(env.PowerCut().ok());
    ASSERT_TRUE(JournalWriter::Open(&env, dir.path(), {}, &writer, &recovery).ok());
    EXPECT_EQ(recovery.op_last, 5u);
    std::vector<ModelEntry> got;
    ASSERT_TRUE(ReadJournal(&env, dir.path(), 1, &got).ok());
    ExpectEntriesEqual(got, model, 0, 5);
  }
}

// A bit flipped by a read, anywhere, is Corruption naming the file and an offset; the reader
// never hands out an entry that differs from what was written.
TEST_F(JournalTest, ReadBitFlipIsAlwaysCorruption) {
  const uint64_t seed = TestSeed("JournalTest.ReadBitFlipIsAlwaysCorruption");
  std::mt19937_64 rng(seed);
  WriteEntries(Env::Default(), 40, 3000, {.segment_size_bytes_max = 16384});
  const int iteration_count = testing::LongRun() ? 2000 : 200;
  for (int iteration = 0; iteration < iteration_count; iteration++) {
    FaultEnv env(Env::Default(), rng());
    // One read call per segment (the read-ahead buffer holds a whole test segment).
    env.Arm(FaultKind::kReadBitFlip, {.nth_call = 1 + rng() % Segments().size()});
    std::unique_ptr<JournalReader> reader;
    ASSERT_TRUE(JournalReader::Open(&env, dir_.path(), 1, &reader).ok());
    Status status;
    for (;;) {
      JournalEntry entry;
      bool done = false;
      status = reader->Next(&entry, &done);
      if (!status.ok() || done) break;
      const ModelEntry& want = model_[entry.op - 1];
      ASSERT_TRUE(std::equal(entry.body.begin(), entry.body.end(), want.body.begin(), want.body.end()))
          << "seed " << seed << " op " << entry.op;
      ASSERT_EQ(entry.timestamp_us, want.timestamp_us) << "seed " << seed;
    }
    ASSERT_EQ(env.fired_count(FaultKind::kReadBitFlip), 1u) << "seed " << seed;
    ASSERT_EQ(status.code(), StatusCode::kCorruption) << "seed " << seed << " " << status.ToString();
    ASSERT_NE(status.message().find("journal-"), std::string::npos) << status.ToString();
    ASSERT_NE(status.message().find("offset"), std::string::npos) << status.ToString();
  }
}

}  // namespace
}  // namespace eleven
