// Helpers shared by the rule kinds (conditions.cc, g36.cc): value formatting with units and the
// evidence of one input. Internal to src/rules.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

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

// The key of a shared derivation (RuleInputs::Shared), built from everything that defines it:
// what is derived, the definitions of the inputs it reads and its parameters (FNV-1a).
class DerivationKey {
 public:
  explicit DerivationKey(std::string_view what) { Add(what); }
  DerivationKey& Add(std::string_view s) {
    for (unsigned char c : s) Mix(c);
    Mix(0x100);  // a separator no byte equals
    return *this;
  }
  DerivationKey& Add(double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    Mix(bits);
    return *this;
  }
  // An input as the rule defines it (class, path, fallbacks), found by name; absent names count.
  DerivationKey& AddInput(const RuleSpec& rule, const std::string& name) {
    Add(name);
    for (const RuleInput& in : rule.inputs) {
      if (in.name != name) continue;
      Add(in.point_class);
      for (const std::string& p : in.path) Add(p);
      Add("|");
      for (const std::string& o : in.otherwise) Add(o);
    }
    return *this;
  }
  uint64_t value() const { return h_; }

 private:
  void Mix(uint64_t x) { h_ = (h_ ^ x) * 0x100000001B3ULL; }
  uint64_t h_ = 0xCBF29CE484222325ULL;
};

inline EvidenceValue InputEvidence(const RuleInputs& in, const std::string& name, double v) {
  return EvidenceValue{name, in.Point(name), v, in.Unit(name)};
}

}  // namespace brickcast::rules_internal
