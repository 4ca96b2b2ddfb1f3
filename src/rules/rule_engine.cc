#include "brickcast/rule_engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <set>
#include <map>
#include <unordered_set>

#include "brickcast/units.h"

namespace brickcast {
namespace {

struct BindingState {
  RuleBinding binding;
  std::unique_ptr<Condition> condition;
  std::string system;
  UnixMillis last_step = 0;  // start of the last step evaluated; 0: none yet
};
// RuleInputs over the store, the forecasts and the registry, for one binding.
class LiveInputs : public RuleInputs {
 public:
  using PastForecasts = std::unordered_map<std::string, std::deque<PointForecast>>;
  LiveInputs(const SeriesStore& store, const ForecastLookup& forecasts, const PointRegistry& registry,
             const PastForecasts& past, const RuleBinding& b)
      : store_(store), forecasts_(forecasts), registry_(registry), past_(past), step_(store.options().step_ms), b_(b) {}
  int64_t step_ms() const override { return step_; }
  double StepValue(const std::string& input, UnixMillis t) const override {
    auto w = store_.Window(Point(input), t + step_, 1);
    return w && !w->values.empty() ? w->values[0] : NAN;
  }
  std::vector<double> Recent(const std::string& input, UnixMillis t, size_t steps) const override {
    auto w = store_.Window(Point(input), t + step_, steps);
    if (!w) return {};
    for (size_t i = 0; i < w->values.size(); ++i) {
      if (!w->observed[i]) w->values[i] = NAN;
    }
    return w->values;
  }
  UnixMillis LastObserved(const std::string& input, UnixMillis t, size_t steps) const override {
    auto w = store_.Window(Point(input), t + step_, steps);
    if (!w) return 0;
    for (size_t i = w->values.size(); i-- > 0;) {
      if (w->observed[i]) return w->start + static_cast<int64_t>(i) * w->step_ms;
    }
    return 0;
  }
  std::optional<PointForecast> Forecast(const std::string& input, UnixMillis t) const override {
    if (!forecasts_) return std::nullopt;
    const std::string& point = Point(input);
    if (t == 0) return forecasts_(point);
    // The newest forecast made before step t whose horizon covers it.
    auto covers = [&](const PointForecast& f) {
      return f.status == ForecastStatus::kOk && f.window_end <= t &&
             t < f.window_end + static_cast<int64_t>(f.steps.size()) * f.step_ms;
    };
    auto it = past_.find(point);
    if (it == past_.end()) return std::nullopt;
    for (auto f = it->second.rbegin(); f != it->second.rend(); ++f) {
      if (covers(*f)) return *f;
    }
    return std::nullopt;
  }
  std::string Unit(const std::string& input) const override {
    auto info = registry_.Get(Point(input));
    const UnitInfo* u = info ? FindUnit(info->unit) : nullptr;
    return u ? std::string(u->si_symbol) : "";
  }
  std::string Point(const std::string& input) const override {
    auto it = b_.points.find(input);
    return it == b_.points.end() ? std::string() : it->second;
  }

 private:
  const SeriesStore& store_;
  const ForecastLookup& forecasts_;
  const PointRegistry& registry_;
  const PastForecasts& past_;
  const int64_t step_;
  const RuleBinding& b_;
};


}  // namespace

struct RuleEngine::Impl {
  Impl(const SeriesStore& s, ForecastLookup f, const PointRegistry& r, AlertManager& a, RuleEngineOptions o)
      : store(s), forecasts(std::move(f)), registry(r), alerts(a), options(o), step(s.options().step_ms) {}

  const SeriesStore& store;
  const ForecastLookup forecasts;
  const PointRegistry& registry;
  AlertManager& alerts;
  const RuleEngineOptions options;
  const int64_t step;

  mutable std::mutex mu;  // everything below; held while evaluating
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const BrickModel> model;
  std::vector<std::unique_ptr<BindingState>> bindings;
  std::unordered_map<std::string, std::vector<BindingState*>> by_system;     // step-driven bindings
  std::unordered_map<std::string, std::vector<BindingState*>> by_forecast;   // forecast-driven, by input point
  std::unordered_map<std::string, std::string> system_of;                    // point -> system (cache)
  std::unordered_map<std::string, UnixMillis> watermark;                     // system -> newest data time
  // Steps in which a system reported anything. Steps of a gap in the whole feed are not
  // evaluated: "stale" means silent while the equipment reports, not a dead feed.
  std::unordered_map<std::string, std::set<UnixMillis>> active_steps;
  std::unordered_set<std::string> remember_forecasts;                        // points residual rules read
  std::unordered_map<std::string, std::deque<PointForecast>> past_forecasts;  // newest last
  std::map<std::string, RuleStatus> status;                                  // by rule id
  RuleEngineCounters counters;

