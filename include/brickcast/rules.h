// Rules: JSON rule files, their inputs resolved per equipment through the Brick model, and the
// conditions each kind evaluates on one equipment's closed step.
//
//   rule file ──LoadRules──> RuleSet ──ResolveRules(model)──> bindings (rule x equipment x points)
//                                                             + not-applicable (which inputs are missing)
//   binding + RuleInputs (store, forecasts) ──Condition::Evaluate──> ConditionResult (normal/fault/no data,
//                                                                     with its evidence)
//
// Conditions are pure functions of what RuleInputs returns, so each kind is tested with a table of
// step values and no daemon. The alert lifecycle (pending, firing, resolved) lives in alerts.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brickcast/brick_model.h"
#include "brickcast/forecast_service.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

enum class RuleKind { kThreshold, kForecastThreshold, kSensorHealth, kResidual, kG36, kExpected };
enum class Severity { kInfo, kWarning, kCritical };
enum class Direction { kAbove, kBelow };
enum class ForecastBound { kValue, kLower, kUpper };
enum class HealthCheck { kStale, kFlatline, kRange, kSpike };

const char* RuleKindName(RuleKind k);  // "threshold", "forecast_threshold", ...
const char* SeverityName(Severity s);  // "info", "warning", "critical"
std::optional<Severity> ParseSeverity(const std::string& name);

// An input named by Brick class (subclasses match), optionally reached through parts of the
// equipment: path ["Hot_Water_Coil", "Heating_Valve"] + class Valve_Command.
struct RuleInput {
  std::string name;
  std::string point_class;        // class IRI
  std::vector<std::string> path;  // part class IRIs, outermost first
  // Classes tried in order when `point_class` resolves to nothing on an equipment (e.g. a single
  // SAT set point where a unit has no separate heating one).
  std::vector<std::string> otherwise;
};

// `a`, or `a - b` / `a + b` over input names.
struct ValueExpr {
  std::string a;
  char op = 0;  // 0, '-' or '+'
  std::string b;
  std::string text() const { return op == 0 ? a : a + " " + op + " " + b; }
  bool operator==(const ValueExpr& o) const { return a == o.a && op == o.op && b == o.b; }
};

// A condition on an input that must hold for the rule to judge a step (`when`): e.g. the supply
// fan proven on for 15 minutes. While a gate is closed the rule sees a normal step.
struct RuleGate {
  std::string input;
  Direction direction = Direction::kAbove;
  double value = 0;       // SI
  int64_t for_ms = 0;     // it must have held over the steps of this span (all observed)
};

// g36: one ASHRAE Guideline 36 AHU fault condition with its tolerances (SI: K, Pa, fractions)
// and the thresholds of the operating-state machine. Defaults and sources: RuleReference().
struct G36Params {
  int condition = 0;  // 1..15
  double eps_sat = 2 * 5.0 / 9, eps_mat = 5 * 5.0 / 9, eps_oat = 5 * 5.0 / 9, eps_rat = 2 * 5.0 / 9;
  double delta_t_sf = 2 * 5.0 / 9;    // supply fan heat
  double delta_t_min = 10 * 5.0 / 9;  // FC6: |RAT - OAT| needed to read an OA fraction
  double eps_dsp = 0.1 * 249.08891;   // 0.1 inH2O
  double fan_max = 0.99, eps_fan = 0.05;
  double eps_flow = 0.3;              // FC6: OA fraction tolerance
  double cc_eps = 2 * 5.0 / 9, hc_eps = 2 * 5.0 / 9;  // coil entering/leaving air sensors
  double valve_off = 0.01;     // a valve command at or below this is closed
  double valve_full = 0.9;     // ... at or above this is fully open
  double damper_min = 0.5;     // an OA damper command at or below this is at minimum OA
  double damper_full = 0.9;    // ... at or above this is 100 % OA
  int os_changes_max = 7;      // FC4: operating-state changes per hour
  int64_t settle_ms = 15 * 60'000;  // the state must have held this long before a step is judged
  // "on": "forecast": judged on the forecasts of the inputs (measured values for inputs without
  // one) over `within_ms` of RuleSpec; a predicted fault must hold this long in the forecast.
  bool on_forecast = false;
  int64_t predict_hold_ms = 15 * 60'000;
};

struct RuleSpec {
  std::string id;
  std::string description;
  std::string file;  // where it was defined
  RuleKind kind = RuleKind::kThreshold;
  std::string applies_to;  // equipment class IRI
  std::vector<RuleInput> inputs;
  Severity severity = Severity::kWarning;
  int64_t for_ms = 0;        // fault this long before firing (pending until then)
  int64_t clear_for_ms = 0;  // normal this long before resolving (hysteresis)
  std::string summary;       // template: {equipment}, {rule}, {value}, {limit}, {<input>}, {detail}
  std::string action;        // recommended action
  std::vector<RuleGate> when;  // all must hold, else the step is not judged

