// Split-conformal bookkeeping for the forecast service: rings of normalised absolute residuals
// (|actual - forecast| / spread of the input window) per horizon step, and their quantiles.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace brickcast::serving {

// How much an adapted coverage above 1 widens the largest score: coverage 1 + x reads it times
// 1 + kBeyondMax * x. Adaptive conformal inference needs levels past the largest score (in
// theory an infinite interval): a day's sample of scores may hold nothing as large as what a
// shift brings, and a level stuck at the largest score kept missing (coverage 0.83 for 0.90).
inline constexpr double kBeyondMax = 1.0;

// The rank of the conformal quantile for `coverage` among n scores: ceil((n+1) coverage), at
// least 1, at most n.
inline size_t ConformalRank(size_t n, double coverage) {
  const double rank = std::ceil((static_cast<double>(n) + 1) * std::min(coverage, 1.0));
  return std::clamp<size_t>(static_cast<size_t>(std::max(rank, 1.0)), 1, n);
}
inline double BeyondMax(double coverage) { return coverage > 1.0 ? 1.0 + kBeyondMax * (coverage - 1.0) : 1.0; }

// The conformal quantile of `scores` for coverage 1 - alpha: the ceil((n+1)(1-alpha))-th smallest
// score (the largest when that rank exceeds n, widened when coverage > 1). NaN for no scores.
// Reorders `scores`.
inline double ConformalQuantile(std::vector<float>& scores, double coverage) {
  if (scores.empty()) return NAN;
  const size_t rank = ConformalRank(scores.size(), coverage);
  std::nth_element(scores.begin(), scores.begin() + static_cast<long>(rank - 1), scores.end());
  return scores[rank - 1] * BeyondMax(coverage);
}

// The same rank on scores sorted in ascending order (no copy: for quantiles at many levels).
inline double QuantileOfSorted(const std::vector<float>& sorted, double coverage) {
  if (sorted.empty()) return NAN;
  return sorted[ConformalRank(sorted.size(), coverage) - 1] * BeyondMax(coverage);
}

// Adaptive conformal inference (Gibbs and Candes, 2021): the miscoverage level at which a
// point's scores are read, per horizon step. After each scored step
//   alpha += gamma * (target_alpha - miss)
// so a run of misses (a level shift, a valve that starts to move) widens the intervals until they
// cover again, and intervals that cover more than promised narrow. Kept in [-1, 0.5]: below 0
// the largest score is widened (BeyondMax, up to 2x); the floor stops a long miss streak (a
// sensor gone bad) from winding up.
class AdaptiveLevel {
 public:
  // Coverage to read horizon step h at (the target until it has been adapted).
  double Coverage(size_t h, double target) const { return h < alpha_.size() ? 1.0 - alpha_[h] : target; }
  void Update(size_t h, size_t horizons, double target, double gamma, bool covered) {
    if (gamma <= 0) return;
    if (alpha_.size() != horizons) alpha_.assign(horizons, static_cast<float>(1.0 - target));
    const double a = alpha_[h] + gamma * ((1.0 - target) - (covered ? 0.0 : 1.0));
    alpha_[h] = static_cast<float>(std::clamp(a, -1.0, 0.5));
  }
  size_t bytes() const { return alpha_.capacity() * sizeof(float); }

 private:
  std::vector<float> alpha_;
};

// Per horizon quarter: actuals scored against an interval, how many it covered, summed widths.
struct QuarterTally {
  uint64_t scored = 0, covered = 0;
  double width = 0, abs_error = 0;  // sums: the interval widths and the point forecast's errors
  void Add(bool in, double w, double err) {
    ++scored;
    covered += in;
    width += w;
    abs_error += err;
  }
};

// Per horizon step, the last `capacity` scores. Scores are stored as 16-bit fixed point
// (1/1000 of a spread, saturating at 65.5 spreads) to keep per-point state small, rounded up:
// a residual too small to show (a slowly reset set point against persistence) must not read as
// zero, or the interval has no width and misses it every time.
class ScoreRings {
 public:
  ScoreRings() = default;
  ScoreRings(size_t horizons, size_t capacity)
      : capacity_(capacity), data_(horizons * capacity), count_(horizons), head_(horizons) {}

