// The binary protocol listener (docs/protocol.md): accepts connections, cuts frames out of
// the byte stream, turns each into a Request for the engine loop, and writes the replies in
// the order they are released (which, per connection, may differ from the request order:
// replies carry the request id). I/O thread only.
//
// Limits: connection_count_max (further connections are closed at once),
// connection_requests_in_flight_max (the connection stops reading until replies have left:
// TCP flow control pushes back on the client), the pool's requests and bytes in flight (a
// "busy" reply), frame_body_size_max (the connection is told frame_too_large and closed),
// idle_timeout_ms (a connection with nothing in flight that sent nothing for that long,
// such as one that sent half a frame and went silent, is told idle_timeout and closed; one
// still in its TLS handshake is closed untold).
//
// TLS ([tls], server/tls.h): with a context, every connection first completes a server
// handshake (a failed one, e.g. plain bytes or a client certificate that does not verify,
// closes it) and then speaks the protocol over it; net::Stream keeps the plain path at one
// branch per read or write.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "base/status.h"
#include "server/core.h"

namespace eleven::server {

class BinaryConnection;

class BinaryListener {
 public:
  // `tls` (outliving the listener), or null for plain TCP.
  BinaryListener(Core* core, asio::ssl::context* tls);
  ~BinaryListener();
  // Takes over `bound_fd`, a socket bound to host:port and listening (Server::Open binds
  // its addresses before anything else, so an address in use stops the start at once).
  [[nodiscard]] Status Listen(const std::string& host, uint16_t port, int bound_fd);
  uint16_t port() const { return port_; }
  void Start();  // on the I/O thread
  void StopAccepting();
  void CloseAll();
  void Forget(uint64_t connection_id);

 private:
  void Accept();
  void Sweep();

  Core* const core_;
  asio::ssl::context* const tls_;
  tcp::acceptor acceptor_;
  asio::steady_timer sweep_timer_;
  uint16_t port_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<BinaryConnection>> connections_;
};

}  // namespace eleven::server
