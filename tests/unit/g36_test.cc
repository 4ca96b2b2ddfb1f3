// G36 AHU fault conditions FC1-FC15: each against hand-computed step values (degF converted to
// the stored SI), in and out of its operating state, at its boundary, with a missing input, and
// the open-fdd v1 bugs as regression cases. The shipped rule file gates every condition on the
// fan proven on and occupancy.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "brickcast/rules.h"
#include "brickcast/units.h"
#include "table_inputs.h"
#include "test_support.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'700'000'000'000 - 1'700'000'000'000 % kStep;

double F(double f) { return (f - 32) * 5 / 9; }  // degF -> degC
const double kInH2O = *ParseQuantity("1 inH2O");  // Pa

// Step values per input (steps not given have no data); commands are fractions.
testing::TableInputs Table() {
  testing::TableInputs in;
  for (const char* name : {"HTG", "CLG", "ECO", "FAN"}) in.units[name] = "1";
  for (const char* name : {"DSP", "DSPSP"}) in.units[name] = "Pa";
  for (const char* name : {"SAF", "OAMIN"}) in.units[name] = "m3/s";
  return in;
}

struct Commands {
  double htg, clg, eco;
};
// The commands of the step k steps before kT0.
void SetCommands(testing::TableInputs& in, int k, const Commands& c) {
  in.values["HTG"][kT0 - k * kStep] = c.htg;
  in.values["CLG"][kT0 - k * kStep] = c.clg;
  in.values["ECO"][kT0 - k * kStep] = c.eco;
}

constexpr Commands kOs1{0.5, 0, 0.2}, kOs2{0, 0, 0.7}, kOs3{0, 0.5, 1.0}, kOs4{0, 0.5, 0.2}, kOs5{0.3, 0, 0.7};

