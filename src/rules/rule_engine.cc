#include "brickcast/rule_engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <array>
#include <climits>
#include <deque>
#include <set>
#include <map>
#include <unordered_set>

#include "brickcast/units.h"

namespace brickcast {
namespace {

// What one (rule, equipment) pair needs at evaluation; the fields read on every closed step come
// first (one cache line), the binding itself last.
struct BindingState {
  UnixMillis last_step = 0;  // start of the last step evaluated; 0: none yet
  bool active = false;       // its alert is pending, firing or no_data
  const Condition* condition = nullptr;  // the rule's, shared by all its bindings
  RuleStatus* status = nullptr;          // its rule's counters (in Impl::status)
  // The binding's inputs with their series found once (a handful: a linear search by name).
  struct Input {
    std::string name;
    SeriesStore::SeriesRef series;
    // The engine's memory of this point's forecasts (forecast rules only; entries are never
    // erased, so the pointer stays valid).
    const std::deque<std::shared_ptr<const PointForecast>>* forecasts = nullptr;
  };
  std::vector<Input> inputs;
  Input* Find(const std::string& name) {
    for (Input& in : inputs) {
      if (in.name == name) return &in;
    }
    return nullptr;
  }
  SeriesStore::SeriesRef& Series(const std::string& name) {
    static thread_local SeriesStore::SeriesRef none;
    Input* in = Find(name);
    return in != nullptr ? in->series : none;
  }
  std::string system;
  RuleBinding binding;
};
// RuleInputs over the store, the forecasts and the registry, for one binding.
class LiveInputs : public RuleInputs {
 public:
  using PastForecasts = std::unordered_map<std::string, std::deque<std::shared_ptr<const PointForecast>>>;
  LiveInputs(const SeriesStore& store, const ForecastLookup& forecasts, const PointRegistry& registry,
             const PastForecasts& past, BindingState& b)
      : store_(store), forecasts_(forecasts), registry_(registry), past_(past), step_(store.options().step_ms), b_(b) {}
  int64_t step_ms() const override { return step_; }
  double StepValue(const std::string& input, UnixMillis t) const override {
    return store_.ValueAt(b_.Series(input), t);
  }
  std::vector<double> Recent(const std::string& input, UnixMillis t, size_t steps) const override {
    auto w = store_.Window(PointRef(input), t + step_, steps);
    if (!w) return {};
    for (size_t i = 0; i < w->values.size(); ++i) {
      if (!w->observed[i]) w->values[i] = NAN;
    }
    return w->values;
  }
  Range ObservedRange(const std::string& input, UnixMillis t, size_t steps) const override {
    const SeriesStore::ObservedRange r = store_.RangeOf(b_.Series(input), t, steps);
    return Range{r.min, r.max, r.observed};
  }
  UnixMillis LastObserved(const std::string& input, UnixMillis t, size_t steps) const override {
    return store_.LastObservedStep(b_.Series(input), t, steps);
  }
  const PointForecast* Forecast(const std::string& input, UnixMillis t) const override {
    if (!forecasts_) return nullptr;
    const std::string& point = PointRef(input);
    const BindingState::Input* in = b_.Find(input);
    const std::deque<std::shared_ptr<const PointForecast>>* past = in != nullptr ? in->forecasts : nullptr;
    if (past == nullptr) {
      auto it = past_.find(point);
      if (it != past_.end()) past = &it->second;
    }
    if (t == 0) {
      // The newest: remembered when it was announced (OnForecast), else asked for now.
      if (past != nullptr && !past->empty()) return past->back().get();
      latest_ = forecasts_(point);
      return latest_ ? &*latest_ : nullptr;
    }
    // The newest forecast made before step t whose horizon covers it.
    if (past == nullptr) return nullptr;
    for (auto f = past->rbegin(); f != past->rend(); ++f) {
      const PointForecast& pf = **f;
      if (pf.status == ForecastStatus::kOk && pf.window_end <= t &&
          t < pf.window_end + static_cast<int64_t>(pf.steps.size()) * pf.step_ms)
        return &pf;
    }
    return nullptr;
  }
  std::string Unit(const std::string& input) const override {
    auto info = registry_.Get(PointRef(input));
    const UnitInfo* u = info ? FindUnit(info->unit) : nullptr;
    return u ? std::string(u->si_symbol) : "";
  }
  std::string Point(const std::string& input) const override { return PointRef(input); }

