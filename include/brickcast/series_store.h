// SeriesStore: one fixed-size ring per point, resampled onto a regular grid of `step` (mean of
// the observations within each step). Reading a window forward-fills short gaps and returns a gap
// mask. Duplicates (same point, same timestamp) are dropped; late observations are accepted into
// their step while it is inside the window and the point's recent-timestamp memory can prove they
// are not duplicates. Every outcome is counted. Memory per point is fixed at creation:
// ~12 B x window_steps + 8 B x dedup_depth + ~150 B. Thread-safe (sharded locks).
#pragma once

#include <array>
#include <cmath>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "brickcast/metrics.h"

#include "brickcast/observation.h"
#include "brickcast/string_hash.h"

namespace brickcast {

struct SeriesOptions {
  int64_t step_ms = 300'000;
  size_t window_steps = 288;
  size_t ffill_limit_steps = 2;
  size_t dedup_depth = 32;
};

enum class AppendOutcome {
  kAccepted,   // in order
  kLate,       // out of order, accepted into its (older) step
  kDuplicate,  // same point and timestamp seen before: dropped
  kTooOld,     // older than the window, or older than the dedup memory: dropped
};
std::string_view AppendOutcomeName(AppendOutcome o);

// A resampled window. values[i] is the step starting at start + i*step; NaN where no data.
struct SeriesWindow {
  UnixMillis start = 0;
  int64_t step_ms = 0;
  std::vector<double> values;
  std::vector<uint8_t> observed;  // 1: at least one observation in the step
  std::vector<uint8_t> filled;    // 1: forward-filled from an earlier step
  size_t observed_steps = 0;
  size_t filled_steps = 0;
  double coverage() const {
    return values.empty() ? 0.0 : static_cast<double>(observed_steps + filled_steps) / values.size();
  }
};

struct SeriesStats {
  uint64_t accepted = 0, late = 0, duplicates = 0, too_old = 0;
  double last_value = 0;    // most recent observation by time
  UnixMillis last_time = 0;
  UnixMillis first_time = 0;
};

struct StoreCounters {
  uint64_t points = 0, accepted = 0, late = 0, duplicates = 0, too_old = 0;
};

class SeriesStore {
 public:
  explicit SeriesStore(SeriesOptions options);
  ~SeriesStore();
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  // REQUIRES: obs.value finite (the ingest path rejects non-finite values before this).
  AppendOutcome Append(const Observation& obs);

  // The `steps` steps ending with the step that contains `end - 1` ms; nullopt for unknown points.
  std::optional<SeriesWindow> Window(std::string_view point, UnixMillis end, size_t steps) const;
  // The last `steps` steps up to the newest observation of the point.
  std::optional<SeriesWindow> Latest(std::string_view point, size_t steps) const;
  // The value of the step containing `time` (its mean, or forward-filled as Window would); NaN
  // when there is none. Allocation-free, for the rule engine's hot path.
  double ValueAt(std::string_view point, UnixMillis time) const;
  // Start of the newest step with an observation among the `steps` steps ending with the one
  // containing `time`; 0 when there is none.
  UnixMillis LastObservedStep(std::string_view point, UnixMillis time, size_t steps) const;
  // Lowest and highest observed step mean among the `steps` steps ending with the one containing
  // `time`, and how many of them were observed (filled steps do not count). Allocation-free.
  // The scan runs newest first and stops once max - min reaches `stop_at_spread` (a flatline check
  // needs no more than that); `observed` then counts the steps scanned.
  struct ObservedRange {
    double min = NAN, max = NAN;
    size_t observed = 0;
  };
  ObservedRange RangeOf(std::string_view point, UnixMillis time, size_t steps,
                        double stop_at_spread = INFINITY) const;
  std::optional<SeriesStats> Stats(std::string_view point) const;

 private:
  struct Series;
  struct Shard;

 public:
  // One point's series found once for many reads (the rule engine reads the same points every
  // step): later reads go straight to the series, without hashing the name, until a Drop
  // anywhere in the store makes every ref look the series up again. Not thread-safe itself:
  // one ref per reader. The ref does not own the point's name: `point` must outlive it (the rule
  // engine keeps a system's refs side by side, 48 bytes each, so a closing step reads a few
  // cache lines of them; a name inside each made them 72).
  class SeriesRef {
   public:
    SeriesRef() = default;  // no point: reads find no data
    explicit SeriesRef(const std::string* point) : point_(point) {}
    const std::string& point() const { return point_ != nullptr ? *point_ : kNoPoint; }

   private:
    friend class SeriesStore;
    static inline const std::string kNoPoint;
    const std::string* point_ = nullptr;
    Shard* shard_ = nullptr;
    const Series* series_ = nullptr;
    uint64_t generation_ = 0;
    // The series' ring as last resolved, for Prefetch: addresses only, never read through.
    const void* ring_ = nullptr;
    size_t ring_steps_ = 0;
  };
  double ValueAt(SeriesRef& ref, UnixMillis time) const;
  UnixMillis LastObservedStep(SeriesRef& ref, UnixMillis time, size_t steps) const;
  ObservedRange RangeOf(SeriesRef& ref, UnixMillis time, size_t steps, double stop_at_spread = INFINITY) const;
  // Start of the oldest step the point's ring still holds (the newest step minus the window);
  // 0 when the point has no data. A reader that lags the writer (the rules after a burst) must
  // not take an evicted step for a missing observation.
  UnixMillis RetainedFrom(SeriesRef& ref) const;
  // Asks the CPU to load what reads of these points' steps from `from` to `to` will touch, all
  // points at once. A rule engine judging an equipment's closed step reads a dozen series whose
  // steps were written minutes ago: read one after the other, each is a chain of dependent cache
  // misses (ref, series, ring); hinted together, the misses overlap. Changes nothing.
  void Prefetch(SeriesRef* const* refs, size_t n, UnixMillis from, UnixMillis to) const;

  void Drop(std::string_view point);
  std::vector<std::string> Points() const;
  StoreCounters Counters() const;
  const SeriesOptions& options() const { return options_; }
  // Bytes of one point's series (excluding the point name).
  size_t BytesPerPoint() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::unique_ptr<Series>, StringHash, std::equal_to<>> series;  // guarded by mu
  };
  static constexpr size_t kShards = 16;
  Shard& ShardFor(std::string_view point) const;
  // REQUIRES: the ref's shard lock held (Locked takes it). Null when the point has no series.
  const Series* Resolve(SeriesRef& ref) const;
  double ValueIn(const Series& s, UnixMillis time) const;
  UnixMillis LastObservedIn(const Series& s, UnixMillis time, size_t steps) const;
  ObservedRange RangeIn(const Series& s, UnixMillis time, size_t steps, double stop_at_spread) const;

  SeriesOptions options_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> accepted_{0}, late_{0}, duplicates_{0}, too_old_{0}, points_{0};
  std::atomic<uint64_t> generation_{1};  // bumped by every Drop (SeriesRef validity)
};

// Points, late observations and the fixed memory per point, for the metrics registry.
void CollectStoreMetrics(const SeriesStore& store, MetricWriter& writer);

}  // namespace brickcast
