// Rule files: the schema (one table of common keys plus one per kind), parsing into RuleSpec with
// units and durations converted, and resolution of each rule's inputs per equipment.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "brickcast/rules.h"
#include "brickcast/units.h"
#include "config/schema.h"

namespace brickcast {
namespace {

using config::Field;
using config::FieldType;
using config::Json;
using config::OneOf;
using config::Schema;

std::string CheckQuantity(const Json& v) {
  if (v.is_number()) return "";
  auto q = ParseQuantity(v.get<std::string>());
  return q.ok() ? "" : q.status().message();
}

std::string CheckDuration(const Json& v) {
  if (v.is_number()) return v.get<double>() >= 0 ? "" : "must be >= 0";
  auto d = ParseDurationMs(v.get<std::string>());
  return d.ok() ? "" : d.status().message();
}

std::string CheckRuleId(const Json& v) {
  const std::string id = v.get<std::string>();
  if (id.empty()) return "must not be empty";
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return "use letters, digits, '-', '_' and '.' only (it is part of alert fingerprints and URLs)";
  }
  return "";
}

const Schema& InputSchema() {
  static const Schema* const kInput = new Schema{{
      {"class", FieldType::kString, Json(), "Brick point class (subclasses match), e.g. Supply_Air_Temperature_Sensor.",
       nullptr, false, true},
      {"path", FieldType::kStringList, Json::array(),
       "Part classes from the equipment down to the part holding the point, e.g. [\"Hot_Water_Coil\", "
       "\"Heating_Valve\"]; empty: the equipment and all its parts."},
      {"otherwise", FieldType::kStringList, Json::array(),
       "Classes tried in order (same path) where `class` resolves to nothing, e.g. a unit with one SAT set point "
       "instead of separate heating and cooling ones."},
  }, "class"};
  return *kInput;
}

const Schema& GateSchema() {
  static const Schema* const kGate = new Schema{{
      {"input", FieldType::kString, Json(), "One of the rule's inputs.", nullptr, false, true},
      {"above", FieldType::kScalar, Json(), "The gate holds while the input is above this (SI or with a unit).",
       nullptr, false, false, CheckQuantity},
      {"below", FieldType::kScalar, Json(), "... or below this.", nullptr, false, false, CheckQuantity},
      {"for", FieldType::kScalar, 0, "... and has for this long (every step of the span observed), e.g. a settling time.",
       nullptr, false, false, CheckDuration},
  }};
  return *kGate;
}

// Keys every rule has.
std::vector<Field> CommonFields() {
  return {
      {"id", FieldType::kString, Json(), "Unique rule id (part of the alert fingerprint).", nullptr, false, true,
       CheckRuleId},
      {"kind", FieldType::kString, Json(), "threshold, forecast_threshold, sensor_health, residual, g36 or expected.",
       nullptr, false, true, OneOf({"threshold", "forecast_threshold", "sensor_health", "residual", "g36", "expected"})},
      {"description", FieldType::kString, "", "What the rule detects and why it matters."},
      {"applies_to", FieldType::kString, Json(), "Equipment class the rule runs on (subclasses match), e.g. AHU.",
       nullptr, false, true},
      {"inputs", FieldType::kObjectMap, Json(), "Input name -> {class, path} or a class name.", &InputSchema(), false,
       true},
      {"severity", FieldType::kString, "warning", "info, warning or critical.", nullptr, false, false,
       OneOf({"info", "warning", "critical"})},
      {"for", FieldType::kScalar, 0, "How long the condition must hold before the alert fires (\"15m\"; seconds).",
       nullptr, false, false, CheckDuration},
      {"clear_for", FieldType::kScalar, 0,
       "How long the condition must be clear before a firing alert resolves (hysteresis).", nullptr, false, false,
       CheckDuration},
      {"summary", FieldType::kString, "{equipment}: {rule} ({detail})",
       "One-line summary template: {equipment}, {rule}, {detail}, {value}, {limit} and each {<input>}."},
      {"action", FieldType::kString, "", "Recommended action shown with the alert."},
      {"when", FieldType::kObjectList, Json::array(),
       "Gates that must all hold for a step to be judged (e.g. [{\"input\": \"SF\", \"above\": \"5 %\", \"for\": \"15m\"}]): "
       "the fan proven on, an operating state, a settling time.",
       &GateSchema()},
  };
}

const Schema& KindSchema(RuleKind kind) {
  auto build = [](std::vector<Field> extra) {
    auto* s = new Schema{CommonFields()};
    for (Field& f : extra) s->fields.push_back(std::move(f));
    return s;
  };
  static const Schema* const kThresholdSchema = build({
      {"value", FieldType::kString, "",
       "The compared value: an input, or two inputs joined by - or + (\"SAT - SATSP\"); empty: the only input."},
      {"direction", FieldType::kString, "above", "Fault when the value is above or below the limit.", nullptr, false,
       false, OneOf({"above", "below"})},
      {"limit", FieldType::kScalar, Json(),
       "Constant limit, SI or with a unit (\"30 degC\", \"5 delta_degF\" for differences, \"80 %\").", nullptr, false,
       false, CheckQuantity},
      {"limit_input", FieldType::kString, "", "Input whose value (plus limit_offset) is the limit instead."},
      {"limit_offset", FieldType::kScalar, 0, "Added to limit_input (a difference: \"2 delta_degF\").", nullptr, false,
       false, CheckQuantity},
  });
  static const Schema* const kForecastSchema = build({
      {"value", FieldType::kString, "", "The forecast input; empty: the only input."},
      {"direction", FieldType::kString, "above", "Fault when the forecast goes above or below the limit.", nullptr,
       false, false, OneOf({"above", "below"})},
      {"limit", FieldType::kScalar, Json(), "The limit, SI or with a unit.", nullptr, false, true, CheckQuantity},
      {"bound", FieldType::kString, "value",
       "Which forecast series must cross: value (the point forecast), upper or lower interval bound.", nullptr, false,
       false, OneOf({"value", "lower", "upper"})},
      {"within", FieldType::kScalar, "2h", "How far ahead a crossing raises a predicted alert.", nullptr, false, false,
       CheckDuration},
  });
  static const Schema* const kHealthSchema = build({
      {"check", FieldType::kString, Json(), "stale, flatline, range or spike.", nullptr, false, true,
       OneOf({"stale", "flatline", "range", "spike"})},
      {"stale_steps", FieldType::kInteger, 3, "stale: steps without an observation while the equipment reports.",
       nullptr, false, false, config::Between(1, 100000)},
      {"window_steps", FieldType::kInteger, 12, "flatline, spike: steps looked at.", nullptr, false, false,
       config::Between(3, 100000)},
      {"epsilon", FieldType::kScalar, 0.01, "flatline: spread (max - min) below this is flat (SI or with a unit).",
       nullptr, false, false, CheckQuantity},
      {"min", FieldType::kScalar, Json(), "range: lowest plausible value.", nullptr, false, false, CheckQuantity},
      {"max", FieldType::kScalar, Json(), "range: highest plausible value.", nullptr, false, false, CheckQuantity},
      {"spike_k", FieldType::kNumber, 8, "spike: a step larger than k x the window's median absolute step.", nullptr,
       false, false, config::Between(1, 1000)},
  });
  static const Schema* const kResidualSchema = build({
      {"min_deviation", FieldType::kScalar, 0,
       "Ignore excursions outside the interval smaller than this (SI or with a unit).", nullptr, false, false,
       CheckQuantity},
  });
  static const Schema* const kExpectedSchema = build({
      {"value", FieldType::kString, Json(),
       "The target whose expected value is learned: an input or 'A - B' / 'A + B' (\"SAT - MAT\").", nullptr, false,
       true},
      {"regressors", FieldType::kStringList, Json(),
       "Terms the target is regressed on (a constant is always included): an input, 'A - B' / 'A + B', or a "
       "product of those joined by '*' (\"ECO * (OAT - RAT)\").",
       nullptr, false, true},
      {"k", FieldType::kNumber, 5,
       "A step is a fault when |target - expected| exceeds k times the mean absolute residual of normal operation.",
       nullptr, false, false, config::Between(1, 100)},
      {"min_deviation", FieldType::kScalar, 0,
       "... and exceeds this (SI or with a unit): below it a deviation is never a fault, however steady the unit.",
       nullptr, false, false, CheckQuantity},
      {"forgetting", FieldType::kNumber, 0.9995,
       "Recursive least squares forgetting factor per learned step (memory ~ 1 / (1 - forgetting) steps).", nullptr,
       false, false, config::Between(0.9, 1)},
      {"max_leverage", FieldType::kNumber, 3,
       "Judge only steps whose operating point (the regressors) is this familiar: leverage x'Px at most this many "
       "times the average of the learned points (the usual high-leverage cut is 2-3); others are not judged, as the "
       "model would be extrapolating.",
       nullptr, false, false, config::Between(1, 1000)},
      {"learn_steps", FieldType::kInteger, 288,
       "Steps of normal operation (gates open, alert inactive) learned before the detector judges.", nullptr, false,
       false, config::Between(10, 1000000)},
  });
  // Defaults: ASHRAE Guideline 36 as reproduced by open-fdd (field notes
  // section d); the state thresholds are ours and say why.
  static const Schema* const kG36Schema = build({
      {"condition", FieldType::kInteger, Json(),
       "G36 AHU fault condition 1..15 (inputs by role: SAT, MAT, OAT, RAT, SATSP, DSP, DSPSP, FAN, HTG, CLG, ECO, "
       "SAF, OAMIN, CCET, CCLT, HCET, HCLT; HTG, CLG and ECO set the operating state).",
       nullptr, false, true, config::Between(1, 15)},
      {"eps_sat", FieldType::kScalar, "2 delta_degF", "Supply air temperature sensor error (open-fdd's G36 default).", nullptr,
       false, false, CheckQuantity},
      {"eps_mat", FieldType::kScalar, "5 delta_degF", "Mixed air temperature sensor error (open-fdd's G36 default).", nullptr,
       false, false, CheckQuantity},
      {"eps_oat", FieldType::kScalar, "5 delta_degF", "Outside air temperature sensor error (open-fdd's G36 default).", nullptr,
       false, false, CheckQuantity},
      {"eps_rat", FieldType::kScalar, "2 delta_degF", "Return air temperature sensor error (open-fdd's G36 default).", nullptr,
       false, false, CheckQuantity},
      {"delta_t_sf", FieldType::kScalar, "2 delta_degF", "Temperature rise across the supply fan (open-fdd's G36 default).",
       nullptr, false, false, CheckQuantity},
      {"delta_t_min", FieldType::kScalar, "10 delta_degF",
       "FC6: smallest |RAT - OAT| at which an outside air fraction is computed (open-fdd's G36 default).", nullptr, false, false,
       CheckQuantity},
      {"eps_dsp", FieldType::kScalar, "0.1 inH2O", "FC1: duct static pressure error (open-fdd's G36 default).", nullptr, false,
       false, CheckQuantity},
      {"fan_max", FieldType::kScalar, "99 %", "FC1: maximum supply fan speed command (G36 VFDSPD max).", nullptr,
       false, false, CheckQuantity},
      {"eps_fan", FieldType::kScalar, "5 %", "FC1: fan speed error (open-fdd's G36 default).", nullptr, false, false,
       CheckQuantity},
      {"eps_flow", FieldType::kScalar, "30 %", "FC6: outside air fraction error (open-fdd's G36 default).", nullptr, false, false,
       CheckQuantity},
      {"eps_coil", FieldType::kScalar, "2 delta_degF",
       "FC14/FC15: error of each coil entering and leaving air sensor (open-fdd's G36 default).", nullptr, false, false,
       CheckQuantity},
      {"os_changes_max", FieldType::kInteger, 7, "FC4: operating-state changes per hour (G36 delta-OS max).", nullptr,
       false, false, config::Between(1, 11)},
      {"valve_off", FieldType::kScalar, "1 %",
       "A valve command at or below this is closed (G36 writes HTG = 0: this absorbs controller output noise).",
       nullptr, false, false, CheckQuantity},
      {"valve_full", FieldType::kScalar, "90 %", "A valve command at or above this is fully open (G36: FC7, FC13).",
       nullptr, false, false, CheckQuantity},
      {"damper_min", FieldType::kScalar, "50 %",
       "An OA damper command at or below this is at minimum outside air. Set the site's minimum position where "
       "known; the default is above the usual 10-40 %, so a lower minimum only narrows the economizer state "
       "(checks skipped), never widens it (false alarms).",
       nullptr, false, false, CheckQuantity},
      {"damper_full", FieldType::kScalar, "90 %", "An OA damper command at or above this is 100 % outside air.",
       nullptr, false, false, CheckQuantity},
      {"on", FieldType::kString, "measured",
       "measured: judged on each closed step; forecast: judged when a forecast of an input lands, on the forecast "
       "steps within `within` (inputs without a forecast keep their last measured value): a predicted fault with "
       "its expected time.",
       nullptr, false, false, OneOf({"measured", "forecast"})},
      {"within", FieldType::kScalar, "2h", "on forecast: how far ahead a predicted fault raises an alert.", nullptr,
       false, false, CheckDuration},
      {"predict_hold", FieldType::kScalar, "15m",
       "on forecast: the condition must hold over this many consecutive forecast steps.", nullptr, false, false,
       CheckDuration},
      {"settle", FieldType::kScalar, "15m",
       "The operating state must have held this long before a step is judged (G36 has a mode-change delay; "
       "its value is not in our sources. States come from the 5-minute means of HTG, CLG and ECO).",
       nullptr, false, false, CheckDuration},
  });
  switch (kind) {
    case RuleKind::kG36: return *kG36Schema;
    case RuleKind::kThreshold: return *kThresholdSchema;
    case RuleKind::kForecastThreshold: return *kForecastSchema;
    case RuleKind::kSensorHealth: return *kHealthSchema;
    case RuleKind::kResidual: return *kResidualSchema;
    case RuleKind::kExpected: return *kExpectedSchema;
  }
  return *kThresholdSchema;
}

std::optional<RuleKind> ParseKind(const std::string& s) {
  if (s == "threshold") return RuleKind::kThreshold;
  if (s == "forecast_threshold") return RuleKind::kForecastThreshold;
  if (s == "sensor_health") return RuleKind::kSensorHealth;
  if (s == "residual") return RuleKind::kResidual;
  if (s == "g36") return RuleKind::kG36;
  if (s == "expected") return RuleKind::kExpected;
  return std::nullopt;
}

double Quantity(const Json& v) { return v.is_number() ? v.get<double>() : *ParseQuantity(v.get<std::string>()); }
int64_t Duration(const Json& v) {
  return v.is_number() ? static_cast<int64_t>(v.get<double>() * 1000) : *ParseDurationMs(v.get<std::string>());
}

std::optional<ValueExpr> ParseExpr(const std::string& text) {
  std::istringstream in(text);
  ValueExpr e;
  std::string op;
  if (!(in >> e.a)) return std::nullopt;
  if (!(in >> op)) return e;
  if ((op != "-" && op != "+") || !(in >> e.b)) return std::nullopt;
  std::string rest;
  if (in >> rest) return std::nullopt;
  e.op = op[0];
  return e;
}

// Builds one rule from its validated JSON; semantic errors (unknown input names) go to `errors`.
std::shared_ptr<RuleSpec> BuildRule(const Json& r, RuleKind kind, const std::string& ptr, const std::string& file,
                                    std::vector<std::string>* errors) {
  auto rule = std::make_shared<RuleSpec>();
  rule->id = r["id"];
  rule->kind = kind;
  rule->file = file;
  rule->description = r["description"];
  rule->applies_to = BrickClassIri(r["applies_to"].get<std::string>());
  rule->severity = *ParseSeverity(r["severity"]);
  rule->for_ms = Duration(r["for"]);
  rule->clear_for_ms = Duration(r["clear_for"]);
  rule->summary = r["summary"];
  rule->action = r["action"];
  std::set<std::string> names;
  for (const auto& [name, in] : r["inputs"].items()) {
    RuleInput input{name, BrickClassIri(in["class"].get<std::string>()), {}, {}};
    for (const auto& p : in["path"]) input.path.push_back(BrickClassIri(p.get<std::string>()));
    for (const auto& c : in["otherwise"]) input.otherwise.push_back(BrickClassIri(c.get<std::string>()));
    rule->inputs.push_back(std::move(input));
    names.insert(name);
  }
  if (names.empty()) errors->push_back(ptr + "/inputs: at least one input is required");
  for (size_t i = 0; i < r["when"].size(); ++i) {
    const Json& g = r["when"][i];
    const std::string where = ptr + "/when/" + std::to_string(i);
    RuleGate gate;
    gate.input = g["input"];
    if (!names.count(gate.input)) errors->push_back(where + "/input: '" + gate.input + "' is not one of the rule's inputs");
    if (g["above"].is_null() == g["below"].is_null()) {
      errors->push_back(where + ": give exactly one of above or below");
      continue;
    }
    gate.direction = g["above"].is_null() ? Direction::kBelow : Direction::kAbove;
    gate.value = Quantity(g["above"].is_null() ? g["below"] : g["above"]);
    gate.for_ms = Duration(g["for"]);
    rule->when.push_back(gate);
  }
  auto known = [&](const std::string& name, const std::string& where) {
    if (!names.count(name)) errors->push_back(ptr + where + ": '" + name + "' is not one of the rule's inputs");
  };
  auto single_input = [&](const std::string& where) -> std::string {
    if (names.size() == 1) return *names.begin();
    errors->push_back(ptr + where + ": required when the rule has more than one input");
    return "";
  };
  switch (kind) {
    case RuleKind::kThreshold:
    case RuleKind::kForecastThreshold: {
      const std::string text = r["value"];
      if (text.empty()) {
        rule->value.a = single_input("/value");
      } else if (auto e = ParseExpr(text)) {
        rule->value = *e;
        known(e->a, "/value");
        if (e->op != 0) known(e->b, "/value");
        if (kind == RuleKind::kForecastThreshold && e->op != 0)
          errors->push_back(ptr + "/value: a forecast threshold reads one input's forecast");
      } else {
        errors->push_back(ptr + "/value: expected an input name or 'A - B' / 'A + B'");
      }
      rule->direction = r["direction"] == "below" ? Direction::kBelow : Direction::kAbove;
      if (!r["limit"].is_null()) rule->limit = Quantity(r["limit"]);
      if (kind == RuleKind::kThreshold) {
        rule->limit_input = r["limit_input"];
        rule->limit_offset = Quantity(r["limit_offset"]);
        if (!rule->limit_input.empty()) known(rule->limit_input, "/limit_input");
        if (rule->limit_input.empty() == std::isnan(rule->limit))
          errors->push_back(ptr + ": give exactly one of limit or limit_input");
      } else {
        const std::string b = r["bound"];
        rule->bound = b == "lower" ? ForecastBound::kLower : b == "upper" ? ForecastBound::kUpper : ForecastBound::kValue;
        rule->within_ms = Duration(r["within"]);
        if (rule->within_ms <= 0) errors->push_back(ptr + "/within: must be > 0");
      }
      break;
    }
    case RuleKind::kSensorHealth: {
      const std::string c = r["check"];
      rule->check = c == "flatline" ? HealthCheck::kFlatline
                    : c == "range"  ? HealthCheck::kRange
                    : c == "spike"  ? HealthCheck::kSpike
                                    : HealthCheck::kStale;
      rule->value.a = single_input("/inputs");
      rule->stale_steps = r["stale_steps"];
      rule->window_steps = r["window_steps"];
      rule->epsilon = Quantity(r["epsilon"]);
      if (!r["min"].is_null()) rule->min = Quantity(r["min"]);
      if (!r["max"].is_null()) rule->max = Quantity(r["max"]);
      rule->spike_k = r["spike_k"];
      if (rule->check == HealthCheck::kRange && std::isnan(rule->min) && std::isnan(rule->max))
        errors->push_back(ptr + ": a range check needs min, max or both");
      break;
    }
    case RuleKind::kResidual:
      rule->value.a = single_input("/inputs");
      rule->min_deviation = Quantity(r["min_deviation"]);
      break;
    case RuleKind::kExpected: {
      auto expr = [&](const std::string& text, const std::string& where) -> std::optional<ValueExpr> {
        auto e = ParseExpr(text);
        if (!e) {
          errors->push_back(ptr + where + ": expected an input name or 'A - B' / 'A + B', got '" + text + "'");
          return std::nullopt;
        }
        known(e->a, where);
        if (e->op != 0) known(e->b, where);
        return e;
      };
      if (auto target = expr(r["value"], "/value")) rule->value = *target;
      const Json& terms = r["regressors"];
      if (terms.empty()) errors->push_back(ptr + "/regressors: at least one term");
      for (size_t i = 0; i < terms.size(); ++i) {
        std::vector<ValueExpr> term;
        std::string text = terms[i];
        for (size_t at = 0; at <= text.size();) {  // factors joined by '*', each maybe in parentheses
          size_t star = text.find('*', at);
          if (star == std::string::npos) star = text.size();
          std::string factor = text.substr(at, star - at);
          const size_t b = factor.find_first_not_of(" ("), e = factor.find_last_not_of(" )");
          factor = b == std::string::npos ? "" : factor.substr(b, e - b + 1);
          if (auto f = expr(factor, "/regressors/" + std::to_string(i))) term.push_back(*f);
          at = star + 1;
        }
        rule->regressors.push_back(std::move(term));
      }
      rule->expected_k = r["k"];
      rule->min_deviation = Quantity(r["min_deviation"]);
      rule->forgetting = r["forgetting"];
      rule->learn_steps = r["learn_steps"];
      rule->max_leverage = r["max_leverage"];
      break;
    }
    case RuleKind::kG36: {
      G36Params& g = rule->g36;
      g.condition = r["condition"];
      g.eps_sat = Quantity(r["eps_sat"]);
      g.eps_mat = Quantity(r["eps_mat"]);
      g.eps_oat = Quantity(r["eps_oat"]);
      g.eps_rat = Quantity(r["eps_rat"]);
      g.delta_t_sf = Quantity(r["delta_t_sf"]);
      g.delta_t_min = Quantity(r["delta_t_min"]);
      g.eps_dsp = Quantity(r["eps_dsp"]);
      g.fan_max = Quantity(r["fan_max"]);
      g.eps_fan = Quantity(r["eps_fan"]);
      g.eps_flow = Quantity(r["eps_flow"]);
      g.cc_eps = g.hc_eps = Quantity(r["eps_coil"]);
      g.os_changes_max = r["os_changes_max"];
      g.valve_off = Quantity(r["valve_off"]);
      g.valve_full = Quantity(r["valve_full"]);
      g.damper_min = Quantity(r["damper_min"]);
      g.damper_full = Quantity(r["damper_full"]);
      g.settle_ms = Duration(r["settle"]);
      g.on_forecast = r["on"] == "forecast";
      g.predict_hold_ms = Duration(r["predict_hold"]);
      rule->within_ms = Duration(r["within"]);
      if (g.on_forecast && rule->within_ms <= 0) errors->push_back(ptr + "/within: must be > 0");
      for (const std::string& role : G36Inputs(g.condition)) {
        if (!names.count(role))
          errors->push_back(ptr + "/inputs: G36 FC" + std::to_string(g.condition) + " needs an input named " + role);
      }
      break;
    }
  }
  return rule;
}

void ParseInto(const std::string& text, const std::string& file, RuleSet* set, std::vector<std::string>* errors) {
  Json doc;
  try {
    doc = Json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number that overflows
    errors->push_back(file + ": not valid JSON: " + e.what());
    return;
  }
  // {"rules": [...]} or a bare array.
  std::string base;
  if (doc.is_object()) {
    for (const auto& [k, v] : doc.items()) {
      if (k != "rules") errors->push_back(file + ": /" + k + ": unknown key (allowed: rules)");
    }
    doc = doc.contains("rules") ? doc["rules"] : Json::array();
    base = "/rules";
  }
  if (!doc.is_array()) {
    errors->push_back(file + ": " + (base.empty() ? "/" : base) + ": expected an array of rules");
    return;
  }
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string ptr = base + "/" + std::to_string(i);
    const Json& r = doc[i];
    std::vector<std::string> errs;
    if (!r.is_object()) {
      errors->push_back(file + ": " + ptr + ": expected object");
      continue;
    }
    std::optional<RuleKind> kind = r.contains("kind") && r["kind"].is_string() ? ParseKind(r["kind"]) : std::nullopt;
    if (!kind) {
      errors->push_back(file + ": " + ptr +
                        "/kind: required, one of threshold, forecast_threshold, sensor_health, residual, g36, expected");
      continue;
    }
    Json eff;
    config::ApplySchema(KindSchema(*kind), r, ptr, &eff, &errs);
    std::shared_ptr<RuleSpec> rule;
    if (errs.empty()) rule = BuildRule(eff, *kind, ptr, file, &errs);
    for (const std::string& e : errs) errors->push_back(file + ": " + e);
    if (!errs.empty()) continue;
    if (set->Find(rule->id) != nullptr) {
      errors->push_back(file + ": " + ptr + "/id: '" + rule->id + "' is defined twice (also in " +
                        set->Find(rule->id)->file + ")");
      continue;
    }
    set->rules.push_back(std::move(rule));
  }
}

}  // namespace

