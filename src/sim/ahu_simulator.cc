#include "brickcast/simulator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "convert/ttl_writer.h"

namespace brickcast {
namespace {

constexpr const char* kBrick = "https://brickschema.org/schema/Brick#";
constexpr double kCp = 1005;              // J/(kg K), air
constexpr double kZoneFlow = 0.5;         // kg/s per zone at full VAV damper
constexpr double kZoneCapacity = 1.0e7;   // J/K: a zone with its furniture and slab
constexpr double kEnvelopeUa = 120;       // W/K
constexpr double kDuctStaticSp = 250;     // Pa
constexpr double kFanStaticAtFull = 450;  // Pa at full speed with every VAV damper open
constexpr double kFanHeat = 0.6;          // K added by the draw-through supply fan
constexpr double kHeatingCoilRise = 25;   // K at a full-open heating valve
constexpr double kCoolingEffectiveness = 0.85;
constexpr double kChilledWater = 6;       // degC
constexpr double kDamperMin = 0.3;        // minimum outside air position
constexpr double kEconomizerHighLimit = 18;  // degC: no free cooling above
constexpr double kSupplyAirSp = 13;       // degC
constexpr double kPi = 3.14159265358979323846;

// The AHU's points (name, Brick class, unit, equipment); each VAV adds three after them.
struct AhuPoint {
  const char *name, *brick_class, *unit, *equipment;
};
constexpr AhuPoint kAhuPoints[] = {
    {"SAT", "Supply_Air_Temperature_Sensor", "DEG_C", "AHU1"},
    {"SATSP", "Supply_Air_Temperature_Setpoint", "DEG_C", "AHU1"},
    {"MAT", "Mixed_Air_Temperature_Sensor", "DEG_C", "AHU1"},
    {"RAT", "Return_Air_Temperature_Sensor", "DEG_C", "AHU1"},
    {"OAT", "Outside_Air_Temperature_Sensor", "DEG_C", "AHU1"},
    {"DSP", "Supply_Air_Static_Pressure_Sensor", "PA", "AHU1"},
    {"DSPSP", "Supply_Air_Static_Pressure_Setpoint", "PA", "AHU1"},
    {"OCC", "Occupied_Mode_Status", "", "AHU1"},
    {"SF_Status", "Fan_Status", "", "AHU1_SupplyFan"},
    {"SF_Speed", "Fan_Speed_Command", "PERCENT", "AHU1_SupplyFan"},
    {"OA_Damper", "Damper_Position_Command", "PERCENT", "AHU1_OutsideDamper"},
    {"HC_Valve", "Valve_Command", "PERCENT", "AHU1_HeatingValve"},
    {"CC_Valve", "Valve_Command", "PERCENT", "AHU1_CoolingValve"},
};
constexpr size_t kZonePointsStart = std::size(kAhuPoints);

// Outside air fraction at a damper position: dampers do little at small openings.
double OaFraction(double position) { return std::pow(std::clamp(position, 0.0, 1.0), 1.6); }
double DamperFor(double fraction) { return std::pow(std::clamp(fraction, 0.0, 1.0), 1.0 / 1.6); }

// Duct static pressure per squared fan speed, higher with the VAV dampers closing.
double StaticFactor(double mean_vav_damper) { return kFanStaticAtFull / (0.35 + 0.65 * mean_vav_damper); }

double Lag(double value, double target, double dt_s, double tau_s) {
  return value + (target - value) * (1 - std::exp(-dt_s / tau_s));
}

StatusOr<int64_t> ParseOffset(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("empty time");
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const std::string unit(end);
  double ms = 0;
  if (unit == "d") ms = v * 86'400'000;
  else if (unit == "h") ms = v * 3'600'000;
  else if (unit == "m" || unit == "min") ms = v * 60'000;
  else if (unit == "s") ms = v * 1000;
  else return Status::InvalidArgument("time '" + text + "' needs a unit: d, h, m or s");
  if (!(v >= 0)) return Status::InvalidArgument("time '" + text + "' is negative");
  return static_cast<int64_t>(ms);
}

// "1d6h" is two offsets added up.
StatusOr<int64_t> ParseTime(const std::string& text) {
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    if (j == i || k == j) return Status::InvalidArgument("time '" + text + "' is not like 6h, 2d or 1d6h");
    auto part = ParseOffset(text.substr(i, k - i));
    if (!part.ok()) return part.status();
    total += *part;
    i = k;
  }
  if (text.empty()) return Status::InvalidArgument("empty time");
  return total;
}

}  // namespace

