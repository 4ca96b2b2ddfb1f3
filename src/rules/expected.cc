// kind "expected": an expected-behaviour detector. Per binding (one air handler), the target
// (e.g. SAT - MAT, or the cooling valve command) is learned as a linear function of regressor
// terms (the valve commands, the outside-air share of the mixing, ...) plus a constant, online by
// recursive least squares with exponential forgetting, from the unit's own normal operation: the
// engine calls Learn only on judged steps (gates open) that were normal while the alert was
// inactive. Once `learn_steps` steps are learned, a step whose target deviates from the expected
// value by more than k x the mean absolute residual of normal operation (and by min_deviation) is
// a fault: a leaking valve warms the supply air with the valve closed, a stuck damper mixes air
// its command does not explain, a controller compensates harder than the weather asks for.
//
// The residual scale is the exponentially weighted mean of the absolute residuals seen before
// each update (out of sample, so it measures how well the model predicts, not how well it fits).
// What is learned lives in memory: a restart learns again (documented in the README).
#include "rules/expected.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "rules/condition_support.h"

namespace brickcast {
namespace {

using rules_internal::DifferenceUnit;
using rules_internal::Format;
using rules_internal::InputEvidence;

// Recursive least squares with forgetting over d = terms + 1 (the constant) coefficients.
class Learned : public ConditionState {
 public:
  explicit Learned(size_t d) : d_(d), theta_(d, 0.0), p_(d * d, 0.0) {
    for (size_t i = 0; i < d; ++i) p_[i * d + i] = 1e4;  // a vague start: the data decides
  }
  size_t learned() const { return n_; }
  double scale() const { return scale_; }
  // x' P x: how far x lies from the operating points learned (P is the inverse of their
  // forgetting-weighted scatter), relative to the average over them, d / effective memory.
  double RelativeLeverage(const std::vector<double>& x, double lambda) const {
    double h = 0;
    for (size_t i = 0; i < d_; ++i)
      for (size_t j = 0; j < d_; ++j) h += x[i] * p_[i * d_ + j] * x[j];
    const double memory = std::min(static_cast<double>(n_), lambda < 1 ? 1.0 / (1.0 - lambda) : static_cast<double>(n_));
    return h / (static_cast<double>(d_) / std::max(1.0, memory));
  }
  double Predict(const std::vector<double>& x) const {
    double y = 0;
    for (size_t i = 0; i < d_; ++i) y += theta_[i] * x[i];
    return y;
  }
  void Update(const std::vector<double>& x, double y, double lambda) {
    const double residual = y - Predict(x);
    // The scale first, from the residual the model had not seen: its mean absolute size.
    if (n_ > d_) {
      const double w = 1.0 / static_cast<double>(std::min<size_t>(n_ - d_, 500));
      scale_ = std::isnan(scale_) ? std::abs(residual) : scale_ + w * (std::abs(residual) - scale_);
    }
    // P x, then the gain k = P x / (lambda + x' P x), theta += k r, P = (P - k x' P) / lambda.
    std::vector<double> px(d_, 0.0);
    for (size_t i = 0; i < d_; ++i)
      for (size_t j = 0; j < d_; ++j) px[i] += p_[i * d_ + j] * x[j];
    double denominator = lambda;
    for (size_t i = 0; i < d_; ++i) denominator += x[i] * px[i];
    if (!(denominator > 0) || !std::isfinite(denominator)) return;
    for (size_t i = 0; i < d_; ++i) theta_[i] += px[i] / denominator * residual;
    for (size_t i = 0; i < d_; ++i)
      for (size_t j = 0; j < d_; ++j) p_[i * d_ + j] = (p_[i * d_ + j] - px[i] * px[j] / denominator) / lambda;
    // Bounded: forgetting with unexciting inputs (a valve closed for days) blows P up.
    for (size_t i = 0; i < d_; ++i) p_[i * d_ + i] = std::min(p_[i * d_ + i], 1e6);
    ++n_;
  }
  const std::vector<double>& theta() const { return theta_; }

 private:
  size_t d_;
  std::vector<double> theta_, p_;
  size_t n_ = 0;
  double scale_ = NAN;
};

class ExpectedCondition : public Condition {
 public:
  explicit ExpectedCondition(std::shared_ptr<const RuleSpec> r) : rule_(std::move(r)) {}

  std::unique_ptr<ConditionState> NewState() const override {
    return std::make_unique<Learned>(rule_->regressors.size() + 1);
  }

