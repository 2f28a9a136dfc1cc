// The HTTP/JSON gateway and the live stock feed (Server-Sent Events), on Boost.Beast, on the
// server's I/O thread. Routes and JSON shapes are in docs/openapi.yaml.
//
// TLS ([tls], server/tls.h): with a context, every connection first completes a server
// handshake (a failed one, e.g. plain HTTP, closes it with no answer), then HTTP, SSE and
// WebSocket run over it unchanged; net::Stream keeps the plain path at one branch per read or
// write.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/core.h"

namespace eleven::server {

// Every route the gateway serves, as "GET /accounts/{}/transfers" ("{}" = an id segment), in
// the router's order: for checking docs/openapi.yaml against the server.
std::vector<std::string> HttpRoutes();

class HttpListener {
 public:
  // `tls` (outliving the listener), or null for plain HTTP.
  HttpListener(Core* core, asio::ssl::context* tls);
  ~HttpListener();
  // Takes over `bound_fd`, a socket bound to host:port and listening (Server::Open binds
  // its addresses before anything else, so an address in use stops the start at once).
  [[nodiscard]] Status Listen(const std::string& host, uint16_t port, int bound_fd);
  uint16_t port() const;
  void Start();
  void StopAccepting();
  void CloseAll();

  struct State;  // defined in http_server.cc

 private:
  std::unique_ptr<State> state_;
};

}  // namespace eleven::server
