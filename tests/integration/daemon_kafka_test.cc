// The daemon on its embedded default: in-process Kafka-protocol broker, file replay published to
// it, the consumer feeding the store; external producers (kcat, `brickcast replay`) reach it too.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "brickcast/alerts.h"
#include "brickcast/daemon.h"
#include "brickcast/kafka.h"
#include "brick/turtle_reader.h"
#include "daemon_fixture.h"

namespace brickcast {
namespace {

using testing::WaitFor;

using Json = nlohmann::json;

std::string Lkv(const std::string& point, int minute, double value) {
  char ts[32];
  std::snprintf(ts, sizeof ts, "2026-11-22T%02d:%02d:00Z", 10 + minute / 60, minute % 60);
  return "@prefix d: <urn:d#> .\nd:AHU1 brick:hasPoint <" + point + "> .\n<" + point +
         "> brick:lastKnownValue [ brick:value " + std::to_string(value) + " ; brick:timestamp \"" + ts + "\" ] .\n";
}

class DaemonKafkaTest : public testing::DaemonFixture {
 protected:
  void Start(const std::string& replay_file, double speed = 0) {
    const std::string cfg = R"({
      "kafka": {"brokers": "embedded", "topics": ["obs"], "dead_letter_topic": "dead",
                "group_id": "daemon-test", "session_timeout_ms": 3000,
                "embedded": {"partitions": 4, "address_file": "bootstrap.txt"}},
      "replay": {"files": [)" + (replay_file.empty() ? "" : "\"" + replay_file + "\"") + R"(], "target": "kafka", "speed": )" +
                            std::to_string(speed) + R"(},
      "store": {"step_seconds": 60, "window_steps": 600},
      "forecast": {"model": "none", "workers": 1},
      "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})";
    StartDaemonWithConfig(cfg);
  }
  uint64_t Count(const std::string& point) {
    auto st = daemon_->store().Stats(point);
    return st ? st->accepted : 0;
  }
  std::string Run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    last_status_ = WEXITSTATUS(pclose(p));
    return out;
  }

