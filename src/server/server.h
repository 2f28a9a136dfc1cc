// eleven serve: a Replica behind the binary protocol and the HTTP/JSON gateway.
//
// Threads: one I/O thread (all sockets: binary, HTTP, feeds; Boost.Asio), the engine thread
// (EngineLoop, the only user of the Replica) and the replica's sync thread. They meet only
// in the engine loop's two SPSC rings and its eventfds.
//
// Lifetime: Open() recovers the data directory and binds the ports (so a test can read them
// before Start). Stop() (also from the destructor) stops accepting, lets everything applied
// become durable and answered, and joins the threads; afterwards engine() may be read.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "replica/replica.h"
#include "replica/role.h"
#include "server/config.h"

namespace eleven::cluster {
class ClusterNode;
}  // namespace eleven::cluster

namespace eleven::server {

struct Core;
class EngineLoop;
class BinaryListener;
class HttpListener;
struct EngineMetrics;

class Server {
 public:
  // `env` (tests pass a FaultEnv) must outlive the server. The engine and clock are the data
  // directory's (its manifest): a key of config.shape_given whose value differs from it is
  // FailedPrecondition naming the key and both values, and nothing is opened or written; the
  // other engine and clock values of `config` are ignored.
  [[nodiscard]] static Status Open(const ServerConfig& config, std::unique_ptr<Server>* server,
                                   Env* env = Env::Default());
  // The configuration in force: the one given, with the data directory's shape.
  const ServerConfig& config() const { return config_; }
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] Status Start();
  void Stop();
  // Blocks the calling thread until Stop() is called from elsewhere (or a signal handler
  // calls RequestStop()).
  void Wait();
  // Async-signal-safe: asks Wait() to return.
  void RequestStop();

  uint16_t binary_port() const;
  uint16_t http_port() const;
  const replica::RecoveryReport& recovery() const { return recovery_; }
  // Cluster mode: why the node must stop ("" while it may run). Wait() returns when it is set;
  // `eleven serve` then stops and exits with status 75, to be restarted as a follower.
  std::string exit_reason() const { return role_ != nullptr ? role_->exit_reason() : ""; }
  // Cluster mode: the node's role (null on a single node).
  const replica::ReplicaRole* role() const { return role_.get(); }
  // The engine, for tests and tools: only while the server is stopped.
  const engine::Engine& engine() const;

 private:
  Server() = default;
  void WatchDone();
  void DrainDone();

  ServerConfig config_;
  // Declared before the replica: the replica (its log uses the node's connection) goes first.
  std::unique_ptr<replica::ReplicaRole> role_;
  cluster::ClusterNode* node_ = nullptr;  // role_, as its class (started by Start)
  std::unique_ptr<replica::Replica> replica_;
  replica::RecoveryReport recovery_;
  std::unique_ptr<EngineMetrics> engine_metrics_;
  std::unique_ptr<EngineLoop> loop_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<BinaryListener> binary_;
  std::unique_ptr<HttpListener> http_;
  struct DoneWatcher;
  std::unique_ptr<DoneWatcher> done_watcher_;
  std::thread io_thread_;
  bool running_ = false;
  int stop_pipe_[2] = {-1, -1};
};

}  // namespace eleven::server
