#include "brickcast/forecast_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "brickcast/timemixer.h"
#include "serving/conformal.h"
#include "serving/forecast_json.h"
#include "fakes.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 60'000;
constexpr UnixMillis kT0 = 1'700'000'000'000 / kStep * kStep;

using testing::TrendForecaster;  // a step of kStep (60 s)

std::string Point(int i) { return "urn:test#p" + std::to_string(i); }

// Writes step `s` (one observation in the middle of the step) for points [0, n).
void Feed(SeriesStore& store, int n, int s, double noise_sd = 0.2, uint32_t seed = 7) {
  std::mt19937 rng(seed + static_cast<uint32_t>(s));
  std::normal_distribution<double> noise(0, noise_sd);
  for (int i = 0; i < n; ++i) {
    Observation o;
    o.point = Point(i);
    o.time = kT0 + s * kStep + kStep / 2;
    o.value = 20 + i + 2 * std::sin(s * 0.05 + i) + noise(rng);
    store.Append(o);
  }
}

std::vector<std::string> Points(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(Point(i));
  return v;
}

ForecastServiceOptions Options() {
  ForecastServiceOptions o;
  o.workers = 2;
  o.max_batch = 16;
  o.scan_interval = std::chrono::milliseconds(5);
  o.min_calibration = 8;
  o.calibration_stride = 1;  // every forecast's residuals (the default samples a day of 1-minute steps)
  return o;
}

// Feeds steps [from, to) one at a time; each Tick forecasts what the step made due.
void FeedSteps(SeriesStore& store, ForecastService& svc, int n, int from, int to) {
  for (int s = from; s < to; ++s) {
    Feed(store, n, s);
    svc.NotifyData(Points(n));
    ASSERT_TRUE(svc.Tick(std::chrono::seconds(20)));
  }
}

TEST(ForecastServiceTest, AccuracyIsComparedWithPersistenceAndSeasonalNaive) {
  // A signal that repeats every day exactly: the same time yesterday is a perfect forecast,
  // repeating the last value is not. The seasonal baseline is unknown until a day is stored.
  constexpr int kDay = 1440;  // steps of 60 s
  SeriesStore store(SeriesOptions{kStep, kDay + 64, 2, 32});
  ForecastService svc(store, Options());
  ASSERT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 4)).ok());
  ASSERT_TRUE(svc.Start().ok());
  auto feed = [&](int from, int to) {
    for (int s = from; s < to; ++s) {
      store.Append(Observation{Point(0), kT0 + s * kStep + kStep / 2, 20 + 3 * std::sin(2 * M_PI * s / kDay), "", ""});
      if (s % 8 == 0 || s + 1 == to) {  // forecasts every 8 steps: enough residuals, a quick test
        svc.NotifyData({Point(0)});
        ASSERT_TRUE(svc.Tick(std::chrono::seconds(20)));
      }
    }
  };
  feed(0, kDay - 40);
  EXPECT_TRUE(std::isnan(svc.Get(Point(0))->accuracy.seasonal_naive_mae)) << "under a day of data";
  EXPECT_TRUE(std::isnan(svc.Accuracy().seasonal_naive_mae));
  feed(kDay - 40, kDay + 60);
  const ModelAccuracy a = svc.Accuracy();
  ASSERT_FALSE(std::isnan(a.seasonal_naive_mae));
  EXPECT_LT(a.seasonal_naive_mae, 0.02);
  EXPECT_GT(a.persistence_mae, 5 * a.seasonal_naive_mae);
  EXPECT_LT(svc.Get(Point(0))->accuracy.seasonal_naive_mae, 0.02);
}

// A model that is always 10 units off: worse than repeating the last value anywhere.
class OffByTenForecaster : public TrendForecaster {
 public:
  OffByTenForecaster() : TrendForecaster(16, 4, "off-by-ten") {}
  StatusOr<std::vector<float>> Forecast(const std::vector<float>& x, const std::vector<float>& marks,
                                        int batch) const override {
    auto y = TrendForecaster::Forecast(x, marks, batch);
    for (float& v : *y) v += 10;
    return y;
  }
};

