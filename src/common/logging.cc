#include "brickcast/logging.h"

#include "common/repeat_limiting_sink.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

namespace brickcast {
namespace {

// One JSON object per line: {"time", "level", "logger", "msg"}, the message escaped, for log
// shippers (journald's MESSAGE then holds JSON; Docker's json-file driver wraps it unchanged).
class JsonLineFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t s = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char time[40];
    const size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03dZ", static_cast<int>(ms % 1000));
    const nlohmann::json line{{"time", time},
                              {"level", spdlog::level::to_string_view(msg.level).data()},
                              {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLineFormatter>(); }
};

}  // namespace

std::atomic<uint64_t> RepeatLimitingSink::suppressed_total{0};

namespace {
thread_local std::string t_log_ids;
}  // namespace

LogScope::LogScope(std::string_view id) : previous_size_(t_log_ids.size()) {
  if (!t_log_ids.empty()) t_log_ids += ' ';
  t_log_ids += id;
}
LogScope::~LogScope() { t_log_ids.resize(previous_size_); }
std::string_view CurrentLogIds() { return t_log_ids; }
uint64_t SuppressedLogLines() { return RepeatLimitingSink::suppressed_total.load(std::memory_order_relaxed); }

Status SetupLogging(const std::string& level, const std::string& format) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return Status::InvalidArgument("unknown log level " + level);
  if (format != "text" && format != "json") return Status::InvalidArgument("unknown log format " + format);
  // Callable again (a reload): the logger is made once, then only its level and format change.
  auto logger = spdlog::get("brickcast");
  if (!logger) {
    auto sink = std::make_shared<RepeatLimitingSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger = std::make_shared<spdlog::logger>("brickcast", std::move(sink));
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  return Status::Ok();
}

}  // namespace brickcast
