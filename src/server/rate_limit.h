// Per-key rate limits (docs/access.md, "Rate limits"): a token bucket per API key, filled at
// its limit's rate up to its burst. A request over its key's limit is refused before it
// reaches the engine (HTTP 429 with Retry-After, binary frame status rate_limited): the
// first line of defence for a live drop against bots.
//
// Limits are named in the config ([rate_limits.limits]); a key takes the limit its id is
// given ([rate_limits.keys]), else its role's ([rate_limits.roles]), else none.
//
// Thread-safety: none; the I/O thread owns the limiter.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "server/api_keys.h"

namespace eleven::server {

struct RateLimit {
  double per_second = 0;  // tokens added per second; > 0
  double burst = 0;       // the most a bucket holds (and starts with); >= 1
};

struct RateLimitConfig {
  std::map<std::string, RateLimit> limits;        // by name
  std::map<wire::Role, std::string> role_limits;  // role -> limit name
  std::map<uint32_t, std::string> key_limits;     // key id -> limit name
  bool empty() const { return role_limits.empty() && key_limits.empty(); }
};

class RateLimiter {
 public:
  // Every name the config's roles and keys use must be a limit (config.cc checks).
  explicit RateLimiter(const RateLimitConfig& config);

  // Takes `cost` tokens (a request's commands, or 1; at most the burst) from the caller's
  // bucket at `now_ns`.
  // False when the bucket holds fewer: then *retry_after_s is how many whole seconds until
  // it will hold them (at least 1). A caller without a limit always passes.
  bool Take(const Caller& caller, uint32_t cost, uint64_t now_ns, uint32_t* retry_after_s);

 private:
  struct Bucket {
    const RateLimit* limit = nullptr;  // null: no limit
    double tokens = 0;
    uint64_t at_ns = 0;
  };
  const RateLimit* LimitOf(const Caller& caller) const;

  RateLimitConfig config_;
  std::unordered_map<uint32_t, Bucket> buckets_;  // by key id (0: the local operator)
};

}  // namespace eleven::server
