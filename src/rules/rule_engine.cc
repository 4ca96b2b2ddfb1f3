#include "brickcast/rule_engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <array>
#include <climits>
#include <cstring>
#include <deque>
#include <set>
#include <map>
#include <unordered_set>

#include "brickcast/time.h"
#include "brickcast/units.h"

namespace brickcast {
namespace {

// Values a system's bindings derive alike (RuleInputs::Shared: their gates, the G36 operating
// state), kept across steps: the state judged at step t is read again by the settling check and
// by FC4 over the next hour. One row per recent step, by step index; Clear() when data arrives
// for a step already closed, since late data changes what was derived from it.
class SharedValues {
 public:
  const double* Find(int64_t step, uint64_t key) const {
    const Row& r = rows_[Index(step)];
    if (r.step != step) return nullptr;
    for (size_t i = 0; i < std::min<size_t>(r.count, kPerRow); ++i) {
      if (r.entries[i].key == key) return &r.entries[i].value;
    }
    return nullptr;
  }
  void Put(int64_t step, uint64_t key, double value) {
    Row& r = rows_[Index(step)];
    if (r.step != step) r = Row{step};
    r.entries[r.count++ % kPerRow] = Entry{key, value};  // full: the oldest goes
  }
  void Clear() { rows_.fill(Row{}); }
  // Hints the CPU to load the rows of steps first..last (at most the whole table): a closing step
  // reads the row of the step it judges and, for the settling check and FC4, those before it.
  void Prefetch(int64_t first, int64_t last) const {
    for (int64_t s = std::max(first, last - static_cast<int64_t>(kRows) + 1); s <= last; ++s) {
      const char* row = reinterpret_cast<const char*>(&rows_[Index(s)]);
      __builtin_prefetch(row);
      __builtin_prefetch(row + 64);
    }
  }