StatusOr<SimFault> ParseSimFault(const std::string& spec) {
  SimFault f;
  f.spec = spec;
  std::string rest = spec;
  const auto fail = [&spec](const std::string& why) { return Status::InvalidArgument("fault '" + spec + "': " + why); };
  if (size_t at = rest.find('@'); at != std::string::npos) {
    const std::string when = rest.substr(at + 1);
    rest.resize(at);
    const size_t dash = when.find('-');
    auto from = ParseTime(when.substr(0, dash));
    if (!from.ok()) return fail(from.status().message());
    f.from_ms = *from;
    if (dash != std::string::npos) {
      auto to = ParseTime(when.substr(dash + 1));
      if (!to.ok()) return fail(to.status().message());
      if (*to <= *from) return fail("its end is not after its start");
      f.to_ms = *to;
    }
  }
  bool has_value = false;
  if (size_t eq = rest.find('='); eq != std::string::npos) {
    char* end = nullptr;
    const std::string v = rest.substr(eq + 1);
    f.value = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != 0 || !std::isfinite(f.value)) return fail("value '" + v + "' is not a number");
    has_value = true;
    rest.resize(eq);
  }
  std::string kind = rest;
  if (size_t colon = rest.find(':'); colon != std::string::npos) {
    kind = rest.substr(0, colon);
    f.target = rest.substr(colon + 1);
  }
  struct KindInfo {
    const char* name;
    SimFaultKind kind;
    bool target, value;
  };
  static const KindInfo kKinds[] = {
      {"sensor_bias", SimFaultKind::kSensorBias, true, true},
      {"sensor_drift", SimFaultKind::kSensorDrift, true, true},
      {"sensor_flatline", SimFaultKind::kSensorFlatline, true, false},
      {"valve_stuck", SimFaultKind::kValveStuck, true, true},
      {"valve_leak", SimFaultKind::kValveLeak, true, true},
      {"damper_stuck", SimFaultKind::kDamperStuck, false, true},
      {"fan_failure", SimFaultKind::kFanFailure, false, false},
      {"filter_fouling", SimFaultKind::kFilterFouling, false, true},
  };
  const KindInfo* info = nullptr;
  for (const KindInfo& k : kKinds) {
    if (kind == k.name) info = &k;
  }
  if (info == nullptr)
    return fail("unknown kind '" + kind +
                "' (sensor_bias, sensor_drift, sensor_flatline, valve_stuck, valve_leak, damper_stuck, fan_failure, "
                "filter_fouling)");
  f.kind = info->kind;
  if (info->target && f.target.empty()) return fail(kind + " needs a target (" + kind + ":<name>)");
  if (!info->target && !f.target.empty()) return fail(kind + " takes no target");
  if (info->value && !has_value) return fail(kind + " needs a value (=...)");
  if (!info->value && has_value) return fail(kind + " takes no value");
  if (f.kind == SimFaultKind::kValveStuck || f.kind == SimFaultKind::kValveLeak) {
    if (f.target != "heating" && f.target != "cooling") return fail("the valve is 'heating' or 'cooling'");
  }
  if ((f.kind == SimFaultKind::kValveStuck || f.kind == SimFaultKind::kValveLeak ||
       f.kind == SimFaultKind::kDamperStuck) && (f.value < 0 || f.value > 1))
    return fail("a position is between 0 and 1");
  if (f.kind == SimFaultKind::kFilterFouling && f.value < 0) return fail("fouling is not negative");
  if (f.kind == SimFaultKind::kSensorBias || f.kind == SimFaultKind::kSensorDrift ||
      f.kind == SimFaultKind::kSensorFlatline) {
    static const char* const kSensors[] = {"SAT", "MAT", "RAT", "OAT", "DSP"};
    const bool zone = f.target.rfind("ZAT", 0) == 0 && f.target.size() > 3;
    if (!zone && std::find_if(std::begin(kSensors), std::end(kSensors),
                              [&f](const char* s) { return f.target == s; }) == std::end(kSensors))
      return fail("unknown sensor '" + f.target + "' (SAT, MAT, RAT, OAT, DSP, ZAT1...)");
  }
  return f;
}

