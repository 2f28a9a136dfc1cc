// Assertions. ELEVEN_ASSERT is always on (a broken invariant stops the process rather than
// let it write bad state); ELEVEN_DASSERT is for checks too costly for release builds. The
// sanitizer build (ELEVEN_SANITIZE, an optimised build) checks them too.
#pragma once

namespace eleven {

[[noreturn]] void AssertFail(const char* expr, const char* file, int line);

}  // namespace eleven

#define ELEVEN_ASSERT(expr)                                                     \
  do {                                                                          \
    if (__builtin_expect(!(expr), 0)) ::eleven::AssertFail(#expr, __FILE__, __LINE__); \
  } while (0)

#if defined(NDEBUG) && !defined(ELEVEN_SANITIZE)
#define ELEVEN_DASSERT(expr) \
  do {                       \
  } while (0 && (expr))
#else
#define ELEVEN_DASSERT(expr) ELEVEN_ASSERT(expr)
#endif
