// eleven-net: `serve` and `bench` alone, for this folder's measurements until the lead wires
// AddServeCommand/AddBenchCommand into the eleven command (src/cli/main.cc).
#include <CLI/CLI.hpp>

#include "cli/bench_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"eleven serve / bench"};
  app.require_subcommand(1);
  eleven::cli::AddServeCommand(app);
  eleven::cli::AddBenchCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
