#include "cluster/testing/nats_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "base/assert.h"

namespace eleven::cluster::testing {
namespace {

// Between two readiness probes of a node: short against the ~1 s a route or an election takes.
constexpr int64_t kReadyPollIntervalMs = 50;
// Connect and JetStream API timeouts of one readiness probe.
constexpr int64_t kProbeConnectTimeoutMs = 500;
constexpr int64_t kProbeRequestTimeoutMs = 1000;
// How much of a failing server's log a Status carries.
constexpr size_t kLogTailBytes = 3000;
// Start() tries again on fresh ports when a server's log says one was taken.
constexpr int kStartAttemptsMax = 3;
constexpr const char* kPortTakenText = "address already in use";
// File descriptors above this are closed in the child even without close_range(2).
constexpr int kChildFdMax = 4096;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Picks `count` distinct free TCP ports on 127.0.0.1: binds them all to port 0 at once (so
// they differ), reads the ports back, closes them. Another process could take one before
// nats-server binds it; the server then fails to start and says so in its log.
Status PickFreePorts(int count, std::vector<int>* ports) {
  std::vector<int> fds;
  Status status;
  for (int k = 0; k < count && status.ok(); ++k) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = Status::IOError(std::string("socket: ") + std::strerror(errno));
      break;
    }
    fds.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      status = Status::IOError(std::string("picking a free port: ") + std::strerror(errno));
      break;
    }
    ports->push_back(ntohs(address.sin_port));
  }
  for (const int fd : fds) ::close(fd);
  return status;
}

std::string ConfigText(const NatsClusterOptions& options, int node_count, int i,
                       const std::string& store_dir, const std::vector<int>& client_ports,
                       const std::vector<int>& cluster_ports) {
  std::string text;
  text += "server_name: n" + std::to_string(i) + "\n";
  text += "listen: 127.0.0.1:" + std::to_string(client_ports[i]) + "\n";
  text += "max_payload: " + std::to_string(options.max_payload_bytes) + "\n";
  text += "jetstream {\n";
  text += "  store_dir: \"" + store_dir + "\"\n";
  text += "  max_memory_store: 256MB\n";
  text += "  max_file_store: 4GB\n";
  if (!options.jetstream_extra_config.empty()) text += "  " + options.jetstream_extra_config + "\n";
  text += "}\n";
  if (node_count > 1) {
    text += "cluster {\n";
    text += "  name: eleven-test\n";
    text += "  listen: 127.0.0.1:" + std::to_string(cluster_ports[i]) + "\n";
    text += "  routes: [\n";
    for (int k = 0; k < node_count; ++k) {
      if (k == i) continue;
      text += "    nats-route://127.0.0.1:" + std::to_string(cluster_ports[k]) + "\n";
    }
    text += "  ]\n";
    text += "}\n";
  }
  return text;
}

