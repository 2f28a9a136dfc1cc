// A follower's HTTP gateway sends a write on to the cluster's leader (docs/cluster.md, "Roles
// on the wire"): one upstream connection per client connection, kept alive while the leader
// stays at the same address, over the I/O thread's io_context (Boost.Beast's HTTP client).
//
// A request is sent once on a kept-alive connection; if that connection turns out to have
// been closed by the leader (an error before any reply byte), it is sent again on a new one,
// which is safe because every write eleven takes is idempotent (docs/server.md, Retries).
// Any other failure — the address does not resolve, the connection is refused, no reply
// within the timeout — is handed back as an error: the gateway then answers not_leader.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace eleven::server {

class LeaderForwarder : public std::enable_shared_from_this<LeaderForwarder> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  // Called once per Forward on the I/O thread: no error and the leader's reply, or the error
  // (the reply then is empty).
  using Done = std::function<void(const boost::system::error_code& error, Response* response)>;

  explicit LeaderForwarder(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // Sends `request` to `address` ("host:port") and reads the reply; `done` is called once.
  // One Forward at a time.
  void Forward(const std::string& address, Request request, std::chrono::milliseconds timeout, Done done);
  // Closes the upstream connection; a Forward in flight ends with operation_aborted.
  void Close();

 private:
  void Connect();
  void Send(bool reused);
  void Finish(const boost::system::error_code& error);

  boost::asio::any_io_executor executor_;
  std::optional<boost::beast::tcp_stream> stream_;
  std::string connected_to_;  // the address stream_ is connected to
  boost::beast::flat_buffer buffer_;
  std::string address_;
  Request request_;
  Response response_;
  std::chrono::milliseconds timeout_{0};
  Done done_;
};

}  // namespace eleven::server
