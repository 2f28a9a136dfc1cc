#include "cli/serve_command.h"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/big_array.h"
#include "server/server.h"

namespace eleven::cli {

namespace {

server::Server* g_server = nullptr;  // for the signal handler only

// A cluster node that must stop to rebuild from the stream (EX_TEMPFAIL: a supervisor restarts it).
constexpr int kExitRestart = 75;

void OnSignal(int) {
  if (g_server != nullptr) g_server->RequestStop();  // async-signal-safe: one write(2)
}

// Server::Open, saying every second how much of the engine's tables is allocated so far
// (gigabytes take seconds to fault in), then how much they take.
Status OpenReportingProgress(const server::ServerConfig& config, std::unique_ptr<server::Server>* server) {
  constexpr double kGiB = double(uint64_t{1} << 30);
  const uint64_t before = MappedBytes();
  const auto started = std::chrono::steady_clock::now();
  std::mutex mutex;
  std::condition_variable cv;
  bool opened = false;
  std::thread reporter([&] {
    std::unique_lock<std::mutex> lock(mutex);
    uint64_t reported = before;
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return opened; })) {
      const uint64_t now = MappedBytes();
      if (now == reported) continue;
      reported = now;
      std::fprintf(stderr, "eleven serve: allocating: %.1f GiB of tables so far\n", double(now - before) / kGiB);
    }
  });
  const Status status = server::Server::Open(config, server);
  {
    std::lock_guard<std::mutex> lock(mutex);
    opened = true;
  }
  cv.notify_one();
  reporter.join();
  if (status.ok()) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "eleven serve: opened in %.1f s; the engine's tables (and its follower's) take %.1f GiB\n",
                 seconds, double(MappedBytes() - before) / kGiB);
  }
  return status;
}

}  // namespace

int RunServe(const ServeArgs& args) {
  server::ServerConfig config = args.config;
  if (!args.config_path.empty()) {
    const Status status = server::LoadServerConfig(args.config_path, &config);
    if (!status.ok()) {
      std::fprintf(stderr, "eleven serve: %s\n", status.ToString().c_str());
      return 2;
    }
  }
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  if (!args.listen.empty()) config.listen = args.listen == "off" ? "" : args.listen;
  if (!args.http.empty()) config.http = args.http == "off" ? "" : args.http;
  const Status flags = ApplyEngineOptions(args.engine, &config);
  if (!flags.ok()) {
    std::fprintf(stderr, "eleven serve: %s\n", flags.message().c_str());
    return 2;
  }
  std::unique_ptr<server::Server> server;
  Status status = OpenReportingProgress(config, &server);
  if (status.ok()) status = server->Start();
  if (!status.ok()) {
    std::fprintf(stderr, "eleven serve: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("eleven serve: %s\n", server->recovery().ToString().c_str());
  config = server->config();  // with the data directory's shape
  if (config.clock == protocol::ClockMode::kClient) {
    std::printf("eleven serve: client clock: batches are stamped with the time clients set (set_clock); "
                "for simulation and replays, not production\n");
  }
  std::printf("eleven serve: binary protocol on %s (port %u), HTTP on %s (port %u)\n",
              config.listen.c_str(), server->binary_port(), config.http.c_str(), server->http_port());
  std::fflush(stdout);
  g_server = server.get();
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  server->Wait();
  const std::string exit_reason = server->exit_reason();
  std::printf("eleven serve: stopping (letting everything applied become durable)\n");
  server->Stop();
  g_server = nullptr;
  if (!exit_reason.empty()) {
    // Cluster mode: deposed, or the stream refused an entry; restarted, it follows
    // (docs/cluster.md).
    std::printf("eleven serve: exiting for a restart: %s\n", exit_reason.c_str());
    return kExitRestart;
  }
  return 0;
}

void AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* command = app.add_subcommand("serve", "serve a data directory over the binary protocol and HTTP");
  command->add_option("--data", args->data_dir, "formatted data directory (or [server] data in the config)");
  command->add_option("--config", args->config_path, "TOML file with addresses and limits (docs/server.md)");
  command->add_option("--listen", args->listen, "binary protocol address host:port, or off (default 127.0.0.1:7011)");
  command->add_option("--http", args->http, "HTTP address host:port, or off (default 127.0.0.1:7080)");
  // State-shaping settings: taken from the data directory; given, they must match it.
  AddClockOption(*command, &args->engine);
  AddEngineOptions(*command, &args->engine);
  command->callback([args] { std::exit(RunServe(*args)); });
}

}  // namespace eleven::cli
