// ForecastService: scheduler thread, worker pool with dynamic batching, conformal intervals,
// accuracy, fallback and model swap. See include/brickcast/forecast_service.h for the design.
#include "brickcast/forecast_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "brickcast/bounded_queue.h"
#include "brickcast/timemixer.h"
#include "serving/conformal.h"

namespace brickcast {

using Steady = std::chrono::steady_clock;

namespace {

constexpr size_t kShards = 16;
constexpr size_t kPooledScores = 2048;  // pooled residuals kept per horizon step
// Residuals are scored in units of at least this many of the point's usual input-window spreads
// (2 gave intervals a fifth narrower on the LBNL files, but wider than split conformal's in a
// quarter of ForecastServiceTest's shift test: the adaptation lost its local scale).
constexpr double kUsualSpreads = 1.0;
constexpr size_t kLatencySamples = 8192;

const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                            0.1,    0.2,   0.5,   1,     2,    5,    10};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

// One due window on its way to a worker.
struct Request {
  std::string point;
  UnixMillis window_end = 0;
  double coverage = 0;
  std::vector<float> input;     // the model's seq_len steps, gaps filled
  std::vector<float> seasonal;  // the values one day before the forecast steps (fallback), or empty
  float last_value = 0;
  Steady::time_point enqueued;
  // The pooled scores (per horizon step, ascending) as the scan that queued it began: every
  // request of a scan reads the same pool whichever worker takes it and when, so results do not
  // depend on thread timing (the pool is refreshed at the end of each scan).
  std::shared_ptr<const std::vector<std::vector<float>>> pooled;
};

// A forecast waiting for its actuals.
struct PastForecast {
  UnixMillis first_step = 0;
  float scale = 1;                // of its residuals: the input window's spread, at least the point's usual one
  float last_value = 0;           // the persistence forecast for every step, for the skill comparison
  std::vector<float> seasonal;    // the seasonal-naive forecast per horizon step; empty under a day of data
  std::vector<float> values;      // per horizon step
  std::vector<float> half_width;  // NaN when it had no interval
  std::vector<float> persistence_half_width;  // of the interval around persistence, built alike; NaN: none yet
  std::vector<float> seasonal_half_width;     // ... and around seasonal naive
  bool sampled = false;  // its residuals enter the point's calibration rings (one day's sample)
};

struct PointState {
  UnixMillis requested_end = 0;  // window end of the newest request
  bool in_flight = false;
  bool newer_due = false;        // a newer step closed while the request was in flight
  UnixMillis scored_until = 0;   // steps before this were compared with their forecasts
  std::shared_ptr<const PointForecast> latest;  // shared with ForecastProduced subscribers
  std::deque<PastForecast> past;
  serving::ScoreRings scores;
  serving::AdaptiveLevel level;  // per horizon step: where its scores are read (ACI)
  std::array<serving::QuarterTally, 4> quarters;  // since the model was loaded
  // The same calibration for the baselines: intervals around persistence and seasonal naive.
  serving::BaselineIntervals persistence, seasonal;
  serving::RollingMean mae, coverage, persistence_mae, seasonal_mae;
  serving::RollingMean typical_spread;  // of the input windows (about a day of forecasts)
  ServedBy served = ServedBy::kModel;  // serve_best: the source served now
  UnixMillis last_sampled = INT64_MIN;  // first step of the newest forecast sampled for calibration
};

IntervalQuarters QuartersOf(const std::array<serving::QuarterTally, 4>& tallies) {
  IntervalQuarters out;
  for (size_t q = 0; q < 4; ++q) {
    const serving::QuarterTally& t = tallies[q];
    out[q].scored = t.scored;
    if (t.scored == 0) continue;
    out[q].coverage = static_cast<double>(t.covered) / static_cast<double>(t.scored);
    out[q].mean_width = t.width / static_cast<double>(t.scored);
    out[q].mean_abs_error = t.abs_error / static_cast<double>(t.scored);
  }
  return out;
}

// serve_best: the source to serve next, with hysteresis (a challenger must beat the source served
// now by the margin). `seasonal_ok`: this request has a seasonal-naive forecast (a day of data).
ServedBy BestSource(const PointState& st, bool seasonal_ok, size_t min_residuals, double margin,
                    std::string* reason) {
  auto mae_of = [&](ServedBy s) -> double {
    switch (s) {
      case ServedBy::kModel: return st.mae.n >= min_residuals ? st.mae.value : NAN;
      case ServedBy::kPersistence: return st.persistence_mae.n >= min_residuals ? st.persistence_mae.value : NAN;
      case ServedBy::kSeasonalNaive:
        return seasonal_ok && st.seasonal_mae.n >= min_residuals ? st.seasonal_mae.value : NAN;
    }
    return NAN;
  };
  ServedBy current = st.served;
  if (std::isnan(mae_of(current))) current = ServedBy::kModel;  // e.g. no seasonal forecast this time
  const double current_mae = mae_of(current);
  if (std::isnan(current_mae)) return ServedBy::kModel;  // not enough scored steps yet
  ServedBy best = current;
  double best_mae = current_mae;
  for (ServedBy s : {ServedBy::kModel, ServedBy::kPersistence, ServedBy::kSeasonalNaive}) {
    const double m = mae_of(s);
    if (s != current && !std::isnan(m) && m < margin * current_mae && m < best_mae) {
      best = s;
      best_mae = m;
    }
  }
  if (best != ServedBy::kModel) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s rolling MAE %.4g < the model's %.4g over the last ~%zu scored steps",
                  ServedByName(best), best_mae, st.mae.value, std::max<size_t>(200, min_residuals));
    *reason = buf;
  }
  return best;
}

