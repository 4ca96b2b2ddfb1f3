// Logging set-up: spdlog to stderr (journald picks it up under systemd). One call at start.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace brickcast
