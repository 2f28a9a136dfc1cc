// Prefetch: asks the cache for the line holding `address` ahead of its use.
//
// Not __builtin_prefetch alone: GCC's pure/const analysis treats a function whose only
// effect is __builtin_prefetch as having no effect at all, and deletes the calls to it (this
// silently removed every prefetch of the engine's batch loop). An asm volatile statement is
// an effect the optimiser must keep, wherever it is inlined.
#pragma once

#include <cstddef>

namespace eleven {

// The line the caches move, on every x86-64 this runs on: what a prefetch brings in.
inline constexpr size_t kCacheLineBytes = 64;

inline void Prefetch(const void* address) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(address)));
#else
  __builtin_prefetch(address);
  asm volatile("" : : "r"(address));
#endif
}

// For a line about to be written.
inline void PrefetchForWrite(const void* address) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(address)));
#else
  __builtin_prefetch(address, 1);
  asm volatile("" : : "r"(address));
#endif
}

}  // namespace eleven
