// TLS for the server's listeners (docs/server.md, "TLS"): the OpenSSL context built from
// [tls], and the principal a client certificate names (mTLS, docs/access.md).
//
// The context is built once at start-up (Server::Open), before anything is opened, and
// shared read-only by every TLS connection on the I/O thread. A missing or unreadable file,
// a file that is not PEM of the right kind, or a key that does not match the certificate is
// a Status naming the key and the file; nothing else fails later.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "server/config.h"

namespace eleven::server::tls {

// The common name of a client certificate that names API key <id>: "eleven-key-<id>".
inline constexpr std::string_view kKeyCommonNamePrefix = "eleven-key-";

// A server context for `config` (config.enabled): TLS 1.2 or later, the certificate chain
// and key loaded and checked against each other, and with client_ca_file, client
// certificates asked for and verified against that CA (one not given is allowed).
[[nodiscard]] Status MakeServerContext(const TlsConfig& config,
                                       std::unique_ptr<boost::asio::ssl::context>* context);

// "eleven-key-<id>" -> id (1 .. 2^32-1, decimal digits only, no leading zero); 0 for any
// other name.
uint32_t KeyIdFromCommonName(std::string_view common_name);

// After a server handshake: the key id the peer's certificate names, if it sent one and it
// was verified (X509_V_OK) and its subject has exactly one CN that KeyIdFromCommonName takes;
// else 0.
uint32_t KeyIdOfPeer(SSL* ssl);

}  // namespace eleven::server::tls