struct Shard {
  mutable std::mutex mu;
  std::unordered_map<std::string, PointState> points;  // guarded by mu
};

// Fills gaps: forward fill, then leading gaps from the first value. False when all are NaN.
bool FillGaps(std::vector<double>* v) {
  double last = NAN;
  for (double& x : *v) {
    if (std::isnan(x)) x = last;
    else last = x;
  }
  auto first = std::find_if(v->begin(), v->end(), [](double x) { return !std::isnan(x); });
  if (first == v->end()) return false;
  std::fill(v->begin(), first, *first);
  return true;
}

float Spread(const std::vector<float>& x) {
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  // The same floor as RevIN's epsilon: a flat input (a closed damper) still has a usable scale.
  return static_cast<float>(std::sqrt(var / static_cast<double>(x.size()) + 1e-5));
}

}  // namespace

struct ForecastService::Impl {
  SeriesStore& store;
  ForecastServiceOptions opt;
  int64_t step_ms;
  int64_t calibration_stride;  // a point's own residuals: forecasts at least this many steps apart (a day's sample)

  mutable std::mutex model_mu;
  std::shared_ptr<const Forecaster> model;  // guarded by model_mu; workers copy the pointer per batch

  std::array<Shard, kShards> shards;
  BoundedQueue<Request> queue;

  std::mutex dirty_mu;
  std::unordered_set<std::string> dirty;  // guarded by dirty_mu
  bool scanning = false;                  // guarded by dirty_mu: a scan holds points not yet queued
  std::atomic<size_t> in_flight{0};

  // Pooled residuals and model accuracy; written by the scheduler, read by workers and the API.
  mutable std::mutex pooled_mu;
  serving::ScoreRings pooled;
  // Per horizon step, the pooled scores in ascending order, refreshed after scoring; shared with
  // the workers, which read them at each point's own adaptive level.
  std::shared_ptr<const std::vector<std::vector<float>>> pooled_sorted;
  serving::RollingMean model_mae, model_coverage, model_persistence_mae, model_seasonal_mae;
  std::array<serving::QuarterTally, 4> model_quarters, model_persistence_quarters, model_seasonal_quarters;

  mutable std::mutex stats_mu;
  ForecastCounters counters;                   // guarded by stats_mu (latency/batch histograms too)
  std::vector<double> latency_ring;            // last kLatencySamples latencies, guarded by stats_mu
  size_t latency_head = 0;

  std::thread scheduler;
  std::vector<std::thread> workers;
  std::mutex run_mu;
  std::condition_variable run_cv;
  bool stopping = false;  // guarded by run_mu
  bool started = false;

  Impl(SeriesStore& s, ForecastServiceOptions o)
      : store(s),
        opt(std::move(o)),
        step_ms(s.options().step_ms),
        calibration_stride(opt.calibration_stride > 0
                               ? static_cast<int64_t>(opt.calibration_stride)
                               : std::max<int64_t>(1, 86'400'000 / std::max<int64_t>(1, step_ms) /
                                                          static_cast<int64_t>(std::max<size_t>(1, opt.calibration_size)))),
        queue(std::max<size_t>(1, opt.queue_capacity)) {
    counters.latency_bounds_s = kLatencyBounds;
    counters.latency_counts.assign(kLatencyBounds.size(), 0);
    counters.batch_bounds = kBatchBounds;
    counters.batch_counts.assign(kBatchBounds.size(), 0);
  }

  Shard& ShardFor(const std::string& point) { return shards[std::hash<std::string>{}(point) % kShards]; }
  const Shard& ShardFor(const std::string& point) const { return shards[std::hash<std::string>{}(point) % kShards]; }

  std::shared_ptr<const Forecaster> CurrentModel() const {
    std::lock_guard<std::mutex> lock(model_mu);
    return model;
  }

  // The horizon and input length the service works with: the model's, or for the fallback alone
  // 24 steps ahead from up to 96 steps of input.
  int Horizon(const Forecaster* m) const { return m ? m->pred_len() : 24; }
  int InputLength(const Forecaster* m) const {
    return m ? m->seq_len() : static_cast<int>(std::min<size_t>(96, store.options().window_steps));
  }

  void MarkDirty(const std::string& point) {
    std::lock_guard<std::mutex> lock(dirty_mu);
    dirty.insert(point);
  }

  // --- scheduler -------------------------------------------------------------------------------

