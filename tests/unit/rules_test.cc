// Rule files, units of parameters, input resolution, and each rule kind against a table of step
// values (no store, no forecaster, no LibTorch).
#include <gtest/gtest.h>

#include <random>

#include <filesystem>
#include <fstream>

#include "brickcast/rules.h"
#include "brickcast/units.h"
#include "table_inputs.h"
#include "test_support.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'700'000'000'000 - 1'700'000'000'000 % kStep;

using testing::TableInputs;

std::shared_ptr<const RuleSpec> OneRule(const std::string& json) {
  auto set = ParseRules("{\"rules\": [" + json + "]}", "test.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return set.ok() ? (*set)->rules.front() : nullptr;
}

TEST(QuantityTest, ParametersCarryUnitsAndDifferencesHaveNoOffset) {
  EXPECT_NEAR(*ParseQuantity("5 delta_degF"), 2.7778, 1e-4) << "a 5 degF tolerance is 2.78 K";
  EXPECT_NEAR(*ParseQuantity("5 degF"), -15.0, 1e-9) << "an absolute 5 degF is -15 degC";
  EXPECT_NEAR(*ParseQuantity("86 degF"), 30.0, 1e-9);
  EXPECT_NEAR(*ParseQuantity("2 delta_K"), 2.0, 1e-9);
  EXPECT_NEAR(*ParseQuantity("50 %"), 0.5, 1e-12);
  EXPECT_NEAR(*ParseQuantity("1 inH2O"), 249.08891, 1e-5);
  EXPECT_NEAR(*ParseQuantity("12.5"), 12.5, 1e-12);
  EXPECT_FALSE(ParseQuantity("5 furlongs").ok());
  EXPECT_FALSE(ParseQuantity("5 delta_Pa").ok()) << "delta_ is for temperatures";
  EXPECT_FALSE(ParseQuantity("warm").ok());
  EXPECT_EQ(*ParseDurationMs("15m"), 900'000);
  EXPECT_EQ(*ParseDurationMs("1.5h"), 5'400'000);
  EXPECT_EQ(*ParseDurationMs("30"), 30'000);
  EXPECT_FALSE(ParseDurationMs("10 weeks").ok());
}

TEST(RuleFileTest, EveryErrorNamesItsFileAndPointer) {
  auto bad = ParseRules(R"({"rules": [
      {"id": "a", "kind": "threshold", "applies_to": "AHU", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"},
       "limit": "30 furlongs", "colour": "red"},
      {"id": "b", "kind": "sensor_health", "applies_to": "AHU", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"},
       "check": "range"},
      {"id": "c", "kind": "threshold", "applies_to": "AHU",
       "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "SP": "Supply_Air_Temperature_Setpoint"},
       "value": "SAT - SETPOINT", "limit": 2},
      {"id": "c", "kind": "bogus"},
      {"id": "d e", "kind": "residual", "applies_to": "AHU", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "for": "3 weeks"}
    ]})", "rules/ahu.json");
  ASSERT_FALSE(bad.ok());
  const std::string m = bad.status().message();
  EXPECT_NE(m.find("rules/ahu.json: /rules/0/limit: unknown unit 'furlongs'"), std::string::npos) << m;
  EXPECT_NE(m.find("rules/ahu.json: /rules/0/colour: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("/rules/1: a range check needs min, max or both"), std::string::npos) << m;
  EXPECT_NE(m.find("/rules/2/value: 'SETPOINT' is not one of the rule's inputs"), std::string::npos) << m;
  EXPECT_NE(m.find("/rules/3/kind: required, one of"), std::string::npos) << m;
  EXPECT_NE(m.find("/rules/4/id: use letters"), std::string::npos) << m;
  EXPECT_NE(m.find("/rules/4/for:"), std::string::npos) << m;

  auto dup = ParseRules(R"([{"id": "x", "kind": "residual", "applies_to": "AHU", "inputs": {"S": "Supply_Air_Temperature_Sensor"}},
                           {"id": "x", "kind": "residual", "applies_to": "AHU", "inputs": {"S": "Supply_Air_Temperature_Sensor"}}])",
                        "dup.json");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'x' is defined twice"), std::string::npos);
}

TEST(RuleFileTest, DirectoriesLoadTheirJsonFilesAndTheShippedRulesAreValid) {
  testing::TempDir dir;
  dir.File("rules/b.json", R"({"rules": [{"id": "b", "kind": "residual", "applies_to": "AHU",
                                            "inputs": {"S": "Supply_Air_Temperature_Sensor"}}]})");
  dir.File("rules/a.json", R"([{"id": "a", "kind": "threshold", "applies_to": "AHU", "limit": "30 degC",
                               "inputs": {"S": "Supply_Air_Temperature_Sensor"}, "for": "10m"}])");
  dir.File("rules/notes.txt", "not a rule file");
  auto set = LoadRules({dir.path() + "/rules"});
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ((*set)->rules.size(), 2u);
  EXPECT_EQ((*set)->rules[0]->id, "a");
  EXPECT_EQ((*set)->rules[0]->for_ms, 600'000);
  EXPECT_EQ((*set)->rules[0]->limit, 30.0);
  EXPECT_FALSE(LoadRules({dir.path() + "/missing"}).ok());

  auto shipped = LoadRules({std::string(BRICKCAST_SOURCE_DIR) + "/config/rules"});
  ASSERT_TRUE(shipped.ok()) << shipped.status().message();
  EXPECT_GE((*shipped)->rules.size(), 5u);
  EXPECT_NE(RuleReference().find("`limit_input`"), std::string::npos);
  // The expected-behaviour detectors (opt-in) load beside them.
  auto detectors = LoadRules({std::string(BRICKCAST_SOURCE_DIR) + "/config/rules",
                              std::string(BRICKCAST_SOURCE_DIR) + "/config/detectors"});
  ASSERT_TRUE(detectors.ok()) << detectors.status().message();
  EXPECT_EQ((*detectors)->rules.size(), (*shipped)->rules.size() + 2);
  EXPECT_NE(RuleReference().find("`regressors`"), std::string::npos);
}