 private:
  static constexpr size_t kRows = 16, kPerRow = 7;  // a row is two cache lines
  struct Entry {
    uint64_t key = 0;
    double value = 0;
  };
  struct alignas(64) Row {  // two whole cache lines
    int64_t step = INT64_MIN;
    uint64_t count = 0;
    std::array<Entry, kPerRow> entries{};
  };
  static size_t Index(int64_t step) { return static_cast<size_t>(step) % kRows; }
  std::array<Row, kRows> rows_{};
};

// What one (rule, equipment) pair needs at evaluation; the fields read on every closed step come
// first (one cache line), the binding itself last.
struct alignas(64) BindingState {
  UnixMillis last_step = 0;  // start of the last step evaluated; 0: none yet
  int64_t lookback_ms = 0;   // how far before a step its condition reads (LookbackMs)
  // For a binding that waits: the newest step a forecast of each of its inputs was made for (the
  // oldest of their newest window ends; 0 while one has none). Kept here, updated as forecasts
  // land (Impl::UpdateLanded), so a closing step does not chase each input's forecast memory.
  UnixMillis landed = 0;
  const Condition* condition = nullptr;  // the rule's, shared by all its bindings
  RuleStatus* status = nullptr;          // its rule's counters (in Impl::status)
  // The binding's inputs with their series found once (a handful: a linear search by name).
  // Step-driven bindings keep them in their system's contiguous array (SystemState::inputs), so
  // a closing step walks one block of memory (8 bytes an input: an air handler's 20 bindings
  // read 80 inputs); forecast-driven ones in `own_inputs`. What lookups rarely need lies apart,
  // in `extras` (same order).
  struct Input {
    // NameTag(name) above, the index of its series in the binding's series table below (the
    // system's SystemState::point_list, or a forecast binding's own_series).
    uint64_t word = 0;
    static constexpr int kIndexBits = 16;
    uint64_t tag() const { return word >> kIndexBits; }
    size_t series() const { return static_cast<size_t>(word & ((1u << kIndexBits) - 1)); }
  };
  struct InputExtra {
    const std::string* name = nullptr;  // in the rule's RuleSpec::inputs
    // The engine's memory of this point's forecasts (rules reading forecasts only; entries are
    // never erased, so the pointer stays valid).
    const std::deque<std::shared_ptr<const PointForecast>>* forecasts = nullptr;
  };
  // A name's length (6 for "6 or more") and first five bytes in 48 bits: equal tags mean equal
  // names up to five bytes (SAT, SATSP, HTG...), so a lookup compares words, not strings; longer
  // names are compared in full when their tags match.
  // Every lookup computes it: two overlapping loads, no loop (names are a handful of bytes).
  static constexpr size_t kTagBytes = 5;
  static uint64_t NameTag(const std::string& name) {
    const char* p = name.data();
    const size_t n = std::min<size_t>(name.size(), kTagBytes);
    uint64_t word = 0;
    if (n >= 4) {  // bytes 0..3 and n-4..n-1: they overlap where equal
      uint32_t lo = 0, hi = 0;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      word = lo | static_cast<uint64_t>(hi) << (8 * (n - 4));
    } else if (n > 0) {  // bytes 0, n/2 and n-1 cover one to three bytes
      word = static_cast<uint64_t>(static_cast<uint8_t>(p[0])) |
             static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << (8 * (n / 2)) |
             static_cast<uint64_t>(static_cast<uint8_t>(p[n - 1])) << (8 * (n - 1));
    }
    return std::min<size_t>(name.size(), kTagBytes + 1) | word << 8;
  }
  Input* inputs = nullptr;
  uint32_t input_count = 0;
  bool active = false;  // its alert is pending, firing or no_data
  bool waits = false;   // for the forecast of the step it judges (Condition::waits_for_forecast)
  bool learns = false;  // its condition learns (`state`, in a colder line, is set)
  // A waiting binding's newest forecast (of input `newest_input`), the one a closing
  // step is judged against, with where its steps start: kept as forecasts land (Impl::
  // UpdateLanded) so a closing step can hint the CPU to load it; found through the input's
  // forecast memory it is a chain of five dependent cache misses.
  const PointForecast* newest_forecast = nullptr;
  const ForecastStep* newest_steps = nullptr;  // its model's steps (those a residual reads)
  UnixMillis newest_window_end = 0;            // its first step
  size_t newest_input = 0;
  std::vector<InputExtra> extras;
  // Index of the input named `name`, or -1.
  ptrdiff_t Index(const std::string& name) const {
    const uint64_t tag = NameTag(name);
    for (size_t i = 0; i < input_count; ++i) {
      if (inputs[i].tag() == tag && (name.size() <= kTagBytes || *extras[i].name == name))
        return static_cast<ptrdiff_t>(i);
    }
    return -1;
  }
  const Input* Find(const std::string& name) const {
    const ptrdiff_t i = Index(name);
    return i < 0 ? nullptr : &inputs[i];
  }
  std::vector<Input> own_inputs;
  std::vector<SeriesStore::SeriesRef*> own_series;  // a forecast-driven binding's series table
  std::string system;
  RuleBinding binding;
  std::unique_ptr<ConditionState> state;  // what a learning condition learned here (else null)
};
// How far before the step it judges a rule reads the store (its gates' spans, stale and
// flatline windows, G36 settling and FC4's hour).
int64_t LookbackMs(const RuleSpec& r, int64_t step) {
  int64_t steps = 1;
  for (const RuleGate& g : r.when) steps = std::max<int64_t>(steps, (g.for_ms + step - 1) / step);
  if (r.kind == RuleKind::kSensorHealth)
    steps = std::max<int64_t>(steps, static_cast<int64_t>(r.check == HealthCheck::kStale ? r.stale_steps : r.window_steps + 1));
  if (r.kind == RuleKind::kG36) {
    steps = std::max<int64_t>(steps, (r.g36.settle_ms + step - 1) / step);
    if (r.g36.condition == 4) steps = std::max<int64_t>(steps, 3'600'000 / step);
  }
  return steps * step;
}

// Store reads shared by the bindings that judge one closing step: an air handler's G36
// conditions all read its valve and damper commands over the same steps and their gates the same
// fan status, so each (point, step, window) is read once. Direct-mapped, keyed by the point's
// shared SeriesRef; Clear() (each closing step, each forecast) empties it by bumping the epoch.
class ReadMemo {
 public:
  struct Entry {
    uint64_t epoch = 0;
    const SeriesStore::SeriesRef* ref = nullptr;
    UnixMillis t = 0;
    size_t steps = 0;  // 0: a step value
    double stop = 0;
    uint64_t derivation = 0;  // RuleInputs::Shared's key; 0: a store read
    double value = NAN, min = NAN, max = NAN;
    size_t observed = 0;
  };
  void Clear() { ++epoch_; }
  // The entry for this read: `hit` tells whether it holds the value already; else fill it (before
  // any other memo call: that one may take the same entry).
  Entry& At(const SeriesStore::SeriesRef* ref, UnixMillis t, size_t steps, double stop, bool* hit,
            uint64_t derivation = 0) {
    const uint64_t h = (reinterpret_cast<uintptr_t>(ref) >> 4) * 0x9E3779B97F4A7C15ULL ^
                       static_cast<uint64_t>(t / 1000) * 0xC2B2AE3D27D4EB4FULL ^ (steps + 1) * 0x165667B19E3779F9ULL ^
                       derivation;
    Entry& e = entries_[(h >> 40) % entries_.size()];
    *hit = e.epoch == epoch_ && e.ref == ref && e.t == t && e.steps == steps && e.stop == stop &&
           e.derivation == derivation;
    if (!*hit) e = Entry{epoch_, ref, t, steps, stop, derivation};
    return e;
  }

