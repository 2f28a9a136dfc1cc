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

#include "wire/access.h"
#include "wire/engine_records.h"
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
  // Ledger (docs/ledger.md). By id: one entry per id.
  kGetAccount = 7,          // account ids; AccountRecord
  kGetTransfer = 8,         // transfer ids; TransferRecord
  kGetOrderMoney = 9,       // order ids; OrderMoneyRecord
  kGetPlan = 10,            // order ids; PlanRecord
  kGetMerchantCredit = 11,  // merchant ids; MerchantCreditRecord
  kGetBuyerCredit = 12,     // buyer ids; BuyerCreditRecord
  kGetAccountTransfers = 13,  // list: one AccountTransfersQuery; entries of TransferRecord
  // Fulfilment (docs/fulfilment.md).
  kGetParcel = 14,          // waybills; ParcelRecord
  kGetShipment = 15,        // order ids; ShipmentRecord
  kGetTimeline = 16,        // list: one waybill; entries of TimelineEntry, oldest first
  kGetFigures = 17,         // keyless: record_count 1, empty body; FiguresRecord
  kGetWarehouseStock = 18,  // PairQuery {warehouse id, SKU id}; WarehouseStockRecord
  kGetWarehouseHour = 19,   // PairQuery {warehouse id, hour index}; HourFigure
  kGetCourierHour = 20,     // PairQuery {courier id, hour index}; HourFigure
  // The engine.
  kGetDigest = 21,  // keyless; DigestRecord (a pass over the whole state: for audits and tests)
  // Simulation and replays only: in client-clock mode ([engine] clock = "client"), sets the
  // log time the following batches are stamped with.
  kSetClock = 22,  // single: one u64 log time in µs; ClockRecord (entry code clock_is_wall, clock_backwards)
  kGetStats = 23,   // keyless; wire::StatsRecord (the engine's counters)
  kGetLimits = 24,  // keyless; wire::LimitsRecord (the engine's capacities and modules)
  // Access (docs/access.md).
  kAuthenticate = 25,  // single: one AuthenticateRecord (the secret); AuthenticatedRecord
  kGetKey = 26,        // key ids; wire::KeyRecord (operators only)
  // Lookups of what the catalog and fulfilment were given.
  kGetMerchant = 27,   // merchant ids; wire::MerchantRecord
  kGetWarehouse = 28,  // warehouse ids; wire::WarehouseRecord
  kGetCourier = 29,    // courier ids; wire::CourierRecord
  // Live figures (docs/read-side.md).
  kGetSales = 30,  // list: one wire::SalesQuery; entries of wire::SalesRecord
  // Coupons (docs/promotions.md).
  kGetCoupon = 31,       // coupon ids; wire::CouponRecord
  kGetCouponClaim = 32,  // PairQuery {coupon id, buyer id}; wire::CouponClaimRecord
  // Pre-sales (docs/promotions.md, "Pre-sale").
  kGetPresale = 33,  // pre-sale ids; wire::PresaleRecord
  kGetDeposit = 34,  // PairQuery {pre-sale id, buyer id}; wire::DepositRecord
};
inline constexpr uint8_t kOperationMax = 34;

// How an operation's request and reply are shaped (docs/protocol.md, "Queries").
enum class QueryShape : uint8_t {
  kNotQuery,  // submit, ping
  kByKey,     // record_count keys (an id, or a PairQuery); one reply entry per key
  kKeyless,   // record_count = 1, empty body; one reply entry
  kList,      // record_count = 1 key; 0..n reply entries, or one entry with an error code
  kSingle,    // record_count = 1 key; one reply entry (set_clock)
};
QueryShape ShapeOf(Operation operation);