TEST(RuleResolutionTest, InputsResolveThroughPartsAndMissingOnesAreNamed) {
  auto model = std::make_shared<BrickModel>(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(model->LoadTurtle(R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT1 ; brick:hasPart b:Coil1 .
b:Coil1 a brick:Hot_Water_Coil ; brick:hasPart b:Valve1 .
b:Valve1 a brick:Heating_Valve ; brick:hasPoint b:HWV1 .
b:HWV1 a brick:Valve_Command .
b:SAT1 a brick:Supply_Air_Temperature_Sensor .
b:AHU2 a brick:AHU ; brick:hasPoint b:SAT2 .
b:SAT2 a brick:Supply_Air_Temperature_Sensor .)",
                                "m.ttl")
                  .ok());
  auto set = ParseRules(R"([{"id": "hw", "kind": "threshold", "applies_to": "Air_Handling_Unit", "limit": 0.9,
      "inputs": {"HWV": {"class": "Valve_Command", "path": ["Hot_Water_Coil", "Heating_Valve"]}}},
      {"id": "typo", "kind": "residual", "applies_to": "AHUU", "inputs": {"S": "Supply_Air_Temperature_Sensor"}}])",
                        "r.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  RuleResolution r = ResolveRules(**set, *model);
  ASSERT_EQ(r.bindings.size(), 1u);
  EXPECT_EQ(r.bindings[0].equipment, "urn:b#AHU1");
  EXPECT_EQ(r.bindings[0].points.at("HWV"), "urn:b#HWV1");
  ASSERT_EQ(r.not_applicable.size(), 2u);
  EXPECT_EQ(r.not_applicable[0].equipment, "urn:b#AHU2");
  EXPECT_EQ(r.not_applicable[0].missing, (std::vector<std::string>{"HWV (Valve_Command)"}));
  EXPECT_EQ(r.not_applicable[1].rule, "typo");
  EXPECT_NE(r.not_applicable[1].missing.front().find("unknown class"), std::string::npos);
}