std::vector<SimFault> DemoScenario() {
  // Monday: a mixed air sensor reading 4 K low (G36 FC8 in free cooling); Tuesday afternoon on: a
  // cooling valve stuck shut (FC13 once the controller opens it fully); Wednesday: the outside air
  // sensor frozen (flatline); Thursday morning: the supply fan tripped for two hours (fan not
  // proven); Friday: a badly fouled filter (duct static low with the fan at full speed, FC1).
  std::vector<SimFault> out;
  for (const char* spec : {"sensor_bias:MAT=-4@0d-1d12h", "valve_stuck:cooling=0@1d12h-2d20h",
                           "sensor_flatline:OAT@2d-3d", "fan_failure@3d9h-3d11h", "filter_fouling=4@4d-5d"}) {
    out.push_back(*ParseSimFault(spec));
  }
  return out;
}

AhuSimulator::AhuSimulator(SimulatorOptions options) : options_(std::move(options)), rng_(options_.seed) {
  if (options_.start == 0) options_.start = *ParseIsoDateTime("2026-03-02T00:00:00Z", TimeZone::Utc());
  options_.zones = std::clamp(options_.zones, 1, 20);
  if (options_.sample_ms <= 0) options_.sample_ms = 60'000;
  const std::string b = kBrick;
  for (const AhuPoint& p : kAhuPoints) points_.push_back(PointInfo{p.name, b + p.brick_class, p.unit, p.equipment});
  zones_.resize(static_cast<size_t>(options_.zones));
  for (int z = 1; z <= options_.zones; ++z) {
    const std::string n = std::to_string(z);
    points_.push_back(PointInfo{"ZAT" + n, b + "Zone_Air_Temperature_Sensor", "DEG_C", "VAV" + n});
    points_.push_back(PointInfo{"VAV" + n + "_DamperCmd", b + "Damper_Position_Command", "PERCENT", "VAV" + n + "_Damper"});
    points_.push_back(PointInfo{"VAV" + n + "_ReheatCmd", b + "Valve_Command", "PERCENT", "VAV" + n + "_ReheatValve"});
  }
}

std::string AhuSimulator::BrickModel() const {
  const std::string& ns = options_.ns;
  std::string t = "# Brick model of the air-handling system simulated by `brickcast simulate`: one AHU feeding\n"
                  "# " + std::to_string(options_.zones) + " VAV boxes with reheat, each serving one zone.\n";
  t += std::string(TurtlePrefixHeader());
  t += "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n@prefix sim: <" + ns + "> .\n\n";
  t += "sim:AHU1 a brick:Air_Handling_Unit ;\n    rdfs:label \"Simulated AHU\" ;\n"
       "    brick:hasPart sim:AHU1_SupplyFan, sim:AHU1_OutsideDamper, sim:AHU1_HeatingCoil, sim:AHU1_CoolingCoil ;\n"
       "    brick:hasPoint sim:SAT, sim:SATSP, sim:MAT, sim:RAT, sim:OAT, sim:DSP, sim:DSPSP, sim:OCC ;\n    brick:feeds ";
  for (int z = 1; z <= options_.zones; ++z) t += (z > 1 ? ", sim:VAV" : "sim:VAV") + std::to_string(z);
  t += " .\n"
       "sim:AHU1_SupplyFan a brick:Supply_Fan ; brick:hasPoint sim:SF_Status, sim:SF_Speed .\n"
       "sim:AHU1_OutsideDamper a brick:Outside_Damper ; brick:hasPoint sim:OA_Damper .\n"
       "sim:AHU1_HeatingCoil a brick:Hot_Water_Coil ; brick:hasPart sim:AHU1_HeatingValve .\n"
       "sim:AHU1_HeatingValve a brick:Heating_Valve ; brick:hasPoint sim:HC_Valve .\n"
       "sim:AHU1_CoolingCoil a brick:Chilled_Water_Coil ; brick:hasPart sim:AHU1_CoolingValve .\n"
       "sim:AHU1_CoolingValve a brick:Cooling_Valve ; brick:hasPoint sim:CC_Valve .\n";
  for (int z = 1; z <= options_.zones; ++z) {
    const std::string n = std::to_string(z), vav = "sim:VAV" + n;
    t += vav + " a brick:Variable_Air_Volume_Box_With_Reheat ; brick:hasPart " + vav + "_Damper, " + vav +
         "_ReheatValve ;\n    brick:hasPoint sim:ZAT" + n + " ; brick:feeds sim:Zone" + n + " .\n";
    t += vav + "_Damper a brick:Damper ; brick:hasPoint " + vav + "_DamperCmd .\n";
    t += vav + "_ReheatValve a brick:Heating_Valve ; brick:hasPoint " + vav + "_ReheatCmd .\n";
    t += "sim:Zone" + n + " a brick:HVAC_Zone .\n";
  }
  for (const PointInfo& p : points_) {
    t += "<" + ns + p.name + "> a <" + p.brick_class + ">" + (p.unit.empty() ? "" : " ; brick:hasUnit unit:" + p.unit) +
         " .\n";
  }
  return t;
}

