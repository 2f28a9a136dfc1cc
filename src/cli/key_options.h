// API keys on the command line (docs/access.md): `--key SECRET` or `--key-file FILE` for the
// commands that talk to a server (festival --connect, bench, keys), and the key file that
// `eleven format --key-file` writes. Free functions; no state.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "base/status.h"

namespace eleven::cli {

struct KeyArgs {
  std::string key;       // the secret itself ("ek_...")
  std::string key_file;  // or a file holding it (as `eleven format --key-file` writes it)
};

// Adds --key and --key-file (mutually exclusive); `what` says which key is wanted.
void AddKeyOptions(CLI::App& command, KeyArgs* args, const std::string& what);

// The secret given (empty if neither option was): from --key, or the first line of
// --key-file. InvalidArgument if the file cannot be read or the text is not a secret's shape.
[[nodiscard]] Status ResolveKey(const KeyArgs& args, std::string* secret);

// Creates `path` with mode 0600 (refusing an existing file: AlreadyExists), for WriteKeyFile.
// *fd receives the open descriptor.
[[nodiscard]] Status CreateKeyFile(const std::string& path, int* fd);
// Writes `secret` and a newline to `fd`, syncs and closes it.
[[nodiscard]] Status WriteKeyFile(const std::string& path, int fd, const std::string& secret);

}  // namespace eleven::cli
