// The part of the W1 peer drivers (Redis, PostgreSQL) that does not depend on the peer: the
// options, the closed-loop timed phase over C connections with pipeline depth P, latency
// percentiles, the checks of a peer's end state against the orders and their replies, and
// the one JSON line every system (eleven included) prints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "sim/w1.h"

namespace eleven::compare {

inline constexpr int kConnectionCountMax = 128;
inline constexpr int kPipelineDepthMax = 1024;
inline constexpr uint64_t kOrderCountMax = 100000000;
inline constexpr int kResendSampleCount = 1000;

struct Options {
  uint64_t order_count = 100000;
  uint64_t seed = 1;
  int connection_count = 4;
  int pipeline_depth = 16;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string durability;  // "durable" or "relaxed": what the server was started with
};

// Parses "--orders N --seed S --connections C --pipeline P --host H --port N
// --durability D"; unknown flags and out-of-range values are errors.
Status ParseOptions(int argc, char** argv, Options* options);

// What a peer answers for one order: the first result of its key, as W1's rules define.
enum class OrderStatus : int8_t { kAccepted = 0, kLimit = 1, kSoldOut = 2 };

struct Reply {
  OrderStatus status = OrderStatus::kAccepted;
  int64_t id = 0;     // order id; 0 for a rejection
  int64_t total = 0;  // fen; 0 for a rejection
  friend bool operator==(const Reply&, const Reply&) = default;
};

// One connection to the peer, used by one thread at a time.
class Session {
 public:
  virtual ~Session() = default;
  // Sends `orders` as one pipelined batch and waits for every reply (closed loop); the
  // replies land in `replies`, in order. Any transport or server error is returned.
  virtual Status PlaceBatch(std::span<const w1::Order> orders, std::span<Reply> replies) = 0;
};

struct Measurement {
  uint64_t order_count = 0;
  uint64_t accepted_count = 0;
  uint64_t rejected_count = 0;
  double seconds = 0;
  double latency_us_p50 = 0;
  double latency_us_p99 = 0;
};

// The first `count` orders of the seed's stream.
std::vector<w1::Order> GenerateOrders(uint64_t seed, uint64_t count);

// The timed phase: sessions.size() threads, each with its own session, take batches of
// `pipeline_depth` consecutive orders until all are placed. Every order's latency is its
// batch's, from the send of the batch to the last reply of it.
Status RunTimed(std::span<const std::unique_ptr<Session>> sessions,
                std::span<const w1::Order> orders, int pipeline_depth, std::vector<Reply>* replies,
                Measurement* measurement);

// Resends kResendSampleCount processed orders spread over the stream through `session` and
// checks that each reply equals the first.
Status CheckResend(Session* session, std::span<const w1::Order> orders,
                   std::span<const Reply> replies, int pipeline_depth);

// An order as a peer stores it.
struct StoredOrder {
  uint64_t key = 0;
  OrderStatus status = OrderStatus::kAccepted;
  int64_t id = 0;
  uint64_t buyer = 0;
  int64_t total = 0;
  uint8_t line_count = 0;  // 0 for a rejection (the peer keeps no lines for it)
  uint64_t sku[w1::kLineCountMax] = {};
  uint32_t quantity[w1::kLineCountMax] = {};
};

// A peer's end state, read back from the peer itself after the run.
struct EndState {
  std::vector<int64_t> stock;  // kSkuCount entries, by SKU
  std::vector<StoredOrder> orders;
  // For each hot SKU: how many holdings (sku, buyer) the peer records, and how many
  // distinct buyers among them.
  std::vector<int64_t> hot_holding_count;
  std::vector<int64_t> hot_holder_count;
};

// WORKLOAD.md's checks: no SKU below zero; initial - remaining = sum of accepted quantities
// (from the replies); stored orders = processed orders, stored accepted = accepted replies,
// each with the order's buyer and lines and the reply's status, id and total; every total =
// sum of price x quantity; ids unique; no buyer holds more than one unit of a hot SKU.
Status VerifyEndState(const EndState& state, std::span<const w1::Order> orders,
                      std::span<const Reply> replies);

// The result line shared with `eleven w1`:
// {"system":..,"durability":..,"orders":..,"accepted":..,"rejected":..,"seconds":..,
//  "orders_per_s":..,"p50_us":..,"p99_us":..,"verified":..} plus the connection and
// pipeline settings.
std::string ResultJson(const std::string& system, const Options& options,
                       const Measurement& measurement, bool verified);

// Runs the steps every driver shares after its catalog is loaded: timed phase, resend,
// end-state read-back via `read_state`, verification, JSON on stdout. Returns the exit code.
int RunAndReport(const std::string& system, const Options& options,
                 std::span<const std::unique_ptr<Session>> sessions,
                 const std::function<Status(EndState*)>& read_state);

}  // namespace eleven::compare
