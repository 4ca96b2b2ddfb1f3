// A RuleInputs of step values given per input, as the store would return them: rule kinds are
// tested against tables of values with no store, forecaster or engine.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/rules.h"

namespace brickcast::testing {

class TableInputs : public RuleInputs {
 public:
  std::map<std::string, std::map<UnixMillis, double>> values;
  std::map<std::string, PointForecast> forecasts;
  std::map<std::string, std::string> units;  // by input; degC when not given
  int64_t step = 300'000;

  int64_t step_ms() const override { return step; }
  double StepValue(const std::string& input, UnixMillis t) const override {
    auto it = values.find(input);
    if (it == values.end()) return NAN;
    auto v = it->second.find(t);
    return v == it->second.end() ? NAN : v->second;
  }
  std::vector<double> Recent(const std::string& input, UnixMillis t, size_t steps) const override {
    std::vector<double> out;
    for (size_t i = 0; i < steps; ++i) out.push_back(StepValue(input, t - static_cast<int64_t>(steps - 1 - i) * step));
    return out;
  }
  UnixMillis LastObserved(const std::string& input, UnixMillis t, size_t steps) const override {
    auto v = values.find(input);
    if (v == values.end()) return 0;
    for (auto it = v->second.rbegin(); it != v->second.rend(); ++it) {
      if (it->first <= t && it->first > t - static_cast<int64_t>(steps) * step) return it->first;
    }
    return 0;
  }
  Range ObservedRange(const std::string& input, UnixMillis t, size_t steps, double) const override {
    return RangeOfValues(Recent(input, t, steps));
  }
  const PointForecast* Forecast(const std::string& input, UnixMillis) const override {
    auto it = forecasts.find(input);
    return it == forecasts.end() ? nullptr : &it->second;
  }
  std::string Unit(const std::string& input) const override {
    auto it = units.find(input);
    return it == units.end() ? "degC" : it->second;
  }
  std::string Point(const std::string& input) const override { return "urn:p#" + input; }
  // A learning condition's state (Condition::NewState), kept by the test across steps.
  std::unique_ptr<ConditionState> state;
  ConditionState* State() const override { return state.get(); }
};

}  // namespace brickcast::testing
