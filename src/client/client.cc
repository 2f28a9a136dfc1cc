#include "client/client.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/assert.h"
#include "client/keys.h"
#include "client/tls_stream.h"

namespace eleven::client {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kGatherCountMax = 64;
constexpr auto kTimeoutSweep = std::chrono::milliseconds(20);
// The authenticate frame's request id: requests count from 1, so a reply with 0 is its.
constexpr uint64_t kAuthRequestId = 0;

// host and port of "host:port" (the host may be a bracketed IPv6 address); false if it is not
// that shape.
bool SplitAddress(std::string_view address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) return false;
  std::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return true;
}

// The leader's address a not_leader reply names: its body when that is "host:port" in
// printable ASCII, else "" (no leader known, or a body the client cannot use).
std::string LeaderIn(std::span<const std::byte> body) {
  if (body.empty() || body.size() > protocol::kLeaderAddressSizeMax) return "";
  std::string address(reinterpret_cast<const char*>(body.data()), body.size());
  for (char c : address) {
    if (c <= ' ' || c > '~' || c == ',') return "";
  }
  std::string host, port;
  return SplitAddress(address, &host, &port) ? address : "";
}

// A node answering this stops serving: with several addresses the client goes to the next.
bool GoingAway(protocol::FrameStatus status) {
  return status == protocol::FrameStatus::kReplicaFailed ||
         status == protocol::FrameStatus::kShuttingDown;
}

std::string Joined(const std::vector<std::string>& addresses) {
  std::string joined;
  for (const std::string& address : addresses) joined += (joined.empty() ? "" : ",") + address;
  return joined;
}

Status Unauthenticated(const std::string& address) {
  return Status::FailedPrecondition("unauthenticated: the server at " + address +
                                    " refused the key (unknown, malformed or revoked)");
}

// The client's TLS context for `options` (tls_ca_file set): TLS 1.2 or later, the server
// verified against the CA file, and the client certificate if given.
Status MakeClientContext(const ClientOptions& options, std::unique_ptr<asio::ssl::context>* out) {
  namespace ssl = asio::ssl;
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  if (!ec) context->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Status::IOError("TLS options: " + ec.message());
  context->load_verify_file(options.tls_ca_file, ec);
  if (ec)
    return Status::InvalidArgument("tls_ca_file " + options.tls_ca_file + ": " + ec.message());
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument("tls_cert_file and tls_key_file go together");
  }
  if (!options.tls_cert_file.empty()) {
    context->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec)
      return Status::InvalidArgument("tls_cert_file " + options.tls_cert_file + ": " +
                                     ec.message());
    context->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec)
      return Status::InvalidArgument("tls_key_file " + options.tls_key_file + ": " + ec.message());
  }
  *out = std::move(context);
  return Status::Ok();
}

Status StatusForFrame(protocol::FrameStatus status) {
  const std::string name(protocol::FrameStatusName(status));
  switch (status) {
    case protocol::FrameStatus::kShuttingDown: return Status::Unavailable("server " + name);
    case protocol::FrameStatus::kReplicaFailed: return Status::IOError("server " + name);
    case protocol::FrameStatus::kUnauthenticated:
      return Status::FailedPrecondition("unauthenticated: the server refused the frame (no key, or the key was revoked)");
    default: return Status::InvalidArgument("server refused the frame: " + name);
  }
}

}  // namespace

struct EventLoop::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}

