#include "app/replay_support.h"

#include <algorithm>

namespace brickcast {

Pacer::Decision Pacer::Due(UnixMillis t, std::chrono::steady_clock::time_point now) {
  Decision d;
  if (speed_ <= 0 || t == 0) return d;
  if (first_time_ == 0) {
    first_time_ = newest_ = t;
    first_wall_ = now;
    return d;
  }
  if (t <= newest_) return d;  // late or equal: at once, the mapping stays
  d.gap = t - newest_;
  newest_ = t;
  if (d.gap > max_gap_) {
    d.jumped = true;
    first_time_ = t;
    first_wall_ = now;
    return d;
  }
  const double wall_us = static_cast<double>(t - first_time_) * 1000.0 / speed_;
  const auto due = first_wall_ + std::chrono::microseconds(static_cast<int64_t>(wall_us));
  if (due > now) d.due = due;
  return d;
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
    s.key = KeyOf(it != equipment_of_.end() ? it->second : model_ ? model_->OwnerOf(first) : "");
    if (s.key.empty()) s.key = first;
  } else if (!r.metadata.empty()) {
    s.key = r.metadata.front().equipment.empty() ? r.metadata.front().point : KeyOf(r.metadata.front().equipment);
  }
  return s;
}

std::string MessageKeyer::KeyOf(const std::string& equipment) const {
  if (equipment.empty() || model_ == nullptr || model_->Find(equipment) == nullptr) return equipment;
  return model_->SystemOf(equipment);
}

}  // namespace brickcast
