#include "brickcast/series_store.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace brickcast {
namespace {

constexpr int64_t kEmpty = std::numeric_limits<int64_t>::min();

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

struct SeriesStore::Series {
  // One step of the ring: 12 bytes (packed; 24 with the bucket it once carried). Which step a slot
  // holds is not stored: slots of steps that leave the window are emptied as the newest step
  // advances, so a slot with observations always holds the step of the window that maps to it.
  struct __attribute__((packed, aligned(4))) Slot {
    double sum = 0;
    uint32_t count = 0;
  };
  static_assert(sizeof(Slot) == 12);
  std::vector<Slot> slots;
  std::vector<int64_t> recent;  // ring of the last dedup_depth timestamps (ms)
  size_t recent_next = 0;
  size_t recent_size = 0;
  int64_t newest_bucket = kEmpty;
  SeriesStats stats;

  Series(size_t steps, size_t depth) : slots(steps), recent(depth, 0) {}

  int64_t cap() const { return static_cast<int64_t>(slots.size()); }
  size_t IndexOf(int64_t bucket) const { return static_cast<size_t>(((bucket % cap()) + cap()) % cap()); }
  // True when `slot`, the slot of step `bucket`, holds observations of that step.
  bool Holds(const Slot& slot, int64_t bucket) const {
    return slot.count > 0 && newest_bucket != kEmpty && bucket <= newest_bucket && bucket > newest_bucket - cap();
  }
  // Makes `bucket` the newest step: the slots of the steps it skips and its own are emptied (they
  // held steps that have just left the window).
  void AdvanceTo(int64_t bucket) {
    if (newest_bucket != kEmpty) {
      const int64_t from = std::max(newest_bucket + 1, bucket - cap() + 1);
      for (int64_t b = from; b <= bucket; ++b) slots[IndexOf(b)] = Slot{};
    }
    newest_bucket = bucket;
  }

  bool Remembered(int64_t t) const {
    for (size_t i = 0; i < recent_size; ++i) {
      if (recent[i] == t) return true;
    }
    return false;
  }
  int64_t OldestRemembered() const {
    int64_t m = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < recent_size; ++i) m = std::min(m, recent[i]);
    return m;
  }
  void Remember(int64_t t) {
    recent[recent_next] = t;
    recent_next = (recent_next + 1) % recent.size();
    recent_size = std::min(recent_size + 1, recent.size());
  }
};

std::string_view AppendOutcomeName(AppendOutcome o) {
  switch (o) {
    case AppendOutcome::kAccepted: return "accepted";
    case AppendOutcome::kLate: return "late";
    case AppendOutcome::kDuplicate: return "duplicate";
    case AppendOutcome::kTooOld: return "too_old";
  }
  return "?";
}

SeriesStore::SeriesStore(SeriesOptions options) : options_(options) {}
SeriesStore::~SeriesStore() = default;

SeriesStore::Shard& SeriesStore::ShardFor(std::string_view point) const {
  return shards_[std::hash<std::string_view>{}(point) % kShards];
}

