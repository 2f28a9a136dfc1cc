#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <utility>

#include "base/assert.h"
#include "cluster/node.h"
#include "server/binary_server.h"
#include "server/core.h"
#include "server/engine_loop.h"
#include "server/http_server.h"
#include "server/tls.h"
#include "storage/env.h"

namespace eleven::server {

namespace {

// A socket bound to `address` and listening, closed unless a listener takes it over.
struct BoundSocket {
  int fd = -1;
  ~BoundSocket() {
    if (fd >= 0) close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

// Binds and listens on `address` now, so that an address in use (or not this machine's)
// stops the start at once, before the data directory is opened and its tables allocated.
Status BindEarly(const char* what, const std::string& address, BoundSocket* socket_out) {
  std::string host;
  uint16_t port = 0;
  ELEVEN_RETURN_IF_ERROR(ParseHostPort(address, &host, &port));
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument(std::string("bad ") + what + " address '" + host + "': " + ec.message());
  const asio::ip::tcp::endpoint endpoint(ip, port);
  const int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string(what) + " socket: " + std::strerror(errno));
  socket_out->fd = fd;
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::bind(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0 || ::listen(fd, 4096) != 0) {
    const int error = errno;
    return Status::IOError(std::string(what) + " listen on " + address + ": " + std::strerror(error) +
                           (error == EADDRINUSE ? " (another process listens there; nothing was opened)" : ""));
  }
  return Status::Ok();
}

}  // namespace

// Watches the engine loop's done eventfd on the I/O thread.
struct Server::DoneWatcher {
  explicit DoneWatcher(asio::io_context& io, int fd) : descriptor(io, dup(fd)) {}
  asio::posix::stream_descriptor descriptor;
};

Status Server::Open(const ServerConfig& given, std::unique_ptr<Server>* out, Env* env) {
  ELEVEN_ASSERT(env != nullptr);
  ELEVEN_RETURN_IF_ERROR(ValidateServerConfig(given));
  // Bad TLS files stop the start before the data directory is touched.
  std::unique_ptr<asio::ssl::context> tls_context;
  if (given.tls.enabled) ELEVEN_RETURN_IF_ERROR(tls::MakeServerContext(given.tls, &tls_context));
  // The shape is the data directory's: keys given that contradict it are refused before
  // anything is opened or written; the others are taken from it.
  replica::DataShape shape;
  ELEVEN_RETURN_IF_ERROR(replica::ReadDataShape(env, given.data_dir, &shape));
  ELEVEN_RETURN_IF_ERROR(
      replica::CheckShape(given.data_dir, shape, ShapeOfConfig(given), given.shape_given));
  ServerConfig config = given;
  SetShape(shape, &config);
  BoundSocket binary_socket;
  BoundSocket http_socket;
  if (!config.listen.empty()) ELEVEN_RETURN_IF_ERROR(BindEarly("binary", config.listen, &binary_socket));
  if (!config.http.empty()) ELEVEN_RETURN_IF_ERROR(BindEarly("http", config.http, &http_socket));
  std::fprintf(stderr,
               "eleven serve: opening %s: %u order slots, %u SKUs, %u merchants (its manifest's shape); "
               "allocating its tables\n",
               config.data_dir.c_str(), config.engine.order_slot_count, config.engine.sku_count_max,
               config.engine.merchant_count_max);
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;
  replica::ReplicaOptions options;
  options.engine = config.engine;
  options.clock = shape.clock;
  options.staging_size_bytes = config.staging_size_bytes;
  options.journal.segment_size_bytes_max = config.journal_segment_bytes;
  options.journal.prepare_segments = config.journal_prepare_segments;
  options.snapshot_mode = config.snapshot_follower ? replica::ReplicaOptions::SnapshotMode::kFollower
                                                   : replica::ReplicaOptions::SnapshotMode::kFork;
  options.follower_nice = config.snapshot_follower_nice;
  options.read_view = config.read_lists;
  options.follower_write = {.slice_size_bytes = config.snapshot_slice_bytes,
                            .bytes_per_second_max = config.snapshot_write_bytes_per_second};
  // Enough recycled segments to hold the journal written between two snapshots: then every
  // segment is written over existing blocks once the first snapshot has freed some.
  options.journal.recycled_segments_max =
      std::max<uint64_t>(1, config.snapshot_journal_bytes / std::max<uint64_t>(1, config.journal_segment_bytes));
  // A long recovery shows its progress (every few thousand entries) on stderr.
  auto progress = [](uint64_t replayed) {
    std::fprintf(stderr, "eleven serve: recovering, %llu journal entries replayed\n",
                 static_cast<unsigned long long>(replayed));
  };
  cluster::ClusterNode* node = nullptr;
  if (config.cluster.enabled) {
    // The log is the shard's stream (docs/cluster.md); snapshots are forked (the snapshot
    // follower reads the local journal).
    options.snapshot_mode = replica::ReplicaOptions::SnapshotMode::kFork;
    const cluster::NodeOptions node_options{.nats_urls = config.cluster.nats,
                                            .shard = config.cluster.shard,
                                            .name = config.cluster.node,
                                            .replicas = config.cluster.replicas,
                                            .lease_ms = config.cluster.lease_ms,
                                            .ack_timeout_ms = config.cluster.ack_timeout_ms,
                                            .publish_snapshots = config.cluster.publish_snapshots,
                                            .compress_entries = config.cluster.compress_entries,
                                            .local_fsync = config.cluster.local_fsync,
                                            .binary_address = config.cluster.advertise_binary,
                                            .http_address = config.cluster.advertise_http};
    std::unique_ptr<cluster::ClusterNode> opened;
    ELEVEN_RETURN_IF_ERROR(cluster::ClusterNode::Open(node_options, env, config.data_dir, options,
                                                      &opened, &s->replica_, &s->recovery_,
                                                      progress));
    node = opened.get();
    s->role_ = std::move(opened);
  } else {
    ELEVEN_RETURN_IF_ERROR(replica::Replica::Open(env, config.data_dir, options, &s->replica_,
                                                  &s->recovery_, progress));
  }
  s->engine_metrics_ = std::make_unique<EngineMetrics>();
  s->engine_metrics_->journal_sync_us = &s->replica_->journal_sync_histogram();
  // The rings hold every request the pool can hand out, plus the feed's own poll.
  s->loop_ = std::make_unique<EngineLoop>(s->replica_.get(), config.requests_in_flight_max + 1,
                                          s->engine_metrics_.get(), config.clock,
                                          config.snapshot_journal_bytes, config.tick_ms);
  s->core_ = std::make_unique<Core>(config, s->loop_.get(), s->engine_metrics_.get(),
                                    std::move(tls_context));
  s->core_->keys.Publish(ApiKeyTable::Of(s->replica_->engine()));
  s->core_->read_view = s->replica_->read_view();
  s->loop_->set_keys(&s->core_->keys);
  if (node != nullptr) {
    s->loop_->set_role(node);
    s->core_->role = node;
    s->node_ = node;
  }
  asio::ssl::context* const tls_binary = config.tls.binary ? s->core_->tls.get() : nullptr;
  asio::ssl::context* const tls_http = config.tls.http ? s->core_->tls.get() : nullptr;
  std::string host;
  uint16_t port = 0;
  if (!config.listen.empty()) {
    ELEVEN_RETURN_IF_ERROR(ParseHostPort(config.listen, &host, &port));
    s->binary_ = std::make_unique<BinaryListener>(s->core_.get(), tls_binary);
    ELEVEN_RETURN_IF_ERROR(s->binary_->Listen(host, port, binary_socket.Release()));
  }
  if (!config.http.empty()) {
    ELEVEN_RETURN_IF_ERROR(ParseHostPort(config.http, &host, &port));
    s->http_ = std::make_unique<HttpListener>(s->core_.get(), tls_http);
    ELEVEN_RETURN_IF_ERROR(s->http_->Listen(host, port, http_socket.Release()));
  }
  if (pipe(s->stop_pipe_) != 0) return Status::IOError("pipe");
  *out = std::move(s);
  return Status::Ok();
}

Server::~Server() {
  Stop();
  // The cluster node follows the replica's log: it goes while the log still exists.
  node_ = nullptr;
  role_.reset();
  // Everything holding an I/O object (listeners, the watcher, requests pointing at
  // connections, which live in core_'s pool) goes before the io_context inside core_.
  done_watcher_.reset();
  http_.reset();
  binary_.reset();
  core_.reset();
  for (int fd : stop_pipe_) {
    if (fd >= 0) close(fd);
  }
}

uint16_t Server::binary_port() const { return binary_ ? binary_->port() : 0; }
uint16_t Server::http_port() const { return http_ ? http_->port() : 0; }

const engine::Engine& Server::engine() const {
  ELEVEN_ASSERT(!running_);
  return replica_->engine();
}

Status Server::Start() {
  ELEVEN_ASSERT(!running_);
  ELEVEN_RETURN_IF_ERROR(loop_->Start());
  done_watcher_ = std::make_unique<DoneWatcher>(core_->io, loop_->done_fd());
  WatchDone();
  if (binary_) binary_->Start();
  if (http_) http_->Start();
  if (node_ != nullptr) {
    // Where clients are sent when this node leads: the advertised addresses, else the bound ones.
    const auto bound = [](const std::string& address, uint16_t port) {
      if (address.empty()) return std::string();
      std::string host;
      uint16_t ignored = 0;
      if (!ParseHostPort(address, &host, &ignored).ok()) return std::string();
      return host + ":" + std::to_string(port);
    };
    const std::string binary = !config_.cluster.advertise_binary.empty()
                                   ? config_.cluster.advertise_binary
                                   : bound(config_.listen, binary_port());
    const std::string http = !config_.cluster.advertise_http.empty()
                                 ? config_.cluster.advertise_http
                                 : bound(config_.http, http_port());
    node_->Start(
        [this] {
          loop_->Wake();
          if (!role_->exit_reason().empty()) RequestStop();
        },
        binary, http);
  }
  running_ = true;
  io_thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(core_->io);
    core_->io.run();
  });
  return Status::Ok();
}