 private:
  uint64_t epoch_ = 1;
  std::array<Entry, 256> entries_{};
};

// Where a binding's evaluation finds what it does not hold itself: its series table and, for a
// step-driven binding, its system's shared values (null for forecast-driven ones).
struct BindingContext {
  SeriesStore::SeriesRef* const* series = nullptr;
  SharedValues* shared = nullptr;
};

// RuleInputs over the store, the forecasts and the registry, for one binding.
class LiveInputs : public RuleInputs {
 public:
  LiveInputs(const SeriesStore& store, const ForecastLookup& forecasts, const PointRegistry& registry,
             const StepDivider& step_of, BindingState& b, BindingContext context, ReadMemo& memo)
      : store_(store), forecasts_(forecasts), registry_(registry), step_(store.options().step_ms), step_of_(step_of),
        b_(b), context_(context), memo_(memo) {}
  int64_t step_ms() const override { return step_; }
  double StepValue(const std::string& input, UnixMillis t) const override {
    SeriesStore::SeriesRef& ref = Series(input);
    bool hit = false;
    ReadMemo::Entry& e = memo_.At(&ref, t, 0, 0, &hit);
    if (!hit) e.value = store_.ValueAt(ref, t);
    return e.value;
  }
  std::vector<double> Recent(const std::string& input, UnixMillis t, size_t steps) const override {
    auto w = store_.Window(PointRef(input), t + step_, steps);
    if (!w) return {};
    for (size_t i = 0; i < w->values.size(); ++i) {
      if (!w->observed[i]) w->values[i] = NAN;
    }
    return w->values;
  }
  Range ObservedRange(const std::string& input, UnixMillis t, size_t steps, double stop_at_spread) const override {
    SeriesStore::SeriesRef& ref = Series(input);
    bool hit = false;
    ReadMemo::Entry& e = memo_.At(&ref, t, steps == 0 ? SIZE_MAX : steps, stop_at_spread, &hit);
    if (!hit) {
      const SeriesStore::ObservedRange r = store_.RangeOf(ref, t, steps, stop_at_spread);
      e.min = r.min, e.max = r.max, e.observed = r.observed;
    }
    return Range{e.min, e.max, e.observed};
  }
  UnixMillis LastObserved(const std::string& input, UnixMillis t, size_t steps) const override {
    return store_.LastObservedStep(Series(input), t, steps);
  }
  const PointForecast* Forecast(const std::string& input, UnixMillis t) const override {
    if (!forecasts_) return nullptr;
    const ptrdiff_t i = b_.Index(input);
    // The newest forecast made before step t whose horizon covers it; the common case first,
    // from what the binding keeps (prefetched), without the walk to the forecast memory.
    if (t != 0 && b_.newest_forecast != nullptr && i == static_cast<ptrdiff_t>(b_.newest_input) &&
        Covers(*b_.newest_forecast, t))
      return b_.newest_forecast;
    const std::deque<std::shared_ptr<const PointForecast>>* past = i >= 0 ? b_.extras[i].forecasts : nullptr;
    if (t == 0) {
      // The newest: remembered when it was announced (OnForecast), else asked for now.
      if (past != nullptr && !past->empty()) return past->back().get();
      latest_ = forecasts_(PointRef(input));
      return latest_ ? &*latest_ : nullptr;
    }
    if (past == nullptr) return nullptr;
    for (auto f = past->rbegin(); f != past->rend(); ++f) {
      if (Covers(**f, t)) return f->get();
    }
    return nullptr;
  }
  static bool Covers(const PointForecast& f, UnixMillis t) {
    return f.status == ForecastStatus::kOk && f.window_end <= t &&
           t < f.window_end + static_cast<int64_t>(f.steps.size()) * f.step_ms;
  }
  std::string Unit(const std::string& input) const override {
    auto info = registry_.Get(PointRef(input));
    const UnitInfo* u = info ? FindUnit(info->unit) : nullptr;
    return u ? std::string(u->si_symbol) : "";
  }
  std::string Point(const std::string& input) const override { return PointRef(input); }
  ConditionState* State() const override { return b_.state.get(); }
  double Shared(const std::string& input, uint64_t key, UnixMillis t, Derivation derive, const void* arg) const override {
    const BindingState::Input* in = b_.Find(input);
    if (in == nullptr || key == 0) return derive(*this, t, arg);  // no point to key it on
    const SeriesStore::SeriesRef* series = context_.series[in->series()];
    if (context_.shared != nullptr) {
      const uint64_t k = key ^ (reinterpret_cast<uintptr_t>(series) * 0x9E3779B97F4A7C15ULL);
      const int64_t step_index = step_of_(t);
      if (const double* v = context_.shared->Find(step_index, k)) return *v;
      const double v = derive(*this, t, arg);
      context_.shared->Put(step_index, k, v);
      return v;
    }
    bool hit = false;
    if (ReadMemo::Entry& e = memo_.At(series, t, 0, 0, &hit, key); hit) return e.value;
    const double v = derive(*this, t, arg);  // may read through the memo itself
    memo_.At(series, t, 0, 0, &hit, key).value = v;
    return v;
  }

 private:
  const SeriesStore& store_;
  const ForecastLookup& forecasts_;
  const PointRegistry& registry_;
  const int64_t step_;
  const StepDivider& step_of_;
  BindingState& b_;
  const BindingContext context_;
  ReadMemo& memo_;
  mutable std::optional<PointForecast> latest_;

