// Logging set-up: spdlog to stderr (journald picks it up under systemd). One call at start.
#pragma once

#include <string>

#include "brickcast/status.h"

namespace brickcast {

// level: trace, debug, info, warn, error.
// Level: trace, debug, info, warn, error. Format: "text" (time level message) or "json" (one
// object per line: time, level, msg).
Status SetupLogging(const std::string& level, const std::string& format = "text");

}  // namespace brickcast