  // threshold, forecast_threshold: value (expression of inputs) compared with a limit, which is a
  // constant or another input plus an offset.
  ValueExpr value;
  Direction direction = Direction::kAbove;
  double limit = NAN;
  std::string limit_input;
  double limit_offset = 0;
  // forecast_threshold: which series of the forecast, and how far ahead.
  ForecastBound bound = ForecastBound::kValue;
  int64_t within_ms = 0;
  // sensor_health
  HealthCheck check = HealthCheck::kStale;
  size_t stale_steps = 3;     // no observation for this many steps while the equipment reports
  size_t window_steps = 12;   // flatline and spike look at this many steps
  double epsilon = 0.01;      // flatline: spread below this (SI) over the window
  double min = NAN, max = NAN;  // range
  double spike_k = 8;         // spike: a step larger than k x the window's median absolute step
  // residual: measured value outside the prediction interval by more than this (SI).
  // expected: the smallest deviation from the expected value that is a fault (SI).
  double min_deviation = 0;
  // expected (an expected-behaviour detector): `value` (the target) is regressed on these terms
  // (each a product of factors, each an input or a difference/sum of two) plus a constant, online
  // by recursive least squares with forgetting, from the equipment's own normal operation. A step
  // is a fault when |target - expected| > k x the residual's mean absolute size and > min_deviation.
  std::vector<std::vector<ValueExpr>> regressors;
  double expected_k = 5;
  double forgetting = 0.9995;     // per learned step: ~2,000 steps of memory
  size_t learn_steps = 288;       // steps learned before the detector judges
  double max_leverage = 3;        // judge only operating points this close to those learned (x average leverage)
  // g36
  G36Params g36;
};

// The input names G36 fault condition `condition` reads, its operating state's HTG, CLG and ECO
// included (empty for an unknown number).
std::vector<std::string> G36Inputs(int condition);

struct RuleSet {
  std::vector<std::shared_ptr<const RuleSpec>> rules;
  std::vector<std::string> files;
  const RuleSpec* Find(const std::string& id) const;
};

// Loads rule files; a directory contributes its *.json files in name order. Every error of every
// file is reported together, each with its file and JSON pointer. Rule ids must be unique.
StatusOr<std::shared_ptr<const RuleSet>> LoadRules(const std::vector<std::string>& paths);
StatusOr<std::shared_ptr<const RuleSet>> ParseRules(const std::string& json_text, const std::string& file);
// Markdown reference of the rule file schema.
std::string RuleReference();

// A rule applied to one equipment, with its inputs resolved to point IRIs.
struct RuleBinding {
  std::shared_ptr<const RuleSpec> rule;
  std::string equipment;
  std::map<std::string, std::string> points;  // input name -> point IRI
  std::string alert_id;  // its alert's fingerprint, cached by the engine ("" = compute it)
};
struct RuleNotApplicable {
  std::string rule;
  std::string equipment;  // "" when the rule names a class the model does not know
  std::vector<std::string> missing;  // inputs that did not resolve ("SATSP (Supply_Air_Temperature_Setpoint)")
};
struct RuleResolution {
  std::vector<RuleBinding> bindings;
  std::vector<RuleNotApplicable> not_applicable;
};
// Every equipment of each rule's applies_to class whose inputs all resolve gets a binding; the
// others are listed as not applicable with what is missing.
RuleResolution ResolveRules(const RuleSet& rules, const BrickModel& model);

// What a stateful condition (an expected-behaviour detector) has learned on one binding. Owned
// by the engine per binding; reached through RuleInputs::State().
class ConditionState {
 public:
  virtual ~ConditionState() = default;
};

// What a condition may read about one binding. Values are SI (as stored).
class RuleInputs {
 public:
  virtual ~RuleInputs() = default;
  virtual int64_t step_ms() const = 0;
  // Mean of the input over the step starting at `step_start` (or the store's forward-filled value
  // across a short gap); NaN when it has no data there.
  virtual double StepValue(const std::string& input, UnixMillis step_start) const = 0;
  // The `steps` steps ending with the one starting at `step_start`: observed means only, NaN
  // where nothing was observed (a forward-filled gap is not a flat line).
  virtual std::vector<double> Recent(const std::string& input, UnixMillis step_start, size_t steps) const = 0;
  // Lowest and highest observed step mean over the `steps` steps ending with the one starting at
  // `step_start`, and how many steps were observed (flatline checks, without copying a window).
  // May stop scanning (newest first) once max - min reaches `stop_at_spread`; `observed` then
  // counts the steps scanned.
  struct Range {
    double min = NAN, max = NAN;
    size_t observed = 0;
  };
  virtual Range ObservedRange(const std::string& input, UnixMillis step_start, size_t steps,
                              double stop_at_spread = INFINITY) const = 0;
  // The Range of step values (NaN: not observed), for implementations that have the values.
  static Range RangeOfValues(const std::vector<double>& values);
  // Start of the newest step with an observation among the `steps` steps ending with the one
  // starting at `step_start`; 0 when there is none. As of that step, not of now, so a replay that
  // is ahead of its evaluations judges the same.
  virtual UnixMillis LastObserved(const std::string& input, UnixMillis step_start, size_t steps) const = 0;
  // The newest forecast of the input made from data before `step_start` whose horizon covers that
  // step (residual rules), or the newest forecast at all when `step_start` is 0.
  // Valid until the next call on this object; null when there is none.
  virtual const PointForecast* Forecast(const std::string& input, UnixMillis step_start) const = 0;
  virtual std::string Unit(const std::string& input) const = 0;  // SI symbol, "" when unknown
  virtual std::string Point(const std::string& input) const = 0;  // point IRI
  // The binding's learned state (stateful kinds; null when there is none).
  virtual ConditionState* State() const { return nullptr; }

