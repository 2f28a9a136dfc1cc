// The on-disk layout of journal segments and entries (grammar: docs/storage-format.md).
//
// A segment file `journal-<first op, 20 digits>.log` is a sequence of entries. An entry is a
// 64-byte JournalEntryHeader, then `body_size_bytes` of body, then zero padding up to the
// next multiple of kJournalEntryAlignment. All integers are little-endian.
//
// The header checksum covers header bytes [8, 64) (everything after the checksum field); the
// body checksum covers the body bytes (not the padding); `prev_header_checksum` is the
// header checksum of the entry with op - 1 (0 for op 1), chaining every entry to the one
// before it across segments.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/hash.h"

namespace eleven {

static_assert(std::endian::native == std::endian::little, "on-disk formats are little-endian");

inline constexpr uint32_t kJournalMagic = 0x4C4A4C45;  // "ELJL" as little-endian bytes.
// Version 2 gave the header its body_format field (reserved and 0 in version 1, whose
// entries are still read).
inline constexpr uint16_t kJournalFormatVersion = 2;
inline constexpr uint16_t kJournalFormatVersionOldestRead = 1;
inline constexpr uint64_t kJournalEntryAlignment = 8;
// Largest body of one entry (one group of client batches).
inline constexpr uint64_t kJournalEntryBodySizeBytesMax = uint64_t{16} << 20;
// Largest command count of one entry.
inline constexpr uint32_t kJournalEntryCommandCountMax = 1u << 24;
// A segment is rolled once appending the next entry would take it past this size.
inline constexpr uint64_t kJournalSegmentSizeBytesDefault = uint64_t{256} << 20;
// The next segment's file while it is prepared (zero-filled), before it gets its name. Not a
// segment name: readers ignore it, and the writer removes a leftover one when it opens.
inline constexpr const char* kJournalPreparedName = "journal-prepared.tmp";
// A removed segment kept to be written over as a later segment (its blocks are written, so a
// sync over them commits data only) is renamed `journal-recycled-<its first op, 20 digits>.tmp`.
// Not a segment name: readers ignore it.
// The end mark: a header-sized record written after the last entry of each write into a
// segment that is written over (prepared or recycled), and itself written over by the next
// write. It tells where the entries end when the bytes after it are a recycled segment's
// old entries. Same layout as JournalEntryHeader: this magic, the version, op = the op the
// next entry will have, prev_header_checksum = the last entry's header checksum, every
// other field 0, and the header checksum.
inline constexpr uint32_t kJournalEndMagic = 0x454A4C45;  // "ELJE" as little-endian bytes.

struct JournalEntryHeader {
  uint64_t header_checksum;       // Checksum64 of bytes [8, 64) of this header.
  uint32_t magic;                 // kJournalMagic.
  uint16_t version;               // kJournalFormatVersion.
  uint16_t body_format;           // Opaque to storage; 0 in version 1.
  uint64_t op;                    // >= 1, consecutive.
  uint64_t timestamp_us;          // Set by the sequencer; opaque to storage.
  uint32_t command_count;         // Opaque to storage; <= kJournalEntryCommandCountMax.
  uint32_t body_size_bytes;       // <= kJournalEntryBodySizeBytesMax.
  uint64_t body_checksum;         // Checksum64 of the body.
  uint64_t prev_header_checksum;  // header_checksum of entry op - 1; 0 for op 1.
  uint64_t reserved;              // 0.
};
static_assert(sizeof(JournalEntryHeader) == 64);
static_assert(alignof(JournalEntryHeader) == 8);
inline constexpr uint64_t kJournalEntryHeaderSizeBytes = sizeof(JournalEntryHeader);
static_assert(kJournalEntryHeaderSizeBytes % kJournalEntryAlignment == 0);
// The largest entry, padding included.
inline constexpr uint64_t kJournalEntrySizeBytesMax =
    kJournalEntryHeaderSizeBytes + kJournalEntryBodySizeBytesMax;
static_assert(kJournalEntryBodySizeBytesMax % kJournalEntryAlignment == 0);

inline constexpr uint64_t JournalPaddedSize(uint64_t size_bytes) {
  return (size_bytes + kJournalEntryAlignment - 1) / kJournalEntryAlignment * kJournalEntryAlignment;
}

// The size of a whole entry on disk: header, body, padding.
inline constexpr uint64_t JournalEntrySize(uint64_t body_size_bytes) {
  return kJournalEntryHeaderSizeBytes + JournalPaddedSize(body_size_bytes);
}

inline uint64_t JournalHeaderChecksum(const JournalEntryHeader& header) {
  constexpr size_t kChecksumFieldSizeBytes = sizeof(header.header_checksum);
  return Checksum64(reinterpret_cast<const std::byte*>(&header) + kChecksumFieldSizeBytes,
                    sizeof(header) - kChecksumFieldSizeBytes);
}

// The verdict on the bytes at the start of an entry.
enum class JournalEntryCheck : uint8_t {
  kOk = 0,
  kShortHeader,  // Fewer than kJournalEntryHeaderSizeBytes bytes left.
  kBadHeader,    // Wrong magic, version, reserved field, limit or header checksum.
  kShortBody,    // The header is good but the file ends inside its body or padding.
  kBadBody,      // The header is good but the body checksum is wrong.
  kBadPadding,   // Header and body good, padding not zero.
};
const char* JournalEntryCheckName(JournalEntryCheck check);

// Checks the entry at the start of `bytes`, which must hold the whole entry or everything
// up to the end of its file. Fills `*header` whenever at least a header's worth is there.
JournalEntryCheck CheckJournalEntry(std::span<const std::byte> bytes, JournalEntryHeader* header);

// True if the magic, version, reserved fields, limits and header checksum are right: the
// header may be trusted (its body still has to be checked).
bool JournalHeaderValid(const JournalEntryHeader& header);

// "journal-recycled-00000000000000000001.tmp": the recycled file of the segment that began
// at `first_op`.
std::string JournalRecycledName(uint64_t first_op);
// That first op of a recycled file's name, or nullopt if `name` is not one.
std::optional<uint64_t> ParseJournalRecycledName(const std::string& name);

// The end mark before the entry `next_op`, the last entry's header checksum being
// `prev_header_checksum`.
JournalEntryHeader MakeJournalEndMark(uint64_t next_op, uint64_t prev_header_checksum);
// True if `header` is a well-formed end mark (magic, version, zero fields, checksum).
bool JournalEndMarkValid(const JournalEntryHeader& header);

// "journal-00000000000000000001.log".
std::string JournalSegmentName(uint64_t first_op);
// The first op of a segment name, or nullopt if `name` is not one.
std::optional<uint64_t> ParseJournalSegmentName(const std::string& name);

}  // namespace eleven
