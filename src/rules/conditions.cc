// The rule kinds: each a small Condition over RuleInputs, evaluated at one closed step.
#include <algorithm>
#include <cstdio>

#include "brickcast/rules.h"

namespace brickcast {
namespace {

std::string Format(double v, const std::string& unit) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (!unit.empty() && unit != "1") s += " " + unit;
  if (unit == "1") {
    std::snprintf(buf, sizeof buf, "%.0f %%", v * 100);
    s = buf;
  }
  return s;
}

// A difference of two temperatures is in kelvin, not degrees Celsius.
std::string DifferenceUnit(const std::string& unit, char op) { return op == '-' && unit == "degC" ? "K" : unit; }

EvidenceValue InputEvidence(const RuleInputs& in, const std::string& name, double v) {
  return EvidenceValue{name, in.Point(name), v, in.Unit(name)};
}

bool Past(Direction d, double v, double limit) { return d == Direction::kAbove ? v > limit : v < limit; }
const char* DirectionWord(Direction d) { return d == Direction::kAbove ? "above" : "below"; }

class ThresholdCondition : public Condition {
 public:
  explicit ThresholdCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t) const override {
    const RuleSpec& r = *rule_;
    ConditionResult out;
    out.time = t;
    const double a = in.StepValue(r.value.a, t);
    const double b = r.value.op != 0 ? in.StepValue(r.value.b, t) : 0.0;
    const double base = r.limit_input.empty() ? 0.0 : in.StepValue(r.limit_input, t);
    out.values.push_back(InputEvidence(in, r.value.a, a));
    if (r.value.op != 0) out.values.push_back(InputEvidence(in, r.value.b, b));
    if (!r.limit_input.empty()) out.values.push_back(InputEvidence(in, r.limit_input, base));
    for (const EvidenceValue& e : out.values) {
      if (std::isnan(e.value)) out.missing.push_back(e.name);
    }
    if (!out.missing.empty()) {
      out.outcome = Outcome::kNoData;
      out.detail = "no data for " + out.missing.front() + " in this step";
      return out;
    }
    const std::string unit = DifferenceUnit(in.Unit(r.value.a), r.value.op);
    const double v = r.value.op == '-' ? a - b : r.value.op == '+' ? a + b : a;
    const double limit = r.limit_input.empty() ? r.limit : base + r.limit_offset;
    out.primary_value = v;
    if (r.value.op != 0) out.values.push_back(EvidenceValue{"value", "", v, unit});
    out.thresholds.push_back(EvidenceValue{"limit", "", limit, r.limit_input.empty() ? unit : in.Unit(r.limit_input)});
    out.outcome = Past(r.direction, v, limit) ? Outcome::kFault : Outcome::kNormal;
    out.detail = r.value.text() + " = " + Format(v, unit) + (out.outcome == Outcome::kFault ? " " : " not ") +
                 DirectionWord(r.direction) + " " +
                 (r.limit_input.empty() ? "" : r.limit_input + (r.limit_offset != 0 ? " + offset = " : " = ")) +
                 Format(limit, out.thresholds.back().unit);
    return out;
  }

 private:
  std::shared_ptr<const RuleSpec> rule_;
};

double BoundOf(const ForecastStep& s, ForecastBound b) {
  return b == ForecastBound::kLower ? s.lower : b == ForecastBound::kUpper ? s.upper : s.value;
}
const char* BoundName(ForecastBound b) {
  return b == ForecastBound::kLower ? "lower bound" : b == ForecastBound::kUpper ? "upper bound" : "forecast";
}

