// `eleven format`, `eleven verify`, `eleven inspect`: data directory tools.
#pragma once

#include <CLI/CLI.hpp>

namespace eleven::cli {

void AddStorageCommands(CLI::App& app);

}  // namespace eleven::cli