TEST(ForecastServiceTest, TheBestOfModelAndBaselinesIsServedAndTheModelComesBack) {
  // A ramp: the trend model is exact there, repeating the last value lags, a model 10 off is worst.
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ForecastServiceOptions o = Options();
  o.min_skill_residuals = 100;
  ForecastService svc(store, o);
  ASSERT_TRUE(svc.SetModel(std::make_shared<OffByTenForecaster>()).ok());
  ASSERT_TRUE(svc.Start().ok());
  int s = 0;
  auto feed = [&](int steps) {
    for (int end = s + steps; s < end; ++s) {
      store.Append(Observation{Point(0), kT0 + s * kStep + kStep / 2, 0.1 * s, "", ""});
      svc.NotifyData({Point(0)});
      ASSERT_TRUE(svc.Tick(std::chrono::seconds(20)));
    }
  };
  feed(30);
  EXPECT_EQ(svc.Get(Point(0))->served, ServedBy::kModel) << "too few scored steps to judge";
  feed(60);
  auto served = svc.Get(Point(0));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->served, ServedBy::kPersistence);
  EXPECT_NE(served->served_reason.find("persistence rolling MAE"), std::string::npos) << served->served_reason;
  EXPECT_EQ(served->model, "off-by-ten") << "the model still runs and is scored";
  ASSERT_EQ(served->model_steps.size(), served->steps.size()) << "its forecast kept for residual rules";
  EXPECT_NEAR(served->model_steps.front().value - served->steps.front().value, 10, 0.5);
  EXPECT_GT(served->accuracy.mae, 5 * served->accuracy.persistence_mae);
  // Persistence: the last value of the window (a closed step near the end of the ramp) at every step.
  EXPECT_GE(served->steps.front().value, 0.1 * (s - 3) - 1e-4);
  EXPECT_LE(served->steps.front().value, 0.1 * (s - 1) + 1e-4);
  for (size_t h = 0; h < served->steps.size(); ++h) {
    const ForecastStep& step = served->steps[h];
    EXPECT_NEAR(step.value, served->steps.front().value, 1e-6);
    ASSERT_FALSE(std::isnan(step.lower)) << "persistence's own residuals calibrate its interval";
    EXPECT_NEAR(step.upper - step.value, step.value - step.lower, 1e-4);
    const ForecastStep& model = served->model_steps[h];
    EXPECT_LT(step.upper - step.lower, model.upper - model.lower) << "narrower than the model's, 10 off";
  }
  // A better model: judged afresh, and served once it has proved itself.
  ASSERT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 4)).ok());
  feed(10);
  EXPECT_EQ(svc.Get(Point(0))->served, ServedBy::kModel) << "a new model starts served";
  feed(60);
  served = svc.Get(Point(0));
  EXPECT_EQ(served->served, ServedBy::kModel);
  EXPECT_NEAR(served->steps.back().value - served->steps.front().value, 0.3, 1e-3) << "the trend, not a flat line";
  // Off: the model's forecast whatever its skill.
  o.serve_best = false;
  ForecastService plain(store, o);
  ASSERT_TRUE(plain.SetModel(std::make_shared<OffByTenForecaster>()).ok());
  ASSERT_TRUE(plain.Start().ok());
  for (int i = 0; i < 60; ++i, ++s) {
    store.Append(Observation{Point(0), kT0 + s * kStep + kStep / 2, 0.1 * s, "", ""});
    plain.NotifyData({Point(0)});
    ASSERT_TRUE(plain.Tick(std::chrono::seconds(20)));
  }
  EXPECT_EQ(plain.Get(Point(0))->served, ServedBy::kModel);
}

