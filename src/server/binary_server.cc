#include "server/binary_server.h"

#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>

#include "base/assert.h"
#include "client/tls_stream.h"
#include "server/tls.h"

namespace eleven::server {

namespace {

constexpr size_t kReadBufferSizeMin = 64 << 10;  // grows to one frame when a frame is larger
constexpr size_t kGatherCountMax = 64;            // replies per write(2)
constexpr size_t kQueuedRepliesMax = 1024;        // then the connection stops reading
constexpr auto kSweepPeriod = std::chrono::milliseconds(250);

}  // namespace

// One client connection. Owned by the listener's map (and kept alive by its pending
// operations and by requests in the engine, whose sink it is).
class BinaryConnection : public RequestSink,
                         public std::enable_shared_from_this<BinaryConnection> {
 public:
  BinaryConnection(Core* core, BinaryListener* listener, net::Stream stream, uint64_t id)
      : core_(core), listener_(listener), stream_(std::move(stream)), id_(id) {
    in_.resize(kReadBufferSizeMin);
    writing_items_.reserve(kGatherCountMax);
    gather_.reserve(kGatherCountMax);
    last_activity_ns_ = MonotonicNs();
  }

  void Start();
  void OnRequestDone(Request* request) override;
  // The API key a verified TLS client certificate names (CN=eleven-key-<id>), 0 if none:
  // known once the handshake is done, before the first frame is read.
  uint32_t tls_key_id() const { return stream_.tls_key_id(); }
  void Close();
  // The sweep: true if this connection was idle too long (and has been told and closed).
  bool CloseIfIdle(uint64_t now_ns);

 private:
  struct Outgoing {
    Request* request = nullptr;   // a reply built in the request's buffer, or
    protocol::FrameHeader header;  // a body-less status reply (busy, errors)
  };

  bool CanRead() const {
    return !reading_ && !closing_ && !close_after_write_ &&
           in_flight_ < core_->config.connection_requests_in_flight_max &&
           queued_.size() < kQueuedRepliesMax;
  }
  void MaybeRead();
  void OnRead(const boost::system::error_code& error, size_t size);
  bool TakeFrames();
  void TakeFrame(const protocol::FrameHeader& header, const std::byte* frame);
  // Whether the frame may go on: the connection authenticated (or is anonymous where the
  // config allows), its key is still active and the header names it. Else the connection is
  // told unauthenticated and closed.
  bool Authorized(const protocol::FrameHeader& header);
  void Authenticate(const protocol::FrameHeader& header, const std::byte* body);
  void ReplyStatus(protocol::FrameStatus status, uint64_t request_id, bool then_close);
  void MaybeWrite();
  void OnWrite(const boost::system::error_code& error);

  Core* const core_;
  BinaryListener* const listener_;
  net::Stream stream_;
  const uint64_t id_;
  std::vector<std::byte> in_;
  size_t in_used_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool handshaking_ = false;  // TLS: nothing is read or written before it is done
  bool closing_ = false;
  bool close_after_write_ = false;
  bool authenticated_ = false;
  bool by_certificate_ = false;  // the caller is the key the client certificate names
  Caller caller_;
  uint32_t in_flight_ = 0;  // requests in the engine or in the write queue
  uint64_t last_activity_ns_ = 0;
  std::deque<Outgoing> queued_;
  std::vector<Outgoing> writing_items_;
  std::vector<asio::const_buffer> gather_;
};

void BinaryConnection::Start() {
  if (!stream_.is_tls()) return MaybeRead();
  handshaking_ = true;
  stream_.tls().async_handshake(
      asio::ssl::stream_base::server,
      [self = shared_from_this()](const boost::system::error_code& error) {
        self->handshaking_ = false;
        if (self->closing_) return;
        if (error) {  // plain bytes, a bad client certificate, ...
          self->core_->io_metrics.tls_handshake_failures_total++;
          return self->Close();
        }
        self->stream_.set_tls_key_id(tls::KeyIdOfPeer(self->stream_.tls().native_handle()));
        self->last_activity_ns_ = MonotonicNs();
        self->MaybeRead();
      });
}

void BinaryConnection::MaybeRead() {
  // Whole frames may be waiting in the buffer from before a pause: take them first.
  if (!TakeFrames() || !CanRead()) return;
  if (in_used_ == in_.size()) return;  // a full buffer means TakeFrames grew it or paused
  reading_ = true;
  stream_.async_read_some(asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
                          [self = shared_from_this()](const boost::system::error_code& error,
                                                      size_t size) { self->OnRead(error, size); });
}

void BinaryConnection::OnRead(const boost::system::error_code& error, size_t size) {
  reading_ = false;
  if (closing_) return;
  if (error) {  // EOF or reset: replies still in flight are dropped when they come back
    Close();
    return;
  }
  ELEVEN_ASSERT(in_used_ + size <= in_.size());
  in_used_ += size;
  last_activity_ns_ = MonotonicNs();
  MaybeRead();
}

// Cuts every whole frame from the front of the buffer. False if the stream is broken (the
// connection is then told why and closed).
bool BinaryConnection::TakeFrames() {
  size_t at = 0;
  bool ok = true;
  while (!closing_ && in_flight_ < core_->config.connection_requests_in_flight_max) {
    protocol::FrameHeader header;
    const auto parsed = protocol::ParseRequest(std::span(in_.data() + at, in_used_ - at),
                                               core_->limits, &header);
    if (parsed.state == protocol::ParseState::kError) {
      core_->io_metrics.frame_errors_total++;
      const uint64_t request_id = in_used_ - at >= protocol::kHeaderSize ? header.request_id : 0;
      ReplyStatus(parsed.error, request_id, /*then_close=*/true);
      ok = false;
      break;
    }
    if (parsed.state == protocol::ParseState::kNeedMore) {
      if (in_used_ - at >= protocol::kHeaderSize) {
        const size_t frame_size = protocol::kHeaderSize + header.body_size;
        if (frame_size > in_.size()) in_.resize(frame_size);  // bounded by frame_body_size_max
      }
      break;
    }
    TakeFrame(header, in_.data() + at);
    at += parsed.frame_size;
  }
  if (at > 0) {
    std::memmove(in_.data(), in_.data() + at, in_used_ - at);
    in_used_ -= at;
  }
  return ok;
}

bool BinaryConnection::Authorized(const protocol::FrameHeader& h) {
  if (!authenticated_ && tls_key_id() != 0) {
    // A verified client certificate names the key (mTLS): no authenticate frame needed, and
    // frames may leave client_id 0.
    authenticated_ = core_->keys.Current()->FindId(tls_key_id(), &caller_);
    by_certificate_ = authenticated_;
  } else if (!authenticated_ && core_->config.anonymous_operator && h.client_id == 0) {
    authenticated_ = true;
    caller_ = Caller{0, wire::Role::kOperator, 0};
  }
  bool ok = authenticated_ && (h.client_id == caller_.key_id || (by_certificate_ && h.client_id == 0));
  if (ok && caller_.key_id != 0) ok = core_->keys.Current()->FindId(caller_.key_id, &caller_);
  if (!ok) {
    core_->io_metrics.unauthenticated_total++;
    ReplyStatus(protocol::FrameStatus::kUnauthenticated, h.request_id, /*then_close=*/true);
  }
  return ok;
}

// authenticate: answered here, on the I/O thread, from the published key table.
void BinaryConnection::Authenticate(const protocol::FrameHeader& h, const std::byte* body) {
  const std::string_view secret =
      protocol::AuthenticateSecret(std::span(body, sizeof(protocol::AuthenticateRecord)));
  Caller caller;
  if (!core_->keys.Current()->Find(secret, &caller)) {
    core_->io_metrics.unauthenticated_total++;
    ReplyStatus(protocol::FrameStatus::kUnauthenticated, h.request_id, /*then_close=*/true);
    return;
  }
  const protocol::Operation op = protocol::Operation::kAuthenticate;
  Request* r = core_->pool.Take(protocol::kHeaderSize + protocol::ReplyRecordSize(op));
  if (r == nullptr) {
    core_->io_metrics.busy_replies_total++;
    ReplyStatus(protocol::FrameStatus::kBusy, h.request_id, /*then_close=*/false);
    return;
  }
  authenticated_ = true;
  by_certificate_ = false;
  caller_ = caller;
  r->operation = op;
  r->kind = RequestKind::kQuery;
  r->count = 1;
  r->request_id = h.request_id;
  r->client_id = caller.key_id;
  r->received_ns = last_activity_ns_;
  std::byte* entry = r->body();
  std::memset(entry, 0, protocol::ReplyRecordSize(op));
  protocol::AuthenticatedRecord reply{};
  reply.key_id = caller.key_id;
  reply.scope_id = caller.scope_id;
  reply.role = caller.role;
  std::memcpy(entry + protocol::kQueryEntryHeadSize, &reply, sizeof(reply));
  in_flight_++;
  OnRequestDone(r);
}

void BinaryConnection::TakeFrame(const protocol::FrameHeader& h, const std::byte* frame) {
  core_->io_metrics.frames_total++;
  const std::byte* body = frame + protocol::kHeaderSize;
  if (h.operation == protocol::Operation::kAuthenticate) return Authenticate(h, body);
  if (!Authorized(h)) return;
  uint32_t retry_after_s = 0;
  const uint32_t cost = h.operation == protocol::Operation::kSubmit ? h.record_count : 1;
  if (!core_->limiter.Take(caller_, cost, last_activity_ns_, &retry_after_s)) {
    core_->io_metrics.rate_limited_total++;
    ReplyStatus(protocol::FrameStatus::kRateLimited, h.request_id, /*then_close=*/false);
    return;
  }
  const uint32_t entries_max = protocol::ReplyEntryCountMax(h.operation, h.record_count, std::span(body, h.body_size));
  const size_t reply_size =
      protocol::kHeaderSize + size_t{entries_max} * protocol::ReplyRecordSize(h.operation);
  const size_t size = h.operation == protocol::Operation::kSubmit
                          ? protocol::kHeaderSize + h.body_size
                          : reply_size;
  Request* r = core_->stopping ? nullptr : core_->pool.Take(size);
  if (r == nullptr) {
    core_->io_metrics.busy_replies_total++;
    ReplyStatus(core_->stopping ? protocol::FrameStatus::kShuttingDown : protocol::FrameStatus::kBusy,
                h.request_id, /*then_close=*/false);
    return;
  }
  r->operation = h.operation;
  r->kind = h.operation == protocol::Operation::kSubmit     ? RequestKind::kSubmit
            : h.operation == protocol::Operation::kPing     ? RequestKind::kPing
            : h.operation == protocol::Operation::kSetClock ? RequestKind::kSetClock
                                                             : RequestKind::kQuery;
  r->count = h.record_count;
  r->request_id = h.request_id;
  r->client_id = h.client_id;
  r->caller = caller_;
  r->received_ns = last_activity_ns_;
  r->sink = shared_from_this();
  if (r->kind == RequestKind::kSubmit) {
    std::memcpy(r->body(), body, h.body_size);
    // The issuer is the key the connection authenticated with (docs/access.md).
    auto* commands = reinterpret_cast<wire::Command*>(r->body());
    for (uint32_t i = 0; i < h.record_count; i++) wire::SetIssuer(commands[i], caller_.key_id);
  } else if (r->kind == RequestKind::kQuery || r->kind == RequestKind::kSetClock) {
    static_assert(protocol::kQueryIdSize == sizeof(uint64_t));
    r->ids.resize(h.body_size / sizeof(uint64_t));  // every query record is whole u64 words
    if (h.body_size > 0) std::memcpy(r->ids.data(), body, h.body_size);  // stats and limits: none
  }
  in_flight_++;
  core_->loop->Push(r);
}

void BinaryConnection::OnRequestDone(Request* r) {
  core_->RecordDone(*r);
  if (closing_) {
    in_flight_--;
    core_->pool.Give(r);
    return;
  }
  const bool ok = r->status == protocol::FrameStatus::kOk;
  // not_leader carries the leader's address as its body (its count is the address's length).
  const bool not_leader = r->status == protocol::FrameStatus::kNotLeader;
  const size_t body_size = ok           ? size_t{r->count} * protocol::ReplyRecordSize(r->operation)
                           : not_leader ? r->count
                                        : 0;
  ELEVEN_ASSERT(protocol::kHeaderSize + body_size <= r->buffer.size());
  const protocol::FrameHeader header =
      protocol::MakeHeader(r->operation, r->status, r->request_id, ok ? r->count : 0,
                           std::span<const std::byte>(r->body(), body_size), r->client_id);
  std::memcpy(r->buffer.data(), &header, sizeof(header));
  queued_.push_back(Outgoing{r, {}});
  MaybeWrite();
}

void BinaryConnection::ReplyStatus(protocol::FrameStatus status, uint64_t request_id,
                                   bool then_close) {
  Outgoing out;
  out.header = protocol::MakeHeader(protocol::Operation::kSubmit, status, request_id, 0, {}, 0);
  queued_.push_back(out);
  if (then_close) close_after_write_ = true;
  MaybeWrite();
}

void BinaryConnection::MaybeWrite() {
  if (writing_ || closing_) return;
  if (queued_.empty()) {
    if (close_after_write_) Close();
    return;
  }
  writing_items_.clear();
  gather_.clear();
  while (!queued_.empty() && writing_items_.size() < kGatherCountMax) {
    writing_items_.push_back(queued_.front());
    queued_.pop_front();
  }
  for (const Outgoing& out : writing_items_) {  // no reallocation: reserved kGatherCountMax
    if (out.request != nullptr) {
      const auto* h = reinterpret_cast<const protocol::FrameHeader*>(out.request->buffer.data());
      gather_.emplace_back(out.request->buffer.data(), protocol::kHeaderSize + h->body_size);
    } else {
      gather_.emplace_back(&out.header, protocol::kHeaderSize);
    }
  }
  writing_ = true;
  asio::async_write(stream_, gather_,
                    [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                      self->OnWrite(error);
                    });
}

void BinaryConnection::OnWrite(const boost::system::error_code& error) {
  writing_ = false;
  for (const Outgoing& out : writing_items_) {
    if (out.request == nullptr) continue;
    ELEVEN_ASSERT(in_flight_ > 0);
    in_flight_--;
    core_->pool.Give(out.request);
  }
  writing_items_.clear();
  if (error) {
    Close();
    return;
  }
  MaybeWrite();
  MaybeRead();
}

void BinaryConnection::Close() {
  if (closing_) return;
  closing_ = true;
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  for (const Outgoing& out : queued_) {
    if (out.request == nullptr) continue;
    in_flight_--;
    core_->pool.Give(out.request);
  }
  queued_.clear();
  core_->io_metrics.binary_connections--;
  listener_->Forget(id_);  // may drop the last owner but one: our caller holds `self`
}

bool BinaryConnection::CloseIfIdle(uint64_t now_ns) {
  const uint64_t idle_ns = uint64_t{core_->config.idle_timeout_ms} * 1'000'000;
  if (closing_ || in_flight_ > 0 || now_ns - last_activity_ns_ < idle_ns) return false;
  core_->io_metrics.idle_closed_total++;
  if (handshaking_) {  // no TLS session to tell it over
    Close();
    return true;
  }
  ReplyStatus(protocol::FrameStatus::kIdleTimeout, 0, /*then_close=*/true);
  if (!writing_) Close();
  return true;
}

BinaryListener::BinaryListener(Core* core, asio::ssl::context* tls)
    : core_(core), tls_(tls), acceptor_(core->io), sweep_timer_(core->io) {}

BinaryListener::~BinaryListener() { CloseAll(); }

Status BinaryListener::Listen(const std::string& host, uint16_t port, int bound_fd) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("bad listen address '" + host + "': " + ec.message());
  acceptor_.assign(tcp::endpoint(address, port).protocol(), bound_fd, ec);
  if (ec) return Status::IOError("listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void BinaryListener::Start() {
  Accept();
  Sweep();
}

void BinaryListener::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) {
      boost::system::error_code ignored;
      if (connections_.size() >= core_->config.connection_count_max || core_->stopping) {
        core_->io_metrics.binary_connections_refused++;
        socket.close(ignored);  // over the limit: the client sees the connection closed
      } else {
        socket.set_option(tcp::no_delay(true), ignored);
        const uint64_t id = next_id_++;
        net::Stream stream = tls_ != nullptr ? net::Stream(std::move(socket), *tls_)
                                             : net::Stream(std::move(socket));
        auto connection = std::make_shared<BinaryConnection>(core_, this, std::move(stream), id);
        connections_.emplace(id, connection);
        core_->io_metrics.binary_connections++;
        core_->io_metrics.binary_connections_total++;
        connection->Start();
      }
    }
    Accept();  // accept errors (e.g. EMFILE) are transient: keep accepting
  });
}

void BinaryListener::Sweep() {
  sweep_timer_.expires_after(kSweepPeriod);
  sweep_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    const uint64_t now_ns = MonotonicNs();
    std::vector<std::shared_ptr<BinaryConnection>> idle;
    for (auto& [id, connection] : connections_) idle.push_back(connection);
    for (auto& connection : idle) connection->CloseIfIdle(now_ns);
    Sweep();
  });
}

void BinaryListener::StopAccepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  sweep_timer_.cancel();
}

void BinaryListener::CloseAll() {
  StopAccepting();
  auto connections = connections_;  // Close() erases from the map
  for (auto& [id, connection] : connections) connection->Close();
  connections_.clear();
}

void BinaryListener::Forget(uint64_t connection_id) { connections_.erase(connection_id); }

}  // namespace eleven::server