 private:
  const SeriesStore& store_;
  const ForecastLookup& forecasts_;
  const PointRegistry& registry_;
  const PastForecasts& past_;
  const int64_t step_;
  BindingState& b_;
  mutable std::optional<PointForecast> latest_;

  const std::string& PointRef(const std::string& input) const { return b_.Series(input).point(); }
};


}  // namespace

struct RuleEngine::Impl {
  Impl(const SeriesStore& s, ForecastLookup f, const PointRegistry& r, AlertManager& a, RuleEngineOptions o)
      : store(s), forecasts(std::move(f)), registry(r), alerts(a), options(Clamped(o)), step(s.options().step_ms) {}
  // The catch-up must fit the ring of active steps (SystemState::kSpan).
  static RuleEngineOptions Clamped(RuleEngineOptions o) {
    o.max_catch_up_steps = std::min<size_t>(o.max_catch_up_steps, 500);
    return o;
  }

  const SeriesStore& store;
  const ForecastLookup forecasts;
  const PointRegistry& registry;
  AlertManager& alerts;
  const RuleEngineOptions options;
  const int64_t step;

  mutable std::mutex mu;  // everything below; held while evaluating
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const BrickModel> model;
  std::map<std::string, std::unique_ptr<Condition>> conditions;  // one per rule (immutable, shared)
  std::vector<BindingState*> bindings;                            // all of them
  std::vector<std::unique_ptr<BindingState>> forecast_bindings;   // owned here; step-driven ones by their system
  // One air-handling system: its step-driven bindings (stored contiguously: a closing step walks
  // them all) and its data time.
  struct SystemState {
    std::vector<BindingState> bindings;
    UnixMillis watermark = 0;  // newest data time
    // Steps (by index: time / step) in which the system reported anything, as a bit ring over the
    // newest kSpan steps. Steps of a gap in the whole feed are not evaluated: "stale" means silent
    // while the equipment reports, not a dead feed.
    static constexpr int64_t kSpan = 512;
    int64_t newest_step = INT64_MIN;
    std::array<uint64_t, kSpan / 64> bits{};
    static size_t Slot(int64_t step) { return static_cast<size_t>(((step % kSpan) + kSpan) % kSpan); }
    bool Active(int64_t step) const {
      return newest_step != INT64_MIN && step <= newest_step && step > newest_step - kSpan &&
             (bits[Slot(step) / 64] >> (Slot(step) % 64) & 1) != 0;
    }
    void MarkActive(int64_t step) {
      if (newest_step != INT64_MIN && step <= newest_step - kSpan) return;  // older than any catch-up
      if (newest_step == INT64_MIN || step > newest_step) {
        const int64_t from = newest_step == INT64_MIN ? step - kSpan + 1 : std::max(newest_step + 1, step - kSpan + 1);
        for (int64_t k = from; k < step; ++k) bits[Slot(k) / 64] &= ~(1ULL << (Slot(k) % 64));
        newest_step = step;
      }
      bits[Slot(step) / 64] |= 1ULL << (Slot(step) % 64);
    }
    void ForgetSteps() {
      newest_step = INT64_MIN;
      bits.fill(0);
    }
  };
  // By system IRI; entries are never erased, so the pointers below stay valid across SetRules.
  std::unordered_map<std::string, SystemState> systems;
  // Point -> its system (null: a system without step-driven bindings). One lookup per point of
  // each message, the engine's main per-message cost.
  std::unordered_map<std::string, SystemState*, StringHash, std::equal_to<>> system_of;
  // Systems of a whole message's point list, by a 64-bit hash of the list: a stream sends the
  // same list for an equipment every step, so a message costs one lookup instead of one per point.
  std::unordered_map<uint64_t, std::vector<SystemState*>> systems_of_list;
  std::unordered_map<std::string, std::vector<BindingState*>> by_forecast;   // forecast-driven, by input point
  std::unordered_set<std::string> remember_forecasts;                        // points forecast rules read
  // The last forecasts of the points forecast rules read, newest last (shared with the service).
  std::unordered_map<std::string, std::deque<std::shared_ptr<const PointForecast>>> past_forecasts;
  std::map<std::string, RuleStatus> status;                                  // by rule id
  RuleEngineCounters counters;