// Request keys of the queries that take more than one id.
struct PairQuery {
  uint64_t id;   // warehouse or courier id
  uint64_t key;  // SKU id (kGetWarehouseStock), hour index (= log time / 1 h) or buyer id (kGetCouponClaim, kGetDeposit)
};
struct AccountTransfersQuery {
  uint64_t account_id;
  uint8_t flags;  // wire::AccountTransfersFlags: 1 = as debit account, 2 = as credit, 0 = both
  uint8_t reserved[3];  // zero (else the entry's code is reserved_nonzero)
  uint32_t limit;       // 1 .. wire::kAccountTransfersMax entries, newest first
  uint64_t after_transfer_id;  // 0: from the newest; else after this transfer of the account
};
// Reply records that have no record of their own in wire/.
struct WarehouseStockRecord {
  uint64_t warehouse_id;
  uint64_t sku_id;
  uint32_t units;  // the warehouse's stock of the SKU (0 if it never held any)
  uint32_t reserved;
};
struct DigestRecord {
  uint64_t op;            // the last applied op (the digest's log position)
  uint64_t timestamp_us;  // its log time
  uint64_t digest_low;    // Engine::Digest(): equal digests mean equal states
  uint64_t digest_high;
};
// How a server stamps its batches ([engine] clock in docs/server.md).
enum class ClockMode : uint8_t {
  kWall = 0,    // the server's wall clock (production)
  kClient = 1,  // the time the last set_clock gave (simulation and replays)
};
struct ClockRecord {
  uint64_t log_time_us;  // the time the next batch will be stamped with (wall: now)
  ClockMode mode;
  uint8_t reserved[7];
};
// authenticate's request record: an API key's secret, NUL-padded.
struct AuthenticateRecord {
  char secret[64];
};
// authenticate's reply record (entry code ok, else unauthenticated and zeros).
struct AuthenticatedRecord {
  uint64_t key_id;
  uint64_t scope_id;
  wire::Role role;
  uint8_t reserved[7];
};
static_assert(sizeof(AuthenticateRecord) == 64 && sizeof(AuthenticatedRecord) == 24);
// The secret an authenticate frame's body carries: its bytes up to the first NUL (at most
// 64). The body is one AuthenticateRecord.
std::string_view AuthenticateSecret(std::span<const std::byte> body);
static_assert(sizeof(PairQuery) == 16 && sizeof(AccountTransfersQuery) == 24);
static_assert(sizeof(WarehouseStockRecord) == 24 && sizeof(DigestRecord) == 32);
static_assert(sizeof(ClockRecord) == 16);

// A reply's status. Anything but kOk, kBusy and kRateLimited means the server closes the connection after
// the reply, since it cannot trust the framing any more.
enum class FrameStatus : uint8_t {
  kOk = 0,
  kBusy = 1,  // the server is full (requests or bytes in flight): retry later
  kBadMagic = 2,
  kBadVersion = 3,
  kBadHeaderChecksum = 4,
  kBadBodyChecksum = 5,
  kFrameTooLarge = 6,  // body_size above the server's frame_body_size_max
  kBadOperation = 7,
  kBadRecordCount = 8,  // 0 (for a non-ping), or above the per-operation limit
  kBadBodySize = 9,     // body_size is not record_count x the record size
  kBadReserved = 10,    // status/reserved field nonzero in a request
  kShuttingDown = 11,
  kReplicaFailed = 12,    // the journal failed; nothing more is accepted
  kIdleTimeout = 13,      // sent before closing a connection silent for too long
  kUnauthenticated = 14,  // no authenticate yet, a key unknown or revoked, or a client_id
                          // other than the authenticated key's (docs/access.md)
  kRateLimited = 15,      // over the key's rate limit: retry later (the connection stays)
  kNotLeader = 16,        // cluster mode: this node does not sequence writes; the body, if
                          // any, is the leader's binary address "host:port" (docs/cluster.md)
};
std::string_view FrameStatusName(FrameStatus status);
// A not_leader reply's body: the leader's binary address, ASCII "host:port", at most this long
// (empty when the node knows no leader).
inline constexpr uint32_t kLeaderAddressSizeMax = 64;

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  Operation operation;
  FrameStatus status;     // 0 in requests
  uint64_t request_id;    // chosen by the client; echoed in the reply
  uint32_t record_count;
  uint32_t body_size;     // bytes after the header
  uint64_t client_id;     // the key id the connection authenticated as (0 before, or anonymous)
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
// The most reply entries a valid request of `record_count` records in `body` can get:
// record_count, or for a list query its limit (account transfers: the request's limit,
// clamped to 1..kAccountTransfersMax; a timeline: kTimelineEventCountMax).
uint32_t ReplyEntryCountMax(Operation operation, uint32_t record_count, std::span<const std::byte> body);

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