EventLoop::~EventLoop() {
  ELEVEN_ASSERT(impl_->thread.get_id() != std::this_thread::get_id());
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  struct Pending {
    protocol::Operation operation;
    uint32_t count = 0;
    std::vector<std::byte> frame;  // header + body, as sent (and re-sent)
    SubmitCallback on_submit;
    QueryCallback on_query;
    Clock::time_point deadline;
    bool writing = false;
    bool sent = false;     // on the wire of the current connection
    bool dead = false;     // timed out while being written: erased after the write
  };

  Impl(const ClientOptions& o, std::vector<std::string> nodes)
      : options(o),
        addresses(std::move(nodes)),
        loop(o.loop ? o.loop : std::make_shared<EventLoop>()),
        io(loop->impl_->io),
        stream(io),
        resolver(io),
        retry_timer(io),
        try_timer(io),
        linger_timer(io),
        sweep_timer(io),
        target(addresses.front()) {
    in.resize(protocol::kHeaderSize + options.reply_body_size_max);
    if (!options.key.empty()) {
      // authenticate: one record, the secret NUL-padded (docs/protocol.md, "Authentication").
      protocol::AuthenticateRecord record{};
      std::memcpy(record.secret, options.key.data(), std::min(options.key.size(), sizeof(record.secret)));
      const auto body = std::as_bytes(std::span(&record, 1));
      const protocol::FrameHeader h = protocol::MakeHeader(
          protocol::Operation::kAuthenticate, protocol::FrameStatus::kOk, kAuthRequestId, 1, body, 0);
      auth_frame.resize(sizeof(h) + body.size());
      std::memcpy(auth_frame.data(), &h, sizeof(h));
      std::memcpy(auth_frame.data() + sizeof(h), body.data(), body.size());
    }
  }
  // Owned by the Client and by its pending handlers; the last of them deletes it, and then
  // sets `freed` (if ~Client is waiting), once every member is gone.
  static std::shared_ptr<Impl> Make(const ClientOptions& options,
                                    std::vector<std::string> addresses) {
    return std::shared_ptr<Impl>(new Impl(options, std::move(addresses)), [](Impl* impl) {
      std::promise<void>* freed = impl->freed;
      delete impl;
      if (freed != nullptr) freed->set_value();
    });
  }

  // Any thread.
  void Enqueue(protocol::Operation operation, uint32_t count, std::span<const std::byte> body,
               SubmitCallback on_submit, QueryCallback on_query);
  void AddSingle(const wire::Command& command, CommandCallback callback);
  // I/O thread.
  void TakeIncoming();
  void Pump();
  void WriteSome();
  void OnWrite(const boost::system::error_code& error);
  void Read();
  void OnRead(const boost::system::error_code& error, size_t size);
  void OnReply(const protocol::FrameHeader& header, const std::byte* body);
  void Finish(uint64_t id, const Status& status, std::span<const std::byte> body);
  // The hunt for a node that serves (docs/protocol.md, "Failover"). Broken: the connection
  // (or the try under way) broke; the next address is tried (the same node first when the
  // connection had nothing in flight: an idle close). Moved: the node answered not_leader,
  // or (with several addresses) replica_failed or shutting_down; `leader`, or the next
  // address when it is empty, is tried. Both re-send everything unanswered there.
  void Broken(const std::string& why);
  void Moved(const std::string& leader, const std::string& why);
  // Closes the connection; what was sent on it goes again, in request-id order.
  void Drop();
  // The try at `target` failed (unreachable, closed, no answer): Connect gives up once every
  // address failed so in a row; otherwise the next address is tried.
  void TryFailed(const std::string& why);
  // The address after the last one taken from the list (the same one when there is one).
  void PickNext();
  // Waits reconnect_delay_ms (not before the hunt's first try), then tries `target`; fails
  // what waits once reconnect_attempts_max tries found no node that serves.
  void Reconnect();
  void StartTry();
  Status HuntFailed() const;
  void SweepTimeouts();
  void CutSingles();
  void FailAll(const Status& status);
  void FirstConnect(std::promise<Status>* done);
  // A new connection: authenticates first when there is a key, then writes what waits.
  void Connected();
  // The connection is ready (authenticated, if there is a key): the try is over; what waits
  // is written.
  void Ready();
  void Authenticate();
  void OnAuthenticated(const protocol::FrameHeader& header, const std::byte* body);
  // Settles Connect's wait (once) and stops its timer.
  void SettleFirst(const Status& status);
  // A new connection to `address` (host:port): resolves it, connects `stream` afresh, and
  // over TLS also shakes hands; `then` gets the first error (prefixed with what failed).
  void Open(const std::string& address,
            std::function<void(const boost::system::error_code&, const std::string& why)> then);
  void Shutdown();
  // ~Client (and a failed Connect): fails what waits, closes, and returns once no handler
  // holds the Impl any more.
  static void Release(std::shared_ptr<Impl> impl);

  const ClientOptions options;
  const std::vector<std::string> addresses;  // the nodes (host:port), 1..kAddressCountMax
  const std::shared_ptr<EventLoop> loop;  // never the last reference (see Release)
  asio::io_context& io;
  std::unique_ptr<asio::ssl::context> tls_context;  // set by Connect when options ask for TLS
  net::Stream stream;                               // TCP, or TLS over it (outlived by the context)
  tcp::resolver resolver;
  asio::steady_timer retry_timer;  // the pause before a try
  asio::steady_timer try_timer;    // a try's connect_timeout_ms
  asio::steady_timer linger_timer;
  asio::steady_timer sweep_timer;
  std::promise<void>* freed = nullptr;  // set by ~Client, which waits for it
  std::vector<std::byte> auth_frame;     // empty without a key
  // The authenticated key's id: every frame's client_id. Set before Connect returns (and
  // the same after each reconnect); read by Enqueue on any thread.
  std::atomic<uint64_t> client_id{0};

  // Shared with callers: guarded by mutex.
  mutable std::mutex mutex;
  std::vector<std::pair<uint64_t, Pending>> incoming;
  std::vector<wire::Command> singles;
  std::vector<CommandCallback> single_callbacks;
  bool pump_posted = false;
  bool closed = false;
  uint64_t next_id = 1;
  ClientStats stats;
  protocol::AuthenticatedRecord auth{};

  // I/O thread only.
  std::map<uint64_t, Pending> pending;  // by request id: ordered, so re-sends keep the order
  std::deque<uint64_t> unsent;          // ids to write, in order
  uint32_t on_wire = 0;                 // sent and not answered on this connection
  // The last frame read on this connection, or when on_wire last rose from 0: a node silent
  // since then for silent_node_ms is left (ClientOptions::silent_node_ms).
  Clock::time_point heard_at;
  std::vector<uint64_t> writing_ids;
  std::vector<asio::const_buffer> gather;
  bool writing = false;
  bool connected = false;
  bool reconnecting = false;
  bool authenticating = false;  // the authenticate frame is out; nothing else is written
  std::promise<Status>* first_connect = nullptr;  // Connect waits on it until settled
  bool shut = false;  // ~Client ran Shutdown: handlers still pending only let go
  // The hunt: tries since a node last served (answered a request with anything but
  // not_leader, or replica_failed with several addresses).
  uint32_t attempts = 0;
  std::string target;         // the node being tried or connected to
  size_t address_index = 0;   // addresses[address_index]: the last node taken from the list
  uint64_t try_serial = 0;    // bumps when a try ends: its late handlers ignore themselves
  std::string last_failure;   // why the last try failed or moved on, for HuntFailed
  size_t first_failures = 0;  // Connect: tries in a row whose node could not be reached
  std::string first_reasons;  // ... and why, for Connect's error
  bool key_refused = false;   // Connect: a node refused the key (with several addresses)
  bool idle_closed = false;   // the server said idle_timeout: its close is no failure
  std::vector<std::byte> in;
  size_t in_used = 0;
  uint64_t generation = 0;  // bumps on each reconnect: stale handlers ignore themselves
};

