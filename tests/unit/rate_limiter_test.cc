// RateLimiter: a burst is admitted, then the rate; each client has its own budget.
#include "api/rate_limiter.h"

#include <gtest/gtest.h>

namespace brickcast {
namespace {

TEST(RateLimiterTest, ABurstThenTheRatePerClient) {
  int64_t now = 1'000'000;
  RateLimiter limiter(2.0, 3.0, [&now] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Admit("10.0.0.1")) << i;
  const std::optional<int> wait = limiter.Admit("10.0.0.1");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1) << "half a second to the next token, rounded up";
  EXPECT_FALSE(limiter.Admit("10.0.0.2")) << "another client is not held back";
  now += 500;  // one token back at 2 per second
  EXPECT_FALSE(limiter.Admit("10.0.0.1"));
  EXPECT_TRUE(limiter.Admit("10.0.0.1"));
  now += 60'000;  // refilled, but never beyond the burst
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Admit("10.0.0.1"));
  EXPECT_TRUE(limiter.Admit("10.0.0.1"));
}

}  // namespace
}  // namespace brickcast
