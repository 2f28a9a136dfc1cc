// A connection's byte stream: a TCP socket, or TLS (OpenSSL, through Boost.Beast's
// ssl_stream) over one. The binary protocol's server and client and the HTTP gateway read
// and write through it, so one session class serves both kinds of listener.
//
// Cost: a plain stream calls the socket directly; the only price is one branch per read or
// write operation (not per byte), no virtual call and no allocation. A TLS stream holds its
// OpenSSL state on the heap (beast::ssl_stream), so the object moves cheaply either way.
//
// It models Asio's AsyncReadStream and AsyncWriteStream (any completion token), so
// asio::async_write, beast::http::async_read and websocket::stream<Stream> take it.
// Threads: like a socket, one thread (its executor's) at a time.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <utility>

namespace eleven::net {

class Stream {
 public:
  using Tls = boost::beast::ssl_stream<boost::asio::ip::tcp::socket>;
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // Plain TCP.
  explicit Stream(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  // TLS over `socket`, with `context` (which must outlive the stream); nothing is sent until
  // async_handshake.
  Stream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context)
      : socket_(socket.get_executor()), tls_(std::make_unique<Tls>(std::move(socket), context)) {}
  // A new socket (not yet connected), plain or with TLS over it.
  explicit Stream(boost::asio::io_context& io) : socket_(io) {}
  Stream(boost::asio::io_context& io, boost::asio::ssl::context& context)
      : socket_(io), tls_(std::make_unique<Tls>(io, context)) {}
  Stream(Stream&&) = default;
  Stream& operator=(Stream&&) = default;

  bool is_tls() const { return tls_ != nullptr; }
  // The TCP socket under the stream (options, shutdown, close).
  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : socket_; }
  // The TLS stream; only when is_tls().
  Tls& tls() { return *tls_; }
  executor_type get_executor() { return socket().get_executor(); }

  // The key id a verified client certificate named (tls::KeyIdOfPeer on the server; 0 if
  // none, and always 0 for plain TCP). Set once, after the handshake.
  uint32_t tls_key_id() const { return tls_key_id_; }
  void set_tls_key_id(uint32_t key_id) { tls_key_id_ = key_id; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            socket_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            socket_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  boost::asio::ip::tcp::socket socket_;  // unused (closed) when tls_ holds the socket
  std::unique_ptr<Tls> tls_;
  uint32_t tls_key_id_ = 0;
};

}  // namespace eleven::net
