// Logging set-up: spdlog to stderr (journald picks it up under systemd). One call at start.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "brickcast/status.h"

namespace brickcast {

// Level: trace, debug, info, warn, error. Format: "text" (time level message) or "json" (one
// object per line: time, level, msg).
//
// Repeats are limited: lines of the same level and shape (the message with its numbers blanked,
// first 80 bytes) go out at most kLogRepeatBurst times per kLogRepeatWindowSeconds; the rest are
// counted, and one line says how many were left out and what they looked like when the window
// ends (at the next line logged after it, or at exit). A flood of malformed messages then costs
// a few lines a window, not one line each.
inline constexpr int kLogRepeatBurst = 10;
inline constexpr int kLogRepeatWindowSeconds = 10;
Status SetupLogging(const std::string& level, const std::string& format = "text");
// Lines left out since the start (brickcast_log_lines_suppressed_total).
uint64_t SuppressedLogLines();

// Ids every log line of this thread carries while the scope lives, e.g. "request=5f0c9a2e1b7d4e38"
// around a request's handler and "alert=<fingerprint>" around an alert's evaluation, so one
// request's or one alert's lines can be found: text lines end with " [request=...]", JSON lines
// carry them in "msg" the same way. Scopes nest (ids are joined by spaces).
class LogScope {
 public:
  explicit LogScope(std::string_view id);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  size_t previous_size_;
};
std::string_view CurrentLogIds();

}  // namespace brickcast
