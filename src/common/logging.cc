#include "brickcast/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace brickcast {

Status SetupLogging(const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return Status::InvalidArgument("unknown log level " + level);
  // Callable again (a log-level reload): the logger is made once, then only its level changes.
  auto logger = spdlog::get("brickcast");
  if (!logger) logger = spdlog::stderr_color_mt("brickcast");
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  return Status::Ok();
}

}  // namespace brickcast