  const std::string& SystemOf(const std::string& point) {
    auto it = system_of.find(point);
    if (it != system_of.end()) return it->second;
    std::string sys = point;
    if (model) {
      if (model->Find(point) != nullptr) {
        sys = model->SystemOf(point);
      } else if (auto info = registry.Get(point); info && !info->equipment.empty()) {
        sys = model->Find(info->equipment) != nullptr ? model->SystemOf(info->equipment) : info->equipment;
      }
    }
    return system_of.emplace(point, std::move(sys)).first->second;
  }

  void Remember(const std::string& point) {
    if (!forecasts || !remember_forecasts.count(point)) return;
    std::optional<PointForecast> f = forecasts(point);
    if (!f || f->status != ForecastStatus::kOk) return;
    auto& past = past_forecasts[point];
    if (!past.empty() && past.back().window_end >= f->window_end) return;
    past.push_back(std::move(*f));
    while (past.size() > 8) past.pop_front();
  }

  void Evaluate(BindingState& b, UnixMillis t);
};


void RuleEngine::Impl::Evaluate(BindingState& b, UnixMillis t) {
  const auto t0 = std::chrono::steady_clock::now();
  LiveInputs inputs(store, forecasts, registry, past_forecasts, b.binding);
  const ConditionResult r = b.condition->Evaluate(inputs, t);
  alerts.Apply(b.binding, r);
  counters.evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++counters.evaluations;
  RuleStatus& s = status[b.binding.rule->id];
  ++s.evaluations;
  s.faults += r.outcome == Outcome::kFault;
  s.no_data += r.outcome == Outcome::kNoData;
  s.last_evaluated = std::max(s.last_evaluated, r.time);
}

RuleEngine::RuleEngine(const SeriesStore& store, ForecastLookup forecasts, const PointRegistry& registry,
                       AlertManager& alerts, RuleEngineOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(forecasts), registry, alerts, options)) {}

RuleEngine::~RuleEngine() = default;

void RuleEngine::SetRules(std::shared_ptr<const RuleSet> rules, std::shared_ptr<const BrickModel> model) {
  RuleResolution resolved = ResolveRules(*rules, *model);
  impl_->alerts.SetModel(model);
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  std::map<std::pair<std::string, std::string>, UnixMillis> kept;
  for (const auto& b : e.bindings) kept[{b->binding.rule->id, b->binding.equipment}] = b->last_step;
  e.rules = std::move(rules);
  e.model = std::move(model);
  e.bindings.clear();
  e.by_system.clear();
  e.by_forecast.clear();
  e.system_of.clear();
  e.remember_forecasts.clear();
  std::map<std::string, RuleStatus> status;
  for (const auto& rule : e.rules->rules) status[rule->id].rule = rule;
  for (RuleBinding& rb : resolved.bindings) {
    auto b = std::make_unique<BindingState>();
    b->condition = MakeCondition(rb.rule);
    b->system = e.model->SystemOf(rb.equipment);
    auto k = kept.find({rb.rule->id, rb.equipment});
    if (k != kept.end()) b->last_step = k->second;
    status[rb.rule->id].equipment.push_back(rb.equipment);
    if (b->condition->on_forecast()) {
      for (const auto& [name, point] : rb.points) e.by_forecast[point].push_back(b.get());
    } else {
      e.by_system[b->system].push_back(b.get());
    }
    if (rb.rule->kind == RuleKind::kResidual) {
      for (const auto& [name, point] : rb.points) e.remember_forecasts.insert(point);
    }
    b->binding = std::move(rb);
    e.bindings.push_back(std::move(b));
  }
  for (RuleNotApplicable& na : resolved.not_applicable) status[na.rule].not_applicable.push_back(std::move(na));
  // Counts of rules that stay carry over.
  for (auto& [id, s] : status) {
    auto old = e.status.find(id);
    if (old == e.status.end()) continue;
    s.evaluations = old->second.evaluations;
    s.faults = old->second.faults;
    s.no_data = old->second.no_data;
    s.last_evaluated = old->second.last_evaluated;
  }
  e.status = std::move(status);
  e.counters.bindings = e.bindings.size();
  e.counters.rules = e.rules->rules.size();
  spdlog::info("rules: {} rules, {} bindings, {} not applicable", e.rules->rules.size(), e.bindings.size(),
               resolved.not_applicable.size());
}

