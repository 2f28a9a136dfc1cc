// eleven serve: runs the server (src/server) on a formatted data directory until SIGINT or
// SIGTERM. Settings come from a TOML file (--config; docs/server.md lists every key), then
// from flags, which win. The state-shaping ones come from the data directory's manifest: a
// key or flag that contradicts it stops the start (replica/shape.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/engine_options.h"
#include "server/config.h"

namespace eleven::cli {

struct ServeArgs {
  std::string config_path;       // optional TOML file
  server::ServerConfig config;   // after the file, before the flags
  // Flags given on the command line (empty/0 = not given).
  std::string data_dir;
  std::string listen;
  std::string http;
  EngineOptions engine;  // the capacity flags and --clock
};

int RunServe(const ServeArgs& args);
void AddServeCommand(CLI::App& app);

}  // namespace eleven::cli
