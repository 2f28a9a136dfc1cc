// eleven serve: runs the server (src/server) on a formatted data directory until SIGINT or
// SIGTERM. Settings come from a TOML file (--config; docs/server.md lists every key), then
// from flags, which win.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "server/config.h"

namespace eleven::cli {

struct ServeArgs {
  std::string config_path;       // optional TOML file
  server::ServerConfig config;   // after the file, before the flags
  // Flags given on the command line (empty/0 = not given).
  std::string data_dir;
  std::string listen;
  std::string http;
  std::string clock;  // wall or client
  uint32_t order_slots = 0;
  uint32_t skus_max = 0;
  uint32_t merchants_max = 0;
};

int RunServe(const ServeArgs& args);
void AddServeCommand(CLI::App& app);

}  // namespace eleven::cli
