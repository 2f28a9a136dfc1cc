// A request on its way from a connection (binary or HTTP) to the engine thread and back.
//
// Ownership: the I/O thread takes a Request from the RequestPool, fills it and pushes it into
// the engine loop's inbox; from then until it comes back through the outbox only the engine
// thread touches it (and only the fields marked "engine"); the I/O thread then hands it to
// its sink, which writes the reply and gives it back to the pool. `sink` is never copied or
// destroyed on the engine thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/assert.h"
#include "client/protocol.h"
#include "server/api_keys.h"

namespace eleven::server {

struct Request;

// Whoever is waiting for a request's reply (a connection). Called on the I/O thread.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnRequestDone(Request* request) = 0;
};

enum class RequestKind : uint8_t {
  kSubmit,    // `count` commands at body(); results written over them
  kQuery,     // `count` request records in ids (as u64 words); reply entries written to
              // body(), and `count` set to the number of entries
  kPing,      // nothing; released once everything submitted before it is durable
  kFeedPoll,  // `count` topics in ids / topic_kinds; entries written to body()
  kSetClock,  // one log time in ids[0]; one entry (code, protocol::ClockRecord) written to body()
};

// Feed topics: what a feed poll reads.
// A feed's topic: a SKU's or a drop's stock (polled by kFeedPoll), or the sales figures
// (docs/read-side.md; polled by a get_sales query).
enum class TopicKind : uint8_t { kSku = 1, kDrop = 2, kFigures = 3 };
inline constexpr size_t kFeedEntrySize =
    protocol::kQueryEntryHeadSize +
    (sizeof(wire::DropRecord) > sizeof(wire::SkuRecord) ? sizeof(wire::DropRecord)
                                                        : sizeof(wire::SkuRecord));

struct Request {
  RequestKind kind = RequestKind::kSubmit;
  protocol::Operation operation = protocol::Operation::kSubmit;  // the query, for kQuery
  protocol::FrameStatus status = protocol::FrameStatus::kOk;    // engine: ok or replica_failed
  uint32_t count = 0;
  uint64_t request_id = 0;
  uint64_t client_id = 0;
  Caller caller;  // who asked (the server authenticated it; queries check ownership with it)
  uint64_t op = 0;           // engine: the op that must be durable before the reply leaves
  uint64_t received_ns = 0;  // when the I/O thread took it (latency metrics)
  // Header (protocol::kHeaderSize bytes) then the body: commands in, results or entries out.
  std::vector<std::byte> buffer;
  std::vector<uint64_t> ids;           // query request records as u64 words, feed topic ids
  std::vector<TopicKind> topic_kinds;  // feed topics' kinds
  std::shared_ptr<RequestSink> sink;
  uint64_t sink_tag = 0;  // the sink's own use (e.g. which HTTP route)

  std::byte* body() { return buffer.data() + protocol::kHeaderSize; }
  const wire::Command* commands() const {
    return reinterpret_cast<const wire::Command*>(buffer.data() + protocol::kHeaderSize);
  }
};

// Requests in flight, bounded by count and by bytes. I/O thread only. Requests are created on
// demand up to the limit and then reused, so the steady state allocates nothing; a buffer
// that grew large is shrunk when given back if the retained bytes pass their budget.
class RequestPool {
 public:
  RequestPool(uint32_t count_max, uint64_t bytes_in_flight_max, uint64_t bytes_retained_max)
      : count_max_(count_max),
        bytes_in_flight_max_(bytes_in_flight_max),
        bytes_retained_max_(bytes_retained_max) {
    ELEVEN_ASSERT(count_max > 0);
    all_.reserve(count_max);
    free_.reserve(count_max);
  }

  // A request whose buffer holds `buffer_size` bytes, or nullptr if a limit is reached
  // (the caller answers busy).
  Request* Take(size_t buffer_size) {
    if (in_use_ == count_max_ || bytes_in_flight_ + buffer_size > bytes_in_flight_max_) {
      return nullptr;
    }
    Request* r = nullptr;
    if (!free_.empty()) {
      r = free_.back();
      free_.pop_back();
      bytes_retained_ -= r->buffer.capacity();
    } else {
      ELEVEN_ASSERT(all_.size() < count_max_);
      all_.push_back(std::make_unique<Request>());
      r = all_.back().get();
    }
    r->buffer.resize(buffer_size);
    r->status = protocol::FrameStatus::kOk;
    r->op = 0;
    r->count = 0;
    r->ids.clear();
    r->topic_kinds.clear();
    bytes_in_flight_ += buffer_size;
    in_use_++;
    return r;
  }

  void Give(Request* r) {
    ELEVEN_ASSERT(r != nullptr && in_use_ > 0);
    ELEVEN_ASSERT(bytes_in_flight_ >= r->buffer.size());
    bytes_in_flight_ -= r->buffer.size();
    in_use_--;
    r->sink.reset();
    if (bytes_retained_ + r->buffer.capacity() > bytes_retained_max_) {
      r->buffer.clear();
      r->buffer.shrink_to_fit();
    }
    bytes_retained_ += r->buffer.capacity();
    free_.push_back(r);
  }

  uint32_t in_use() const { return in_use_; }
  uint32_t count_max() const { return count_max_; }
  uint64_t bytes_in_flight() const { return bytes_in_flight_; }

 private:
  const uint32_t count_max_;
  const uint64_t bytes_in_flight_max_;
  const uint64_t bytes_retained_max_;
  std::vector<std::unique_ptr<Request>> all_;
  std::vector<Request*> free_;
  uint32_t in_use_ = 0;
  uint64_t bytes_in_flight_ = 0;
  uint64_t bytes_retained_ = 0;
};

}  // namespace eleven::server
