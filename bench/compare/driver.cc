#include "driver.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/assert.h"

namespace eleven::compare {
namespace {

using Clock = std::chrono::steady_clock;

bool ParseInteger(const char* text, uint64_t min, uint64_t max, uint64_t* value) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long parsed = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  if (parsed < min || parsed > max) return false;
  *value = parsed;
  return true;
}

// One batch's latency and how many orders it carried (each order is attributed its batch's
// latency).
struct LatencySample {
  uint32_t latency_us;
  uint32_t order_count;
};

double Percentile(std::vector<LatencySample>* samples, uint64_t order_count, double fraction) {
  if (samples->empty()) return 0;
  std::sort(samples->begin(), samples->end(), [](const LatencySample& a, const LatencySample& b) {
    return a.latency_us < b.latency_us;
  });
  // The smallest latency that at least `fraction` of the orders did not exceed.
  const auto rank = static_cast<uint64_t>(fraction * static_cast<double>(order_count - 1));
  uint64_t seen = 0;
  for (const LatencySample& sample : *samples) {
    seen += sample.order_count;
    if (seen > rank) return sample.latency_us;
  }
  return samples->back().latency_us;
}

int64_t OrderTotal(const w1::Order& order) {
  int64_t total = 0;
  for (int j = 0; j < order.line_count; j++) total += w1::Price(order.sku[j]) * order.quantity[j];
  return total;
}

std::string OrderName(const w1::Order& order) { return "order " + w1::FormatLine(order); }

}  // namespace

Status ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Status::InvalidArgument(flag + " needs a value");
    const char* value = argv[i + 1];
    uint64_t number = 0;
    bool good = true;
    if (flag == "--orders") {
      good = ParseInteger(value, 1, kOrderCountMax, &options->order_count);
    } else if (flag == "--seed") {
      good = ParseInteger(value, 0, UINT64_MAX, &options->seed);
    } else if (flag == "--connections") {
      good = ParseInteger(value, 1, kConnectionCountMax, &number);
      options->connection_count = static_cast<int>(number);
    } else if (flag == "--pipeline") {
      good = ParseInteger(value, 1, kPipelineDepthMax, &number);
      options->pipeline_depth = static_cast<int>(number);
    } else if (flag == "--port") {
      good = ParseInteger(value, 1, 65535, &number);
      options->port = static_cast<int>(number);
    } else if (flag == "--host") {
      options->host = value;
    } else if (flag == "--durability") {
      options->durability = value;
      good = options->durability == "durable" || options->durability == "relaxed";
    } else {
      return Status::InvalidArgument("unknown flag " + flag);
    }
    if (!good) return Status::InvalidArgument("bad value for " + flag + ": " + value);
  }
  if (options->port == 0) return Status::InvalidArgument("--port is required");
  if (options->durability.empty()) return Status::InvalidArgument("--durability is required");
  return Status::Ok();
}

std::vector<w1::Order> GenerateOrders(uint64_t seed, uint64_t count) {
  ELEVEN_ASSERT(count <= kOrderCountMax);
  std::vector<w1::Order> orders;
  orders.reserve(count);
  w1::Generator generator(seed);
  for (uint64_t i = 0; i < count; i++) orders.push_back(generator.Next());
  return orders;
}

