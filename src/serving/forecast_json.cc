#include "serving/forecast_json.h"

#include <cmath>

namespace brickcast {

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json ForecastToJson(const PointForecast& f) {
  using Json = nlohmann::json;
  Json times = Json::array(), values = Json::array(), lower = Json::array(), upper = Json::array();
  for (const ForecastStep& st : f.steps) {
    times.push_back(FormatIsoUtc(st.time));
    values.push_back(NumberOrNull(st.value));
    lower.push_back(NumberOrNull(st.lower));
    upper.push_back(NumberOrNull(st.upper));
  }
  Json j{{"point", f.point},
         {"status", ForecastStatusName(f.status)},
         {"model", f.model},
         {"fallback", f.fallback},
         {"window_end", FormatIsoUtc(f.window_end)},
         {"step_seconds", f.step_ms / 1000},
         {"input_coverage", f.input_coverage},
         {"interval_source", IntervalSourceName(f.interval_source)},
         {"produced_at", FormatIsoUtc(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          f.produced_at.time_since_epoch())
                                          .count())},
         {"times", times},
         {"values", values},
         {"lower", lower},
         {"upper", upper},
         {"accuracy",
          {{"residuals", f.accuracy.residuals},
           {"mae", NumberOrNull(f.accuracy.mae)},
           {"persistence_mae", NumberOrNull(f.accuracy.persistence_mae)},
           {"seasonal_naive_mae", NumberOrNull(f.accuracy.seasonal_naive_mae)},
           {"interval_coverage", NumberOrNull(f.accuracy.interval_coverage)}}}};
  if (f.fallback) j["fallback_reason"] = f.fallback_reason;
  return j;
}

}  // namespace brickcast
