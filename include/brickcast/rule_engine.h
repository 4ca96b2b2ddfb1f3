// RuleEngine: runs the rules of each equipment when its data closes a step, and predictive rules
// when a fresh forecast of their input lands; hands every result to the AlertManager.
//
// Driven by data time, like the forecast scheduler. Each air-handling system (BrickModel::SystemOf)
// has a watermark, the newest observation time of any of its points; when it enters a new step,
// the steps before it are closed and every binding of that system is evaluated on each closed step
// not yet evaluated (a gap is caught up to `max_catch_up_steps`). Because the trigger is data,
// a replay at 1x and at full speed evaluates the same steps with the same values.
//
// Called from one event-bus subscriber thread (OnObservations, OnForecast); Status() and
// the counters may be read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "brickcast/alerts.h"
#include "brickcast/events.h"
#include "brickcast/forecast_service.h"
#include "brickcast/metrics.h"
#include "brickcast/point_registry.h"
#include "brickcast/rules.h"
#include "brickcast/series_store.h"

namespace brickcast {

struct RuleEngineOptions {
  size_t max_catch_up_steps = 288;  // at most 500
  // A residual rule judges a step once the forecast made for it has landed (Condition::
  // waits_for_forecast); when forecasts trail the data by more than this many steps (or a point
  // gets none), its steps are judged without one (counted as forecast_late_steps).
  size_t forecast_wait_steps = 48;
};

// Where one rule applies and how its evaluations went.
struct RuleStatus {
  std::shared_ptr<const RuleSpec> rule;
  std::vector<std::string> equipment;  // bound
  std::vector<std::map<std::string, std::string>> points;  // per bound equipment: input name -> point IRI
  std::vector<RuleNotApplicable> not_applicable;
  uint64_t evaluations = 0, faults = 0, no_data = 0;
  uint64_t errors = 0;     // evaluations that threw (a bug or an allocation failure): counted, logged, skipped
  std::string last_error;  // what the last one said
  UnixMillis last_evaluated = 0;  // data time
};

struct RuleEngineCounters {
  uint64_t evaluations = 0, steps_closed = 0, skipped_steps = 0, errors = 0;
  uint64_t evicted_steps = 0;  // binding steps whose window the store no longer held (not judged)
  uint64_t forecast_late_steps = 0;  // residual steps judged without their forecast (forecast_wait_steps)
  double evaluation_seconds = 0;  // CPU spent in conditions and the alert manager
  size_t bindings = 0, rules = 0;
};

// The latest forecast of a point (ForecastService::Get in the daemon); empty when forecasting is
// off. A function, so the rules need no LibTorch and tests pass their own.
using ForecastLookup = std::function<std::optional<PointForecast>(const std::string& point)>;

class RuleEngine {
 public:
  RuleEngine(const SeriesStore& store, ForecastLookup forecasts, const PointRegistry& registry, AlertManager& alerts,
             RuleEngineOptions options = {});
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Resolves `rules` against `model` and replaces the running set (evaluation state of bindings
  // that stay is kept).
  void SetRules(std::shared_ptr<const RuleSet> rules, std::shared_ptr<const BrickModel> model);

  void OnObservations(const ObservationsApplied& applied);
  void OnForecast(const ForecastProduced& produced);
  // Forgets evaluation state of these points' systems (their partition moved away).
  void Drop(const std::vector<std::string>& points);
  // The alert manager's state of these alerts changed outside evaluation (taken over from another
  // instance, or handed to one): re-read whether each is active.
  void RefreshAlerts(const std::vector<std::string>& alert_ids);

  std::vector<RuleStatus> Status() const;
  // The points whose forecasts a rule of the running set reads (inputs of forecast and residual
  // rules): all an offline evaluation needs forecast; the daemon forecasts every point for its API.
  std::set<std::string> ForecastInputs() const;
  RuleEngineCounters Counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

void CollectRuleMetrics(const RuleEngine& engine, MetricWriter& writer);

}  // namespace brickcast
