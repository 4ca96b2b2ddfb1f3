// The Kafka source against a real Kafka-protocol broker on loopback (librdkafka's mock cluster,
// started by each test): at-least-once delivery, dead letters, abrupt restarts, consumer groups
// with window rebuild, broker outages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "brickcast/kafka.h"
#include "test_support.h"

namespace brickcast {
namespace {

using testing::WaitFor;

using Steady = std::chrono::steady_clock;
constexpr int kPartitions = 4;
constexpr UnixMillis kT0 = 1795341600000;

std::string Equipment(int e) { return "urn:t#AHU" + std::to_string(e); }
std::string Point(int e) { return Equipment(e) + ".SAT"; }

// Message i carries one observation of equipment i % n at time kT0 + i minutes.
std::string Message(int i, int equipment_count) {
  return "@prefix t: <urn:t#> .\n<" + Point(i % equipment_count) + "> brick:lastKnownValue [ brick:value " +
         std::to_string(i) + " ; brick:timestamp \"" + FormatIsoUtc(kT0 + int64_t{i} * 60000) + "\" ] .\n";
}

std::string UniqueGroup() {
  static std::atomic<int> n{0};
  return "test-group-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// One consumer instance: its own registry, store and ingestor, as a separate daemon would have.
struct Instance {
  Instance(const std::string& brokers, const std::string& group, DeadLetterSink* dead_letters = nullptr)
      : classes(ClassHierarchy::BuiltIn()), registry(classes), store(SeriesOptions{60000, 10000, 0, 64}),
        parser(StreamParserOptions{}), ingestor(parser, registry, store, true, dead_letters) {
    KafkaSourceOptions o;
    o.client.brokers = brokers;
    o.topics = {"obs"};
    o.group_id = group;
    o.commit_interval_ms = 200;
    o.session_timeout_ms = 6000;
    o.fetch_wait_max_ms = 20;
    o.rebuild = std::chrono::hours(1);
    o.rebuild_from = KafkaSourceOptions::RebuildFrom::kLogStart;  // the mock cannot seek by time
    source = std::make_unique<KafkaSource>(o, ingestor, store);
  }
  size_t Observations() const {
    size_t n = 0;
    for (const auto& p : store.Points()) n += store.Stats(p)->accepted;
    return n;
  }
  std::shared_ptr<ClassHierarchy> classes;
  PointRegistry registry;
  SeriesStore store;
  StreamParser parser;
  Ingestor ingestor;
  std::unique_ptr<KafkaSource> source;
};

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = EmbeddedBroker::Start(1, {"obs", "dead"}, kPartitions);
    ASSERT_TRUE(b.ok()) << b.status().message();
    broker_ = std::move(*b);
    auto p = KafkaProducer::Create(KafkaClientOptions{broker_->bootstrap(), {}});
    ASSERT_TRUE(p.ok()) << p.status().message();
    producer_ = std::move(*p);
  }
  void Produce(int from, int to, int equipment_count) {
    for (int i = from; i < to; ++i)
      ASSERT_TRUE(producer_->Produce("obs", Equipment(i % equipment_count), Message(i, equipment_count)).ok());
    ASSERT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());
  }
  KafkaClientOptions Client() const { return KafkaClientOptions{broker_->bootstrap(), {}}; }

  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST_F(KafkaTest, EveryGoodObservationStoredEveryBadOneDeadLetteredOffsetsCommitted) {
  Status st;
  auto dead = NewKafkaDeadLetterSink(Client(), "dead", &st);
  ASSERT_TRUE(st.ok()) << st.message();
  const std::string group = UniqueGroup();
  Instance a(broker_->bootstrap(), group, dead.get());
  ASSERT_TRUE(a.source->Start().ok());
  Produce(0, 200, 8);
  const std::vector<std::string> bad = {"not turtle", "@prefix t: <urn:t#> .\nt:X brick:lastKnownValue [ brick:value \"1",
                                        std::string(3, '\0'), "<urn:a> <urn:b> <urn:c> ."};
  for (size_t i = 0; i < bad.size(); ++i) ASSERT_TRUE(producer_->Produce("obs", "bad-key-" + std::to_string(i), bad[i]).ok());
  ASSERT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());

  ASSERT_TRUE(WaitFor([&] { return a.ingestor.Counters().messages >= 204; })) << a.ingestor.Counters().messages;
  EXPECT_EQ(a.Observations(), 200u);
  EXPECT_EQ(a.ingestor.Counters().failed_messages, 4u);
  for (int e = 0; e < 8; ++e) EXPECT_EQ(a.store.Stats(Point(e))->accepted, 25u) << Point(e);
  a.source->Stop();

