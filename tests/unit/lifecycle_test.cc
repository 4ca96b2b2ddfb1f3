// The daemon's lifecycle: services start in order, stop in reverse, and a failed start stops what
// had started.
#include "brickcast/lifecycle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brickcast {
namespace {

struct Recorder {
  std::vector<std::string> log;
  Lifecycle::StartFn Start(const std::string& name, Status result = Status::Ok()) {
    return [this, name, result] {
      log.push_back("start " + name);
      return result;
    };
  }
  Lifecycle::StopFn Stop(const std::string& name) {
    return [this, name] { log.push_back("stop " + name); };
  }
};

TEST(LifecycleTest, StartsInOrderAndStopsInReverseOnce) {
  Recorder r;
  Lifecycle l;
  l.Add("broker", r.Start("broker"), r.Stop("broker"));
  l.Add("model", r.Start("model"), nullptr);
  l.Add("http", r.Start("http"), r.Stop("http"));
  ASSERT_TRUE(l.Start().ok());
  EXPECT_EQ(l.running(), (std::vector<std::string>{"broker", "model", "http"}));
  l.Stop(std::chrono::seconds(1));
  l.Stop(std::chrono::seconds(1));  // idempotent
  EXPECT_EQ(r.log, (std::vector<std::string>{"start broker", "start model", "start http", "stop http", "stop broker"}));
  EXPECT_TRUE(l.running().empty());
}

TEST(LifecycleTest, AFailedStartStopsWhatStartedAndNothingAfter) {
  Recorder r;
  Lifecycle l;
  l.Add("broker", r.Start("broker"), r.Stop("broker"));
  l.Add("forecast", r.Start("forecast"), r.Stop("forecast"));
  l.Add("http", r.Start("http", Status::Unavailable("port 8080 in use")), r.Stop("http"));
  l.Add("kafka", r.Start("kafka"), r.Stop("kafka"));
  const Status st = l.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "port 8080 in use");
  EXPECT_EQ(r.log, (std::vector<std::string>{"start broker", "start forecast", "start http", "stop forecast",
                                             "stop broker"}));
  EXPECT_TRUE(l.running().empty());
}

}  // namespace
}  // namespace brickcast