const char* RuleKindName(RuleKind k) {
  switch (k) {
    case RuleKind::kThreshold: return "threshold";
    case RuleKind::kForecastThreshold: return "forecast_threshold";
    case RuleKind::kSensorHealth: return "sensor_health";
    case RuleKind::kResidual: return "residual";
    case RuleKind::kG36: return "g36";
    case RuleKind::kExpected: return "expected";
  }
  return "?";
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "?";
}

std::optional<Severity> ParseSeverity(const std::string& name) {
  if (name == "info") return Severity::kInfo;
  if (name == "warning") return Severity::kWarning;
  if (name == "critical") return Severity::kCritical;
  return std::nullopt;
}

const RuleSpec* RuleSet::Find(const std::string& id) const {
  for (const auto& r : rules) {
    if (r->id == id) return r.get();
  }
  return nullptr;
}

StatusOr<std::shared_ptr<const RuleSet>> ParseRules(const std::string& json_text, const std::string& file) {
  auto set = std::make_shared<RuleSet>();
  std::vector<std::string> errors;
  ParseInto(json_text, file, set.get(), &errors);
  BRICKCAST_RETURN_IF_ERROR(config::ErrorsToStatus("rules", errors));
  set->files.push_back(file);
  return std::shared_ptr<const RuleSet>(std::move(set));
}