struct Case {
  const char* name;
  std::map<std::string, double> at_t;  // values in the evaluated step
  Outcome expected;
};

void RunCases(const std::shared_ptr<const RuleSpec>& rule, const std::vector<Case>& cases) {
  auto condition = MakeCondition(rule);
  for (const Case& c : cases) {
    TableInputs in;
    for (const auto& [k, v] : c.at_t) in.values[k][kT0] = v;
    ConditionResult r = condition->Evaluate(in, kT0);
    EXPECT_EQ(r.outcome, c.expected) << rule->id << " / " << c.name << ": " << r.detail;
    EXPECT_EQ(r.time, kT0);
    EXPECT_FALSE(r.detail.empty());
  }
}

TEST(ThresholdRuleTest, DifferenceOfTwoInputsAgainstAToleranceInDeltaDegF) {
  auto rule = OneRule(R"({"id": "sat-high", "kind": "threshold", "applies_to": "AHU",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "SP": "Supply_Air_Temperature_Setpoint"},
      "value": "SAT - SP", "limit": "5 delta_degF"})");
  ASSERT_TRUE(rule);
  RunCases(rule, {
                     {"normal", {{"SAT", 14}, {"SP", 13}}, Outcome::kNormal},
                     {"fault", {{"SAT", 17}, {"SP", 13}}, Outcome::kFault},
                     {"boundary is not past", {{"SAT", 5 * (5.0 / 9.0)}, {"SP", 0}}, Outcome::kNormal},
                     {"just past", {{"SAT", 5 * (5.0 / 9.0) + 1e-6}, {"SP", 0}}, Outcome::kFault},
                     {"missing input", {{"SAT", 30}}, Outcome::kNoData},
                 });
  TableInputs in;
  in.values["SAT"][kT0] = 17;
  in.values["SP"][kT0] = 13;
  ConditionResult r = MakeCondition(rule)->Evaluate(in, kT0);
  EXPECT_NEAR(r.primary_value, 4.0, 1e-9);
  ASSERT_EQ(r.thresholds.size(), 1u);
  EXPECT_NEAR(r.thresholds[0].value, 2.7778, 1e-4);
  EXPECT_EQ(r.thresholds[0].unit, "K") << "a difference of temperatures is in kelvin";
  EXPECT_EQ(r.detail, "SAT - SP = 4.00 K above 2.78 K");
}

TEST(ThresholdRuleTest, LimitFromAnotherInputPlusOffsetAndBelow) {
  auto rule = OneRule(R"({"id": "zone-cold", "kind": "threshold", "applies_to": "VAV", "direction": "below",
      "inputs": {"ZAT": "Zone_Air_Temperature_Sensor", "SP": "Zone_Air_Temperature_Setpoint"},
      "value": "ZAT", "limit_input": "SP", "limit_offset": "-2 delta_degC",
      "summary": "{equipment}: zone {ZAT} below {limit}"})");
  ASSERT_TRUE(rule);
  RunCases(rule, {
                     {"warm enough", {{"ZAT", 20}, {"SP", 21}}, Outcome::kNormal},
                     {"too cold", {{"ZAT", 18.5}, {"SP", 21}}, Outcome::kFault},
                     {"setpoint missing", {{"ZAT", 18.5}}, Outcome::kNoData},
                 });
  TableInputs in;
  in.values["ZAT"][kT0] = 18.5;
  in.values["SP"][kT0] = 21;
  ConditionResult r = MakeCondition(rule)->Evaluate(in, kT0);
  EXPECT_EQ(RenderSummary(*rule, "urn:b#VAV-3", r), "VAV-3: zone 18.50 degC below 19.00 degC");
}

