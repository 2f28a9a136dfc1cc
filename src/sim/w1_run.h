// W1 on an embedded replica (engine + journal in one process, no network): the driver
// behind `eleven w1`. It keeps up to `in_flight_max` batches submitted but not yet durable
// (a closed loop, as a client with that many requests in flight would), releases each batch
// when its op is durable, and measures per-order latency from the batch's submission to its
// release. After the run it verifies the end state (VerifyW1) and resends a sample.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace eleven::sim {

enum class Durability : uint8_t {
  kDurable,  // a batch is released only once its journal entry is synced
  kRelaxed,  // released when applied; the journal syncs behind (a crash may lose ~1 s)
};

struct W1RunOptions {
  std::string data_dir;  // formatted here; must not exist or be empty
  uint64_t seed = 1;
  uint64_t order_count = 3'000'000;
  uint32_t batch_size = 8190;
  uint32_t in_flight_max = 16;  // batches submitted but not yet released
  Durability durability = Durability::kDurable;
  uint64_t resend_sample = 1000;
  bool prepare_segments = true;  // JournalOptions::prepare_segments (false for A/B)
};

struct W1RunResult {
  uint64_t orders = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  double seconds = 0;
  double orders_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  uint64_t syncs = 0;
  // Group commits' write + fdatasync in the run, µs: bucket upper bounds (within 25%).
  uint64_t sync_p50_us = 0;
  uint64_t sync_p99_us = 0;
  uint64_t sync_max_us = 0;
  uint64_t journal_bytes = 0;
  bool verified = false;
  std::string ToJson(Durability durability) const;
};

[[nodiscard]] Status RunW1Embedded(const W1RunOptions& options, W1RunResult* result);

}  // namespace eleven::sim
