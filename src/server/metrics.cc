#include "server/metrics.h"

#include <cstdio>

#include "engine/engine.h"
#include "wire/codes.h"

namespace eleven::server {

namespace {

void Line(std::string* out, const char* name, uint64_t value) {
  *out += name;
  *out += ' ';
  *out += std::to_string(value);
  *out += '\n';
}

void Help(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void Metric(std::string* out, const char* name, const char* type, const char* help, uint64_t value) {
  Help(out, name, type, help);
  Line(out, name, value);
}

void SecondsMetric(std::string* out, const char* name, const char* help, uint64_t micros) {
  Help(out, name, "gauge", help);
  char value[64];
  std::snprintf(value, sizeof(value), "%s %.6f\n", name, double(micros) / 1e6);
  *out += value;
}

// The group commits' write + fdatasync as a Prometheus histogram, one `le` per power of two
// from 64 µs to ~1 s (the fine buckets between them add up exactly; durations are whole µs,
// and one of exactly 2^k µs counts in the next `le`).
void RenderSyncHistogram(const LogHistogram& histogram, std::string* out) {
  const LogHistogram::Counts counts = histogram.Read();
  constexpr const char* kName = "eleven_journal_sync_seconds";
  Help(out, kName, "histogram", "journal group commit (write + fdatasync), seconds");
  uint64_t cumulative = 0;
  int b = 0;
  for (int exponent = 6; exponent <= 20; exponent++) {
    const uint64_t bound_us = uint64_t{1} << exponent;
    for (; b < LogHistogram::kBucketCount && LogHistogram::UpperUs(b) < bound_us; b++) cumulative += counts[b];
    char line[128];
    std::snprintf(line, sizeof(line), "%s_bucket{le=\"%.6f\"} %llu\n", kName, double(bound_us) / 1e6,
                  static_cast<unsigned long long>(cumulative));
    *out += line;
  }
  for (; b < LogHistogram::kBucketCount; b++) cumulative += counts[b];
  *out += std::string(kName) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  *out += std::string(kName) + "_sum " + std::to_string(double(histogram.sum_us()) / 1e6) + "\n";
  *out += std::string(kName) + "_count " + std::to_string(cumulative) + "\n";
}

}  // namespace

void LatencyHistogram::Render(const char* name, std::string* out) const {
  Help(out, name, "histogram", "request latency from receipt to durable reply, seconds");
  uint64_t cumulative = 0;
  for (size_t b = 0; b < kBoundsUs.size(); b++) {
    cumulative += counts_[b];
    *out += name;
    *out += "_bucket{le=\"";
    *out += kBoundsUs[b] == UINT64_MAX ? std::string("+Inf") : std::to_string(kBoundsUs[b] / 1e6);
    *out += "\"} " + std::to_string(cumulative) + "\n";
  }
  *out += std::string(name) + "_sum " + std::to_string(sum_us_ / 1e6) + "\n";
  *out += std::string(name) + "_count " + std::to_string(total_) + "\n";
}

void EngineMetrics::SetSales(const engine::EngineSales& sales) {
  auto set = [](SalesCounters& to, const engine::SalesFigures& f) {
    to.gross_fen.Set(uint64_t(f.gross_fen));
    to.discounts_fen.Set(uint64_t(f.discounts_fen));
    to.refunds_fen.Set(uint64_t(f.refunds_fen));
    to.net_fen.Set(uint64_t(f.gross_fen - f.discounts_fen - f.refunds_fen));
    to.orders.Set(f.orders);
    to.units.Set(f.units);
  };
  set(sales_total, sales.total);
  for (int t = 1; t <= wire::kCityTierMax; t++) set(sales_by_tier[t], sales.city_tier[t]);
}

namespace {

// eleven_sales_<figure> in all, and eleven_sales_by_city_tier_<figure>{city_tier="t"}.
void RenderSales(const EngineMetrics& e, std::string* out) {
  using C = EngineMetrics::SalesCounters;
  struct Figure {
    const char* name;
    const char* help;
    const Counter C::*counter;
  };
  static constexpr Figure kFigures[] = {
      {"gross_fen", "totals of paid orders", &C::gross_fen},
      {"discounts_fen", "coupon discounts and pre-sale deposit inflation", &C::discounts_fen},
      {"refunds_fen", "refunded after payment", &C::refunds_fen},
      {"net_fen", "gross - discounts - refunds", &C::net_fen},
      {"orders", "paid orders", &C::orders},
      {"units", "units of paid orders", &C::units},
  };
  for (const Figure& f : kFigures) {
    const std::string total = std::string("eleven_sales_") + f.name;
    Metric(out, total.c_str(), "gauge", f.help, (e.sales_total.*f.counter).Get());
    const std::string by_tier = std::string("eleven_sales_by_city_tier_") + f.name;
    Help(out, by_tier.c_str(), "gauge", (std::string(f.help) + ", by the buyer's city tier").c_str());
    for (int t = 1; t <= wire::kCityTierMax; t++) {
      *out += by_tier + "{city_tier=\"" + std::to_string(t) + "\"} " +
              std::to_string((e.sales_by_tier[t].*f.counter).Get()) + "\n";
    }
  }
}

}  // namespace

std::string RenderMetrics(const EngineMetrics& e, const IoMetrics& io, uint64_t requests_in_use,
                          uint64_t request_bytes_in_flight, bool sales) {
  std::string out;
  out.reserve(8192);
  Metric(&out, "eleven_orders_accepted_total", "counter", "place-order commands accepted", e.orders_accepted.Get());
  Metric(&out, "eleven_orders_per_second", "gauge", "orders accepted in the last full second", io.orders_per_second);
  Metric(&out, "eleven_commands_total", "counter", "commands applied", e.commands.Get());
  Metric(&out, "eleven_batches_total", "counter", "journal entries submitted", e.batches.Get());
  Metric(&out, "eleven_ticks_total", "counter",
         "entries with no commands written for time-driven work", e.ticks.Get());
  Metric(&out, "eleven_cluster_followed_entries_total", "counter",
         "log entries applied as a cluster follower", e.followed_entries.Get());
  Metric(&out, "eleven_cluster_not_leader_total", "counter", "submits answered not_leader",
         e.not_leader.Get());
  Metric(&out, "eleven_cluster_leader", "gauge", "1 while this node leads its shard",
         e.cluster_leader.Get());
  Metric(&out, "eleven_cluster_term", "gauge", "the term this node leads (0 while it follows)",
         e.cluster_term.Get());
  Metric(&out, "eleven_cluster_catch_up_ms", "gauge",
         "from taking the lease to leading (stream applied to its end), the last time",
         e.cluster_catch_up_ms.Get());
  Metric(&out, "eleven_queries_total", "counter", "queries, pings and feed polls answered", e.queries.Get());
  if (sales) RenderSales(e, &out);
  Help(&out, "eleven_results_total", "counter", "command results by code");
  for (int code = 0; code < kCodeCountMax; code++) {
    const uint64_t n = e.results_by_code[code].Get();
    if (n == 0) continue;
    out += "eleven_results_total{code=\"";
    out += wire::CodeName(static_cast<wire::Code>(code));
    out += "\"} " + std::to_string(n) + "\n";
  }
  io.latency.Render("eleven_request_latency_seconds", &out);
  Metric(&out, "eleven_inbox_depth", "gauge", "requests waiting for the engine thread", e.inbox_depth.Get());
  Metric(&out, "eleven_pending_durable", "gauge", "requests applied, waiting for durability", io.pending_durable);
  Metric(&out, "eleven_requests_in_flight", "gauge", "requests between receipt and reply", requests_in_use);
  Metric(&out, "eleven_request_bytes_in_flight", "gauge", "bytes held by requests in flight", request_bytes_in_flight);
  Metric(&out, "eleven_op_submitted", "gauge", "last op applied", e.op_submitted.Get());
  Metric(&out, "eleven_op_durable", "gauge", "last op durable", io.op_durable);
  Metric(&out, "eleven_journal_failed", "gauge",
         "1 once a journal write or sync failed: writes and reads are refused until a restart",
         io.journal_failed);
  Metric(&out, "eleven_journal_syncs_total", "counter", "journal fdatasync calls", e.journal_syncs.Get());
  Metric(&out, "eleven_journal_bytes_total", "counter", "journal bytes written", e.journal_bytes.Get());
  if (e.journal_sync_us != nullptr) RenderSyncHistogram(*e.journal_sync_us, &out);
  Metric(&out, "eleven_snapshots_total", "counter", "snapshots written", e.snapshots.Get());
  Metric(&out, "eleven_snapshot_failures_total", "counter", "snapshots that failed", e.snapshot_failures.Get());
  Metric(&out, "eleven_snapshot_op", "gauge", "op of the newest snapshot written", e.snapshot_op.Get());
  SecondsMetric(&out, "eleven_snapshot_stall_seconds", "engine stall of the last snapshot", e.snapshot_stall_us.Get());
  Metric(&out, "eleven_snapshot_follower_op", "gauge", "op the snapshot follower's copy of the state is at (0: fork mode)",
         e.snapshot_follower_op.Get());
  Metric(&out, "eleven_snapshot_follower_lag_ops", "gauge",
         "ops durable that the snapshot follower has not applied yet (0: fork mode)", e.snapshot_follower_lag_ops.Get());
  Metric(&out, "eleven_journal_bytes_since_snapshot", "gauge",
         "journal bytes toward the next snapshot (snapshot.journal_bytes): replayed at start-up plus written",
         e.journal_bytes_since_snapshot.Get());
  Metric(&out, "eleven_binary_connections", "gauge", "open binary-protocol connections", io.binary_connections);
  Metric(&out, "eleven_binary_connections_refused_total", "counter", "connections over the limit", io.binary_connections_refused);
  Metric(&out, "eleven_frames_total", "counter", "binary frames received", io.frames_total);
  Metric(&out, "eleven_frame_errors_total", "counter", "malformed binary frames", io.frame_errors_total);
  Metric(&out, "eleven_busy_replies_total", "counter", "requests refused as busy", io.busy_replies_total);
  Metric(&out, "eleven_idle_closed_total", "counter", "connections closed for idleness", io.idle_closed_total);
  Metric(&out, "eleven_tls_handshake_failures_total", "counter",
         "TLS handshakes that failed (plain bytes, a client certificate that does not verify, ...)",
         io.tls_handshake_failures_total);
  Metric(&out, "eleven_http_connections", "gauge", "open HTTP connections (feeds included)", io.http_connections);
  Metric(&out, "eleven_http_connections_refused_total", "counter",
         "HTTP connections over http.connections (answered 503 busy)", io.http_connections_refused);
  Metric(&out, "eleven_http_forwarded_total", "counter", "writes a cluster follower sent on to the leader",
         io.http_forwarded_total);
  Metric(&out, "eleven_http_forward_failed_total", "counter",
         "writes sent on to the leader that it did not answer (answered 503 not_leader)",
         io.http_forward_failed_total);
  Metric(&out, "eleven_feed_slow_closed_total", "counter",
         "feed viewers closed because an event was not written within feed.write_timeout_ms",
         io.feed_slow_closed_total);
  Metric(&out, "eleven_http_requests_total", "counter", "HTTP requests", io.http_requests_total);
  Metric(&out, "eleven_unauthenticated_total", "counter",
         "requests refused for a malformed, unknown or revoked key", io.unauthenticated_total);
  Metric(&out, "eleven_rate_limited_total", "counter", "requests refused over their key's rate limit",
         io.rate_limited_total);
  Metric(&out, "eleven_cross_site_refused_total", "counter",
         "HTTP writes refused for a body that is not JSON or an origin not allowed",
         io.cross_site_refused_total);
  Metric(&out, "eleven_feed_subscribers", "gauge", "open feed subscriptions", io.feed_subscribers);
  Metric(&out, "eleven_feed_topics", "gauge", "SKUs and drops with subscribers", io.feed_topics);
  Metric(&out, "eleven_feed_events_total", "counter", "feed events written to subscribers", io.feed_events_total);
  return out;
}

}  // namespace eleven::server
