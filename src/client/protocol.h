// The binary protocol (docs/protocol.md, protocol version 1): length-prefixed frames, each a
// fixed 48-byte header and a body of fixed-size records. The client and the server share
// this file; it depends only on base and wire, so it lives with the client library (the
// server links it too). Everything here is pure: no I/O, no allocation, no exceptions, so
// the decoder can be fuzzed on its own (fuzz/frame_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "wire/records.h"

namespace eleven::protocol {

inline constexpr uint32_t kMagic = 0x31564C45;  // the bytes "ELV1"
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kHeaderSize = 48;
inline constexpr size_t kHeaderChecksummedSize = 40;  // bytes covered by header_checksum
inline constexpr size_t kQueryIdSize = 8;
inline constexpr size_t kQueryEntryHeadSize = 8;  // code u16 + reserved, before the record

enum class Operation : uint8_t {
  kSubmit = 1,         // body: record_count commands (128 bytes each); reply: results (32 each)
  kGetOrder = 2,       // body: record_count order ids (u64); reply: entries with order-records
  kGetOrderByKey = 3,  // body: idempotency keys (u64); reply: entries with order-records
  kGetSku = 4,         // body: SKU ids; reply: entries with sku-records
  kGetDrop = 5,        // body: drop ids; reply: entries with drop-records
  kPing = 6,           // body: empty; reply: empty, released once everything before it is durable
};
inline constexpr uint8_t kOperationMax = 6;

// A reply's status. Anything but kOk and kBusy means the server closes the connection after
// the reply, since it cannot trust the framing any more.
enum class FrameStatus : uint8_t {
  kOk = 0,
  kBusy = 1,                // the server is full (requests or bytes in flight): retry later
  kBadMagic = 2,
  kBadVersion = 3,
  kBadHeaderChecksum = 4,
  kBadBodyChecksum = 5,
  kFrameTooLarge = 6,       // body_size above the server's frame_body_size_max
  kBadOperation = 7,
  kBadRecordCount = 8,      // 0 (for a non-ping), or above the per-operation limit
  kBadBodySize = 9,         // body_size is not record_count x the record size
  kBadReserved = 10,        // status/reserved field nonzero in a request
  kShuttingDown = 11,
  kReplicaFailed = 12,      // the journal failed; nothing more is accepted
  kIdleTimeout = 13,        // sent before closing a connection silent for too long
};
std::string_view FrameStatusName(FrameStatus status);

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  Operation operation;
  FrameStatus status;     // 0 in requests
  uint64_t request_id;    // chosen by the client; echoed in the reply
  uint32_t record_count;
  uint32_t body_size;     // bytes after the header
  uint64_t client_id;     // reserved for access control (API key id); 0 = anonymous
  uint64_t body_checksum;    // XXH3-64 of the body (seed 0)
  uint64_t header_checksum;  // XXH3-64 of the header's first 40 bytes
};
static_assert(sizeof(FrameHeader) == kHeaderSize);
static_assert(offsetof(FrameHeader, header_checksum) == kHeaderChecksummedSize);

// The decoder's limits (a server sets them from its configuration).
struct FrameLimits {
  uint32_t body_size_max = 8190 * 128;
  uint32_t submit_count_max = 8190;  // commands in one submit frame
  uint32_t query_count_max = 1024;   // ids in one query frame
};

// Size of one record of a request body / of one reply entry, per operation.
size_t RequestRecordSize(Operation operation);
size_t ReplyRecordSize(Operation operation);
// Size of the query record an operation's reply entry carries (0 for submit and ping).
size_t QueryRecordSize(Operation operation);

enum class ParseState : uint8_t { kNeedMore, kFrame, kError };
struct ParseResult {
  ParseState state = ParseState::kNeedMore;
  FrameStatus error = FrameStatus::kOk;  // when kError
  size_t frame_size = 0;                 // when kFrame: header + body
};

// Looks at the front of `input` (bytes received so far). kNeedMore: not a whole frame yet
// (the header, if present, is valid so far). kFrame: a valid request frame of frame_size
// bytes is at the front; *header is filled. kError: the stream is broken (the reason), and
// no more frames can be taken from it. Checks magic, version, header checksum, the size
// limits before the body arrives (so an oversize frame is refused at once), then the body
// size against the record count and the body checksum.
ParseResult ParseRequest(std::span<const std::byte> input, const FrameLimits& limits,
                         FrameHeader* header);
// The same for a reply (the client side): status may be nonzero; bodies sized per operation.
ParseResult ParseReply(std::span<const std::byte> input, uint32_t body_size_max,
                       FrameHeader* header);

// Fills a header for `body` (computes both checksums).
FrameHeader MakeHeader(Operation operation, FrameStatus status, uint64_t request_id,
                       uint32_t record_count, std::span<const std::byte> body, uint64_t client_id);
// Recomputes header_checksum after the caller changed fields.
void SealHeader(FrameHeader* header);

}  // namespace eleven::protocol
