#include "sim/w1.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <vector>

#include "base/assert.h"
#include "base/hash.h"

namespace eleven::w1 {
namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kPriceSalt = 0x5EED;
constexpr double kZipfExponent = 0.9;
constexpr uint64_t kMerchantStride = 7919;  // prime, so ranks spread over all merchants
constexpr uint64_t kMerchantOffset = 31337;
constexpr uint64_t kHotOrderOneIn = 5;

constexpr uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

char* AppendDecimal(char* out, uint64_t value) {
  // 20 digits is the most a uint64_t takes; callers size buffers with kLineSizeMax.
  return std::to_chars(out, out + 20, value).ptr;
}

}  // namespace

// Cumulative Zipf weights over merchant ranks: entry r = sum of (i+1)^-0.9 for i <= r, summed
// in rank order in double precision. The order of summation is part of the workload: another
// order would round differently and move a few boundary draws to a neighbouring rank.
//
// A binary search over all 100,000 entries (800 KB) misses the cache on most steps, so a
// guide narrows it first. The draw is u = fl(m * 2^-53 * W) for a 53-bit m; bucket b holds the
// m whose top kGuideBits bits are b, and its threshold t_b = fl((b << 37) * 2^-53 * W) is the u
// of the bucket's smallest m. Rounding is monotone, so t_b <= u <= t_{b+1}, and the first
// rank with cumulative >= u lies in [first rank >= t_b, first rank >= t_{b+1}]: searching that
// range gives exactly the rank the full search would.
class ZipfTable {
 public:
  static constexpr int kGuideBits = 16;
  static constexpr int kUnitBits = 53;

  ZipfTable() : cumulative_(kMerchantCount), guide_((size_t{1} << kGuideBits) + 1) {
    double sum = 0.0;
    for (uint64_t r = 0; r < kMerchantCount; r++) {
      sum += std::pow(static_cast<double>(r + 1), -kZipfExponent);
      cumulative_[r] = sum;
    }
    ELEVEN_ASSERT(std::is_sorted(cumulative_.begin(), cumulative_.end()));
    ELEVEN_ASSERT(cumulative_.back() > 0.0);
    for (size_t b = 0; b < guide_.size(); b++) {
      const double threshold = Draw(uint64_t{b} << (kUnitBits - kGuideBits));
      guide_[b] = static_cast<uint32_t>(FirstAtLeast(threshold, 0, kMerchantCount - 1));
    }
    ELEVEN_ASSERT(guide_.front() == 0 && guide_.back() == kMerchantCount - 1);
  }

  // The rank for a 53-bit draw m, as WORKLOAD.md defines it: the first rank whose cumulative
  // weight is >= unit * W, where unit = m * 2^-53.
  uint64_t Rank(uint64_t m) const {
    ELEVEN_DASSERT(m < (uint64_t{1} << kUnitBits));
    const uint64_t b = m >> (kUnitBits - kGuideBits);
    const uint64_t rank = FirstAtLeast(Draw(m), guide_[b], guide_[b + 1]);
    ELEVEN_DASSERT(rank == FirstAtLeast(Draw(m), 0, kMerchantCount - 1));
    return rank;
  }

 private:
  double Draw(uint64_t m) const {
    return static_cast<double>(m) * 0x1.0p-53 * cumulative_[kMerchantCount - 1];
  }
  // The first rank in [lo, hi] whose cumulative weight is >= u; the caller guarantees that
  // cumulative_[hi] >= u.
  uint64_t FirstAtLeast(double u, uint64_t lo, uint64_t hi) const {
    const double* begin = cumulative_.data();
    const double* found = std::lower_bound(begin + lo, begin + hi, u);
    return static_cast<uint64_t>(found - begin);
  }

  std::vector<double> cumulative_;
  std::vector<uint32_t> guide_;  // 2^kGuideBits + 1 entries: bucket b searches [b, b+1]
};

namespace {

const ZipfTable& SharedZipfTable() {
  static const ZipfTable table;  // built once; C++ makes the first call thread-safe
  return table;
}

}  // namespace

uint64_t ZipfRank(uint64_t draw) { return SharedZipfTable().Rank(draw); }

int64_t Price(uint64_t sku) {
  ELEVEN_DASSERT(sku < kSkuCount);
  const int64_t range = kPriceMax - kPriceMin + 1;  // 99,901
  return kPriceMin + static_cast<int64_t>(Fmix64(sku + kPriceSalt) % range);
}

uint32_t InitialStock(uint64_t sku) {
  ELEVEN_DASSERT(sku < kSkuCount);
  return IsHot(sku) ? kHotInitialStock : kNormalInitialStock;
}

Generator::Generator(uint64_t seed) : seed_(seed), zipf_(&SharedZipfTable()) {
  uint64_t x = seed;
  for (uint64_t& word : state_) {
    x += kGoldenGamma;
    word = Fmix64(x);
  }
  // xoshiro256** must not start from all zeroes; splitmix64 output never is, but say so.
  ELEVEN_ASSERT((state_[0] | state_[1] | state_[2] | state_[3]) != 0);
}

// xoshiro256** (Blackman and Vigna).
uint64_t Generator::NextRandom() {
  const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = Rotl(state_[3], 45);
  return result;
}

Order Generator::Next() {
  Order order;
  order.key = Fmix64(index_ + seed_ * kGoldenGamma);
  if (Below(kHotOrderOneIn) == 0) {
    const uint64_t sku = Below(kHotSkuCount);
    order.line_count = 1;
    order.sku[0] = sku;
    order.quantity[0] = 1;
    order.merchant = sku / kSkusPerMerchant;
  } else {
    // unit() = (next() >> 11) * 2^-53; the table applies "* W" and the search.
    const uint64_t rank = zipf_->Rank(NextRandom() >> 11);
    const uint64_t merchant = (rank * kMerchantStride + kMerchantOffset) % kMerchantCount;
    order.merchant = merchant;
    order.line_count = static_cast<uint8_t>(1 + Below(kLineCountMax));
    // Partial Fisher-Yates over the merchant's 10 SKU slots: distinct SKUs per order.
    uint8_t slots[kSkusPerMerchant] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int j = 0; j < order.line_count; j++) {
      const uint64_t pick = j + Below(kSkusPerMerchant - j);
      std::swap(slots[j], slots[pick]);
      order.sku[j] = merchant * kSkusPerMerchant + slots[j];
      order.quantity[j] = static_cast<uint32_t>(1 + Below(2));
    }
  }
  order.buyer = Below(kBuyerCount);
  index_++;
  ELEVEN_DASSERT(order.line_count >= 1 && order.line_count <= kLineCountMax);
  return order;
}

size_t FormatLine(const Order& order, char* out) {
  ELEVEN_ASSERT(order.line_count >= 1 && order.line_count <= kLineCountMax);
  char* p = out;
  p = AppendDecimal(p, order.key);
  *p++ = ',';
  p = AppendDecimal(p, order.buyer);
  *p++ = ',';
  p = AppendDecimal(p, order.line_count);
  for (int j = 0; j < order.line_count; j++) {
    *p++ = ',';
    p = AppendDecimal(p, order.sku[j]);
    *p++ = ',';
    p = AppendDecimal(p, order.quantity[j]);
  }
  const size_t size = static_cast<size_t>(p - out);
  ELEVEN_ASSERT(size <= kLineSizeMax);
  return size;
}

std::string FormatLine(const Order& order) {
  char buffer[kLineSizeMax];
  return std::string(buffer, FormatLine(order, buffer));
}

}  // namespace eleven::w1
