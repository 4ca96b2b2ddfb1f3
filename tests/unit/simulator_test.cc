// The simulated air-handling system (brickcast simulate): fault specs, a healthy week that obeys
// the physics the rules assume, each injected fault's signature, and messages the daemon reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "brickcast/brick_model.h"
#include "brickcast/rules.h"
#include "brickcast/simulator.h"
#include "brickcast/stream_parser.h"
#include "test_support.h"

namespace brickcast {
namespace {

struct Sample {
  UnixMillis time;
  std::map<std::string, double> v;
};

std::vector<Sample> Simulate(SimulatorOptions o) {
  AhuSimulator sim(std::move(o));
  std::vector<Sample> out;
  UnixMillis t = 0;
  std::vector<SimReading> readings;
  while (sim.Next(&t, &readings)) {
    Sample s{t, {}};
    for (const SimReading& r : readings) s.v[r.point] = r.value;
    out.push_back(std::move(s));
  }
  return out;
}

// The simulator's default start, stated so the tests can count days from it.
SimulatorOptions Options(int64_t duration_ms) {
  SimulatorOptions o;
  o.start = *ParseIsoDateTime("2026-03-02T00:00:00Z", TimeZone::Utc());  // a Monday
  o.duration_ms = duration_ms;
  return o;
}

double HourOf(UnixMillis t) { return static_cast<double>(t % 86'400'000) / 3'600'000.0; }
int64_t DayOf(const SimulatorOptions& o, UnixMillis t) { return (t - o.start) / 86'400'000; }

TEST(SimFaultTest, SpecsParseAndBadOnesSayWhy) {
  auto f = ParseSimFault("valve_stuck:cooling=0.2@1d12h-2d");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->kind, SimFaultKind::kValveStuck);
  EXPECT_EQ(f->target, "cooling");
  EXPECT_DOUBLE_EQ(f->value, 0.2);
  EXPECT_EQ(f->from_ms, 36 * 3'600'000LL);
  EXPECT_EQ(f->to_ms, 48 * 3'600'000LL);
  auto fan = ParseSimFault("fan_failure@90m");
  ASSERT_TRUE(fan.ok());
  EXPECT_EQ(fan->from_ms, 90 * 60'000LL);
  EXPECT_EQ(fan->to_ms, INT64_MAX);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"valve_melted:cooling=1", "unknown kind"},
      {"sensor_bias=3", "needs a target"},
      {"sensor_bias:MAT", "needs a value"},
      {"fan_failure=1", "takes no value"},
      {"valve_stuck:hot=0", "'heating' or 'cooling'"},
      {"damper_stuck=1.5", "between 0 and 1"},
      {"sensor_bias:XYZ=1", "unknown sensor"},
      {"sensor_bias:MAT=abc", "not a number"},
      {"fan_failure@2x", "needs a unit"},
      {"fan_failure@2d-1d", "not after its start"},
  };
  for (const auto& [spec, why] : bad) {
    auto r = ParseSimFault(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << spec << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(spec), std::string::npos) << "the error names the spec";
  }
}

// What the G36 rules take for granted on a healthy unit, over a week of weather: the mixed air
// lies between outside and return air, the supply air holds its set point while the unit runs
// (after its first half hour each morning), the zones stay comfortable while occupied, the duct
// static holds its set point, and the fan runs only on working days.
TEST(AhuSimulatorTest, AHealthyWeekObeysThePhysicsTheRulesAssume) {
  const SimulatorOptions o = Options(7 * 86'400'000LL);
  const std::vector<Sample> week = Simulate(o);
  ASSERT_EQ(week.size(), 7u * 1440u);
  size_t running = 0, sat_held = 0;
  for (const Sample& s : week) {
    const auto& v = s.v;
    const double lo = std::min(v.at("OAT"), v.at("RAT")), hi = std::max(v.at("OAT"), v.at("RAT"));
    const bool on = v.at("SF_Status") > 0.5;
    const int64_t day = DayOf(o, s.time);
    if (day >= 5) {
      EXPECT_FALSE(on) << "the weekend is unoccupied: " << FormatIsoUtc(s.time);
    }
    for (const char* cmd : {"SF_Speed", "OA_Damper", "HC_Valve", "CC_Valve"}) {
      EXPECT_GE(v.at(cmd), 0) << cmd;
      EXPECT_LE(v.at(cmd), 100) << cmd;
    }
    if (!on) continue;
    EXPECT_GT(v.at("MAT"), lo - 0.5) << FormatIsoUtc(s.time);
    EXPECT_LT(v.at("MAT"), hi + 0.5) << FormatIsoUtc(s.time);
    if (HourOf(s.time) < 5.5) continue;  // the morning start-up
    ++running;
    sat_held += std::fabs(v.at("SAT") - v.at("SATSP")) < 1.0;
    EXPECT_NEAR(v.at("DSP"), v.at("DSPSP"), 25) << FormatIsoUtc(s.time);
    if (v.at("OCC") > 0.5 && HourOf(s.time) >= 8) {
      for (const char* zat : {"ZAT1", "ZAT2", "ZAT3"}) {
        EXPECT_GT(v.at(zat), 20) << zat << " " << FormatIsoUtc(s.time);
        EXPECT_LT(v.at(zat), 24.5) << zat << " " << FormatIsoUtc(s.time);
      }
    }
  }
  EXPECT_EQ(running, 5u * 750u) << "05:30 to 18:00 on five working days";
  EXPECT_GT(static_cast<double>(sat_held) / static_cast<double>(running), 0.98);
}

