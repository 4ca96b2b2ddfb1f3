// The synthetic site the benchmarks share: N air handlers of ten points each, laid out as the
// LBNL units are (supply fan, coil valves and outside damper as parts, so the G36 conditions and
// the sensor-health rules all bind), and one Turtle message per air handler and step.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "brickcast/time.h"

namespace brickcast::bench {

struct SitePoint {
  const char* name;
  const char* brick_class;
  const char* unit;
  const char* part;  // "" = a point of the air handler itself
};
inline constexpr int kSitePoints = 10;
inline constexpr SitePoint kSite[kSitePoints] = {
    {"SAT", "Supply_Air_Temperature_Sensor", "DEG_C", ""},
    {"OAT", "Outside_Air_Temperature_Sensor", "DEG_C", ""},
    {"MAT", "Mixed_Air_Temperature_Sensor", "DEG_C", ""},
    {"RAT", "Return_Air_Temperature_Sensor", "DEG_C", ""},
    {"SATSP", "Supply_Air_Temperature_Setpoint", "DEG_C", ""},
    {"OCC", "Occupied_Mode_Status", "", ""},
    {"SF_ON", "Fan_Status", "", "Supply_Fan"},
    {"ECO", "Damper_Position_Command", "PERCENT", "Outside_Damper"},
    {"CLG", "Valve_Command", "PERCENT", "Cooling_Valve"},
    {"HTG", "Valve_Command", "PERCENT", "Heating_Valve"},
};

// The site's Brick model; equipment IRIs are urn:bench#AHU<a>.
inline std::string SiteModelTurtle(int ahus) {
  std::string ttl = "@prefix b: <urn:bench#> .\n";
  for (int a = 0; a < ahus; ++a) {
    const std::string ahu = "b:AHU" + std::to_string(a);
    ttl += ahu + " a brick:Air_Handling_Unit ; brick:hasPart " + ahu + "_Supply_Fan, " + ahu + "_Outside_Damper, " +
           ahu + "_CHW_Coil, " + ahu + "_HW_Coil ; brick:hasPoint " + ahu + "_SAT, " + ahu + "_OAT, " + ahu + "_MAT, " +
           ahu + "_RAT, " + ahu + "_SATSP, " + ahu + "_OCC .\n";
    ttl += ahu + "_Supply_Fan a brick:Supply_Fan ; brick:hasPoint " + ahu + "_SF_ON .\n";
    ttl += ahu + "_Outside_Damper a brick:Outside_Damper ; brick:hasPoint " + ahu + "_ECO .\n";
    ttl += ahu + "_CHW_Coil a brick:Chilled_Water_Coil ; brick:hasPart " + ahu + "_Cooling_Valve .\n";
    ttl += ahu + "_Cooling_Valve a brick:Cooling_Valve ; brick:hasPoint " + ahu + "_CLG .\n";
    ttl += ahu + "_HW_Coil a brick:Hot_Water_Coil ; brick:hasPart " + ahu + "_Heating_Valve .\n";
    ttl += ahu + "_Heating_Valve a brick:Heating_Valve ; brick:hasPoint " + ahu + "_HTG .\n";
    for (const SitePoint& p : kSite) {
      ttl += ahu + "_" + p.name + " a brick:" + p.brick_class +
             (*p.unit != 0 ? std::string(" ; brick:hasUnit unit:") + p.unit : std::string()) + " .\n";
    }
  }
  return ttl;
}

// A healthy unit in free cooling, occupied with its fan on: every rule judges every step.
inline double SiteValue(int p, int a, int step) {
  const double wave = std::sin(step * 0.1 + a + p);
  switch (p) {
    case 0: return 14 + 0.5 * wave;  // SAT: MAT plus fan heat
    case 1: return 12 + 3 * wave;    // OAT
    case 2: return 13 + 0.5 * wave;  // MAT
    case 3: return 22 + 0.5 * wave;  // RAT
    case 4: return 13;               // SATSP
    case 5: case 6: return 1;        // occupied, fan proven on
    case 7: return 60 + 5 * wave;    // ECO, %
    default: return 0;               // valves closed
  }
}

// One air handler's step: brick:lastKnownValue for each point, stamped 30 s into the step that
// starts at t0 + step x step_ms. `sat` replaces the supply air temperature when it is not NaN.
inline std::string SiteMessage(int a, int step, UnixMillis t0, int64_t step_ms, double sat = NAN) {
  const std::string time = FormatIsoUtc(t0 + step * step_ms + 30'000);
  std::string ttl = "@prefix b: <urn:bench#> .\n";
  for (int p = 0; p < kSitePoints; ++p) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", p == 0 && !std::isnan(sat) ? sat : SiteValue(p, a, step));
    ttl += "b:AHU" + std::to_string(a) + "_" + kSite[p].name + " brick:lastKnownValue [ brick:value " + buf +
           " ; brick:timestamp \"" + time + "\" ] .\n";
  }
  return ttl;
}

}  // namespace brickcast::bench
