// The event bus: typed events to filtered subscribers, each on its own thread behind a bounded
// queue; blocking or drop-oldest overflow; unsubscribe drains.
#include "brickcast/events.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "brickcast/clock.h"
#include "test_support.h"

namespace brickcast {
namespace {

TEST(EventBusTest, DeliversOnlyTheKindsSubscribedInOrder) {
  EventBus bus;
  std::vector<std::string> seen;  // written by the subscription thread, read after Drain
  auto sub = bus.Subscribe("t", {EventKind<ObservationsApplied>(), EventKind<PartitionsRevoked>()},
                           [&](const Event& e) {
                             if (const auto* a = std::get_if<ObservationsApplied>(&e)) seen.push_back(a->points[0]);
                             else seen.push_back(std::string("revoked:") + EventName(e));
                           });
  for (int i = 0; i < 100; ++i) bus.Publish(ObservationsApplied{{"p" + std::to_string(i)}, i});
  bus.Publish(ForecastProduced{"p1", 0, false});  // not subscribed
  bus.Publish(PartitionsRevoked{{"obs/1"}, {"p1"}});
  sub->Drain();
  ASSERT_EQ(seen.size(), 101u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], "p" + std::to_string(i));
  EXPECT_EQ(seen.back(), "revoked:partitions_revoked");
  EXPECT_EQ(sub->Stats().delivered, 101u);
  EXPECT_EQ(sub->Stats().dropped, 0u);
}

TEST(EventBusTest, HandlersRunOffThePublishersThread) {
  EventBus bus;
  std::thread::id handler_thread;
  auto sub = bus.Subscribe("t", {}, [&](const Event&) { handler_thread = std::this_thread::get_id(); });
  bus.Publish(ConfigReloaded{"x.json"});
  sub->Drain();
  EXPECT_NE(handler_thread, std::this_thread::get_id());
}

// A gate that holds the subscriber's handler until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(EventBusTest, BlockingSubscriberMakesThePublisherWaitAndLosesNothing) {
  EventBus bus;
  Gate gate;
  std::atomic<int> handled{0};
  auto sub = bus.Subscribe("slow", {}, [&](const Event&) {
    gate.Wait();
    ++handled;
  }, 2, Overflow::kBlock);
  std::atomic<int> published{0};
  std::thread publisher([&] {
    for (int i = 0; i < 10; ++i) {
      bus.Publish(ObservationsApplied{{"p"}, i});
      ++published;
    }
  });
  // One event in the handler, two queued: the publisher is held at the fourth for as long as the
  // handler is (the queue cannot move while the gate is shut, so this state is stable).
  ASSERT_TRUE(testing::WaitFor([&] { return published.load() == 3 && sub->Stats().queue_depth == 2; },
                               std::chrono::seconds(10)))
      << published.load() << " published";
  EXPECT_EQ(published.load(), 3);
  gate.Open();
  publisher.join();
  sub->Drain();
  EXPECT_EQ(handled.load(), 10);
}

TEST(EventBusTest, DropOldestSubscriberKeepsTheNewestAndCountsTheRest) {
  EventBus bus;
  Gate gate;
  std::vector<UnixMillis> seen;
  auto sub = bus.Subscribe("live view", {}, [&](const Event& e) {
    gate.Wait();
    seen.push_back(std::get<ObservationsApplied>(e).latest_time);
  }, 3, Overflow::kDropOldest);
  for (int i = 0; i < 50; ++i) bus.Publish(ObservationsApplied{{"p"}, i});  // never blocks
  gate.Open();
  sub->Drain();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen.back(), 49);  // the newest is never the one dropped
  EXPECT_EQ(sub->Stats().delivered + sub->Stats().dropped, 50u);
  EXPECT_GE(sub->Stats().dropped, 46u);
}

TEST(EventBusTest, UnsubscribingHandlesWhatIsQueuedThenStops) {
  EventBus bus;
  std::atomic<int> handled{0};
  Gate gate;
  auto sub = bus.Subscribe("t", {}, [&](const Event&) {
    gate.Wait();  // holds the first event, so the rest are still queued when we unsubscribe
    ++handled;
  });
  for (int i = 0; i < 20; ++i) bus.Publish(ModelSwapped{"a", "b"});
  EXPECT_GE(sub->Stats().queue_depth, 19u);
  gate.Open();
  sub.reset();
  EXPECT_EQ(handled.load(), 20);
  bus.Publish(ModelSwapped{"b", "c"});  // nobody left: nothing happens
  EXPECT_TRUE(bus.Stats().empty());
}

}  // namespace
}  // namespace brickcast

namespace brickcast {
namespace {

TEST(DataWatermarkTest, MovesForwardOnlyPerEquipment) {
  DataWatermark w;
  EXPECT_EQ(w.Get("urn:AHU1"), 0);
  EXPECT_TRUE(w.Advance("urn:AHU1", 1000));
  EXPECT_FALSE(w.Advance("urn:AHU1", 500)) << "late data does not move time back";
  EXPECT_TRUE(w.Advance("urn:AHU2", 200));
  EXPECT_EQ(w.Get("urn:AHU1"), 1000);
  EXPECT_EQ(w.Get("urn:AHU2"), 200);
  w.Forget("urn:AHU1");
  EXPECT_EQ(w.Get("urn:AHU1"), 0);
}

TEST(ManualClockTest, MovesOnlyWhenTold) {
  ManualClock c(5000);
  EXPECT_EQ(c.Now(), 5000);
  c.Advance(250);
  EXPECT_EQ(c.Now(), 5250);
  c.Set(10);
  EXPECT_EQ(c.Now(), 10);
  EXPECT_GT(Clock::Real().Now(), 1700000000000);
}

}  // namespace
}  // namespace brickcast