  size_t horizons() const { return count_.size(); }
  size_t count(size_t h) const { return count_[h]; }

  void Add(size_t h, double score) {
    const double q = std::min(65535.0, std::max(0.0, std::ceil(score * 1000.0)));
    data_[h * capacity_ + head_[h]] = static_cast<uint16_t>(q);
    head_[h] = static_cast<uint16_t>((head_[h] + 1) % capacity_);
    if (count_[h] < capacity_) ++count_[h];
  }

  double Quantile(size_t h, double coverage, std::vector<float>* scratch) const {
    scratch->clear();
    for (size_t i = 0; i < count_[h]; ++i) scratch->push_back(data_[h * capacity_ + i] / 1000.0f);
    return ConformalQuantile(*scratch, coverage);
  }
  // The scores of horizon step h in ascending order.
  std::vector<float> Sorted(size_t h) const {
    std::vector<float> out;
    for (size_t i = 0; i < count_[h]; ++i) out.push_back(data_[h * capacity_ + i] / 1000.0f);
    std::sort(out.begin(), out.end());
    return out;
  }

  size_t bytes() const { return data_.capacity() * sizeof(uint16_t) + (count_.capacity() + head_.capacity()) * sizeof(uint16_t); }

 private:
  size_t capacity_ = 0;
  std::vector<uint16_t> data_;   // horizons x capacity
  std::vector<uint16_t> count_;  // per horizon
  std::vector<uint16_t> head_;
};

// A baseline forecast's own intervals (persistence, seasonal naive), built the way the model's
// are: its residuals in units of the same scale, sampled over a day, read at its own adaptive
// level; and what they realised per horizon quarter. Served with the baseline where it is the
// better forecast, and reported next to the model's so the model's sharpness shows.
struct BaselineIntervals {
  ScoreRings scores;
  AdaptiveLevel level;
  std::array<QuarterTally, 4> quarters;

  // Half widths for a forecast of `horizons` steps made at `scale`; all NaN until every step has
  // `min_scores` residuals.
  std::vector<float> HalfWidths(size_t horizons, double target, double scale, size_t min_scores,
                                std::vector<float>* scratch) const {
    std::vector<float> out(horizons, NAN);
    if (scores.horizons() != horizons) return out;
    for (size_t h = 0; h < horizons; ++h) {
      if (scores.count(h) < min_scores) return out;
    }
    for (size_t h = 0; h < horizons; ++h)
      out[h] = static_cast<float>(scores.Quantile(h, level.Coverage(h, target), scratch) * scale);
    return out;
  }
  // An actual against the baseline's forecast of horizon step h (of `horizons`), `err` away: the
  // residual joins the ring when `sample`; against `half_width` (NaN: no interval then) it counts
  // in `quarter` and moves the level. Returns 1 (covered), 0, or NaN (no interval).
  double Score(size_t h, size_t horizons, double err, double scale, bool sample, double half_width, size_t quarter,
               double target, double gamma, size_t capacity) {
    if (scores.horizons() != horizons) scores = ScoreRings(horizons, capacity);
    if (sample) scores.Add(h, err / scale);
    if (std::isnan(half_width)) return NAN;
    const bool in = err <= half_width;
    quarters[quarter].Add(in, 2.0 * half_width, err);
    level.Update(h, horizons, target, gamma, in);
    return in ? 1.0 : 0.0;
  }
  size_t bytes() const { return scores.bytes() + level.bytes(); }
};

// An exponentially weighted mean that starts as a plain mean (no bias towards zero at first).
struct RollingMean {
  double value = NAN;
  uint64_t n = 0;
  void Add(double x, double horizon = 200) {
    ++n;
    const double w = std::max(1.0 / static_cast<double>(n), 1.0 / horizon);
    value = n == 1 ? x : value + w * (x - value);
  }
};

}  // namespace brickcast::serving
