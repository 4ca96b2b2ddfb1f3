// The JSON form of a point's forecast, shared by the API and `brickcast forecast --format json`.
// Series and forecasts have one shape: parallel columns (`times`, `values`, and for forecasts
// `lower`/`upper`), times as ISO 8601 UTC strings, values in the point's SI unit, null where
// unknown. An object about a point names it `point`; an object that is a point has `id`.
#pragma once

#include <nlohmann/json.hpp>

#include "brickcast/forecast_service.h"

namespace brickcast {

nlohmann::json NumberOrNull(double v);
nlohmann::json ForecastToJson(const PointForecast& f);

}  // namespace brickcast