void Client::Impl::Enqueue(protocol::Operation operation, uint32_t count,
                           std::span<const std::byte> body, SubmitCallback on_submit,
                           QueryCallback on_query) {
  Pending p;
  p.operation = operation;
  p.count = count;
  p.on_submit = std::move(on_submit);
  p.on_query = std::move(on_query);
  p.deadline = Clock::now() + std::chrono::milliseconds(options.request_timeout_ms);
  p.frame.resize(protocol::kHeaderSize + body.size());
  if (!body.empty()) std::memcpy(p.frame.data() + protocol::kHeaderSize, body.data(), body.size());
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (closed) {
      // Fall through below to fail outside the lock.
    } else {
      const uint64_t id = next_id++;
      const protocol::FrameHeader h =
          protocol::MakeHeader(operation, protocol::FrameStatus::kOk, id, count, body,
                               client_id.load(std::memory_order_relaxed));
      std::memcpy(p.frame.data(), &h, sizeof(h));
      incoming.emplace_back(id, std::move(p));
      post = !pump_posted;
      pump_posted = true;
      if (post) asio::post(io, [this, self = shared_from_this()] { TakeIncoming(); Pump(); });
      return;
    }
  }
  const Status closed_status = Status::Unavailable("client closed");
  if (p.on_submit) p.on_submit(closed_status, {});
  if (p.on_query) p.on_query(closed_status, {});
}

void Client::Impl::TakeIncoming() {
  std::vector<std::pair<uint64_t, Pending>> taken;
  {
    std::lock_guard<std::mutex> lock(mutex);
    taken.swap(incoming);
    pump_posted = false;
  }
  for (auto& [id, p] : taken) {
    pending.emplace(id, std::move(p));
    unsent.push_back(id);
  }
}

void Client::Impl::AddSingle(const wire::Command& command, CommandCallback callback) {
  bool start_linger = false;
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    singles.push_back(command);
    single_callbacks.push_back(std::move(callback));
    start_linger = singles.size() == 1;
    full = singles.size() >= options.batch_command_count_max;
  }
  if (full) {
    asio::post(io, [this, self = shared_from_this()] { CutSingles(); });
  } else if (start_linger) {
    asio::post(io, [this, self = shared_from_this()] {
      if (shut) return;
      linger_timer.expires_after(std::chrono::microseconds(options.linger_us));
      linger_timer.async_wait([this, self](const boost::system::error_code& error) {
        if (!error) CutSingles();
      });
    });
  }
}

// Turns the singles added so far into one submit request.
void Client::Impl::CutSingles() {
  std::vector<wire::Command> commands;
  std::vector<CommandCallback> callbacks;
  {
    std::lock_guard<std::mutex> lock(mutex);
    commands.swap(singles);
    callbacks.swap(single_callbacks);
  }
  while (!commands.empty()) {
    const size_t count = std::min<size_t>(commands.size(), options.batch_command_count_max);
    auto shared = std::make_shared<std::vector<CommandCallback>>(
        std::make_move_iterator(callbacks.begin()), std::make_move_iterator(callbacks.begin() + count));
    Enqueue(protocol::Operation::kSubmit, static_cast<uint32_t>(count),
            std::as_bytes(std::span(commands.data(), count)),
            [shared](const Status& status, std::span<const wire::Result> results) {
              for (size_t i = 0; i < shared->size(); i++) {
                (*shared)[i](status, status.ok() ? results[i] : wire::Result{});
              }
            },
            nullptr);
    commands.erase(commands.begin(), commands.begin() + count);
    callbacks.erase(callbacks.begin(), callbacks.begin() + count);
  }
}

void Client::Impl::Pump() {
  if (shut) return;
  if (!connected) {
    if (!reconnecting && !unsent.empty()) Reconnect();
    return;
  }
  WriteSome();
}

void Client::Impl::WriteSome() {
  if (writing || !connected || authenticating) return;
  writing_ids.clear();
  gather.clear();
  while (!unsent.empty() && gather.size() < kGatherCountMax &&
         on_wire < options.requests_in_flight_max) {
    const uint64_t id = unsent.front();
    unsent.pop_front();
    auto it = pending.find(id);
    if (it == pending.end() || it->second.sent) continue;  // finished (timed out) meanwhile
    it->second.writing = true;
    it->second.sent = true;
    if (on_wire == 0) heard_at = Clock::now();
    on_wire++;
    writing_ids.push_back(id);
    gather.emplace_back(it->second.frame.data(), it->second.frame.size());
  }
  if (gather.empty()) return;
  writing = true;
  {
    std::lock_guard<std::mutex> lock(mutex);
    stats.requests_sent += gather.size();
  }
  asio::async_write(stream, gather,
                    [this, self = shared_from_this(), g = generation](
                        const boost::system::error_code& error, size_t) {
                      OnWrite(g == generation ? error : boost::system::error_code());
                    });
}

void Client::Impl::OnWrite(const boost::system::error_code& error) {
  writing = false;
  for (uint64_t id : writing_ids) {
    auto it = pending.find(id);
    if (it == pending.end()) continue;
    it->second.writing = false;
    if (it->second.dead) pending.erase(it);
  }
  writing_ids.clear();
  if (error) {
    Broken("write: " + error.message());
    return;
  }
  WriteSome();
}

void Client::Impl::Read() {
  stream.async_read_some(asio::buffer(in.data() + in_used, in.size() - in_used),
                         [this, self = shared_from_this(), g = generation](
                             const boost::system::error_code& error, size_t size) {
                           if (g != generation) return;  // a handler of a closed connection
                           OnRead(error, size);
                         });
}

void Client::Impl::OnRead(const boost::system::error_code& error, size_t size) {
  if (error) {
    Broken("read: " + error.message());
    return;
  }
  in_used += size;
  heard_at = Clock::now();
  size_t at = 0;
  const uint64_t read_generation = generation;
  for (;;) {
    protocol::FrameHeader header;
    const auto parsed = protocol::ParseReply(std::span(in.data() + at, in_used - at),
                                             options.reply_body_size_max, &header);
    if (parsed.state == protocol::ParseState::kNeedMore) break;
    if (parsed.state == protocol::ParseState::kError) {
      Broken(std::string("bad reply frame: ") + std::string(protocol::FrameStatusName(parsed.error)));
      return;
    }
    OnReply(header, in.data() + at + protocol::kHeaderSize);
    // The reply closed this connection (not_leader, a refused key): the rest of what was
    // read belongs to it, and a new connection reads into `in` afresh.
    if (generation != read_generation) return;
    at += parsed.frame_size;
  }
  std::memmove(in.data(), in.data() + at, in_used - at);
  in_used -= at;
  Read();
  WriteSome();
}

