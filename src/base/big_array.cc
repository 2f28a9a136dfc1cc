#include "base/big_array.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace eleven {

namespace {

constexpr size_t kHugePageSize = 2 << 20;
constexpr size_t kPopulateSliceSize = size_t{256} << 20;  // a multiple of kHugePageSize
std::atomic<uint64_t> g_mapped_bytes{0};
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
  // Fault every page in now, a slice at a time (so a start-up can say how far it is). The
  // kernel does it in one call where it can (Linux 5.14+; the pages come zeroed once);
  // otherwise writing zeros maps them (mmap's pages read as zero).
  for (size_t at = 0; at < size_bytes; at += kPopulateSliceSize) {
    char* slice = static_cast<char*>(data) + at;
    const size_t n = std::min(kPopulateSliceSize, size_bytes - at);
    if (madvise(slice, n, kMadvPopulateWrite) != 0) std::memset(slice, 0, n);
    g_mapped_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  return data;
}

uint64_t MappedBytes() { return g_mapped_bytes.load(std::memory_order_relaxed); }

void Unmap(void* data, size_t size_bytes) {
  if (data == nullptr) return;
  munmap(data, size_bytes);
  g_mapped_bytes.fetch_sub(size_bytes, std::memory_order_relaxed);
}

}  // namespace eleven