  SeriesStore::SeriesRef& Series(const std::string& name) const {
    const BindingState::Input* in = b_.Find(name);
    if (in != nullptr) return *context_.series[in->series()];
    static thread_local SeriesStore::SeriesRef none;  // an input the binding lacks: no data (reads resolve refs)
    return none;
  }
  const std::string& PointRef(const std::string& input) const { return Series(input).point(); }
};


}  // namespace

struct RuleEngine::Impl {
  Impl(const SeriesStore& s, ForecastLookup f, const PointRegistry& r, AlertManager& a, RuleEngineOptions o)
      : store(s), forecasts(std::move(f)), registry(r), alerts(a), options(Clamped(o)), step(s.options().step_ms),
        step_of(step) {}
  // The catch-up must fit the ring of active steps (SystemState::kSpan).
  static RuleEngineOptions Clamped(RuleEngineOptions o) {
    o.max_catch_up_steps = std::min<size_t>(o.max_catch_up_steps, 500);
    o.forecast_wait_steps = std::min(o.forecast_wait_steps, o.max_catch_up_steps);
    return o;
  }

  const SeriesStore& store;
  const ForecastLookup forecasts;
  const PointRegistry& registry;
  AlertManager& alerts;
  const RuleEngineOptions options;
  const int64_t step;
  const StepDivider step_of;  // time -> step index

  mutable std::mutex mu;  // everything below; held while evaluating
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const BrickModel> model;
  std::map<std::string, std::unique_ptr<Condition>> conditions;  // one per rule (immutable, shared)
  std::vector<BindingState*> bindings;                            // all of them
  std::vector<std::unique_ptr<BindingState>> forecast_bindings;   // owned here; step-driven ones by their system
  // One air-handling system: its step-driven bindings (stored contiguously: a closing step walks
  // them all) and its data time.
  // What every message of the system reads comes first (its first cache lines), the table of
  // shared values last.
  struct SystemState {
    UnixMillis watermark = 0;  // newest data time
    // Steps (by index: time / step) in which the system reported anything, as a bit ring over the
    // newest kSpan steps. Steps of a gap in the whole feed are not evaluated: "stale" means silent
    // while the equipment reports, not a dead feed.
    static constexpr int64_t kSpan = 512;
    int64_t newest_step = INT64_MIN;
    int64_t lookback_ms = 0;  // the longest of its bindings'
    std::vector<BindingState> bindings;
    std::vector<BindingState::Input> inputs;  // of `bindings`, a run each (shared where equal)
    std::vector<SeriesStore::SeriesRef*> point_list;  // &points[i], for SeriesStore::Prefetch
    // The series `inputs` read, each once: the system's own copies of the refs, side by side, so
    // a closing step finds them in a few neighbouring cache lines.
    std::vector<SeriesStore::SeriesRef> points;
    std::array<uint64_t, kSpan / 64> bits{};
    SharedValues shared;
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
  // An open-addressing table whose slot holds the first system inline: a message costs one cache
  // line here (a node-based map cost three misses, a seventh of the engine's time at 10k points).
  class ListCache {
   public:
    struct Slot {
      uint64_t key = 0;  // 0: empty (a list hashing to 0 is simply not cached)
      SystemState* first = nullptr;
      uint32_t more = UINT32_MAX;  // index into more_ when a list touches several systems
    };
    const Slot* Find(uint64_t key) const {
      if (key == 0 || slots_.empty()) return nullptr;
      for (size_t i = key & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
        if (slots_[i].key == key) return &slots_[i];
        if (slots_[i].key == 0) return nullptr;
      }
    }
    const std::vector<SystemState*>& More(const Slot& slot) const {
      static const std::vector<SystemState*> none;
      return slot.more == UINT32_MAX ? none : more_[slot.more];
    }
    void Insert(uint64_t key, const std::vector<SystemState*>& systems) {
      if (key == 0) return;
      if (used_ >= 100'000) Clear();  // bounded: odd streams vary their lists
      if (2 * (used_ + 1) > slots_.size()) Grow();
      size_t i = key & (slots_.size() - 1);
      while (slots_[i].key != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i].key = key;
      slots_[i].first = systems.empty() ? nullptr : systems[0];
      if (systems.size() > 1) {
        slots_[i].more = static_cast<uint32_t>(more_.size());
        more_.emplace_back(systems.begin() + 1, systems.end());
      }
      ++used_;
    }
    void Clear() {
      slots_.assign(slots_.size(), Slot{});
      more_.clear();
      used_ = 0;
    }

   private:
    void Grow() {
      std::vector<Slot> old = std::move(slots_);
      slots_.assign(std::max<size_t>(64, old.size() * 2), Slot{});
      for (const Slot& o : old) {
        if (o.key == 0) continue;
        size_t i = o.key & (slots_.size() - 1);
        while (slots_[i].key != 0) i = (i + 1) & (slots_.size() - 1);
        slots_[i] = o;
      }
    }
    std::vector<Slot> slots_;  // a power of two, at most half full
    std::vector<std::vector<SystemState*>> more_;
    size_t used_ = 0;
  };
  ListCache systems_of_list;
  // Per point read by a residual or forecast rule: its last forecasts (newest last, shared with
  // the service) and the forecast-driven bindings to run when a new one lands. One lookup per
  // ForecastProduced; entries are never erased, so Input::forecasts stays valid.
  struct ForecastMemory {
    std::deque<std::shared_ptr<const PointForecast>> past;
    bool remember = false;  // read by a rule of the running set
    std::vector<BindingState*> bindings;
    // Step-driven bindings waiting for this point's forecasts (residual rules), with their system.
    std::vector<std::pair<SystemState*, BindingState*>> waiting;
  };
  std::unordered_map<std::string, ForecastMemory, StringHash, std::equal_to<>> forecast_memory;
  // One SeriesRef per point read by any binding, named by its key (refs do not own names); rebuilt by
  // SetRules; and the reads of the step being judged.
  std::unordered_map<std::string, std::unique_ptr<SeriesStore::SeriesRef>> refs;
  ReadMemo memo;
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
  void Remember(ForecastMemory& memory, const ForecastProduced& produced) {
    if (!memory.remember) return;
    std::shared_ptr<const PointForecast> f = produced.forecast;
    if (!f && forecasts) {
      if (std::optional<PointForecast> got = forecasts(produced.point))
        f = std::make_shared<const PointForecast>(std::move(*got));
    }
    if (!f || f->status != ForecastStatus::kOk) return;
    auto& past = memory.past;
    if (!past.empty() && past.back()->window_end >= f->window_end) return;
    past.push_back(std::move(f));
    while (past.size() > 8) past.pop_front();
  }

