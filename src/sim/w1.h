// W1, the flash-sale order workload (/work/shared/WORKLOAD.md): the catalog (prices and
// initial stock of 1,000,000 SKUs) and the order stream. Every throughput figure of eleven
// and of its peers is measured on this stream, so it must be generated exactly as the
// workload document says: the same seed gives the same orders, byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace eleven::w1 {

inline constexpr uint64_t kMerchantCount = 100000;
inline constexpr uint64_t kSkusPerMerchant = 10;
inline constexpr uint64_t kSkuCount = kMerchantCount * kSkusPerMerchant;
// SKUs 0 .. kHotSkuCount-1 are the live-stream SKUs: one unit per buyer.
inline constexpr uint64_t kHotSkuCount = 100;
inline constexpr uint64_t kBuyerCount = 10000000;
inline constexpr int kLineCountMax = 3;
inline constexpr uint32_t kHotInitialStock = 10000;
inline constexpr uint32_t kNormalInitialStock = 1000;
inline constexpr int64_t kPriceMin = 100;
inline constexpr int64_t kPriceMax = 100000;
// FormatLine never needs more: 20 + 8 + 1 + 3 * (7 + 1) digits plus commas.
inline constexpr size_t kLineSizeMax = 96;

// Price of a SKU in fen, kPriceMin .. kPriceMax.
int64_t Price(uint64_t sku);
// Stock of a SKU before the first order.
uint32_t InitialStock(uint64_t sku);
constexpr bool IsHot(uint64_t sku) { return sku < kHotSkuCount; }

struct Order {
  uint64_t key = 0;        // idempotency key, unique within a seed's stream
  uint64_t buyer = 0;      // 0 .. kBuyerCount-1
  uint64_t merchant = 0;   // every line's SKU belongs to it (sku / kSkusPerMerchant)
  uint8_t line_count = 0;  // 1 .. kLineCountMax
  uint64_t sku[kLineCountMax] = {};
  uint32_t quantity[kLineCountMax] = {};
};

class ZipfTable;

// The Zipf merchant rank (0 .. kMerchantCount-1) for a 53-bit draw `draw` = next() >> 11.
// Exposed so tests can check the fast search against a plain one.
uint64_t ZipfRank(uint64_t draw);

// Produces the W1 order stream of one seed, in order. Next() costs a few random draws and,
// for a normal order, one binary search over the shared Zipf table (built once per process,
// thread-safe). Not thread-safe itself: one Generator per thread.
class Generator {
 public:
  explicit Generator(uint64_t seed);

  // The order at index(), then advances.
  Order Next();
  // How many orders Next() has returned so far: the 0-based index of the next order.
  uint64_t index() const { return index_; }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t NextRandom();
  // Lemire's multiply-shift: a value in 0 .. n-1 from one draw.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextRandom()) * n) >> 64);
  }

  uint64_t seed_;
  uint64_t index_ = 0;
  uint64_t state_[4];
  const ZipfTable* zipf_;  // the shared table, built once, never freed
};

// "key,buyer,n,sku1,qty1[,sku2,qty2[,sku3,qty3]]" in decimal, without the newline.
std::string FormatLine(const Order& order);
// The same into `out` (at least kLineSizeMax bytes); returns the length written.
size_t FormatLine(const Order& order, char* out);

}  // namespace eleven::w1
