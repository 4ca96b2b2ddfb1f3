// The daemon on its embedded default: in-process Kafka-protocol broker, file replay published to
// it, the consumer feeding the store; external producers (kcat, `brickcast replay`) reach it too.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "brickcast/daemon.h"
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
  void Start(const std::string& replay_file) {
    const std::string cfg = R"({
      "kafka": {"brokers": "embedded", "topics": ["obs"], "dead_letter_topic": "dead",
                "group_id": "daemon-test", "embedded": {"partitions": 4, "address_file": "bootstrap.txt"}},
      "replay": {"files": [)" + (replay_file.empty() ? "" : "\"" + replay_file + "\"") + R"(], "target": "kafka"},
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

}  // namespace
}  // namespace brickcast