  SystemState* SystemOf(const std::string& point) {
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
    auto known = systems.find(sys);
    SystemState* state = known == systems.end() ? nullptr : &known->second;
    system_of.emplace(point, state);
    return state;
  }

  // Keeps `produced` (or, from a publisher that did not attach it, the service's latest).
  void Remember(const ForecastProduced& produced) {
    if (!remember_forecasts.count(produced.point)) return;
    std::shared_ptr<const PointForecast> f = produced.forecast;
    if (!f && forecasts) {
      if (std::optional<PointForecast> got = forecasts(produced.point))
        f = std::make_shared<const PointForecast>(std::move(*got));
    }
    if (!f || f->status != ForecastStatus::kOk) return;
    auto& past = past_forecasts[produced.point];
    if (!past.empty() && past.back()->window_end >= f->window_end) return;
    past.push_back(std::move(f));
    while (past.size() > 8) past.pop_front();
  }

  void Evaluate(BindingState& b, UnixMillis t);
};


void RuleEngine::Impl::Evaluate(BindingState& b, UnixMillis t) {
  LiveInputs inputs(store, forecasts, registry, past_forecasts, b);
  ConditionResult r = b.condition->Evaluate(inputs, t, /*explain=*/false);
  RuleStatus& s = *b.status;
  ++s.evaluations;
  s.faults += r.outcome == Outcome::kFault;
  s.no_data += r.outcome == Outcome::kNoData;
  s.last_evaluated = std::max(s.last_evaluated, r.time);
  ++counters.evaluations;
  // Normal with nothing active (almost every evaluation) changes no alert: skip the evidence.
  if (r.outcome == Outcome::kFault || b.active) {
    r = b.condition->Evaluate(inputs, t, /*explain=*/true);
    b.active = IsActive(alerts.Apply(b.binding, r));
  }
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
  e.forecast_bindings.clear();
  e.conditions.clear();
  for (auto& [iri, sys] : e.systems) sys.bindings.clear();
  e.by_forecast.clear();
  e.system_of.clear();
  e.systems_of_list.clear();
  e.remember_forecasts.clear();
  std::map<std::string, RuleStatus> status;
  for (const auto& rule : e.rules->rules) status[rule->id].rule = rule;
  for (RuleBinding& rb : resolved.bindings) {
    BindingState b;
    std::unique_ptr<Condition>& condition = e.conditions[rb.rule->id];
    if (!condition) condition = MakeCondition(rb.rule);
    b.condition = condition.get();
    b.system = e.model->SystemOf(rb.equipment);
    auto k = kept.find({rb.rule->id, rb.equipment});
    if (k != kept.end()) b.last_step = k->second;
    rb.alert_id = AlertFingerprint(rb.rule->id, rb.equipment);
    const bool reads_forecasts = b.condition->on_forecast() || rb.rule->kind == RuleKind::kResidual;
    for (const auto& [name, point] : rb.points) {
      b.inputs.push_back(BindingState::Input{name, SeriesStore::SeriesRef(point), nullptr});
      if (reads_forecasts) {
        e.remember_forecasts.insert(point);
        b.inputs.back().forecasts = &e.past_forecasts[point];
      }
    }
    if (auto restored = e.alerts.StateOf(rb.alert_id)) b.active = IsActive(*restored);
    status[rb.rule->id].equipment.push_back(rb.equipment);
    b.binding = std::move(rb);
    if (b.condition->on_forecast()) {
      e.forecast_bindings.push_back(std::make_unique<BindingState>(std::move(b)));
      BindingState* owned = e.forecast_bindings.back().get();
      for (const auto& [name, point] : owned->binding.points) e.by_forecast[point].push_back(owned);
    } else {
      e.systems[b.system].bindings.push_back(std::move(b));
    }
  }
  // Pointers last: the systems' vectors no longer move.
  for (auto& [iri, sys] : e.systems) {
    for (BindingState& b : sys.bindings) e.bindings.push_back(&b);
  }
  for (auto& b : e.forecast_bindings) e.bindings.push_back(b.get());
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
  for (BindingState* b : e.bindings) b->status = &e.status[b->binding.rule->id];
  e.counters.bindings = e.bindings.size();
  e.counters.rules = e.rules->rules.size();
  spdlog::info("rules: {} rules, {} bindings, {} not applicable", e.rules->rules.size(), e.bindings.size(),
               resolved.not_applicable.size());
}

void RuleEngine::OnObservations(const ObservationsApplied& applied) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  if (e.bindings.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t evaluations = e.counters.evaluations;
  // Systems touched (a message usually holds one).
  uint64_t list_hash = applied.points.size();
  for (const std::string& p : applied.points) list_hash = list_hash * 0x9E3779B97F4A7C15ULL ^ StringHash{}(p);
  auto cached = e.systems_of_list.find(list_hash);
  if (cached == e.systems_of_list.end()) {
    std::vector<Impl::SystemState*> found;
    for (const std::string& p : applied.points) {
      Impl::SystemState* sys = e.SystemOf(p);
      if (sys != nullptr && std::find(found.begin(), found.end(), sys) == found.end()) found.push_back(sys);
    }
    if (e.systems_of_list.size() > 100'000) e.systems_of_list.clear();  // bounded: odd streams vary their lists
    cached = e.systems_of_list.emplace(list_hash, std::move(found)).first;
  }
  const std::vector<Impl::SystemState*>& touched = cached->second;
  const UnixMillis earliest = applied.earliest_time != 0 ? applied.earliest_time : applied.latest_time;
  const int64_t step = e.step;
  for (Impl::SystemState* sys : touched) {
    for (int64_t s = earliest / step; s <= applied.latest_time / step; ++s) sys->MarkActive(s);
    if (applied.latest_time <= sys->watermark) continue;
    const UnixMillis before = sys->watermark - sys->watermark % step;
    sys->watermark = applied.latest_time;
    const UnixMillis closed_until = sys->watermark - sys->watermark % step;  // steps before it are closed
    if (closed_until == before) continue;
    ++e.counters.steps_closed;
    const UnixMillis catch_up_from = closed_until - static_cast<int64_t>(e.options.max_catch_up_steps) * step;
    for (BindingState& b : sys->bindings) {
      UnixMillis first = b.last_step != 0 ? b.last_step + step : closed_until - step;
      if (first < catch_up_from) {
        e.counters.skipped_steps += static_cast<uint64_t>((catch_up_from - first) / step);
        first = catch_up_from;
      }
      for (UnixMillis t = first; t < closed_until; t += step) {
        if (sys->Active(t / step)) e.Evaluate(b, t);
      }
      b.last_step = closed_until - step;
    }
  }
  if (e.counters.evaluations != evaluations)
    e.counters.evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void RuleEngine::OnForecast(const ForecastProduced& produced) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  e.Remember(produced);
  auto it = e.by_forecast.find(produced.point);
  if (it == e.by_forecast.end()) return;
  const auto t0 = std::chrono::steady_clock::now();
  for (BindingState* b : it->second) e.Evaluate(*b, produced.window_end);
  e.counters.evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void RuleEngine::Drop(const std::vector<std::string>& points) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  for (const std::string& p : points) {
    if (auto f = e.past_forecasts.find(p); f != e.past_forecasts.end()) f->second.clear();
    Impl::SystemState* sys = e.SystemOf(p);
    if (sys == nullptr) continue;
    sys->watermark = 0;
    sys->ForgetSteps();
    for (BindingState& b : sys->bindings) b.last_step = 0;
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