  // Committed offsets equal the end offsets: nothing applied is left uncommitted.
  auto committed = CommittedOffsets(Client(), group, "obs");
  auto ends = HighWatermarks(Client(), "obs");
  ASSERT_TRUE(committed.ok()) << committed.status().message();
  ASSERT_TRUE(ends.ok()) << ends.status().message();
  EXPECT_EQ(*committed, *ends);

  // The dead-letter topic holds the four bad messages with their origin.
  Instance reader(broker_->bootstrap(), UniqueGroup());
  std::vector<nlohmann::json> letters;
  {
    // A raw consumer on the dead-letter topic: ingest would reject the JSON, so read its dead letters.
    testing::TempDir dir;
    Status s2;
    auto file_sink = NewJsonlDeadLetterSink(dir.path() + "/dl.jsonl", &s2);
    ASSERT_TRUE(s2.ok());
    Instance dl(broker_->bootstrap(), UniqueGroup(), file_sink.get());
    KafkaSourceOptions o;
    o.client = Client();
    o.topics = {"dead"};
    o.group_id = UniqueGroup();
    o.session_timeout_ms = 6000;
    KafkaSource dead_reader(o, dl.ingestor, dl.store);
    ASSERT_TRUE(dead_reader.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return dl.ingestor.Counters().messages >= 4; }));
    dead_reader.Stop();
    std::ifstream in(dir.path() + "/dl.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto outer = nlohmann::json::parse(line);
      letters.push_back(nlohmann::json::parse(outer["payload"].get<std::string>()));
    }
  }
  ASSERT_EQ(letters.size(), 4u);
  std::set<std::string> keys, reasons;
  for (const auto& l : letters) {
    EXPECT_EQ(l["topic"], "obs");
    EXPECT_GE(l["offset"].get<int64_t>(), 0);
    EXPECT_TRUE(l.contains("partition"));
    keys.insert(l["key"].get<std::string>());
    reasons.insert(l["reason"].get<std::string>());
  }
  EXPECT_EQ(keys, (std::set<std::string>{"bad-key-0", "bad-key-1", "bad-key-2", "bad-key-3"}));
  EXPECT_EQ(reasons, (std::set<std::string>{"syntax", "binary", "no_observations"}));
}

TEST_F(KafkaTest, AbruptStopAndRestartLosesNothing) {
  const std::string group = UniqueGroup();
  Produce(0, 300, 6);
  {
    Instance a(broker_->bootstrap(), group);
    ASSERT_TRUE(a.source->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return a.ingestor.Counters().messages >= 150; }));
    a.source->AbortForTest();  // no drain, no final commit, no group leave: like kill -9
  }
  Produce(300, 400, 6);
  Instance b(broker_->bootstrap(), group);
  ASSERT_TRUE(b.source->Start().ok());
  // Everything is in the new instance's store: the uncommitted tail is redelivered, and the window
  // before the committed offset is rebuilt by seeking back in time.
  ASSERT_TRUE(WaitFor([&] { return b.Observations() >= 400; }, std::chrono::seconds(90))) << b.Observations();
  for (int e = 0; e < 6; ++e) {
    auto st = b.store.Stats(Point(e));
    ASSERT_TRUE(st);
    EXPECT_EQ(st->accepted, 400u / 6 + (e < 400 % 6 ? 1 : 0)) << Point(e);
  }
  EXPECT_GT(b.source->Stats().redelivered, 0u) << "the rebuild re-read history before the committed offset";
  b.source->Stop();
}

