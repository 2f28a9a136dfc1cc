#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace eleven {

[[gnu::cold]] void AssertFail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "eleven: assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace eleven
