// ASHRAE Guideline 36 AHU fault conditions FC1-FC15 in their G36 form,
// with the operating-state machine that gates them.
//
// Operating states, from the step means of the heating valve (HTG), cooling valve (CLG) and
// outside air damper (ECO) commands:
//   OS1 heating                       HTG open, CLG closed, ECO at minimum
//   OS2 free cooling (economizer)     HTG and CLG closed, ECO above minimum
//   OS3 economizer + mechanical       CLG open, HTG closed, ECO at 100 %
//   OS4 mechanical at minimum OA      CLG open, HTG closed, ECO at minimum
//   OS5 anything else (not judged by state-gated conditions)
// A state-gated condition judges a step only when the state has held for `settle` (what G36
// calls a mode-change delay; 15 min by default, its G36 value is not in our sources): a coil or
// mixing box needs minutes to reach what a state implies, and the open-source baseline's false
// alarms come from judging those transitions. Whether the fan is proven on, the occupied hours
// and the start-up delay are the rule's `when` gates.
//
// Tolerances combine as G36 does: a difference of two sensors is in error by sqrt(e1^2 + e2^2).
// Not reproduced from open-fdd v1 (see the field notes): FC1 on percent thresholds against
// fractions, FC2 with MAT - eps, FC11 as FC10 without its cooling condition, no fan proof.
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "brickcast/rules.h"
#include "rules/condition_support.h"
#include "rules/g36.h"

namespace brickcast {
namespace {

using rules_internal::DerivationKey;
using rules_internal::Format;
using rules_internal::InputEvidence;

// Input names, built once: conditions look inputs up by name on every read.
const std::string kHtg = "HTG", kClg = "CLG", kEco = "ECO";

constexpr unsigned kOs1 = 1u << 1, kOs2 = 1u << 2, kOs3 = 1u << 3, kOs4 = 1u << 4;
constexpr unsigned kAnyState = 0;  // not gated by the operating state

struct ConditionSpec {
  std::vector<std::string> inputs;  // besides HTG, CLG, ECO for state-gated ones
  unsigned states;
  const char* name;
};

const ConditionSpec* SpecOf(int fc) {
  static const ConditionSpec kSpecs[16] = {
      {{}, 0, ""},
      {{"DSP", "DSPSP", "FAN"}, kAnyState, "duct static pressure too low with the fan at full speed"},
      {{"MAT", "RAT", "OAT"}, kAnyState, "mixed air colder than both return and outside air"},
      {{"MAT", "RAT", "OAT"}, kAnyState, "mixed air warmer than both return and outside air"},
      {{"HTG", "CLG", "ECO"}, kAnyState, "too many operating-state changes (hunting)"},
      {{"SAT", "MAT"}, kOs1, "supply air not warmer than mixed air while heating"},
      {{"MAT", "RAT", "OAT", "SAF", "OAMIN"}, kOs1 | kOs4, "outside air fraction far from the design minimum"},
      {{"SAT", "SATSP"}, kOs1, "supply air below set point with the heating valve full open"},
      {{"SAT", "MAT"}, kOs2, "supply air differs from mixed air in free cooling"},
      {{"OAT", "SATSP"}, kOs2, "outside air too warm for free cooling"},
      {{"MAT", "OAT"}, kOs3, "mixed air differs from outside air at 100 % outside air"},
      {{"OAT", "SATSP"}, kOs3, "outside air too cold for economizer plus mechanical cooling"},
      {{"SAT", "MAT"}, kOs3 | kOs4, "supply air warmer than mixed air while cooling"},
      {{"SAT", "SATSP"}, kOs3 | kOs4, "supply air above set point with the cooling valve full open"},
      {{"CCET", "CCLT"}, kOs1 | kOs2, "temperature drop across the inactive cooling coil"},
      {{"HCET", "HCLT"}, kOs2 | kOs3 | kOs4, "temperature rise across the inactive heating coil"},
  };
  return fc >= 1 && fc <= 15 ? &kSpecs[fc] : nullptr;
}

const char* StateName(int os) {
  switch (os) {
    case 1: return "OS1 heating";
    case 2: return "OS2 free cooling";
    case 3: return "OS3 economizer + mechanical cooling";
    case 4: return "OS4 mechanical cooling at minimum OA";
    case 5: return "OS5 other";
  }
  return "unknown state (no command data)";
}

double Rss(double a, double b) { return std::sqrt(a * a + b * b); }

// The inputs as a forecast made at `now` sees them: before `now` the measured step values; from
// `now` on an input's newest forecast where it covers the step, else its last measured value
// (set points and commands without a forecast are held).
class ForecastView : public RuleInputs {
 public:
  ForecastView(const RuleInputs& in, UnixMillis now) : in_(in), now_(now) {}
  int64_t step_ms() const override { return in_.step_ms(); }
  double StepValue(const std::string& input, UnixMillis t) const override {
    if (t < now_) return in_.StepValue(input, t);
    const PointForecast* f = in_.Forecast(input, 0);
    if (f != nullptr && f->status == ForecastStatus::kOk && f->step_ms > 0 && t >= f->window_end) {
      const size_t i = static_cast<size_t>((t - f->window_end) / f->step_ms);
      if (i < f->steps.size() && !std::isnan(f->steps[i].value)) return f->steps[i].value;
    }
    return in_.StepValue(input, now_ - in_.step_ms());
  }
  std::vector<double> Recent(const std::string& input, UnixMillis t, size_t steps) const override {
    std::vector<double> out;
    for (size_t k = steps; k-- > 0;) out.push_back(StepValue(input, t - static_cast<int64_t>(k) * step_ms()));
    return out;
  }
  Range ObservedRange(const std::string& input, UnixMillis t, size_t steps, double) const override {
    return RangeOfValues(Recent(input, t, steps));
  }
  UnixMillis LastObserved(const std::string& input, UnixMillis t, size_t steps) const override {
    return in_.LastObserved(input, std::min(t, now_ - in_.step_ms()), steps);
  }
  const PointForecast* Forecast(const std::string& input, UnixMillis t) const override { return in_.Forecast(input, t); }
  std::string Unit(const std::string& input) const override { return in_.Unit(input); }
  std::string Point(const std::string& input) const override { return in_.Point(input); }