TEST(ForecastServiceTest, ForecastsEveryPointWithCalibratedIntervals) {
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ManualClock clock(1800000000000);
  ForecastServiceOptions o = Options();
  o.clock = &clock;
  ForecastService svc(store, o);
  ASSERT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 4)).ok());
  ASSERT_TRUE(svc.Start().ok());
  FeedSteps(store, svc, 20, 0, 119);
  clock.Advance(60000);
  FeedSteps(store, svc, 20, 119, 120);
  for (int i = 0; i < 20; ++i) {
    auto f = svc.Get(Point(i));
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->status, ForecastStatus::kOk);
    EXPECT_EQ(f->produced_at, std::chrono::system_clock::time_point(std::chrono::milliseconds(1800000060000)))
        << "stamped by the injected clock";
    EXPECT_FALSE(f->fallback);
    EXPECT_EQ(f->model, "trend");
    // The newest observation is in step 119, still open: the window ends at step 119's start.
    EXPECT_EQ(f->window_end, kT0 + 119 * kStep);
    ASSERT_EQ(f->steps.size(), 4u);
    EXPECT_EQ(f->steps[0].time, kT0 + 119 * kStep);
    EXPECT_EQ(f->interval_source, IntervalSource::kPoint);
    for (const auto& st : f->steps) {
      EXPECT_LT(st.lower, st.value);
      EXPECT_GT(st.upper, st.value);
      EXPECT_NEAR(st.value, 20 + i, 4);
    }
    EXPECT_GT(f->accuracy.residuals, 300u);
    EXPECT_GT(f->accuracy.mae, 0.05);
    EXPECT_LT(f->accuracy.mae, 1.5);
    EXPECT_GT(f->accuracy.persistence_mae, 0);
  }
  // Split-conformal at 90 %: the realised coverage over all points lands near the target.
  const ModelAccuracy a = svc.Accuracy();
  EXPECT_EQ(a.model, "trend");
  // The trend model follows the sine better than repeating the last value does.
  EXPECT_LT(a.mae, a.persistence_mae);
  EXPECT_GT(a.interval_coverage, 0.78);
  EXPECT_LT(a.interval_coverage, 0.98);
  const ForecastCounters c = svc.Counters();
  EXPECT_EQ(c.forecasts, c.scheduled);
  // Each closed step (1..119) of each point gave a forecast, or "insufficient data" while fewer
  // than 80 % of the 16 input steps existed (the first 12).
  EXPECT_EQ(c.insufficient_data, 20u * 12);
  EXPECT_EQ(c.forecasts + c.insufficient_data, 20u * 119);
  EXPECT_GT(c.latency_p50_s, 0);
  svc.Stop();
}

// Adaptive conformal intervals keep their promise through a level shift with noisier data, a
// flat stretch (spread about 0) and the point moving again: realised coverage of the nominal
// 90 % in every horizon quarter between 0.88 and 0.92 over the whole run, intervals that shrink
// on the flat stretch, and per-quarter figures in the accuracy.
TEST(ForecastServiceTest, AdaptiveIntervalsKeepTheirCoverageThroughShiftsAndFlatStretches) {
  auto run = [](double adaptation) {
    SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
    ForecastServiceOptions o = Options();
    o.interval_adaptation = adaptation;
    ForecastService svc(store, o);
    EXPECT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 8)).ok());
    EXPECT_TRUE(svc.Start().ok());
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0, 1);
    double flat_width = NAN, moving_width = NAN;
    for (int s = 0; s < 1600; ++s) {
      double v = 20 + 2 * std::sin(s * 0.05) + 0.3 * noise(rng);
      if (s >= 400 && s < 800) v = 28 + 2 * std::sin(s * 0.05) + 1.2 * noise(rng);  // shifted, noisier
      if (s >= 800 && s < 1200) v = 28;                                          // flat: a closed valve
      if (s >= 1200) v = 28 + 2 * std::sin(s * 0.05) + 0.3 * noise(rng);           // moving again
      store.Append(Observation{Point(0), kT0 + s * kStep + kStep / 2, v, "", ""});
      svc.NotifyData({Point(0)});
      EXPECT_TRUE(svc.Tick(std::chrono::seconds(20)));
      auto f = svc.Get(Point(0));
      if (f && !f->steps.empty() && !std::isnan(f->steps.back().upper)) {
        if (s == 1150) flat_width = f->steps.back().upper - f->steps.back().lower;
        if (s == 350) moving_width = f->steps.back().upper - f->steps.back().lower;
      }
    }
    svc.Stop();
    auto f = svc.Get(Point(0));
    EXPECT_TRUE(f.has_value());
    return std::make_tuple(f ? f->accuracy.quarters : IntervalQuarters{}, svc.Accuracy().quarters, flat_width, moving_width,
                           f ? f->accuracy.persistence_quarters : IntervalQuarters{});
  };
  auto [point, model, flat_width, moving_width, persistence] = run(0.01);
  for (size_t q = 0; q < 4; ++q) {
    SCOPED_TRACE(q);
    EXPECT_GT(point[q].scored, 1400u);
    EXPECT_GE(point[q].coverage, 0.88);
    EXPECT_LE(point[q].coverage, 0.92);
    EXPECT_GT(point[q].mean_width, 0);
    EXPECT_EQ(model[q].scored, point[q].scored) << "one point: the model's figures are the point's";
    // Intervals around persistence, built the same way, keep the same promise.
    EXPECT_GT(persistence[q].scored, 1400u);
    EXPECT_GE(persistence[q].coverage, 0.88);
    EXPECT_LE(persistence[q].coverage, 0.92);
    EXPECT_GT(persistence[q].mean_width, 0);
  }
  EXPECT_LT(flat_width, 0.25 * moving_width) << "a flat point gets a narrow interval";
  // Plain split conformal on the same run (measured: 0.917-0.926, wider in every quarter): the
  // adaptive level lands nearer the promise with narrower intervals.
  auto [plain, plain_model, plain_flat, plain_moving, plain_persistence] = run(0);
  for (size_t q = 0; q < 4; ++q) {
    SCOPED_TRACE(q);
    EXPECT_LE(std::abs(point[q].coverage - 0.9), std::abs(plain[q].coverage - 0.9) + 1e-9);
    EXPECT_LT(point[q].mean_width, plain[q].mean_width);
  }
}