TEST(GatedRuleTest, StepsAreJudgedOnlyWhileEveryGateHasHeldForItsSpan) {
  auto rule = OneRule(R"({"id": "sat-high-fan-on", "kind": "threshold", "applies_to": "AHU", "limit": 30,
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "SF": "Fan_Speed_Command"},
      "value": "SAT", "when": [{"input": "SF", "above": "5 %", "for": "15m"}]})");
  ASSERT_TRUE(rule);
  ASSERT_EQ(rule->when.size(), 1u);
  EXPECT_NEAR(rule->when[0].value, 0.05, 1e-12);
  auto condition = MakeCondition(rule);
  struct GCase {
    const char* name;
    std::vector<double> fan;  // the three steps ending at kT0 (NaN: no data)
    double sat;
    Outcome expected;
  };
  const std::vector<GCase> cases = {
      {"fan on 15 min, hot", {0.5, 0.6, 0.7}, 35, Outcome::kFault},
      {"fan on 15 min, normal", {0.5, 0.6, 0.7}, 20, Outcome::kNormal},
      {"fan just started: settling", {0, 0.6, 0.7}, 35, Outcome::kNormal},
      {"fan off", {0, 0, 0}, 35, Outcome::kNormal},
      {"fan unknown this step", {0.5, 0.6, NAN}, 35, Outcome::kNormal},
      {"fan data gap in the span", {NAN, 0.6, 0.7}, 35, Outcome::kNormal},
  };
  for (const GCase& c : cases) {
    TableInputs in;
    for (int i = 0; i < 3; ++i) {
      if (!std::isnan(c.fan[static_cast<size_t>(i)])) in.values["SF"][kT0 - (2 - i) * kStep] = c.fan[static_cast<size_t>(i)];
    }
    in.values["SAT"][kT0] = c.sat;
    in.units["SF"] = "1";
    ConditionResult r = condition->Evaluate(in, kT0);
    EXPECT_EQ(r.outcome, c.expected) << c.name << ": " << r.detail;
    if (c.expected == Outcome::kNormal && c.sat > 30) {
      EXPECT_NE(r.detail.find("not judged: SF not above 5 % for 15 min"), std::string::npos) << c.name << ": " << r.detail;
    }
  }
  auto bad = ParseRules(R"([{"id": "g", "kind": "threshold", "applies_to": "AHU", "limit": 1,
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "when": [{"input": "FAN", "above": 0.1, "below": 0.9}]}])",
                        "g.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/0/when/0/input: 'FAN' is not one of the rule's inputs"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("/0/when/0: give exactly one of above or below"), std::string::npos);
}

PointForecast Forecast(std::vector<double> values, double half_width) {
  PointForecast f;
  f.model = "test";
  f.window_end = kT0 + kStep;
  f.step_ms = kStep;
  for (size_t i = 0; i < values.size(); ++i) {
    f.steps.push_back(ForecastStep{f.window_end + static_cast<int64_t>(i) * kStep, values[i],
                                   std::isnan(half_width) ? NAN : values[i] - half_width,
                                   std::isnan(half_width) ? NAN : values[i] + half_width});
  }
  return f;
}

TEST(ForecastThresholdRuleTest, PredictsTheCrossingWithinTheHorizon) {
  auto rule = OneRule(R"({"id": "sat-will-exceed", "kind": "forecast_threshold", "applies_to": "AHU",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "limit": "30 degC", "bound": "upper", "within": "20m"})");
  ASSERT_TRUE(rule);
  auto condition = MakeCondition(rule);
  EXPECT_TRUE(condition->on_forecast());
  struct FCase {
    const char* name;
    std::vector<double> values;
    double half_width;
    Outcome expected;
    int crossing_step;  // -1: none
  };
  const std::vector<FCase> cases = {
      {"stays below", {25, 26, 27, 28, 31}, 1, Outcome::kNormal, -1},  // 31 is beyond 20 minutes
      {"upper bound crosses at step 2", {25, 27, 29.5, 31}, 1, Outcome::kFault, 2},
      {"no interval yet", {25, 27, 29.5, 31}, NAN, Outcome::kNoData, -1},
  };
  for (const FCase& c : cases) {
    TableInputs in;
    in.values["SAT"][kT0] = 24;
    in.forecasts["SAT"] = Forecast(c.values, c.half_width);
    ConditionResult r = condition->Evaluate(in, kT0 + kStep);
    EXPECT_EQ(r.outcome, c.expected) << c.name << ": " << r.detail;
    if (c.crossing_step >= 0) {
      EXPECT_TRUE(r.predicted);
      EXPECT_EQ(r.crossing_time, kT0 + kStep + c.crossing_step * kStep) << c.name;
      ASSERT_TRUE(r.forecast);
      EXPECT_EQ(r.forecast->steps.size(), static_cast<size_t>(c.crossing_step + 1));
      EXPECT_FALSE(r.measured_crossed);
    }
  }
  TableInputs none;
  EXPECT_EQ(condition->Evaluate(none, kT0).outcome, Outcome::kNoData) << "no forecast: no data, not normal";
  TableInputs crossed;
  crossed.values["SAT"][kT0] = 31;
  crossed.forecasts["SAT"] = Forecast({31, 32}, 1);
  EXPECT_TRUE(condition->Evaluate(crossed, kT0 + kStep).measured_crossed);
}

