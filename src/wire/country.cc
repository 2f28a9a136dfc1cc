#include "wire/country.h"

#include <array>
#include <cstdint>
#include <string_view>

namespace eleven::wire {

namespace {

// The officially assigned ISO 3166-1 alpha-2 codes, two letters each.
constexpr std::string_view kAssigned =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCH"
    "CICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN"
    "GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLI"
    "LKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOM"
    "PAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTD"
    "TFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";
static_assert(kAssigned.size() == 2 * kCountryCodeCount);

// Bit (first - 'A') * 26 + (second - 'A') set for each assigned code.
constexpr std::array<uint64_t, 11> BuildTable() {
  std::array<uint64_t, 11> bits{};
  for (size_t i = 0; i < kAssigned.size(); i += 2) {
    const unsigned n = unsigned(kAssigned[i] - 'A') * 26 + unsigned(kAssigned[i + 1] - 'A');
    bits[n / 64] |= uint64_t{1} << (n % 64);
  }
  return bits;
}
constexpr std::array<uint64_t, 11> kTable = BuildTable();

}  // namespace

bool IsCountryCode(const char code[2]) {
  if (code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z') return false;
  const unsigned n = unsigned(code[0] - 'A') * 26 + unsigned(code[1] - 'A');
  return (kTable[n / 64] >> (n % 64) & 1) != 0;
}

}  // namespace eleven::wire
