// Ledger throughput: simple transfers applied per second on one core, in batches of 8190
// (one full message) between 10,000 accounts chosen at random. Release builds only; report
// the median of repetitions:
//   ledger_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "engine/ledger/ledger.h"
#include "engine/ledger/ledger_test_util.h"

namespace eleven::engine {
namespace {

constexpr uint32_t kAccountCount = 10'000;
constexpr uint32_t kBatchSize = 8190;
// Batches applied to one ledger before it is rebuilt (outside the timing): enough to run
// well past the caches' warm-up, few enough to keep memory modest (~100 MiB of transfers).
constexpr uint32_t kBatchesPerLedger = 120;

LedgerConfig BenchConfig() {
  LedgerConfig c;
  c.account_count_max = kAccountCount + 64;
  c.transfer_count_max = kBatchSize * kBatchesPerLedger;
  c.buyer_count_max = 16;
  c.merchant_count_max = 16;
  c.order_count_max = 16;
  c.plan_count_max = 16;
  c.chain_length_max = kBatchSize;
  return c;
}

std::unique_ptr<Ledger> NewLedger() {
  auto ledger = std::make_unique<Ledger>(BenchConfig());
  std::vector<wire::Command> accounts;
  for (uint64_t id = 1; id <= kAccountCount; id++) accounts.push_back(testing::CreateAccountCmd(id));
  for (const wire::Result& r : testing::ApplyAll(*ledger, accounts, 1)) {
    if (r.code != wire::Code::ok) std::abort();
  }
  return ledger;
}

void BM_LedgerTransfers(benchmark::State& state) {
  std::mt19937_64 rng(42);
  std::vector<std::vector<wire::Command>> batches(kBatchesPerLedger);
  uint64_t id = 1;
  for (auto& batch : batches) {
    batch.reserve(kBatchSize);
    for (uint32_t i = 0; i < kBatchSize; i++) {
      uint64_t debit = 1 + rng() % kAccountCount;
      uint64_t credit = 1 + (debit + rng() % (kAccountCount - 1)) % kAccountCount;
      batch.push_back(testing::TransferCmd(
          {.id = id++, .debit = debit, .credit = credit, .amount = int64_t(1 + rng() % 10'000)}));
    }
  }
  std::vector<wire::Result> results(kBatchSize);
  std::unique_ptr<Ledger> ledger = NewLedger();
  uint32_t next = 0;
  uint64_t now_us = 2;
  for (auto _ : state) {
    if (next == kBatchesPerLedger) {
      state.PauseTiming();
      ledger.reset();
      ledger = NewLedger();
      next = 0;
      state.ResumeTiming();
    }
    size_t done = ledger->Apply(batches[next++], now_us++, results);
    if (done != kBatchSize || results[kBatchSize - 1].code != wire::Code::ok) {
      state.SkipWithError("a transfer failed");
      break;
    }
    benchmark::DoNotOptimize(results.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBatchSize);
}
BENCHMARK(BM_LedgerTransfers)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace
}  // namespace eleven::engine

BENCHMARK_MAIN();
