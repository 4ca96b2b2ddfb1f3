// Time representation and parsing shared by every module.
// Instants are UTC milliseconds since the Unix epoch (`UnixMillis`). Local times without a zone
// are resolved through a TimeZone: UTC, a fixed offset, or an IANA zone read from the system
// tz database (/usr/share/zoneinfo, Debian package tzdata). TimeZone is immutable and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brickcast/status.h"

namespace brickcast {

using UnixMillis = int64_t;

class TimeZone {
 public:
  // "UTC", "Z", "+01:00", "-05:30", or an IANA name such as "America/Los_Angeles".
  static StatusOr<TimeZone> Load(std::string_view name);
  static TimeZone Utc();

  const std::string& name() const { return name_; }
  // Offset (seconds east of UTC) in force at the given UTC instant.
  int32_t OffsetAtUtc(int64_t utc_seconds) const;
  // UTC seconds for a wall-clock time in this zone. In a DST gap the earlier offset is used; in an
  // overlap the first (daylight) occurrence wins, the convention of most building controllers.
  int64_t LocalToUtc(int64_t local_seconds) const;

 private:
  struct Transition {
    int64_t at_utc;
    int32_t offset;
  };
  std::string name_;
  int32_t fixed_offset_ = 0;
  std::shared_ptr<const std::vector<Transition>> transitions_;  // empty for fixed offsets
};

// floor(t / step) for a step (> 0) fixed at construction, without a 64-bit division: hot paths
// that turn times into step indices (the rule engine, about a hundred times per air handler and
// step) paid some 40 cycles per idiv on the critical path of the load that followed. A multiply
// by the reciprocal is off by at most one for |t| below 2^52 and is corrected; larger times divide.
class StepDivider {
 public:
  explicit StepDivider(int64_t step) : step_(step), inverse_(1.0 / static_cast<double>(step)) {}
  int64_t operator()(int64_t t) const {
    constexpr int64_t kExact = int64_t{1} << 52;
    if (t >= kExact || t <= -kExact) return t / step_ - (t % step_ < 0 ? 1 : 0);
    const int64_t q = static_cast<int64_t>(static_cast<double>(t) * inverse_);
    const int64_t r = t - q * step_;
    return q + (r >= step_ ? 1 : 0) - (r < 0 ? 1 : 0);
  }
  int64_t step() const { return step_; }

 private:
  int64_t step_;
  double inverse_;
};

// Days since 1970-01-01 for a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// ISO 8601 / xsd:dateTime: "2026-11-22T10:00:00Z", "...T10:00:00.250+01:00", "2026-11-22 10:00:00"
// (no zone: read in `zone`). Rejects impossible dates with a message that says why.
StatusOr<UnixMillis> ParseIsoDateTime(std::string_view text, const TimeZone& zone);

// strptime-like parsing for CSV columns. Supported: %Y %y %m %d %H %M %S %b (Jan..Dec, any case)
// %f (fraction of a second) and literal characters; numbers need not be zero-padded.
StatusOr<UnixMillis> ParseTimeWithFormat(std::string_view text, std::string_view format,
                                         const TimeZone& zone);

// "2026-11-22T10:00:00Z", with ".mmm" when the milliseconds are not zero.
std::string FormatIsoUtc(UnixMillis t);

}  // namespace brickcast