// The conformal helpers: a residual too small for the fixed point is kept as the smallest step,
// never as zero (a zero-width interval misses every nonzero residual), and an adapted coverage
// past 1 reads beyond the largest score instead of stopping at it.
TEST(ConformalTest, TinyScoresKeepAWidthAndLevelsPastOneWidenTheLargestScore) {
  serving::ScoreRings rings(1, 4);
  rings.Add(0, 0.0);
  rings.Add(0, 0.0001);  // rounds to 0 to the nearest thousandth
  rings.Add(0, 0.0001);
  rings.Add(0, 0.0001);
  std::vector<float> scratch;
  EXPECT_FLOAT_EQ(rings.Quantile(0, 0.9, &scratch), 0.001f);
  std::vector<float> sorted = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(serving::QuantileOfSorted(sorted, 0.5), 3);  // rank ceil(5 * 0.5) = 3
  EXPECT_DOUBLE_EQ(serving::QuantileOfSorted(sorted, 1.0), 4);
  EXPECT_DOUBLE_EQ(serving::QuantileOfSorted(sorted, 1.2), 4 * (1 + serving::kBeyondMax * 0.2));
  EXPECT_DOUBLE_EQ(serving::ConformalQuantile(sorted, 1.2), 4 * (1 + serving::kBeyondMax * 0.2));
  // A run of misses takes the level past full coverage; covered steps bring it back.
  serving::AdaptiveLevel level;
  for (int i = 0; i < 30; ++i) level.Update(0, 1, 0.9, 0.01, /*covered=*/false);
  EXPECT_GT(level.Coverage(0, 0.9), 1.0);
  for (int i = 0; i < 3000; ++i) level.Update(0, 1, 0.9, 0.01, /*covered=*/true);
  EXPECT_LE(level.Coverage(0, 0.9), 0.5 + 1e-6) << "held at the ceiling of alpha (0.5)";
  for (int i = 0; i < 1000; ++i) level.Update(0, 1, 0.9, 0.01, /*covered=*/false);
  EXPECT_NEAR(level.Coverage(0, 0.9), 2.0, 1e-6) << "and at the floor (-1)";
}

