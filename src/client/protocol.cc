#include "client/protocol.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/hash.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"

namespace eleven::protocol {

std::string_view FrameStatusName(FrameStatus status) {
  switch (status) {
    case FrameStatus::kOk: return "ok";
    case FrameStatus::kBusy: return "busy";
    case FrameStatus::kBadMagic: return "bad_magic";
    case FrameStatus::kBadVersion: return "bad_version";
    case FrameStatus::kBadHeaderChecksum: return "bad_header_checksum";
    case FrameStatus::kBadBodyChecksum: return "bad_body_checksum";
    case FrameStatus::kFrameTooLarge: return "frame_too_large";
    case FrameStatus::kBadOperation: return "bad_operation";
    case FrameStatus::kBadRecordCount: return "bad_record_count";
    case FrameStatus::kBadBodySize: return "bad_body_size";
    case FrameStatus::kBadReserved: return "bad_reserved";
    case FrameStatus::kShuttingDown: return "shutting_down";
    case FrameStatus::kReplicaFailed: return "replica_failed";
    case FrameStatus::kIdleTimeout: return "idle_timeout";
    case FrameStatus::kUnauthenticated: return "unauthenticated";
    case FrameStatus::kRateLimited: return "rate_limited";
    case FrameStatus::kNotLeader:
      return "not_leader";
  }
  return "unknown";
}

std::string_view AuthenticateSecret(std::span<const std::byte> body) {
  const size_t size = std::min(body.size(), sizeof(AuthenticateRecord::secret));
  const auto* text = reinterpret_cast<const char*>(body.data());
  return std::string_view(text, strnlen(text, size));
}

QueryShape ShapeOf(Operation operation) {
  switch (operation) {
    case Operation::kSubmit:
    case Operation::kPing: return QueryShape::kNotQuery;
    case Operation::kGetFigures:
    case Operation::kGetDigest:
    case Operation::kGetStats:
    case Operation::kGetLimits: return QueryShape::kKeyless;
    case Operation::kGetAccountTransfers:
    case Operation::kGetTimeline:
    case Operation::kGetSales: return QueryShape::kList;
    case Operation::kSetClock:
    case Operation::kAuthenticate: return QueryShape::kSingle;
    default: return QueryShape::kByKey;
  }
}

size_t QueryRecordSize(Operation operation) {
  switch (operation) {
    case Operation::kGetOrder:
    case Operation::kGetOrderByKey: return sizeof(wire::OrderRecord);
    case Operation::kGetSku: return sizeof(wire::SkuRecord);
    case Operation::kGetDrop: return sizeof(wire::DropRecord);
    case Operation::kGetAccount: return sizeof(wire::AccountRecord);
    case Operation::kGetTransfer:
    case Operation::kGetAccountTransfers: return sizeof(wire::TransferRecord);
    case Operation::kGetOrderMoney: return sizeof(wire::OrderMoneyRecord);
    case Operation::kGetPlan: return sizeof(wire::PlanRecord);
    case Operation::kGetMerchantCredit: return sizeof(wire::MerchantCreditRecord);
    case Operation::kGetBuyerCredit: return sizeof(wire::BuyerCreditRecord);
    case Operation::kGetParcel: return sizeof(wire::ParcelRecord);
    case Operation::kGetShipment: return sizeof(wire::ShipmentRecord);
    case Operation::kGetTimeline: return sizeof(wire::TimelineEntry);
    case Operation::kGetFigures: return sizeof(wire::FiguresRecord);
    case Operation::kGetWarehouseStock: return sizeof(WarehouseStockRecord);
    case Operation::kGetWarehouseHour:
    case Operation::kGetCourierHour: return sizeof(wire::HourFigure);
    case Operation::kGetDigest: return sizeof(DigestRecord);
    case Operation::kSetClock: return sizeof(ClockRecord);
    case Operation::kGetStats: return sizeof(wire::StatsRecord);
    case Operation::kGetLimits: return sizeof(wire::LimitsRecord);
    case Operation::kAuthenticate: return sizeof(AuthenticatedRecord);
    case Operation::kGetKey: return sizeof(wire::KeyRecord);
    case Operation::kGetMerchant: return sizeof(wire::MerchantRecord);
    case Operation::kGetWarehouse: return sizeof(wire::WarehouseRecord);
    case Operation::kGetCourier: return sizeof(wire::CourierRecord);
    case Operation::kGetSales: return sizeof(wire::SalesRecord);
    case Operation::kGetCoupon: return sizeof(wire::CouponRecord);
    case Operation::kGetCouponClaim: return sizeof(wire::CouponClaimRecord);
    case Operation::kGetPresale: return sizeof(wire::PresaleRecord);
    case Operation::kGetDeposit: return sizeof(wire::DepositRecord);
    case Operation::kSubmit:
    case Operation::kPing: return 0;
  }
  return 0;
}

size_t RequestRecordSize(Operation operation) {
  switch (operation) {
    case Operation::kSubmit: return wire::kCommandSize;
    case Operation::kPing:
    case Operation::kGetFigures:
    case Operation::kGetDigest:
    case Operation::kGetStats:
    case Operation::kGetLimits: return 0;
    case Operation::kGetWarehouseStock:
    case Operation::kGetWarehouseHour:
    case Operation::kGetCourierHour:
    case Operation::kGetCouponClaim:
    case Operation::kGetDeposit: return sizeof(PairQuery);
    case Operation::kGetAccountTransfers: return sizeof(AccountTransfersQuery);
    case Operation::kGetSales: return sizeof(wire::SalesQuery);
    case Operation::kAuthenticate: return sizeof(AuthenticateRecord);
    default: return kQueryIdSize;
  }
}

size_t ReplyRecordSize(Operation operation) {
  switch (operation) {
    case Operation::kSubmit: return wire::kResultSize;
    case Operation::kPing: return 0;
    default: return kQueryEntryHeadSize + QueryRecordSize(operation);
  }
}

uint32_t ReplyEntryCountMax(Operation operation, uint32_t record_count, std::span<const std::byte> body) {
  if (operation == Operation::kGetTimeline) return wire::kTimelineEventCountMax;
  if (operation == Operation::kGetSales) {
    ELEVEN_ASSERT(body.size() >= sizeof(wire::SalesQuery));
    wire::SalesQuery query;
    std::memcpy(&query, body.data(), sizeof(query));
    return wire::kSalesFixedEntriesMax + std::min(query.drop_limit, wire::kSalesDropsMax);
  }
  if (operation != Operation::kGetAccountTransfers) return record_count;
  ELEVEN_ASSERT(body.size() >= sizeof(AccountTransfersQuery));
  AccountTransfersQuery query;
  std::memcpy(&query, body.data(), sizeof(query));
  return std::clamp<uint32_t>(query.limit, 1, wire::kAccountTransfersMax);
}

namespace {

bool KnownOperation(Operation operation) {
  const auto value = static_cast<uint8_t>(operation);
  return value >= 1 && value <= kOperationMax;
}

// The checks every frame gets as soon as its header is in: nothing past the header is read.
FrameStatus CheckHeaderFields(const FrameHeader& h, uint32_t body_size_max) {
  if (h.magic != kMagic) return FrameStatus::kBadMagic;
  if (h.version != kVersion) return FrameStatus::kBadVersion;
  if (Checksum64(&h, kHeaderChecksummedSize) != h.header_checksum) {
    return FrameStatus::kBadHeaderChecksum;
  }
  if (h.body_size > body_size_max) return FrameStatus::kFrameTooLarge;
  if (!KnownOperation(h.operation)) return FrameStatus::kBadOperation;
  return FrameStatus::kOk;
}

ParseResult Error(FrameStatus status) {
  ELEVEN_ASSERT(status != FrameStatus::kOk);
  return ParseResult{ParseState::kError, status, 0};
}

// Header checked; whole frame present? Then the body checksum.
ParseResult FinishFrame(std::span<const std::byte> input, const FrameHeader& h) {
  const size_t frame_size = kHeaderSize + h.body_size;
  if (input.size() < frame_size) return ParseResult{};
  if (Checksum64(input.data() + kHeaderSize, h.body_size) != h.body_checksum) {
    return Error(FrameStatus::kBadBodyChecksum);
  }
  return ParseResult{ParseState::kFrame, FrameStatus::kOk, frame_size};
}

}  // namespace

ParseResult ParseRequest(std::span<const std::byte> input, const FrameLimits& limits,
                         FrameHeader* header) {
  ELEVEN_ASSERT(header != nullptr);
  if (input.size() < kHeaderSize) {
    // Refuse a wrong magic early, so garbage is answered without waiting for 48 bytes.
    uint32_t magic = 0;
    if (input.size() >= sizeof(magic)) {
      std::memcpy(&magic, input.data(), sizeof(magic));
      if (magic != kMagic) return Error(FrameStatus::kBadMagic);
    }
    return ParseResult{};
  }
  std::memcpy(header, input.data(), kHeaderSize);
  const FrameHeader& h = *header;
  const FrameStatus status = CheckHeaderFields(h, limits.body_size_max);
  if (status != FrameStatus::kOk) return Error(status);
  if (h.status != FrameStatus::kOk) return Error(FrameStatus::kBadReserved);
  const QueryShape shape = ShapeOf(h.operation);
  const uint32_t count_max = h.operation == Operation::kSubmit ? limits.submit_count_max
                             : h.operation == Operation::kPing ? 0
                             : shape == QueryShape::kByKey     ? limits.query_count_max
                                                               : 1;  // keyless and list queries
  if ((h.operation != Operation::kPing && h.record_count == 0) || h.record_count > count_max) {
    return Error(FrameStatus::kBadRecordCount);
  }
  if (uint64_t{h.record_count} * RequestRecordSize(h.operation) != h.body_size) {
    return Error(FrameStatus::kBadBodySize);
  }
  return FinishFrame(input, h);
}

ParseResult ParseReply(std::span<const std::byte> input, uint32_t body_size_max,
                       FrameHeader* header) {
  ELEVEN_ASSERT(header != nullptr);
  if (input.size() < kHeaderSize) return ParseResult{};
  std::memcpy(header, input.data(), kHeaderSize);
  const FrameHeader& h = *header;
  const FrameStatus status = CheckHeaderFields(h, body_size_max);
  if (status != FrameStatus::kOk) return Error(status);
  if (h.status == FrameStatus::kNotLeader) {
    // The body is the leader's address, if the node knows it (docs/cluster.md).
    if (h.record_count != 0 || h.body_size > kLeaderAddressSizeMax)
      return Error(FrameStatus::kBadBodySize);
    return FinishFrame(input, h);
  }
  const uint64_t expected =
      h.status == FrameStatus::kOk ? uint64_t{h.record_count} * ReplyRecordSize(h.operation) : 0;
  if (expected != h.body_size) return Error(FrameStatus::kBadBodySize);
  return FinishFrame(input, h);
}

void SealHeader(FrameHeader* header) {
  header->header_checksum = Checksum64(header, kHeaderChecksummedSize);
}

FrameHeader MakeHeader(Operation operation, FrameStatus status, uint64_t request_id,
                       uint32_t record_count, std::span<const std::byte> body,
                       uint64_t client_id) {
  ELEVEN_ASSERT(body.size() <= UINT32_MAX);
  FrameHeader h{};
  h.magic = kMagic;
  h.version = kVersion;
  h.operation = operation;
  h.status = status;
  h.request_id = request_id;
  h.record_count = record_count;
  h.body_size = static_cast<uint32_t>(body.size());
  h.client_id = client_id;
  h.body_checksum = Checksum64(body.data(), body.size());
  SealHeader(&h);
  return h;
}

}  // namespace eleven::protocol
