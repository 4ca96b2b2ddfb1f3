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

MessageSummary MessageKeyer::Summarize(std::string_view message) {
  MessageSummary s;
  ParseResult r = parser_.Parse(message, "replay");
  for (const PointMetadata& m : r.metadata) {
    if (!m.equipment.empty()) equipment_of_[m.point] = m.equipment;
  }
  for (const Observation& o : r.observations) s.time = std::max(s.time, o.time);
  if (!r.observations.empty()) {
    const std::string& first = r.observations.front().point;
    auto it = equipment_of_.find(first);
    s.key = it != equipment_of_.end() ? it->second : first;
  } else if (!r.metadata.empty()) {
    s.key = r.metadata.front().equipment.empty() ? r.metadata.front().point : r.metadata.front().equipment;
  }
  return s;
}

}  // namespace brickcast
