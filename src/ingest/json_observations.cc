// JSON observation bodies (POST /api/v1/observations), apart from the HTTP route so they can be
// tested and fuzzed on their own.
#include <nlohmann/json.hpp>

#include "brickcast/stream_parser.h"

namespace brickcast {

Status ParseJsonObservations(std::string_view body, const TimeZone& zone,
                             const std::function<std::string(const std::string&)>& resolve,
                             std::vector<Observation>* observations, std::vector<IngestError>* errors) {
  using Json = nlohmann::json;
  const Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  const Json list = parsed.is_object() && parsed.contains("observations") ? parsed.at("observations")
                    : parsed.is_array()                                    ? parsed
                                                                           : Json::array({parsed});
  if (!list.is_array()) return Status::InvalidArgument("observations must be an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& o = list.at(i);
    const std::string where = "/observations/" + std::to_string(i);
    if (!o.is_object() || !o.contains("point") || !o.at("point").is_string() || !o.contains("value") ||
        !o.contains("time")) {
      errors->push_back({"bad_value", where + ": expected {point, time, value[, unit]}", 0, 0, {}});
      continue;
    }
    Observation ob;
    const std::string id = o.at("point").get<std::string>();
    if (id.empty()) {
      errors->push_back({"unknown_point", where + "/point: empty point id", 0, 0, {}});
      continue;
    }
    ob.point = resolve ? resolve(id) : std::string();
    if (ob.point.empty()) ob.point = id;
    const Json& value = o.at("value");
    if (value.is_number()) {
      ob.value = value.get<double>();
    } else if (value.is_boolean()) {
      ob.value = value.get<bool>() ? 1 : 0;
    } else {
      errors->push_back({"bad_value", where + "/value: expected a number", 0, 0, ob.point});
      continue;
    }
    const Json& time = o.at("time");
    if (time.is_number_integer()) {
      ob.time = time.get<int64_t>();
    } else if (time.is_string()) {
      auto t = ParseIsoDateTime(time.get<std::string>(), zone);
      if (!t.ok()) {
        errors->push_back({"bad_timestamp", where + "/time: " + t.status().message(), 0, 0, ob.point});
        continue;
      }
      ob.time = *t;
    } else {
      errors->push_back(
          {"bad_timestamp", where + "/time: expected ISO 8601 string or epoch milliseconds", 0, 0, ob.point});
      continue;
    }
    if (o.contains("unit") && o.at("unit").is_string()) ob.unit = o.at("unit").get<std::string>();
    observations->push_back(std::move(ob));
  }
  return Status::Ok();
}

}  // namespace brickcast