const SimFault* AhuSimulator::Active(SimFaultKind kind, const std::string& target, int64_t elapsed) const {
  for (const SimFault& f : options_.faults) {
    if (f.kind == kind && f.target == target && elapsed >= f.from_ms && elapsed < f.to_ms) return &f;
  }
  return nullptr;
}

double AhuSimulator::Sensor(const char* name, double truth, double noise, int64_t elapsed) {
  double v = truth + noise * unit_noise_(rng_);
  if (const SimFault* f = Active(SimFaultKind::kSensorBias, name, elapsed)) v += f->value;
  if (const SimFault* f = Active(SimFaultKind::kSensorDrift, name, elapsed))
    v += f->value * static_cast<double>(elapsed - f->from_ms) / 86'400'000.0;
  auto frozen = std::find_if(frozen_.begin(), frozen_.end(), [name](const auto& e) { return e.first == name; });
  if (Active(SimFaultKind::kSensorFlatline, name, elapsed) != nullptr) {
    if (frozen == frozen_.end()) {
      frozen_.emplace_back(name, v);
      return v;
    }
    return frozen->second;
  }
  if (frozen != frozen_.end()) frozen_.erase(frozen);
  return v;
}

double AhuSimulator::OutsideAir(UnixMillis t) {
  const int64_t day = t / 86'400'000;
  if (day != day_) {  // each day a little warmer or cooler than the season's mean
    day_ = day;
    day_offset_ = 1.5 * unit_noise_(rng_);
  }
  const double hour = static_cast<double>(t % 86'400'000) / 3'600'000.0;
  return 14 + day_offset_ + 7 * std::sin(2 * kPi * (hour - 9) / 24);
}