void Client::Impl::OnReply(const protocol::FrameHeader& h, const std::byte* body) {
  auto it = pending.find(h.request_id);
  if (h.status == protocol::FrameStatus::kIdleTimeout) {  // the server closes next
    idle_closed = true;
    return;
  }
  if (h.request_id == kAuthRequestId && authenticating) return OnAuthenticated(h, body);
  // Not the node that serves (whatever the request, even one timed out already): everything
  // unanswered goes to the leader it names, or to the next address.
  if (h.status == protocol::FrameStatus::kNotLeader) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stats.redirects++;
    }
    return Moved(LeaderIn(std::span(body, h.body_size)), "not_leader");
  }
  if (GoingAway(h.status) && addresses.size() > 1) {
    // The node is going away: another one takes over (nothing was applied for a
    // shutting_down; a replica_failed request's entry may be in the log: its resend replays).
    return Moved("", std::string(protocol::FrameStatusName(h.status)));
  }
  if (it == pending.end()) return;  // timed out already, or a status reply without an id
  attempts = 0;                     // a node serves: the next hunt starts afresh
  if (on_wire > 0) on_wire--;
  // Busy, or over the key's rate limit: the connection stays; the request goes again later.
  if (h.status == protocol::FrameStatus::kBusy || h.status == protocol::FrameStatus::kRateLimited) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stats.busy_replies++;
    }
    it->second.sent = false;
    const uint64_t id = h.request_id;
    auto timer = std::make_shared<asio::steady_timer>(io);
    timer->expires_after(std::chrono::milliseconds(options.busy_retry_delay_ms));
    timer->async_wait([this, self = shared_from_this(), id,
                       timer](const boost::system::error_code&) {
      if (shut) return;
      unsent.push_front(id);
      Pump();
    });
    return;
  }
  const Status status = h.status == protocol::FrameStatus::kOk ? Status::Ok() : StatusForFrame(h.status);
  Finish(h.request_id, status, std::span(body, h.body_size));
}

void Client::Impl::Finish(uint64_t id, const Status& status, std::span<const std::byte> body) {
  auto it = pending.find(id);
  ELEVEN_ASSERT(it != pending.end());
  SubmitCallback on_submit = std::move(it->second.on_submit);
  QueryCallback on_query = std::move(it->second.on_query);
  const uint32_t count = it->second.count;
  if (it->second.writing) {
    it->second.dead = true;  // its frame is being written: erase after the write
  } else {
    pending.erase(it);
  }
  if (on_submit) {
    if (status.ok()) {
      ELEVEN_ASSERT(body.size() == size_t{count} * wire::kResultSize);
      on_submit(status, std::span(reinterpret_cast<const wire::Result*>(body.data()), count));
    } else {
      on_submit(status, {});
    }
  }
  if (on_query) on_query(status, status.ok() ? body : std::span<const std::byte>{});
}

void Client::Impl::Broken(const std::string& why) {
  if (shut || (!connected && reconnecting)) return;
  // Closed with nothing in flight (the node said idle_timeout, or its frame was lost in the
  // close): the node is most likely still there and still the one, so it is tried again
  // first; if it is gone, that try fails and the next address follows.
  const bool idle = idle_closed || (on_wire == 0 && unsent.empty() && !authenticating);
  Drop();
  if (idle && first_connect == nullptr) {
    last_failure = target + ": closed with nothing in flight";
    // Not at once: a node that closes every connection it takes must not be hammered.
    attempts = std::max<uint32_t>(attempts, 1);
    Reconnect();
    return;
  }
  TryFailed(first_connect != nullptr ? "the server closed the connection (" + why + ")" : why);
}

void Client::Impl::Moved(const std::string& leader, const std::string& why) {
  if (shut) return;
  Drop();
  try_serial++;
  try_timer.cancel();
  last_failure = target + " answered " + why;
  if (leader.empty()) {
    PickNext();
  } else {
    target = leader;  // even one outside the list: the cluster knows its members
  }
  Reconnect();
}

void Client::Impl::Drop() {
  connected = false;
  idle_closed = false;
  authenticating = false;
  generation++;
  boost::system::error_code ignored;
  stream.socket().close(ignored);
  in_used = 0;
  on_wire = 0;
  unsent.clear();
  for (auto& [id, p] : pending) {
    p.sent = false;
    if (!p.dead) unsent.push_back(id);
  }
}

void Client::Impl::TryFailed(const std::string& why) {
  try_serial++;
  try_timer.cancel();
  last_failure = target + ": " + why;
  if (first_connect != nullptr) {
    first_reasons += (first_reasons.empty() ? "" : "; ") + last_failure;
    first_failures++;
    if (first_failures >= addresses.size()) {
      SettleFirst(key_refused ? Status::FailedPrecondition(
                                    "unauthenticated: no node accepted the key: " + first_reasons)
                              : Status::Unavailable("connect to " + first_reasons));
      return;
    }
  }
  PickNext();
  Reconnect();
}

void Client::Impl::PickNext() {
  ELEVEN_ASSERT(!addresses.empty() && address_index < addresses.size());
  address_index = (address_index + 1) % addresses.size();
  target = addresses[address_index];
}

Status Client::Impl::HuntFailed() const {
  if (addresses.size() == 1 && stats.redirects == 0) {
    return Status::Unavailable("cannot reconnect to " + last_failure);
  }
  return Status::Unavailable("no node of " + Joined(addresses) +
                             " serves: " + std::to_string(options.reconnect_attempts_max) +
                             " tries, the last " + last_failure);
}

