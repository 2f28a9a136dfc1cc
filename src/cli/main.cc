// eleven: the trade path of a Singles' Day in one deterministic, durable, batched engine.
#include <CLI/CLI.hpp>

#include "cli/bench_command.h"
#include "cli/cluster_command.h"
#include "cli/festival_command.h"
#include "cli/keys_command.h"
#include "cli/serve_command.h"
#include "cli/storage_commands.h"
#include "cli/w1_command.h"

int main(int argc, char** argv) {
  CLI::App app{"eleven — the transaction core of a shopping festival"};
  app.require_subcommand(1);
  eleven::cli::AddFestivalCommand(app);
  eleven::cli::AddServeCommand(app);
  eleven::cli::AddKeysCommand(app);
  eleven::cli::AddClusterCommand(app);
  eleven::cli::AddBenchCommand(app);
  eleven::cli::AddStorageCommands(app);
  eleven::cli::AddW1Command(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