bool AhuSimulator::Next(UnixMillis* time, std::vector<SimReading>* readings) {
  now_ = started_ ? now_ + options_.sample_ms : options_.start;
  started_ = true;
  const int64_t elapsed = now_ - options_.start;
  if (elapsed >= options_.duration_ms) return false;
  const double dt = static_cast<double>(options_.sample_ms) / 1000.0;
  const double hour = static_cast<double>(now_ % 86'400'000) / 3'600'000.0;
  const int64_t weekday = (now_ / 86'400'000 + 4) % 7;  // 1970-01-01 was a Thursday; 0: Sunday
  const bool workday = weekday >= 1 && weekday <= 5;
  const bool occupied = workday && hour >= 6 && hour < 18;
  const bool fan_on = workday && hour >= 5 && hour < 18;  // an hour's morning warm-up

  const double oat = OutsideAir(now_);
  const double oat_m = Sensor("OAT", oat, 0.05, elapsed);

  // Return air: the zones' mean, weighted by their airflow, plus the plenum's gain.
  double flow_sum = 0, weighted = 0, mean_temp = 0;
  for (const Zone& z : zones_) {
    flow_sum += z.damper;
    weighted += z.damper * z.temp;
    mean_temp += z.temp;
  }
  mean_temp /= static_cast<double>(zones_.size());
  const double rat = (fan_on && flow_sum > 0 ? weighted / flow_sum : mean_temp) + 0.3;
  const double rat_m = Sensor("RAT", rat, 0.05, elapsed);

  // Fan and duct static pressure: the loop asks for the speed that holds the set point.
  const SimFault* fouling = Active(SimFaultKind::kFilterFouling, "", elapsed);
  const double resistance = 1 + (fouling != nullptr ? fouling->value : 0);
  double mean_vav = 0;
  for (const Zone& z : zones_) mean_vav += z.damper;
  mean_vav /= static_cast<double>(zones_.size());
  const double static_factor = StaticFactor(mean_vav) / resistance;
  const double speed_needed = std::sqrt(kDuctStaticSp / static_factor);
  fan_speed_ = fan_on ? Lag(fan_speed_, std::clamp(speed_needed, 0.15, 1.0), dt, 60) : 0;
  const bool fan_failed = Active(SimFaultKind::kFanFailure, "", elapsed) != nullptr;
  const double speed_actual = fan_failed ? 0 : fan_speed_;
  const double dsp = static_factor * speed_actual * speed_actual;
  const double flow = std::sqrt(dsp / kDuctStaticSp);  // of the design flow at these VAV positions
  const bool proven = speed_actual > 0.05;
  // With the fan not proven the controller asks for the speed it wants: more.
  if (fan_on && !proven) fan_speed_ = Lag(fan_speed_, 1.0, dt, 60);

  // Supply air temperature sequence: heating valve, then economizer, then cooling valve. The
  // feedforward inverts the mixing and the coils from the measured temperatures; the integral
  // trims what it gets wrong (and winds up against a fault, as a real loop does).
  double heat = 0, cool = 0, damper = 0;
  if (fan_on) {
    const double target = kSupplyAirSp - kFanHeat;
    const double f_min = OaFraction(kDamperMin);
    const double mat_min = f_min * oat_m + (1 - f_min) * rat_m;
    const bool economizer = oat_m < kEconomizerHighLimit && oat_m < rat_m - 1;
    double u_ff;
    if (mat_min < target) {
      u_ff = -(target - mat_min) / kHeatingCoilRise;
    } else if (economizer) {
      const double f = (rat_m - target) / std::max(0.5, rat_m - oat_m);
      u_ff = f <= 1 ? (DamperFor(std::max(f, f_min)) - kDamperMin) / (1 - kDamperMin)
                    : 1 + (oat_m - target) / (kCoolingEffectiveness * std::max(1.0, oat_m - kChilledWater));
    } else {
      u_ff = 1 + (mat_min - target) / (kCoolingEffectiveness * std::max(1.0, mat_min - kChilledWater));
    }
    if (proven) integral_ = std::clamp(integral_ + 0.0005 * (sat_reported_ - kSupplyAirSp) * dt, -1.0, 1.0);
    const double u = std::clamp(u_ff + integral_, -1.0, 2.0);
    heat = std::max(0.0, -u);
    damper = economizer ? kDamperMin + (1 - kDamperMin) * std::clamp(u, 0.0, 1.0) : kDamperMin;
    cool = std::clamp(u - 1, 0.0, 1.0);
  } else {
    integral_ = 0;
  }
  heat_cmd_ = Lag(heat_cmd_, heat, dt, 60);
  cool_cmd_ = Lag(cool_cmd_, cool, dt, 60);
  damper_cmd_ = Lag(damper_cmd_, damper, dt, 60);

  // The plant, with actuator faults between command and position.
  auto actual_valve = [&](const std::string& which, double cmd) {
    if (const SimFault* f = Active(SimFaultKind::kValveStuck, which, elapsed)) return f->value;
    if (const SimFault* f = Active(SimFaultKind::kValveLeak, which, elapsed)) return std::max(cmd, f->value);
    return cmd;
  };
  const double heat_pos = actual_valve("heating", heat_cmd_), cool_pos = actual_valve("cooling", cool_cmd_);
  const SimFault* stuck_damper = Active(SimFaultKind::kDamperStuck, "", elapsed);
  const double damper_pos = stuck_damper != nullptr ? stuck_damper->value : damper_cmd_;
  const double f_oa = proven ? OaFraction(damper_pos) : 0;
  const double mat = f_oa * oat + (1 - f_oa) * rat;
  const double after_heating = mat + kHeatingCoilRise * heat_pos * (proven ? 1 : 0);
  const double after_cooling =
      after_heating - (proven ? cool_pos * kCoolingEffectiveness * std::max(0.0, after_heating - kChilledWater) : 0);
  const double sat_steady = after_cooling + (proven ? kFanHeat : 0);
  sat_ = Lag(sat_, sat_steady, dt, proven ? 120 : 1800);  // without airflow the duct drifts slowly

  // Zones: VAV boxes hold 21..24 degC while occupied (the warm-up hour heats to 21).
  const double solar = std::max(0.0, std::sin(kPi * (hour - 6) / 12));
  for (size_t i = 0; i < zones_.size(); ++i) {
    Zone& z = zones_[i];
    double damper_target = kDamperMin, reheat_target = 0;
    if (fan_on) {
      damper_target = kDamperMin + (1 - kDamperMin) * std::clamp((z.temp - 22.5) / 2, 0.0, 1.0);
      reheat_target = std::clamp((21.5 - z.temp) / 1.5, 0.0, 1.0);
    }
    z.damper = fan_on ? Lag(z.damper, damper_target, dt, 120) : 0;
    z.reheat = fan_on ? Lag(z.reheat, reheat_target, dt, 120) : 0;
    const double gains = (occupied ? 2500 : 400) + 1500 * solar * (0.5 + 0.5 * static_cast<double>(i));
    const double m = proven ? z.damper * kZoneFlow * flow : 0;
    const double supply = sat_ + 15 * z.reheat;
    z.temp += dt / kZoneCapacity * (gains + kEnvelopeUa * (oat - z.temp) + m * kCp * (supply - z.temp));
  }

  readings->clear();
  auto add = [&](const char* name, double v) { readings->push_back(SimReading{name, v}); };
  sat_reported_ = Sensor("SAT", sat_, 0.05, elapsed);
  add("SAT", sat_reported_);
  add("SATSP", kSupplyAirSp);
  add("MAT", Sensor("MAT", mat, 0.05, elapsed));
  add("RAT", rat_m);
  add("OAT", oat_m);
  add("DSP", std::max(0.0, Sensor("DSP", dsp, 2.0, elapsed)));
  add("DSPSP", kDuctStaticSp);
  add("OCC", occupied ? 1 : 0);
  add("SF_Status", proven ? 1 : 0);
  add("SF_Speed", 100 * fan_speed_);
  add("OA_Damper", 100 * damper_cmd_);
  add("HC_Valve", 100 * heat_cmd_);
  add("CC_Valve", 100 * cool_cmd_);
  for (size_t i = 0; i < zones_.size(); ++i) {  // the zone points follow the AHU's, three a zone
    const size_t at = kZonePointsStart + 3 * i;
    const char* zat = points_[at].name.c_str();
    add(zat, Sensor(zat, zones_[i].temp, 0.05, elapsed));
    add(points_[at + 1].name.c_str(), 100 * zones_[i].damper);
    add(points_[at + 2].name.c_str(), 100 * zones_[i].reheat);
  }
  *time = now_;
  return true;
}

