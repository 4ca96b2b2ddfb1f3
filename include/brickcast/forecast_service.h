// ForecastService: live forecasts for every point inside `serve`.
//
//   ingest ──NotifyData──> scheduler thread ──bounded queue──> N workers ──> per-point results
//
// Scheduling is driven by data time, so replays at any speed behave like live data: a point is
// due when one of its steps closes (an observation arrives in a later step). A due point whose
// input window is too sparse gets "insufficient_data" instead of a forecast. Due windows enter a
// bounded queue; when it is full the point simply stays due and its newest window is taken on a
// later scan, so a slow model produces backpressure (counted as deferrals), never unbounded memory.
// Workers take dynamic batches (up to max_batch requests, waiting at most max_wait for the batch
// to fill, as Triton's dynamic batcher does) and run one forward per batch across points of any
// equipment; the model is single-channel (channel independence), so any points can share a batch.
//
// Forecasts are in the point's SI unit with split-conformal prediction intervals: the absolute
// errors of earlier forecasts, divided by the spread of their input window, are kept per point and
// horizon step; the interval half-width is their (1-alpha) quantile times the current window's
// spread. Until a point has enough of its own residuals, residuals pooled over all points are used.
// The same residuals feed rolling accuracy (MAE, interval coverage) per point and per model, next
// to the MAE that persistence (repeating the last value) would have had, so an operator sees both
// drift and whether the model beats the trivial forecast on this site.
//
// Without a model, or when a forward fails, a seasonal-naive forecaster (same time yesterday, or
// the last value when the window is shorter than a day) answers and the result is flagged as
// fallback; the next good forward clears it. SetModel/LoadModel swap the model atomically: batches
// already running finish on the old one. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brickcast/clock.h"
#include "brickcast/events.h"
#include "brickcast/forecaster.h"
#include "brickcast/metrics.h"
#include "brickcast/series_store.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

struct ForecastServiceOptions {
  size_t workers = 0;  // 0: one per hardware thread
  int intra_op_threads = 1;  // LibTorch threads per forward; set once at Start
  size_t max_batch = 64;
  std::chrono::microseconds max_wait{2000};
  size_t queue_capacity = 4096;
  double min_coverage = 0.8;        // share of observed or filled steps an input window needs
  double interval_coverage = 0.9;   // target coverage of the prediction intervals (1 - alpha)
  // Adaptive conformal inference: after each scored step a point's level per horizon step moves
  // by this much times (target misses - actual miss), so intervals that miss more often than
  // promised widen and those that cover more narrow, under shift too. 0: plain split conformal.
  double interval_adaptation = 0.01;
  // Residuals kept per point and horizon step, sampled evenly over the last day: those of
  // forecasts at least calibration_stride steps apart in data time (0: one day / calibration_size
  // steps), so the intervals know the whole daily cycle (a morning start after a quiet night),
  // not only the last hours.
  size_t calibration_size = 48;
  size_t calibration_stride = 0;
  size_t min_calibration = 8;       // own residuals needed before a point's intervals are its own
  // Serve the best of model, persistence and seasonal naive per point: once a point has
  // `min_skill_residuals` scored steps, a baseline whose rolling MAE is under `skill_margin` times
  // the served source's takes over (and back), flagged as `served` with the reason. The model's
  // own forecasts are still scored, so it comes back when it is better again.
  bool serve_best = true;
  size_t min_skill_residuals = 200;
  double skill_margin = 0.95;
  std::chrono::milliseconds scan_interval{100};
  TimeZone site_zone = TimeZone::Utc();  // time features use the site's wall clock, as in training
  EventBus* events = nullptr;  // where ForecastProduced and ModelSwapped are published (may be null)
  const Clock* clock = &Clock::Real();  // stamps produced_at
};

struct ForecastStep {
  UnixMillis time = 0;  // start of the forecast step
  double value = 0;
  double lower = NAN, upper = NAN;  // NaN until residuals exist
};

// How the prediction intervals of one quarter of the horizon kept their promise, counted since
// the model was loaded (a replay's whole run).
struct IntervalQuarter {
  uint64_t scored = 0;     // actuals compared with an interval
  double coverage = NAN;   // share of them inside it
  double mean_width = NAN; // upper - lower, SI unit (model level: averaged over all points' units)
  // The point forecast's mean absolute error over the same actuals: accuracy and width compared on
  // the same steps (the rolling MAEs weigh the latest few hundred).
  double mean_abs_error = NAN;
};
using IntervalQuarters = std::array<IntervalQuarter, 4>;

struct PointAccuracy {
  uint64_t residuals = 0;        // scored (forecast, actual) pairs
  double mae = NAN;              // rolling (exponentially weighted, ~200 residuals), SI unit
  double interval_coverage = NAN;  // rolling share of actuals inside their interval
  // The same rolling MAE for repeating the last input value: the model is worth its cost where
  // mae < persistence_mae.
  double persistence_mae = NAN;
  // ... and for the value of the same step a day earlier (seasonal naive; NaN under a day of data).
  double seasonal_naive_mae = NAN;
  IntervalQuarters quarters;  // first to last quarter of the horizon
  // An interval around persistence built the same way (its own residuals, adaptive level): what
  // the model's width is worth (narrower where it is more accurate).
  IntervalQuarters persistence_quarters;
  IntervalQuarters seasonal_quarters;  // ... and around seasonal naive (after a day of data)
};