  int last_status_ = 0;
};

TEST_F(DaemonKafkaTest, ReplayFlowsThroughTheEmbeddedBroker) {
  std::string file;
  for (int i = 0; i < 120; ++i) {
    if (i > 0) file += "# brickcast:message\n";
    file += Lkv("urn:d#SAT", i, 12.5 + i % 4);
  }
  file += "# brickcast:message\nbroken { turtle\n";
  Start(dir_.File("replay.ttl", file));
  ASSERT_TRUE(WaitFor([&] { return Count("urn:d#SAT") >= 120; })) << Count("urn:d#SAT");
  ASSERT_TRUE(WaitFor([&] { return daemon_->ingestor().Counters().failed_messages >= 1; }));
  EXPECT_EQ(daemon_->registry().Get("urn:d#SAT")->equipment, "urn:d#AHU1");

  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_EQ(Json::parse(ready->body)["kafka"]["assigned"].size(), 4u);
  const std::string metrics = client_->Get("/metrics")->body;
  EXPECT_NE(metrics.find("brickcast_kafka_messages_total 121"), std::string::npos) << metrics;
  std::ifstream addr(dir_.path() + "/bootstrap.txt");
  std::string bootstrap;
  std::getline(addr, bootstrap);
  EXPECT_EQ(bootstrap, daemon_->kafka_bootstrap());
}

TEST_F(DaemonKafkaTest, ExternalProducersReachTheEmbeddedBroker) {
  Start("");
  const std::string brokers = daemon_->kafka_bootstrap();
  ASSERT_FALSE(brokers.empty());
  // kcat, as an operator would use it (one message on stdin).
  const std::string msg = dir_.File("one.ttl", Lkv("urn:d#OAT", 0, 7.0));
  Run("kcat -b " + brokers + " -P -t obs -k urn:d#AHU1 " + msg + " 2>&1");
  ASSERT_EQ(last_status_, 0) << "kcat failed";
  ASSERT_TRUE(WaitFor([&] { return Count("urn:d#OAT") == 1; })) << "kcat message not consumed";

  // `brickcast replay` of a CSV through a mapping, as fast as possible.
  const std::string mapping = dir_.File("m.json", R"({"time_column": "time", "equipment": "urn:d#AHU2",
      "columns": {"sat": {"point": "urn:d#AHU2_SAT", "class": "Supply_Air_Temperature_Sensor", "unit": "DEG_F"}}})");
  std::string csv = "time,sat\n";
  for (int i = 0; i < 50; ++i) csv += "2026-11-22T10:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ":00Z,5" + std::to_string(i % 10) + "\n";
  const std::string csv_path = dir_.File("in.csv", csv);
  const std::string out = Run(std::string(BRICKCAST_BINARY) + " replay --brokers " + brokers + " --topic obs --max --mapping " +
                              mapping + " " + csv_path + " 2>&1");
  ASSERT_EQ(last_status_, 0) << out;
  EXPECT_NE(out.find("published 50 of 50"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor([&] { return Count("urn:d#AHU2_SAT") == 50; })) << Count("urn:d#AHU2_SAT");
  auto sat = daemon_->store().Stats("urn:d#AHU2_SAT");
  EXPECT_NEAR(sat->last_value, (59 - 32) * 5.0 / 9.0, 1e-9);
}

// Alerts and forecasts published to Kafka for BMS and data platforms, read back with kcat from the
// embedded broker: the alert as an Alertmanager webhook v4 alert keyed by its fingerprint, the
// forecast as JSON keyed by its equipment.
TEST_F(DaemonKafkaTest, AlertsAndForecastsArePublishedToTheirTopics) {
  dir_.File("model.ttl", R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)");
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "30 degC",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "action": "Check the cooling valve."}])");
  StartDaemonWithConfig(R"({"brick": {"models": ["model.ttl"]}, "rules": ["rules"],
      "kafka": {"brokers": "embedded", "topics": ["obs"], "alerts_topic": "brickcast.alerts",
                "forecasts_topic": "brickcast.forecasts", "group_id": "outputs-test", "session_timeout_ms": 3000,
                "embedded": {"partitions": 2}},
      "store": {"step_seconds": 300, "window_steps": 288}, "forecast": {"workers": 1},
      "alerts": {"database": ""}, "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})");
  Json obs = Json::array();
  const UnixMillis t0 = 1795341600000;  // 2026-11-22T10:00:00Z
  // More than a day: the shipped model's input (288 steps).
  for (int s = 0; s < 300; ++s) obs.push_back({{"point", "SAT"}, {"time", t0 + s * 300000}, {"value", 35 + (s % 3)}});
  auto post = client_->Post("/api/v1/observations", Json{{"observations", obs}}.dump(), "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  const std::string brokers = daemon_->kafka_bootstrap();
  auto consume = [&](const std::string& topic) {
    std::vector<std::pair<std::string, Json>> out;
    const std::string text = Run("kcat -b " + brokers + " -C -t " + topic + " -o beginning -e -q -f '%k\t%s\n' 2>/dev/null");
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      out.emplace_back(line.substr(0, tab), Json::parse(line.substr(tab + 1), nullptr, false));
    }
    return out;
  };
  std::vector<std::pair<std::string, Json>> alerts, forecasts;
  ASSERT_TRUE(WaitFor([&] {
    alerts = consume("brickcast.alerts");
    return !alerts.empty();
  }, std::chrono::seconds(30)));
  const std::string id = AlertFingerprint("sat-high", "urn:b#AHU1");
  EXPECT_EQ(alerts[0].first, id);
  const Json& a = alerts[0].second;
  EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(a["fingerprint"], id);
  EXPECT_EQ(a["labels"]["alertname"], "sat-high");
  EXPECT_EQ(a["labels"]["equipment"], "AHU1");
  EXPECT_EQ(a["annotations"]["action"], "Check the cooling valve.");
  // In the posted data's time (ISO times sort as strings): 10:00 on the 22nd to 10:55 on the 23rd.
  EXPECT_GE(a["startsAt"].get<std::string>(), "2026-11-22T10:00:00Z") << a.dump();
  EXPECT_LE(a["startsAt"].get<std::string>(), "2026-11-23T10:55:00Z") << a.dump();
  EXPECT_EQ(a["endsAt"], "0001-01-01T00:00:00Z") << "firing";
  ASSERT_TRUE(WaitFor([&] {
    forecasts = consume("brickcast.forecasts");
    return !forecasts.empty();
  }, std::chrono::seconds(30)));
  EXPECT_EQ(forecasts[0].first, "urn:b#AHU1") << "keyed by equipment";
  const Json& f = forecasts[0].second;
  EXPECT_EQ(f["point"], "urn:b#SAT");
  EXPECT_EQ(f["equipment"], "urn:b#AHU1");
  EXPECT_EQ(f["unit"], "degC");
  EXPECT_EQ(f["times"].size(), f["values"].size());
  EXPECT_EQ(f["values"].size(), 24u);
  EXPECT_EQ(f["model"].get<std::string>().rfind("timemixer", 0), 0u);
  const std::string metrics = client_->Get("/metrics")->body;
  EXPECT_NE(metrics.find("brickcast_kafka_outputs_failed_total 0"), std::string::npos);
}

