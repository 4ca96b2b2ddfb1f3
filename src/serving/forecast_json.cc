#include "serving/forecast_json.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "convert/ttl_writer.h"

namespace brickcast {

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json QuartersToJson(const IntervalQuarters& quarters) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t q = 0; q < quarters.size(); ++q) {
    out.push_back({{"quarter", q + 1},
                   {"scored", quarters[q].scored},
                   {"coverage", NumberOrNull(quarters[q].coverage)},
                   {"mean_width", NumberOrNull(quarters[q].mean_width)},
                   {"mean_abs_error", NumberOrNull(quarters[q].mean_abs_error)}});
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

namespace {

// Sums over points and horizon quarters, weighted by the actuals each quarter scored.
struct IntervalSums {
  double scored = 0, covered = 0, width = 0, abs_error = 0;
  void Add(const IntervalQuarters& quarters) {
    for (const IntervalQuarter& q : quarters) {
      if (q.scored == 0 || !std::isfinite(q.coverage) || !std::isfinite(q.mean_width)) continue;
      scored += static_cast<double>(q.scored);
      covered += q.coverage * static_cast<double>(q.scored);
      width += q.mean_width * static_cast<double>(q.scored);
      abs_error += (std::isfinite(q.mean_abs_error) ? q.mean_abs_error : 0.0) * static_cast<double>(q.scored);
    }
  }
  double Coverage() const { return scored > 0 ? covered / scored : NAN; }
  double Width() const { return scored > 0 ? width / scored : NAN; }
  double AbsError() const { return scored > 0 ? abs_error / scored : NAN; }
};

struct MeanOf {
  double sum = 0;
  size_t n = 0;
  void Add(double v) {
    if (!std::isfinite(v)) return;
    sum += v;
    ++n;
  }
  double Value() const { return n > 0 ? sum / static_cast<double>(n) : NAN; }
};

struct ClassSums {
  size_t points = 0;
  MeanOf mae, persistence_mae, seasonal_mae;
  IntervalSums model, persistence, seasonal;
};

nlohmann::json BoolOrNull(double a, double b, bool less) {
  if (!std::isfinite(a) || !std::isfinite(b)) return nlohmann::json();
  return less ? a < b : a > b;
}

}  // namespace

nlohmann::json SharpnessByClass(const std::vector<std::pair<std::string, PointAccuracy>>& points) {
  std::map<std::string, ClassSums> by_class;
  for (const auto& [cls, a] : points) {
    ClassSums& c = by_class[cls.empty() ? "(unknown)" : cls];
    ++c.points;
    c.mae.Add(a.mae);
    c.persistence_mae.Add(a.persistence_mae);
    c.seasonal_mae.Add(a.seasonal_naive_mae);
    c.model.Add(a.quarters);
    c.persistence.Add(a.persistence_quarters);
    c.seasonal.Add(a.seasonal_quarters);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [cls, c] : by_class) {
    out.push_back({{"class", cls},
                   {"points", c.points},
                   {"mae", NumberOrNull(c.mae.Value())},
                   {"persistence_mae", NumberOrNull(c.persistence_mae.Value())},
                   {"seasonal_naive_mae", NumberOrNull(c.seasonal_mae.Value())},
                   {"coverage", NumberOrNull(c.model.Coverage())},
                   {"persistence_coverage", NumberOrNull(c.persistence.Coverage())},
                   {"seasonal_naive_coverage", NumberOrNull(c.seasonal.Coverage())},
                   {"mean_width", NumberOrNull(c.model.Width())},
                   {"persistence_mean_width", NumberOrNull(c.persistence.Width())},
                   {"seasonal_naive_mean_width", NumberOrNull(c.seasonal.Width())},
                   // Over the same scored steps as the widths (the MAEs above are rolling).
                   {"mean_abs_error", NumberOrNull(c.model.AbsError())},
                   {"persistence_mean_abs_error", NumberOrNull(c.persistence.AbsError())},
                   {"seasonal_naive_mean_abs_error", NumberOrNull(c.seasonal.AbsError())},
                   {"model_more_accurate", BoolOrNull(c.model.AbsError(), c.persistence.AbsError(), true)},
                   {"model_narrower", BoolOrNull(c.model.Width(), c.persistence.Width(), true)}});
  }
  return out;
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