std::unique_ptr<Condition> G36(int fc, const std::string& extra = "") {
  std::string inputs;
  for (const std::string& name : G36Inputs(fc)) inputs += (inputs.empty() ? "\"" : ", \"") + name + "\": \"Point\"";
  auto set = ParseRules("[{\"id\": \"fc" + std::to_string(fc) + "\", \"kind\": \"g36\", \"condition\": " +
                            std::to_string(fc) + ", \"applies_to\": \"AHU\", \"inputs\": {" + inputs + "}" + extra + "}]",
                        "g36.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return set.ok() ? MakeCondition((*set)->rules.front()) : nullptr;
}

struct Case {
  std::string name;
  Commands state;                       // held over the last 20 minutes
  std::map<std::string, double> at_t;   // the condition's inputs at the judged step
  Outcome expected;
};

void RunCases(int fc, const std::vector<Case>& cases) {
  auto condition = G36(fc);
  ASSERT_TRUE(condition);
  for (const Case& c : cases) {
    testing::TableInputs in = Table();
    for (int k = 0; k < 4; ++k) SetCommands(in, k, c.state);
    for (const auto& [name, v] : c.at_t) in.values[name][kT0] = v;
    const ConditionResult r = condition->Evaluate(in, kT0, /*explain=*/true);
    EXPECT_EQ(r.outcome, c.expected) << "FC" << fc << " / " << c.name << ": " << r.detail;
    EXPECT_EQ(condition->Evaluate(in, kT0, /*explain=*/false).outcome, r.outcome) << "FC" << fc << " / " << c.name;
    EXPECT_FALSE(r.detail.empty()) << "FC" << fc << " / " << c.name;
  }
}

constexpr double e = 0.01 * 5 / 9;  // 0.01 degF either side of a boundary

TEST(G36Test, Fc1DuctStaticLowAtFullFanOnFractions) {
  RunCases(1, {{"normal", kOs2, {{"DSP", 1.0 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 1.0}}, Outcome::kNormal},
          {"fault", kOs2, {{"DSP", 0.8 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 0.97}}, Outcome::kFault},
          {"just inside the error", kOs2, {{"DSP", 0.91 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 1.0}}, Outcome::kNormal},
          {"fan below max - eps", kOs2, {{"DSP", 0.5 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 0.93}}, Outcome::kNormal},
          // open-fdd v1 bug 1: thresholds divided by 100 against fractions made "fan >= 0.94 %" true at 20 %.
          {"open-fdd bug 1: fan at 20 %", kOs2, {{"DSP", 0.5 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 0.2}}, Outcome::kNormal},
          {"any state", kOs5, {{"DSP", 0.5 * kInH2O}, {"DSPSP", 1.0 * kInH2O}, {"FAN", 1.0}}, Outcome::kFault},
          {"missing DSP", kOs2, {{"DSPSP", 1.0 * kInH2O}, {"FAN", 1.0}}, Outcome::kNoData}});
}

TEST(G36Test, Fc2And3MixedAirOutsideReturnAndOutside) {
  // min(RAT - 2, OAT - 5) = min(70, 55) = 55 degF; max(RAT + 2, OAT + 5) = max(74, 65) = 74 degF.
  RunCases(2, {{"fault", kOs2, {{"MAT", F(49)}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kFault},
          {"just past", kOs2, {{"MAT", F(50) - e}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kFault},
          {"just inside", kOs2, {{"MAT", F(50) + e}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kNormal},
          // open-fdd v1 bug 2: MAT - eps (53 < 55) flags ordinary minimum-OA operation; G36 uses MAT + eps.
          {"open-fdd bug 2", kOs4, {{"MAT", F(58)}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kNormal},
          {"missing RAT", kOs2, {{"MAT", F(49)}, {"OAT", F(60)}}, Outcome::kNoData}});
  RunCases(3, {{"fault", kOs1, {{"MAT", F(80)}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kFault},
          {"just inside", kOs1, {{"MAT", F(79) - e}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kNormal},
          {"just past", kOs1, {{"MAT", F(79) + e}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kFault},
          {"normal", kOs1, {{"MAT", F(66)}, {"RAT", F(72)}, {"OAT", F(60)}}, Outcome::kNormal}});
}

TEST(G36Test, Fc4CountsOperatingStateChangesOverAnHour) {
  auto condition = G36(4);
  ASSERT_TRUE(condition);
  auto run = [&](int changes_every) {
    testing::TableInputs in = Table();
    for (int k = 0; k < 12; ++k) SetCommands(in, k, (k / changes_every) % 2 == 0 ? kOs1 : kOs2);
    return condition->Evaluate(in, kT0);
  };
  EXPECT_EQ(run(1).outcome, Outcome::kFault) << "11 changes in an hour > 7";
  EXPECT_EQ(run(1).primary_value, 11);
  EXPECT_EQ(run(2).outcome, Outcome::kNormal) << "5 changes";
  EXPECT_EQ(condition->Evaluate(Table(), kT0).outcome, Outcome::kNoData);
}

TEST(G36Test, Fc5And7HeatingOnlyInOs1) {
  // FC5: SAT + 2 <= MAT - 5 + 2, i.e. SAT <= MAT - 5 = 55 degF.
  RunCases(5, {{"fault", kOs1, {{"SAT", F(54)}, {"MAT", F(60)}}, Outcome::kFault},
          {"just past", kOs1, {{"SAT", F(55) - e}, {"MAT", F(60)}}, Outcome::kFault},
          {"just inside", kOs1, {{"SAT", F(55) + e}, {"MAT", F(60)}}, Outcome::kNormal},
          {"heating works", kOs1, {{"SAT", F(75)}, {"MAT", F(60)}}, Outcome::kNormal},
          {"not in OS2", kOs2, {{"SAT", F(54)}, {"MAT", F(60)}}, Outcome::kNormal},
          {"not in OS5", kOs5, {{"SAT", F(54)}, {"MAT", F(60)}}, Outcome::kNormal},
          {"missing MAT", kOs1, {{"SAT", F(54)}}, Outcome::kNoData},
          {"missing HTG", Commands{NAN, 0, 0.2}, {{"SAT", F(54)}, {"MAT", F(60)}}, Outcome::kNoData}});
  // FC7: SAT < SATSP - 2 with the heating valve >= 90 %.
  RunCases(7, {{"fault", Commands{0.95, 0, 0.2}, {{"SAT", F(57)}, {"SATSP", F(60)}}, Outcome::kFault},
          {"valve not full", kOs1, {{"SAT", F(57)}, {"SATSP", F(60)}}, Outcome::kNormal},
          {"just inside", Commands{0.95, 0, 0.2}, {{"SAT", F(58) + e}, {"SATSP", F(60)}}, Outcome::kNormal},
          {"not in OS4", kOs4, {{"SAT", F(50)}, {"SATSP", F(60)}}, Outcome::kNormal}});
}

TEST(G36Test, Fc8And9FreeCoolingOnlyInOs2) {
  // FC8: |SAT - 2 - MAT| > sqrt(2^2 + 5^2) = 5.385 degF.
  RunCases(8, {{"fault", kOs2, {{"SAT", F(68)}, {"MAT", F(60)}}, Outcome::kFault},
          {"inside", kOs2, {{"SAT", F(67)}, {"MAT", F(60)}}, Outcome::kNormal},
          {"fault below", kOs2, {{"SAT", F(56)}, {"MAT", F(60)}}, Outcome::kFault},
          // The baseline's false alarms: heating with the damper open counted as economizing.
          {"heating valve open is not OS2", kOs5, {{"SAT", F(75)}, {"MAT", F(60)}}, Outcome::kNormal},
          {"damper at minimum is not OS2", Commands{0, 0, 0.2}, {{"SAT", F(75)}, {"MAT", F(60)}}, Outcome::kNormal}});
  // FC9: OAT - 5 > SATSP - 2 + 2, i.e. OAT > 60 degF at SATSP 55 degF.
  RunCases(9, {{"fault", kOs2, {{"OAT", F(61)}, {"SATSP", F(55)}}, Outcome::kFault},
          {"just inside", kOs2, {{"OAT", F(60) - e}, {"SATSP", F(55)}}, Outcome::kNormal},
          {"not in OS3", kOs3, {{"OAT", F(80)}, {"SATSP", F(55)}}, Outcome::kNormal}});
}

TEST(G36Test, Fc10And11EconomizerWithMechanicalCoolingOnlyInOs3) {
  // FC10: |MAT - OAT| > sqrt(5^2 + 5^2) = 7.07 degF.
  RunCases(10, {{"fault", kOs3, {{"MAT", F(72)}, {"OAT", F(80)}}, Outcome::kFault},
           {"inside", kOs3, {{"MAT", F(73)}, {"OAT", F(80)}}, Outcome::kNormal},
           {"not in OS4", kOs4, {{"MAT", F(60)}, {"OAT", F(80)}}, Outcome::kNormal}});
  // FC11: OAT + 5 < SATSP - 2 - 2, i.e. OAT < 46 degF at SATSP 55 degF.
  RunCases(11, {{"fault", kOs3, {{"OAT", F(45)}, {"SATSP", F(55)}}, Outcome::kFault},
           {"just inside", kOs3, {{"OAT", F(46) + e}, {"SATSP", F(55)}}, Outcome::kNormal},
           // open-fdd v1 bug 3: FC11 as |OAT - MAT| > 7.07 with the damper open flags this.
           {"open-fdd bug 3", kOs3, {{"OAT", F(70)}, {"SATSP", F(55)}}, Outcome::kNormal}});
}

TEST(G36Test, Fc12And13CoolingInOs3AndOs4) {
  // FC12: SAT - 2 - 2 > MAT + 5, i.e. SAT > MAT + 9 degF.
  RunCases(12, {{"fault in OS3", kOs3, {{"SAT", F(70)}, {"MAT", F(60)}}, Outcome::kFault},
           {"fault in OS4", kOs4, {{"SAT", F(70)}, {"MAT", F(60)}}, Outcome::kFault},
           {"just inside", kOs4, {{"SAT", F(69) - e}, {"MAT", F(60)}}, Outcome::kNormal},
           {"not in OS1", kOs1, {{"SAT", F(80)}, {"MAT", F(60)}}, Outcome::kNormal}});
  // FC13: SAT > SATSP + 2 with the cooling valve >= 90 %.
  RunCases(13, {{"fault", Commands{0, 0.95, 0.2}, {{"SAT", F(58)}, {"SATSP", F(55)}}, Outcome::kFault},
           {"valve not full", kOs4, {{"SAT", F(58)}, {"SATSP", F(55)}}, Outcome::kNormal},
           {"just inside", Commands{0, 0.95, 1.0}, {{"SAT", F(57) - e}, {"SATSP", F(55)}}, Outcome::kNormal}});
}

TEST(G36Test, Fc6OutsideAirFractionAtMinimumOa) {
  // OA fraction (MAT - RAT) / (OAT - RAT); design minimum OAMIN / SAF = 0.2; eps 0.3.
  RunCases(6, {{"design", kOs4, {{"MAT", F(68)}, {"RAT", F(72)}, {"OAT", F(52)}, {"SAF", 10}, {"OAMIN", 2}}, Outcome::kNormal},
          {"fault", kOs4, {{"MAT", F(60)}, {"RAT", F(72)}, {"OAT", F(52)}, {"SAF", 10}, {"OAMIN", 2}}, Outcome::kFault},
          {"RAT - OAT too small", kOs1, {{"MAT", F(60)}, {"RAT", F(72)}, {"OAT", F(66)}, {"SAF", 10}, {"OAMIN", 2}},
           Outcome::kNormal},
          {"not in OS2", kOs2, {{"MAT", F(60)}, {"RAT", F(72)}, {"OAT", F(52)}, {"SAF", 10}, {"OAMIN", 2}}, Outcome::kNormal}});
}

TEST(G36Test, Fc14And15IdleCoils) {
  // sqrt(2^2 + 2^2) + 2 = 4.83 degF.
  RunCases(14, {{"fault", kOs2, {{"CCET", F(60)}, {"CCLT", F(55)}}, Outcome::kFault},
           {"inside", kOs1, {{"CCET", F(60)}, {"CCLT", F(55.5)}}, Outcome::kNormal},
           {"cooling is not idle", kOs3, {{"CCET", F(60)}, {"CCLT", F(50)}}, Outcome::kNormal}});
  RunCases(15, {{"fault", kOs4, {{"HCET", F(60)}, {"HCLT", F(65)}}, Outcome::kFault},
           {"inside", kOs3, {{"HCET", F(60)}, {"HCLT", F(64.5)}}, Outcome::kNormal},
           {"heating is not idle", kOs1, {{"HCET", F(60)}, {"HCLT", F(80)}}, Outcome::kNormal}});
}

TEST(G36Test, AStateIsJudgedOnlyAfterItHasHeldForTheSettlingTime) {
  auto condition = G36(8);  // settle 15 min: this step and the two before it
  ASSERT_TRUE(condition);
  testing::TableInputs in = Table();
  for (int k = 0; k < 4; ++k) SetCommands(in, k, k < 2 ? kOs2 : kOs1);  // OS2 for 10 minutes only
  in.values["SAT"][kT0] = F(75);
  in.values["MAT"][kT0] = F(60);
  ConditionResult r = condition->Evaluate(in, kT0);
  EXPECT_EQ(r.outcome, Outcome::kNormal);
  EXPECT_NE(r.detail.find("not judged"), std::string::npos) << r.detail;
  in.values["HTG"][kT0 - 2 * kStep] = 0;
  in.values["ECO"][kT0 - 2 * kStep] = 0.7;  // now OS2 for 15 minutes
  r = condition->Evaluate(in, kT0);
  EXPECT_EQ(r.outcome, Outcome::kFault) << r.detail;
  EXPECT_NE(r.detail.find("OS2"), std::string::npos) << r.detail;
  // A shorter settling time is a parameter.
  auto quick = G36(8, R"(, "settle": "5m")");
  in.values["HTG"][kT0 - kStep] = 0.5;
  in.values["ECO"][kT0 - kStep] = 0.2;
  EXPECT_EQ(quick->Evaluate(in, kT0).outcome, Outcome::kFault);
  EXPECT_EQ(condition->Evaluate(in, kT0).outcome, Outcome::kNormal);
}

// "on": "forecast": FC13 judged on the SAT forecast, the cooling valve and set point held at
// their measured values: a predicted fault at the first forecast step of a 15-minute run.
TEST(G36Test, TheForecastFormPredictsTheFaultAndItsTime) {
  auto condition = G36(13, R"(, "on": "forecast", "within": "2h")");
  ASSERT_TRUE(condition);
  EXPECT_TRUE(condition->on_forecast());
  testing::TableInputs in = Table();
  for (int k = 1; k < 5; ++k) {  // measured: full cooling at minimum OA, SAT on set point
    SetCommands(in, k, Commands{0, 0.95, 0.2});
    in.values["SAT"][kT0 - k * kStep] = F(55);
    in.values["SATSP"][kT0 - k * kStep] = F(55);
  }
  PointForecast f;
  f.window_end = kT0;
  f.step_ms = kStep;
  for (int h = 0; h < 24; ++h) f.steps.push_back(ForecastStep{kT0 + h * kStep, F(h < 6 ? 55 : 59), NAN, NAN});
  in.forecasts["SAT"] = f;
  ConditionResult r = condition->Evaluate(in, kT0, /*explain=*/true);
  EXPECT_EQ(r.outcome, Outcome::kFault) << r.detail;
  EXPECT_TRUE(r.predicted);
  EXPECT_EQ(r.crossing_time, kT0 + 6 * kStep) << "the first step of the run above SATSP + 2 degF";
  EXPECT_FALSE(r.measured_crossed);
  EXPECT_NE(r.detail.find("30 min ahead"), std::string::npos) << r.detail;
  // A forecast that stays on set point predicts nothing; one past it for only 10 minutes neither.
  for (auto& s : in.forecasts["SAT"].steps) s.value = F(55.5);
  EXPECT_EQ(condition->Evaluate(in, kT0).outcome, Outcome::kNormal);
  in.forecasts["SAT"].steps[8].value = in.forecasts["SAT"].steps[9].value = F(60);
  EXPECT_EQ(condition->Evaluate(in, kT0).outcome, Outcome::kNormal) << "two steps < predict_hold 15 min";
  // Measured already past: the alert manager will not start a prediction of what happened.
  in.values["SAT"][kT0 - kStep] = F(60);
  in.forecasts["SAT"].steps[10].value = F(60);
  r = condition->Evaluate(in, kT0);
  EXPECT_TRUE(r.predicted);
  EXPECT_TRUE(r.measured_crossed);
  // Outside its operating state in the forecast (cooling valve not full open): nothing.
  for (int k = 1; k < 5; ++k) SetCommands(in, k, kOs4);
  EXPECT_EQ(condition->Evaluate(in, kT0).outcome, Outcome::kNormal);
}

TEST(G36Test, RuleFilesNameEveryInputTheConditionReads) {
  auto missing = ParseRules(R"([{"id": "x", "kind": "g36", "condition": 5, "applies_to": "AHU",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "MAT": "Mixed_Air_Temperature_Sensor"}}])", "x.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("needs an input named HTG"), std::string::npos) << missing.status().message();
  auto bad = ParseRules(R"([{"id": "x", "kind": "g36", "condition": 16, "applies_to": "AHU", "inputs": {"A": "Point"}}])",
                        "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/0/condition"), std::string::npos) << bad.status().message();
  // Tolerances carry units: 2 delta_degF is 1.11 K.
  auto set = ParseRules(R"([{"id": "x", "kind": "g36", "condition": 2, "applies_to": "AHU", "eps_mat": "2 delta_degF",
      "inputs": {"MAT": "Point", "RAT": "Point", "OAT": "Point"}}])", "x.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_NEAR((*set)->rules.front()->g36.eps_mat, 10.0 / 9, 1e-9);
  EXPECT_NEAR((*set)->rules.front()->g36.eps_dsp, 0.1 * kInH2O, 1e-9);
}

// The shipped set: FC1-FC15, each judged only with the supply fan proven on and occupied.
TEST(G36Test, ShippedRulesGateEveryConditionOnTheFanAndOccupancy) {
  auto set = LoadRules({std::string(BRICKCAST_SOURCE_DIR) + "/config/rules/ahu-g36.json"});
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ((*set)->rules.size(), 15u);
  for (const auto& rule : (*set)->rules) {
    EXPECT_EQ(rule->kind, RuleKind::kG36);
    bool fan = false, occupied = false;
    for (const RuleGate& g : rule->when) {
      fan |= g.input == "SF_ON" && g.for_ms >= 30 * 60'000;
      occupied |= g.input == "OCC";
    }
    EXPECT_TRUE(fan && occupied) << rule->id;
    EXPECT_GE(rule->for_ms, 15 * 60'000) << rule->id;
  }
}

}  // namespace
}  // namespace brickcast
