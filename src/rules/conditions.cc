// The rule kinds: each a small Condition over RuleInputs, evaluated at one closed step.
#include <algorithm>
#include <cstdio>

#include "brickcast/rules.h"
#include "rules/condition_support.h"
#include "rules/expected.h"
#include "rules/g36.h"

namespace brickcast {
namespace {

using rules_internal::DerivationKey;
using rules_internal::DifferenceUnit;
using rules_internal::Format;
using rules_internal::InputEvidence;

bool Past(Direction d, double v, double limit) { return d == Direction::kAbove ? v > limit : v < limit; }
const char* DirectionWord(Direction d) { return d == Direction::kAbove ? "above" : "below"; }

class ThresholdCondition : public Condition {
 public:
  explicit ThresholdCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    const RuleSpec& r = *rule_;
    ConditionResult out;
    out.time = t;
    const double a = in.StepValue(r.value.a, t);
    const double b = r.value.op != 0 ? in.StepValue(r.value.b, t) : 0.0;
    const double base = r.limit_input.empty() ? 0.0 : in.StepValue(r.limit_input, t);
    const double v = r.value.op == '-' ? a - b : r.value.op == '+' ? a + b : a;
    const double limit = r.limit_input.empty() ? r.limit : base + r.limit_offset;
    out.primary_value = v;
    out.outcome = std::isnan(v) || std::isnan(limit) ? Outcome::kNoData
                  : Past(r.direction, v, limit)     ? Outcome::kFault
                                                    : Outcome::kNormal;
    if (!explain) return out;
    out.values.push_back(InputEvidence(in, r.value.a, a));
    if (r.value.op != 0) out.values.push_back(InputEvidence(in, r.value.b, b));
    if (!r.limit_input.empty()) out.values.push_back(InputEvidence(in, r.limit_input, base));
    if (out.outcome == Outcome::kNoData) {
      for (const EvidenceValue& e : out.values) {
        if (std::isnan(e.value)) out.missing.push_back(e.name);
      }
      out.detail = "no data for " + (out.missing.empty() ? r.value.a : out.missing.front()) + " in this step";
      return out;
    }
    const std::string unit = DifferenceUnit(in.Unit(r.value.a), r.value.op);
    if (r.value.op != 0) out.values.push_back(EvidenceValue{"value", "", v, unit});
    out.thresholds.push_back(EvidenceValue{"limit", "", limit, r.limit_input.empty() ? unit : in.Unit(r.limit_input)});
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

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    // The last measured step before the forecast starts.
    const double measured = in.StepValue(input, t - in.step_ms());
    out.measured_crossed = !std::isnan(measured) && Past(r.direction, measured, r.limit);
    const PointForecast* f = in.Forecast(input, 0);
    size_t checked = 0;
    bool judged = false;
    out.outcome = Outcome::kNoData;
    if (f != nullptr && f->status == ForecastStatus::kOk) {
      out.time = f->window_end;
      out.outcome = Outcome::kNormal;
      for (const ForecastStep& s : f->steps) {
        if (s.time >= f->window_end + r.within_ms) break;
        ++checked;
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
      if (!judged) out.outcome = Outcome::kNoData;
    }
    if (!explain) return out;
    const std::string unit = in.Unit(input);
    out.thresholds.push_back(EvidenceValue{"limit", "", r.limit, unit});
    out.values.push_back(InputEvidence(in, input, measured));
    if (f == nullptr || f->status != ForecastStatus::kOk) {
      out.missing.push_back(input + " forecast");
      out.detail = "no forecast of " + input + " yet";
      return out;
    }
    if (!judged) {
      out.missing.push_back(input + " forecast interval");
      out.detail = std::string("the forecast has no ") + BoundName(r.bound) + " yet";
      return out;
    }
    out.forecast = ForecastEvidence{f->model, f->window_end, f->step_ms,
                                    std::vector<ForecastStep>(f->steps.begin(), f->steps.begin() + checked)};
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

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    switch (rule_->check) {
      case HealthCheck::kStale: return Stale(in, t, explain);
      case HealthCheck::kRange: return Range(in, t, explain);
      case HealthCheck::kFlatline: return Flatline(in, t, explain);
      case HealthCheck::kSpike: return Spike(in, t, explain);
    }
    return ConditionResult{};
  }