void Client::Impl::Reconnect() {
  if (shut) return;
  reconnecting = true;
  if (attempts >= options.reconnect_attempts_max) {
    reconnecting = false;
    attempts = 0;
    Status failed;
    {
      std::lock_guard<std::mutex> lock(mutex);
      failed = HuntFailed();
    }
    if (first_connect != nullptr) {
      SettleFirst(failed);
    } else {
      FailAll(failed);
    }
    return;
  }
  const auto delay = std::chrono::milliseconds(attempts == 0 ? 0 : options.reconnect_delay_ms);
  attempts++;
  retry_timer.expires_after(delay);
  retry_timer.async_wait([this, self = shared_from_this()](const boost::system::error_code& error) {
    if (error || shut) return;
    StartTry();
  });
}

// One try at `target`: ends in Connected (then the authenticate reply, if any), or in
// TryFailed (no connection, or no answer within connect_timeout_ms).
void Client::Impl::StartTry() {
  const uint64_t serial = ++try_serial;
  try_timer.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
  try_timer.async_wait(
      [this, self = shared_from_this(), serial](const boost::system::error_code& error) {
        if (error || shut || serial != try_serial) return;
        if (connected) Drop();  // connected, its authenticate unanswered
        boost::system::error_code ignored;
        stream.socket().close(ignored);
        TryFailed("no answer within " + std::to_string(options.connect_timeout_ms) + " ms");
      });
  Open(target, [this, self = shared_from_this(), serial](const boost::system::error_code& error,
                                                         const std::string& why) {
    if (shut || serial != try_serial) return;
    if (error) {
      TryFailed(why + error.message());
      return;
    }
    if (first_connect == nullptr) {
      std::lock_guard<std::mutex> lock(mutex);
      stats.reconnects++;
      stats.resends += unsent.size();
    }
    connected = true;
    reconnecting = false;
    Read();
    Connected();
  });
}

void Client::Impl::FailAll(const Status& status) {
  std::vector<uint64_t> ids;
  for (auto& [id, p] : pending) {
    if (!p.dead) ids.push_back(id);
  }
  unsent.clear();
  for (uint64_t id : ids) Finish(id, status, {});
}

void Client::Impl::SweepTimeouts() {
  sweep_timer.expires_after(kTimeoutSweep);
  sweep_timer.async_wait([this, self = shared_from_this()](const boost::system::error_code& error) {
    if (error || shut) return;
    const auto now = Clock::now();
    std::vector<uint64_t> expired;
    for (auto& [id, p] : pending) {
      if (!p.dead && p.deadline <= now) expired.push_back(id);
    }
    for (uint64_t id : expired) {
      if (pending[id].sent && on_wire > 0) on_wire--;
      {
        std::lock_guard<std::mutex> lock(mutex);
        stats.timeouts++;
      }
      Finish(id, Status::Unavailable("no reply within " + std::to_string(options.request_timeout_ms) + " ms"), {});
    }
    if (addresses.size() > 1 && options.silent_node_ms > 0 && connected && on_wire > 0 &&
        now - heard_at > std::chrono::milliseconds(options.silent_node_ms)) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        stats.silent_nodes++;
      }
      Moved("", "nothing for " + std::to_string(options.silent_node_ms) + " ms");
    }
    SweepTimeouts();
  });
}

void Client::Impl::Open(
    const std::string& address,
    std::function<void(const boost::system::error_code&, const std::string&)> then) {
  // The old connection's cancelled operations may still wait in the queue, and a TLS one's
  // refer to its stream: it is kept until they have run.
  auto old = std::make_shared<net::Stream>(std::move(stream));
  asio::post(io, [old] {});
  stream = tls_context ? net::Stream(io, *tls_context) : net::Stream(io);
  std::string host, port;
  if (!SplitAddress(address, &host, &port)) {
    return asio::post(io, [then = std::move(then)] {
      then(asio::error::make_error_code(asio::error::invalid_argument), "not host:port: ");
    });
  }
  // What the server's certificate must name (a DNS name or an address), and SNI.
  const std::string server_name = options.tls_server_name.empty() ? host : options.tls_server_name;
  // A step that finds its try over (timed out) stops there: `stream` is another try's.
  const uint64_t serial = try_serial;
  resolver.async_resolve(
      host, port,
      [this, self = shared_from_this(), then = std::move(then), server_name, serial](
          const boost::system::error_code& resolve_error,
          const tcp::resolver::results_type& endpoints) mutable {
        if (shut || serial != try_serial) return;
        if (resolve_error) return then(resolve_error, "resolve: ");
        if (endpoints.empty())
          return then(asio::error::make_error_code(asio::error::host_not_found), "resolve: ");
        stream.socket().async_connect(
            *endpoints.begin(), [this, self, then = std::move(then), server_name,
                                 serial](const boost::system::error_code& error) {
              if (shut || serial != try_serial) return;
              if (error) return then(error, "");
              boost::system::error_code ignored;
              stream.socket().set_option(tcp::no_delay(true), ignored);
              if (!stream.is_tls()) return then(error, "");
              SSL_set_tlsext_host_name(stream.tls().native_handle(), server_name.c_str());
              stream.tls().set_verify_callback(asio::ssl::host_name_verification(server_name),
                                               ignored);
              stream.tls().async_handshake(
                  asio::ssl::stream_base::client,
                  [self, then](const boost::system::error_code& handshake_error) {
                    then(handshake_error, handshake_error ? "TLS handshake: " : "");
                  });
            });
      });
}

void Client::Impl::FirstConnect(std::promise<Status>* done) {
  // Tries the addresses in turn (each for up to connect_timeout_ms), following not_leader
  // answers to authenticate, until one serves: SettleFirst settles `done` once.
  first_connect = done;
  attempts = 1;
  SweepTimeouts();
  StartTry();
}

void Client::Impl::SettleFirst(const Status& status) {
  if (first_connect == nullptr) return;
  std::promise<Status>* done = first_connect;
  first_connect = nullptr;
  retry_timer.cancel();
  try_timer.cancel();
  done->set_value(status);
}

void Client::Impl::Connected() {
  if (auth_frame.empty()) {
    Ready();
    return;
  }
  Authenticate();
}

void Client::Impl::Ready() {
  try_serial++;  // the try ended well: its timer does nothing
  try_timer.cancel();
  if (unsent.empty()) attempts = 0;  // nothing to ask the node: it is taken as it is
  SettleFirst(Status::Ok());
  WriteSome();
}