TEST_F(KafkaTest, TwoInstancesSplitPartitionsAndRebuildWindowsOnRebalance) {
  const std::string group = UniqueGroup();
  Produce(0, 240, 12);
  Instance a(broker_->bootstrap(), group);
  ASSERT_TRUE(a.source->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 240; }));
  EXPECT_EQ(a.source->Stats().assigned.size(), static_cast<size_t>(kPartitions));

  Instance b(broker_->bootstrap(), group);
  ASSERT_TRUE(b.source->Start().ok());
  ASSERT_TRUE(WaitFor([&] {
    return a.source->Stats().assigned.size() + b.source->Stats().assigned.size() == kPartitions &&
           !a.source->Stats().assigned.empty() && !b.source->Stats().assigned.empty();
  }, std::chrono::seconds(90)));
  auto sa = a.source->Stats().assigned, sb = b.source->Stats().assigned;
  std::set<std::string> all(sa.begin(), sa.end());
  all.insert(sb.begin(), sb.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kPartitions)) << "partitions are split, not shared";

  // B rebuilt the windows of its partitions from history produced before it joined; A dropped them.
  ASSERT_TRUE(WaitFor([&] { return a.Observations() + b.Observations() >= 240; }));
  EXPECT_GT(b.Observations(), 0u);
  EXPECT_GT(a.source->Stats().dropped_points, 0u);
  const std::vector<std::string> a_points = a.store.Points();
  std::set<std::string> pa(a_points.begin(), a_points.end());
  for (const auto& p : b.store.Points()) EXPECT_EQ(pa.count(p), 0u) << p << " held by both instances";

  // In steady state the two together see every new message once.
  Produce(240, 480, 12);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() + b.Observations() >= 480; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(a.Observations() + b.Observations(), 480u);
  for (int e = 0; e < 12; ++e) {
    auto st = a.store.Stats(Point(e)) ? a.store.Stats(Point(e)) : b.store.Stats(Point(e));
    ASSERT_TRUE(st) << Point(e);
    EXPECT_EQ(st->accepted, 40u) << Point(e);
  }
  b.source->Stop();
  a.source->Stop();
}

TEST_F(KafkaTest, BrokerOutageIsReportedAndRecoveredWithoutRestart) {
  Instance a(broker_->bootstrap(), UniqueGroup());
  ASSERT_TRUE(a.source->Start().ok());
  Produce(0, 10, 2);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 10; }));
  std::string why;
  EXPECT_TRUE(a.source->Ready(&why)) << why;

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  ASSERT_TRUE(WaitFor([&] { return !a.source->Ready(&why); })) << "outage not detected";
  EXPECT_NE(why.find("brokers down"), std::string::npos) << why;

  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  ASSERT_TRUE(WaitFor([&] { return a.source->Ready(&why); })) << why;
  Produce(10, 20, 2);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 20; })) << a.Observations();
  a.source->Stop();
}

TEST_F(KafkaTest, StopEndsWithinItsTimeoutWhenTheBrokerIsGone) {
  // Found in the field: with the broker gone, closing the consumer waited for the dead
  // coordinator and a daemon took 46 s to stop (systemd kills at 30). What was consumed is
  // applied; the final commit and the group leave are given up at the deadline.
  Instance a(broker_->bootstrap(), UniqueGroup());
  ASSERT_TRUE(a.source->Start().ok());
  Produce(0, 10, 2);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 10; }));
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  std::string why;
  ASSERT_TRUE(WaitFor([&] { return !a.source->Ready(&why); }));
  const auto t0 = Steady::now();
  a.source->Stop(std::chrono::seconds(2));
  const double took = std::chrono::duration<double>(Steady::now() - t0).count();
  // No close with every broker down; librdkafka's teardown (about 4 s here) is bounded by the 2 s.
  EXPECT_LT(took, 3.5) << "Stop took " << took << " s with the broker down";
  EXPECT_EQ(a.Observations(), 10u) << "what was consumed is kept";
  EXPECT_TRUE(WaitFor([] { return KafkaTeardownsPending() == 0; }, std::chrono::seconds(60)))
      << "the teardown left in the background never ended";
}

TEST_F(KafkaTest, StopRightAfterTheBrokerDiesIsBoundedToo) {
  // Found in CI: a broker dying in the second before the stop, not yet reported down, leaves the
  // final commit and an auto-commit (every 200 ms here) queued for a coordinator that is gone;
  // librdkafka's destroy then waited about a session timeout (6 s) after the close gave up.
  Instance a(broker_->bootstrap(), UniqueGroup());
  ASSERT_TRUE(a.source->Start().ok());
  Produce(0, 10, 2);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 10; }));
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  const auto t0 = Steady::now();
  a.source->Stop(std::chrono::seconds(1));
  const double took = std::chrono::duration<double>(Steady::now() - t0).count();
  // 1 s for the commit and the close, at most 1 s more for the teardown, then it goes on alone
  // (the margin is for a loaded machine; before, 6 s and more).
  EXPECT_LT(took, 4.0) << "Stop took " << took << " s right after the broker died";
  EXPECT_EQ(a.Observations(), 10u);
  EXPECT_TRUE(WaitFor([] { return KafkaTeardownsPending() == 0; }, std::chrono::seconds(60)))
      << "the teardown left in the background never ended";
}