// Results depend only on the window: one window per forward and dynamic batches agree.
TEST(ForecastServiceTest, BatchingDoesNotChangeResults) {
  TimeMixerConfig cfg;
  cfg.seq_len = 32;
  cfg.pred_len = 8;
  cfg.channels = 1;
  cfg.down_sampling_layers = 2;
  cfg.time_features = 4;
  auto created = TimeMixerModel::Create(cfg, 3);
  ASSERT_TRUE(created.ok());
  (*created)->mutable_metadata().step_seconds = kStep / 1000;
  std::shared_ptr<const Forecaster> model(std::move(*created));

  std::vector<std::vector<float>> results[2];
  for (int variant = 0; variant < 2; ++variant) {
    SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
    ForecastServiceOptions o = Options();
    o.max_batch = variant == 0 ? 1 : 64;
    o.workers = variant == 0 ? 1 : 2;
    o.max_wait = std::chrono::milliseconds(20);
    ForecastService svc(store, o);
    ASSERT_TRUE(svc.SetModel(model).ok());
    for (int s = 0; s < 40; ++s) Feed(store, 50, s);
    ASSERT_TRUE(svc.Start().ok());
    svc.NotifyData(Points(50));
    ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(20)));
    const ForecastCounters c = svc.Counters();
    EXPECT_EQ(c.forecasts, 50u);
    if (variant == 1) {
      EXPECT_GT(static_cast<double>(c.batch_sum) / c.batches, 1.5) << "the second run must batch";
    }
    for (int i = 0; i < 50; ++i) {
      auto f = svc.Get(Point(i));
      ASSERT_TRUE(f && f->status == ForecastStatus::kOk);
      std::vector<float> v;
      for (const auto& st : f->steps) v.push_back(static_cast<float>(st.value));
      results[variant].push_back(v);
    }
  }
  for (int i = 0; i < 50; ++i)
    for (size_t h = 0; h < 8; ++h) EXPECT_NEAR(results[0][i][h], results[1][i][h], 1e-5) << "point " << i << " step " << h;
}

TEST(ForecastServiceTest, SparseWindowsAreMarkedInsufficient) {
  SeriesStore store(SeriesOptions{kStep, 64, 1, 32});
  ForecastService svc(store, Options());
  ASSERT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 4)).ok());
  ASSERT_TRUE(svc.Start().ok());
  // Every third step only: with a forward-fill limit of one step, 2/3 of the window is present.
  for (int s = 0; s < 40; s += 3) Feed(store, 1, s);
  svc.NotifyData({Point(0)});
  ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(5)));
  auto f = svc.Get(Point(0));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->status, ForecastStatus::kInsufficientData);
  EXPECT_LT(f->input_coverage, 0.8);
  EXPECT_TRUE(f->steps.empty());
  EXPECT_EQ(svc.Counters().insufficient_data, 1u);
}

// A model slower than the data: the queue stays at its capacity, points wait (deferred) and are
// then forecast from their newest window; memory does not grow with the backlog.
TEST(ForecastServiceTest, ASlowModelCausesBackpressureNotUnboundedMemory) {
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ForecastServiceOptions o = Options();
  o.queue_capacity = 8;
  o.max_batch = 4;
  o.workers = 1;
  ForecastService svc(store, o);
  auto slow = std::make_shared<TrendForecaster>(16, 4);
  slow->delay = std::chrono::milliseconds(5);
  ASSERT_TRUE(svc.SetModel(slow).ok());
  for (int s = 0; s < 20; ++s) Feed(store, 300, s);
  ASSERT_TRUE(svc.Start().ok());
  svc.NotifyData(Points(300));
  size_t max_depth = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && svc.Counters().forecasts < 300) {
    max_depth = std::max(max_depth, svc.Counters().queue_depth);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(30)));
  const ForecastCounters c = svc.Counters();
  EXPECT_LE(max_depth, 8u);
  EXPECT_GT(c.deferred, 0u);
  EXPECT_EQ(c.forecasts, 300u) << "every point is forecast once the backlog clears";
  EXPECT_LE(slow->max_batch_seen.load(), 4);
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(svc.Get(Point(i)).has_value());
}