// Writes the authenticate frame alone; OnAuthenticated lets the rest go once it is answered.
void Client::Impl::Authenticate() {
  // `writing` is left alone: it may belong to a write on the previous connection's socket,
  // and WriteSome waits for `authenticating` anyway.
  ELEVEN_ASSERT(connected && !auth_frame.empty());
  authenticating = true;
  asio::async_write(stream, asio::buffer(auth_frame),
                    [this, self = shared_from_this(), g = generation](const boost::system::error_code& error,
                                                                      size_t) {
                      if (g == generation && error) Broken("write: " + error.message());
                    });
}

void Client::Impl::OnAuthenticated(const protocol::FrameHeader& h, const std::byte* body) {
  if (h.status == protocol::FrameStatus::kBusy) {  // the server is full: ask again shortly
    auto timer = std::make_shared<asio::steady_timer>(io);
    timer->expires_after(std::chrono::milliseconds(options.busy_retry_delay_ms));
    timer->async_wait([this, self = shared_from_this(), timer, g = generation](const boost::system::error_code&) {
      if (!shut && g == generation && connected) Authenticate();
    });
    return;
  }
  if (h.status == protocol::FrameStatus::kNotLeader) {  // a node that answers nothing
    {
      std::lock_guard<std::mutex> lock(mutex);
      stats.redirects++;
    }
    return Moved(LeaderIn(std::span(body, h.body_size)), "not_leader");
  }
  if (GoingAway(h.status) && addresses.size() > 1) {
    return Moved("", std::string(protocol::FrameStatusName(h.status)));
  }
  constexpr protocol::Operation kOp = protocol::Operation::kAuthenticate;
  wire::Code code = wire::Code::unauthenticated;
  protocol::AuthenticatedRecord record{};
  if (h.status == protocol::FrameStatus::kOk && h.operation == kOp && h.record_count == 1 &&
      h.body_size == protocol::ReplyRecordSize(kOp)) {
    std::memcpy(&code, body, sizeof(code));
    std::memcpy(&record, body + protocol::kQueryEntryHeadSize, sizeof(record));
  }
  const uint64_t known = client_id.load(std::memory_order_relaxed);
  if (code != wire::Code::ok || record.key_id == 0 || (known != 0 && record.key_id != known)) {
    if (first_connect != nullptr && addresses.size() > 1) {
      // Connect: perhaps a node that has not applied the key's creation yet; the next one
      // may know it. Connect says unauthenticated if none did.
      key_refused = true;
      Drop();
      TryFailed("refused the key (unknown, malformed or revoked)");
      return;
    }
    // Refused: what waits fails, and nothing reconnects until a new request comes.
    const Status refused = Unauthenticated(target);
    Drop();
    try_serial++;
    try_timer.cancel();
    SettleFirst(refused);
    FailAll(refused);
    return;
  }
  client_id.store(record.key_id, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auth = record;
  }
  authenticating = false;
  Ready();
}

void Client::Impl::Shutdown() {
  shut = true;
  CutSingles();  // Enqueue finds `closed`: their callbacks fail here
  TakeIncoming();
  FailAll(Status::Unavailable("client closed"));
  boost::system::error_code ignored;
  stream.socket().close(ignored);
  retry_timer.cancel();
  try_timer.cancel();
  linger_timer.cancel();
  sweep_timer.cancel();
  resolver.cancel();
}

