#include "serving/forecast_json.h"

#include <cmath>
#include <cstdio>

#include "convert/ttl_writer.h"

namespace brickcast {

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json QuartersToJson(const IntervalQuarters& quarters) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t q = 0; q < quarters.size(); ++q) {
    out.push_back({{"quarter", q + 1},
                   {"scored", quarters[q].scored},
                   {"coverage", NumberOrNull(quarters[q].coverage)},
                   {"mean_width", NumberOrNull(quarters[q].mean_width)}});
  }
  return out;
}

nlohmann::json AccuracyToJson(const PointAccuracy& a) {
  return {{"residuals", a.residuals},
          {"mae", NumberOrNull(a.mae)},
          {"persistence_mae", NumberOrNull(a.persistence_mae)},
          {"seasonal_naive_mae", NumberOrNull(a.seasonal_naive_mae)},
          {"interval_coverage", NumberOrNull(a.interval_coverage)},
          {"quarters", QuartersToJson(a.quarters)},
          {"persistence_quarters", QuartersToJson(a.persistence_quarters)},
          {"seasonal_naive_quarters", QuartersToJson(a.seasonal_quarters)}};
}

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
         {"accuracy", AccuracyToJson(f.accuracy)}};
  if (f.fallback) j["fallback_reason"] = f.fallback_reason;
  j["served"] = ServedByName(f.served);
  if (f.served != ServedBy::kModel) j["served_reason"] = f.served_reason;
  return j;
}

namespace {

void AppendDouble(std::string* out, const char* predicate, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  *out += predicate;
  *out += " \"";
  *out += buf;
  *out += "\"^^xsd:double";
}

void AppendTime(std::string* out, const char* predicate, UnixMillis t) {
  *out += predicate;
  *out += " \"" + FormatIsoUtc(t) + "\"^^xsd:dateTime";
}

}  // namespace

std::string ForecastToTurtle(const PointForecast& f, const std::string& equipment, const std::string& si_unit) {
  std::string out(TurtlePrefixHeader());
  out += "@prefix bc: <https://brickcast.dev/schema#> .\n";
  AppendIri(&out, f.point);
  out += " brick:isPointOf ";
  AppendIri(&out, equipment);
  out += " ;\n  bc:forecast [\n    bc:model ";
  AppendQuoted(&out, f.model);
  out += " ;\n    bc:fallback ";
  out += f.fallback ? "true" : "false";
  out += " ;\n    ";
  AppendTime(&out, "bc:issuedAt", f.window_end);
  if (!si_unit.empty()) out += " ;\n    brick:hasUnit unit:" + si_unit;
  bool first = true;
  for (const ForecastStep& st : f.steps) {
    if (!std::isfinite(st.value)) continue;
    out += first ? " ;\n    bc:step " : " ,\n      ";
    first = false;
    out += "[ ";
    AppendDouble(&out, "brick:value", st.value);
    out += " ; ";
    AppendTime(&out, "brick:timestamp", st.time);
    out += " ; bc:horizon \"PT" + std::to_string((st.time - f.window_end) / 1000) + "S\"^^xsd:duration";
    if (std::isfinite(st.lower) && std::isfinite(st.upper)) {
      out += " ; ";
      AppendDouble(&out, "bc:lower", st.lower);
      out += " ; ";
      AppendDouble(&out, "bc:upper", st.upper);
    }
    out += " ]";
  }
  out += "\n  ] .\n";
  return out;
}

}  // namespace brickcast
