#include "brickcast/time.h"

#include <gtest/gtest.h>

namespace brickcast {
namespace {

constexpr UnixMillis kNov22_10h = 1795341600000;  // 2026-11-22T10:00:00Z

TEST(TimeTest, IsoForms) {
  const TimeZone utc = TimeZone::Utc();
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T10:00:00Z", utc), kNov22_10h);
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T11:00:00+01:00", utc), kNov22_10h);
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T04:30:00-05:30", utc), kNov22_10h);
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T10:00:00.250Z", utc), kNov22_10h + 250);
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22 10:00:00", utc), kNov22_10h);
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T10:00Z", utc), kNov22_10h);
  EXPECT_EQ(*ParseIsoDateTime("  2026-11-22T10:00:00Z ", utc), kNov22_10h);
}

TEST(TimeTest, NoZoneUsesSiteZoneWithDaylightSaving) {
  auto la = TimeZone::Load("America/Los_Angeles");
  ASSERT_TRUE(la.ok()) << la.status().ToString();
  // Winter: UTC-8; summer: UTC-7.
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T02:00:00", *la), kNov22_10h);
  EXPECT_EQ(FormatIsoUtc(*ParseIsoDateTime("2017-09-11T00:00:00", *la)), "2017-09-11T07:00:00Z");
  auto fixed = TimeZone::Load("+02:00");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(*ParseIsoDateTime("2026-11-22T12:00:00", *fixed), kNov22_10h);
}

TEST(TimeTest, RejectsImpossibleDatesWithReason) {
  const TimeZone utc = TimeZone::Utc();
  for (const char* bad : {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z",
                          "2026-11-22T10:61:00Z", "22/11/2026", "", "2026-11-22T10:00:00+25:00",
                          "2026-11-22T10:00:00Zjunk", "not a date"}) {
    auto t = ParseIsoDateTime(bad, utc);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("bad dateTime"), std::string::npos) << t.status().message();
    }
  }
  EXPECT_TRUE(ParseIsoDateTime("2024-02-29T00:00:00Z", utc).ok());  // leap year
  EXPECT_FALSE(ParseIsoDateTime("2023-02-29T00:00:00Z", utc).ok());
}

TEST(TimeTest, FormatsUsedByTheDataFiles) {
  const TimeZone utc = TimeZone::Utc();
  EXPECT_EQ(FormatIsoUtc(*ParseTimeWithFormat("9/11/2017 0:05", "%m/%d/%Y %H:%M", utc)), "2017-09-11T00:05:00Z");
  EXPECT_EQ(FormatIsoUtc(*ParseTimeWithFormat("08JAN15:08:45:00", "%d%b%y:%H:%M:%S", utc)), "2015-01-08T08:45:00Z");
  EXPECT_EQ(FormatIsoUtc(*ParseTimeWithFormat("2017-09-11_00:05:00", "%Y-%m-%d_%H:%M:%S", utc)),
            "2017-09-11T00:05:00Z");
  EXPECT_FALSE(ParseTimeWithFormat("2017-09-11 00:05", "%Y-%m-%d_%H:%M", utc).ok());
  EXPECT_FALSE(ParseTimeWithFormat("13/45/2017 0:05", "%m/%d/%Y %H:%M", utc).ok());
}

TEST(TimeTest, UnknownZoneIsAnError) {
  EXPECT_FALSE(TimeZone::Load("Mars/Olympus_Mons").ok());
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::Load("+99:00").ok());
}

// StepDivider against the plain floor division, where the reciprocal is most likely off by one:
// exact multiples, one below and one above, negative times, odd steps and the fallback range.
TEST(TimeTest, StepDividerIsFloorDivision) {
  auto floor_div = [](int64_t t, int64_t step) { return t / step - (t % step < 0 ? 1 : 0); };
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int64_t step : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{60'000}, int64_t{300'000}, int64_t{3'600'000},
                       int64_t{86'400'000}, int64_t{999'983}}) {
    const StepDivider div(step);
    for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{5'966'666}, int64_t{1} << 40, (int64_t{1} << 52) / step}) {
      for (int64_t t : {k * step - 1, k * step, k * step + 1, -k * step - 1, -k * step, -k * step + 1}) {
        ASSERT_EQ(div(t), floor_div(t, step)) << "t=" << t << " step=" << step;
      }
    }
    for (int i = 0; i < 20000; ++i) {  // random times up to 2^53 either side, and the fallback
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const int64_t t = static_cast<int64_t>(x >> (i % 2 == 0 ? 11 : 1)) * (i % 3 == 0 ? -1 : 1);
      ASSERT_EQ(div(t), floor_div(t, step)) << "t=" << t << " step=" << step;
    }
  }
}

TEST(TimeTest, FormatRoundTrips) {
  EXPECT_EQ(FormatIsoUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoUtc(kNov22_10h + 5), "2026-11-22T10:00:00.005Z");
  EXPECT_EQ(FormatIsoUtc(-1000), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace brickcast