// Models swapped while data flows: every scheduled window gets exactly one forecast, and each
// batch runs on one model.
TEST(ForecastServiceTest, ModelSwapUnderLoadLosesNoForecast) {
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ForecastService svc(store, Options());
  auto a = std::make_shared<TrendForecaster>(16, 4, "model-a");
  auto b = std::make_shared<TrendForecaster>(16, 4, "model-b");
  a->delay = b->delay = std::chrono::milliseconds(1);
  ASSERT_TRUE(svc.SetModel(a).ok());
  ASSERT_TRUE(svc.Start().ok());
  for (int s = 0; s < 16; ++s) Feed(store, 40, s);
  std::atomic<bool> done{false};
  std::thread swapper([&] {
    for (int k = 0; !done; ++k) {
      EXPECT_TRUE(svc.SetModel(k % 2 ? a : b).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  for (int s = 16; s < 60; ++s) {
    Feed(store, 40, s);
    svc.NotifyData(Points(40));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(20)));
  done = true;
  swapper.join();
  svc.NotifyData(Points(40));
  ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(20)));
  const ForecastCounters c = svc.Counters();
  EXPECT_EQ(c.forecasts, c.scheduled);
  EXPECT_EQ(c.fallback_forecasts, 0u);
  EXPECT_GT(c.model_swaps, 5u);
  for (int i = 0; i < 40; ++i) {
    auto f = svc.Get(Point(i));
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->window_end, kT0 + 59 * kStep) << "the newest closed step of every point was forecast";
    EXPECT_TRUE(f->model == "model-a" || f->model == "model-b");
  }
}

TEST(ForecastServiceTest, FallbackEngagesAndClears) {
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ForecastService svc(store, Options());
  ASSERT_TRUE(svc.Start().ok());
  int s = 0;
  auto step = [&] {
    Feed(store, 3, s++);
    svc.NotifyData(Points(3));
    ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(5)));
  };
  for (int k = 0; k < 100; ++k) step();
  auto f = svc.Get(Point(0));
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->fallback);
  EXPECT_EQ(f->model, "seasonal_naive");
  EXPECT_NE(f->fallback_reason.find("no model loaded"), std::string::npos) << f->fallback_reason;
  // Under a day of data: the last value is repeated.
  EXPECT_NE(f->fallback_reason.find("last value"), std::string::npos) << f->fallback_reason;
  EXPECT_DOUBLE_EQ(f->steps[0].value, f->steps[3].value);

  auto model = std::make_shared<TrendForecaster>(16, 4);
  model->fail = true;
  ASSERT_TRUE(svc.SetModel(model).ok());
  step();
  f = svc.Get(Point(0));
  EXPECT_TRUE(f->fallback);
  EXPECT_NE(f->fallback_reason.find("forward failed: injected failure"), std::string::npos) << f->fallback_reason;
  EXPECT_GT(svc.Counters().forward_failures, 0u);

  model->fail = false;
  step();
  f = svc.Get(Point(0));
  EXPECT_FALSE(f->fallback);
  EXPECT_EQ(f->model, "trend");
}

TEST(ForecastServiceTest, SeasonalNaiveUsesTheSameTimeYesterday) {
  // A ring of a day and an hour: yesterday's steps are all still there.
  SeriesStore store(SeriesOptions{kStep, 1500, 2, 32});
  ForecastService svc(store, Options());
  ASSERT_TRUE(svc.Start().ok());
  for (int s = 0; s < 1500; ++s) {
    Observation o;
    o.point = Point(0);
    o.time = kT0 + s * kStep;
    o.value = s % 1440;  // a daily ramp: yesterday's value at the same minute is (s - 1440)
    store.Append(o);
  }
  svc.NotifyData({Point(0)});
  ASSERT_TRUE(svc.WaitIdle(std::chrono::seconds(5)));
  auto f = svc.Get(Point(0));
  ASSERT_TRUE(f && f->fallback);
  EXPECT_EQ(f->fallback_reason, "no model loaded");
  // The window ends at step 1499 (open); the first forecast step is 1499, a day after step 59.
  ASSERT_EQ(f->steps.size(), 24u);
  for (int h = 0; h < 24; ++h) EXPECT_DOUBLE_EQ(f->steps[h].value, (1499 + h) % 1440) << h;
}

