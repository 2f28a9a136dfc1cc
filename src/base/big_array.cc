#include "base/big_array.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace eleven {

namespace {

constexpr size_t kHugePageSize = 2 << 20;
#ifdef MADV_POPULATE_WRITE
constexpr int kMadvPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kMadvPopulateWrite = 23;  // Linux's value; older headers lack the name
#endif

}  // namespace

void* MapZeroed(size_t size_bytes) {
  if (size_bytes == 0) return nullptr;
  void* data = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    std::fprintf(stderr, "eleven: cannot map %zu bytes at start-up: %s\n", size_bytes,
                 std::strerror(errno));
    std::abort();
  }
  // Advice only: without transparent huge pages the table still works, just slower.
  if (size_bytes >= kHugePageSize) madvise(data, size_bytes, MADV_HUGEPAGE);
  // Fault every page in now. The kernel does it in one call where it can (Linux 5.14+; the
  // pages come zeroed once); otherwise writing zeros maps them (mmap's pages read as zero).
  if (madvise(data, size_bytes, kMadvPopulateWrite) != 0) std::memset(data, 0, size_bytes);
  return data;
}

void Unmap(void* data, size_t size_bytes) {
  if (data != nullptr) munmap(data, size_bytes);
}

}  // namespace eleven
