// `eleven keys create|revoke|show`: API keys of a running server, over its HTTP API with an
// operator key (docs/access.md).
#pragma once

#include <CLI/CLI.hpp>

namespace eleven::cli {

void AddKeysCommand(CLI::App& app);

}  // namespace eleven::cli
