// ISO 3166-1 alpha-2 country codes: a merchant's country (docs/wire-format.md, create_merchant).
#pragma once

#include <cstddef>

namespace eleven::wire {

// The officially assigned codes (249: the 2024 list of ISO 3166-1, "CN", "JP", ...).
inline constexpr size_t kCountryCodeCount = 249;

// True if `code` (two bytes, not NUL-terminated) is an officially assigned ISO 3166-1 alpha-2
// code, in upper case. "XX", "UK" (reserved, not assigned) and "cn" are not.
bool IsCountryCode(const char code[2]);

}  // namespace eleven::wire
