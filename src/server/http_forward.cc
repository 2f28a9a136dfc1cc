#include "server/http_forward.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

namespace eleven::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void LeaderForwarder::Forward(const std::string& address, Request request, std::chrono::milliseconds timeout,
                              Done done) {
  address_ = address;
  request_ = std::move(request);
  request_.keep_alive(true);
  request_.prepare_payload();
  timeout_ = timeout;
  done_ = std::move(done);
  if (stream_ && connected_to_ == address_ && stream_->socket().is_open()) return Send(true);
  Connect();
}

void LeaderForwarder::Close() {
  if (!stream_) return;
  beast::error_code ignored;
  stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_->close();
}

void LeaderForwarder::Connect() {
  if (stream_) stream_->close();
  stream_.emplace(executor_);
  connected_to_.clear();
  buffer_.clear();
  const size_t colon = address_.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address_.size()) {
    return Finish(asio::error::make_error_code(asio::error::invalid_argument));
  }
  std::string host = address_.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto resolver = std::make_shared<tcp::resolver>(executor_);
  resolver->async_resolve(
      host, address_.substr(colon + 1), tcp::resolver::numeric_service,
      [self = shared_from_this(), resolver](const beast::error_code& error, tcp::resolver::results_type results) {
        if (error) return self->Finish(error);
        self->stream_->expires_after(self->timeout_);
        self->stream_->async_connect(results, [self](const beast::error_code& error, const tcp::endpoint&) {
          if (error) return self->Finish(error);
          beast::error_code ignored;
          self->stream_->socket().set_option(tcp::no_delay(true), ignored);
          self->connected_to_ = self->address_;
          self->Send(false);
        });
      });
}

void LeaderForwarder::Send(bool reused) {
  response_ = {};
  stream_->expires_after(timeout_);
  http::async_write(*stream_, request_, [self = shared_from_this(), reused](const beast::error_code& error, size_t) {
    // A kept-alive connection the leader closed fails here or on the first read: once more
    // on a new one.
    if (error) return reused ? self->Connect() : self->Finish(error);
    http::async_read(*self->stream_, self->buffer_, self->response_,
                     [self, reused](const beast::error_code& error, size_t) {
                       const bool closed_before_reply = error == http::error::end_of_stream ||
                                                        error == asio::error::connection_reset ||
                                                        error == asio::error::eof;
                       if (error && reused && closed_before_reply) return self->Connect();
                       self->Finish(error);
                     });
  });
}

void LeaderForwarder::Finish(const boost::system::error_code& error) {
  if (error || !response_.keep_alive()) {
    if (stream_) stream_->close();
    connected_to_.clear();
  } else {
    stream_->expires_never();
  }
  Done done = std::move(done_);
  done_ = nullptr;
  done(error, error ? nullptr : &response_);
}

}  // namespace eleven::server