// Forecasts as Brick Turtle (kafka.forecasts_format "turtle"), read back with kcat and parsed: the
// point's bc:forecast with its model, issue time, unit and 24 lastKnownValue-shaped steps, each
// with its horizon and, where calibrated, an interval around the value.
TEST_F(DaemonKafkaTest, ForecastsArePublishedAsTurtle) {
  dir_.File("model.ttl", R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_F .)");
  StartDaemonWithConfig(R"({"brick": {"models": ["model.ttl"]},
      "kafka": {"brokers": "embedded", "topics": ["obs"], "forecasts_topic": "brickcast.forecasts",
                "forecasts_format": "turtle", "group_id": "turtle-test", "session_timeout_ms": 3000,
                "embedded": {"partitions": 2}},
      "store": {"step_seconds": 300, "window_steps": 288}, "forecast": {"workers": 1},
      "alerts": {"database": ""}, "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})");
  Json obs = Json::array();
  const UnixMillis t0 = 1795341600000;  // 2026-11-22T10:00:00Z
  for (int s = 0; s < 300; ++s) obs.push_back({{"point", "SAT"}, {"time", t0 + s * 300000}, {"value", 60 + (s % 4)}});
  auto post = client_->Post("/api/v1/observations", Json{{"observations", obs}}.dump(), "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  const std::string brokers = daemon_->kafka_bootstrap();
  std::vector<std::pair<std::string, std::string>> messages;  // key, Turtle
  ASSERT_TRUE(WaitFor([&] {
    const std::string text = Run("kcat -b " + brokers + " -C -t brickcast.forecasts -o beginning -e -q " +
                                 "-f '%k\\n%s\\n<<end>>\\n' 2>/dev/null");
    messages.clear();
    for (size_t at = 0, end; (end = text.find("\n<<end>>\n", at)) != std::string::npos; at = end + 9) {
      const size_t nl = text.find('\n', at);
      messages.emplace_back(text.substr(at, nl - at), text.substr(nl + 1, end - nl - 1));
    }
    return !messages.empty();
  }, std::chrono::seconds(30)));
  const auto& [key, turtle] = messages.back();
  EXPECT_EQ(key, "urn:b#AHU1") << "keyed by equipment";
  std::vector<Triple> triples;
  TurtleError error;
  ASSERT_TRUE(TurtleReader().Parse(turtle, "forecast", &triples, &error)) << error.ToString() << "\n" << turtle;
  const std::string bc = "https://brickcast.dev/schema#", brick = "https://brickschema.org/schema/Brick#";
  auto objects = [&](const std::string& subject, const std::string& predicate) {
    std::vector<Term> out;
    for (const Triple& t : triples)
      if (t.subject.value == subject && t.predicate.value == predicate) out.push_back(t.object);
    return out;
  };
  ASSERT_EQ(objects("urn:b#SAT", brick + "isPointOf").size(), 1u);
  const auto forecast = objects("urn:b#SAT", bc + "forecast");
  ASSERT_EQ(forecast.size(), 1u) << turtle;
  const std::string node = forecast[0].value;
  EXPECT_EQ(objects(node, bc + "model")[0].value.rfind("timemixer", 0), 0u);
  EXPECT_EQ(objects(node, brick + "hasUnit")[0].value, "http://qudt.org/vocab/unit/DEG_C") << "stored in SI";
  const auto issued = objects(node, bc + "issuedAt");
  ASSERT_EQ(issued.size(), 1u);
  const auto steps = objects(node, bc + "step");
  ASSERT_EQ(steps.size(), 24u);
  std::set<std::string> horizons;
  for (const Term& step : steps) {
    const auto value = objects(step.value, brick + "value"), time = objects(step.value, brick + "timestamp");
    ASSERT_EQ(value.size(), 1u);
    ASSERT_EQ(time.size(), 1u);
    EXPECT_EQ(value[0].datatype, "http://www.w3.org/2001/XMLSchema#double");
    const double v = std::stod(value[0].value);
    EXPECT_GT(v, 10.0) << "degC, not degF";
    EXPECT_LT(v, 25.0);
    EXPECT_GE(time[0].value, issued[0].value);
    horizons.insert(objects(step.value, bc + "horizon")[0].value);
    const auto lower = objects(step.value, bc + "lower"), upper = objects(step.value, bc + "upper");
    if (!lower.empty()) {
      EXPECT_LE(std::stod(lower[0].value), v);
      EXPECT_GE(std::stod(upper[0].value), v);
    }
  }
  EXPECT_EQ(horizons.size(), 24u);
  EXPECT_TRUE(horizons.count("PT300S") || horizons.count("PT0S")) << *horizons.begin();
  // A brickcast that reads the topic back finds no observations in it.
  auto again = client_->Post("/api/v1/observations", turtle, "text/turtle");
  ASSERT_TRUE(again);
  EXPECT_EQ(Json::parse(again->body)["accepted"], 0) << again->body;
}

// One message per 10 minutes of data time for `point`, from `from` to `to` (epoch ms), with a padded
// comment so messages have the size of a real AHU row.
std::string Days(const std::string& point, UnixMillis from, UnixMillis to, size_t pad, size_t* count) {
  std::string file;
  for (UnixMillis t = from; t < to; t += 600000) {
    if (!file.empty() || *count > 0) file += "# brickcast:message\n";
    file += "@prefix d: <urn:d#> .\nd:AHU1 brick:hasPoint <" + point + "> .\n<" + point +
            "> brick:lastKnownValue [ brick:value " + std::to_string(*count % 50) + " ; brick:timestamp \"" +
            FormatIsoUtc(t) + "\" ] .\n# " + std::string(pad, '.') + "\n";
    ++*count;
  }
  return file;
}

// The daemon's own replay of a multi-day file with a day missing, at 172,800x: every message
// arrives, and the pacing follows data time (the missing day is a pause of 0.5 s).
TEST_F(DaemonKafkaTest, MultiDayReplayWithGapsArrivesWholeAndFollowsDataTime) {
  const UnixMillis day = 86400000, t0 = 1505088000000;  // 2017-09-11T00:00Z
  size_t n = 0;
  std::string file = Days("urn:d#SAT", t0, t0 + 2 * day, 64, &n);  // days 1-2
  const size_t before_gap = n;
  file += Days("urn:d#SAT", t0 + 3 * day, t0 + 5 * day, 64, &n);  // day 3 missing, days 4-5
  const double speed = 172800;  // a day of data in 0.5 s
  const auto begin = std::chrono::steady_clock::now();
  Start(dir_.File("days.ttl", file), speed);
  std::chrono::steady_clock::time_point last_before_gap, first_after_gap;
  ASSERT_TRUE(WaitFor([&] {
    const uint64_t c = Count("urn:d#SAT");
    if (c >= before_gap && last_before_gap == std::chrono::steady_clock::time_point{})
      last_before_gap = std::chrono::steady_clock::now();
    if (c > before_gap && first_after_gap == std::chrono::steady_clock::time_point{})
      first_after_gap = std::chrono::steady_clock::now();
    return c == n;
  })) << Count("urn:d#SAT") << " of " << n;
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const double gap_s = std::chrono::duration<double>(first_after_gap - last_before_gap).count();
  // Data span: 5 days minus one step = ~2.5 s at this speed; the missing day alone is 0.5 s.
  EXPECT_GE(total_s, 2.3) << "replay ran ahead of data time";
  EXPECT_LT(total_s, 10.0) << "replay stalled";
  EXPECT_GE(gap_s, 0.4) << "the missing day was not waited for";
  EXPECT_LT(gap_s, 3.0);
  EXPECT_TRUE(WaitFor([&] { return daemon_->replay_finished(); }));
  const std::string metrics = client_->Get("/metrics")->body;
  EXPECT_NE(metrics.find("brickcast_kafka_offset_resets_total 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("brickcast_kafka_rebalances_total 1\n"), std::string::npos) << "one assignment, no rebalance";
  // Rules' time base: the newest data time of the AHU, whatever the replay speed.
  EXPECT_TRUE(WaitFor([&] { return daemon_->watermark().Get("urn:d#AHU1") == t0 + 5 * day - 600000; }))
      << FormatIsoUtc(daemon_->watermark().Get("urn:d#AHU1"));
}

// As fast as possible, one key (one partition), 8 MiB of messages: more than the embedded broker
// keeps per partition. The replay waits for its consumer, so nothing is dropped or skipped.
TEST_F(DaemonKafkaTest, MaxSpeedReplayLargerThanTheBrokerCapLosesNothing) {
  size_t n = 0;
  const UnixMillis t0 = 1505088000000;
  const std::string file = Days("urn:d#SAT", t0, t0 + 4000 * UnixMillis{600000}, 2000, &n);
  ASSERT_GT(file.size(), size_t{8} << 20);
  Start(dir_.File("big.ttl", file), 0);
  ASSERT_TRUE(WaitFor([&] { return Count("urn:d#SAT") == n; }, std::chrono::seconds(120)))
      << Count("urn:d#SAT") << " of " << n;
  const std::string metrics = client_->Get("/metrics")->body;
  EXPECT_NE(metrics.find("brickcast_kafka_offset_resets_total 0"), std::string::npos) << metrics;
  // One skipped-offsets series per assigned partition, all zero.
  std::istringstream lines(metrics);
  std::string line;
  int partitions = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("brickcast_kafka_offsets_skipped_total{partition=\"obs/", 0) != 0) continue;
    ++partitions;
    EXPECT_EQ(line.substr(line.size() - 2), " 0") << line;
  }
  EXPECT_EQ(partitions, 4) << metrics;

  // Then idle for longer than the group session timeout (3 s here, stricter than the embedded
  // default of 10 s): a single instance beside its own broker keeps its partitions, with no
  // spurious rebalance. The session timer runs inside librdkafka on wall time, which no injected
  // clock reaches, so this one test waits it out.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const std::string later = client_->Get("/metrics")->body;
  EXPECT_NE(later.find("brickcast_kafka_rebalances_total 1\n"), std::string::npos) << later;
  EXPECT_NE(later.find("brickcast_kafka_assigned_partitions 4\n"), std::string::npos) << later;
}

// `brickcast replay --group` into the embedded broker from another process: it publishes no faster
// than the daemon's group commits, so 8 MiB under one key (past the 5 MiB cap) all arrive.
TEST_F(DaemonKafkaTest, ReplayToolWaitsForTheGroupAndLosesNothing) {
  Start("");
  size_t n = 0;
  const UnixMillis t0 = 1505088000000;
  const std::string file = dir_.File("big.ttl", Days("urn:d#RAT", t0, t0 + 4000 * UnixMillis{600000}, 2000, &n));
  const std::string out = Run(std::string(BRICKCAST_BINARY) + " replay --brokers " + daemon_->kafka_bootstrap() +
                              " --topic obs --group daemon-test --max-lag 500 " + file + " 2>&1");
  ASSERT_EQ(last_status_, 0) << out;
  EXPECT_NE(out.find("published 4000 of 4000"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor([&] { return Count("urn:d#RAT") == n; }, std::chrono::seconds(60))) << Count("urn:d#RAT");
  EXPECT_NE(client_->Get("/metrics")->body.find("brickcast_kafka_offset_resets_total 0"), std::string::npos);
}

// After a rebalance hands half the partitions to another instance, this daemon forgets those
// partitions' points everywhere: store, forecast service and registry (the revoke event).
TEST_F(DaemonKafkaTest, RevokedPartitionsPointsAreDroppedEverywhere) {
  StartDaemonWithConfig(R"({
      "kafka": {"brokers": "embedded", "topics": ["obs"], "group_id": "revoke-test", "session_timeout_ms": 4000,
                "embedded": {"partitions": 4}},
      "store": {"step_seconds": 60, "window_steps": 600},
      "forecast": {"model": "none", "workers": 1},
      "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})");
  auto producer = KafkaProducer::Create(KafkaClientOptions{daemon_->kafka_bootstrap(), {}});
  ASSERT_TRUE(producer.ok());
  // 16 AHUs, one point each, keyed by AHU: spread over the 4 partitions; two steps each so every
  // point's first step closes and the forecast service holds state for it.
  for (int minute = 0; minute < 2; ++minute) {
    for (int e = 0; e < 16; ++e) {
      const std::string ahu = "urn:d#AHU" + std::to_string(e);
      const std::string msg = "@prefix d: <urn:d#> .\n<" + ahu + "> brick:hasPoint <" + ahu + ".SAT> .\n" +
                              "<" + ahu + ".SAT> brick:lastKnownValue [ brick:value 12.5 ; brick:timestamp \"" +
                              FormatIsoUtc(1795341600000 + minute * 60000) + "\" ] .\n";
      ASSERT_TRUE((*producer)->Produce("obs", ahu, msg).ok());
    }
  }
  ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return daemon_->store().Points().size() == 16; }));
  ASSERT_TRUE(WaitFor([&] { return daemon_->forecast()->Counters().points == 16; }))
      << daemon_->forecast()->Counters().points;
  EXPECT_EQ(daemon_->registry().size(), 16u);

  // A second instance joins the group and takes half of the partitions.
  auto classes = ClassHierarchy::BuiltIn();
  PointRegistry registry(classes);
  SeriesStore store(SeriesOptions{60000, 600, 0, 32});
  StreamParser parser(StreamParserOptions{});
  Ingestor ingestor(parser, registry, store, true, nullptr);
  KafkaSourceOptions o;
  o.client.brokers = daemon_->kafka_bootstrap();
  o.topics = {"obs"};
  o.group_id = "revoke-test";
  o.session_timeout_ms = 4000;
  o.rebuild_from = KafkaSourceOptions::RebuildFrom::kLogStart;
  KafkaSource other(o, ingestor, store);
  ASSERT_TRUE(other.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return other.Stats().assigned.size() == 2 && store.Points().size() > 0; }))
      << other.Stats().assigned.size();
  ASSERT_TRUE(WaitFor([&] { return daemon_->store().Points().size() + store.Points().size() == 16; }));
  const size_t kept = daemon_->store().Points().size();
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 16u);
  EXPECT_TRUE(WaitFor([&] { return daemon_->forecast()->Counters().points == kept; }))
      << daemon_->forecast()->Counters().points << " forecast states for " << kept << " points";
  EXPECT_TRUE(WaitFor([&] { return daemon_->registry().size() == kept; })) << daemon_->registry().size();
  for (const std::string& p : store.Points()) {
    EXPECT_FALSE(daemon_->forecast()->Get(p)) << p << " belongs to the other instance now";
    EXPECT_FALSE(daemon_->registry().Get(p)) << p;
  }
  other.Stop();
}