void Server::WatchDone() {
  done_watcher_->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                       [this](const boost::system::error_code& error) {
                                         if (error) return;
                                         uint64_t value = 0;
                                         ssize_t ignored = read(done_watcher_->descriptor.native_handle(),
                                                                &value, sizeof(value));
                                         (void)ignored;
                                         DrainDone();
                                         WatchDone();
                                       });
}

void Server::DrainDone() {
  Request* request = nullptr;
  while (loop_->PopDone(&request)) {
    ELEVEN_ASSERT(request->sink != nullptr);
    std::shared_ptr<RequestSink> sink = request->sink;
    sink->OnRequestDone(request);
  }
}

// Runs `fn` on the I/O thread and waits for it.
static void RunOnIo(asio::io_context& io, const std::function<void()>& fn) {
  std::promise<void> done;
  asio::post(io, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

void Server::Stop() {
  if (!running_) return;
  RunOnIo(core_->io, [this] {
    core_->stopping = true;  // new frames get "shutting_down"
    if (binary_) binary_->StopAccepting();
    if (http_) http_->StopAccepting();
  });
  loop_->Stop();  // everything applied is durable and released now
  // The node's threads (lease) and the log's consumer call back into the loop: they stop
  // before anything they use goes.
  if (node_ != nullptr) node_->Stop();
  RunOnIo(core_->io, [this] {
    DrainDone();  // replies are queued for writing (best effort before the close below)
  });
  RunOnIo(core_->io, [this] {
    if (binary_) binary_->CloseAll();
    if (http_) http_->CloseAll();
    boost::system::error_code ignored;
    done_watcher_->descriptor.close(ignored);
  });
  core_->io.stop();
  io_thread_.join();
  running_ = false;
}

void Server::RequestStop() {
  const char byte = 1;
  ssize_t ignored = write(stop_pipe_[1], &byte, 1);
  (void)ignored;
}

void Server::Wait() {
  char byte = 0;
  while (read(stop_pipe_[0], &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace eleven::server
