// LiveEvents: numbering, resume after a reconnect, the bounded ring, waking waiting streams.
#include "api/live_events.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace brickcast {
namespace {

using namespace std::chrono_literals;

TEST(LiveEventsTest, ResumesAfterTheLastIdItStillHolds) {
  LiveEvents events("run", 16);
  for (int i = 0; i < 5; ++i) events.Append("alert", "{\"n\":" + std::to_string(i) + "}");
  bool reset = true;
  const uint64_t from = events.ResumeAfter("run-2", &reset);
  EXPECT_FALSE(reset);
  bool dropped = true;
  const auto items = events.After(from, 0ms, &dropped);
  EXPECT_FALSE(dropped);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].seq, 3u);
  EXPECT_EQ(items[0].data, "{\"n\":2}");
  EXPECT_EQ(events.Id(items[2].seq), "run-5");
  // Up to date: nothing to send, no reset.
  EXPECT_EQ(events.ResumeAfter("run-5", &reset), 5u);
  EXPECT_FALSE(reset);
  // A first connection starts at the newest event, with nothing to reload.
  EXPECT_EQ(events.ResumeAfter("", &reset), 5u);
  EXPECT_FALSE(reset);
}

TEST(LiveEventsTest, IdsItCannotResumeAskForAReload) {
  LiveEvents events("run", 3);
  for (int i = 0; i < 5; ++i) events.Append("alert", "{}");  // 1 and 2 left the ring
  bool reset = false;
  EXPECT_EQ(events.ResumeAfter("run-1", &reset), 5u);
  EXPECT_TRUE(reset) << "event 2 is gone";
  EXPECT_EQ(events.ResumeAfter("run-2", &reset), 2u);
  EXPECT_FALSE(reset) << "3, 4 and 5 are all still held";
  for (const char* bad : {"other-3", "run-", "run-x", "run-99", "run-99999999999999999999999", "3"}) {
    events.ResumeAfter(bad, &reset);
    EXPECT_TRUE(reset) << bad;
  }
}

TEST(LiveEventsTest, AStreamThatFellBehindTheRingIsTold) {
  LiveEvents events("run", 2);
  events.Append("alert", "{}");
  bool reset = false;
  const uint64_t at = events.ResumeAfter("", &reset);
  for (int i = 0; i < 3; ++i) events.Append("forecast", "{}");
  bool dropped = false;
  const auto items = events.After(at, 0ms, &dropped);
  EXPECT_TRUE(dropped);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items.back().seq, 4u);
}

TEST(LiveEventsTest, AWaitingStreamWakesOnANewEventOrClose) {
  LiveEvents events("run");
  std::thread producer([&] { events.Append("alert", "{\"late\":true}"); });
  bool dropped = false;
  const auto items = events.After(0, 30s, &dropped);  // returns as soon as the event lands
  producer.join();
  ASSERT_EQ(items.size(), 1u);
  std::thread closer([&] { events.Close(); });
  const auto none = events.After(1, 30s, &dropped);
  closer.join();
  EXPECT_TRUE(none.empty());
}

TEST(LiveEventsTest, AlertTransitionsAndForecastsBecomeJsonEvents) {
  LiveEvents events("run");
  events.OnEvent(AlertChanged{"abc", "sat-high", "urn:b#AHU1", "warning", "pending", "firing", true,
                              1'790'000'000'000, "SAT \"high\""});
  events.OnEvent(ForecastProduced{"urn:b#SAT", 1'790'000'000'000, false, nullptr});
  events.OnEvent(ModelSwapped{"a", "b"});  // not a live event
  bool dropped = false;
  const auto items = events.After(0, 0ms, &dropped);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].type, "alert");
  const auto alert = nlohmann::json::parse(items[0].data);
  EXPECT_EQ(alert["to"], "firing");
  EXPECT_EQ(alert["predicted"], true);
  EXPECT_EQ(alert["summary"], "SAT \"high\"");
  EXPECT_EQ(alert["data_time"], FormatIsoUtc(1'790'000'000'000));
  EXPECT_EQ(items[0].data.find('\n'), std::string::npos) << "one line: an SSE data field";
  EXPECT_EQ(items[1].type, "forecast");
  EXPECT_EQ(nlohmann::json::parse(items[1].data)["point"], "urn:b#SAT");
}

}  // namespace
}  // namespace brickcast