// One readiness probe: connects to `url`, makes a JetStream context and runs `ask` on it.
// Ok when every step answers; otherwise `what` and the reason, for the Status of a timed-out
// wait.
Status Probe(const std::string& url, const std::string& what,
             const std::function<natsStatus(jsCtx* js, jsErrCode* js_error)>& ask) {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  natsStatus s = natsOptions_Create(&options);
  if (s == NATS_OK) s = natsOptions_SetURL(options, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(options, kProbeConnectTimeoutMs);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(options, false);
  if (s == NATS_OK) s = natsConnection_Connect(&connection, options);
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = kProbeRequestTimeoutMs;
  if (s == NATS_OK) s = natsConnection_JetStream(&js, connection, &js_options);
  jsErrCode js_error = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = ask(js, &js_error);
  Status result;
  if (s != NATS_OK) {
    const char* text = nats_GetLastError(nullptr);
    result = Status::Unavailable(what + natsStatus_GetText(s) + " (" + (text != nullptr ? text : "") +
                                 ", jetstream error code " + std::to_string(js_error) + ")");
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
  natsOptions_Destroy(options);
  return result;
}

// Whether JetStream at `url` answers the account info.
Status ProbeJetStream(const std::string& url) {
  return Probe(url, "", [](jsCtx* js, jsErrCode* js_error) {
    jsAccountInfo* info = nullptr;
    const natsStatus s = js_GetAccountInfo(&info, js, nullptr, js_error);
    jsAccountInfo_Destroy(info);
    return s;
  });
}

// Whether JetStream at `url` can place a stream on `replicas` nodes: creates the memory
// stream ELEVEN_READY_PROBE of that many replicas, then deletes it. Right after a cluster
// forms, JetStream answers account info before its meta group knows every peer, and a
// replicated stream is refused ("no suitable peers for placement", 10005) for a while.
Status ProbePlacement(const std::string& url, int replicas) {
  return Probe(url, "placing a stream of " + std::to_string(replicas) + " replicas: ",
               [replicas](jsCtx* js, jsErrCode* js_error) {
                 const char* subjects[] = {"_eleven.ready_probe"};
                 jsStreamConfig config;
                 jsStreamConfig_Init(&config);
                 config.Name = "ELEVEN_READY_PROBE";
                 config.Subjects = subjects;
                 config.SubjectsLen = 1;
                 config.Storage = js_MemoryStorage;
                 config.Replicas = replicas;
                 natsStatus s = js_AddStream(nullptr, js, &config, nullptr, js_error);
                 if (s == NATS_OK) s = js_DeleteStream(js, "ELEVEN_READY_PROBE", nullptr, js_error);
                 return s;
               });
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "ended (wait status " + std::to_string(wait_status) + ")";
}

pid_t WaitPid(pid_t pid, int* wait_status, int flags) {
  for (;;) {
    const pid_t reaped = ::waitpid(pid, wait_status, flags);
    if (reaped >= 0 || errno != EINTR) return reaped;
  }
}

}  // namespace

Status NatsCluster::Start(const NatsClusterOptions& options,
                          std::unique_ptr<NatsCluster>* cluster) {
  if (options.nodes < 1 || options.nodes > kNatsNodesMax) {
    return Status::InvalidArgument("nats cluster: nodes must be 1.." +
                                   std::to_string(kNatsNodesMax) + ", got " +
                                   std::to_string(options.nodes));
  }
  if (options.dir.empty()) return Status::InvalidArgument("nats cluster: dir is required");
  if (options.dir.find_first_of("\"\\\n") != std::string::npos) {
    return Status::InvalidArgument(
        "nats cluster: dir must not hold quotes, backslashes or newlines");
  }
  if (options.max_payload_bytes == 0) {
    return Status::InvalidArgument("nats cluster: max_payload_bytes must be positive");
  }
  // A port picked free can be taken by another process before nats-server binds it; then
  // the whole start is tried again on fresh ports and fresh node directories.
  Status status;
  for (int attempt = 1; attempt <= kStartAttemptsMax; ++attempt) {
    status = StartOnce(options, cluster);
    if (status.ok() || status.message().find(kPortTakenText) == std::string::npos) break;
    for (int i = 0; i < options.nodes; ++i) {
      std::error_code error;
      std::filesystem::remove_all(options.dir + "/n" + std::to_string(i), error);
    }
  }
  return status;
}

Status NatsCluster::StartOnce(const NatsClusterOptions& options,
                              std::unique_ptr<NatsCluster>* cluster) {
  std::vector<int> ports;
  ELEVEN_RETURN_IF_ERROR(PickFreePorts(2 * options.nodes, &ports));
  const std::vector<int> client_ports(ports.begin(), ports.begin() + options.nodes);
  const std::vector<int> cluster_ports(ports.begin() + options.nodes, ports.end());

  std::unique_ptr<NatsCluster> result(new NatsCluster(options));
  for (int i = 0; i < options.nodes; ++i) {
    Node node;
    node.name = std::string("n").append(std::to_string(i));
    node.dir = options.dir + "/" + node.name;
    node.config_path = node.dir + "/server.conf";
    node.log_path = node.dir + "/server.log";
    node.client_port = client_ports[i];
    node.cluster_port = cluster_ports[i];
    std::error_code error;
    std::filesystem::create_directories(node.dir + "/store", error);
    if (error) {
      return Status::IOError("nats cluster: creating " + node.dir + ": " + error.message());
    }
    std::ofstream config(node.config_path, std::ios::trunc);
    config << ConfigText(options, options.nodes, i, node.dir + "/store", client_ports,
                         cluster_ports);
    config.close();
    if (!config) return Status::IOError("nats cluster: writing " + node.config_path);
    result->nodes_.push_back(std::move(node));
  }
  // All nodes run before any is waited for: a cluster elects its meta leader only once a
  // quorum of them has routes. On any failure the destructor of `result` kills them.
  for (int i = 0; i < options.nodes; ++i) ELEVEN_RETURN_IF_ERROR(result->Spawn(i));
  const int64_t deadline_ms = NowMs() + options.ready_timeout_ms;
  for (int i = 0; i < options.nodes; ++i) ELEVEN_RETURN_IF_ERROR(result->WaitReady(i, deadline_ms));
  ELEVEN_RETURN_IF_ERROR(result->WaitPlacement(deadline_ms));
  *cluster = std::move(result);
  return Status::Ok();
}

NatsCluster::~NatsCluster() { KillAll(); }

void NatsCluster::KillAll() {
  for (int i = 0; i < nodes(); ++i) {
    if (nodes_[i].pid > 0) Kill(i).IgnoreError();  // Kill of a running node cannot fail
  }
}

std::string NatsCluster::urls() const {
  std::string text;
  for (int i = 0; i < nodes(); ++i) {
    if (i > 0) text += ',';
    text += url(i);
  }
  return text;
}

std::string NatsCluster::url(int i) const {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  return "nats://127.0.0.1:" + std::to_string(nodes_[i].client_port);
}

std::string NatsCluster::server_name(int i) const {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  return nodes_[i].name;
}

int NatsCluster::pid(int i) const {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  return nodes_[i].pid;
}

const std::string& NatsCluster::log_path(int i) const {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  return nodes_[i].log_path;
}

Status NatsCluster::Spawn(int i) {
  Node& node = nodes_[i];
  ELEVEN_ASSERT(node.pid < 0);
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  const std::string path = options_.server_path;
  std::string flag = "-c";
  std::string config = node.config_path;
  char* const argv[] = {const_cast<char*>(path.c_str()), flag.data(), config.data(), nullptr};
  const char* log_path = node.log_path.c_str();
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return Status::IOError(std::string("nats cluster: fork: ") + std::strerror(errno));
  if (child == 0) {
    // Dies with the forking thread, so a crashed or killed test leaves no server behind.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(126);
    const int log_fd = ::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (log_fd < 0 || null_fd < 0) ::_exit(126);
    if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) ::_exit(126);
    // The test's own sockets (client connections) must not live on in the server.
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
      for (int fd = 3; fd < kChildFdMax; ++fd) ::close(fd);
    }
    ::execv(path.c_str(), argv);
    ::_exit(127);
  }
  node.pid = child;
  node.paused = false;
  return Status::Ok();
}

