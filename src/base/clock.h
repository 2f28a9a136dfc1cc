// MonotonicNs: the steady clock in nanoseconds, for measuring durations (latencies, stalls,
// replay time). Never for log time: the engine's time comes from batch timestamps only.
#pragma once

#include <chrono>
#include <cstdint>

namespace eleven {

inline uint64_t MonotonicNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace eleven
