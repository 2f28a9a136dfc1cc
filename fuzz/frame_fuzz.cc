// libFuzzer target: the binary protocol's frame decoder (src/client/protocol.h) on arbitrary
// bytes, both as a request stream (what the server parses) and as a reply stream (what the
// client parses). Every outcome must be one of need-more / frame / error, a frame must fit
// in the input and satisfy the limits, and a stream must never loop without progress. An
// authenticate frame's body goes through what the server reads of it (the secret, its shape).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <span>

#include "client/keys.h"
#include "client/protocol.h"
#include "wire/ledger.h"

using namespace eleven::protocol;

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void DrainRequests(std::span<const std::byte> input, const FrameLimits& limits) {
  size_t at = 0;
  for (;;) {
    FrameHeader header;
    const ParseResult r = ParseRequest(input.subspan(at), limits, &header);
    if (r.state != ParseState::kFrame) {
      Check(r.state == ParseState::kNeedMore || r.error != FrameStatus::kOk);
      return;
    }
    Check(r.frame_size >= kHeaderSize && r.frame_size <= input.size() - at);
    Check(header.body_size <= limits.body_size_max);
    Check(header.record_count * RequestRecordSize(header.operation) == header.body_size);
    // A list query's reply room comes from its body: bounded whatever the body says.
    const uint32_t entries = ReplyEntryCountMax(header.operation, header.record_count,
                                                input.subspan(at + kHeaderSize, header.body_size));
    Check(entries <= std::max<uint32_t>(header.record_count, eleven::wire::kAccountTransfersMax));
    Check(ShapeOf(header.operation) != QueryShape::kList || header.record_count == 1);
    if (header.operation == Operation::kAuthenticate) {
      // What the server does with the body: the secret up to its NUL, checked for shape.
      const std::string_view secret =
          AuthenticateSecret(input.subspan(at + kHeaderSize, header.body_size));
      Check(secret.size() <= sizeof(AuthenticateRecord::secret));
      Check(!eleven::client::WellFormedKeySecret(secret) || secret.size() == eleven::client::kKeySecretSize);
    }
    at += r.frame_size;
  }
}

void DrainReplies(std::span<const std::byte> input) {
  size_t at = 0;
  for (;;) {
    FrameHeader header;
    const ParseResult r = ParseReply(input.subspan(at), 1 << 20, &header);
    if (r.state != ParseState::kFrame) return;
    Check(r.frame_size >= kHeaderSize && r.frame_size <= input.size() - at);
    at += r.frame_size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  FrameLimits limits;
  limits.body_size_max = 64 * 128;
  limits.submit_count_max = 64;
  limits.query_count_max = 16;
  DrainRequests(input, limits);
  DrainReplies(input);
  // Valid frames around the fuzz bytes, so the checksum checks are not all the fuzzer meets.
  if (size > 0 && size <= 8 * 128) {
    uint8_t frame[kHeaderSize + 8 * 128];
    const uint32_t count = static_cast<uint32_t>(size / 128);
    const auto body = std::span(data, count * 128);
    const FrameHeader h = MakeHeader(Operation::kSubmit, FrameStatus::kOk, data[0], count,
                                     std::as_bytes(body), 0);
    __builtin_memcpy(frame, &h, kHeaderSize);
    __builtin_memcpy(frame + kHeaderSize, body.data(), body.size());
    DrainRequests(std::as_bytes(std::span(frame, kHeaderSize + body.size())), limits);
  }
  return 0;
}