// Typed states; the strings are for JSON and CSV only.
enum class ForecastStatus { kOk, kInsufficientData };
enum class IntervalSource {
  kPoint,   // the point's own residuals
  kPooled,  // residuals pooled over all points (a point with too few of its own)
  kNone,    // no residuals yet: no interval
};
const char* ForecastStatusName(ForecastStatus s);  // "ok", "insufficient_data"
const char* IntervalSourceName(IntervalSource s);  // "point", "pooled", "none"

// Whose forecast a point is served: the model's (or the fallback's when it has none), or a
// baseline that has been more accurate than the model on this point (serve_best).
enum class ServedBy { kModel, kPersistence, kSeasonalNaive };
const char* ServedByName(ServedBy s);  // "model", "persistence", "seasonal_naive"

struct PointForecast {
  std::string point;
  ForecastStatus status = ForecastStatus::kOk;
  std::string model;   // identity of the model that produced it, or "seasonal_naive"
  bool fallback = false;
  std::string fallback_reason;
  ServedBy served = ServedBy::kModel;
  std::string served_reason;  // why a baseline is served: the rolling MAEs compared
  // When a baseline is served, the model's own forecast: residual (anomaly) rules judge the data
  // against what the model expected, whose interval its residuals calibrate; empty otherwise.
  std::vector<ForecastStep> model_steps;
  UnixMillis window_end = 0;  // end of the input window (data time): the first step forecast
  int64_t step_ms = 0;
  double input_coverage = 0;
  IntervalSource interval_source = IntervalSource::kNone;
  std::chrono::system_clock::time_point produced_at;
  std::vector<ForecastStep> steps;
  PointAccuracy accuracy;
};

struct ModelAccuracy {
  std::string model;
  uint64_t residuals = 0;
  double mae = NAN, interval_coverage = NAN;  // rolling over all points
  double persistence_mae = NAN;               // repeating the last value, same steps
  double seasonal_naive_mae = NAN;            // the same time a day earlier, same steps
  IntervalQuarters quarters;                  // all points, since the model was loaded
  IntervalQuarters persistence_quarters;      // the same for intervals around persistence
  IntervalQuarters seasonal_quarters;         // ... and around seasonal naive
};

// Cumulative counters and the latency / batch-size histograms, for /metrics and benchmarks.
struct ForecastCounters {
  uint64_t scheduled = 0, forecasts = 0, fallback_forecasts = 0, insufficient_data = 0, deferred = 0, late = 0,
           forward_failures = 0, batches = 0, model_swaps = 0;
  size_t queue_depth = 0, points = 0;
  std::map<ServedBy, size_t> points_served;  // points by the source their latest forecast is served from
  std::vector<double> latency_bounds_s;  // histogram upper bounds (seconds), enqueue -> result
  std::vector<uint64_t> latency_counts;  // cumulative per bound, as Prometheus wants
  double latency_sum_s = 0;
  double latency_p50_s = NAN, latency_p99_s = NAN;  // over the last 8192 forecasts
  std::vector<double> batch_bounds;
  std::vector<uint64_t> batch_counts;
  uint64_t batch_sum = 0;
};

class ForecastService {
 public:
  // `store` must outlive the service; its step is the forecast step.
  ForecastService(SeriesStore& store, ForecastServiceOptions options);
  ~ForecastService();
  ForecastService(const ForecastService&) = delete;
  ForecastService& operator=(const ForecastService&) = delete;

  Status Start();
  // Finishes queued work, then stops the threads. Idempotent.
  void Stop();

  // Checks that the model fits the store (single channel, step) and swaps it in. nullptr removes the
  // model (seasonal-naive fallback only). The previous model stays on error.
  Status SetModel(std::shared_ptr<const Forecaster> model);
  // Loads and validates a model file off the hot path, then SetModel.
  Status LoadModel(const std::string& path);
  std::string model_identity() const;  // "" without a model

  // New data arrived for these points (called by the ingest path).
  void NotifyData(const std::vector<std::string>& points);
  // Forgets these points (their partition moved to another instance): forecasts, residuals and
  // pending work. A forecast in flight for one of them is discarded when it returns.
  void Drop(const std::vector<std::string>& points);

  std::optional<PointForecast> Get(const std::string& point) const;
  ModelAccuracy Accuracy() const;
  ForecastCounters Counters() const;
  // Bytes of per-point forecast state (results, past forecasts, residuals), excluding names.
  size_t BytesPerPoint() const;

  // Scans due points now (tests and benchmarks; the scheduler thread does this every scan_interval).
  void ScanNow();
  // Scans now and waits until every due point is forecast: one synchronous step for tests that
  // feed data and check the result, instead of sleeping. True when the service went idle.
  bool Tick(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Blocks until no point is queued or in flight, or the timeout passes. True when idle.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The service's counters, histograms and model accuracy, for the metrics registry.
void CollectForecastMetrics(const ForecastService& service, MetricWriter& writer);

}  // namespace brickcast