TEST_F(KafkaTest, SubscribesByPattern) {
  Instance a(broker_->bootstrap(), UniqueGroup());
  KafkaSourceOptions o;
  o.client = Client();
  o.topics = {"^ob.*"};  // matches "obs", not "dead"
  o.group_id = UniqueGroup();
  o.session_timeout_ms = 6000;
  a.source = std::make_unique<KafkaSource>(o, a.ingestor, a.store);
  ASSERT_TRUE(a.source->Start().ok());
  Produce(0, 12, 3);
  ASSERT_TRUE(WaitFor([&] { return a.Observations() >= 12; })) << a.Observations();
  EXPECT_EQ(a.source->Stats().assigned.size(), static_cast<size_t>(kPartitions));
  a.source->Stop();
}

TEST_F(KafkaTest, FullIngestQueuePausesPartitionsAndMemoryStaysBounded) {
  // A slow ingest (a tiny queue) against a fast producer: the consumer pauses rather than buffering.
  const std::string group = UniqueGroup();
  Instance a(broker_->bootstrap(), group);
  KafkaSourceOptions o;
  o.client = Client();
  o.topics = {"obs"};
  o.group_id = group;
  o.session_timeout_ms = 6000;
  o.queue_messages = 100;
  o.rebuild_from = KafkaSourceOptions::RebuildFrom::kLogStart;
  a.source = std::make_unique<KafkaSource>(o, a.ingestor, a.store);
  Produce(0, 1500, 4);
  ASSERT_TRUE(a.source->Start().ok());
  size_t max_depth = 0;
  ASSERT_TRUE(WaitFor([&] {
    max_depth = std::max(max_depth, a.source->Stats().queue_depth);
    return a.Observations() >= 1500;
  }, std::chrono::seconds(90))) << "observations=" << a.Observations() << " messages=" << a.ingestor.Counters().messages
                                 << " pauses=" << a.source->Stats().pauses << " depth=" << a.source->Stats().queue_depth
                                 << " paused=" << a.source->Stats().paused;
  EXPECT_LE(max_depth, 100u);
  EXPECT_EQ(a.Observations(), 1500u) << "pausing loses nothing";
  EXPECT_GT(a.source->Stats().pauses, 0u);
  a.source->Stop();
}

// The embedded broker keeps 5 MiB per partition and drops older messages silently. A consumer
// whose committed position falls below the log start is reset by librdkafka: the skipped offsets
// must be counted per partition, not vanish without a trace.
TEST_F(KafkaTest, OffsetsSkippedBehindTheLogStartAreCountedPerPartition) {
  const std::string group = UniqueGroup();
  const std::string pad(3000, ' ');  // ~3 KB messages: the 5 MiB cap holds about 1,700 of them
  auto big = [&](int i) { return Message(i, 1) + "# " + pad + "\n"; };
  {
    Instance a(broker_->bootstrap(), group);
    ASSERT_TRUE(a.source->Start().ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer_->Produce("obs", Equipment(0), big(i)).ok());
    ASSERT_TRUE(producer_->Flush(std::chrono::seconds(10)).ok());
    ASSERT_TRUE(WaitFor([&] { return a.Observations() == 10; }));
    a.source->Stop();  // commits offset 10 of the partition
    EXPECT_EQ(a.source->Stats().offset_resets, 0u);
  }
  // While nobody consumes, 4,000 more messages push the log start far past offset 10.
  for (int i = 10; i < 4010; ++i) ASSERT_TRUE(producer_->Produce("obs", Equipment(0), big(i)).ok());
  ASSERT_TRUE(producer_->Flush(std::chrono::seconds(30)).ok());

  Instance b(broker_->bootstrap(), group);
  ASSERT_TRUE(b.source->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return b.source->Stats().offset_resets >= 1; }, std::chrono::seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return b.store.Stats(Point(0)) && b.store.Stats(Point(0))->last_value == 4009; }));
  const KafkaSourceStats s = b.source->Stats();
  EXPECT_EQ(s.offset_resets, 1u);
  ASSERT_EQ(s.offsets_skipped.size(), 1u);
  const uint64_t skipped = s.offsets_skipped.begin()->second;
  // Everything between the committed offset and what the broker still had was skipped; the rest
  // was consumed: together they are the 4,000 new messages.
  const uint64_t consumed = b.Observations();
  EXPECT_GT(skipped, 1000u);
  EXPECT_EQ(skipped + consumed, 4000u) << "skipped " << skipped << " consumed " << consumed;
  b.source->Stop();
}

}  // namespace
}  // namespace brickcast