void RuleEngine::OnObservations(const ObservationsApplied& applied) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  if (e.bindings.empty()) return;
  // Systems touched, in order of appearance (a message usually holds one).
  std::vector<std::string> systems;
  for (const std::string& p : applied.points) {
    e.Remember(p);
    const std::string& sys = e.SystemOf(p);
    if (std::find(systems.begin(), systems.end(), sys) == systems.end()) systems.push_back(sys);
  }
  const UnixMillis earliest = applied.earliest_time != 0 ? applied.earliest_time : applied.latest_time;
  for (const std::string& sys : systems) {
    std::set<UnixMillis>& active = e.active_steps[sys];
    for (UnixMillis t = earliest - earliest % e.step; t <= applied.latest_time && active.size() < 100000; t += e.step)
      active.insert(t);
    UnixMillis& mark = e.watermark[sys];
    if (applied.latest_time <= mark) continue;
    const UnixMillis before = mark - mark % e.step;
    mark = applied.latest_time;
    const UnixMillis closed_until = mark - mark % e.step;  // steps before this one are closed
    if (closed_until == before) continue;
    ++e.counters.steps_closed;
    auto it = e.by_system.find(sys);
    if (it == e.by_system.end()) continue;
    for (BindingState* b : it->second) {
      UnixMillis first = b->last_step != 0 ? b->last_step + e.step : closed_until - e.step;
      const UnixMillis catch_up_from = closed_until - static_cast<int64_t>(e.options.max_catch_up_steps) * e.step;
      if (first < catch_up_from) {
        e.counters.skipped_steps += static_cast<uint64_t>((catch_up_from - first) / e.step);
        first = catch_up_from;
      }
      for (UnixMillis t = first; t < closed_until; t += e.step) {
        if (active.count(t)) e.Evaluate(*b, t);
        b->last_step = t;
      }
    }
    // Steps older than any catch-up can reach are not needed again.
    const UnixMillis horizon = closed_until - static_cast<int64_t>(e.options.max_catch_up_steps + 1) * e.step;
    active.erase(active.begin(), active.lower_bound(horizon));
  }
}

void RuleEngine::OnForecast(const ForecastProduced& produced) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  e.Remember(produced.point);
  auto it = e.by_forecast.find(produced.point);
  if (it == e.by_forecast.end()) return;
  for (BindingState* b : it->second) e.Evaluate(*b, produced.window_end);
}

void RuleEngine::Drop(const std::vector<std::string>& points) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  std::unordered_set<std::string> systems;
  for (const std::string& p : points) {
    systems.insert(e.SystemOf(p));
    e.past_forecasts.erase(p);
  }
  for (const std::string& sys : systems) {
    e.watermark.erase(sys);
    e.active_steps.erase(sys);
    auto it = e.by_system.find(sys);
    if (it == e.by_system.end()) continue;
    for (BindingState* b : it->second) b->last_step = 0;
  }
}

std::vector<RuleStatus> RuleEngine::Status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RuleStatus> out;
  for (const auto& [id, s] : impl_->status) out.push_back(s);
  return out;
}

RuleEngineCounters RuleEngine::Counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counters;
}

void CollectRuleMetrics(const RuleEngine& engine, MetricWriter& w) {
  const RuleEngineCounters c = engine.Counters();
  w.Gauge("brickcast_rules", "Rules loaded.", static_cast<double>(c.rules));
  w.Gauge("brickcast_rule_bindings", "Rule x equipment pairs evaluated.", static_cast<double>(c.bindings));
  w.Counter("brickcast_rule_evaluations_total", "Rule evaluations (one binding, one step or forecast).",
            static_cast<double>(c.evaluations));
  w.Counter("brickcast_rule_evaluation_seconds_total", "Time spent evaluating rules and updating alerts.",
            c.evaluation_seconds);
  w.Counter("brickcast_rule_steps_closed_total", "Steps closed by the data of an air-handling system.",
            static_cast<double>(c.steps_closed));
  w.Counter("brickcast_rule_skipped_steps_total", "Closed steps not evaluated after a gap (max_catch_up_steps).",
            static_cast<double>(c.skipped_steps));
  for (const RuleStatus& s : engine.Status()) {
    w.Counter("brickcast_rule_faults_total", "Evaluations that found the condition, by rule.",
              static_cast<double>(s.faults), {{"rule", s.rule ? s.rule->id : ""}});
  }
}

}  // namespace brickcast
