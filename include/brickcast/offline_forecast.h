// Offline forecasts (`brickcast forecast`): a site's history from CSV (through a `convert`
// mapping) or Turtle message files goes through the daemon's own ingest path and forecast service,
// without Kafka or HTTP. The service forecasts every closed step of the last `backtest_steps`, so
// the split-conformal intervals of the final forecast are calibrated on this site's own errors,
// and the rolling accuracy next to persistence says whether the model is worth using here.
#pragma once

#include <string>
#include <vector>

#include "brickcast/config.h"
#include "brickcast/forecast_service.h"
#include "brickcast/ingestor.h"
#include "brickcast/status.h"

namespace brickcast {

struct OfflineForecastOptions {
  Config config;                   // parser, store, Brick models and forecast settings (model path)
  std::string mapping;             // inputs are CSV files read through this mapping when set
  std::vector<std::string> files;  // CSV or Turtle message files ("-": stdin)
  // Steps before the end of the data at which the service forecasts, to calibrate intervals and
  // score accuracy; earlier data only fills the windows.
  size_t backtest_steps = 576;
};

struct OfflineForecast {
  PointForecast forecast;
  std::string si_unit;  // of the values ("" when the point has no unit)
};

struct OfflineForecastResult {
  std::vector<OfflineForecast> points;  // sorted by point IRI; points without a forecast are left out
  size_t messages = 0;
  IngestCounters ingest;
  UnixMillis data_end = 0;  // newest observation time in the input
};

StatusOr<OfflineForecastResult> RunOfflineForecast(const OfflineForecastOptions& options);

}  // namespace brickcast
