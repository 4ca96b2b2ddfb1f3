// Logging set-up: spdlog to stderr (journald picks it up under systemd). One call at start.
#pragma once

#include <string>

#include "brickcast/status.h"

namespace brickcast {

// level: trace, debug, info, warn, error.
Status SetupLogging(const std::string& level);

}  // namespace brickcast
