// `eleven cluster init`: makes a shard's stream and writes its genesis entry from a formatted
// data directory (docs/cluster.md).
#pragma once

#include <CLI/CLI.hpp>

namespace eleven::cli {

void AddClusterCommand(CLI::App& app);

}  // namespace eleven::cli