TEST(ForecastServiceTest, ModelsThatDoNotFitAreRefusedAndTheOldOneStays) {
  SeriesStore store(SeriesOptions{kStep, 64, 2, 32});
  ForecastService svc(store, Options());
  ASSERT_TRUE(svc.SetModel(std::make_shared<TrendForecaster>(16, 4, "good")).ok());
  TimeMixerConfig cfg;  // 7 channels, hourly
  auto ett = TimeMixerModel::Create(cfg, 1);
  ASSERT_TRUE(ett.ok());
  Status st = svc.SetModel(std::shared_ptr<const Forecaster>(std::move(*ett)));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("single-channel"), std::string::npos) << st.message();
  auto long_input = std::make_shared<TrendForecaster>(128, 4);
  st = svc.SetModel(long_input);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("needs 128 steps"), std::string::npos) << st.message();
  EXPECT_EQ(svc.model_identity(), "good");
  st = svc.LoadModel("/nonexistent/model");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(svc.model_identity(), "good");
}

}  // namespace
}  // namespace brickcast

namespace brickcast {
namespace {

// Sharpness per class: rolling MAEs averaged over the class's points; coverage, width and the
// mean absolute error over the same scored actuals weighted by what each quarter scored; whether
// the model is more accurate (on those same steps) and narrower than persistence; a class without
// persistence figures says neither.
TEST(ForecastJsonTest, SharpnessByClassWeighsQuartersByWhatTheyScored) {
  auto accuracy = [](double mae, double pmae, uint64_t scored, double width, double pwidth, double err, double perr) {
    PointAccuracy a;
    a.mae = mae;
    a.persistence_mae = pmae;
    for (IntervalQuarter& q : a.quarters) q = IntervalQuarter{scored, 0.9, width, err};
    for (IntervalQuarter& q : a.persistence_quarters) q = IntervalQuarter{scored, 0.8, pwidth, perr};
    return a;
  };
  std::vector<std::pair<std::string, PointAccuracy>> points{
      {"Supply_Air_Temperature_Sensor", accuracy(0.2, 0.4, 100, 1.0, 2.0, 0.2, 0.4)},
      {"Supply_Air_Temperature_Sensor", accuracy(0.4, 0.6, 300, 3.0, 2.0, 0.4, 0.6)},
      // Worse at the end of the run (rolling), better over the steps the widths cover.
      {"Valve_Command", accuracy(0.5, 0.1, 10, 4.0, 1.0, 0.05, 0.1)},
      {"", PointAccuracy{}}};
  const nlohmann::json j = SharpnessByClass(points);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["class"], "(unknown)");
  EXPECT_TRUE(j[0]["mae"].is_null());
  EXPECT_TRUE(j[0]["model_narrower"].is_null());
  EXPECT_TRUE(j[0]["model_more_accurate"].is_null());
  const nlohmann::json& sat = j[1];
  EXPECT_EQ(sat["class"], "Supply_Air_Temperature_Sensor");
  EXPECT_EQ(sat["points"], 2);
  EXPECT_NEAR(sat["mae"].get<double>(), 0.3, 1e-12);
  EXPECT_NEAR(sat["persistence_mae"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(sat["mean_abs_error"].get<double>(), (0.2 * 100 + 0.4 * 300) / 400, 1e-12) << "weighted by scored";
  EXPECT_NEAR(sat["persistence_mean_abs_error"].get<double>(), (0.4 * 100 + 0.6 * 300) / 400, 1e-12);
  EXPECT_NEAR(sat["mean_width"].get<double>(), (1.0 * 100 + 3.0 * 300) / 400, 1e-12) << "weighted by scored";
  EXPECT_NEAR(sat["persistence_mean_width"].get<double>(), 2.0, 1e-12);
  EXPECT_NEAR(sat["coverage"].get<double>(), 0.9, 1e-12);
  EXPECT_TRUE(sat["model_more_accurate"].get<bool>());
  EXPECT_FALSE(sat["model_narrower"].get<bool>()) << "2.5 wide against persistence's 2.0";
  EXPECT_GT(j[2]["mae"].get<double>(), j[2]["persistence_mae"].get<double>());
  EXPECT_TRUE(j[2]["model_more_accurate"].get<bool>()) << "judged on the steps the widths cover";
  EXPECT_FALSE(j[2]["model_narrower"].get<bool>());
}

}  // namespace
}  // namespace brickcast
