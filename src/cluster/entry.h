// A log entry as a JetStream message (grammar: docs/cluster.md, "Entries"): a 40-byte head
// and the packed commands. Stream sequence = op; the head repeats the op so a reader can
// check it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "replica/log.h"
#include "wire/records.h"

namespace eleven::cluster {

inline constexpr uint32_t kEntryMagic = 0x56454c45;  // "ELEV"
inline constexpr uint16_t kEntryVersion = 1;
inline constexpr uint16_t kEntryBodyPacked = 1;
inline constexpr uint16_t kEntryBodyPackedZstd = 2;  // the packed body, one zstd frame

struct EntryHead {
  uint32_t magic;
  uint16_t version;
  uint16_t body_format;
  uint64_t op;
  uint64_t timestamp_us;
  uint32_t command_count;
  uint32_t reserved;
  uint64_t checksum;  // XXH3-64(body, seed = XXH3-64(head bytes 0..31))
};
static_assert(sizeof(EntryHead) == 40);
inline constexpr size_t kEntryHeadSize = sizeof(EntryHead);

// Compresses entry bodies (a zstd context, level 1); one per writing thread.
class EntryCompressor {
 public:
  EntryCompressor();
  ~EntryCompressor();
  EntryCompressor(const EntryCompressor&) = delete;
  EntryCompressor& operator=(const EntryCompressor&) = delete;
  void* context() const { return context_; }

 private:
  void* context_;
};

// The message of `entry` (head + its packed body) into *message (resized): body format 1,
// or 2 (the packed body compressed) with a compressor.
void EncodeEntry(const replica::LogEntry& entry, std::vector<std::byte>* message,
                 EntryCompressor* compressor = nullptr);

// A decoded message: its head, and its commands unpacked into `commands`.
// Corruption naming `sequence` (the stream sequence it was read at) if the message is not an
// entry of this format, its checksum fails, its op is not `sequence`, or it holds more than
// `command_count_max` commands. Both body formats are read.
[[nodiscard]] Status DecodeEntry(ByteSpan message, uint64_t sequence, uint32_t command_count_max,
                                 EntryHead* head, std::vector<wire::Command>* commands);

// The message id of the entry of `op` written in `term` ("<term>-<op>"), and back.
std::string MessageId(uint64_t term, uint64_t op);
[[nodiscard]] bool ParseMessageId(std::string_view id, uint64_t* term, uint64_t* op);

}  // namespace eleven::cluster