Status RunTimed(std::span<const std::unique_ptr<Session>> sessions,
                std::span<const w1::Order> orders, int pipeline_depth, std::vector<Reply>* replies,
                Measurement* measurement) {
  ELEVEN_ASSERT(!sessions.empty() && pipeline_depth >= 1);
  replies->assign(orders.size(), Reply{});
  const uint64_t batch_count = (orders.size() + pipeline_depth - 1) / pipeline_depth;
  std::atomic<uint64_t> next_batch{0};
  std::mutex mutex;  // guards `failure` and `samples`, touched once per thread
  Status failure;
  std::vector<LatencySample> samples;
  samples.reserve(batch_count);

  const auto work = [&](Session* session) {
    std::vector<LatencySample> local;
    local.reserve(batch_count / sessions.size() + 1);
    for (;;) {
      const uint64_t batch = next_batch.fetch_add(1);
      if (batch >= batch_count) break;
      const uint64_t begin = batch * pipeline_depth;
      const uint64_t size = std::min<uint64_t>(pipeline_depth, orders.size() - begin);
      const Clock::time_point sent = Clock::now();
      Status status = session->PlaceBatch(orders.subspan(begin, size),
                                          std::span<Reply>(*replies).subspan(begin, size));
      const auto latency =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
      if (!status.ok()) {
        next_batch.store(batch_count);  // stop the other threads too
        std::lock_guard lock(mutex);
        if (failure.ok()) failure = std::move(status);
        break;
      }
      local.push_back({static_cast<uint32_t>(latency.count()), static_cast<uint32_t>(size)});
    }
    std::lock_guard lock(mutex);
    samples.insert(samples.end(), local.begin(), local.end());
  };

  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (const auto& session : sessions) threads.emplace_back(work, session.get());
  for (std::thread& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ELEVEN_RETURN_IF_ERROR(failure);

  *measurement = Measurement{};
  measurement->order_count = orders.size();
  measurement->seconds = seconds;
  for (const Reply& reply : *replies) {
    if (reply.status == OrderStatus::kAccepted) {
      measurement->accepted_count++;
    } else {
      measurement->rejected_count++;
    }
  }
  measurement->latency_us_p50 = Percentile(&samples, orders.size(), 0.50);
  measurement->latency_us_p99 = Percentile(&samples, orders.size(), 0.99);
  return Status::Ok();
}

Status CheckResend(Session* session, std::span<const w1::Order> orders,
                   std::span<const Reply> replies, int pipeline_depth) {
  ELEVEN_ASSERT(orders.size() == replies.size());
  const uint64_t sample_count = std::min<uint64_t>(kResendSampleCount, orders.size());
  std::vector<w1::Order> sample;
  std::vector<Reply> expected;
  for (uint64_t i = 0; i < sample_count; i++) {
    const uint64_t index = i * orders.size() / sample_count;  // spread over the whole run
    sample.push_back(orders[index]);
    expected.push_back(replies[index]);
  }
  std::vector<Reply> again(sample.size());
  for (uint64_t begin = 0; begin < sample.size(); begin += pipeline_depth) {
    const uint64_t size = std::min<uint64_t>(pipeline_depth, sample.size() - begin);
    ELEVEN_RETURN_IF_ERROR(session->PlaceBatch(std::span(sample).subspan(begin, size),
                                               std::span(again).subspan(begin, size)));
  }
  for (uint64_t i = 0; i < sample.size(); i++) {
    if (again[i] != expected[i]) {
      char text[160];
      std::snprintf(text, sizeof(text),
                    "resend changed the result: first {%d,%lld,%lld}, now {%d,%lld,%lld}",
                    static_cast<int>(expected[i].status), static_cast<long long>(expected[i].id),
                    static_cast<long long>(expected[i].total), static_cast<int>(again[i].status),
                    static_cast<long long>(again[i].id), static_cast<long long>(again[i].total));
      return Status::Corruption(OrderName(sample[i]) + ": " + text);
    }
  }
  return Status::Ok();
}

namespace {

// Checks the replies against the orders alone, and returns the units each SKU sold.
Status CheckReplies(std::span<const w1::Order> orders, std::span<const Reply> replies,
                    std::vector<int64_t>* sold) {
  sold->assign(w1::kSkuCount, 0);
  std::unordered_map<uint64_t, uint64_t> hot_holdings;  // sku * kBuyerCount + buyer -> order
  for (size_t i = 0; i < orders.size(); i++) {
    const w1::Order& order = orders[i];
    const Reply& reply = replies[i];
    if (reply.status != OrderStatus::kAccepted) {
      if (reply.id != 0 || reply.total != 0) {
        return Status::Corruption(OrderName(order) + ": a rejection with an id or a total");
      }
      continue;
    }
    if (reply.id <= 0) return Status::Corruption(OrderName(order) + ": accepted without an id");
    if (reply.total != OrderTotal(order)) {
      return Status::Corruption(OrderName(order) + ": total " + std::to_string(reply.total) +
                                " is not the sum of price x quantity " +
                                std::to_string(OrderTotal(order)));
    }
    for (int j = 0; j < order.line_count; j++) {
      (*sold)[order.sku[j]] += order.quantity[j];
      if (!w1::IsHot(order.sku[j])) continue;
      if (order.quantity[j] != 1 ||
          !hot_holdings.emplace(order.sku[j] * w1::kBuyerCount + order.buyer, i).second) {
        return Status::Corruption(OrderName(order) + ": a buyer got a second unit of hot SKU " +
                                  std::to_string(order.sku[j]));
      }
    }
  }
  return Status::Ok();
}

Status CheckStock(const EndState& state, const std::vector<int64_t>& sold) {
  if (state.stock.size() != w1::kSkuCount) return Status::Corruption("stock of some SKUs missing");
  for (uint64_t sku = 0; sku < w1::kSkuCount; sku++) {
    const int64_t remaining = state.stock[sku];
    if (remaining < 0) return Status::Corruption("SKU " + std::to_string(sku) + " below zero");
    if (w1::InitialStock(sku) - remaining != sold[sku]) {
      return Status::Corruption("SKU " + std::to_string(sku) + ": initial " +
                                std::to_string(w1::InitialStock(sku)) + " - remaining " +
                                std::to_string(remaining) + " != accepted units " +
                                std::to_string(sold[sku]));
    }
  }
  for (uint64_t sku = 0; sku < w1::kHotSkuCount; sku++) {
    if (state.hot_holding_count.size() != w1::kHotSkuCount ||
        state.hot_holding_count[sku] != sold[sku] || state.hot_holder_count[sku] != sold[sku]) {
      return Status::Corruption("hot SKU " + std::to_string(sku) +
                                ": holdings do not match one unit per buyer for the units sold");
    }
  }
  return Status::Ok();
}

Status CheckStoredOrder(const StoredOrder& stored, const w1::Order& order, const Reply& reply) {
  const std::string name = OrderName(order);
  if (stored.status != reply.status) return Status::Corruption(name + ": stored status differs");
  if (stored.buyer != order.buyer) return Status::Corruption(name + ": stored buyer differs");
  if (stored.status != OrderStatus::kAccepted) return Status::Ok();
  if (stored.id != reply.id || stored.total != reply.total) {
    return Status::Corruption(name + ": stored id or total differs from the reply");
  }
  if (stored.line_count != order.line_count) return Status::Corruption(name + ": stored lines");
  int64_t total = 0;
  for (int j = 0; j < order.line_count; j++) {
    if (stored.sku[j] != order.sku[j] || stored.quantity[j] != order.quantity[j]) {
      return Status::Corruption(name + ": stored line " + std::to_string(j) + " differs");
    }
    total += w1::Price(stored.sku[j]) * stored.quantity[j];
  }
  if (total != stored.total) return Status::Corruption(name + ": stored total != sum of lines");
  return Status::Ok();
}

Status CheckStoredOrders(const EndState& state, std::span<const w1::Order> orders,
                         std::span<const Reply> replies) {
  if (state.orders.size() != orders.size()) {
    return Status::Corruption("stored orders " + std::to_string(state.orders.size()) +
                              " != processed orders " + std::to_string(orders.size()));
  }
  std::unordered_map<uint64_t, size_t> index_of_key;
  index_of_key.reserve(orders.size());
  for (size_t i = 0; i < orders.size(); i++) index_of_key.emplace(orders[i].key, i);
  std::vector<bool> seen(orders.size(), false);
  std::unordered_map<int64_t, uint64_t> key_of_id;
  uint64_t accepted_stored = 0;
  uint64_t accepted_replies = 0;
  for (const Reply& reply : replies) accepted_replies += reply.status == OrderStatus::kAccepted;
  for (const StoredOrder& stored : state.orders) {
    const auto found = index_of_key.find(stored.key);
    if (found == index_of_key.end() || seen[found->second]) {
      return Status::Corruption("stored order with an unknown or repeated key " +
                                std::to_string(stored.key));
    }
    seen[found->second] = true;
    ELEVEN_RETURN_IF_ERROR(CheckStoredOrder(stored, orders[found->second], replies[found->second]));
    if (stored.status != OrderStatus::kAccepted) continue;
    accepted_stored++;
    if (!key_of_id.emplace(stored.id, stored.key).second) {
      return Status::Corruption("order id " + std::to_string(stored.id) + " given twice");
    }
  }
  if (accepted_stored != accepted_replies) {
    return Status::Corruption("stored accepted orders " + std::to_string(accepted_stored) +
                              " != accepted replies " + std::to_string(accepted_replies));
  }
  return Status::Ok();
}

}  // namespace

Status VerifyEndState(const EndState& state, std::span<const w1::Order> orders,
                      std::span<const Reply> replies) {
  ELEVEN_ASSERT(orders.size() == replies.size());
  std::vector<int64_t> sold;
  ELEVEN_RETURN_IF_ERROR(CheckReplies(orders, replies, &sold));
  ELEVEN_RETURN_IF_ERROR(CheckStock(state, sold));
  return CheckStoredOrders(state, orders, replies);
}

std::string ResultJson(const std::string& system, const Options& options,
                       const Measurement& measurement, bool verified) {
  const double orders_per_s =
      measurement.seconds > 0 ? static_cast<double>(measurement.order_count) / measurement.seconds
                              : 0;
  char text[512];
  std::snprintf(text, sizeof(text),
                "{\"system\":\"%s\",\"durability\":\"%s\",\"orders\":%llu,\"accepted\":%llu,"
                "\"rejected\":%llu,\"seconds\":%.3f,\"orders_per_s\":%.0f,\"p50_us\":%.0f,"
                "\"p99_us\":%.0f,\"verified\":%s,\"connections\":%d,\"pipeline\":%d}",
                system.c_str(), options.durability.c_str(),
                static_cast<unsigned long long>(measurement.order_count),
                static_cast<unsigned long long>(measurement.accepted_count),
                static_cast<unsigned long long>(measurement.rejected_count), measurement.seconds,
                orders_per_s, measurement.latency_us_p50, measurement.latency_us_p99,
                verified ? "true" : "false", options.connection_count, options.pipeline_depth);
  return text;
}

int RunAndReport(const std::string& system, const Options& options,
                 std::span<const std::unique_ptr<Session>> sessions,
                 const std::function<Status(EndState*)>& read_state) {
  const std::vector<w1::Order> orders = GenerateOrders(options.seed, options.order_count);
  std::vector<Reply> replies;
  Measurement measurement;
  Status status = RunTimed(sessions, orders, options.pipeline_depth, &replies, &measurement);
  if (!status.ok()) {
    std::fprintf(stderr, "%s: timed phase failed: %s\n", system.c_str(), status.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: %llu orders in %.2f s; resending a sample, reading back state\n",
               system.c_str(), static_cast<unsigned long long>(orders.size()), measurement.seconds);
  const Clock::time_point verify_start = Clock::now();
  status = CheckResend(sessions[0].get(), orders, replies, options.pipeline_depth);
  EndState state;
  if (status.ok()) status = read_state(&state);
  if (status.ok()) status = VerifyEndState(state, orders, replies);
  std::fprintf(stderr, "%s: resend and verification took %.1f s\n", system.c_str(),
               std::chrono::duration<double>(Clock::now() - verify_start).count());
  if (!status.ok()) {
    std::fprintf(stderr, "%s: VERIFICATION FAILED: %s\n", system.c_str(),
                 status.ToString().c_str());
  }
  std::printf("%s\n", ResultJson(system, options, measurement, status.ok()).c_str());
  std::fflush(stdout);
  return status.ok() ? 0 : 1;
}

}  // namespace eleven::compare