Status NatsCluster::WaitPlacement(int64_t deadline_ms) {
  Status last;
  for (;;) {
    last = ProbePlacement(url(0), nodes());
    if (last.ok() || NowMs() >= deadline_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kReadyPollIntervalMs));
  }
  if (last.ok()) return last;
  return Status::Unavailable("nats cluster: JetStream did not place a stream on all " +
                             std::to_string(nodes()) + " nodes within " +
                             std::to_string(options_.ready_timeout_ms) + " ms: " + last.message());
}

Status NatsCluster::WaitReady(int i, int64_t deadline_ms) {
  Node& node = nodes_[i];
  Status last = Status::Unavailable("not probed yet");
  for (;;) {
    int wait_status = 0;
    const pid_t reaped = WaitPid(node.pid, &wait_status, WNOHANG);
    if (reaped == node.pid) {
      node.pid = -1;
      return Status::Unavailable("nats cluster: nats-server " + node.name + " " +
                                 DescribeExit(wait_status) + " before JetStream answered; " +
                                 node.log_path + " ends with:\n" + LogTail(i));
    }
    last = ProbeJetStream(url(i));
    if (last.ok()) return Status::Ok();
    if (NowMs() >= deadline_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kReadyPollIntervalMs));
  }
  return Status::Unavailable("nats cluster: JetStream on " + node.name + " (" + url(i) +
                             ") did not answer within " +
                             std::to_string(options_.ready_timeout_ms) + " ms: " + last.message() +
                             "; " + node.log_path + " ends with:\n" + LogTail(i));
}

