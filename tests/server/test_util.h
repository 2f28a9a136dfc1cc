// Helpers for the server end-to-end tests: a formatted data directory in /tmp, a server on
// ephemeral loopback ports with small tables, and raw sockets for bad-input tests.
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <vector>
#include <memory>
#include <string>
#include <string_view>

#include "client/client.h"
#include "server/server.h"

namespace eleven::server::testing {

// A fresh data directory's path, not yet created (StartServer formats it; removed by the
// destructor).
class TempDataDir {
 public:
  TempDataDir();
  ~TempDataDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Small tables, ephemeral ports, short idle timeout.
ServerConfig TestConfig(const std::string& data_dir);
// The same with payments (the ledger) and fulfilment on, their tables small too.
ServerConfig ModulesConfig(const std::string& data_dir);

// Formats config.data_dir with the config's shape (engine and clock) unless it is formatted.
[[nodiscard]] Status FormatForConfig(const ServerConfig& config);
// Formats the data directory if it is new (FormatForConfig), opens and starts a server;
// asserts on failure.
std::unique_ptr<Server> StartServer(const ServerConfig& config);

// A client of the binary port on loopback; a failed connect fails the test and returns null.
std::unique_ptr<client::Client> ConnectClient(uint16_t port, uint32_t request_timeout_ms = 10000);

// A blocking loopback TCP socket; -1 on failure.
int ConnectLoopback(uint16_t port);
// Sends all bytes; false on error.
bool SendAll(int fd, const void* data, size_t size);
// Reads exactly `size` bytes or until EOF/timeout; returns bytes read.
size_t RecvSome(int fd, void* data, size_t size, int timeout_ms);
// True if the peer closed (read returns 0) within timeout_ms, reading and dropping data.
bool WaitClosed(int fd, int timeout_ms);

// One HTTP/1.1 request on a fresh connection; returns status and body (-1 on failure).
struct HttpReply {
  int status = -1;
  std::string content_type;
  std::string idempotent_replayed;  // the Idempotent-Replayed header, "" when absent
  std::map<std::string, std::string> headers;  // every header, by the name as sent
  std::string body;
};
// Extra request headers (name, value), e.g. {{"Authorization", "Bearer ek_..."}}.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
// POSTs carry Content-Type: application/json (as the server requires).
HttpReply HttpCall(uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = "", const HttpHeaders& headers = {});

// The same on a raw socket that gives up after `timeout_ms` (status -1): for a server that
// might not answer at all.
HttpReply HttpCallWithin(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, int timeout_ms);

// The field `key` of a JSON object body (a number or a string, as text); "" if absent.
std::string Field(const std::string& body, std::string_view key);

// A metric's value from /metrics, or -1 if absent.
double MetricValue(uint16_t http_port, const std::string& name);
// Reads a metric until `done(value)` holds or 20 s pass (the server's threads update their
// figures on their own schedule); its last value.
double WaitForMetric(uint16_t http_port, const std::string& name, const std::function<bool(double)>& done);
// ... until it reaches `at_least`.
double WaitForMetric(uint16_t http_port, const std::string& name, double at_least);

}  // namespace eleven::server::testing
