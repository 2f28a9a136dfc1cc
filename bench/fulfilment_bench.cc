// Allocations per second: Fulfilment::OnOrderPaid with ample capacity, on one core.
// ~100 warehouses, 10 couriers, 100,000 SKUs each stocked in 3 warehouses; orders of 1..3
// distinct SKUs to buyers in random regions. Each iteration allocates a fresh engine's
// kOrdersPerIteration orders (the engine set-up is not timed).
//
//   fulfilment_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "base/assert.h"
#include "base/hash.h"
#include "engine/fulfilment/fulfilment.h"
#include "engine/fulfilment/fulfilment_test_util.h"

namespace eleven::engine {
namespace {

using namespace testing;

constexpr uint32_t kWarehouseCount = 100;
constexpr uint32_t kCourierCount = 10;
constexpr uint32_t kSkuCount = 100'000;
constexpr uint32_t kOrdersPerIteration = 1 << 16;
constexpr uint64_t kT0 = 1'573'401'600'000'000;  // 2019-11-11 00:00 +08:00

FulfilmentConfig BenchConfig() {
  FulfilmentConfig config;
  config.warehouse_count_max = 128;
  config.courier_count_max = 16;
  config.stock_entry_count_max = 1 << 19;
  config.sku_count_max = 1 << 17;
  config.parcel_count_max = 3 * kOrdersPerIteration;  // at most 3 lines, so 3 parcels
  config.shipment_count_max = kOrdersPerIteration;
  config.backlog_count_max = 1024;
  return config;
}

void Setup(Fulfilment& f) {
  const char* names[kCourierCount] = {"ZTO", "YTO", "STO", "Yunda", "SF",
                                      "EMS", "JD",  "Best", "Deppon", "Tiantian"};
  for (uint32_t w = 0; w < kWarehouseCount; w++) {
    auto region = static_cast<uint16_t>(1 + (w * 10) % 999);
    int32_t x = static_cast<int32_t>((region - 1) % 32) * 100 + 17;
    int32_t y = static_cast<int32_t>((region - 1) / 32) * 100 + 23;
    wire::Command c = WarehouseCommand(w + 1, region, x, y, wire::kWarehouseCapacityMax,
                                       wire::kWarehouseCapacityMax);
    ELEVEN_ASSERT(f.Apply(c, kT0).code == wire::Code::ok);
  }
  for (uint32_t i = 0; i < kCourierCount; i++) {
    wire::Command c = CourierCommand(i + 1, names[i], wire::CourierMode::kExpress,
                                     static_cast<uint8_t>(1 + i % 3), wire::kCourierCapacityMax,
                                     400 + 50 * i, (i + 1) * 1'000'000'000'000ULL, 1'000'000'000'000ULL);
    ELEVEN_ASSERT(f.Apply(c, kT0).code == wire::Code::ok);
    ELEVEN_ASSERT(f.Apply(CoverageCommand(i + 1, 0), kT0).code == wire::Code::ok);
    ELEVEN_ASSERT(f.Apply(CoverageCommand(i + 1, 1), kT0).code == wire::Code::ok);
  }
  for (uint32_t s = 1; s <= kSkuCount; s++) {
    for (uint32_t k = 0; k < 3; k++) {
      uint64_t warehouse = 1 + (s + k * 33) % kWarehouseCount;
      ELEVEN_ASSERT(f.Apply(StockCommand(warehouse, s, 1'000'000'000), kT0).code == wire::Code::ok);
    }
  }
}

std::vector<OrderToShip> MakeOrders() {
  std::vector<OrderToShip> orders(kOrdersPerIteration);
  uint64_t z = 1;
  auto next = [&z]() { return Fmix64(z++); };
  for (uint32_t i = 0; i < kOrdersPerIteration; i++) {
    OrderToShip& o = orders[i];
    o = OrderToShip{};
    o.order_id = i + 1;
    o.merchant_id = 1 + next() % 100'000;
    o.region = static_cast<uint16_t>(1 + next() % wire::kRegionMax);
    o.city_tier = static_cast<uint8_t>(1 + next() % wire::kCityTierMax);
    uint32_t lines = 1 + next() % 3;
    // Distinct SKUs of one "merchant block" of 10, as in W1.
    uint64_t base = 1 + (next() % (kSkuCount / 10)) * 10;
    for (uint32_t l = 0; l < lines; l++) {
      o.lines[l].sku_id = base + (l * 3 + next() % 3) % 10;
      o.lines[l].quantity = 1 + next() % 2;
      bool duplicate = false;
      for (uint32_t m = 0; m < l; m++) duplicate |= o.lines[m].sku_id == o.lines[l].sku_id;
      if (duplicate) break;
      o.line_count++;
    }
  }
  return orders;
}

void BM_OnOrderPaid(benchmark::State& state) {
  std::vector<OrderToShip> orders = MakeOrders();
  uint64_t allocated = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto f = std::make_unique<Fulfilment>(BenchConfig());
    Setup(*f);
    state.ResumeTiming();
    for (const OrderToShip& o : orders) {
      wire::Code code = f->OnOrderPaid(o, kT0 + 1);
      allocated += code == wire::Code::ok ? 1 : 0;
    }
    state.PauseTiming();
    ELEVEN_ASSERT(f->backlog_count() == 0);
    f.reset();
    state.ResumeTiming();
  }
  ELEVEN_ASSERT(allocated == static_cast<uint64_t>(state.iterations()) * kOrdersPerIteration);
  state.SetItemsProcessed(static_cast<int64_t>(allocated));
}
BENCHMARK(BM_OnOrderPaid)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace
}  // namespace eleven::engine

BENCHMARK_MAIN();
