// Country codes: exactly the officially assigned ISO 3166-1 alpha-2 codes, upper case.
#include "wire/country.h"

#include <gtest/gtest.h>

namespace eleven::wire {
namespace {

TEST(CountryCode, AssignedCodesOnly) {
  for (const char* code : {"CN", "JP", "US", "GB", "DE", "HK", "MO", "TW", "AX", "ZW", "AD"}) {
    EXPECT_TRUE(IsCountryCode(code)) << code;
  }
  // Reserved or user-assigned, not assigned: UK, EU, XK, XX, AA, ZZ; and not upper-case letters.
  for (const char* code : {"UK", "EU", "XK", "XX", "AA", "ZZ", "cn", "C1", "@A", "A[", "  "}) {
    EXPECT_FALSE(IsCountryCode(code)) << code;
  }
  int assigned = 0;
  for (char a = 'A'; a <= 'Z'; a++) {
    for (char b = 'A'; b <= 'Z'; b++) {
      const char code[2] = {a, b};
      assigned += IsCountryCode(code);
    }
  }
  EXPECT_EQ(assigned, int(kCountryCodeCount));
}

}  // namespace
}  // namespace eleven::wire