 private:
  // Evaluation runs because the equipment's other points closed this step, so silence here is
  // this sensor's, not the whole feed's.
  ConditionResult Stale(const RuleInputs& in, UnixMillis t, bool explain) const {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    const UnixMillis last = in.LastObserved(input, t, r.stale_steps);
    out.outcome = last == 0 ? Outcome::kFault : Outcome::kNormal;
    if (!explain) return out;
    out.values.push_back(InputEvidence(in, input, in.StepValue(input, t)));
    out.thresholds.push_back(EvidenceValue{"stale_steps", "", static_cast<double>(r.stale_steps), "steps"});
    out.detail = last == 0 ? input + " has not reported for " + std::to_string(r.stale_steps) +
                                 " steps while its equipment reports"
                           : input + " reported in the step of " + FormatIsoUtc(last);
    return out;
  }

  ConditionResult Range(const RuleInputs& in, UnixMillis t, bool explain) const {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    const double v = in.StepValue(input, t);
    out.primary_value = v;
    const bool low = !std::isnan(r.min) && v < r.min, high = !std::isnan(r.max) && v > r.max;
    out.outcome = std::isnan(v) ? Outcome::kNoData : low || high ? Outcome::kFault : Outcome::kNormal;
    if (!explain) return out;
    const std::string unit = in.Unit(input);
    out.values.push_back(InputEvidence(in, input, v));
    if (!std::isnan(r.min)) out.thresholds.push_back(EvidenceValue{"min", "", r.min, unit});
    if (!std::isnan(r.max)) out.thresholds.push_back(EvidenceValue{"max", "", r.max, unit});
    if (std::isnan(v)) return NoData(std::move(out), input);
    out.detail = input + " = " + Format(v, unit) + (low ? " below the plausible minimum " + Format(r.min, unit)
                                                   : high ? " above the plausible maximum " + Format(r.max, unit)
                                                          : " within its plausible range");
    return out;
  }

  ConditionResult Flatline(const RuleInputs& in, UnixMillis t, bool explain) const {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    // A sensor that moved by epsilon anywhere in the window is not stuck, whatever else the
    // window holds: the scan stops there (unless the evidence needs the whole spread).
    const RuleInputs::Range range = in.ObservedRange(input, t, r.window_steps, explain ? INFINITY : r.epsilon);
    const bool moved = range.observed > 0 && range.max - range.min >= r.epsilon;
    const bool complete = range.observed == r.window_steps;  // a gap is not a flat line
    if (moved || complete) {
      out.primary_value = range.max - range.min;
      out.outcome = moved ? Outcome::kNormal : Outcome::kFault;
    } else {
      out.outcome = Outcome::kNoData;
    }
    if (!explain) return out;
    const std::string spread_unit = DifferenceUnit(in.Unit(input), '-');
    out.thresholds.push_back(EvidenceValue{"epsilon", "", r.epsilon, spread_unit});
    if (out.outcome == Outcome::kNoData) return NoData(std::move(out), input);
    out.values.push_back(InputEvidence(in, input, in.StepValue(input, t)));
    out.values.push_back(EvidenceValue{"spread", "", out.primary_value, spread_unit});
    out.detail = input + " spread " + Format(out.primary_value, spread_unit) + " over " +
                 std::to_string(r.window_steps) + " steps" + (out.outcome == Outcome::kFault ? " (flat)" : "");
    return out;
  }

  ConditionResult Spike(const RuleInputs& in, UnixMillis t, bool explain) const {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    const std::vector<double> w = in.Recent(input, t, r.window_steps + 1);
    std::vector<double> steps;
    for (size_t i = 1; i + 1 < w.size(); ++i) {
      if (!std::isnan(w[i]) && !std::isnan(w[i - 1])) steps.push_back(std::fabs(w[i] - w[i - 1]));
    }
    double typical = NAN;
    if (w.size() >= 3 && !std::isnan(w.back()) && !std::isnan(w[w.size() - 2]) && steps.size() >= 2) {
      std::nth_element(steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(steps.size() / 2), steps.end());
      typical = std::max(steps[steps.size() / 2], r.epsilon);
      out.primary_value = std::fabs(w.back() - w[w.size() - 2]);
      out.outcome = out.primary_value > r.spike_k * typical ? Outcome::kFault : Outcome::kNormal;
    } else {
      out.outcome = Outcome::kNoData;
    }
    if (!explain) return out;
    if (out.outcome == Outcome::kNoData) return NoData(std::move(out), input);
    const std::string unit = DifferenceUnit(in.Unit(input), '-');
    out.values.push_back(InputEvidence(in, input, w.back()));
    out.values.push_back(EvidenceValue{"jump", "", out.primary_value, unit});
    out.thresholds.push_back(EvidenceValue{"limit", "", r.spike_k * typical, unit});
    out.detail = input + " jumped " + Format(out.primary_value, unit) + " in one step; typical step " +
                 Format(typical, unit);
    return out;
  }

