#include "sim/w1.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "base/hash.h"

namespace eleven::w1 {
namespace {

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &digest_size, EVP_sha256(), nullptr), 1);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < digest_size; i++) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

TEST(W1, FirstLinesOfSeedOneMatchTheWorkloadDocument) {
  const std::vector<std::string> expected = {
      "16294208416658607535,3811844,2,56063,2,56062,1",
      "10451216379200822465,4913599,3,420909,2,420907,2,420900,1",
      "10905525725756348110,4632301,1,6,1",
      "2092789425003139053,7511430,2,180224,1,180220,2",
      "7958955049054603978,3840581,3,313374,1,313376,1,313373,2",
  };
  Generator generator(1);
  for (const std::string& line : expected) EXPECT_EQ(FormatLine(generator.Next()), line);
  EXPECT_EQ(generator.index(), expected.size());
}

TEST(W1, Sha256OfFirst100000LinesOfSeedOne) {
  Generator generator(1);
  std::string text;
  for (int i = 0; i < 100000; i++) {
    text += FormatLine(generator.Next());
    text += '\n';
  }
  EXPECT_EQ(Sha256Hex(text), "68463520985104fdce68a30771480e5c835445ffbf1194fc20a4771463cc55a7");
}

TEST(W1, PrefixIsTheSameForEveryLength) {
  // A generator asked for fewer orders must not produce different ones: nothing in the
  // stream may depend on the total count.
  Generator long_run(7);
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; i++) lines.push_back(FormatLine(long_run.Next()));
  for (int count : {0, 1, 2, 17, 1000, 1999}) {
    Generator short_run(7);
    for (int i = 0; i < count; i++) ASSERT_EQ(FormatLine(short_run.Next()), lines[i]);
    EXPECT_EQ(short_run.index(), static_cast<uint64_t>(count));
  }
}

TEST(W1, ZipfRankMatchesAPlainSearch) {
  // The reference: the workload document's words, one full binary search per draw.
  std::vector<double> cumulative(kMerchantCount);
  double sum = 0.0;
  for (uint64_t r = 0; r < kMerchantCount; r++) {
    sum += std::pow(static_cast<double>(r + 1), -0.9);
    cumulative[r] = sum;
  }
  const auto plain_rank = [&](uint64_t draw) {
    const double u = static_cast<double>(draw) * 0x1.0p-53 * sum;
    return static_cast<uint64_t>(std::lower_bound(cumulative.begin(), cumulative.end(), u) -
                                 cumulative.begin());
  };
  constexpr uint64_t kDrawMax = (uint64_t{1} << 53) - 1;
  std::vector<uint64_t> draws = {0, 1, kDrawMax, kDrawMax - 1};
  // Draws that land exactly on or next to a bucket edge of the guide, and ones that land
  // exactly on a cumulative weight, are where a fast search would go wrong.
  for (uint64_t b = 0; b < (uint64_t{1} << 16); b += 97) {
    const uint64_t edge = b << 37;
    draws.insert(draws.end(), {edge, edge + 1, edge == 0 ? 0 : edge - 1});
  }
  for (uint64_t r = 0; r < kMerchantCount; r += 101) {
    const uint64_t draw = static_cast<uint64_t>(cumulative[r] / sum * 0x1.0p53);
    for (uint64_t d = draw > 2 ? draw - 2 : 0; d <= std::min(draw + 2, kDrawMax); d++) {
      draws.push_back(d);
    }
  }
  uint64_t x = 12345;
  for (int i = 0; i < 200000; i++) draws.push_back(Fmix64(x++) >> 11);
  for (uint64_t draw : draws) ASSERT_EQ(ZipfRank(draw), plain_rank(draw)) << draw;
}

TEST(W1, SeedsGiveDifferentStreams) {
  Generator a(1);
  Generator b(2);
  EXPECT_NE(FormatLine(a.Next()), FormatLine(b.Next()));
}

TEST(W1, OrdersAreWellFormed) {
  Generator generator(3);
  std::set<uint64_t> keys;
  uint64_t hot_orders = 0;
  uint64_t line_total = 0;
  constexpr int kOrders = 200000;
  for (int i = 0; i < kOrders; i++) {
    const Order order = generator.Next();
    ASSERT_TRUE(keys.insert(order.key).second) << "duplicate key at " << i;
    ASSERT_LT(order.buyer, kBuyerCount);
    ASSERT_LT(order.merchant, kMerchantCount);
    ASSERT_GE(order.line_count, 1);
    ASSERT_LE(order.line_count, kLineCountMax);
    line_total += order.line_count;
    for (int j = 0; j < order.line_count; j++) {
      ASSERT_LT(order.sku[j], kSkuCount);
      ASSERT_EQ(order.sku[j] / kSkusPerMerchant, order.merchant);
      ASSERT_GE(order.quantity[j], 1u);
      ASSERT_LE(order.quantity[j], 2u);
      for (int k = 0; k < j; k++) ASSERT_NE(order.sku[j], order.sku[k]);
    }
    if (order.line_count == 1 && IsHot(order.sku[0]) && order.quantity[0] == 1) hot_orders++;
  }
  // 20% hot orders and about 1.8 lines per order (0.2 * 1 + 0.8 * 2), with slack for chance.
  EXPECT_NEAR(static_cast<double>(hot_orders) / kOrders, 0.2, 0.01);
  EXPECT_NEAR(static_cast<double>(line_total) / kOrders, 1.8, 0.02);
}

TEST(W1, PricesAndStockAreInRange) {
  int64_t price_min = kPriceMax;
  int64_t price_max = kPriceMin;
  for (uint64_t sku = 0; sku < kSkuCount; sku++) {
    const int64_t price = Price(sku);
    ASSERT_GE(price, kPriceMin);
    ASSERT_LE(price, kPriceMax);
    price_min = std::min(price_min, price);
    price_max = std::max(price_max, price);
    ASSERT_EQ(InitialStock(sku), sku < kHotSkuCount ? 10000u : 1000u);
  }
  // A million draws over 99,901 values reach both ends nearly surely: the range is not cut.
  EXPECT_LT(price_min, kPriceMin + 10);
  EXPECT_GT(price_max, kPriceMax - 10);
  // The formula itself, on a few SKUs.
  for (uint64_t sku : {0ull, 99ull, 100ull, 999999ull}) {
    EXPECT_EQ(Price(sku), 100 + static_cast<int64_t>(Fmix64(sku + 0x5EED) % 99901));
  }
}

}  // namespace
}  // namespace eleven::w1