  // A value that the bindings of one equipment derive alike at step t (their `when` gates, an air
  // handler's G36 operating state, read by each of its conditions): an implementation may compute
  // it once per closing step and hand it to the others. It is keyed by the point `input` resolves
  // to, by t and by `key`, which must tell derivations apart: equal keys mean the same `derive`
  // over inputs defined alike (same classes and paths, so the same points on one equipment).
  // The default shares nothing.
  using Derivation = double (*)(const RuleInputs& in, UnixMillis t, const void* arg);
  virtual double Shared(const std::string& input, uint64_t key, UnixMillis t, Derivation derive,
                        const void* arg) const {
    (void)input, (void)key;
    return derive(*this, t, arg);
  }
};

struct EvidenceValue {
  std::string name;   // input name, "value" or "limit"
  std::string point;  // point IRI, "" for derived values
  double value = NAN;
  std::string unit;
};

struct ForecastEvidence {
  std::string model;
  UnixMillis window_end = 0;
  int64_t step_ms = 0;
  std::vector<ForecastStep> steps;  // up to and including the crossing (or the step checked)
};

enum class Outcome { kNormal, kFault, kNoData };
const char* OutcomeName(Outcome o);

struct ConditionResult {
  Outcome outcome = Outcome::kNormal;
  UnixMillis time = 0;  // data time: start of the step evaluated (the forecast's window end for predictions)
  std::vector<EvidenceValue> values;
  std::vector<EvidenceValue> thresholds;
  std::string detail;  // one line: "SAT - SATSP = 3.10 K above 2.78 K"
  bool predicted = false;
  UnixMillis crossing_time = 0;  // predicted: the first forecast step past the limit
  std::optional<ForecastEvidence> forecast;
  std::vector<std::string> missing;  // no data: the inputs without data
  double primary_value = NAN;        // the value compared (for templates and evidence)
  bool measured_crossed = false;     // predicted: the measured value is past the limit already
};

// One rule kind's evaluation. Implementations are immutable and thread-safe; a kind that learns
// keeps what it learns in a ConditionState per binding.
class Condition {
 public:
  virtual ~Condition() = default;
  // Evaluates at the closed step starting at `step_start` (for forecast conditions: the forecast
  // made at that data time). Without `explain` only the outcome, time, primary value and the
  // prediction fields are filled: the engine asks for evidence only when an alert needs it, so
  // the common case (normal, nothing active) costs a few store reads.
  virtual ConditionResult Evaluate(const RuleInputs& in, UnixMillis step_start, bool explain = true) const = 0;
  // Forecast conditions run when a forecast of their input lands, not when a step closes.
  virtual bool on_forecast() const { return false; }
  // Step-driven conditions that judge a step against the forecast made for it (residual rules).
  // The engine judges such a step only once a forecast made from data up to that step (or later)
  // has landed, so a replay at full speed, where forecasts trail the data, judges each step
  // against the same forecast as a live run does (RuleEngineOptions::forecast_wait_steps bounds
  // the wait).
  virtual bool waits_for_forecast() const { return false; }
  // Stateful kinds: a fresh state for a new binding (null: the kind keeps none), and learning
  // from step t, which the engine calls once per judged step after Evaluate, only while the
  // binding's alert is inactive and the step was normal: a detector learns normal operation only.
  virtual std::unique_ptr<ConditionState> NewState() const { return nullptr; }
  virtual void Learn(const RuleInputs& in, UnixMillis step_start) const { (void)in, (void)step_start; }
};

std::unique_ptr<Condition> MakeCondition(std::shared_ptr<const RuleSpec> rule);

// Renders a rule's summary template with a result's values.
std::string RenderSummary(const RuleSpec& rule, const std::string& equipment, const ConditionResult& result);

}  // namespace brickcast
