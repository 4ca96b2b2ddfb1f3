// Log repeats are limited per shape and window, and what is left out is summarised.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/repeat_limiting_sink.h"

namespace brickcast {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A flood of one shape (numbers differ) gets its burst through, then one summary line when the
// window ends; another shape and another level are counted apart; lines at their own times.
TEST(RepeatLimitingSinkTest, AFloodCostsABurstAndASummaryPerWindow) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  inner->set_pattern("%l %v");
  auto sink = std::make_shared<RepeatLimitingSink>(inner);
  const uint64_t before = RepeatLimitingSink::suppressed_total.load();
  const auto t0 = spdlog::log_clock::now();
  auto log = [&](spdlog::level::level_enum level, const std::string& text, double seconds) {
    spdlog::details::log_msg msg("test", level, text);
    msg.time = t0 + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    sink->log(msg);
  };
  for (int i = 0; i < 500; ++i)
    log(spdlog::level::warn, "ingest rejected reason=syntax at line " + std::to_string(i) + ", column 9", i * 0.01);
  log(spdlog::level::warn, "kafka: broker down", 5);
  log(spdlog::level::err, "ingest rejected reason=syntax at line 1, column 9", 5);  // another level
  std::vector<std::string> lines = Lines(out.str());
  EXPECT_EQ(lines.size(), 12u) << out.str();
  EXPECT_EQ(RepeatLimitingSink::suppressed_total.load() - before, 490u);
  log(spdlog::level::warn, "kafka: broker up", 11);  // after the window: the summary comes out first
  lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 14u) << out.str();
  EXPECT_EQ(lines[12], "warning last 10 s: 490 more lines like this one left out: ingest rejected reason=syntax at line 10, column 9");
  EXPECT_EQ(lines[13], "warning kafka: broker up");
  for (int i = 0; i < 12; ++i)  // a new window: a new burst
    log(spdlog::level::warn, "ingest rejected reason=syntax at line " + std::to_string(i) + ", column 9", 12 + i * 0.1);
  sink.reset();  // at exit, what is left out is still said
  lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 14u + 10u + 1u) << out.str();
  EXPECT_NE(lines.back().find("2 more lines like this one left out"), std::string::npos) << lines.back();
}

// Lines written inside a LogScope carry its ids; scopes nest and end with their block.
TEST(RepeatLimitingSinkTest, LinesCarryTheIdsOfTheirScope) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  inner->set_pattern("%v");
  RepeatLimitingSink sink(inner);
  auto log = [&](const std::string& text) {
    spdlog::details::log_msg msg("test", spdlog::level::info, text);
    sink.log(msg);
  };
  log("before");
  {
    LogScope request("request=5f0c");
    log("handling");
    {
      LogScope alert("alert=ab12");
      log("saving");
    }
    log("answered");
  }
  log("after");
  EXPECT_EQ(Lines(out.str()), (std::vector<std::string>{"before", "handling [request=5f0c]",
                                                        "saving [request=5f0c alert=ab12]",
                                                        "answered [request=5f0c]", "after"}));
}

}  // namespace
}  // namespace brickcast
