// Units of measure: QUDT unit names, what they measure, and conversion to the SI form the
// daemon stores internally (°C, Pa, fraction 0-1, m³/s, W, J, Hz, m/s, ppm). Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "brickcast/status.h"

namespace brickcast {

enum class Quantity {
  kUnknown,
  kTemperature,
  kPressure,
  kFraction,  // ratios, percent commands and positions, relative humidity
  kVolumeFlow,
  kPower,
  kEnergy,
  kFrequency,
  kVelocity,
  kConcentration,  // ppm
  kDimensionless,  // on/off, counts, modes
};

std::string_view QuantityName(Quantity q);

struct UnitInfo {
  std::string_view name;  // QUDT local name: "DEG_F"
  Quantity quantity;
  double scale;   // si = value * scale + offset
  double offset;
  std::string_view si_symbol;  // the stored unit: "degC", "Pa", "1", ...
};

inline constexpr std::string_view kQudtUnitNs = "http://qudt.org/vocab/unit/";

// Accepts a QUDT IRI, a "unit:" CURIE, the local name ("DEG_F") or a common symbol ("°F", "degF",
// "%", "inH2O"). Returns nullptr when unknown.
const UnitInfo* FindUnit(std::string_view name_or_iri);
// The QUDT local name of a stored unit ("degC" -> "DEG_C", "Pa" -> "PA"); "" when there is none.
std::string_view QudtNameOfStored(std::string_view si_symbol);

// The quantity a Brick point class measures, from its local name ("Supply_Air_Temperature_Sensor"
// -> temperature). kUnknown when the class does not say (then any unit is accepted).
Quantity QuantityOfClass(std::string_view class_local_name);

// Physically possible range of a stored (SI) value of a quantity; values outside are rejected as
// out_of_range. Deliberately wide: it catches unit mistakes (55 stored as a fraction), not faults.
bool InPhysicalRange(Quantity q, double value);

// A parameter value with an optional unit, converted to the stored SI form: "30" or "30 degC"
// -> 30, "86 degF" -> 30, "50 %" -> 0.5, "1.5 inH2O" -> 373.6 Pa. A temperature *difference*
// converts by scale only, with no offset: "delta_degF" / "delta_DEG_F" / "delta_K" ("5 delta_degF"
// -> 2.78 K), since 5 °F warmer is 2.78 K warmer, not -15 °C.
StatusOr<double> ParseQuantity(std::string_view text);

// A duration: seconds as a number, or "<n>ms|s|m|h|d" ("15m", "1.5h"); milliseconds.
StatusOr<int64_t> ParseDurationMs(std::string_view text);

}  // namespace brickcast
