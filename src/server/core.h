// What the server's I/O thread shares between its listeners (binary protocol, HTTP, feeds):
// the io_context, the request pool, the engine loop's rings and the metrics. Everything in
// Core is used on the I/O thread only (engine_metrics is only read here).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>

#include "base/clock.h"
#include "server/api_keys.h"
#include "server/config.h"
#include "server/engine_loop.h"
#include "server/metrics.h"
#include "server/rate_limit.h"
#include "server/request.h"

namespace eleven::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Core {
  Core(const ServerConfig& server_config, EngineLoop* engine_loop, const EngineMetrics* metrics,
       std::unique_ptr<asio::ssl::context> tls_context = nullptr)
      : config(server_config),
        tls(std::move(tls_context)),
        pool(server_config.requests_in_flight_max, server_config.request_bytes_in_flight_max,
             server_config.request_bytes_retained_max),
        loop(engine_loop),
        engine_metrics(metrics) {
    limits.body_size_max = server_config.frame_body_size_max;
    limits.submit_count_max = server_config.engine.batch_command_count_max;
    limits.query_count_max = server_config.query_count_max;
  }

  // Called when a request's reply is released (latency from receipt to release).
  void RecordDone(const Request& request) {
    const uint64_t latency_us = (MonotonicNs() - request.received_ns) / 1000;
    io_metrics.latency.Record(latency_us, request.kind == RequestKind::kSubmit ? request.count : 1);
  }

  asio::io_context io{1};
  const ServerConfig config;
  // [tls]: the OpenSSL context of the listeners that speak TLS (config.tls says which);
  // null without [tls].
  const std::unique_ptr<asio::ssl::context> tls;
  protocol::FrameLimits limits;
  RequestPool pool;
  EngineLoop* const loop;
  // Cluster mode: the node's role (null on a single node); any thread may ask it.
  const replica::ReplicaRole* role = nullptr;
  // The lists' view of the snapshot follower's state (docs/read-side.md); null without a
  // follower (fork snapshots, cluster mode): lists then answer 503.
  const view::ReadView* read_view = nullptr;
  const EngineMetrics* const engine_metrics;  // written by the engine thread
  IoMetrics io_metrics;
  // API keys: published by the engine thread, read here to authenticate (docs/access.md).
  ApiKeyDirectory keys;
  // Per-key rate limits of both protocols (docs/access.md).
  RateLimiter limiter{config.rate_limits};
  bool stopping = false;
};

}  // namespace eleven::server