  void Evaluate(BindingState& b, BindingContext context, UnixMillis t);
  // Marks the steps of data from `earliest` to `latest` active in `sys`; when `latest` enters a
  // new step, evaluates every binding of `sys` on the steps it closed.
  void Advance(SystemState& sys, UnixMillis earliest, UnixMillis latest);
  // Evaluates `b` on the steps of `sys` closed since its last one (those before `closed_until`),
  // except, for a binding that waits for forecasts, the steps whose forecast has not landed yet.
  // `retained`: Retained(sys), asked once for all of a system's bindings.
  void CatchUp(SystemState& sys, BindingState& b, UnixMillis closed_until, UnixMillis retained);
  // The store may be far ahead of this event (a burst, a replay at full speed, data resuming
  // after a day's gap): a step whose look-back window the ring no longer holds would read as
  // "no data" and a stale check would fire on a healthy sensor. Such steps are not judged. One
  // point of the system stands for all of them (they arrive in the same messages).
  UnixMillis Retained(SystemState& sys) const {
    return sys.points.empty() ? 0 : store.RetainedFrom(sys.points.front());
  }
  // For a binding that waits for forecasts, the newest step a forecast of each of its inputs has
  // been made for (BindingState::landed); `closed_until` for the others.
  UnixMillis ForecastsLanded(const BindingState& b, UnixMillis closed_until) const {
    if (!b.waits || !forecasts) return closed_until;  // forecasting off: nothing will come
    return std::min(closed_until, b.landed);
  }
  // Recomputes b.landed and b.newest_* from its inputs' forecast memories (when one changed).
  static void UpdateLanded(BindingState& b) {
    UnixMillis landed = INT64_MAX;
    b.newest_forecast = nullptr;
    b.newest_steps = nullptr;
    for (size_t i = 0; i < b.extras.size(); ++i) {
      const auto* past = b.extras[i].forecasts;
      if (past == nullptr) continue;
      landed = std::min(landed, past->empty() ? 0 : past->back()->window_end);
      if (b.newest_forecast == nullptr && !past->empty()) {
        const PointForecast& f = *past->back();
        b.newest_forecast = &f;
        b.newest_steps = f.model_steps.empty() ? f.steps.data() : f.model_steps.data();
        b.newest_window_end = f.window_end;
        b.newest_input = i;
      }
    }
    b.landed = landed;
  }
  // Hints the CPU to load what a waiting binding will read of its newest forecast at step t.
  void PrefetchForecast(const BindingState& b, UnixMillis t) const {
    const PointForecast* f = b.newest_forecast;
    if (f == nullptr) return;
    // The fields a residual reads (LiveInputs::Covers, StepAt), not the whole forecast.
    __builtin_prefetch(&f->status);
    __builtin_prefetch(&f->model_steps);
    __builtin_prefetch(&f->window_end);
    __builtin_prefetch(&f->steps);
    const int64_t k = step_of(t - b.newest_window_end);  // steps start at the window end
    if (k >= 0 && k < 64) __builtin_prefetch(b.newest_steps + k);
  }
};

void RuleEngine::Impl::CatchUp(SystemState& sys, BindingState& b, UnixMillis closed_until, UnixMillis retained) {
  const UnixMillis catch_up_from = closed_until - static_cast<int64_t>(options.max_catch_up_steps) * step;
  UnixMillis first = b.last_step != 0 ? b.last_step + step : closed_until - step;
  if (first < catch_up_from) {
    counters.skipped_steps += static_cast<uint64_t>((catch_up_from - first) / step);
    first = catch_up_from;
  }
  // A waiting binding judges the steps whose forecast has landed, and those the data has left
  // forecast_wait_steps behind: forecasts that trail further must not hold the rule back.
  const UnixMillis landed = ForecastsLanded(b, closed_until);
  const UnixMillis ready =
      std::max(landed, closed_until - static_cast<int64_t>(options.forecast_wait_steps + 1) * step);
  UnixMillis t = first;
  for (; t < closed_until && t <= ready; t += step) {
    if (!sys.Active(step_of(t))) continue;
    if (retained != 0 && t - b.lookback_ms < retained) {
      ++counters.evicted_steps;
      continue;
    }
    counters.forecast_late_steps += t > landed;
    Evaluate(b, BindingContext{sys.point_list.data(), &sys.shared}, t);
  }
  b.last_step = t - step;  // a waiting binding resumes at the first step not judged
}

void RuleEngine::Impl::Advance(SystemState& sys, UnixMillis earliest, UnixMillis latest) {
  for (int64_t s = step_of(earliest), last = step_of(latest); s <= last; ++s) sys.MarkActive(s);
  const UnixMillis before = step_of(sys.watermark) * step;  // start of the step the watermark is in
  if (earliest < before) sys.shared.Clear();                  // late data for a closed step
  if (latest <= sys.watermark) return;
  sys.watermark = latest;
  const UnixMillis closed_until = step_of(sys.watermark) * step;  // steps before it are closed
  if (closed_until == before) return;
  ++counters.steps_closed;
  memo.Clear();  // data arrived since the last reads
  // The common case, one step closed: load what the bindings will read together, the bindings
  // and their inputs included (a system was last touched a step ago; its memory is cold).
  for (const BindingState& b : sys.bindings) __builtin_prefetch(&b);
  for (size_t i = 0; i < sys.inputs.size(); i += 8) __builtin_prefetch(&sys.inputs[i]);  // 8 bytes each
  store.Prefetch(sys.point_list.data(), sys.point_list.size(), closed_until - step - std::min<int64_t>(sys.lookback_ms, 3 * step), closed_until - step);
  sys.shared.Prefetch(step_of(closed_until - step) - 5, step_of(closed_until - step));
  for (const BindingState& b : sys.bindings) {
    if (b.waits) PrefetchForecast(b, closed_until - step);
  }
  const UnixMillis retained = Retained(sys);
  for (BindingState& b : sys.bindings) CatchUp(sys, b, closed_until, retained);
}


void RuleEngine::Impl::Evaluate(BindingState& b, BindingContext context, UnixMillis t) {
  RuleStatus& s = *b.status;
  ++s.evaluations;
  ++counters.evaluations;
  // One binding's failure (a bug in a condition, memory exhausted while building evidence) must not
  // stop the others or the subscriber thread: it is counted, logged and the step skipped.
  try {
    LiveInputs inputs(store, forecasts, registry, step_of, b, context, memo);
    ConditionResult r = b.condition->Evaluate(inputs, t, /*explain=*/false);
    s.faults += r.outcome == Outcome::kFault;
    s.no_data += r.outcome == Outcome::kNoData;
    s.last_evaluated = std::max(s.last_evaluated, r.time);
    // Normal with nothing active (almost every evaluation) changes no alert: skip the evidence.
    if (r.outcome == Outcome::kFault || b.active) {
      r = b.condition->Evaluate(inputs, t, /*explain=*/true);
      b.active = IsActive(alerts.Apply(b.binding, r));
    }
    // A learning condition learns normal operation: a normal step while its alert is inactive.
    if (b.learns && r.outcome == Outcome::kNormal && !b.active) b.condition->Learn(inputs, t);
  } catch (const std::exception& e) {
    ++s.errors;
    ++counters.errors;
    s.last_error = FormatIsoUtc(t) + " " + b.binding.equipment + ": " + e.what();
    if (s.errors <= 10 || s.errors % 1000 == 0)  // bounded: a broken rule must not flood the log
      spdlog::error("rule {} on {} at {} failed ({} so far): {}", b.binding.rule->id, b.binding.equipment,
                    FormatIsoUtc(t), s.errors, e.what());
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
  // What learning conditions learned, kept for bindings whose rule is unchanged.
  std::map<std::pair<std::string, std::string>, std::pair<std::shared_ptr<const RuleSpec>, std::unique_ptr<ConditionState>>>
      learned;
  for (const auto& b : e.bindings) {
    kept[{b->binding.rule->id, b->binding.equipment}] = b->last_step;
    if (b->state) learned[{b->binding.rule->id, b->binding.equipment}] = {b->binding.rule, std::move(b->state)};
  }
  e.rules = std::move(rules);
  e.model = std::move(model);
  e.bindings.clear();
  e.forecast_bindings.clear();
  e.conditions.clear();
  for (auto& [iri, sys] : e.systems) sys.bindings.clear();
  for (auto& [point, memory] : e.forecast_memory) {
    memory.remember = false;
    memory.bindings.clear();
    memory.waiting.clear();
  }
  e.system_of.clear();
  e.systems_of_list.Clear();
  e.refs.clear();
  e.memo.Clear();
  std::map<std::string, RuleStatus> status;
  for (const auto& rule : e.rules->rules) status[rule->id].rule = rule;
  for (RuleBinding& rb : resolved.bindings) {
    BindingState b;
    std::unique_ptr<Condition>& condition = e.conditions[rb.rule->id];
    if (!condition) condition = MakeCondition(rb.rule);
    b.condition = condition.get();
    b.lookback_ms = LookbackMs(*rb.rule, e.step);
    b.waits = b.condition->waits_for_forecast() && !b.condition->on_forecast();
    b.system = e.model->SystemOf(rb.equipment);
    auto k = kept.find({rb.rule->id, rb.equipment});
    if (k != kept.end()) b.last_step = k->second;
    b.state = b.condition->NewState();
    if (auto l = learned.find({rb.rule->id, rb.equipment}); b.state && l != learned.end() &&
                                                            l->second.first->regressors == rb.rule->regressors &&
                                                            l->second.first->value.text() == rb.rule->value.text())
      b.state = std::move(l->second.second);
    b.learns = b.state != nullptr;
    rb.alert_id = AlertFingerprint(rb.rule->id, rb.equipment);
    const bool reads_forecasts = b.condition->on_forecast() || rb.rule->kind == RuleKind::kResidual;
    for (const auto& [name, point] : rb.points) {
      auto [named, added] = e.refs.try_emplace(point);
      std::unique_ptr<SeriesStore::SeriesRef>& ref = named->second;
      if (!ref) ref = std::make_unique<SeriesStore::SeriesRef>(&named->first);  // the key names it
      const std::string* key = nullptr;  // the rule's own copy of the name: lives as long as the binding
      for (const RuleInput& in : rb.rule->inputs) {
        if (in.name == name) key = &in.name;
      }
      b.own_inputs.push_back(BindingState::Input{BindingState::NameTag(name) << BindingState::Input::kIndexBits |
                                                 b.own_series.size()});
      b.own_series.push_back(ref.get());
      b.extras.push_back(BindingState::InputExtra{key, nullptr});
      if (reads_forecasts) {
        Impl::ForecastMemory& memory = e.forecast_memory[point];
        memory.remember = true;
        b.extras.back().forecasts = &memory.past;
      }
    }
    if (auto restored = e.alerts.StateOf(rb.alert_id)) b.active = IsActive(*restored);
    status[rb.rule->id].equipment.push_back(rb.equipment);
    status[rb.rule->id].points.emplace_back(rb.points.begin(), rb.points.end());
    b.binding = std::move(rb);
    if (b.condition->on_forecast()) {
      e.forecast_bindings.push_back(std::make_unique<BindingState>(std::move(b)));
      BindingState* owned = e.forecast_bindings.back().get();
      owned->inputs = owned->own_inputs.data();
      owned->input_count = static_cast<uint32_t>(owned->own_inputs.size());
      for (const auto& [name, point] : owned->binding.points) e.forecast_memory[point].bindings.push_back(owned);
    } else {
      e.systems[b.system].bindings.push_back(std::move(b));
    }
  }
  // Pointers last: the systems' vectors no longer move.
  for (auto& [iri, sys] : e.systems) {
    size_t count = 0;
    for (BindingState& b : sys.bindings) count += b.own_inputs.size();
    if (count >= (1u << BindingState::Input::kIndexBits)) {  // distinct points fewer, but no site comes close
      spdlog::error("rules: system {} binds {} rule inputs, more than {}: its rules are not evaluated", iri, count,
                    (1u << BindingState::Input::kIndexBits) - 1);
      sys.bindings.clear();
    }
    sys.inputs.clear();
    sys.inputs.reserve(count);
    sys.points.clear();
    sys.points.reserve(count);  // never reallocated below: point_list points into it
    sys.point_list.clear();
    sys.lookback_ms = 0;
    sys.shared.Clear();  // keyed by series the old set's refs named
    std::vector<BindingState::Input> words;
    for (BindingState& b : sys.bindings) {
      sys.lookback_ms = std::max(sys.lookback_ms, b.lookback_ms);
      words.clear();
      for (BindingState::Input& in : b.own_inputs) {
        const std::string& point = b.own_series[in.series()]->point();
        auto same = std::find_if(sys.points.begin(), sys.points.end(),
                                 [&point](const SeriesStore::SeriesRef& r) { return r.point() == point; });
        if (same == sys.points.end()) {
          sys.points.emplace_back(&point);  // Impl::refs' key, kept until the next SetRules
          sys.point_list.push_back(&sys.points.back());
          same = sys.points.end() - 1;
        }
        // The series table is indexed in kIndexBits: 65,536 points per system, checked above (an
        // air handler serves a few hundred zones at most).
        const auto index = static_cast<uint64_t>(same - sys.points.begin());
        words.push_back(BindingState::Input{in.tag() << BindingState::Input::kIndexBits | index});
      }
      // Bindings that read the same inputs (names and points) share one run of the array: eleven
      // G36 conditions read six lists, and a sensor rule's one input lies inside them. The order
      // of a binding's inputs is its own (its extras follow it), so a run is shared only whole.
      auto same_run = std::search(sys.inputs.begin(), sys.inputs.end(), words.begin(), words.end(),
                                  [](const BindingState::Input& x, const BindingState::Input& y) { return x.word == y.word; });
      if (same_run == sys.inputs.end() && !words.empty())
        same_run = sys.inputs.insert(sys.inputs.end(), words.begin(), words.end());  // within the reserve: no move
      b.inputs = sys.inputs.data() + (same_run - sys.inputs.begin());
      b.input_count = static_cast<uint32_t>(words.size());
      b.own_inputs.clear();
      b.own_inputs.shrink_to_fit();
      b.own_series.clear();
      b.own_series.shrink_to_fit();
      e.bindings.push_back(&b);
      if (b.waits) {
        for (const auto& [name, point] : b.binding.points) e.forecast_memory[point].waiting.emplace_back(&sys, &b);
        Impl::UpdateLanded(b);  // forecasts kept from the previous set count
      }
    }
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
    s.errors = old->second.errors;
    s.last_error = old->second.last_error;
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
  const UnixMillis earliest = applied.earliest_time != 0 ? applied.earliest_time : applied.latest_time;
  if (const Impl::ListCache::Slot* cached = e.systems_of_list.Find(list_hash)) {
    if (cached->first != nullptr) e.Advance(*cached->first, earliest, applied.latest_time);
    for (Impl::SystemState* sys : e.systems_of_list.More(*cached)) e.Advance(*sys, earliest, applied.latest_time);
  } else {
    std::vector<Impl::SystemState*> found;
    for (const std::string& p : applied.points) {
      Impl::SystemState* sys = e.SystemOf(p);
      if (sys != nullptr && std::find(found.begin(), found.end(), sys) == found.end()) found.push_back(sys);
    }
    e.systems_of_list.Insert(list_hash, found);
    for (Impl::SystemState* sys : found) e.Advance(*sys, earliest, applied.latest_time);
  }
  if (e.counters.evaluations != evaluations)
    e.counters.evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void RuleEngine::OnForecast(const ForecastProduced& produced) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  auto it = e.forecast_memory.find(produced.point);
  if (it == e.forecast_memory.end()) return;
  try {
    e.Remember(it->second, produced);
  } catch (const std::exception& ex) {  // the lookup failed: its rules will ask again
    ++e.counters.errors;
    spdlog::error("rules: keeping the forecast of {} failed: {}", produced.point, ex.what());
  }
  if (it->second.bindings.empty() && it->second.waiting.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  e.memo.Clear();
  for (BindingState* b : it->second.bindings) e.Evaluate(*b, BindingContext{b->own_series.data()}, produced.window_end);
  // Steps already closed that waited for this forecast (the data ran ahead of the forecasts).
  for (auto [sys, b] : it->second.waiting) {
    Impl::UpdateLanded(*b);
    if (sys->watermark != 0) e.CatchUp(*sys, *b, sys->watermark - sys->watermark % e.step, e.Retained(*sys));
  }
  e.counters.evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void RuleEngine::Drop(const std::vector<std::string>& points) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  for (const std::string& p : points) {
    if (auto f = e.forecast_memory.find(p); f != e.forecast_memory.end()) {
      f->second.past.clear();
      for (auto [sys, b] : f->second.waiting) Impl::UpdateLanded(*b);
    }
    Impl::SystemState* sys = e.SystemOf(p);
    if (sys == nullptr) continue;
    sys->watermark = 0;
    sys->shared.Clear();
    sys->ForgetSteps();
    for (BindingState& b : sys->bindings) b.last_step = 0;
  }
}

void RuleEngine::RefreshAlerts(const std::vector<std::string>& alert_ids) {
  if (alert_ids.empty()) return;
  const std::set<std::string> ids(alert_ids.begin(), alert_ids.end());
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& e = *impl_;
  auto refresh = [&](BindingState& b) {
    if (!ids.count(b.binding.alert_id)) return;
    auto state = e.alerts.StateOf(b.binding.alert_id);
    b.active = state && IsActive(*state);
  };
  for (auto& [name, sys] : e.systems) {
    for (BindingState& b : sys.bindings) refresh(b);
  }
  for (auto& b : e.forecast_bindings) refresh(*b);
}

std::vector<RuleStatus> RuleEngine::Status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RuleStatus> out;
  for (const auto& [id, s] : impl_->status) out.push_back(s);
  return out;
}

std::set<std::string> RuleEngine::ForecastInputs() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::set<std::string> out;
  for (const auto& [point, memory] : impl_->forecast_memory) {
    if (memory.remember) out.insert(point);
  }
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
  w.Counter("brickcast_rule_evicted_steps_total",
            "Binding steps not judged because the store no longer held their window (the rules lagged the ingest).",
            static_cast<double>(c.evicted_steps));
  w.Counter("brickcast_rule_forecast_late_steps_total",
            "Steps a residual rule judged without their forecast (forecasts trailed the data by more than forecast_wait_steps).",
            static_cast<double>(c.forecast_late_steps));
  w.Counter("brickcast_rule_evaluation_errors_total", "Rule evaluations that failed (logged, step skipped).",
            static_cast<double>(c.errors));
  for (const RuleStatus& s : engine.Status()) {
    w.Counter("brickcast_rule_faults_total", "Evaluations that found the condition, by rule.",
              static_cast<double>(s.faults), {{"rule", s.rule ? s.rule->id : ""}});
  }
  for (const RuleStatus& s : engine.Status()) {
    if (s.errors == 0) continue;
    w.Counter("brickcast_rule_errors_total", "Failed evaluations, by rule.", static_cast<double>(s.errors),
              {{"rule", s.rule ? s.rule->id : ""}});
  }
}

}  // namespace brickcast