  void Scan() {
    std::unordered_set<std::string> work;
    {
      std::lock_guard<std::mutex> lock(dirty_mu);
      work.swap(dirty);
      if (work.empty()) return;
      scanning = true;
    }
    struct Done {
      Impl* impl;
      ~Done() {
        std::lock_guard<std::mutex> lock(impl->dirty_mu);
        impl->scanning = false;
      }
    } done{this};
    auto m = CurrentModel();
    const int seq = InputLength(m.get()), horizon = Horizon(m.get());
    const size_t day_steps = static_cast<size_t>(86'400'000 / step_ms);
    const size_t fetch = std::max<size_t>(seq, std::min(day_steps, store.options().window_steps));
    bool scored = false;
    std::shared_ptr<const std::vector<std::vector<float>>> pooled_at_start;
    {
      std::lock_guard<std::mutex> lock(pooled_mu);
      pooled_at_start = pooled_sorted;
    }
    for (const std::string& point : work) {
      auto stats = store.Stats(point);
      if (!stats) continue;
      // The step holding the newest observation is still open; every step before it is closed.
      const UnixMillis closed_end = (stats->last_time / step_ms) * step_ms;
      if (closed_end <= stats->first_time) continue;  // no step with data has closed yet
      Shard& shard = ShardFor(point);
      {
        std::lock_guard<std::mutex> lock(shard.mu);
        PointState& st = shard.points[point];
        if (closed_end <= st.requested_end) continue;
        if (st.in_flight) {
          st.newer_due = true;  // picked up when the running request finishes
          continue;
        }
      }
      if (queue.size() >= queue.capacity()) {
        Count([](ForecastCounters& c) { ++c.deferred; });
        MarkDirty(point);  // stays due; a later scan takes its newest window
        continue;
      }
      auto window = store.Window(point, closed_end, fetch);
      if (!window) continue;
      scored |= ScoreActuals(point, *window, closed_end);

      Request req;
      req.point = point;
      req.window_end = closed_end;
      req.pooled = pooled_at_start;
      const size_t n = window->values.size();
      size_t present = 0;
      for (size_t i = n - seq; i < n; ++i) present += window->observed[i] || window->filled[i];
      req.coverage = static_cast<double>(present) / seq;
      std::vector<double> values(window->values.begin(), window->values.end());
      if (req.coverage < opt.min_coverage || !FillGaps(&values)) {
        PointForecast pf;
        pf.point = point;
        pf.status = ForecastStatus::kInsufficientData;
        pf.window_end = closed_end;
        pf.step_ms = step_ms;
        pf.input_coverage = req.coverage;
        pf.interval_source = IntervalSource::kNone;
        pf.produced_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(opt.clock->Now()));
        std::lock_guard<std::mutex> lock(shard.mu);
        PointState& st = shard.points[point];
        st.requested_end = closed_end;
        st.latest = std::make_shared<const PointForecast>(std::move(pf));
        Count([](ForecastCounters& c) { ++c.insufficient_data; });
        continue;
      }
      req.input.assign(values.end() - seq, values.end());
      req.last_value = req.input.back();
      // Seasonal naive needs yesterday's values at the forecast steps: the first `horizon` steps of
      // a one-day window ending now. (With a store of exactly one day the oldest of those steps has
      // left the ring; the gap filling then takes the next one, a step later.)
      // Only from data: steps before the point's first observation are back-filled by FillGaps,
      // and yesterday's "values" there would be today's first value (not a seasonal forecast). The
      // first of them may be missing: a store of exactly one day has just evicted it.
      size_t known = 0;
      const bool whole_day = n >= day_steps && day_steps >= static_cast<size_t>(horizon);
      for (size_t i = n - std::min(n, day_steps); whole_day && i < n - day_steps + static_cast<size_t>(horizon); ++i)
        known += window->observed[i] || window->filled[i];
      if (whole_day && known + 1 >= static_cast<size_t>(horizon))
        req.seasonal.assign(values.end() - day_steps, values.end() - day_steps + horizon);
      req.enqueued = Steady::now();
      {
        std::lock_guard<std::mutex> lock(shard.mu);
        PointState& st = shard.points[point];
        st.requested_end = closed_end;
        st.in_flight = true;
        st.newer_due = false;
      }
      ++in_flight;
      Count([](ForecastCounters& c) { ++c.scheduled; });
      if (!queue.Push(std::move(req), Steady::now())) {  // closed while stopping
        --in_flight;
        std::lock_guard<std::mutex> lock(shard.mu);
        shard.points[point].in_flight = false;
      }
    }
    if (scored) RefreshPooledQuantiles(horizon);
  }

  // Compares the point's earlier forecasts with the actuals that closed since the last scan.
  bool ScoreActuals(const std::string& point, const SeriesWindow& w, UnixMillis closed_end) {
    Shard& shard = ShardFor(point);
    std::vector<std::pair<size_t, double>> pooled_scores;
    struct Update {
      double err, covered, persistence_err, seasonal_err;  // covered, seasonal_err: NaN when not known
      size_t quarter;
      double width;  // of the interval, when covered is known
      double persistence_covered, persistence_width;  // NaN: no persistence interval yet
      double seasonal_covered, seasonal_width;        // NaN: no seasonal interval yet
    };
    std::vector<Update> model_updates;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      PointState& st = shard.points[point];
      if (st.past.empty()) {
        st.scored_until = closed_end;
        return false;
      }
      const UnixMillis from = std::max(st.scored_until, w.start);
      for (UnixMillis s = from; s < closed_end; s += step_ms) {
        const size_t i = static_cast<size_t>((s - w.start) / step_ms);
        if (i >= w.values.size() || !w.observed[i]) continue;  // only real observations count
        const double actual = w.values[i];
        for (const PastForecast& p : st.past) {
          if (s < p.first_step) continue;
          const size_t h = static_cast<size_t>((s - p.first_step) / step_ms);
          if (h >= p.values.size()) continue;
          const double err = std::abs(actual - p.values[h]);
          if (st.scores.horizons() != p.values.size()) st.scores = serving::ScoreRings(p.values.size(), opt.calibration_size);
          // The point's own residuals are sampled evenly over the last day (forecasts at least
          // calibration_stride steps apart): a ring of the last few hours held only a quiet night's
          // residuals when the morning start came, and missed it; a day's sample holds yesterday's.
          const bool sample = p.sampled;
          if (sample) st.scores.Add(h, err / p.scale);
          pooled_scores.emplace_back(h, err / p.scale);
          const double covered = std::isnan(p.half_width[h]) ? NAN : (err <= p.half_width[h] ? 1.0 : 0.0);
          const double persistence_err = std::abs(actual - p.last_value);
          st.mae.Add(err);
          st.persistence_mae.Add(persistence_err);
          const double seasonal_err =
              h < p.seasonal.size() && !std::isnan(p.seasonal[h]) ? std::abs(actual - p.seasonal[h]) : NAN;
          if (!std::isnan(seasonal_err)) st.seasonal_mae.Add(seasonal_err);
          const size_t quarter = h * 4 / p.values.size();
          const double width = 2.0 * p.half_width[h];
          if (!std::isnan(covered)) {
            st.coverage.Add(covered);
            st.quarters[quarter].Add(covered > 0, width, err);
            st.level.Update(h, p.values.size(), opt.interval_coverage, opt.interval_adaptation, covered > 0);
          }
          const size_t horizons = p.values.size();
          const double persistence_hw = h < p.persistence_half_width.size() ? p.persistence_half_width[h] : NAN;
          const double persistence_covered =
              st.persistence.Score(h, horizons, persistence_err, p.scale, sample, persistence_hw, quarter,
                                   opt.interval_coverage, opt.interval_adaptation, opt.calibration_size);
          double seasonal_covered = NAN, seasonal_hw = NAN;
          if (!std::isnan(seasonal_err)) {
            seasonal_hw = h < p.seasonal_half_width.size() ? p.seasonal_half_width[h] : NAN;
            seasonal_covered = st.seasonal.Score(h, horizons, seasonal_err, p.scale, sample, seasonal_hw, quarter,
                                                 opt.interval_coverage, opt.interval_adaptation, opt.calibration_size);
          }
          model_updates.push_back({err, covered, persistence_err, seasonal_err, quarter, width, persistence_covered,
                                   2.0 * persistence_hw, seasonal_covered, 2.0 * seasonal_hw});
        }
      }
      st.scored_until = closed_end;
      while (!st.past.empty() &&
             st.past.front().first_step + static_cast<int64_t>(st.past.front().values.size()) * step_ms <= closed_end)
        st.past.pop_front();
    }
    if (pooled_scores.empty()) return false;
    std::lock_guard<std::mutex> lock(pooled_mu);
    for (auto [h, s] : pooled_scores) {
      if (pooled.horizons() <= h) continue;
      pooled.Add(h, s);
    }
    for (const Update& u : model_updates) {
      model_mae.Add(u.err, 2000);
      model_persistence_mae.Add(u.persistence_err, 2000);
      if (!std::isnan(u.seasonal_err)) model_seasonal_mae.Add(u.seasonal_err, 2000);
      if (!std::isnan(u.covered)) {
        model_coverage.Add(u.covered, 2000);
        model_quarters[u.quarter].Add(u.covered > 0, u.width, u.err);
      }
      if (!std::isnan(u.persistence_covered))
        model_persistence_quarters[u.quarter].Add(u.persistence_covered > 0, u.persistence_width, u.persistence_err);
      if (!std::isnan(u.seasonal_covered))
        model_seasonal_quarters[u.quarter].Add(u.seasonal_covered > 0, u.seasonal_width, u.seasonal_err);
    }
    return true;
  }

  void RefreshPooledQuantiles(int horizon) {
    std::lock_guard<std::mutex> lock(pooled_mu);
    if (pooled.horizons() != static_cast<size_t>(horizon)) return;
    auto sorted = std::make_shared<std::vector<std::vector<float>>>(horizon);
    for (int h = 0; h < horizon; ++h) (*sorted)[h] = pooled.Sorted(h);
    pooled_sorted = std::move(sorted);
  }

  // --- workers ---------------------------------------------------------------------------------

  void WorkerLoop() {
    std::vector<Request> batch;
    while (true) {
      batch.clear();
      auto first = queue.Pop(Steady::now() + std::chrono::hours(1));
      if (!first) {
        std::lock_guard<std::mutex> lock(run_mu);
        if (stopping) return;
        continue;
      }
      batch.push_back(std::move(*first));
      // Dynamic batching: take what is queued, waiting at most max_wait for the batch to fill.
      const auto deadline = Steady::now() + opt.max_wait;
      while (batch.size() < opt.max_batch) {
        auto next = queue.Pop(deadline);
        if (!next) break;
        batch.push_back(std::move(*next));
      }
      RunBatch(batch);
    }
  }

  void RunBatch(std::vector<Request>& batch) {
    auto m = CurrentModel();  // a swap during this batch does not affect it
    const int n = static_cast<int>(batch.size());
    std::vector<float> out;
    std::string fallback_reason;
    int horizon = Horizon(m.get());
    bool usable = m && static_cast<int>(batch[0].input.size()) == m->seq_len();
    if (!m) fallback_reason = "no model loaded";
    else if (!usable) fallback_reason = "model changed while the request was queued";
    if (usable) {
      const int seq = m->seq_len();
      std::vector<float> x;
      std::vector<float> marks;
      x.reserve(static_cast<size_t>(n) * seq);
      for (const Request& r : batch) {
        if (static_cast<int>(r.input.size()) != seq) {
          usable = false;
          fallback_reason = "model changed while the request was queued";
          break;
        }
        x.insert(x.end(), r.input.begin(), r.input.end());
        if (m->time_features() > 0)
          for (int i = 0; i < seq; ++i) {
            const int64_t utc = (r.window_end - static_cast<int64_t>(seq - i) * step_ms) / 1000;
            AppendTimeFeatures(utc + opt.site_zone.OffsetAtUtc(utc), &marks);
          }
      }
      if (usable) {
        auto y = m->Forecast(x, marks, n);
        if (y.ok() && std::all_of(y->begin(), y->end(), [](float v) { return std::isfinite(v); })) {
          out = std::move(*y);
        } else {
          usable = false;
          fallback_reason = y.ok() ? "the model returned non-finite values" : "forward failed: " + y.status().message();
          Count([](ForecastCounters& c) { ++c.forward_failures; });
          spdlog::warn("forecast: {} ({} windows); answering with seasonal naive", fallback_reason, n);
        }
      }
    }
    const std::string identity = usable ? m->identity() : "seasonal_naive";
    {
      std::lock_guard<std::mutex> lock(pooled_mu);
      if (pooled.horizons() != static_cast<size_t>(horizon)) {
        pooled = serving::ScoreRings(horizon, kPooledScores);
        pooled_sorted.reset();
      }
    }
    std::vector<float> scratch;
    const auto now = Steady::now();
    std::vector<double> latencies;
    uint64_t late = 0;
    for (int b = 0; b < n; ++b) {
      Request& r = batch[b];
      std::vector<float> values(horizon);
      for (int h = 0; h < horizon; ++h) {
        if (usable) values[h] = out[static_cast<size_t>(b) * horizon + h];
        else values[h] = r.seasonal.size() == static_cast<size_t>(horizon) ? r.seasonal[h] : r.last_value;
      }
      float scale = Spread(r.input);
      PointForecast pf;
      pf.point = r.point;
      pf.status = ForecastStatus::kOk;
      pf.model = identity;
      pf.fallback = !usable;
      if (!usable) pf.fallback_reason = fallback_reason + (r.seasonal.empty() ? " (last value: under a day of data)" : "");
      pf.window_end = r.window_end;
      pf.step_ms = step_ms;
      pf.input_coverage = r.coverage;
      pf.produced_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(opt.clock->Now()));
      PastForecast past;
      std::shared_ptr<const PointForecast> produced;
      past.first_step = r.window_end;
      past.last_value = r.last_value;
      past.seasonal = r.seasonal;
      past.values = values;
      past.half_width.assign(horizon, NAN);
      Shard& shard = ShardFor(r.point);
      bool redo = false;
      {
        std::lock_guard<std::mutex> lock(shard.mu);
        auto found = shard.points.find(r.point);
        if (found == shard.points.end()) continue;  // dropped while in flight (partition revoked)
        PointState& st = found->second;
        // Residuals are normalised by the point's usual spread, or by the window's where it is
        // unusually volatile. By the window's alone, a flat window (a set point between changes,
        // a closed valve) scored the next change as a huge residual, and every interval after
        // it was absurd: a mean width of 200 K two hours out around the supply temperature of
        // MZVAV-2-2 (26 K this way, at the same coverage).
        st.typical_spread.Add(scale, 288);
        scale = std::max(scale, static_cast<float>(kUsualSpreads * st.typical_spread.value));
        past.scale = scale;
        // Spaced in data time, not by step number, so a service that skips windows (a replay
        // faster than the model) still samples whatever forecasts it makes.
        if (st.last_sampled == INT64_MIN || r.window_end >= st.last_sampled + calibration_stride * step_ms) {
          past.sampled = true;
          st.last_sampled = r.window_end;
        }
        bool own = st.scores.horizons() == static_cast<size_t>(horizon);
        for (int h = 0; h < horizon && own; ++h) own = st.scores.count(h) >= opt.min_calibration;
        const std::shared_ptr<const std::vector<std::vector<float>>>& pooled_q = r.pooled;
        const bool pooled_ok = pooled_q && pooled_q->size() == static_cast<size_t>(horizon) &&
                               std::all_of(pooled_q->begin(), pooled_q->end(),
                                           [this](const std::vector<float>& v) { return v.size() >= opt.min_calibration; });
        pf.interval_source = own ? IntervalSource::kPoint : pooled_ok ? IntervalSource::kPooled : IntervalSource::kNone;
        past.persistence_half_width = st.persistence.HalfWidths(static_cast<size_t>(horizon), opt.interval_coverage,
                                                                scale, opt.min_calibration, &scratch);
        past.seasonal_half_width = st.seasonal.HalfWidths(static_cast<size_t>(horizon), opt.interval_coverage, scale,
                                                          opt.min_calibration, &scratch);
        for (int h = 0; h < horizon; ++h) {
          ForecastStep step;
          step.time = r.window_end + static_cast<int64_t>(h) * step_ms;
          step.value = values[h];
          // Read at the point's adapted level, from its own scores or, until it has enough, the pool's.
          const double level = st.level.Coverage(static_cast<size_t>(h), opt.interval_coverage);
          const double q = own         ? st.scores.Quantile(h, level, &scratch)
                           : pooled_ok ? serving::QuantileOfSorted((*pooled_q)[h], level)
                                       : NAN;
          if (!std::isnan(q)) {
            past.half_width[h] = static_cast<float>(q * scale);
            step.lower = values[h] - q * scale;
            step.upper = values[h] + q * scale;
          }
          pf.steps.push_back(step);
        }
        if (opt.serve_best) {
          // Scored above as the model's (past.values); served as the best source on this point.
          const ServedBy served = BestSource(st, r.seasonal.size() == static_cast<size_t>(horizon),
                                             opt.min_skill_residuals, opt.skill_margin, &pf.served_reason);
          if (served != st.served)
            spdlog::info("forecast {}: serving {} ({})", r.point, ServedByName(served),
                         served == ServedBy::kModel ? "the model is the most accurate again" : pf.served_reason);
          st.served = served;
          pf.served = served;
          if (served != ServedBy::kModel) {
            pf.model_steps = pf.steps;
            for (int h = 0; h < horizon; ++h) {
              ForecastStep& step = pf.steps[h];
              const double v = served == ServedBy::kPersistence ? r.last_value : r.seasonal[h];
              const double own_width = served == ServedBy::kPersistence ? past.persistence_half_width[h]
                                                                        : past.seasonal_half_width[h];
              if (!std::isnan(own_width)) {  // calibrated on the baseline's own residuals
                step.lower = v - own_width;
                step.upper = v + own_width;
              } else {  // not calibrated yet: the model's width around it
                step.lower += v - step.value;
                step.upper += v - step.value;
              }
              step.value = v;
            }
          }
        }
        produced = std::make_shared<const PointForecast>(std::move(pf));
        st.latest = produced;
        st.past.push_back(std::move(past));
        while (st.past.size() > static_cast<size_t>(horizon)) st.past.pop_front();
        st.in_flight = false;
        if (st.newer_due) {
          late += 1;
          redo = true;
          st.newer_due = false;
        }
      }
      if (redo) MarkDirty(r.point);
      if (opt.events != nullptr) opt.events->Publish(ForecastProduced{r.point, r.window_end, !usable, produced});
      latencies.push_back(std::chrono::duration<double>(now - r.enqueued).count());
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu);
      ForecastCounters& c = counters;
      c.forecasts += n;
      if (!usable) c.fallback_forecasts += n;
      c.late += late;
      ++c.batches;
      c.batch_sum += n;
      for (size_t i = 0; i < kBatchBounds.size(); ++i)
        if (n <= kBatchBounds[i]) ++c.batch_counts[i];
      for (double l : latencies) {
        c.latency_sum_s += l;
        for (size_t i = 0; i < kLatencyBounds.size(); ++i)
          if (l <= kLatencyBounds[i]) ++c.latency_counts[i];
        if (latency_ring.size() < kLatencySamples) latency_ring.push_back(l);
        else latency_ring[latency_head++ % kLatencySamples] = l;
      }
    }
    in_flight -= n;
  }

  template <typename F>
  void Count(F f) {
    std::lock_guard<std::mutex> lock(stats_mu);
    f(counters);
  }

  void SchedulerLoop() {
    std::unique_lock<std::mutex> lock(run_mu);
    while (!stopping) {
      lock.unlock();
      Scan();
      lock.lock();
      run_cv.wait_for(lock, opt.scan_interval, [&] { return stopping; });
    }
  }
};