TEST(SensorHealthRuleTest, StaleFlatlineRangeAndSpike) {
  auto stale = MakeCondition(OneRule(R"({"id": "stale", "kind": "sensor_health", "check": "stale", "stale_steps": 3,
      "applies_to": "AHU", "inputs": {"OAT": "Outside_Air_Temperature_Sensor"}})"));
  TableInputs in;
  in.values["OAT"][kT0 - 2 * kStep] = 10;  // newest observation: two steps ago
  EXPECT_EQ(stale->Evaluate(in, kT0).outcome, Outcome::kNormal);
  EXPECT_EQ(stale->Evaluate(in, kT0 + kStep).outcome, Outcome::kFault) << "none in the last 3 steps";
  in.values["OAT"][kT0 + 5 * kStep] = 11;  // it came back later: judged as of the step, still stale
  EXPECT_EQ(stale->Evaluate(in, kT0 + kStep).outcome, Outcome::kFault);
  TableInputs never;
  EXPECT_EQ(stale->Evaluate(never, kT0).outcome, Outcome::kFault) << "never reported";

  auto flat = MakeCondition(OneRule(R"({"id": "flat", "kind": "sensor_health", "check": "flatline", "window_steps": 4,
      "epsilon": "0.05 delta_degC", "applies_to": "AHU", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"));
  TableInputs f;
  for (int i = 0; i < 4; ++i) f.values["SAT"][kT0 - i * kStep] = 14.0 + 0.01 * i;
  EXPECT_EQ(flat->Evaluate(f, kT0).outcome, Outcome::kFault);
  f.values["SAT"].erase(kT0 - 3 * kStep);
  EXPECT_EQ(flat->Evaluate(f, kT0).outcome, Outcome::kNoData) << "a gap is not a flatline";
  f.values["SAT"][kT0 - 2 * kStep] = 15;
  EXPECT_EQ(flat->Evaluate(f, kT0).outcome, Outcome::kNormal) << "it moved: not stuck, gap or not";
  f.values["SAT"][kT0 - 3 * kStep] = 14.0;
  EXPECT_EQ(flat->Evaluate(f, kT0).outcome, Outcome::kNormal);
  EXPECT_EQ(flat->Evaluate(f, kT0, /*explain=*/true).outcome, Outcome::kNormal);

  RunCases(OneRule(R"({"id": "range", "kind": "sensor_health", "check": "range", "min": "-40 degF", "max": "130 degF",
      "applies_to": "AHU", "inputs": {"OAT": "Outside_Air_Temperature_Sensor"}})"),
           {{"plausible", {{"OAT", 20}}, Outcome::kNormal},
            {"too hot", {{"OAT", 60}}, Outcome::kFault},
            {"too cold", {{"OAT", -45}}, Outcome::kFault},
            {"no data", {}, Outcome::kNoData}});

  auto spike = MakeCondition(OneRule(R"({"id": "spike", "kind": "sensor_health", "check": "spike", "window_steps": 6,
      "spike_k": 8, "applies_to": "AHU", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"));
  TableInputs s;
  const double series[] = {14.0, 14.2, 14.1, 14.3, 14.2, 14.4, 14.3};
  for (int i = 0; i < 7; ++i) s.values["SAT"][kT0 - (6 - i) * kStep] = series[i];
  EXPECT_EQ(spike->Evaluate(s, kT0).outcome, Outcome::kNormal);
  s.values["SAT"][kT0] = 25;
  EXPECT_EQ(spike->Evaluate(s, kT0).outcome, Outcome::kFault);
}

TEST(ResidualRuleTest, MeasuredValueOutsideTheForecastInterval) {
  auto rule = OneRule(R"({"id": "sat-anomaly", "kind": "residual", "applies_to": "AHU", "min_deviation": "0.2 delta_degC",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})");
  ASSERT_TRUE(rule);
  auto condition = MakeCondition(rule);
  PointForecast f = Forecast({14, 14.5, 15}, 1);  // covers kT0 + kStep ...
  for (auto [value, expected] : std::vector<std::pair<double, Outcome>>{
           {14.5, Outcome::kNormal}, {15.1, Outcome::kNormal}, {15.3, Outcome::kFault}, {12.7, Outcome::kFault}}) {
    TableInputs in;
    in.values["SAT"][kT0 + kStep] = value;
    in.forecasts["SAT"] = f;
    EXPECT_EQ(condition->Evaluate(in, kT0 + kStep).outcome, expected) << value;
  }
  TableInputs no_forecast;
  no_forecast.values["SAT"][kT0] = 99;
  EXPECT_EQ(condition->Evaluate(no_forecast, kT0).outcome, Outcome::kNormal) << "no interval: nothing to judge";
  TableInputs no_value;
  no_value.forecasts["SAT"] = f;
  EXPECT_EQ(condition->Evaluate(no_value, kT0 + kStep).outcome, Outcome::kNoData);
}

// Expected-behaviour detector: learns SAT - MAT from the valve commands on a unit's own normal
// operation, then judges. A heating valve leaking 2.5 K into the supply air with its command at 0
// is caught; new weather that the unit's physics explains (here the coil commands move with it)
// is not; before it has learned enough, and at an operating point it never learned from, it
// judges nothing. The learned state lives per binding (the engine's), here in the table.
TEST(ExpectedRuleTest, LearnsNormalOperationThenCatchesALeakButNotTheWeather) {
  auto rule = OneRule(R"({"id": "coil", "kind": "expected", "applies_to": "AHU", "value": "SAT - MAT",
      "regressors": ["HTG", "CLG"], "k": 5, "min_deviation": "1 delta_degC", "learn_steps": 200,
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "MAT": "Mixed_Air_Temperature_Sensor",
                 "HTG": "Valve_Command", "CLG": "Valve_Command"}})");
  ASSERT_TRUE(rule);
  ASSERT_EQ(rule->regressors.size(), 2u);
  auto condition = MakeCondition(rule);
  TableInputs in;
  in.units["HTG"] = in.units["CLG"] = "1";
  in.state = condition->NewState();
  ASSERT_TRUE(in.state);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> valve(0, 1);
  std::normal_distribution<double> noise(0, 0.2);
  // A healthy coil: +8 K at a fully open heating valve, -10 K at a fully open cooling valve, 0.6 K
  // of fan heat; one valve at a time, as a controller runs them.
  auto step = [&](int i, double htg, double clg, double extra) {
    const UnixMillis t = kT0 + i * kStep;
    in.values["MAT"][t] = 18;
    in.values["HTG"][t] = htg;
    in.values["CLG"][t] = clg;
    in.values["SAT"][t] = 18 + 0.6 + 8 * htg - 10 * clg + noise(rng) + extra;
    return t;
  };
  int i = 0;
  for (; i < 400; ++i) {
    const double v = valve(rng);
    const UnixMillis t = i % 2 ? step(i, v, 0, 0) : step(i, 0, v, 0);
    const ConditionResult r = condition->Evaluate(in, t);
    if (i < 200) {
      EXPECT_EQ(r.outcome, Outcome::kNormal) << "learning: nothing judged yet";
    }
    condition->Learn(in, t);
  }
  // A leak: the heating valve closed, the supply air 2.5 K warmer than the cooling valve explains.
  const UnixMillis leak = step(i++, 0, 0.3, 2.5);
  const ConditionResult fault = condition->Evaluate(in, leak);
  EXPECT_EQ(fault.outcome, Outcome::kFault);
  EXPECT_NE(fault.detail.find("expected"), std::string::npos) << fault.detail;
  ASSERT_EQ(fault.thresholds.size(), 2u);
  EXPECT_NEAR(fault.thresholds[0].value, 0.6 - 3, 0.2) << "the expected SAT - MAT";
  // Another day's weather: more cooling, the coil doing what it always did.
  const ConditionResult weather = condition->Evaluate(in, step(i++, 0, 0.95, 0));
  EXPECT_EQ(weather.outcome, Outcome::kNormal) << weather.detail;
  // Both valves wide open together: never seen, not judged (the model would extrapolate).
  const ConditionResult novel = condition->Evaluate(in, step(i++, 1, 1, 5));
  EXPECT_EQ(novel.outcome, Outcome::kNormal);
  EXPECT_NE(novel.detail.find("not judged"), std::string::npos) << novel.detail;
  // Missing input: no data, named.
  in.values["CLG"].erase(leak);
  const ConditionResult missing = condition->Evaluate(in, leak);
  EXPECT_EQ(missing.outcome, Outcome::kNoData);
  ASSERT_FALSE(missing.missing.empty());
  EXPECT_EQ(missing.missing.front(), "CLG");
  // Without a state (no engine), it judges nothing.
  in.state.reset();
  EXPECT_EQ(condition->Evaluate(in, step(i++, 0, 0.3, 2.5)).outcome, Outcome::kNormal);
}

TEST(ExpectedRuleTest, RegressorsAreProductsOfInputsAndDifferencesAndAreChecked) {
  auto rule = OneRule(R"x({"id": "mix", "kind": "expected", "applies_to": "AHU", "value": "MAT - RAT",
      "regressors": ["OAT - RAT", "ECO * (OAT - RAT)"],
      "inputs": {"MAT": "Mixed_Air_Temperature_Sensor", "RAT": "Return_Air_Temperature_Sensor",
                 "OAT": "Outside_Air_Temperature_Sensor", "ECO": "Damper_Position_Command"}})x");
  ASSERT_TRUE(rule);
  ASSERT_EQ(rule->regressors.size(), 2u);
  ASSERT_EQ(rule->regressors[1].size(), 2u);
  EXPECT_EQ(rule->regressors[1][0].text(), "ECO");
  EXPECT_EQ(rule->regressors[1][1].text(), "OAT - RAT");
  EXPECT_EQ(rule->expected_k, 5);
  EXPECT_EQ(rule->learn_steps, 288u);
  auto bad = ParseRules(R"([{"id": "x", "kind": "expected", "applies_to": "AHU", "value": "MAT - RAT",
      "regressors": ["OAT * NOPE", ""], "inputs": {"MAT": "Mixed_Air_Temperature_Sensor",
      "RAT": "Return_Air_Temperature_Sensor", "OAT": "Outside_Air_Temperature_Sensor"}}])",
                        "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/0/regressors/0: 'NOPE' is not one of the rule's inputs"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("/0/regressors/1: expected an input name"), std::string::npos)
      << bad.status().message();
  auto no_terms = ParseRules(R"([{"id": "x", "kind": "expected", "applies_to": "AHU", "value": "MAT",
      "inputs": {"MAT": "Mixed_Air_Temperature_Sensor"}}])",
                             "bad.json");
  ASSERT_FALSE(no_terms.ok());
  EXPECT_NE(no_terms.status().message().find("regressors"), std::string::npos) << no_terms.status().message();
}

}  // namespace
}  // namespace brickcast
