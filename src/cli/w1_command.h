// `eleven w1`: W1 on an embedded replica (engine + journal, no network).
#pragma once

#include <CLI/CLI.hpp>

namespace eleven::cli {

void AddW1Command(CLI::App& app);

}  // namespace eleven::cli
