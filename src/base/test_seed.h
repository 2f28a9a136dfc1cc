// The seed of a randomised test: ELEVEN_SEED if set (to replay a failure), else a fresh one.
// Printed either way, with the line that replays it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace eleven {

inline uint64_t TestSeed(const char* test) {
  const char* given = std::getenv("ELEVEN_SEED");
  const uint64_t seed = given != nullptr ? std::strtoull(given, nullptr, 10) : std::random_device{}();
  std::printf("%s: seed=%llu (replay: ELEVEN_SEED=%llu)\n", test, (unsigned long long)seed, (unsigned long long)seed);
  return seed;
}

}  // namespace eleven
