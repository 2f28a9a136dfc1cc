// w1_dump SEED N: prints the first N orders of W1 for SEED, one per line, in the workload
// document's text form, so any implementation of W1 can be diffed against this one.
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "sim/w1.h"

namespace {

bool ParseUnsigned(const char* text, uint64_t* value) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long parsed = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *value = parsed;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 0;
  uint64_t count = 0;
  if (argc != 3 || !ParseUnsigned(argv[1], &seed) || !ParseUnsigned(argv[2], &count)) {
    std::fprintf(stderr, "usage: w1_dump SEED N\n");
    return 2;
  }
  eleven::w1::Generator generator(seed);
  char line[eleven::w1::kLineSizeMax + 1];
  for (uint64_t i = 0; i < count; i++) {
    const size_t size = eleven::w1::FormatLine(generator.Next(), line);
    line[size] = '\n';
    if (std::fwrite(line, 1, size + 1, stdout) != size + 1) return 1;  // e.g. closed pipe
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