 private:
  const RuleInputs& in_;
  const UnixMillis now_;
};

class G36Condition : public Condition {
 public:
  explicit G36Condition(std::shared_ptr<const RuleSpec> r)
      : rule_(std::move(r)), spec_(*SpecOf(rule_->g36.condition)), state_key_(StateKey(*rule_)),
        settled_key_(DerivationKey("g36 settled").Add(static_cast<double>(state_key_)).Add(static_cast<double>(rule_->g36.settle_ms)).value()) {}

  bool on_forecast() const override { return rule_->g36.on_forecast; }

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    return rule_->g36.on_forecast ? Predict(in, t, explain) : Judge(in, t, explain);
  }

 private:
  // The forecast form: the measured form on the forecast steps from `now` (the forecast's window
  // end) within `within`; a fault held `predict_hold` long is a predicted fault, expected at the
  // first step of that run. `measured_crossed` tells whether the last closed step already shows it.
  ConditionResult Predict(const RuleInputs& in, UnixMillis now, bool explain) const {
    const G36Params& g = rule_->g36;
    const int64_t step = in.step_ms();
    const ForecastView view(in, now);
    const int64_t hold = std::max<int64_t>(1, (g.predict_hold_ms + step - 1) / step);
    int64_t run = 0;
    bool judged = false;
    ConditionResult out;
    for (UnixMillis t = now; t < now + rule_->within_ms; t += step) {
      ConditionResult r = Judge(view, t, false);
      if (r.outcome == Outcome::kNoData) {
        run = 0;
        continue;
      }
      judged = true;
      run = r.outcome == Outcome::kFault ? run + 1 : 0;
      if (run == hold) {
        const UnixMillis expected = t - (hold - 1) * step;
        out = Judge(view, expected, explain);
        out.outcome = Outcome::kFault;
        out.predicted = true;
        out.crossing_time = expected;
        break;
      }
    }
    if (!out.predicted) {
      out = ConditionResult{};
      out.outcome = judged ? Outcome::kNormal : Outcome::kNoData;
      if (explain) out.detail = judged ? "not predicted within " + std::to_string(rule_->within_ms / 60000) + " min"
                                       : "no forecast or measured data to judge";
    } else if (explain) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "predicted at %s, %.0f min ahead: ", FormatIsoUtc(out.crossing_time).c_str(),
                    static_cast<double>(out.crossing_time - now) / 60000.0);
      out.detail = buf + out.detail;
    }
    out.time = now;
    out.measured_crossed = Judge(in, now - step, false).outcome == Outcome::kFault;
    return out;
  }

  // The measured form at step t.
  ConditionResult Judge(const RuleInputs& in, UnixMillis t, bool explain) const {
    const G36Params& g = rule_->g36;
    int state = 0;
    if (spec_.states != kAnyState) {
      // The unit's state and whether it has settled are the same for its eleven conditions.
      const int settled = static_cast<int>(in.Shared(kHtg, settled_key_, t, &SettledState, this));
      state = std::abs(settled);
      if (state == 0) return NoData(in, t, {kHtg, kClg, kEco}, explain);
      // The reasons are built only for evidence: this path runs for every unit on every step.
      if ((spec_.states & (1u << state)) == 0)
        return NotJudged(t, explain ? std::string("in ") + StateName(state) : std::string(), explain);
      if (settled < 0)
        return NotJudged(t,
                         explain ? std::string(StateName(state)) + " for less than " +
                                       std::to_string(g.settle_ms / 60000) + " min"
                                 : std::string(),
                         explain);
    }
    switch (g.condition) {
      case 4: return Hunting(in, t, explain);
      default: return Compare(in, t, state, explain);
    }
  }

  // Reads the condition's inputs at step t; the value tested and its limit, per condition.
  ConditionResult Compare(const RuleInputs& in, UnixMillis t, int state, bool explain) const {
    const G36Params& g = rule_->g36;
    ConditionResult out;
    out.time = t;
    // No allocation on this path: it runs for every air handler on every step.
    std::array<double, 5> v{};
    for (size_t i = 0; i < spec_.inputs.size(); ++i) {
      v[i] = in.StepValue(spec_.inputs[i], t);
      if (std::isnan(v[i])) return NoData(in, t, spec_.inputs, explain);
    }
    double lhs = NAN, rhs = NAN;  // fault when lhs > rhs (each condition written in that form)
    const char *lhs_text = "", *rhs_text = "", *unit = "K";
    bool extra = true;  // a second clause (fan at full speed, valve full open, enough OAT-RAT spread)
    switch (g.condition) {
      case 1:  // DSP < DSPSP - eDSP and FAN >= max - eFAN
        lhs = v[1] - g.eps_dsp, rhs = v[0];
        lhs_text = "DSPSP - eps_dsp", rhs_text = "DSP", unit = "Pa";
        extra = v[2] >= g.fan_max - g.eps_fan;
        break;
      case 2:  // MAT + eMAT < min(RAT - eRAT, OAT - eOAT)
        lhs = std::min(v[1] - g.eps_rat, v[2] - g.eps_oat), rhs = v[0] + g.eps_mat;
        lhs_text = "min(RAT - eps_rat, OAT - eps_oat)", rhs_text = "MAT + eps_mat", unit = "degC";
        break;
      case 3:  // MAT - eMAT > max(RAT + eRAT, OAT + eOAT)
        lhs = v[0] - g.eps_mat, rhs = std::max(v[1] + g.eps_rat, v[2] + g.eps_oat);
        lhs_text = "MAT - eps_mat", rhs_text = "max(RAT + eps_rat, OAT + eps_oat)", unit = "degC";
        break;
      case 5:  // SAT + eSAT <= MAT - eMAT + dTSF
        lhs = v[1] - g.eps_mat + g.delta_t_sf, rhs = v[0] + g.eps_sat;
        lhs_text = "MAT - eps_mat + dT_sf", rhs_text = "SAT + eps_sat", unit = "degC";
        break;
      case 6: {  // |RAT - OAT| >= dTmin and |%OA - %OAmin| > eF
        const double mat = v[0], rat = v[1], oat = v[2], saf = v[3], oamin = v[4];
        extra = std::fabs(rat - oat) >= g.delta_t_min && saf > 0;
        const double oa = extra ? std::max(0.0, (mat - rat) / (oat - rat)) : NAN;
        const double oa_min = extra ? oamin / saf : NAN;
        lhs = std::fabs(oa - oa_min), rhs = g.eps_flow;
        lhs_text = "|OA fraction - design minimum|", rhs_text = "eps_flow", unit = "1";
        break;
      }
      case 7:  // SAT < SATSP - eSAT and HTG >= full
        lhs = v[1] - g.eps_sat, rhs = v[0];
        lhs_text = "SATSP - eps_sat", rhs_text = "SAT", unit = "degC";
        extra = in.StepValue(kHtg, t) >= g.valve_full;
        break;
      case 8:  // |SAT - dTSF - MAT| > sqrt(eSAT^2 + eMAT^2)
        lhs = std::fabs(v[0] - g.delta_t_sf - v[1]), rhs = Rss(g.eps_sat, g.eps_mat);
        lhs_text = "|SAT - dT_sf - MAT|", rhs_text = "sqrt(eps_sat^2 + eps_mat^2)";
        break;
      case 9:  // OAT - eOAT > SATSP - dTSF + eSAT
        lhs = v[0] - g.eps_oat, rhs = v[1] - g.delta_t_sf + g.eps_sat;
        lhs_text = "OAT - eps_oat", rhs_text = "SATSP - dT_sf + eps_sat", unit = "degC";
        break;
      case 10:  // |MAT - OAT| > sqrt(eMAT^2 + eOAT^2)
        lhs = std::fabs(v[0] - v[1]), rhs = Rss(g.eps_mat, g.eps_oat);
        lhs_text = "|MAT - OAT|", rhs_text = "sqrt(eps_mat^2 + eps_oat^2)";
        break;
      case 11:  // OAT + eOAT < SATSP - dTSF - eSAT
        lhs = v[1] - g.delta_t_sf - g.eps_sat, rhs = v[0] + g.eps_oat;
        lhs_text = "SATSP - dT_sf - eps_sat", rhs_text = "OAT + eps_oat", unit = "degC";
        break;
      case 12:  // SAT - eSAT - dTSF > MAT + eMAT
        lhs = v[0] - g.eps_sat - g.delta_t_sf, rhs = v[1] + g.eps_mat;
        lhs_text = "SAT - eps_sat - dT_sf", rhs_text = "MAT + eps_mat", unit = "degC";
        break;
      case 13:  // SAT > SATSP + eSAT and CLG >= full
        lhs = v[0], rhs = v[1] + g.eps_sat;
        lhs_text = "SAT", rhs_text = "SATSP + eps_sat", unit = "degC";
        extra = in.StepValue(kClg, t) >= g.valve_full;
        break;
      case 14:  // CCET - CCLT > sqrt(eCCET^2 + eCCLT^2) + dTSF
        lhs = v[0] - v[1], rhs = Rss(g.cc_eps, g.cc_eps) + g.delta_t_sf;
        lhs_text = "CCET - CCLT", rhs_text = "sqrt(2) eps_coil + dT_sf";
        break;
      case 15:  // HCLT - HCET > sqrt(eHCET^2 + eHCLT^2) + dTSF
        lhs = v[1] - v[0], rhs = Rss(g.hc_eps, g.hc_eps) + g.delta_t_sf;
        lhs_text = "HCLT - HCET", rhs_text = "sqrt(2) eps_coil + dT_sf";
        break;
    }
    const bool fault = extra && (g.condition == 5 ? lhs >= rhs : lhs > rhs);  // FC5 is written with <=
    out.outcome = fault ? Outcome::kFault : Outcome::kNormal;
    out.primary_value = lhs - rhs;  // how far past the limit (positive: fault side)
    if (!explain) return out;
    for (size_t i = 0; i < spec_.inputs.size(); ++i) out.values.push_back(InputEvidence(in, spec_.inputs[i], v[i]));
    AddStateEvidence(in, t, state, &out);
    const std::string shown = std::string(unit) == "degC" ? in.Unit(spec_.inputs[0]) : unit;  // absolute temperatures as stored
    out.thresholds.push_back(EvidenceValue{rhs_text, "", rhs, shown});  // named by its formula
    char buf[320];
    std::snprintf(buf, sizeof buf, "FC%d %s: %s = %s %s %s = %s%s%s", g.condition, fault ? "fault" : "normal",
                  lhs_text, Format(lhs, shown).c_str(), lhs > rhs ? ">" : "<=", rhs_text,
                  Format(rhs, shown).c_str(), extra ? "" : ExtraClauseText(g.condition).c_str(),
                  state != 0 ? (std::string(" in ") + StateName(state)).c_str() : "");
    out.detail = buf;
    return out;
  }

  static std::string ExtraClauseText(int fc) {
    switch (fc) {
      case 1: return " (fan not at full speed)";
      case 6: return " (|RAT - OAT| too small to read an OA fraction)";
      case 7: return " (heating valve not full open)";
      case 13: return " (cooling valve not full open)";
    }
    return "";
  }

  // FC4: state changes over the last hour of step means.
  ConditionResult Hunting(const RuleInputs& in, UnixMillis t, bool explain) const {
    const G36Params& g = rule_->g36;
    ConditionResult out;
    out.time = t;
    const int64_t steps = std::max<int64_t>(2, 3'600'000 / in.step_ms());
    int changes = 0, previous = 0, known = 0;
    // Newest first; without evidence to build, stop once the rest of the hour could not bring
    // the count past the limit (a steady unit reads a few steps, not the hour).
    for (int64_t k = 0; k < steps; ++k) {
      const int s = State(in, t - k * in.step_ms());
      if (s == 0) continue;
      ++known;
      if (previous != 0 && s != previous) ++changes;
      previous = s;
      if (!explain && changes + (steps - 1 - k) <= g.os_changes_max) {
        known = static_cast<int>(steps);
        break;
      }
    }
    if (known < steps / 2) return NoData(in, t, {kHtg, kClg, kEco}, explain);
    out.primary_value = changes;
    out.outcome = changes > g.os_changes_max ? Outcome::kFault : Outcome::kNormal;
    if (!explain) return out;
    AddStateEvidence(in, t, State(in, t), &out);
    out.thresholds.push_back(EvidenceValue{"os_changes_max", "", static_cast<double>(g.os_changes_max), "per hour"});
    out.detail = "FC4: " + std::to_string(changes) + " operating-state changes in the last hour (limit " +
                 std::to_string(g.os_changes_max) + ")";
    return out;
  }

  static void AddStateEvidence(const RuleInputs& in, UnixMillis t, int state, ConditionResult* out) {
    for (const std::string* name : {&kHtg, &kClg, &kEco}) {
      if (!in.Point(*name).empty()) out->values.push_back(InputEvidence(in, *name, in.StepValue(*name, t)));
    }
    if (state != 0) out->values.push_back(EvidenceValue{"operating_state", "", static_cast<double>(state), ""});
  }

  static ConditionResult NotJudged(UnixMillis t, const std::string& why, bool explain) {
    ConditionResult out;
    out.time = t;
    out.outcome = Outcome::kNormal;
    if (explain) out.detail = "not judged: " + why;
    return out;
  }

  static ConditionResult NoData(const RuleInputs& in, UnixMillis t, const std::vector<std::string>& names, bool explain) {
    ConditionResult out;
    out.time = t;
    out.outcome = Outcome::kNoData;
    if (!explain) return out;
    for (const std::string& n : names) {
      if (std::isnan(in.StepValue(n, t))) out.missing.push_back(n);
    }
    out.detail = "no data for " + (out.missing.empty() ? names.front() : out.missing.front()) + " in this step";
    return out;
  }

  // The operating state at step t (0: no command data), shared by the unit's conditions.
  int State(const RuleInputs& in, UnixMillis t) const {
    return static_cast<int>(in.Shared(kHtg, state_key_, t, &StateAt, &rule_->g36));
  }
  static double StateAt(const RuleInputs& in, UnixMillis t, const void* params) {
    return G36OperatingState(in, t, *static_cast<const G36Params*>(params));
  }
  // The state at step t if it has held for the settling time, minus it if not, 0 without data.
  static double SettledState(const RuleInputs& in, UnixMillis t, const void* condition) {
    const G36Condition& c = *static_cast<const G36Condition*>(condition);
    const int state = c.State(in, t);
    const int64_t steps = std::max<int64_t>(1, (c.rule_->g36.settle_ms + in.step_ms() - 1) / in.step_ms());
    for (int64_t k = 1; k < steps && state != 0; ++k) {
      if (c.State(in, t - k * in.step_ms()) != state) return -state;
    }
    return state;
  }
  // What defines the state: the three commands' definitions and the state machine's thresholds.
  static uint64_t StateKey(const RuleSpec& r) {
    DerivationKey key("g36 state");
    for (const std::string* name : {&kHtg, &kClg, &kEco}) key.AddInput(r, *name);
    return key.Add(r.g36.valve_off).Add(r.g36.damper_min).Add(r.g36.damper_full).value();
  }

  std::shared_ptr<const RuleSpec> rule_;
  const ConditionSpec& spec_;
  const uint64_t state_key_, settled_key_;
};

}  // namespace

std::vector<std::string> G36Inputs(int condition) {
  const ConditionSpec* spec = SpecOf(condition);
  if (spec == nullptr) return {};
  std::vector<std::string> out = spec->inputs;
  if (spec->states != kAnyState) out.insert(out.end(), {"HTG", "CLG", "ECO"});
  return out;
}

int G36OperatingState(const RuleInputs& in, UnixMillis t, const G36Params& g) {
  const double htg = in.StepValue(kHtg, t), clg = in.StepValue(kClg, t), eco = in.StepValue(kEco, t);
  if (std::isnan(htg) || std::isnan(clg) || std::isnan(eco)) return 0;
  const bool heating = htg > g.valve_off, cooling = clg > g.valve_off;
  const bool at_min = eco <= g.damper_min, full = eco >= g.damper_full;
  if (heating && !cooling && at_min) return 1;
  if (!heating && !cooling && !at_min) return 2;
  if (cooling && !heating && full) return 3;
  if (cooling && !heating && at_min) return 4;
  return 5;
}

std::unique_ptr<Condition> MakeG36Condition(std::shared_ptr<const RuleSpec> rule) {
  return std::make_unique<G36Condition>(std::move(rule));
}

}  // namespace brickcast
