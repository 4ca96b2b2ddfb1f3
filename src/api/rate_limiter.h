// Per-client rate limiting for the API: a token bucket per client address, refilled at `rate`
// requests per second up to `burst`. A client over its budget gets 429 with Retry-After; others
// are not affected. Bounded memory: idle buckets are forgotten. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace brickcast {

class RateLimiter {
 public:
  // `now_ms`: a monotonic clock in milliseconds (injected by tests).
  RateLimiter(double rate_per_second, double burst, std::function<int64_t()> now_ms = nullptr);

  // nullopt: admitted; else the seconds to wait before the next request would be.
  std::optional<int> Admit(const std::string& client);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  const double rate_, burst_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace brickcast
