#include "brickcast/clock.h"

#include <chrono>

namespace brickcast {
namespace {

class SystemClock : public Clock {
 public:
  UnixMillis Now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

const Clock& Clock::Real() {
  static const SystemClock* const kClock = new SystemClock();
  return *kClock;
}

bool DataWatermark::Advance(const std::string& equipment, UnixMillis data_time) {
  std::lock_guard<std::mutex> lock(mu_);
  UnixMillis& w = by_equipment_[equipment];
  if (data_time <= w) return false;
  w = data_time;
  return true;
}

UnixMillis DataWatermark::Get(const std::string& equipment) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_equipment_.find(equipment);
  return it == by_equipment_.end() ? 0 : it->second;
}

void DataWatermark::Forget(const std::string& equipment) {
  std::lock_guard<std::mutex> lock(mu_);
  by_equipment_.erase(equipment);
}

}  // namespace brickcast