  static ConditionResult NoData(ConditionResult out, const std::string& input) {
    out.outcome = Outcome::kNoData;
    out.missing.push_back(input);
    out.detail = "not enough data for " + input;
    return out;
  }
  std::shared_ptr<const RuleSpec> rule_;
};

// The forecast step for time t: where the regular spacing puts it (two cache lines read, not the
// whole horizon: this runs for every judged step of every residual rule), else by a scan.
const ForecastStep* StepAt(const std::vector<ForecastStep>& steps, UnixMillis t, int64_t step_ms) {
  if (steps.empty()) return nullptr;
  if (step_ms > 0 && t >= steps.front().time) {
    const size_t i = static_cast<size_t>((t - steps.front().time) / step_ms);
    if (i < steps.size() && steps[i].time == t) return &steps[i];
  }
  for (const ForecastStep& s : steps) {
    if (s.time == t) return &s;
  }
  return nullptr;
}

class ResidualCondition : public Condition {
 public:
  explicit ResidualCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}
  bool waits_for_forecast() const override { return true; }
  // The oldest forecast a step is judged against: made from data ending at most this many steps
  // before it (a live forecast is made from data ending at the step itself).
  static constexpr int64_t kMaxForecastAgeSteps = 3;

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    const RuleSpec& r = *rule_;
    const std::string& input = r.value.a;
    ConditionResult out;
    out.time = t;
    const double v = in.StepValue(input, t);
    out.primary_value = v;
    const PointForecast* f = std::isnan(v) ? nullptr : in.Forecast(input, t);
    // Only a recent forecast judges the step: one made hours before would judge it against an
    // expectation that knew nothing of the last hours (a fan start, a set-point change).
    if (f != nullptr && t - f->window_end > kMaxForecastAgeSteps * f->step_ms) f = nullptr;
    const ForecastStep* step = nullptr;
    if (f != nullptr) {
      // The model's expectation, also where a baseline is served (forecast.serve_best): the
      // interval's width comes from the model's residuals, not the baseline's.
      step = StepAt(f->model_steps.empty() ? f->steps : f->model_steps, t, f->step_ms);
    }
    const bool interval = step != nullptr && !std::isnan(step->lower) && !std::isnan(step->upper);
    const bool high = interval && v > step->upper + r.min_deviation;
    const bool low = interval && v < step->lower - r.min_deviation;
    out.outcome = std::isnan(v) ? Outcome::kNoData : high || low ? Outcome::kFault : Outcome::kNormal;
    if (!explain) return out;
    const std::string unit = in.Unit(input);
    out.values.push_back(InputEvidence(in, input, v));
    if (std::isnan(v)) {
      out.missing.push_back(input);
      out.detail = "no data for " + input + " in this step";
      return out;
    }
    if (!interval) {
      out.detail = "no recent forecast interval covers this step";
      return out;
    }
    out.forecast = ForecastEvidence{f->model, f->window_end, f->step_ms, {*step}};
    out.thresholds.push_back(EvidenceValue{"lower", "", step->lower, unit});
    out.thresholds.push_back(EvidenceValue{"upper", "", step->upper, unit});
    out.detail = input + " = " + Format(v, unit) + (high ? " above" : low ? " below" : " inside") +
                 " the forecast interval [" + Format(step->lower, unit) + ", " + Format(step->upper, unit) + "]";
    return out;
  }

 private:
  std::shared_ptr<const RuleSpec> rule_;
};

