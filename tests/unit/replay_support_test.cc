// Replay pacing: data time mapped onto the steady clock, gaps honoured, late data at once, and a
// jump of months not waited for.
#include <gtest/gtest.h>

#include "app/replay_support.h"

namespace brickcast {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

constexpr UnixMillis kMinute = 60000, kDay = 86400000, kT0 = 1505088000000;

TEST(PacerTest, FollowsDataTimeAtTheGivenSpeed) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  EXPECT_FALSE(pacer.Due(kT0, w0).due);  // the first message anchors the mapping
  auto d = pacer.Due(kT0 + 10 * kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(1000));  // 10 min of data at 600x
  EXPECT_EQ(d.gap, 10 * kMinute);
  // Sent late (the sender was slow): due now, no catch-up wait.
  EXPECT_FALSE(pacer.Due(kT0 + 11 * kMinute, w0 + milliseconds(5000)).due);
}

TEST(PacerTest, AMissingDayIsAPauseOfADayOfDataTime) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0, w0);
  auto d = pacer.Due(kT0 + kDay + kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds((kDay + kMinute) / 600));  // 144.1 s
  EXPECT_FALSE(d.jumped);
}

TEST(PacerTest, LateMessagesGoAtOnceAndNeverMoveTheMappingBack) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0 + kDay, w0);
  // A message from a day earlier (another point's backlog): at once.
  EXPECT_FALSE(pacer.Due(kT0, w0).due);
  // The next in-order message is due relative to the first anchor, not the late one.
  auto d = pacer.Due(kT0 + kDay + 6 * kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(600));
}

TEST(PacerTest, AJumpBeyondTheMaximumGapIsNotWaitedFor) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0, w0);
  auto jump = pacer.Due(kT0 + 800 * kDay, w0 + milliseconds(10));  // a bad timestamp, or another file
  EXPECT_TRUE(jump.jumped);
  EXPECT_FALSE(jump.due);
  // Pacing restarts at the jump.
  auto d = pacer.Due(kT0 + 800 * kDay + kMinute, w0 + milliseconds(10));
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(110));
}

TEST(PacerTest, SpeedZeroNeverWaits) {
  Pacer pacer(0);
  EXPECT_FALSE(pacer.Due(kT0).has_value());
  EXPECT_FALSE(pacer.Due(kT0 + kDay).has_value());
}

}  // namespace
}  // namespace brickcast
