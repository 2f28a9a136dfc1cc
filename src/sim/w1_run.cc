#include "sim/w1_run.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <vector>

#include "base/assert.h"
#include "base/clock.h"
#include "base/big_array.h"
#include "replica/replica.h"
#include "sim/w1.h"
#include "sim/w1_engine.h"

namespace eleven::sim {

namespace {

// Log time for the run: the order stream starts at 2 s; batches are stamped by wall time
// offset from there, so the engine sees time move as it would in production.
constexpr uint64_t kStartUs = 2'000'000;

struct InFlight {
  uint64_t op;
  uint64_t submitted_ns;
  uint32_t count;
};

double Percentile(std::vector<uint32_t>& latencies_us, double q) {
  if (latencies_us.empty()) return 0;
  const size_t at = std::min(latencies_us.size() - 1, size_t(q * double(latencies_us.size())));
  std::nth_element(latencies_us.begin(), latencies_us.begin() + long(at), latencies_us.end());
  return latencies_us[at];
}

Status LoadCatalog(replica::Replica& replica) {
  const std::vector<wire::Command> catalog = W1CatalogCommands();
  std::vector<wire::Result> results(8190);
  for (size_t at = 0; at < catalog.size(); at += results.size()) {
    const size_t count = std::min(results.size(), catalog.size() - at);
    uint64_t op = 0;
    ELEVEN_RETURN_IF_ERROR(replica.Submit(std::span(catalog.data() + at, count), 1'000'000, results, &op));
    for (size_t i = 0; i < count; i++) {
      if (results[i].code != wire::Code::ok) {
        return Status::FailedPrecondition("W1 catalog refused: " + std::string(wire::CodeName(results[i].code)));
      }
    }
  }
  return replica.WaitDurable(replica.op_submitted());
}

// Resends orders already processed: each must return exactly its first result.
Status ResendSample(replica::Replica& replica, const W1RunOptions& options) {
  const uint64_t count = std::min(options.resend_sample, options.order_count);
  if (count == 0) return Status::Ok();
  std::vector<wire::Command> commands;
  std::vector<wire::Result> expected;
  w1::Generator generator(options.seed);
  const uint64_t stride = std::max<uint64_t>(1, options.order_count / count);
  for (uint64_t i = 0; i < options.order_count && commands.size() < count; i++) {
    const w1::Order order = generator.Next();
    if (i % stride != 0) continue;
    commands.push_back(W1OrderCommand(order));
    wire::OrderRecord record{};
    ELEVEN_ASSERT(replica.engine().GetOrderByKey(order.key, &record) == wire::Code::ok);
    wire::Result r{};
    r.code = record.code;
    r.operation = wire::Operation::kPlaceOrder;
    r.state = record.state;
    r.id = record.order_id;
    r.amount_fen = record.total_fen;
    r.at_us = record.pay_by_us;
    r.flags = static_cast<uint8_t>(wire::ResultFlags::kReplayed);  // the same request again
    expected.push_back(r);
  }
  std::vector<wire::Result> results(commands.size());
  uint64_t op = 0;
  ELEVEN_RETURN_IF_ERROR(replica.Submit(commands, replica.engine().last_timestamp_us(), results, &op));
  ELEVEN_RETURN_IF_ERROR(replica.WaitDurable(op));
  for (size_t i = 0; i < commands.size(); i++) {
    // A remembered result: same code and order id and total; state may have moved on only
    // by expiry, which W1's pay window (15 min) does not reach.
    if (std::memcmp(&results[i], &expected[i], sizeof(wire::Result)) != 0) {
      return Status::Corruption("resent W1 order " + std::to_string(i) + " returned a different result: code " +
                                std::string(wire::CodeName(results[i].code)) + " vs " +
                                std::string(wire::CodeName(expected[i].code)) + ", id " +
                                std::to_string(results[i].id) + " vs " + std::to_string(expected[i].id) +
                                ", state " + std::to_string(int(results[i].state)) + " vs " +
                                std::to_string(int(expected[i].state)));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string W1RunResult::ToJson(Durability durability) const {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer),
                "{\"system\":\"eleven\",\"durability\":\"%s\",\"orders\":%llu,\"accepted\":%llu,"
                "\"rejected\":%llu,\"seconds\":%.3f,\"orders_per_s\":%.0f,\"p50_us\":%.0f,"
                "\"p99_us\":%.0f,\"p999_us\":%.0f,\"syncs\":%llu,\"sync_p50_us\":%llu,"
                "\"sync_p99_us\":%llu,\"sync_max_us\":%llu,\"journal_bytes_per_order\":%.1f,"
                "\"verified\":%s}",
                durability == Durability::kDurable ? "durable" : "relaxed",
                (unsigned long long)orders, (unsigned long long)accepted,
                (unsigned long long)rejected, seconds, orders_per_s, p50_us, p99_us, p999_us,
                (unsigned long long)syncs, (unsigned long long)sync_p50_us,
                (unsigned long long)sync_p99_us, (unsigned long long)sync_max_us,
                orders ? double(journal_bytes) / double(orders) : 0.0,
                verified ? "true" : "false");
  return buffer;
}

Status RunW1Embedded(const W1RunOptions& options, W1RunResult* result) {
  ELEVEN_ASSERT(options.batch_size > 0 && options.in_flight_max > 0);
  Env* env = Env::Default();
  replica::ReplicaOptions replica_options;
  replica_options.engine = W1EngineConfig(options.order_count + options.resend_sample);
  replica_options.journal.prepare_segments = options.prepare_segments;
  ELEVEN_RETURN_IF_ERROR(
      replica::FormatDataDir(env, options.data_dir, replica::ShapeOf(replica_options)));
  std::unique_ptr<replica::Replica> replica;
  replica::RecoveryReport report;
  ELEVEN_RETURN_IF_ERROR(replica::Replica::Open(env, options.data_dir, replica_options, &replica, &report));
  ELEVEN_RETURN_IF_ERROR(LoadCatalog(*replica));

  // Generate the stream up front: the generator is not what is measured. On huge pages, as
  // the engine's tables are: walking gigabytes of 4 KiB pages once costs a TLB miss every 32
  // commands, which a server's small, reused receive buffers never pay.
  BigArray<wire::Command> orders(options.order_count);
  {
    w1::Generator generator(options.seed);
    for (uint64_t i = 0; i < options.order_count; i++) orders[i] = W1OrderCommand(generator.Next());
  }
  BigArray<wire::Result> results(options.order_count);
  std::vector<uint32_t> latencies_us;
  latencies_us.reserve(options.order_count / options.batch_size + 1);
  std::vector<uint32_t> batch_sizes;
  std::deque<InFlight> in_flight;
  const uint64_t syncs_before = replica->journal_sync_count();
  const LogHistogram::Counts sync_us_before = replica->journal_sync_histogram().Read();
  const uint64_t bytes_before = replica->journal_bytes_written();
  const uint64_t started_ns = MonotonicNs();

  auto release = [&](uint64_t durable_op) {
    const uint64_t now_ns = MonotonicNs();
    while (!in_flight.empty() && in_flight.front().op <= durable_op) {
      latencies_us.push_back(uint32_t((now_ns - in_flight.front().submitted_ns) / 1000));
      batch_sizes.push_back(in_flight.front().count);
      in_flight.pop_front();
    }
  };
  for (uint64_t at = 0; at < options.order_count; at += options.batch_size) {
    const uint64_t count = std::min<uint64_t>(options.batch_size, options.order_count - at);
    const uint64_t now_ns = MonotonicNs();
    uint64_t op = 0;
    ELEVEN_RETURN_IF_ERROR(replica->Submit(std::span(orders.get() + at, count),
                                           kStartUs + (now_ns - started_ns) / 1000,
                                           std::span(results.get() + at, count), &op));
    replica->Flush();
    in_flight.push_back({op, now_ns, uint32_t(count)});
    if (options.durability == Durability::kRelaxed) {
      release(op);  // released as soon as applied
    } else {
      release(replica->op_durable());
      if (in_flight.size() >= options.in_flight_max) {
        ELEVEN_RETURN_IF_ERROR(replica->WaitDurable(in_flight.front().op));
        release(replica->op_durable());
      }
    }
  }
  ELEVEN_RETURN_IF_ERROR(replica->WaitDurable(replica->op_submitted()));
  release(replica->op_durable());
  const uint64_t ended_ns = MonotonicNs();

  // Per-order latency: each batch's latency counts once per order in it.
  std::vector<uint32_t> per_order;
  per_order.reserve(options.order_count);
  for (size_t i = 0; i < latencies_us.size(); i++) per_order.insert(per_order.end(), batch_sizes[i], latencies_us[i]);

  W1Tally tally;
  w1::Generator generator(options.seed);
  for (uint64_t i = 0; i < options.order_count; i++) tally.Count(generator.Next(), results[i]);
  *result = W1RunResult{};
  result->orders = options.order_count;
  result->accepted = tally.accepted;
  result->rejected = tally.rejected;
  result->seconds = double(ended_ns - started_ns) / 1e9;
  result->orders_per_s = double(options.order_count) / result->seconds;
  result->p50_us = Percentile(per_order, 0.50);
  result->p99_us = Percentile(per_order, 0.99);
  result->p999_us = Percentile(per_order, 0.999);
  result->syncs = replica->journal_sync_count() - syncs_before;
  const LogHistogram::Counts sync_us =
      LogHistogram::Since(replica->journal_sync_histogram().Read(), sync_us_before);
  result->sync_p50_us = LogHistogram::QuantileUs(sync_us, 0.50);
  result->sync_p99_us = LogHistogram::QuantileUs(sync_us, 0.99);
  result->sync_max_us = LogHistogram::QuantileUs(sync_us, 1.0);
  result->journal_bytes = replica->journal_bytes_written() - bytes_before;
  ELEVEN_RETURN_IF_ERROR(VerifyW1(replica->engine(), tally, options.seed, options.order_count));
  ELEVEN_RETURN_IF_ERROR(ResendSample(*replica, options));
  result->verified = true;
  return Status::Ok();
}

}  // namespace eleven::sim