ForecastService::ForecastService(SeriesStore& store, ForecastServiceOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {
}

ForecastService::~ForecastService() { Stop(); }

Status ForecastService::Start() {
  if (impl_->started) return Status::FailedPrecondition("forecast service already started");
  if (impl_->opt.max_batch < 1) return Status::InvalidArgument("forecast max_batch must be >= 1");
  if (impl_->opt.interval_coverage <= 0 || impl_->opt.interval_coverage >= 1)
    return Status::InvalidArgument("forecast interval_coverage must be in (0, 1)");
  SetForecastThreads(std::max(1, impl_->opt.intra_op_threads));
  size_t workers = impl_->opt.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  impl_->started = true;
  impl_->scheduler = std::thread([this] { impl_->SchedulerLoop(); });
  for (size_t i = 0; i < workers; ++i) impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
  return Status::Ok();
}

void ForecastService::Stop() {
  if (!impl_->started) return;
  {
    std::lock_guard<std::mutex> lock(impl_->run_mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->run_cv.notify_all();
  impl_->scheduler.join();
  impl_->queue.Close();  // workers drain what is queued, then exit
  for (auto& t : impl_->workers) t.join();
}

Status ForecastService::SetModel(std::shared_ptr<const Forecaster> model) {
  if (model) {
    if (model->channels() != 1)
      return Status::InvalidArgument("the forecast model has " + std::to_string(model->channels()) +
                                     " channels; serving forecasts each point alone and needs a single-channel model "
                                     "(train with \"scaler\": \"per_series\")");
    const int64_t step_s = impl_->step_ms / 1000;
    if (model->step_seconds() != 0 && model->step_seconds() != step_s)
      return Status::InvalidArgument("the forecast model was trained at " + std::to_string(model->step_seconds()) +
                                     " s steps, the store resamples at " + std::to_string(step_s) + " s");
    if (static_cast<size_t>(model->seq_len()) > impl_->store.options().window_steps)
      return Status::InvalidArgument("the forecast model needs " + std::to_string(model->seq_len()) +
                                     " steps of input; the store keeps " +
                                     std::to_string(impl_->store.options().window_steps));
  }
  std::string before, after = model ? model->identity() : "none (seasonal naive)";
  {
    std::lock_guard<std::mutex> lock(impl_->model_mu);
    before = impl_->model ? impl_->model->identity() : "none";
    impl_->model = std::move(model);
  }
  {
    std::lock_guard<std::mutex> lock(impl_->pooled_mu);
    impl_->model_mae = {};
    impl_->model_coverage = {};
    impl_->model_persistence_mae = {};
    impl_->model_seasonal_mae = {};
    impl_->model_quarters = {};
    impl_->model_persistence_quarters = {};
    impl_->model_seasonal_quarters = {};
  }
  // A new model is judged on its own forecasts: the per-point skill comparison starts again.
  for (Shard& shard : impl_->shards) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (auto& [point, st] : shard.points) {
      st.mae = {};
      st.persistence_mae = {};
      st.seasonal_mae = {};
      st.quarters = {};
      st.persistence.quarters = {};
      st.seasonal.quarters = {};
      st.served = ServedBy::kModel;
      st.past.clear();  // the old model's forecasts are not the new one's to be scored on
    }
  }
  impl_->Count([](ForecastCounters& c) { ++c.model_swaps; });
  spdlog::info("forecast model: {} -> {}", before, after);
  if (impl_->opt.events != nullptr) impl_->opt.events->Publish(ModelSwapped{before, after});
  return Status::Ok();
}

Status ForecastService::LoadModel(const std::string& path) {
  auto m = LoadForecasterFile(path);
  if (!m.ok()) return m.status();
  return SetModel(std::shared_ptr<const Forecaster>(std::move(*m)));
}

std::string ForecastService::model_identity() const {
  auto m = impl_->CurrentModel();
  return m ? m->identity() : "";
}

void ForecastService::NotifyData(const std::vector<std::string>& points) {
  std::lock_guard<std::mutex> lock(impl_->dirty_mu);
  for (const auto& p : points) impl_->dirty.insert(p);
}

void ForecastService::Drop(const std::vector<std::string>& points) {
  {
    std::lock_guard<std::mutex> lock(impl_->dirty_mu);
    for (const auto& p : points) impl_->dirty.erase(p);
  }
  for (const auto& p : points) {
    Shard& shard = impl_->ShardFor(p);
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.points.erase(p);
  }
}

const char* ServedByName(ServedBy s) {
  switch (s) {
    case ServedBy::kModel: return "model";
    case ServedBy::kPersistence: return "persistence";
    case ServedBy::kSeasonalNaive: return "seasonal_naive";
  }
  return "model";
}

std::optional<PointForecast> ForecastService::Get(const std::string& point) const {
  const Shard& shard = impl_->ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.points.find(point);
  if (it == shard.points.end() || !it->second.latest) return std::nullopt;
  PointForecast pf = *it->second.latest;
  pf.accuracy.residuals = it->second.mae.n;
  pf.accuracy.mae = it->second.mae.value;
  pf.accuracy.interval_coverage = it->second.coverage.value;
  pf.accuracy.persistence_mae = it->second.persistence_mae.value;
  pf.accuracy.seasonal_naive_mae = it->second.seasonal_mae.value;
  pf.accuracy.quarters = QuartersOf(it->second.quarters);
  pf.accuracy.persistence_quarters = QuartersOf(it->second.persistence.quarters);
  pf.accuracy.seasonal_quarters = QuartersOf(it->second.seasonal.quarters);
  return pf;
}

ModelAccuracy ForecastService::Accuracy() const {
  ModelAccuracy a;
  a.model = model_identity();
  std::lock_guard<std::mutex> lock(impl_->pooled_mu);
  a.residuals = impl_->model_mae.n;
  a.mae = impl_->model_mae.value;
  a.interval_coverage = impl_->model_coverage.value;
  a.persistence_mae = impl_->model_persistence_mae.value;
  a.seasonal_naive_mae = impl_->model_seasonal_mae.value;
  a.quarters = QuartersOf(impl_->model_quarters);
  a.persistence_quarters = QuartersOf(impl_->model_persistence_quarters);
  a.seasonal_quarters = QuartersOf(impl_->model_seasonal_quarters);
  return a;
}

ForecastCounters ForecastService::Counters() const {
  ForecastCounters c;
  std::vector<double> latencies;
  {
    std::lock_guard<std::mutex> lock(impl_->stats_mu);
    c = impl_->counters;
    latencies = impl_->latency_ring;
  }
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    c.latency_p50_s = latencies[latencies.size() / 2];
    c.latency_p99_s = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  c.queue_depth = impl_->queue.size();
  for (const Shard& s : impl_->shards) {
    std::lock_guard<std::mutex> lock(s.mu);
    c.points += s.points.size();
    for (const auto& [point, st] : s.points) ++c.points_served[st.served];
  }
  return c;
}

size_t ForecastService::BytesPerPoint() const {
  auto m = impl_->CurrentModel();
  const size_t h = static_cast<size_t>(impl_->Horizon(m.get()));
  // Hash-map node and state, the latest result, up to h past forecasts (values + interval) and the
  // residual rings and their adaptive levels, the model's, persistence's and seasonal naive's.
  return sizeof(PointState) + 64 + sizeof(PointForecast) + h * sizeof(ForecastStep) +
         h * (sizeof(PastForecast) + 5 * h * sizeof(float)) +
         3 * (serving::ScoreRings(h, impl_->opt.calibration_size).bytes() + h * sizeof(float));
}

const char* ForecastStatusName(ForecastStatus s) {
  return s == ForecastStatus::kOk ? "ok" : "insufficient_data";
}

const char* IntervalSourceName(IntervalSource s) {
  switch (s) {
    case IntervalSource::kPoint: return "point";
    case IntervalSource::kPooled: return "pooled";
    case IntervalSource::kNone: return "none";
  }
  return "none";
}

void ForecastService::ScanNow() { impl_->Scan(); }

bool ForecastService::Tick(std::chrono::milliseconds timeout) {
  impl_->Scan();
  return WaitIdle(timeout);
}

bool ForecastService::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = Steady::now() + timeout;
  while (Steady::now() < deadline) {
    bool dirty;
    {
      std::lock_guard<std::mutex> lock(impl_->dirty_mu);
      dirty = !impl_->dirty.empty() || impl_->scanning;
    }
    if (!dirty && impl_->in_flight == 0 && impl_->queue.size() == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

void CollectForecastMetrics(const ForecastService& service, MetricWriter& w) {
  const ForecastCounters c = service.Counters();
  const ModelAccuracy a = service.Accuracy();
  w.Counter("brickcast_forecast_scheduled_total", "Due windows queued for a forecast.", c.scheduled);
  for (ServedBy s : {ServedBy::kModel, ServedBy::kPersistence, ServedBy::kSeasonalNaive}) {
    auto it = c.points_served.find(s);
    w.Gauge("brickcast_forecast_points_served",
            "Points by the source of the forecast they are served (forecast.serve_best: a baseline more accurate "
            "than the model on that point takes over).",
            static_cast<double>(it == c.points_served.end() ? 0 : it->second), {{"source", ServedByName(s)}});
  }
  w.Counter("brickcast_forecasts_total", "Forecasts produced (model or fallback).", c.forecasts);
  w.Counter("brickcast_forecast_fallback_total", "Forecasts answered by the seasonal-naive fallback.",
            c.fallback_forecasts);
  w.Counter("brickcast_forecast_insufficient_data_total", "Due windows below the coverage threshold.",
            c.insufficient_data);
  w.Counter("brickcast_forecast_deferred_total",
            "Due points left for a later scan because the queue was full (nothing is dropped: the newest window is "
            "taken then).",
            c.deferred);
  w.Counter("brickcast_forecast_late_total", "Forecasts finished after a newer step had closed.", c.late);
  w.Counter("brickcast_forecast_forward_failures_total", "Model forwards that failed.", c.forward_failures);
  w.Counter("brickcast_forecast_model_swaps_total", "Model loads and swaps.", c.model_swaps);
  w.Gauge("brickcast_forecast_queue_depth", "Windows waiting for a worker.", static_cast<double>(c.queue_depth));
  w.Gauge("brickcast_forecast_points", "Points with forecast state.", static_cast<double>(c.points));
  w.Histogram("brickcast_forecast_latency_seconds", "Enqueue to result.", c.latency_bounds_s, c.latency_counts,
              c.latency_sum_s, c.forecasts);
  w.Histogram("brickcast_forecast_batch_size", "Windows per forward.", c.batch_bounds, c.batch_counts,
              static_cast<double>(c.batch_sum), c.batches);
  const MetricLabels model{{"model", a.model.empty() ? std::string("seasonal_naive") : a.model}};
  w.Gauge("brickcast_forecast_model_mae", "Rolling mean absolute error of the current model (SI units, all points).",
          a.mae, model);
  w.Gauge("brickcast_forecast_model_persistence_mae",
          "Rolling MAE that repeating the last value would have had on the same steps.", a.persistence_mae, model);
  w.Gauge("brickcast_forecast_model_seasonal_naive_mae",
          "Rolling MAE that the same time a day earlier would have had on the same steps.", a.seasonal_naive_mae, model);
  w.Gauge("brickcast_forecast_model_interval_coverage", "Rolling share of actuals inside their prediction interval.",
          a.interval_coverage, model);
}

}  // namespace brickcast
