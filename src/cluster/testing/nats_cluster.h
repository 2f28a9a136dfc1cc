// NatsCluster: real nats-server processes with JetStream on 127.0.0.1, for tests only.
//
// Start() writes one config file per node under options.dir (server_name "n<i>", a client port
// and, for more than one node, a cluster port, both chosen free on 127.0.0.1, a JetStream store
// dir, max_payload, routes to every other node), forks and execs nats-server for each (no
// shell; stdout and stderr go to "<dir>/n<i>/server.log"), and returns once JetStream answers
// an account-info request through a connection to every node (for a cluster that needs the
// meta leader elected). On failure it kills what it started and returns a Status that names
// the node and carries the tail of its log. A port picked free but taken by another process
// before the server binds it ("address already in use" in the log) makes Start() try again
// on fresh ports, up to 3 times.
//
// Ownership and lifetime: the NatsCluster owns its processes. The destructor SIGKILLs every
// node still running (paused ones too) and reaps it, so a failing test leaves nothing behind.
// Each child also gets PR_SET_PDEATHSIG = SIGKILL, so it dies with the thread that forked it
// even if the test process itself is killed: call Start() and Restart() from a thread that
// outlives the cluster (a test's main thread).
//
// Threads: not thread-safe; one thread drives it. Waiting is by polling a real condition
// (a JetStream answer, a process state) until a deadline, never a fixed sleep.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace eleven::cluster::testing {

inline constexpr int kNatsNodesMax = 5;
inline constexpr const char* kNatsServerPath = "/usr/sbin/nats-server";

struct NatsClusterOptions {
  int nodes = 3;    // 1: one JetStream server, no routes; more: a cluster
  std::string dir;  // configs, stores and logs go under it (created; required)
  uint32_t max_payload_bytes = 8u << 20;  // nats-server warns above 8 MiB
  std::string server_path = kNatsServerPath;
  // Extra lines put inside every node's `jetstream { }` block, verbatim (empty: none).
  std::string jetstream_extra_config;
  // How long Start(), Restart() and RestartAll() wait for JetStream to answer on a node (and,
  // for Start() and RestartAll(), to place a stream on every node).
  int64_t ready_timeout_ms = 30'000;
};

class NatsCluster {
 public:
  static Status Start(const NatsClusterOptions& options, std::unique_ptr<NatsCluster>* cluster);
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  int nodes() const { return static_cast<int>(nodes_.size()); }
  // "nats://127.0.0.1:p0,nats://127.0.0.1:p1,..." for every node, running or not.
  std::string urls() const;
  std::string url(int i) const;
  // The node's server_name ("n<i>"), as JetStream reports it (e.g. as a stream's leader).
  std::string server_name(int i) const;
  // The process id, or -1 once killed.
  int pid(int i) const;
  const std::string& log_path(int i) const;

  // SIGKILL and reap (a paused node too). FailedPrecondition if the node is not running.
  Status Kill(int i);
  // SIGTERM and reap: nats-server shuts down cleanly, its stores flushed. FailedPrecondition
  // if the node is not running or paused.
  Status Stop(int i);
  // SIGSTOP, returns once the process is stopped. FailedPrecondition if not running or paused.
  Status Pause(int i);
  // SIGCONT. FailedPrecondition if not paused.
  Status Resume(int i);
  // Starts node i again (after Kill) on the same ports, config and store dir, and returns once
  // JetStream answers through it. FailedPrecondition if it is running.
  Status Restart(int i);
  // Starts every killed node again, then returns once JetStream answers through every node
  // and places a stream replicated on all of them.
  // The way back after killing a quorum or all of a cluster, where no node serves alone.
  Status RestartAll();

 private:
  struct Node {
    std::string name;
    std::string dir;
    std::string config_path;
    std::string log_path;
    int client_port = 0;
    int cluster_port = 0;
    pid_t pid = -1;
    bool paused = false;
  };

  explicit NatsCluster(NatsClusterOptions options) : options_(std::move(options)) {}
  static Status StartOnce(const NatsClusterOptions& options, std::unique_ptr<NatsCluster>* cluster);
  Status Spawn(int i);
  Status WaitReady(int i, int64_t deadline_ms);
  // Until node 0 places a stream replicated on every node (ProbePlacement), or the deadline.
  Status WaitPlacement(int64_t deadline_ms);
  std::string LogTail(int i) const;
  void KillAll();

  NatsClusterOptions options_;
  std::vector<Node> nodes_;
};

}  // namespace eleven::cluster::testing