std::string AhuSimulator::Message(UnixMillis time, const std::vector<SimReading>& readings, bool describe) const {
  std::string ttl(TurtlePrefixHeader());
  const std::string stamp = FormatIsoUtc(time);
  for (const SimReading& r : describe ? readings : std::vector<SimReading>{}) {
    const auto p = std::find_if(points_.begin(), points_.end(), [&r](const PointInfo& i) { return i.name == r.point; });
    if (p == points_.end()) continue;
    AppendIri(&ttl, options_.ns + p->name);
    ttl += " a ";
    AppendIri(&ttl, p->brick_class);
    ttl += " ;\n    brick:isPointOf ";
    AppendIri(&ttl, options_.ns + p->equipment);
    if (!p->unit.empty()) ttl += " ;\n    brick:hasUnit unit:" + p->unit;
    ttl += " .\n";
  }
  char value[32];
  for (const SimReading& r : readings) {
    std::snprintf(value, sizeof value, "%.4g", r.value);
    AppendIri(&ttl, options_.ns + r.point);
    ttl += std::string(" brick:lastKnownValue [ brick:value \"") + value + "\"^^xsd:double ;\n    brick:timestamp \"" +
           stamp + "\"^^xsd:dateTime ] .\n";
  }
  return ttl;
}

}  // namespace brickcast
