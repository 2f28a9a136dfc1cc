// `eleven festival`: a Singles' Day replayed on the embedded engine, with a live view and an
// HTML report at the end.
#pragma once

#include <CLI/CLI.hpp>

namespace eleven::cli {

void AddFestivalCommand(CLI::App& app);

}  // namespace eleven::cli
