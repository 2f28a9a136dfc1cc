// Server figures for Prometheus (/metrics). Each counter has exactly one writer thread: the
// engine thread writes EngineMetrics, the I/O thread writes IoMetrics. Engine counters are
// atomics written with a plain load+store (no locked instruction: one writer), read with
// relaxed loads by the I/O thread when it renders /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "base/histogram.h"
#include "wire/records.h"

namespace eleven::engine {
struct EngineSales;
}

namespace eleven::server {

inline constexpr int kCodeCountMax = 400;  // result codes are 0..399 (wire/codes.h)

// One-writer counter.
class Counter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct EngineMetrics {
  Counter batches;             // replica Submit calls
  Counter ticks;               // entries with no commands, written for time-driven work
  Counter commands;            // commands submitted
  Counter orders_accepted;     // place_order results with code ok
  Counter queries;
  Counter inbox_depth;         // sampled each loop
  Counter op_submitted;
  Counter journal_syncs;
  Counter journal_bytes;
  Counter snapshots;           // written and checked
  Counter snapshot_failures;   // started but failed (the journal still holds everything)
  Counter snapshot_op;         // op of the newest snapshot written
  Counter snapshot_stall_us;   // the engine thread's stall for the last one
  Counter snapshot_follower_op;  // op the snapshot follower's copy of the state is at
  Counter snapshot_follower_lag_ops;  // op_durable - snapshot_follower_op (0 in fork mode)
  // Toward the next snapshot: journal replayed at start-up plus written, since the last one began.
  Counter journal_bytes_since_snapshot;
  // Cluster mode (docs/cluster.md).
  Counter followed_entries;     // entries applied as a follower
  Counter not_leader;           // submits answered not_leader
  Counter cluster_leader;       // 1 while this node leads its shard
  Counter cluster_term;         // the term it leads (0 as a follower)
  Counter cluster_catch_up_ms;  // from taking the lease to leading, the last time
  std::array<Counter, kCodeCountMax> results_by_code;
  // The sales figures (docs/read-side.md) in all and by city tier, as of op_submitted; by
  // region, country and drop they are GET /figures' (too many series for /metrics).
  struct SalesCounters {
    Counter gross_fen, discounts_fen, refunds_fen, net_fen, orders, units;
  };
  SalesCounters sales_total;
  std::array<SalesCounters, wire::kCityTierMax + 1> sales_by_tier;  // [0] unused
  void SetSales(const engine::EngineSales& sales);
  // The replica's group-commit durations (write + fdatasync), read when rendering.
  const LogHistogram* journal_sync_us = nullptr;
};

// Request latency from the moment the I/O thread took the request to the moment its reply
// was released (so it includes the group commit). Fixed buckets, upper bounds in µs.
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 14> kBoundsUs = {
      100, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
      UINT64_MAX};
  void Record(uint64_t latency_us, uint64_t weight) {
    size_t b = 0;
    while (latency_us > kBoundsUs[b]) b++;
    counts_[b] += weight;
    sum_us_ += latency_us * weight;
    total_ += weight;
  }
  void Render(const char* name, std::string* out) const;

 private:
  std::array<uint64_t, kBoundsUs.size()> counts_{};
  uint64_t sum_us_ = 0;
  uint64_t total_ = 0;
};

struct IoMetrics {
  uint64_t binary_connections = 0;
  uint64_t binary_connections_total = 0;
  uint64_t binary_connections_refused = 0;
  uint64_t http_connections = 0;
  uint64_t http_connections_refused = 0;  // over http.connections: answered 503 and closed
  uint64_t http_forwarded_total = 0;       // a follower's writes sent on to the leader
  uint64_t http_forward_failed_total = 0;  // of those, not answered by the leader (503 not_leader)
  uint64_t http_requests_total = 0;
  // Requests refused 401 on either protocol: a key malformed, unknown or revoked.
  uint64_t unauthenticated_total = 0;
  uint64_t rate_limited_total = 0;  // requests refused over their key's rate limit
  uint64_t cross_site_refused_total = 0;  // 415 (not JSON) and 403 (an origin not allowed)
  uint64_t frames_total = 0;
  uint64_t frame_errors_total = 0;
  uint64_t busy_replies_total = 0;
  uint64_t idle_closed_total = 0;
  // TLS handshakes that failed (plain bytes on a TLS port, a client certificate that does not
  // verify, a client that refused ours), both listeners.
  uint64_t tls_handshake_failures_total = 0;
  uint64_t feed_subscribers = 0;
  uint64_t feed_slow_closed_total = 0;  // viewers closed past feed.write_timeout_ms
  uint64_t feed_events_total = 0;
  uint64_t feed_topics = 0;
  // orders/s over the last full second, from EngineMetrics::orders_accepted.
  uint64_t orders_per_second = 0;
  uint64_t orders_seen_ = 0;
  // Read from the engine loop when /metrics is rendered.
  uint64_t pending_durable = 0;  // requests applied, waiting for their op to be durable
  uint64_t op_durable = 0;
  uint64_t journal_failed = 0;  // 1 once the journal failed (the replica is failed for good)
  LatencyHistogram latency;
};

// The Prometheus text exposition of everything above; the sales figures only if `sales`
// (operators and viewers may read them: docs/access.md).
std::string RenderMetrics(const EngineMetrics& engine, const IoMetrics& io, uint64_t requests_in_use,
                          uint64_t request_bytes_in_flight, bool sales);

}  // namespace eleven::server