std::string NatsCluster::LogTail(int i) const {
  std::ifstream log(nodes_[i].log_path, std::ios::binary);
  if (!log) return "(no log)";
  log.seekg(0, std::ios::end);
  const std::streamoff size = log.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(kLogTailBytes)
                                   ? size - static_cast<std::streamoff>(kLogTailBytes)
                                   : 0;
  log.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  log.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail;
}

Status NatsCluster::Kill(int i) {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  Node& node = nodes_[i];
  if (node.pid < 0)
    return Status::FailedPrecondition("nats cluster: " + node.name + " is not running");
  if (::kill(node.pid, SIGKILL) != 0) {
    return Status::IOError("nats cluster: kill " + node.name + ": " + std::strerror(errno));
  }
  int wait_status = 0;
  const pid_t reaped = WaitPid(node.pid, &wait_status, 0);
  ELEVEN_ASSERT(reaped == node.pid);
  node.pid = -1;
  node.paused = false;
  return Status::Ok();
}

Status NatsCluster::Pause(int i) {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  Node& node = nodes_[i];
  if (node.pid < 0 || node.paused) {
    return Status::FailedPrecondition("nats cluster: " + node.name +
                                      " is not running or already paused");
  }
  if (::kill(node.pid, SIGSTOP) != 0) {
    return Status::IOError("nats cluster: stop " + node.name + ": " + std::strerror(errno));
  }
  int wait_status = 0;
  const pid_t reaped = WaitPid(node.pid, &wait_status, WUNTRACED);
  if (reaped != node.pid || !WIFSTOPPED(wait_status)) {
    if (reaped == node.pid) node.pid = -1;
    return Status::Unavailable("nats cluster: " + node.name +
                               " did not stop: " + DescribeExit(wait_status));
  }
  node.paused = true;
  return Status::Ok();
}

Status NatsCluster::Resume(int i) {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  Node& node = nodes_[i];
  if (node.pid < 0 || !node.paused) {
    return Status::FailedPrecondition("nats cluster: " + node.name + " is not paused");
  }
  if (::kill(node.pid, SIGCONT) != 0) {
    return Status::IOError("nats cluster: continue " + node.name + ": " + std::strerror(errno));
  }
  node.paused = false;
  return Status::Ok();
}

Status NatsCluster::Stop(int i) {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  Node& node = nodes_[i];
  if (node.pid < 0 || node.paused) {
    return Status::FailedPrecondition("nats cluster: " + node.name + " is not running");
  }
  if (::kill(node.pid, SIGTERM) != 0) {
    return Status::IOError("nats cluster: stop " + node.name + ": " + std::strerror(errno));
  }
  int wait_status = 0;
  const pid_t reaped = WaitPid(node.pid, &wait_status, 0);
  ELEVEN_ASSERT(reaped == node.pid);
  node.pid = -1;
  return Status::Ok();
}

Status NatsCluster::Restart(int i) {
  ELEVEN_ASSERT(i >= 0 && i < nodes());
  if (nodes_[i].pid > 0) {
    return Status::FailedPrecondition("nats cluster: " + nodes_[i].name +
                                      " is running; Kill it first");
  }
  ELEVEN_RETURN_IF_ERROR(Spawn(i));
  return WaitReady(i, NowMs() + options_.ready_timeout_ms);
}

Status NatsCluster::RestartAll() {
  for (int i = 0; i < nodes(); ++i) {
    if (nodes_[i].pid < 0) ELEVEN_RETURN_IF_ERROR(Spawn(i));
  }
  const int64_t deadline_ms = NowMs() + options_.ready_timeout_ms;
  for (int i = 0; i < nodes(); ++i) ELEVEN_RETURN_IF_ERROR(WaitReady(i, deadline_ms));
  return WaitPlacement(deadline_ms);
}

}  // namespace eleven::cluster::testing
