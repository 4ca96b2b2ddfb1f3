#include "brickcast/series_store.h"

#include <gtest/gtest.h>

#include <cmath>

namespace brickcast {
namespace {

constexpr int64_t kMin = 60'000;
constexpr UnixMillis kT0 = 1795341600000;  // on a 5-minute boundary

Observation Obs(UnixMillis t, double v, const std::string& p = "urn:p") { return Observation{p, t, v, "", ""}; }

SeriesOptions Opts() {
  SeriesOptions o;
  o.step_ms = 5 * kMin;
  o.window_steps = 12;
  o.ffill_limit_steps = 1;
  o.dedup_depth = 8;
  return o;
}

TEST(SeriesStoreTest, MeanWithinStep) {
  SeriesStore s(Opts());
  EXPECT_EQ(s.Append(Obs(kT0, 10)), AppendOutcome::kAccepted);
  EXPECT_EQ(s.Append(Obs(kT0 + kMin, 20)), AppendOutcome::kAccepted);
  EXPECT_EQ(s.Append(Obs(kT0 + 4 * kMin, 30)), AppendOutcome::kAccepted);
  EXPECT_EQ(s.Append(Obs(kT0 + 5 * kMin, 100)), AppendOutcome::kAccepted);
  auto w = s.Window("urn:p", kT0 + 10 * kMin, 2);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->start, kT0);
  EXPECT_DOUBLE_EQ(w->values[0], 20);
  EXPECT_DOUBLE_EQ(w->values[1], 100);
  EXPECT_EQ(w->observed, (std::vector<uint8_t>{1, 1}));
  EXPECT_DOUBLE_EQ(w->coverage(), 1.0);
}

// The rule engine's allocation-free reads, by name and through a cached SeriesRef, agree.
TEST(SeriesStoreTest, RuleReadsValueLastObservedAndRange) {
  SeriesStore s(Opts());
  const double values[] = {10, 10.5, 9.5, 12};  // steps 0..3; step 4 missing; step 5 = 11
  for (int i = 0; i < 4; ++i) ASSERT_EQ(s.Append(Obs(kT0 + i * 5 * kMin, values[i])), AppendOutcome::kAccepted);
  ASSERT_EQ(s.Append(Obs(kT0 + 25 * kMin, 11)), AppendOutcome::kAccepted);
  const std::string name = "urn:p";  // the ref names it, does not own it
  SeriesStore::SeriesRef ref(&name);
  EXPECT_DOUBLE_EQ(s.ValueAt("urn:p", kT0 + 5 * kMin), 10.5);
  EXPECT_DOUBLE_EQ(s.ValueAt(ref, kT0 + 5 * kMin), 10.5);
  EXPECT_DOUBLE_EQ(s.ValueAt(ref, kT0 + 20 * kMin), 12) << "forward-filled across one missing step";
  EXPECT_TRUE(std::isnan(s.ValueAt("urn:other", kT0)));
  EXPECT_EQ(s.LastObservedStep(ref, kT0 + 20 * kMin, 3), kT0 + 15 * kMin) << "the filled step does not count";
  EXPECT_EQ(s.LastObservedStep("urn:p", kT0 + 20 * kMin, 1), 0);
  const SeriesStore::ObservedRange all = s.RangeOf(ref, kT0 + 25 * kMin, 6);
  EXPECT_DOUBLE_EQ(all.min, 9.5);
  EXPECT_DOUBLE_EQ(all.max, 12);
  EXPECT_EQ(all.observed, 5u);
  // Newest first, stopping once the spread reaches 1: steps 5 (11) and 3 (12) suffice.
  const SeriesStore::ObservedRange early = s.RangeOf(ref, kT0 + 25 * kMin, 6, 1.0);
  EXPECT_DOUBLE_EQ(early.max - early.min, 1.0);
  EXPECT_EQ(early.observed, 2u);
  EXPECT_EQ(s.RangeOf("urn:p", kT0 + 25 * kMin, 6, 100.0).observed, 5u) << "never reached: the whole window";
  SeriesStore::SeriesRef none;  // no point: no data, as a binding's missing input reads
  EXPECT_TRUE(std::isnan(s.ValueAt(none, kT0)));
  EXPECT_EQ(none.point(), "");
}

TEST(SeriesStoreTest, ForwardFillUpToLimitThenGap) {
  SeriesStore s(Opts());
  ASSERT_EQ(s.Append(Obs(kT0, 1)), AppendOutcome::kAccepted);
  ASSERT_EQ(s.Append(Obs(kT0 + 20 * kMin, 5)), AppendOutcome::kAccepted);  // steps 1..3 missing
  auto w = s.Window("urn:p", kT0 + 25 * kMin, 5);
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->values[0], 1);
  EXPECT_DOUBLE_EQ(w->values[1], 1);  // filled (limit 1)
  EXPECT_TRUE(std::isnan(w->values[2]));
  EXPECT_TRUE(std::isnan(w->values[3]));
  EXPECT_DOUBLE_EQ(w->values[4], 5);
  EXPECT_EQ(w->observed, (std::vector<uint8_t>{1, 0, 0, 0, 1}));
  EXPECT_EQ(w->filled, (std::vector<uint8_t>{0, 1, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(w->coverage(), 3.0 / 5.0);
}

TEST(SeriesStoreTest, NoFillPastNewestData) {
  SeriesStore s(Opts());
  ASSERT_EQ(s.Append(Obs(kT0, 1)), AppendOutcome::kAccepted);
  auto w = s.Window("urn:p", kT0 + 15 * kMin, 3);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->filled, (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_TRUE(std::isnan(w->values[1]));
}

TEST(SeriesStoreTest, DuplicatesAreDroppedAndCounted) {
  SeriesStore s(Opts());
  ASSERT_EQ(s.Append(Obs(kT0, 10)), AppendOutcome::kAccepted);
  ASSERT_EQ(s.Append(Obs(kT0 + kMin, 20)), AppendOutcome::kAccepted);
  EXPECT_EQ(s.Append(Obs(kT0 + kMin, 20)), AppendOutcome::kDuplicate);  // newest again
  EXPECT_EQ(s.Append(Obs(kT0, 10)), AppendOutcome::kDuplicate);         // re-delivered older one
  auto w = s.Window("urn:p", kT0 + 5 * kMin, 1);
  EXPECT_DOUBLE_EQ(w->values[0], 15) << "duplicates must not change the mean";
  EXPECT_EQ(s.Stats("urn:p")->duplicates, 2u);
  EXPECT_EQ(s.Counters().duplicates, 2u);
}

TEST(SeriesStoreTest, LateObservationsGoToTheirStep) {
  SeriesStore s(Opts());
  ASSERT_EQ(s.Append(Obs(kT0, 10)), AppendOutcome::kAccepted);
  ASSERT_EQ(s.Append(Obs(kT0 + 10 * kMin, 30)), AppendOutcome::kAccepted);
  EXPECT_EQ(s.Append(Obs(kT0 + 5 * kMin, 20)), AppendOutcome::kLate);
  auto w = s.Window("urn:p", kT0 + 15 * kMin, 3);
  EXPECT_EQ(w->values, (std::vector<double>{10, 20, 30}));
  auto st = s.Stats("urn:p");
  EXPECT_EQ(st->late, 1u);
  EXPECT_DOUBLE_EQ(st->last_value, 30) << "a late value must not replace the latest";
}

TEST(SeriesStoreTest, TooOldIsRejected) {
  SeriesStore s(Opts());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(s.Append(Obs(kT0 + i * 5 * kMin, i)), AppendOutcome::kAccepted);
  // Older than the 12-step window.
  EXPECT_EQ(s.Append(Obs(kT0 + 2 * 5 * kMin + 1, 0)), AppendOutcome::kTooOld);
  // Inside the window but older than the 8 remembered timestamps: cannot prove it is not a duplicate.
  EXPECT_EQ(s.Append(Obs(kT0 + 10 * 5 * kMin + 1, 0)), AppendOutcome::kTooOld);
  EXPECT_EQ(s.Counters().too_old, 2u);
}

TEST(SeriesStoreTest, RingWrapsAndKeepsOnlyTheWindow) {
  SeriesStore s(Opts());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(s.Append(Obs(kT0 + i * 5 * kMin, i)), AppendOutcome::kAccepted);
  auto w = s.Latest("urn:p", 12);
  ASSERT_TRUE(w);
  for (int i = 0; i < 12; ++i) EXPECT_DOUBLE_EQ(w->values[i], 88 + i);
  // Asking beyond the ring returns gaps, never stale values from an older lap.
  auto older = s.Window("urn:p", kT0 + 50 * 5 * kMin, 3);
  for (double v : older->values) EXPECT_TRUE(std::isnan(v));
}

// A slot does not say which step it holds: the steps a jump skips must read as gaps, never as the
// older lap's values that sat in their slots (jumps shorter than, equal to and longer than the ring).
TEST(SeriesStoreTest, StepsSkippedByAJumpAreGapsNotAnOlderLap) {
  SeriesOptions o = Opts();
  o.window_steps = 4;
  o.ffill_limit_steps = 0;
  const int64_t step = o.step_ms;
  for (int jump : {2, 3, 4, 5, 9}) {
    SeriesStore s(o);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(s.Append(Obs(kT0 + i * step, 100 + i)), AppendOutcome::kAccepted);
    const int newest = 3 + jump;
    ASSERT_EQ(s.Append(Obs(kT0 + newest * step, 7)), AppendOutcome::kAccepted);
    for (int b = std::max(4, newest - 3); b < newest; ++b) {
      EXPECT_TRUE(std::isnan(s.ValueAt("urn:p", kT0 + b * step))) << "jump " << jump << ", step " << b;
    }
    auto w = s.Latest("urn:p", 4);
    ASSERT_TRUE(w);
    EXPECT_DOUBLE_EQ(w->values[3], 7);
    EXPECT_EQ(w->observed_steps, static_cast<size_t>(1 + std::max(0, 4 - jump))) << "jump " << jump;
    // A late observation of a skipped step inside the window still lands in its own step.
    if (jump < 4) {
      ASSERT_EQ(s.Append(Obs(kT0 + (newest - 1) * step, 42)), AppendOutcome::kLate);
      EXPECT_DOUBLE_EQ(s.ValueAt("urn:p", kT0 + (newest - 1) * step), 42);
    }
  }
}

TEST(SeriesStoreTest, MemoryPerPointIsFixed) {
  SeriesOptions o = Opts();
  o.window_steps = 288;
  o.dedup_depth = 32;
  SeriesStore s(o);
  EXPECT_LT(s.BytesPerPoint(), 288 * 12 + 32 * 8 + 512u);
  EXPECT_GE(s.BytesPerPoint(), 288 * 12u);
}

TEST(SeriesStoreTest, DropForgetsThePoint) {
  SeriesStore s(Opts());
  ASSERT_EQ(s.Append(Obs(kT0, 1, "urn:a")), AppendOutcome::kAccepted);
  ASSERT_EQ(s.Append(Obs(kT0, 1, "urn:b")), AppendOutcome::kAccepted);
  s.Drop("urn:a");
  EXPECT_FALSE(s.Stats("urn:a"));
  EXPECT_EQ(s.Points(), std::vector<std::string>{"urn:b"});
  EXPECT_EQ(s.Counters().points, 1u);
}

}  // namespace
}  // namespace brickcast