size_t ThreadCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// A start that fails late (the forecast model file is damaged, found after the embedded broker, its
// dead-letter producer and the registry are up) stops what it had started: no thread is left.
TEST_F(DaemonKafkaTest, AFailedStartStopsWhatItStarted) {
  const std::string bad_model = dir_.File("bad.model", "not a model");
  const size_t before = ThreadCount();
  auto config = LoadConfigFile(dir_.File("c.json", R"({
      "kafka": {"brokers": "embedded", "topics": ["obs"], "dead_letter_topic": "dead", "embedded": {"partitions": 2}},
      "forecast": {"model": ")" + bad_model + R"(", "workers": 2},
      "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})"));
  ASSERT_TRUE(config.ok()) << config.status().message();
  Daemon d(std::move(*config));
  const Status st = d.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("forecast.model"), std::string::npos) << st.message();
  EXPECT_TRUE(WaitFor([&] { return ThreadCount() <= before; }, std::chrono::seconds(10)))
      << ThreadCount() << " threads, " << before << " before the start";
}

TEST_F(DaemonKafkaTest, AChangelogNotCoPartitionedWithTheInputIsRefusedAtStart) {
  auto broker = EmbeddedBroker::Start(1, {"obs"}, 4);
  ASSERT_TRUE(broker.ok()) << broker.status().message();
  ASSERT_TRUE((*broker)->CreateTopic("alert-state", 2).ok());
  const std::string config = R"({"kafka": {"brokers": ")" + (*broker)->bootstrap() +
                             R"(", "topics": ["obs"], "alert_changelog_topic": "alert-state"},
      "forecast": {"model": "none"}, "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})";
  auto c = LoadConfigFile(dir_.File("c.json", config));
  ASSERT_TRUE(c.ok()) << c.status().message();
  Daemon d(std::move(*c));
  const Status st = d.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("alert-state has 2 partitions and input topic obs has 4"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace brickcast