StatusOr<std::shared_ptr<const RuleSet>> LoadRules(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  auto set = std::make_shared<RuleSet>();
  std::vector<std::string> errors;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_regular_file() && e.path().extension() == ".json") in_dir.push_back(e.path().string());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      errors.push_back(p + ": no such rule file or directory");
    }
  }
  for (const std::string& f : files) {
    std::ifstream in(f);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      errors.push_back(f + ": cannot read");
      continue;
    }
    ParseInto(text.str(), f, set.get(), &errors);
    set->files.push_back(f);
  }
  BRICKCAST_RETURN_IF_ERROR(config::ErrorsToStatus("rules", errors));
  return std::shared_ptr<const RuleSet>(std::move(set));
}

std::string RuleReference() {
  std::string out;
  for (RuleKind k : {RuleKind::kThreshold, RuleKind::kForecastThreshold, RuleKind::kSensorHealth, RuleKind::kResidual,
                     RuleKind::kG36, RuleKind::kExpected}) {
    out += std::string("\n### kind `") + RuleKindName(k) + "`\n\n| key | type | default | description |\n|---|---|---|---|\n";
    config::DescribeSchema(KindSchema(k), "", &out);
  }
  return out;
}

RuleResolution ResolveRules(const RuleSet& rules, const BrickModel& model) {
  RuleResolution out;
  for (const auto& rule : rules.rules) {
    // A misspelt class would make the rule apply nowhere, silently: say so.
    std::vector<std::string> unknown;
    if (!model.classes().Knows(rule->applies_to)) unknown.push_back("unknown class " + rule->applies_to);
    for (const RuleInput& in : rule->inputs) {
      if (!model.classes().Knows(in.point_class)) unknown.push_back(in.name + ": unknown class " + in.point_class);
      for (const std::string& p : in.path) {
        if (!model.classes().Knows(p)) unknown.push_back(in.name + ": unknown part class " + p);
      }
      for (const std::string& c : in.otherwise) {
        if (!model.classes().Knows(c)) unknown.push_back(in.name + ": unknown class " + c);
      }
    }
    if (!unknown.empty()) {
      out.not_applicable.push_back(RuleNotApplicable{rule->id, "", std::move(unknown)});
      continue;
    }
    for (const Entity* e : model.InstancesOf(rule->applies_to)) {
      RuleBinding b{rule, e->iri, {}};
      std::vector<std::string> missing;
      for (const RuleInput& in : rule->inputs) {
        std::vector<std::string> found = model.ResolvePoints(e->iri, in.point_class, in.path);
        for (size_t k = 0; found.empty() && k < in.otherwise.size(); ++k)
          found = model.ResolvePoints(e->iri, in.otherwise[k], in.path);
        if (found.empty()) {
          missing.push_back(in.name + " (" + std::string(LocalName(in.point_class)) + ")");
          continue;
        }
        std::sort(found.begin(), found.end());  // deterministic when several match
        b.points[in.name] = found.front();
      }
      if (missing.empty()) out.bindings.push_back(std::move(b));
      else out.not_applicable.push_back(RuleNotApplicable{rule->id, e->iri, std::move(missing)});
    }
  }
  return out;
}

}  // namespace brickcast
