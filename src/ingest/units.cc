#include "brickcast/units.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <string>

namespace brickcast {
namespace {

constexpr double kInH2OPa = 249.08891;
constexpr double kPsiPa = 6894.757293168;
constexpr double kCfmM3s = 0.00047194745;
constexpr double kGpmM3s = 6.30901964e-5;

// QUDT local names first, then accepted spellings that users send.
constexpr std::array<UnitInfo, 40> kUnits = {{
    {"DEG_C", Quantity::kTemperature, 1.0, 0.0, "degC"},
    {"DEG_F", Quantity::kTemperature, 5.0 / 9.0, -32.0 * 5.0 / 9.0, "degC"},
    {"K", Quantity::kTemperature, 1.0, -273.15, "degC"},
    {"PA", Quantity::kPressure, 1.0, 0.0, "Pa"},
    {"KiloPA", Quantity::kPressure, 1000.0, 0.0, "Pa"},
    {"HectoPA", Quantity::kPressure, 100.0, 0.0, "Pa"},
    {"IN_H2O", Quantity::kPressure, kInH2OPa, 0.0, "Pa"},
    {"PSI", Quantity::kPressure, kPsiPa, 0.0, "Pa"},
    {"BAR", Quantity::kPressure, 1e5, 0.0, "Pa"},
    {"PERCENT", Quantity::kFraction, 0.01, 0.0, "1"},
    {"PERCENT_RH", Quantity::kFraction, 0.01, 0.0, "1"},
    {"FRACTION", Quantity::kFraction, 1.0, 0.0, "1"},
    {"UNITLESS", Quantity::kDimensionless, 1.0, 0.0, "1"},
    {"NUM", Quantity::kDimensionless, 1.0, 0.0, "1"},
    {"M3-PER-SEC", Quantity::kVolumeFlow, 1.0, 0.0, "m3/s"},
    {"L-PER-SEC", Quantity::kVolumeFlow, 0.001, 0.0, "m3/s"},
    {"M3-PER-HR", Quantity::kVolumeFlow, 1.0 / 3600.0, 0.0, "m3/s"},
    {"FT3-PER-MIN", Quantity::kVolumeFlow, kCfmM3s, 0.0, "m3/s"},
    {"GAL_US-PER-MIN", Quantity::kVolumeFlow, kGpmM3s, 0.0, "m3/s"},
    {"W", Quantity::kPower, 1.0, 0.0, "W"},
    {"KiloW", Quantity::kPower, 1000.0, 0.0, "W"},
    {"MegaW", Quantity::kPower, 1e6, 0.0, "W"},
    {"TON_FG", Quantity::kPower, 3516.8528, 0.0, "W"},
    {"BTU_IT-PER-HR", Quantity::kPower, 0.29307107, 0.0, "W"},
    {"J", Quantity::kEnergy, 1.0, 0.0, "J"},
    {"KiloW-HR", Quantity::kEnergy, 3.6e6, 0.0, "J"},
    {"HZ", Quantity::kFrequency, 1.0, 0.0, "Hz"},
    {"REV-PER-MIN", Quantity::kFrequency, 1.0 / 60.0, 0.0, "Hz"},
    {"M-PER-SEC", Quantity::kVelocity, 1.0, 0.0, "m/s"},
    {"FT-PER-MIN", Quantity::kVelocity, 0.00508, 0.0, "m/s"},
    {"PPM", Quantity::kConcentration, 1.0, 0.0, "ppm"},
    // Aliases (symbols people type); they resolve to the same conversion.
    {"degC", Quantity::kTemperature, 1.0, 0.0, "degC"},
    {"°C", Quantity::kTemperature, 1.0, 0.0, "degC"},
    {"degF", Quantity::kTemperature, 5.0 / 9.0, -32.0 * 5.0 / 9.0, "degC"},
    {"°F", Quantity::kTemperature, 5.0 / 9.0, -32.0 * 5.0 / 9.0, "degC"},
    {"Pa", Quantity::kPressure, 1.0, 0.0, "Pa"},
    {"inH2O", Quantity::kPressure, kInH2OPa, 0.0, "Pa"},
    {"%", Quantity::kFraction, 0.01, 0.0, "1"},
    {"cfm", Quantity::kVolumeFlow, kCfmM3s, 0.0, "m3/s"},
    {"1", Quantity::kDimensionless, 1.0, 0.0, "1"},
}};

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

std::string_view QuantityName(Quantity q) {
  switch (q) {
    case Quantity::kUnknown: return "unknown";
    case Quantity::kTemperature: return "temperature";
    case Quantity::kPressure: return "pressure";
    case Quantity::kFraction: return "fraction";
    case Quantity::kVolumeFlow: return "volume_flow";
    case Quantity::kPower: return "power";
    case Quantity::kEnergy: return "energy";
    case Quantity::kFrequency: return "frequency";
    case Quantity::kVelocity: return "velocity";
    case Quantity::kConcentration: return "concentration";
    case Quantity::kDimensionless: return "dimensionless";
  }
  return "unknown";
}

const UnitInfo* FindUnit(std::string_view name) {
  if (name.substr(0, kQudtUnitNs.size()) == kQudtUnitNs) {
    name.remove_prefix(kQudtUnitNs.size());
  } else if (name.substr(0, 5) == "unit:") {
    name.remove_prefix(5);
  }
  for (const UnitInfo& u : kUnits) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

std::string_view QudtNameOfStored(std::string_view si_symbol) {
  for (const UnitInfo& u : kUnits) {  // QUDT names come first in the table
    if (u.si_symbol == si_symbol && u.scale == 1.0 && u.offset == 0.0) return u.name;
  }
  return {};
}

Quantity QuantityOfClass(std::string_view c) {
  // Order matters: "Temperature_Setpoint" is a temperature, "Valve_Position_Command" a fraction.
  if (Contains(c, "Temperature")) return Quantity::kTemperature;
  if (Contains(c, "Pressure")) return Quantity::kPressure;
  if (Contains(c, "Humidity")) return Quantity::kFraction;
  if (Contains(c, "Flow_Ratio") || Contains(c, "Position") || Contains(c, "Damper_Command") ||
      Contains(c, "Valve_Command") || Contains(c, "Fan_Speed_Command"))
    return Quantity::kFraction;
  if (Contains(c, "Air_Flow") || Contains(c, "Water_Flow") || c == "Flow_Sensor" || c == "Flow_Setpoint")
    return Quantity::kVolumeFlow;
  if (Contains(c, "Power")) return Quantity::kPower;
  if (Contains(c, "Energy")) return Quantity::kEnergy;
  if (Contains(c, "CO2")) return Quantity::kConcentration;
  if (Contains(c, "Status") || Contains(c, "Start_Stop") || Contains(c, "On_Off") || Contains(c, "Alarm"))
    return Quantity::kDimensionless;
  return Quantity::kUnknown;
}

bool InPhysicalRange(Quantity q, double v) {
  if (!std::isfinite(v)) return false;
  switch (q) {
    case Quantity::kTemperature: return v >= -273.15 && v <= 2000.0;
    case Quantity::kPressure: return v >= -1e6 && v <= 1e8;
    case Quantity::kFraction: return v >= -1.0 && v <= 2.0;
    case Quantity::kVolumeFlow: return v >= -1e3 && v <= 1e3;
    case Quantity::kConcentration: return v >= 0.0 && v <= 1e6;
    case Quantity::kFrequency: return v >= -1e5 && v <= 1e5;
    default: return true;
  }
}

namespace {

// Leading number of `text` (strtod grammar); the rest goes to *rest, trimmed.
bool SplitNumber(std::string_view text, double* value, std::string_view* rest) {
  const std::string s(text);
  char* end = nullptr;
  *value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(*value)) return false;
  std::string_view r = text.substr(static_cast<size_t>(end - s.c_str()));
  while (!r.empty() && (r.front() == ' ' || r.front() == '\t')) r.remove_prefix(1);
  while (!r.empty() && (r.back() == ' ' || r.back() == '\t')) r.remove_suffix(1);
  *rest = r;
  return true;
}

}  // namespace

StatusOr<double> ParseQuantity(std::string_view text) {
  double v = 0;
  std::string_view unit;
  if (!SplitNumber(text, &v, &unit)) return Status::InvalidArgument("'" + std::string(text) + "' is not a number");
  if (unit.empty()) return v;
  bool delta = false;
  for (std::string_view prefix : {"delta_", "delta ", "Δ"}) {
    if (unit.substr(0, prefix.size()) == prefix) {
      unit.remove_prefix(prefix.size());
      delta = true;
      break;
    }
  }
  const UnitInfo* u = FindUnit(unit);
  if (u == nullptr) return Status::InvalidArgument("unknown unit '" + std::string(unit) + "' in '" + std::string(text) + "'");
  if (delta && u->quantity != Quantity::kTemperature)
    return Status::InvalidArgument("'" + std::string(text) + "': delta_ applies to temperature units only");
  return delta ? v * u->scale : v * u->scale + u->offset;
}

StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  double v = 0;
  std::string_view unit;
  if (!SplitNumber(text, &v, &unit) || v < 0)
    return Status::InvalidArgument("'" + std::string(text) + "' is not a duration (e.g. 30s, 15m, 2h, 1d)");
  double ms_per = 0;
  if (unit.empty() || unit == "s") ms_per = 1000;
  else if (unit == "ms") ms_per = 1;
  else if (unit == "m" || unit == "min") ms_per = 60'000;
  else if (unit == "h") ms_per = 3'600'000;
  else if (unit == "d") ms_per = 86'400'000;
  else return Status::InvalidArgument("'" + std::string(text) + "': duration units are ms, s, m, h, d");
  return static_cast<int64_t>(std::llround(v * ms_per));
}

}  // namespace brickcast
