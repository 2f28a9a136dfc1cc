#include "cli/key_options.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "client/keys.h"

namespace eleven::cli {

void AddKeyOptions(CLI::App& command, KeyArgs* args, const std::string& what) {
  CLI::Option* key = command.add_option("--key", args->key, what + ": its secret (ek_...)");
  CLI::Option* file =
      command.add_option("--key-file", args->key_file, what + ": a file holding its secret (as `eleven format --key-file` writes)");
  key->excludes(file);
}

Status ResolveKey(const KeyArgs& args, std::string* secret) {
  secret->clear();
  std::string text = args.key;
  std::string source = "--key";
  if (!args.key_file.empty()) {
    errno = 0;
    std::ifstream in(args.key_file);
    if (!in || !std::getline(in, text)) {
      return Status::InvalidArgument("cannot read the key file " + args.key_file + ": " +
                                     (errno != 0 ? std::strerror(errno) : "empty"));
    }
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
    source = args.key_file;
  }
  if (text.empty()) return Status::Ok();
  if (!client::WellFormedKeySecret(text)) {
    return Status::InvalidArgument(source + " does not hold a key secret (\"ek_\" and 43 base64url characters)");
  }
  *secret = text;
  return Status::Ok();
}

Status CreateKeyFile(const std::string& path, int* fd) {
  *fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (*fd < 0) {
    const int error = errno;
    const std::string why = "--key-file " + path + ": " + std::strerror(error);
    return error == EEXIST ? Status::AlreadyExists(why + " (a key file is never overwritten)")
                           : Status::IOError(why);
  }
  return Status::Ok();
}

Status WriteKeyFile(const std::string& path, int fd, const std::string& secret) {
  const std::string line = secret + "\n";
  const ssize_t written = write(fd, line.data(), line.size());
  const bool synced = written == ssize_t(line.size()) && fsync(fd) == 0;
  const int error = errno;
  const bool closed = close(fd) == 0;
  if (!synced || !closed) return Status::IOError("write " + path + ": " + std::strerror(error));
  return Status::Ok();
}

}  // namespace eleven::cli
