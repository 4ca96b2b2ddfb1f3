// The JSON form of a point's forecast, shared by the API and `brickcast forecast --format json`.
// Series and forecasts have one shape: parallel columns (`times`, `values`, and for forecasts
// `lower`/`upper`), times as ISO 8601 UTC strings, values in the point's SI unit, null where
// unknown. An object about a point names it `point`; an object that is a point has `id`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "brickcast/forecast_service.h"

namespace brickcast {

nlohmann::json NumberOrNull(double v);
nlohmann::json ForecastToJson(const PointForecast& f);
// Coverage and mean width of the prediction intervals per quarter of the horizon.
nlohmann::json QuartersToJson(const IntervalQuarters& quarters);
// A point's rolling accuracy and interval tallies (the `accuracy` object of ForecastToJson).
nlohmann::json AccuracyToJson(const PointAccuracy& a);

// Sharpness per point class: for each Brick class (local name), how many points, their mean rolling
// MAE for the model, persistence and seasonal naive, and the realised coverage and mean width of
// each one's intervals over the whole horizon (weighted by the actuals scored), with whether the
// model is the more accurate than persistence there and whether its intervals are the narrower:
// a model worth its cost is both. Input: (class local name, accuracy) per point; sorted by class.
nlohmann::json SharpnessByClass(const std::vector<std::pair<std::string, PointAccuracy>>& points);

// The Turtle form, for data platforms that take Brick: the point's `bc:forecast`, a node with the
// model, the time it was made from (`bc:issuedAt`, the end of its input window, data time) and one
// `bc:step` per step shaped like a brick:lastKnownValue (brick:value, brick:timestamp) plus
// `bc:horizon` (xsd:duration from issuedAt) and, once calibrated, `bc:lower` / `bc:upper`; values
// in the unit `si_unit` names (a QUDT local name such as DEG_C; "" for none). bc: is
// https://brickcast.dev/schema#. A brickcast that reads it back ignores it: it is no observation.
std::string ForecastToTurtle(const PointForecast& f, const std::string& equipment, const std::string& si_unit);

}  // namespace brickcast