// Any kind behind its `when` gates: a step whose gates are not all open is not judged.
class GatedCondition : public Condition {
 public:
  GatedCondition(std::shared_ptr<const RuleSpec> r, std::unique_ptr<Condition> inner)
      : rule_(std::move(r)), inner_(std::move(inner)), gates_key_(GatesKey(*rule_)) {}
  bool on_forecast() const override { return inner_->on_forecast(); }
  bool waits_for_forecast() const override { return inner_->waits_for_forecast(); }
  std::unique_ptr<ConditionState> NewState() const override { return inner_->NewState(); }
  // A closed gate (the fan off, unoccupied) is not normal operation to learn from.
  void Learn(const RuleInputs& in, UnixMillis t) const override {
    if (in.Shared(rule_->when.front().input, gates_key_, t, &AllOpen, rule_.get()) != 0) inner_->Learn(in, t);
  }

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    // A forecast rule runs at the forecast's start: its gates look at the last measured step.
    const UnixMillis at = inner_->on_forecast() ? t - in.step_ms() : t;
    if (!explain) {
      // An air handler's rules mostly share their gates (fan proven on, occupied): judged once.
      if (in.Shared(rule_->when.front().input, gates_key_, at, &AllOpen, rule_.get()) == 0) {
        ConditionResult out;
        out.time = t;
        return out;
      }
      return inner_->Evaluate(in, t, false);
    }
    for (const RuleGate& g : rule_->when) {
      std::string why;
      if (!Open(in, g, at, explain ? &why : nullptr)) {
        ConditionResult out;
        out.time = t;
        out.outcome = Outcome::kNormal;
        if (explain) out.detail = "not judged: " + why;
        return out;
      }
    }
    return inner_->Evaluate(in, t, explain);
  }

 private:
  static bool Open(const RuleInputs& in, const RuleGate& g, UnixMillis t, std::string* why) {
    const size_t steps = static_cast<size_t>(std::max<int64_t>(1, (g.for_ms + in.step_ms() - 1) / in.step_ms()));
    auto holds = [&g](double v) { return !std::isnan(v) && Past(g.direction, v, g.value); };
    bool open = holds(in.StepValue(g.input, t));
    if (open && g.for_ms > 0) {
      // Every step of the span observed and past the gate value.
      const RuleInputs::Range r = in.ObservedRange(g.input, t, steps);
      open = r.observed == steps && holds(g.direction == Direction::kAbove ? r.min : r.max);
    }
    if (!open && why != nullptr) {
      *why = g.input + " not " + DirectionWord(g.direction) + " " + Format(g.value, in.Unit(g.input)) +
             (g.for_ms > 0 ? " for " + std::to_string(g.for_ms / 60000) + " min" : "");
    }
    return open;
  }
  static double AllOpen(const RuleInputs& in, UnixMillis t, const void* rule) {
    for (const RuleGate& g : static_cast<const RuleSpec*>(rule)->when) {
      if (!Open(in, g, t, nullptr)) return 0;
    }
    return 1;
  }
  static uint64_t GatesKey(const RuleSpec& r) {
    DerivationKey key("when");
    for (const RuleGate& g : r.when)
      key.AddInput(r, g.input).Add(g.direction == Direction::kAbove ? 1.0 : -1.0).Add(g.value).Add(static_cast<double>(g.for_ms));
    return key.value();
  }
  std::shared_ptr<const RuleSpec> rule_;
  std::unique_ptr<Condition> inner_;
  const uint64_t gates_key_;
};

}  // namespace

RuleInputs::Range RuleInputs::RangeOfValues(const std::vector<double>& values) {
  Range r;
  for (double v : values) {
    if (std::isnan(v)) continue;
    r.min = r.observed == 0 ? v : std::min(r.min, v);
    r.max = r.observed == 0 ? v : std::max(r.max, v);
    ++r.observed;
  }
  return r;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kNormal: return "normal";
    case Outcome::kFault: return "fault";
    case Outcome::kNoData: return "no_data";
  }
  return "?";
}

namespace {

std::unique_ptr<Condition> MakeKind(std::shared_ptr<const RuleSpec> rule) {
  switch (rule->kind) {
    case RuleKind::kThreshold: return std::make_unique<ThresholdCondition>(std::move(rule));
    case RuleKind::kForecastThreshold: return std::make_unique<ForecastThresholdCondition>(std::move(rule));
    case RuleKind::kSensorHealth: return std::make_unique<SensorHealthCondition>(std::move(rule));
    case RuleKind::kResidual: return std::make_unique<ResidualCondition>(std::move(rule));
    case RuleKind::kG36: return MakeG36Condition(std::move(rule));
    case RuleKind::kExpected: return MakeExpectedCondition(std::move(rule));
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<Condition> MakeCondition(std::shared_ptr<const RuleSpec> rule) {
  std::unique_ptr<Condition> kind = MakeKind(rule);
  if (rule->when.empty()) return kind;
  return std::make_unique<GatedCondition>(std::move(rule), std::move(kind));
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
