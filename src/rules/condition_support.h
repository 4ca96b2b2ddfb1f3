// Helpers shared by the rule kinds (conditions.cc, g36.cc): value formatting with units and the
// evidence of one input. Internal to src/rules.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "brickcast/rules.h"

namespace brickcast::rules_internal {

// "21.30 degC", "45 %" (a fraction), "n/a".
inline std::string Format(double v, const std::string& unit) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  if (unit == "1") {
    std::snprintf(buf, sizeof buf, "%.0f %%", v * 100);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (!unit.empty()) s += " " + unit;
  return s;
}

// A difference of two temperatures is in kelvin, not degrees Celsius.
inline std::string DifferenceUnit(const std::string& unit, char op) {
  return op == '-' && unit == "degC" ? "K" : unit;
}

inline EvidenceValue InputEvidence(const RuleInputs& in, const std::string& name, double v) {
  return EvidenceValue{name, in.Point(name), v, in.Unit(name)};
}

}  // namespace brickcast::rules_internal