  ConditionResult Evaluate(const RuleInputs& in, UnixMillis t, bool explain) const override {
    const RuleSpec& r = *rule_;
    ConditionResult out;
    out.time = t;
    std::vector<double> x;
    const double y = Target(in, t);
    const bool complete = Terms(in, t, &x) && !std::isnan(y);
    out.primary_value = y;
    const auto* learned = dynamic_cast<const Learned*>(in.State());
    const bool ready = learned != nullptr && learned->learned() >= r.learn_steps && !std::isnan(learned->scale());
    const double expected = complete && learned != nullptr ? learned->Predict(x) : NAN;
    const double allowed = ready ? std::max(r.expected_k * learned->scale(), r.min_deviation) : NAN;
    const double deviation = y - expected;
    // An operating point unlike those learned (a damper position never seen in normal operation)
    // is not judged: the linear model would be extrapolating.
    const double leverage = ready && complete ? learned->RelativeLeverage(x, r.forgetting) : NAN;
    const bool familiar = ready && complete && leverage <= r.max_leverage;
    out.outcome = !complete                                     ? Outcome::kNoData
                  : familiar && std::abs(deviation) > allowed ? Outcome::kFault
                                                                : Outcome::kNormal;
    if (!explain) return out;
    for (const std::string& name : InputNames()) out.values.push_back(InputEvidence(in, name, in.StepValue(name, t)));
    if (!complete) {
      for (const EvidenceValue& e : out.values) {
        if (std::isnan(e.value)) out.missing.push_back(e.name);
      }
      out.detail = "no data for " + (out.missing.empty() ? r.value.a : out.missing.front()) + " in this step";
      return out;
    }
    const std::string unit = DifferenceUnit(in.Unit(r.value.a), r.value.op);
    out.values.push_back(EvidenceValue{"value", "", y, unit});
    if (!ready) {
      out.detail = "learning normal operation (" + std::to_string(learned != nullptr ? learned->learned() : 0) + " of " +
                   std::to_string(r.learn_steps) + " steps)";
      return out;
    }
    if (!familiar) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "not judged: an operating point unlike those learned (leverage %.1fx the average)",
                    leverage);
      out.detail = buf;
      return out;
    }
    out.thresholds.push_back(EvidenceValue{"expected", "", expected, unit});
    out.thresholds.push_back(EvidenceValue{"allowed_deviation", "", allowed, unit == "degC" ? "K" : unit});
    char what[64];
    std::snprintf(what, sizeof what, "%.1f", std::abs(deviation) / learned->scale());
    out.detail = r.value.text() + " = " + Format(y, unit) + ", expected " + Format(expected, unit) + " from " +
                 TermsText() + " (" + what + "x the usual deviation" +
                 (out.outcome == Outcome::kFault ? ")" : ", within the allowed " + Format(allowed, unit) + ")");
    return out;
  }

  void Learn(const RuleInputs& in, UnixMillis t) const override {
    auto* learned = dynamic_cast<Learned*>(in.State());
    if (learned == nullptr) return;
    std::vector<double> x;
    const double y = Target(in, t);
    if (!Terms(in, t, &x) || std::isnan(y)) return;
    learned->Update(x, y, rule_->forgetting);
  }

 private:
  static double Value(const RuleInputs& in, const ValueExpr& e, UnixMillis t) {
    const double a = in.StepValue(e.a, t);
    if (e.op == 0) return a;
    const double b = in.StepValue(e.b, t);
    return e.op == '-' ? a - b : a + b;
  }
  double Target(const RuleInputs& in, UnixMillis t) const { return Value(in, rule_->value, t); }
  // The constant first, then each term (a product of its factors); false when one has no data.
  bool Terms(const RuleInputs& in, UnixMillis t, std::vector<double>* x) const {
    x->assign(1, 1.0);
    for (const std::vector<ValueExpr>& term : rule_->regressors) {
      double v = 1;
      for (const ValueExpr& f : term) v *= Value(in, f, t);
      if (std::isnan(v)) return false;
      x->push_back(v);
    }
    return true;
  }
  std::vector<std::string> InputNames() const {
    std::vector<std::string> names;
    auto add = [&names](const std::string& n) {
      if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    add(rule_->value.a);
    add(rule_->value.b);
    for (const auto& term : rule_->regressors)
      for (const ValueExpr& f : term) add(f.a), add(f.b);
    return names;
  }
  std::string TermsText() const {
    std::string s;
    for (const auto& term : rule_->regressors) {
      if (!s.empty()) s += ", ";
      for (size_t i = 0; i < term.size(); ++i) s += (i ? " * " : "") + term[i].text();
    }
    return s;
  }

  std::shared_ptr<const RuleSpec> rule_;
};

}  // namespace

std::unique_ptr<Condition> MakeExpectedCondition(std::shared_ptr<const RuleSpec> rule) {
  return std::make_unique<ExpectedCondition>(std::move(rule));
}

}  // namespace brickcast