TEST(AhuSimulatorTest, TheSameSeedGivesTheSameMessages) {
  SimulatorOptions o = Options(86'400'000);
  const std::vector<Sample> a = Simulate(o), b = Simulate(o);
  o.seed = 2;
  const std::vector<Sample> c = Simulate(o);
  ASSERT_EQ(a.size(), b.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].v, b[i].v);
    differ += a[i].v.at("OAT") != c[i].v.at("OAT");
  }
  EXPECT_GT(differ, a.size() / 2) << "another seed, other weather and noise";
}

// Each fault as a technician would see it in the trends, against the same healthy run.
TEST(AhuSimulatorTest, EachFaultShowsItsSignature) {
  const SimulatorOptions healthy = Options(5 * 86'400'000LL);
  SimulatorOptions faulty = healthy;
  faulty.faults = DemoScenario();
  const std::vector<Sample> h = Simulate(healthy), f = Simulate(faulty);
  ASSERT_EQ(h.size(), f.size());
  bool stuck_seen = false, fan_seen = false, fouling_seen = false;
  double flat = NAN;
  for (size_t i = 0; i < f.size(); ++i) {
    const auto &hv = h[i].v, &fv = f[i].v;
    const int64_t day = DayOf(faulty, f[i].time);
    const double hour = HourOf(f[i].time);
    if (day == 0) {  // MAT reads 4 K low; the controller does not use it, so nothing else moves
      EXPECT_NEAR(fv.at("MAT") - hv.at("MAT"), -4, 1e-9);
      EXPECT_DOUBLE_EQ(fv.at("SAT"), hv.at("SAT"));
    }
    if (day == 1 && hour >= 14 && hour < 17) {  // cooling valve stuck shut in the warm afternoon
      EXPECT_GT(fv.at("CC_Valve"), 95) << "the loop opens it fully";
      EXPECT_GT(fv.at("SAT"), fv.at("SATSP") + 5) << FormatIsoUtc(f[i].time);
      stuck_seen = true;
    }
    if (day == 2) {  // OAT frozen for the day
      if (std::isnan(flat)) flat = fv.at("OAT");
      EXPECT_EQ(fv.at("OAT"), flat);
    }
    if (day == 3 && hour >= 9.1 && hour < 11) {  // the fan tripped, still commanded
      EXPECT_EQ(fv.at("SF_Status"), 0);
      EXPECT_GT(fv.at("SF_Speed"), 50);
      EXPECT_LT(fv.at("DSP"), 10);
      fan_seen = true;
    }
    if (day == 4 && hour >= 10 && hour < 17) {  // fouled filter: full speed, static short
      EXPECT_GT(fv.at("SF_Speed"), 99);
      EXPECT_LT(fv.at("DSP"), fv.at("DSPSP") - 50) << "twice G36 FC1's tolerance short";
      fouling_seen = true;
    }
  }
  EXPECT_TRUE(stuck_seen && fan_seen && fouling_seen);
}

// The messages parse with the stream parser, every point is in the simulator's Brick model with
// its unit, and the shipped AHU rules apply to it (all but the G36 conditions whose sensors a
// unit of this kind lacks).
TEST(AhuSimulatorTest, MessagesParseAndTheShippedRulesApply) {
  AhuSimulator sim(Options(2 * 3'600'000LL));
  auto classes = ClassHierarchy::BuiltIn();
  BrickModel model(classes);
  ASSERT_TRUE(model.LoadTurtle(sim.BrickModel(), "sim.ttl").ok());
  StreamParser parser(StreamParserOptions{});
  UnixMillis t = 0;
  std::vector<SimReading> readings;
  size_t messages = 0;
  while (sim.Next(&t, &readings)) {
    const ParseResult described = parser.Parse(sim.Message(t, readings, true), "described");
    const ParseResult plain = parser.Parse(sim.Message(t, readings, false), "plain");
    ASSERT_TRUE(described.ok() && plain.ok());
    ASSERT_EQ(plain.observations.size(), readings.size());
    EXPECT_EQ(described.metadata.size(), readings.size());
    EXPECT_TRUE(plain.metadata.empty());
    for (const Observation& ob : plain.observations) {
      EXPECT_EQ(ob.time, t);
      ASSERT_NE(model.Find(ob.point), nullptr) << ob.point << " is not in the model";
    }
    ++messages;
  }
  EXPECT_EQ(messages, 120u);
  auto rules = LoadRules({testing::SourcePath("config/rules")});
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  const RuleResolution r = ResolveRules(**rules, model);
  std::vector<std::string> not_applicable;
  for (const RuleNotApplicable& na : r.not_applicable) not_applicable.push_back(na.rule);
  std::sort(not_applicable.begin(), not_applicable.end());
  EXPECT_EQ(not_applicable, (std::vector<std::string>{"g36-fc14", "g36-fc15", "g36-fc6"}));
  EXPECT_EQ(r.bindings.size(), (*rules)->rules.size() - 3);
}

}  // namespace
}  // namespace brickcast
