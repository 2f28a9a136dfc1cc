// W1 applied to the engine in batches, one core, no I/O: the ceiling everything else
// (journal, network) is measured against. Each repetition starts from a fresh engine with
// the W1 catalog loaded (not timed) and applies the same first N orders of seed 1.
//
//   build/release/bench/engine_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "base/big_array.h"
#include "engine/engine.h"
#include "sim/w1.h"
#include "sim/w1_engine.h"

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

void BM_W1Apply(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  const auto& orders = W1Orders();
  Engine engine(eleven::sim::W1EngineConfig(kOrderCount));
  if (!eleven::sim::LoadW1Catalog(engine).ok()) {
    state.SkipWithError("catalog load failed");
    return;
  }
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

// 3,000,000 orders per repetition: 366 batches of 8190.
BENCHMARK(BM_W1Apply)->Arg(8190)->Iterations(366)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