class ForecastThresholdCondition : public Condition {
 public:
  explicit ForecastThresholdCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}
  bool on_forecast() const override { return true; }

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t) const override {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    const std::string unit = in.Unit(input);
    ConditionResult out;
    out.time = t;
    out.thresholds.push_back(EvidenceValue{"limit", "", r.limit, unit});
    // The last measured step before the forecast starts.
    const double measured = in.StepValue(input, t - in.step_ms());
    out.values.push_back(InputEvidence(in, input, measured));
    out.measured_crossed = !std::isnan(measured) && Past(r.direction, measured, r.limit);
    const std::optional<PointForecast> f = in.Forecast(input, 0);
    if (!f || f->status != ForecastStatus::kOk || f->steps.empty()) {
      out.outcome = Outcome::kNoData;
      out.missing.push_back(input + " forecast");
      out.detail = "no forecast of " + input + " yet";
      return out;
    }
    out.time = f->window_end;
    ForecastEvidence ev{f->model, f->window_end, f->step_ms, {}};
    out.outcome = Outcome::kNormal;
    bool judged = false;
    for (const ForecastStep& s : f->steps) {
      if (s.time >= f->window_end + r.within_ms) break;
      ev.steps.push_back(s);
      const double v = BoundOf(s, r.bound);
      if (std::isnan(v)) continue;  // no interval yet for this step
      judged = true;
      if (Past(r.direction, v, r.limit)) {
        out.outcome = Outcome::kFault;
        out.predicted = true;
        out.crossing_time = s.time;
        out.primary_value = v;
        break;
      }
    }
    if (!judged) {
      out.outcome = Outcome::kNoData;
      out.missing.push_back(input + " forecast interval");
      out.detail = std::string("the forecast has no ") + BoundName(r.bound) + " yet";
      return out;
    }
    out.forecast = std::move(ev);
    if (out.outcome == Outcome::kFault) {
      const double lead_min = static_cast<double>(out.crossing_time - f->window_end) / 60000.0;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s of %s reaches %s %s %s at %s, %.0f min ahead", BoundName(r.bound),
                    input.c_str(), Format(out.primary_value, unit).c_str(), DirectionWord(r.direction),
                    Format(r.limit, unit).c_str(), FormatIsoUtc(out.crossing_time).c_str(), lead_min);
      out.detail = buf;
    } else {
      out.detail = std::string(BoundName(r.bound)) + " of " + input + " stays " +
                   (r.direction == Direction::kAbove ? "below " : "above ") + Format(r.limit, unit) + " for " +
                   std::to_string(r.within_ms / 60000) + " min";
    }
    return out;
  }

 private:
  std::shared_ptr<const RuleSpec> rule_;
};

class SensorHealthCondition : public Condition {
 public:
  explicit SensorHealthCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t) const override {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    const std::string unit = in.Unit(input);
    ConditionResult out;
    out.time = t;
    out.outcome = Outcome::kNormal;
    switch (r.check) {
      case HealthCheck::kStale: {
        // Evaluation runs because the equipment's other points closed this step, so silence here
        // is this sensor's, not the whole feed's.
        const UnixMillis last = in.LastObserved(input, t, r.stale_steps);
        out.values.push_back(InputEvidence(in, input, in.StepValue(input, t)));
        out.thresholds.push_back(EvidenceValue{"stale_steps", "", static_cast<double>(r.stale_steps), "steps"});
        if (last == 0) {
          out.outcome = Outcome::kFault;
          out.detail = input + " has not reported for " + std::to_string(r.stale_steps) +
                       " steps while its equipment reports";
        } else {
          out.detail = input + " reported in the step of " + FormatIsoUtc(last);
        }
        return out;
      }
      case HealthCheck::kRange: {
        const double v = in.StepValue(input, t);
        out.values.push_back(InputEvidence(in, input, v));
        if (!std::isnan(r.min)) out.thresholds.push_back(EvidenceValue{"min", "", r.min, unit});
        if (!std::isnan(r.max)) out.thresholds.push_back(EvidenceValue{"max", "", r.max, unit});
        if (std::isnan(v)) return NoData(out, input);
        out.primary_value = v;
        const bool low = !std::isnan(r.min) && v < r.min, high = !std::isnan(r.max) && v > r.max;
        out.outcome = low || high ? Outcome::kFault : Outcome::kNormal;
        out.detail = input + " = " + Format(v, unit) + (low ? " below the plausible minimum " + Format(r.min, unit)
                                                       : high ? " above the plausible maximum " + Format(r.max, unit)
                                                              : " within its plausible range");
        return out;
      }
      case HealthCheck::kFlatline: {
        const std::vector<double> w = in.Recent(input, t, r.window_steps);
        out.thresholds.push_back(EvidenceValue{"epsilon", "", r.epsilon, unit});
        if (w.size() < r.window_steps || std::any_of(w.begin(), w.end(), [](double v) { return std::isnan(v); }))
          return NoData(out, input);
        const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
        out.primary_value = *hi - *lo;
        out.values.push_back(InputEvidence(in, input, w.back()));
        out.values.push_back(EvidenceValue{"spread", "", out.primary_value, DifferenceUnit(unit, '-')});
        out.outcome = out.primary_value < r.epsilon ? Outcome::kFault : Outcome::kNormal;
        out.detail = input + " spread " + Format(out.primary_value, DifferenceUnit(unit, '-')) + " over " +
                     std::to_string(r.window_steps) + " steps" + (out.outcome == Outcome::kFault ? " (flat)" : "");
        return out;
      }
      case HealthCheck::kSpike: {
        const std::vector<double> w = in.Recent(input, t, r.window_steps + 1);
        if (w.size() < 3 || std::isnan(w.back()) || std::isnan(w[w.size() - 2])) return NoData(out, input);
        std::vector<double> steps;
        for (size_t i = 1; i + 1 < w.size(); ++i) {
          if (!std::isnan(w[i]) && !std::isnan(w[i - 1])) steps.push_back(std::fabs(w[i] - w[i - 1]));
        }
        if (steps.size() < 2) return NoData(out, input);
        std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
        const double typical = std::max(steps[steps.size() / 2], r.epsilon);
        const double jump = std::fabs(w.back() - w[w.size() - 2]);
        out.primary_value = jump;
        out.values.push_back(InputEvidence(in, input, w.back()));
        out.values.push_back(EvidenceValue{"jump", "", jump, DifferenceUnit(unit, '-')});
        out.thresholds.push_back(EvidenceValue{"limit", "", r.spike_k * typical, DifferenceUnit(unit, '-')});
        out.outcome = jump > r.spike_k * typical ? Outcome::kFault : Outcome::kNormal;
        out.detail = input + " jumped " + Format(jump, DifferenceUnit(unit, '-')) + " in one step; typical step " +
                     Format(typical, DifferenceUnit(unit, '-'));
        return out;
      }
    }
    return out;
  }

 private:
  static ConditionResult NoData(ConditionResult out, const std::string& input) {
    out.outcome = Outcome::kNoData;
    out.missing.push_back(input);
    out.detail = "not enough data for " + input;
    return out;
  }
  std::shared_ptr<const RuleSpec> rule_;
};

