#include "server/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"

namespace eleven::server {

RateLimiter::RateLimiter(const RateLimitConfig& config) : config_(config) {
  for (const auto& [role, name] : config_.role_limits)
    ELEVEN_ASSERT(config_.limits.count(name) == 1);
  for (const auto& [key, name] : config_.key_limits) ELEVEN_ASSERT(config_.limits.count(name) == 1);
}

const RateLimit* RateLimiter::LimitOf(const Caller& caller) const {
  auto by_key = config_.key_limits.find(caller.key_id);
  if (by_key != config_.key_limits.end()) return &config_.limits.at(by_key->second);
  auto by_role = config_.role_limits.find(caller.role);
  if (by_role != config_.role_limits.end()) return &config_.limits.at(by_role->second);
  return nullptr;
}

bool RateLimiter::Take(const Caller& caller, uint32_t cost, uint64_t now_ns,
                       uint32_t* retry_after_s) {
  if (config_.empty()) return true;
  auto [it, inserted] = buckets_.try_emplace(caller.key_id);
  Bucket& b = it->second;
  if (inserted) {
    b.limit = LimitOf(caller);
    b.tokens = b.limit != nullptr ? b.limit->burst : 0;
    b.at_ns = now_ns;
  }
  if (b.limit == nullptr) return true;
  const double elapsed_s = static_cast<double>(now_ns - std::min(now_ns, b.at_ns)) / 1e9;
  b.tokens = std::min(b.limit->burst, b.tokens + elapsed_s * b.limit->per_second);
  b.at_ns = now_ns;
  // A request costing more than the burst is charged the burst: a full bucket lets it pass.
  const double need = std::min<double>(cost, b.limit->burst);
  if (b.tokens >= need) {
    b.tokens -= need;
    return true;
  }
  const double wait_s = (need - b.tokens) / b.limit->per_second;
  *retry_after_s = static_cast<uint32_t>(std::max(1.0, std::ceil(wait_s)));
  return false;
}

}  // namespace eleven::server
