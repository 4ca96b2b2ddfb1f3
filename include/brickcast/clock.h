// Time, injected. Modules that stamp or decide by wall-clock time take a Clock; tests pass a
// ManualClock and advance it instead of sleeping. Waits on condition variables (queue deadlines,
// polling intervals) stay on std::chrono::steady_clock: they bound how long a thread blocks, they
// decide nothing.
//
// Rules and alert timers do not use the wall clock at all: they use DataWatermark, the newest
// data time seen per equipment, so `for: 10m` means ten minutes of data whether the data arrives
// live or replayed at 600x.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

#include "brickcast/time.h"

namespace brickcast {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixMillis Now() const = 0;  // wall-clock time, epoch milliseconds
  // Milliseconds from an arbitrary origin that never jump: set against Now(), they tell a step of
  // the wall clock (NTP, an operator's `date -s`) from time that passed.
  virtual int64_t MonotonicMillis() const = 0;
  static const Clock& Real();  // the system clock
};

// A clock that moves only when told. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(UnixMillis start) : now_(start) {}
  UnixMillis Now() const override { return now_.load(); }
  int64_t MonotonicMillis() const override { return now_.load() - jumped_.load(); }
  void Set(UnixMillis t) { now_.store(t); }  // time passes (monotonic time moves with it)
  void Advance(UnixMillis ms) { now_.fetch_add(ms); }
  void Jump(int64_t ms) {  // the wall clock is stepped: monotonic time does not move
    jumped_.fetch_add(ms);
    now_.fetch_add(ms);
  }

 private:
  std::atomic<UnixMillis> now_;
  std::atomic<int64_t> jumped_{0};
};

// The newest data time seen per equipment (the air-handling system a point belongs to, or the
// point itself when it has none): the time base of rules. Only moves forward. Thread-safe.
class DataWatermark {
 public:
  // Returns true when the watermark of `equipment` moved.
  bool Advance(const std::string& equipment, UnixMillis data_time);
  UnixMillis Get(const std::string& equipment) const;  // 0 when nothing was seen
  void Forget(const std::string& equipment);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, UnixMillis> by_equipment_;  // guarded by mu_
};

}  // namespace brickcast
