// Fault evaluation (`brickcast evaluate-faults`): a labelled CSV file replayed through the daemon's
// own pipeline in-process, at full speed, in data time (convert -> Turtle -> parser -> store ->
// forecast service -> rules -> alerts in a temporary SQLite file), scored per day against its
// labels. A day is alarmed when a warning or critical alert starts firing on it (the site's local
// date); gaps between the file's days raise nothing, because the rule engine does not judge steps
// in which the equipment reported nothing.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "brickcast/config.h"
#include "brickcast/forecast_service.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

struct FaultEvaluationOptions {
  std::string data;           // labelled CSV
  std::string mapping;        // convert mapping with a label_column
  std::vector<std::string> brick_models;
  std::vector<std::string> rules;  // rule files or directories
  std::string forecast_model;      // "" = no model (seasonal-naive forecasts)
  // Forecast every point (to score the forecasts), not only the points the rules read forecasts
  // of: the alerts are the same, the run costs a forward pass per point and step.
  bool forecast_all_points = false;
  Config config;                   // store and forecast settings (defaults are the daemon's)
};

struct FiredAlert {
  std::string rule;
  std::string kind;      // rule kind: threshold, forecast_threshold, sensor_health, residual
  std::string severity;
  bool predicted = false;
  UnixMillis time = 0;   // data time it started firing
  std::string local_time;  // HH:MM in the site's time zone
  std::string equipment;
  std::string summary;
  // Predicted alerts: when the measured value crossed (its episode's resolve tells; 0 when it
  // did not, or the replay ended first). The lead the prediction gave is realised_at - time.
  UnixMillis realised_at = 0;
};

struct DayResult {
  std::string date;  // local date, YYYY-MM-DD
  int label = -1;    // 1 fault, 0 fault-free, -1 no label
  std::vector<FiredAlert> alerts;  // warning or critical alerts that started firing that day
  bool alarmed() const { return !alerts.empty(); }
};

struct FaultEvaluation {
  std::vector<DayResult> days;
  size_t fault_days = 0, detected = 0, fault_free_days = 0, alarmed = 0;
  // Median local time of day of the first alert on detected fault days ("HH:MM"; "" when none).
  std::string median_first_alert;
  std::map<std::string, size_t> detected_by_kind;  // fault days on which a rule of this kind fired
  // Predicted alerts that started firing, those whose measured value then crossed, and the median
  // lead they gave (minutes; NaN when none crossed).
  size_t predicted_fired = 0, predicted_realised = 0;
  double median_lead_minutes = NAN;
  // The forecasts of the run (every step of the points the rules read, or of every point with
  // forecast_all_points): MAEs against the baselines and the realised interval coverage and width
  // per horizon quarter.
  ModelAccuracy forecast;
  bool forecast_all_points = false;
  // The same per point (by point IRI), with whose forecast it was served at the end.
  struct PointForecastReport {
    PointAccuracy accuracy;
    std::string served;       // "model", "persistence", "seasonal_naive"
    std::string brick_class;  // local name; "" when unknown
  };
  std::map<std::string, PointForecastReport> forecast_points;
  size_t messages = 0, rules = 0, bindings = 0;
};

StatusOr<FaultEvaluation> EvaluateFaults(const FaultEvaluationOptions& options);

}  // namespace brickcast