class ResidualCondition : public Condition {
 public:
  explicit ResidualCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t) const override {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    const std::string unit = in.Unit(input);
    ConditionResult out;
    out.time = t;
    const double v = in.StepValue(input, t);
    out.values.push_back(InputEvidence(in, input, v));
    if (std::isnan(v)) {
      out.outcome = Outcome::kNoData;
      out.missing.push_back(input);
      out.detail = "no data for " + input + " in this step";
      return out;
    }
    out.primary_value = v;
    out.outcome = Outcome::kNormal;
    const std::optional<PointForecast> f = in.Forecast(input, t);
    const ForecastStep* step = nullptr;
    if (f) {
      for (const ForecastStep& s : f->steps) {
        if (s.time == t) step = &s;
      }
    }
    if (step == nullptr || std::isnan(step->lower) || std::isnan(step->upper)) {
      out.detail = "no forecast interval covers this step yet";
      return out;
    }
    out.forecast = ForecastEvidence{f->model, f->window_end, f->step_ms, {*step}};
    out.thresholds.push_back(EvidenceValue{"lower", "", step->lower, unit});
    out.thresholds.push_back(EvidenceValue{"upper", "", step->upper, unit});
    const bool high = v > step->upper + r.min_deviation, low = v < step->lower - r.min_deviation;
    out.outcome = high || low ? Outcome::kFault : Outcome::kNormal;
    out.detail = input + " = " + Format(v, unit) + (high ? " above" : low ? " below" : " inside") +
                 " the forecast interval [" + Format(step->lower, unit) + ", " + Format(step->upper, unit) + "]";
    return out;
  }

 private:
  std::shared_ptr<const RuleSpec> rule_;
};

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kNormal: return "normal";
    case Outcome::kFault: return "fault";
    case Outcome::kNoData: return "no_data";
  }
  return "?";
}

std::unique_ptr<Condition> MakeCondition(std::shared_ptr<const RuleSpec> rule) {
  switch (rule->kind) {
    case RuleKind::kThreshold: return std::make_unique<ThresholdCondition>(std::move(rule));
    case RuleKind::kForecastThreshold: return std::make_unique<ForecastThresholdCondition>(std::move(rule));
    case RuleKind::kSensorHealth: return std::make_unique<SensorHealthCondition>(std::move(rule));
    case RuleKind::kResidual: return std::make_unique<ResidualCondition>(std::move(rule));
  }
  return nullptr;
}

std::string RenderSummary(const RuleSpec& rule, const std::string& equipment, const ConditionResult& result) {
  std::map<std::string, std::string> vars{{"equipment", std::string(LocalName(equipment))},
                                          {"rule", rule.id},
                                          {"detail", result.detail}};
  for (const EvidenceValue& v : result.values) vars[v.name] = Format(v.value, v.unit);
  for (const EvidenceValue& v : result.thresholds) vars[v.name] = Format(v.value, v.unit);
  if (!vars.count("value")) {
    const std::string unit = result.values.empty() ? "" : result.values.front().unit;
    vars["value"] = Format(result.primary_value, unit);
  }
  std::string out;
  const std::string& t = rule.summary;
  for (size_t i = 0; i < t.size(); ++i) {
    const size_t close = t[i] == '{' ? t.find('}', i) : std::string::npos;
    if (close != std::string::npos) {
      auto it = vars.find(t.substr(i + 1, close - i - 1));
      if (it != vars.end()) {
        out += it->second;
        i = close;
        continue;
      }
    }
    out += t[i];
  }
  return out;
}

}  // namespace brickcast