AppendOutcome SeriesStore::Append(const Observation& obs) {
  Shard& shard = ShardFor(obs.point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto& ptr = shard.series[obs.point];
  if (!ptr) {
    ptr = std::make_unique<Series>(options_.window_steps, options_.dedup_depth);
    points_.fetch_add(1, std::memory_order_relaxed);
  }
  Series& s = *ptr;
  const int64_t bucket = FloorDiv(obs.time, options_.step_ms);
  const int64_t cap = static_cast<int64_t>(s.slots.size());
  const bool in_order = s.stats.accepted == 0 || obs.time > s.stats.last_time;

  AppendOutcome outcome = AppendOutcome::kAccepted;
  if (!in_order) {
    if (s.Remembered(obs.time)) {
      ++s.stats.duplicates;
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      return AppendOutcome::kDuplicate;
    }
    // Older than everything we remember: it might be a duplicate we forgot, or outside the window.
    const bool memory_full = s.recent_size == s.recent.size();
    if ((memory_full && obs.time < s.OldestRemembered()) || bucket <= s.newest_bucket - cap) {
      ++s.stats.too_old;
      too_old_.fetch_add(1, std::memory_order_relaxed);
      return AppendOutcome::kTooOld;
    }
    outcome = AppendOutcome::kLate;
  }

  if (s.newest_bucket == kEmpty || bucket > s.newest_bucket) s.AdvanceTo(bucket);
  Series::Slot& slot = s.slots[s.IndexOf(bucket)];
  slot.sum += obs.value;
  ++slot.count;
  s.Remember(obs.time);
  if (s.stats.accepted == 0 || obs.time < s.stats.first_time) s.stats.first_time = obs.time;
  if (in_order) {
    s.stats.last_time = obs.time;
    s.stats.last_value = obs.value;
  }
  if (outcome == AppendOutcome::kLate) {
    ++s.stats.late;
    late_.fetch_add(1, std::memory_order_relaxed);
  }
  ++s.stats.accepted;
  accepted_.fetch_add(1, std::memory_order_relaxed);
  return outcome;
}

std::optional<SeriesWindow> SeriesStore::Window(std::string_view point, UnixMillis end, size_t steps) const {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  if (it == shard.series.end()) return std::nullopt;
  const Series& s = *it->second;
  const int64_t last_bucket = FloorDiv(end - 1, options_.step_ms);
  const int64_t first_bucket = last_bucket - static_cast<int64_t>(steps) + 1;

  SeriesWindow w;
  w.start = first_bucket * options_.step_ms;
  w.step_ms = options_.step_ms;
  w.values.assign(steps, std::nan(""));
  w.observed.assign(steps, 0);
  w.filled.assign(steps, 0);
  // Forward fill may carry a value in from before the window: start from the step before it.
  double carry = std::nan("");
  size_t carry_age = 0;
  bool have_carry = false;
  for (int64_t b = first_bucket - static_cast<int64_t>(options_.ffill_limit_steps); b <= last_bucket; ++b) {
    const Series::Slot& slot = s.slots[s.IndexOf(b)];
    const bool present = s.Holds(slot, b);
    const int64_t i = b - first_bucket;
    if (present) {
      carry = slot.sum / slot.count;
      carry_age = 0;
      have_carry = true;
      if (i >= 0) {
        w.values[i] = carry;
        w.observed[i] = 1;
        ++w.observed_steps;
      }
    } else if (have_carry && ++carry_age <= options_.ffill_limit_steps && i >= 0 && b <= s.newest_bucket) {
      w.values[i] = carry;
      w.filled[i] = 1;
      ++w.filled_steps;
    }
  }
  return w;
}

double SeriesStore::ValueIn(const Series& s, UnixMillis time) const {
  const int64_t bucket = FloorDiv(time, options_.step_ms);
  if (bucket > s.newest_bucket) return std::nan("");
  // The step itself, else the newest of the ffill_limit steps before it (as Window fills).
  for (int64_t b = bucket; b >= bucket - static_cast<int64_t>(options_.ffill_limit_steps); --b) {
    const Series::Slot& slot = s.slots[s.IndexOf(b)];
    if (s.Holds(slot, b)) return slot.sum / slot.count;
  }
  return std::nan("");
}

UnixMillis SeriesStore::LastObservedIn(const Series& s, UnixMillis time, size_t steps) const {
  const int64_t last = FloorDiv(time, options_.step_ms);
  // Walk the ring backwards from `last` without a division per slot.
  size_t i = s.IndexOf(last);
  for (int64_t b = last; b > last - static_cast<int64_t>(steps); --b, i = i == 0 ? s.slots.size() - 1 : i - 1) {
    if (s.Holds(s.slots[i], b)) return b * options_.step_ms;
  }
  return 0;
}

SeriesStore::ObservedRange SeriesStore::RangeIn(const Series& s, UnixMillis time, size_t steps,
                                                double stop_at_spread) const {
  ObservedRange r;
  const int64_t last = FloorDiv(time, options_.step_ms);
  size_t i = s.IndexOf(last);
  for (int64_t b = last; b > last - static_cast<int64_t>(steps); --b, i = i == 0 ? s.slots.size() - 1 : i - 1) {
    const Series::Slot& slot = s.slots[i];
    if (!s.Holds(slot, b)) continue;
    const double v = slot.sum / slot.count;
    r.min = r.observed == 0 ? v : std::min(r.min, v);
    r.max = r.observed == 0 ? v : std::max(r.max, v);
    ++r.observed;
    if (r.max - r.min >= stop_at_spread) break;
  }
  return r;
}

double SeriesStore::ValueAt(std::string_view point, UnixMillis time) const {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  return it == shard.series.end() ? std::nan("") : ValueIn(*it->second, time);
}

UnixMillis SeriesStore::LastObservedStep(std::string_view point, UnixMillis time, size_t steps) const {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  return it == shard.series.end() ? 0 : LastObservedIn(*it->second, time, steps);
}

SeriesStore::ObservedRange SeriesStore::RangeOf(std::string_view point, UnixMillis time, size_t steps,
                                                double stop_at_spread) const {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  return it == shard.series.end() ? ObservedRange{} : RangeIn(*it->second, time, steps, stop_at_spread);
}

const SeriesStore::Series* SeriesStore::Resolve(SeriesRef& ref) const {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (ref.series_ == nullptr || ref.generation_ != generation) {
    auto it = ref.shard_->series.find(ref.point());
    ref.series_ = it == ref.shard_->series.end() ? nullptr : it->second.get();
    ref.generation_ = generation;
    ref.ring_ = ref.series_ != nullptr ? ref.series_->slots.data() : nullptr;
    ref.ring_steps_ = ref.series_ != nullptr ? ref.series_->slots.size() : 0;
  }
  return ref.series_;
}

double SeriesStore::ValueAt(SeriesRef& ref, UnixMillis time) const {
  if (ref.shard_ == nullptr) ref.shard_ = &ShardFor(ref.point());
  std::lock_guard<std::mutex> lock(ref.shard_->mu);
  const Series* s = Resolve(ref);
  return s == nullptr ? std::nan("") : ValueIn(*s, time);
}

UnixMillis SeriesStore::LastObservedStep(SeriesRef& ref, UnixMillis time, size_t steps) const {
  if (ref.shard_ == nullptr) ref.shard_ = &ShardFor(ref.point());
  std::lock_guard<std::mutex> lock(ref.shard_->mu);
  const Series* s = Resolve(ref);
  return s == nullptr ? 0 : LastObservedIn(*s, time, steps);
}

UnixMillis SeriesStore::RetainedFrom(SeriesRef& ref) const {
  if (ref.shard_ == nullptr) ref.shard_ = &ShardFor(ref.point());
  std::lock_guard<std::mutex> lock(ref.shard_->mu);
  const Series* s = Resolve(ref);
  if (s == nullptr || s->newest_bucket == kEmpty) return 0;
  return (s->newest_bucket - static_cast<int64_t>(s->slots.size()) + 1) * options_.step_ms;
}

void SeriesStore::Prefetch(SeriesRef* const* refs, size_t n, UnixMillis from, UnixMillis to) const {
  // Two passes: the series (one line each), then the ring's lines of the steps asked for, from
  // the ring's address as the ref last resolved it (a ref never resolved is skipped: its first
  // read resolves it). No lock and no resolve: the ref is the caller's own, a prefetch reads
  // nothing, and a ring gone since (the point dropped) costs a wasted hint, not a wrong value.
  // (Taking each point's shard lock here cost as much as the reads it was meant to speed up.)
  for (size_t i = 0; i < n; ++i) {
    if (refs[i]->series_ != nullptr) __builtin_prefetch(refs[i]->series_);
  }
  const int64_t first = FloorDiv(from, options_.step_ms), last = FloorDiv(to, options_.step_ms);
  for (size_t i = 0; i < n; ++i) {
    const SeriesRef& ref = *refs[i];
    if (ref.ring_ == nullptr || ref.ring_steps_ == 0) continue;
    // The ring's slots of steps first..last, by cache line (the range may wrap around the end).
    const int64_t cap = static_cast<int64_t>(ref.ring_steps_);
    const int64_t oldest = std::max(first, last - cap + 1);
    const size_t i0 = static_cast<size_t>(((oldest % cap) + cap) % cap), count = static_cast<size_t>(last - oldest + 1);
    const size_t head = std::min(count, static_cast<size_t>(cap) - i0);
    const char* base = static_cast<const char*>(ref.ring_);
    for (size_t off = i0 * sizeof(Series::Slot); off < (i0 + head) * sizeof(Series::Slot); off += 64)
      __builtin_prefetch(base + off);
    for (size_t off = 0; off < (count - head) * sizeof(Series::Slot); off += 64) __builtin_prefetch(base + off);
  }
}

SeriesStore::ObservedRange SeriesStore::RangeOf(SeriesRef& ref, UnixMillis time, size_t steps,
                                                double stop_at_spread) const {
  if (ref.shard_ == nullptr) ref.shard_ = &ShardFor(ref.point());
  std::lock_guard<std::mutex> lock(ref.shard_->mu);
  const Series* s = Resolve(ref);
  return s == nullptr ? ObservedRange{} : RangeIn(*s, time, steps, stop_at_spread);
}

std::optional<SeriesWindow> SeriesStore::Latest(std::string_view point, size_t steps) const {
  auto stats = Stats(point);
  if (!stats) return std::nullopt;
  int64_t newest;
  {
    Shard& shard = ShardFor(point);
    std::lock_guard<std::mutex> lock(shard.mu);
    newest = shard.series.find(point)->second->newest_bucket;
  }
  return Window(point, (newest + 1) * options_.step_ms, steps);
}

std::optional<SeriesStats> SeriesStore::Stats(std::string_view point) const {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  if (it == shard.series.end()) return std::nullopt;
  return it->second->stats;
}

void SeriesStore::Drop(std::string_view point) {
  Shard& shard = ShardFor(point);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(point);
  if (it != shard.series.end()) {
    shard.series.erase(it);
    points_.fetch_sub(1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // under the lock: no ref reads the freed series
  }
}

std::vector<std::string> SeriesStore::Points() const {
  std::vector<std::string> out;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [name, s] : shard.series) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

StoreCounters SeriesStore::Counters() const {
  return StoreCounters{points_.load(), accepted_.load(), late_.load(), duplicates_.load(), too_old_.load()};
}

size_t SeriesStore::BytesPerPoint() const {
  return sizeof(Series) + options_.window_steps * sizeof(Series::Slot) + options_.dedup_depth * sizeof(int64_t) +
         64;  // unordered_map node + unique_ptr overhead, approximately
}

void CollectStoreMetrics(const SeriesStore& store, MetricWriter& w) {
  const StoreCounters c = store.Counters();
  w.Gauge("brickcast_store_points", "Points with a series in the store.", static_cast<double>(c.points));
  w.Counter("brickcast_store_late_total", "Out-of-order observations accepted into their step.", c.late);
  w.Gauge("brickcast_store_bytes_per_point", "Fixed memory of one point's series.",
          static_cast<double>(store.BytesPerPoint()));
}

}  // namespace brickcast
