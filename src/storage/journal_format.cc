#include "storage/journal_format.h"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/assert.h"

namespace eleven {
namespace {

constexpr std::string_view kSegmentPrefix = "journal-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr size_t kOpDigitCount = 20;  // Enough for any uint64 in decimal.

}  // namespace

bool JournalHeaderValid(const JournalEntryHeader& header) {
  if (header.magic != kJournalMagic) return false;
  if (header.version < kJournalFormatVersionOldestRead || header.version > kJournalFormatVersion) {
    return false;
  }
  if (header.version == 1 && header.body_format != 0) return false;
  if (header.reserved != 0) return false;
  if (header.op == 0) return false;
  if (header.body_size_bytes > kJournalEntryBodySizeBytesMax) return false;
  if (header.command_count > kJournalEntryCommandCountMax) return false;
  return header.header_checksum == JournalHeaderChecksum(header);
}

JournalEntryHeader MakeJournalEndMark(uint64_t next_op, uint64_t prev_header_checksum) {
  ELEVEN_ASSERT(next_op >= 1);
  JournalEntryHeader mark{};
  mark.magic = kJournalEndMagic;
  mark.version = kJournalFormatVersion;
  mark.op = next_op;
  mark.prev_header_checksum = prev_header_checksum;
  mark.header_checksum = JournalHeaderChecksum(mark);
  return mark;
}

bool JournalEndMarkValid(const JournalEntryHeader& header) {
  if (header.magic != kJournalEndMagic) return false;
  if (header.version < kJournalFormatVersionOldestRead || header.version > kJournalFormatVersion) {
    return false;
  }
  if (header.op == 0) return false;
  if (header.body_format != 0 || header.timestamp_us != 0 || header.command_count != 0 ||
      header.body_size_bytes != 0 || header.body_checksum != 0 || header.reserved != 0) {
    return false;
  }
  return header.header_checksum == JournalHeaderChecksum(header);
}

const char* JournalEntryCheckName(JournalEntryCheck check) {
  switch (check) {
    case JournalEntryCheck::kOk: return "ok";
    case JournalEntryCheck::kShortHeader: return "short header";
    case JournalEntryCheck::kBadHeader: return "bad header (magic, version or header checksum)";
    case JournalEntryCheck::kShortBody: return "short body";
    case JournalEntryCheck::kBadBody: return "body checksum mismatch";
    case JournalEntryCheck::kBadPadding: return "nonzero padding";
  }
  return "unknown";
}

JournalEntryCheck CheckJournalEntry(std::span<const std::byte> bytes, JournalEntryHeader* header) {
  if (bytes.size() < kJournalEntryHeaderSizeBytes) return JournalEntryCheck::kShortHeader;
  std::memcpy(header, bytes.data(), kJournalEntryHeaderSizeBytes);
  if (!JournalHeaderValid(*header)) return JournalEntryCheck::kBadHeader;
  const uint64_t entry_size_bytes = JournalEntrySize(header->body_size_bytes);
  if (bytes.size() < entry_size_bytes) return JournalEntryCheck::kShortBody;
  const std::byte* body = bytes.data() + kJournalEntryHeaderSizeBytes;
  if (Checksum64(body, header->body_size_bytes) != header->body_checksum) {
    return JournalEntryCheck::kBadBody;
  }
  for (uint64_t i = kJournalEntryHeaderSizeBytes + header->body_size_bytes; i < entry_size_bytes; i++) {
    if (bytes[i] != std::byte{0}) return JournalEntryCheck::kBadPadding;
  }
  return JournalEntryCheck::kOk;
}

namespace {

// `prefix` + first op in 20 digits + `suffix`.
std::string NumberedName(std::string_view prefix, uint64_t first_op, std::string_view suffix) {
  ELEVEN_ASSERT(first_op >= 1);
  char digits[kOpDigitCount + 1];
  int length = std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(first_op));
  ELEVEN_ASSERT(length == static_cast<int>(kOpDigitCount));
  std::string name(prefix);
  name.append(digits, kOpDigitCount);
  name.append(suffix);
  return name;
}

std::optional<uint64_t> ParseNumberedName(std::string_view prefix, const std::string& name,
                                          std::string_view suffix) {
  if (name.size() != prefix.size() + kOpDigitCount + suffix.size()) return {};
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return {};
  uint64_t op = 0;
  for (size_t i = 0; i < kOpDigitCount; i++) {
    char digit = name[prefix.size() + i];
    if (digit < '0' || digit > '9') return {};
    uint64_t value = static_cast<uint64_t>(digit - '0');
    if (op > (UINT64_MAX - value) / 10) return {};  // Overflow.
    op = op * 10 + value;
  }
  if (op == 0) return {};
  return op;
}

constexpr std::string_view kRecycledPrefix = "journal-recycled-";
constexpr std::string_view kRecycledSuffix = ".tmp";

}  // namespace

std::string JournalSegmentName(uint64_t first_op) {
  return NumberedName(kSegmentPrefix, first_op, kSegmentSuffix);
}

std::optional<uint64_t> ParseJournalSegmentName(const std::string& name) {
  return ParseNumberedName(kSegmentPrefix, name, kSegmentSuffix);
}

std::string JournalRecycledName(uint64_t first_op) {
  return NumberedName(kRecycledPrefix, first_op, kRecycledSuffix);
}

std::optional<uint64_t> ParseJournalRecycledName(const std::string& name) {
  return ParseNumberedName(kRecycledPrefix, name, kRecycledSuffix);
}

}  // namespace eleven
