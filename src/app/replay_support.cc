#include "app/replay_support.h"

#include <algorithm>

namespace brickcast {

std::optional<std::chrono::steady_clock::time_point> Pacer::Due(UnixMillis t) {
  if (speed_ <= 0 || t == 0) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  if (first_time_ == 0 || t < first_time_) {
    first_time_ = t;
    first_wall_ = now;
    return std::nullopt;
  }
  const double wall_us = static_cast<double>(t - first_time_) * 1000.0 / speed_;
  const auto due = first_wall_ + std::chrono::microseconds(static_cast<int64_t>(wall_us));
  if (due <= now) return std::nullopt;
  return due;
}

MessageSummary SummarizeMessage(const StreamParser& parser, std::string_view message) {
  MessageSummary s;
  ParseResult r = parser.Parse(message, "replay");
  for (const PointMetadata& m : r.metadata) {
    if (!m.equipment.empty()) {
      s.key = m.equipment;
      break;
    }
  }
  for (const Observation& o : r.observations) {
    s.time = std::max(s.time, o.time);
    if (s.key.empty()) s.key = o.point;
  }
  return s;
}

}  // namespace brickcast
