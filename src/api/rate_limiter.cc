#include "api/rate_limiter.h"

#include <chrono>
#include <cmath>

namespace brickcast {

RateLimiter::RateLimiter(double rate_per_second, double burst, std::function<int64_t()> now_ms)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), now_ms_(std::move(now_ms)) {
  if (!now_ms_) {
    now_ms_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
}

std::optional<int> RateLimiter::Admit(const std::string& client) {
  const int64_t now = now_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() > 10'000) {
    // Forget clients whose buckets are full again: they lose nothing.
    std::erase_if(buckets_, [&](const auto& kv) {
      return kv.second.tokens + static_cast<double>(now - kv.second.updated_ms) / 1000.0 * rate_ >= burst_;
    });
  }
  auto [it, added] = buckets_.try_emplace(client, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(now - b.updated_ms) / 1000.0 * rate_);
  b.updated_ms = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return static_cast<int>(std::ceil((1.0 - b.tokens) / rate_));
}

}  // namespace brickcast
