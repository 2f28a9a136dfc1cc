// W1 applied to the engine in batches, one core, no I/O: the ceiling everything else
// (journal, network) is measured against. Each repetition starts from a fresh engine with
// the W1 catalog loaded (not timed) and applies the same first N orders of seed 1.
// BM_W1ApplyCoupons is the same with 30% of the orders redeeming a platform coupon their
// buyer claimed beforehand (the claims are not timed; docs/promotions.md); BM_W1CouponCost
// applies both in pairs of batches and says what a coupon order costs against a plain one.
//
//   build/release/bench/engine_bench --benchmark_repetitions=5
//   build/release/bench/engine_bench --benchmark_filter=CouponCost --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/big_array.h"
#include "engine/engine.h"
#include "sim/w1.h"
#include "sim/w1_engine.h"
#include "wire/make.h"

namespace {

using eleven::engine::BatchError;
using eleven::engine::Engine;

constexpr uint64_t kOrderCount = 4'000'000;
constexpr uint64_t kSeed = 1;

// On huge pages, as the engine's own tables are: a server's commands arrive in buffers that
// are small and cache-warm, not in a 512 MiB array walked once.
const eleven::BigArray<eleven::wire::Command>& W1Orders() {
  static const eleven::BigArray<eleven::wire::Command> orders = [] {
    eleven::BigArray<eleven::wire::Command> v(kOrderCount);
    eleven::w1::Generator generator(kSeed);
    for (uint64_t i = 0; i < kOrderCount; i++) v[i] = eleven::sim::W1OrderCommand(generator.Next());
    return v;
  }();
  return orders;
}

// The timed part of both benchmarks: `orders` in batches of `batch_size` from log time 2 s.
void ApplyTimed(benchmark::State& state, Engine& engine, const eleven::BigArray<eleven::wire::Command>& orders,
                size_t batch_size) {
  std::vector<eleven::wire::Result> results(batch_size);
  size_t at = 0;
  uint64_t accepted = 0;
  uint64_t timestamp_us = 2'000'000;
  for (auto _ : state) {
    if (at + batch_size > kOrderCount) {
      state.SkipWithError("ran out of pre-generated orders");
      break;
    }
    std::span<const eleven::wire::Command> batch(&orders[at], batch_size);
    if (engine.Apply(engine.last_op() + 1, timestamp_us++, batch, results) != BatchError::kNone) {
      state.SkipWithError("batch refused");
      break;
    }
    for (size_t i = 0; i < batch_size; i++) accepted += results[i].code == eleven::wire::Code::ok;
    at += batch_size;
  }
  state.SetItemsProcessed(static_cast<int64_t>(at));
  state.counters["accepted"] = static_cast<double>(accepted);
  state.counters["rejected"] = static_cast<double>(at - accepted);
}

void BM_W1Apply(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  const auto& orders = W1Orders();
  Engine engine(eleven::sim::W1EngineConfig(kOrderCount));
  if (!eleven::sim::LoadW1Catalog(engine).ok()) {
    state.SkipWithError("catalog load failed");
    return;
  }
  ApplyTimed(state, engine, orders, batch_size);
}

// 3,000,000 orders per repetition: 366 batches of 8190.
BENCHMARK(BM_W1Apply)->Arg(8190)->Iterations(366)->Unit(benchmark::kMillisecond);

// W1 with the filter of evicted keys on, sized for a day of 100 million keys (100 MB): every
// order's key is probed in it (docs/archive.md). The ring does not wrap here, so nothing is
// inserted: this is the probe's cost on every new key.
void BM_W1ApplyEvictedKeyFilter(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  eleven::engine::EngineConfig config = eleven::sim::W1EngineConfig(kOrderCount);
  config.evicted_key_count_max = 100'000'000;
  Engine engine(config);
  if (!eleven::sim::LoadW1Catalog(engine).ok()) {
    state.SkipWithError("catalog load failed");
    return;
  }
  ApplyTimed(state, engine, W1Orders(), batch_size);
}
BENCHMARK(BM_W1ApplyEvictedKeyFilter)->Arg(8190)->Iterations(366)->Unit(benchmark::kMillisecond);

// The coupon variant: order i carries a coupon when i % 10 < 3, a fixed 1-fen platform coupon
// (every W1 order is worth more, so each redeems it). A buyer's k-th coupon order names
// coupon kCouponIdBase + k, which the buyer claimed beforehand: each claim is redeemed once.
constexpr uint64_t kCouponIdBase = 1000;
constexpr uint64_t kTimedOrders = 366 * 8190;
struct CouponRun {
  eleven::BigArray<eleven::wire::Command> orders{kOrderCount};
  std::vector<eleven::wire::Command> setup;  // create the coupons, then every claim
  uint64_t coupon_orders = 0;
};
const CouponRun& W1CouponRun() {
  static const CouponRun run = [] {
    CouponRun r;
    const auto& plain = W1Orders();
    std::unordered_map<uint64_t, uint32_t> per_buyer;
    uint32_t coupons = 0;
    for (uint64_t i = 0; i < kOrderCount; i++) {
      eleven::wire::Command c = plain[i];
      if (i % 10 < 3 && i < kTimedOrders && c.place_order.line_count < eleven::wire::kOrderLineCountMax) {
        const uint32_t k = per_buyer[c.place_order.buyer_id]++;
        coupons = std::max(coupons, k + 1);
        eleven::wire::AddCoupon(c, kCouponIdBase + k);
        r.setup.push_back(eleven::wire::MakeClaimCoupon(kCouponIdBase + k, c.place_order.buyer_id));
        r.coupon_orders++;
      }
      r.orders[i] = c;
    }
    std::vector<eleven::wire::Command> creates;
    for (uint32_t k = 0; k < coupons; k++) {
      creates.push_back(eleven::wire::MakeCreateCoupon(kCouponIdBase + k, 0, eleven::wire::CouponKind::kFixed, 1,
                                                       0, 2'000'000'000, 0, UINT64_MAX));
    }
    r.setup.insert(r.setup.begin(), creates.begin(), creates.end());
    return r;
  }();
  return run;
}

// An engine with the W1 catalog, every coupon created and every claim made (not timed).
// Null, with the state's error set, when any of it is refused.
std::unique_ptr<Engine> CouponEngine(benchmark::State& state, size_t batch_size) {
  const CouponRun& run = W1CouponRun();
  eleven::engine::EngineConfig config = eleven::sim::W1EngineConfig(kOrderCount);
  config.coupon_claim_count_max = static_cast<uint32_t>(run.coupon_orders + 1024);
  config.coupon_order_count_max = static_cast<uint32_t>(run.coupon_orders + 1024);
  auto engine = std::make_unique<Engine>(config);
  if (!eleven::sim::LoadW1Catalog(*engine).ok()) {
    state.SkipWithError("catalog load failed");
    return nullptr;
  }
  std::vector<eleven::wire::Result> results(batch_size);
  for (size_t at = 0; at < run.setup.size(); at += batch_size) {
    const size_t n = std::min(batch_size, run.setup.size() - at);
    if (engine->Apply(engine->last_op() + 1, 1'500'000, std::span(&run.setup[at], n), results) !=
        BatchError::kNone) {
      state.SkipWithError("claims refused");
      return nullptr;
    }
    for (size_t i = 0; i < n; i++) {
      if (results[i].code != eleven::wire::Code::ok) {
        state.SkipWithError("a claim failed");
        return nullptr;
      }
    }
  }
  return engine;
}

void BM_W1ApplyCoupons(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  std::unique_ptr<Engine> engine = CouponEngine(state, batch_size);
  if (engine == nullptr) return;
  ApplyTimed(state, *engine, W1CouponRun().orders, batch_size);
  state.counters["coupon_orders"] = static_cast<double>(W1CouponRun().coupon_orders);
}
BENCHMARK(BM_W1ApplyCoupons)->Arg(8190)->Iterations(366)->Unit(benchmark::kMillisecond);

// What a coupon order costs against a plain one, measured in pairs: one process holds a plain
// W1 engine and a coupon engine and applies each batch to both, in alternating order, timing
// each, so that the machine's drift (a shared, noisy host) falls on both sides alike. With 30%
// of the orders carrying a coupon, a coupon order costs (t_coupons / t_plain - 0.7) / 0.3
// plain ones; the target is at most 1.5 (docs/promotions.md).
void BM_W1CouponCost(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  const auto& plain_orders = W1Orders();
  const auto& coupon_orders = W1CouponRun().orders;
  Engine plain(eleven::sim::W1EngineConfig(kOrderCount));
  if (!eleven::sim::LoadW1Catalog(plain).ok()) {
    state.SkipWithError("catalog load failed");
    return;
  }
  std::unique_ptr<Engine> coupons = CouponEngine(state, batch_size);
  if (coupons == nullptr) return;
  std::vector<eleven::wire::Result> results(batch_size);
  using Clock = std::chrono::steady_clock;
  Clock::duration spent[2] = {};
  uint64_t accepted[2] = {};
  size_t at = 0;
  uint64_t timestamp_us = 2'000'000;
  for (auto _ : state) {
    if (at + batch_size > kOrderCount) {
      state.SkipWithError("ran out of pre-generated orders");
      return;
    }
    for (int turn = 0; turn < 2; turn++) {
      const int side = (turn + static_cast<int>(at / batch_size)) % 2;  // 0 plain, 1 coupons
      Engine& engine = side == 0 ? plain : *coupons;
      std::span<const eleven::wire::Command> batch(&(side == 0 ? plain_orders : coupon_orders)[at], batch_size);
      const Clock::time_point start = Clock::now();
      const BatchError error = engine.Apply(engine.last_op() + 1, timestamp_us, batch, results);
      spent[side] += Clock::now() - start;
      if (error != BatchError::kNone) {
        state.SkipWithError("batch refused");
        return;
      }
      for (size_t i = 0; i < batch_size; i++) accepted[side] += results[i].code == eleven::wire::Code::ok;
    }
    timestamp_us++;
    at += batch_size;
  }
  if (accepted[0] != accepted[1]) state.SkipWithError("the two runs accepted different counts");
  const double plain_s = std::chrono::duration<double>(spent[0]).count();
  const double coupons_s = std::chrono::duration<double>(spent[1]).count();
  state.SetItemsProcessed(static_cast<int64_t>(2 * at));
  state.counters["plain_orders_per_s"] = static_cast<double>(at) / plain_s;
  state.counters["coupon_run_orders_per_s"] = static_cast<double>(at) / coupons_s;
  state.counters["coupon_order_cost_x"] = (coupons_s / plain_s - 0.7) / 0.3;
}
BENCHMARK(BM_W1CouponCost)->Arg(8190)->Iterations(366)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