void Client::Impl::Release(std::shared_ptr<Impl> impl) {
  {
    std::lock_guard<std::mutex> lock(impl->mutex);
    impl->closed = true;
  }
  // Held until the Impl is gone, so that an own loop is joined here, not on its thread.
  const std::shared_ptr<EventLoop> loop = impl->loop;
  std::promise<void> freed;
  impl->freed = &freed;
  asio::io_context& io = impl->io;
  asio::post(io, [impl = std::move(impl)] { impl->Shutdown(); });
  freed.get_future().wait();
}

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Status ParseAddresses(const std::string& list, std::vector<std::string>* addresses) {
  ELEVEN_ASSERT(addresses != nullptr);
  std::vector<std::string> parsed;
  for (size_t from = 0;;) {
    const size_t comma = list.find(',', from);
    parsed.push_back(list.substr(from, comma == std::string::npos ? comma : comma - from));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  ELEVEN_RETURN_IF_ERROR(CheckAddresses(parsed));
  *addresses = std::move(parsed);
  return Status::Ok();
}

Status CheckAddresses(const std::vector<std::string>& addresses) {
  if (addresses.empty() || addresses.size() > kAddressCountMax) {
    return Status::InvalidArgument("1 to " + std::to_string(kAddressCountMax) + " addresses, not " +
                                   std::to_string(addresses.size()));
  }
  std::string host, port;
  for (const std::string& address : addresses) {
    if (!SplitAddress(address, &host, &port)) {
      return Status::InvalidArgument("address must be host:port: \"" + address + "\"");
    }
  }
  return Status::Ok();
}

Status Client::Connect(const ClientOptions& options, std::unique_ptr<Client>* client) {
  std::vector<std::string> addresses = options.addresses;
  if (addresses.empty()) {
    ELEVEN_RETURN_IF_ERROR(ParseAddresses(options.address, &addresses));
  } else {
    ELEVEN_RETURN_IF_ERROR(CheckAddresses(addresses));
  }
  if (addresses.size() == 1) {
    // One node: a name that does not resolve is a mistake. With several, it is one node
    // the hunt cannot reach (tried again later, perhaps resolving then).
    std::string host, port;
    const bool split = SplitAddress(addresses.front(), &host, &port);
    ELEVEN_ASSERT(split);  // checked above
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (ec || endpoints.empty()) {
      return Status::InvalidArgument("cannot resolve " + addresses.front() + ": " + ec.message());
    }
  }
  std::shared_ptr<Impl> impl = Impl::Make(options, std::move(addresses));
  if (!options.tls_ca_file.empty()) {
    const Status tls = MakeClientContext(options, &impl->tls_context);
    if (!tls.ok()) {
      Impl::Release(std::move(impl));
      return tls;
    }
  }
  std::promise<Status> connected;
  asio::post(impl->io, [impl, &connected] { impl->FirstConnect(&connected); });
  const Status status = connected.get_future().get();
  if (!status.ok()) {
    Impl::Release(std::move(impl));
    return status;
  }
  client->reset(new Client(std::move(impl)));
  return Status::Ok();
}

Client::~Client() { Impl::Release(std::move(impl_)); }

void Client::Submit(std::span<const wire::Command> commands, SubmitCallback callback) {
  if (commands.empty() || commands.size() > impl_->options.batch_command_count_max) {
    callback(Status::InvalidArgument("a batch holds 1 to " +
                                     std::to_string(impl_->options.batch_command_count_max) +
                                     " commands"),
             {});
    return;
  }
  impl_->Enqueue(protocol::Operation::kSubmit, static_cast<uint32_t>(commands.size()),
                 std::as_bytes(commands), std::move(callback), nullptr);
}

std::future<SubmitOutcome> Client::Submit(std::span<const wire::Command> commands) {
  auto promise = std::make_shared<std::promise<SubmitOutcome>>();
  auto future = promise->get_future();
  Submit(commands, [promise](const Status& status, std::span<const wire::Result> results) {
    promise->set_value(SubmitOutcome{status, std::vector<wire::Result>(results.begin(), results.end())});
  });
  return future;
}

void Client::Add(const wire::Command& command, CommandCallback callback) {
  impl_->AddSingle(command, std::move(callback));
}

void Client::Query(protocol::Operation operation, std::span<const uint64_t> keys,
                   QueryCallback callback) {
  const protocol::QueryShape shape = protocol::ShapeOf(operation);
  const size_t words = protocol::RequestRecordSize(operation) / sizeof(uint64_t);
  const size_t count = words == 0 ? (operation == protocol::Operation::kPing ? 0 : 1) : keys.size() / words;
  const bool keys_ok = words == 0 ? keys.empty()
                                  : keys.size() % words == 0 && count >= 1 &&
                                        count <= (shape == protocol::QueryShape::kByKey ? 1024 : 1);
  if (operation == protocol::Operation::kSubmit || !keys_ok) {
    callback(Status::InvalidArgument("a query holds 1 to 1024 keys (a list query and set_clock one; "
                                     "a ping or keyless query none)"),
             {});
    return;
  }
  impl_->Enqueue(operation, static_cast<uint32_t>(count), std::as_bytes(keys), nullptr,
                 std::move(callback));
}

Status Client::SubmitSync(std::span<const wire::Command> commands, std::vector<wire::Result>* results) {
  SubmitOutcome outcome = Submit(commands).get();
  if (results != nullptr) *results = std::move(outcome.results);
  return outcome.status;
}

Status Client::QuerySync(protocol::Operation operation, std::span<const uint64_t> key,
                         wire::Code* code, void* record, size_t record_size) {
  std::promise<Status> promise;
  Query(operation, key, [&](const Status& status, std::span<const std::byte> entries) {
    if (status.ok()) {
      ELEVEN_ASSERT(entries.size() == protocol::kQueryEntryHeadSize + record_size);
      std::memcpy(code, entries.data(), sizeof(*code));
      std::memcpy(record, entries.data() + protocol::kQueryEntryHeadSize, record_size);
    }
    promise.set_value(status);
  });
  return promise.get_future().get();
}

template <typename Record>
Status Client::QueryListSync(protocol::Operation operation, std::span<const uint64_t> key,
                             wire::Code* code, std::vector<Record>* records) {
  ELEVEN_ASSERT(protocol::QueryRecordSize(operation) == sizeof(Record));
  constexpr size_t kEntrySize = protocol::kQueryEntryHeadSize + sizeof(Record);
  std::promise<Status> promise;
  Query(operation, key, [&](const Status& status, std::span<const std::byte> entries) {
    *code = wire::Code::ok;
    for (size_t at = 0; status.ok() && at < entries.size(); at += kEntrySize) {
      std::memcpy(code, entries.data() + at, sizeof(*code));
      if (*code != wire::Code::ok) break;  // a refusal is the only entry
      Record& record = records->emplace_back();
      std::memcpy(&record, entries.data() + at + protocol::kQueryEntryHeadSize, sizeof(Record));
    }
    promise.set_value(status);
  });
  return promise.get_future().get();
}

#define ELEVEN_GET_BY_ID(Method, op, Record)                                   \
  Status Client::Method(uint64_t id, wire::Code* code, Record* record) {              \
    return QuerySync(protocol::Operation::op, std::span(&id, 1), code, record, \
                     sizeof(*record));                                                \
  }
ELEVEN_GET_BY_ID(GetOrder, kGetOrder, wire::OrderRecord)
ELEVEN_GET_BY_ID(GetOrderByKey, kGetOrderByKey, wire::OrderRecord)
ELEVEN_GET_BY_ID(GetSku, kGetSku, wire::SkuRecord)
ELEVEN_GET_BY_ID(GetDrop, kGetDrop, wire::DropRecord)
ELEVEN_GET_BY_ID(GetAccount, kGetAccount, wire::AccountRecord)
ELEVEN_GET_BY_ID(GetTransfer, kGetTransfer, wire::TransferRecord)
ELEVEN_GET_BY_ID(GetOrderMoney, kGetOrderMoney, wire::OrderMoneyRecord)
ELEVEN_GET_BY_ID(GetPlan, kGetPlan, wire::PlanRecord)
ELEVEN_GET_BY_ID(GetMerchantCredit, kGetMerchantCredit, wire::MerchantCreditRecord)
ELEVEN_GET_BY_ID(GetBuyerCredit, kGetBuyerCredit, wire::BuyerCreditRecord)
ELEVEN_GET_BY_ID(GetParcel, kGetParcel, wire::ParcelRecord)
ELEVEN_GET_BY_ID(GetShipment, kGetShipment, wire::ShipmentRecord)
ELEVEN_GET_BY_ID(GetMerchant, kGetMerchant, wire::MerchantRecord)
ELEVEN_GET_BY_ID(GetWarehouse, kGetWarehouse, wire::WarehouseRecord)
ELEVEN_GET_BY_ID(GetCourier, kGetCourier, wire::CourierRecord)
ELEVEN_GET_BY_ID(GetCoupon, kGetCoupon, wire::CouponRecord)
ELEVEN_GET_BY_ID(GetPresale, kGetPresale, wire::PresaleRecord)
#undef ELEVEN_GET_BY_ID

Status Client::GetAccountTransfers(uint64_t account_id, uint8_t flags, uint32_t limit,
                                   wire::Code* code, std::vector<wire::TransferRecord>* transfers,
                                   uint64_t after_transfer_id) {
  protocol::AccountTransfersQuery query{};
  query.account_id = account_id;
  query.flags = flags;
  query.limit = limit;
  query.after_transfer_id = after_transfer_id;
  uint64_t key[3];
  static_assert(sizeof(key) == sizeof(query));
  std::memcpy(key, &query, sizeof(key));
  return QueryListSync(protocol::Operation::kGetAccountTransfers, key, code, transfers);
}

Status Client::GetTimeline(uint64_t waybill, wire::Code* code, std::vector<wire::TimelineEntry>* events) {
  return QueryListSync(protocol::Operation::kGetTimeline, std::span(&waybill, 1), code, events);
}

Status Client::GetSales(uint32_t drop_limit, wire::Code* code, std::vector<wire::SalesRecord>* sales) {
  wire::SalesQuery query{};
  query.drop_limit = drop_limit;
  uint64_t key;
  std::memcpy(&key, &query, sizeof(key));
  return QueryListSync(protocol::Operation::kGetSales, std::span(&key, 1), code, sales);
}

Status Client::GetFigures(wire::Code* code, wire::FiguresRecord* record) {
  return QuerySync(protocol::Operation::kGetFigures, {}, code, record, sizeof(*record));
}

#define ELEVEN_GET_BY_PAIR(Method, op, Record)                                   \
  Status Client::Method(uint64_t id, uint64_t key, wire::Code* code, Record* record) { \
    const uint64_t pair[2] = {id, key};                                                \
    return QuerySync(protocol::Operation::op, pair, code, record, sizeof(*record)); \
  }
ELEVEN_GET_BY_PAIR(GetWarehouseStock, kGetWarehouseStock, protocol::WarehouseStockRecord)
ELEVEN_GET_BY_PAIR(GetWarehouseHour, kGetWarehouseHour, wire::HourFigure)
ELEVEN_GET_BY_PAIR(GetCourierHour, kGetCourierHour, wire::HourFigure)
ELEVEN_GET_BY_PAIR(GetCouponClaim, kGetCouponClaim, wire::CouponClaimRecord)
ELEVEN_GET_BY_PAIR(GetDeposit, kGetDeposit, wire::DepositRecord)
#undef ELEVEN_GET_BY_PAIR

Status Client::KeylessSync(protocol::Operation operation, void* record, size_t record_size) {
  ELEVEN_ASSERT(protocol::ShapeOf(operation) == protocol::QueryShape::kKeyless);
  wire::Code code = wire::Code::ok;
  const Status status = QuerySync(operation, {}, &code, record, record_size);
  ELEVEN_ASSERT(!status.ok() || code == wire::Code::ok);  // these records are always there
  return status;
}

Status Client::GetDigest(protocol::DigestRecord* record) {
  return KeylessSync(protocol::Operation::kGetDigest, record, sizeof(*record));
}

Status Client::GetStats(wire::StatsRecord* record) {
  return KeylessSync(protocol::Operation::kGetStats, record, sizeof(*record));
}

Status Client::GetLimits(wire::LimitsRecord* record) {
  return KeylessSync(protocol::Operation::kGetLimits, record, sizeof(*record));
}

Status Client::SetClock(uint64_t log_time_us, wire::Code* code, protocol::ClockRecord* record) {
  return QuerySync(protocol::Operation::kSetClock, std::span(&log_time_us, 1), code, record, sizeof(*record));
}

Status Client::Ping() {
  std::promise<Status> promise;
  Query(protocol::Operation::kPing, {}, [&](const Status& status, std::span<const std::byte>) {
    promise.set_value(status);
  });
  return promise.get_future().get();
}

Status Client::CreateKey(wire::Role role, uint64_t scope_id, wire::Code* code, uint64_t* key_id,
                         std::string* secret) {
  ELEVEN_ASSERT(code != nullptr && key_id != nullptr && secret != nullptr);
  const std::string made = NewKeySecret();
  const wire::Command command = MakeCreateKey(role, scope_id, made);
  std::vector<wire::Result> results;
  ELEVEN_RETURN_IF_ERROR(SubmitSync(std::span(&command, 1), &results));
  ELEVEN_ASSERT(results.size() == 1);
  *code = results[0].code;
  *key_id = results[0].code == wire::Code::ok ? results[0].id : 0;
  if (results[0].code == wire::Code::ok) *secret = made;
  return Status::Ok();
}

Status Client::RevokeKey(uint64_t key_id, wire::Code* code) {
  const wire::Command command = MakeRevokeKey(key_id);
  std::vector<wire::Result> results;
  ELEVEN_RETURN_IF_ERROR(SubmitSync(std::span(&command, 1), &results));
  ELEVEN_ASSERT(results.size() == 1);
  *code = results[0].code;
  return Status::Ok();
}

Status Client::GetKey(uint64_t key_id, wire::Code* code, wire::KeyRecord* record) {
  return QuerySync(protocol::Operation::kGetKey, std::span(&key_id, 1), code, record, sizeof(*record));
}

protocol::AuthenticatedRecord Client::authenticated() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->auth;
}

ClientStats Client::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace eleven::client
