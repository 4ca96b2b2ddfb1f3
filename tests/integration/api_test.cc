// The daemon over real sockets: POST observations (Turtle and JSON), query points and series,
// metrics, bad requests, bearer tokens, and the file replay source.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "brickcast/daemon.h"
#include "daemon_fixture.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;
using testing::TempDir;

const char* kModel = R"(
@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT, b:OAT ; brick:hasPart b:Coil ; brick:feeds b:VAV1 .
b:Coil a brick:Hot_Water_Coil ; brick:hasPart b:Valve .
b:Valve a brick:Heating_Valve ; brick:hasPoint b:HWV .
b:HWV a brick:Valve_Command ; brick:hasUnit unit:PERCENT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_F ;
  ref:hasExternalReference [ ref:hasTimeseriesId "ahu1/sat" ] .
b:OAT a brick:Outside_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:VAV1 a brick:VAV ; brick:hasPoint b:ZAT .
b:ZAT a brick:Zone_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
)";

class ApiTest : public testing::DaemonFixture {
 protected:
  void StartDaemon(const std::string& extra_http = "", const std::string& replay = "",
                   const std::string& store_and_forecast = R"("store": {"step_seconds": 60, "window_steps": 60},
                       "forecast": {"model": "none", "workers": 1})") {
    dir_.File("model.ttl", kModel);
    const std::string cfg = R"({"brick": {"models": ["model.ttl"]},
      )" + store_and_forecast + R"(,
      "ingest": {"dead_letter_file": "dead.jsonl"},
      "replay": {"files": [)" + replay + R"(]},
      "http": {"listen": "127.0.0.1:0")" + extra_http + "}, \"log\": {\"level\": \"warn\"}}";
    StartDaemonWithConfig(cfg);
  }

};

const char* kTtl = R"(@prefix b: <urn:b#> .
b:SAT brick:lastKnownValue [ brick:value "55.4"^^xsd:double ; brick:timestamp "2026-11-22T10:00:00Z"^^xsd:dateTime ] .
b:OAT brick:lastKnownValue [ brick:value 12 ; brick:timestamp "2026-11-22T10:00:00Z" ] .
)";

TEST_F(ApiTest, HealthReadinessAndMetrics) {
  StartDaemon();
  auto h = client_->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(client_->Post("/api/v1/observations", kTtl, "text/turtle"));
  auto m = client_->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("brickcast_ingest_observations_total{outcome=\"accepted\"} 2"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("brickcast_store_points 2"), std::string::npos);
  EXPECT_EQ(testing::PrometheusTextProblems(m->body), "") << m->body;
  EXPECT_NE(m->body.find("# TYPE brickcast_forecast_latency_seconds histogram"), std::string::npos) << m->body;
}

TEST_F(ApiTest, PostTurtleThenQueryPoints) {
  StartDaemon();
  auto post = client_->Post("/api/v1/observations", kTtl, "text/turtle");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  auto report = Json::parse(post->body);
  EXPECT_EQ(report["accepted"], 2);

  auto all = Json::parse(client_->Get("/api/v1/points")->body);
  EXPECT_EQ(all["count"], 4);  // the model's points, with or without data
  auto page = Json::parse(client_->Get("/api/v1/points?limit=3")->body);
  EXPECT_EQ(page["count"], 3);
  EXPECT_EQ(page["total"], 4);
  EXPECT_EQ(page["next_offset"], 3);
  auto rest = Json::parse(client_->Get("/api/v1/points?limit=3&offset=3")->body);
  EXPECT_EQ(rest["count"], 1);
  EXPECT_TRUE(rest["next_offset"].is_null());
  EXPECT_EQ(client_->Get("/api/v1/points?limit=x")->status, 400);
  auto temps = Json::parse(client_->Get("/api/v1/points?class=Air_Temperature_Sensor")->body);
  ASSERT_EQ(temps["count"], 3);
  auto ahu = Json::parse(client_->Get("/api/v1/points?equipment=urn:b%23AHU1")->body);
  EXPECT_EQ(ahu["count"], 3) << "SAT, OAT and the valve command of its coil part";
  auto sat = Json::parse(client_->Get("/api/v1/points/SAT")->body);  // short name
  EXPECT_EQ(sat["id"], "urn:b#SAT");
  EXPECT_EQ(sat["class"], "Supply_Air_Temperature_Sensor");
  EXPECT_EQ(sat["equipment"], "urn:b#AHU1");
  EXPECT_EQ(sat["si_unit"], "degC");
  EXPECT_EQ(sat["count"], 1);
  EXPECT_NEAR(sat["last_value"].get<double>(), 13.0, 1e-9);
  EXPECT_EQ(sat["last_time"], "2026-11-22T10:00:00Z");
  // URL-encoded IRI and timeseries id name the same point.
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/points/urn%3Ab%23SAT")->body)["id"], "urn:b#SAT");
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/points/ahu1%2Fsat")->body)["id"], "urn:b#SAT");
  auto series = Json::parse(client_->Get("/api/v1/points/SAT/series?steps=5")->body);
  ASSERT_EQ(series["values"].size(), 5u);
  EXPECT_NEAR(series["values"][4].get<double>(), 13.0, 1e-9);
  EXPECT_TRUE(series["values"][0].is_null());
  auto equipment = Json::parse(client_->Get("/api/v1/equipment")->body);
  EXPECT_GE(equipment["count"].get<int>(), 4);
}

TEST_F(ApiTest, PostJsonObservations) {
  StartDaemon();
  auto post = client_->Post("/api/v1/observations", R"({"observations": [
      {"point": "SAT", "time": "2026-11-22T10:00:00Z", "value": 50},
      {"point": "urn:b#OAT", "time": 1795341600000, "value": 11.5, "unit": "DEG_C"},
      {"point": "SAT", "time": "2026-11-22T10:01:00Z", "value": "warm"}]})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200);
  auto r = Json::parse(post->body);
  EXPECT_EQ(r["accepted"], 2);
  EXPECT_EQ(r["rejected"], 1);
  EXPECT_EQ(r["errors"][0]["reason"], "bad_value");
  EXPECT_NEAR(Json::parse(client_->Get("/api/v1/points/SAT")->body)["last_value"].get<double>(), 10.0, 1e-9);
}

TEST_F(ApiTest, BadRequestsGetClearErrorsAndLoseNothing) {
  StartDaemon();
  auto bad = client_->Post("/api/v1/observations", "@prefix b: <urn:b#> .\nb:SAT brick:lastKnownValue [ brick:value \"1 ] .",
                           "text/turtle");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto j = Json::parse(bad->body);
  EXPECT_TRUE(j["message_failed"]);
  EXPECT_EQ(j["errors"][0]["reason"], "syntax");
  EXPECT_EQ(j["errors"][0]["line"], 2);

  auto not_json = client_->Post("/api/v1/observations", "{oops", "application/json");
  EXPECT_EQ(not_json->status, 400);
  EXPECT_EQ(Json::parse(not_json->body)["error"]["code"], "invalid_argument");
  EXPECT_EQ(client_->Post("/api/v1/observations", "x", "image/png")->status, 415);
  EXPECT_EQ(client_->Get("/api/v1/points/nope")->status, 404);
  EXPECT_EQ(client_->Get("/api/v1/points?class=Not_A_Class")->status, 400);
  EXPECT_EQ(client_->Get("/api/v1/points/SAT/series?steps=-1")->status, 400);
  EXPECT_EQ(client_->Get("/no/such/route")->status, 404);
  // After all that, good data still flows.
  EXPECT_EQ(client_->Post("/api/v1/observations", kTtl, "text/turtle")->status, 200);
  auto c = daemon_->ingestor().Counters();
  EXPECT_EQ(c.accepted, 2u);
  EXPECT_EQ(c.failed_messages, 1u);
}

TEST_F(ApiTest, BearerTokensAndScopes) {
  dir_.File("ops.token", "ops-token\n");
  StartDaemon(R"(, "tokens": [{"name": "viewer", "token": "read-token"},
                               {"name": "bms", "token_file": "ops.token", "scope": "operate"}])");
  EXPECT_EQ(client_->Get("/healthz")->status, 200) << "probes need no token";
  EXPECT_EQ(client_->Get("/api/v1/points")->status, 401);
  httplib::Headers read{{"Authorization", "Bearer read-token"}};
  httplib::Headers ops{{"Authorization", "Bearer ops-token"}};
  httplib::Headers wrong{{"Authorization", "Bearer nope"}};
  EXPECT_EQ(client_->Get("/api/v1/points", read)->status, 200);
  EXPECT_EQ(client_->Get("/api/v1/points", wrong)->status, 401);
  EXPECT_EQ(client_->Post("/api/v1/observations", read, kTtl, "text/turtle")->status, 403);
  EXPECT_EQ(client_->Post("/api/v1/observations", ops, kTtl, "text/turtle")->status, 200);
}

// An alert raised from posted observations, listed, acknowledged and silenced over real sockets,
// with the 4xx answers a BMS script gets for bad ids, bad bodies and missing scope.
TEST_F(ApiTest, AlertsFromPostedObservationsAckAndSilence) {
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "80 degF",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "action": "Check the heating valve."}])");
  StartDaemon(R"(, "tokens": [{"name": "viewer", "token": "r"}, {"name": "ann", "token": "o", "scope": "operate"}])",
              "", R"("store": {"step_seconds": 60, "window_steps": 60}, "forecast": {"model": "none", "workers": 1},
                   "rules": ["rules"], "alerts": {"database": "alerts.db"})");
  httplib::Headers read{{"Authorization", "Bearer r"}};
  httplib::Headers ops{{"Authorization", "Bearer o"}};
  // The rules run on the daemon's subscriber thread: wait for the alert to fire, not for time.
  std::promise<void> fired;
  bool once = false;  // only the subscription's thread touches it
  auto on_fire = daemon_->events().Subscribe("test", {EventKind<AlertChanged>()}, [&](const Event& e) {
    if (std::get<AlertChanged>(e).to == "firing" && !once) {
      once = true;
      fired.set_value();
    }
  });
  // SAT in degF (the model's unit): 85 degF = 29.4 degC over the 80 degF = 26.7 degC limit.
  auto post = client_->Post("/api/v1/observations", ops, R"({"observations": [
      {"point": "SAT", "time": "2026-11-22T10:00:10Z", "value": 85},
      {"point": "SAT", "time": "2026-11-22T10:01:10Z", "value": 85}]})", "application/json");
  ASSERT_EQ(post->status, 200) << post->body;
  ASSERT_EQ(fired.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the alert fired";
  Json list = Json::parse(client_->Get("/api/v1/alerts?state=firing", read)->body);
  ASSERT_EQ(list["total"], 1) << list.dump();
  const Json alert = list["alerts"][0];
  const std::string id = alert["id"];
  EXPECT_EQ(alert["rule"], "sat-high");
  EXPECT_EQ(alert["equipment"], "urn:b#AHU1");
  EXPECT_EQ(alert["starts_at"], "2026-11-22T10:00:00Z");
  EXPECT_EQ(alert["action"], "Check the heating valve.");
  EXPECT_NEAR(alert["evidence"]["values"][0]["value"].get<double>(), 29.444, 1e-3);
  EXPECT_EQ(alert["evidence"]["values"][0]["unit"], "degC");
  EXPECT_NEAR(alert["evidence"]["thresholds"][0]["value"].get<double>(), 26.667, 1e-3);
  auto detail = Json::parse(client_->Get("/api/v1/alerts/" + id, read)->body);
  ASSERT_EQ(detail["history"].size(), 1u);
  EXPECT_EQ(detail["history"][0]["to"], "firing");
  EXPECT_EQ(client_->Get("/api/v1/alerts/0000000000000000", read)->status, 404);
  EXPECT_EQ(client_->Get("/api/v1/alerts?state=bogus", read)->status, 400);
  EXPECT_EQ(client_->Get("/api/v1/alerts?limit=0", read)->status, 400);
  auto page = Json::parse(client_->Get("/api/v1/alerts?limit=1&severity=warning", read)->body);
  EXPECT_EQ(page["count"], 1);
  EXPECT_TRUE(page["next_offset"].is_null());

  // Ack: scope, body and id checked; the author defaults to the token's name.
  const std::string ack = "/api/v1/alerts/" + id + "/ack";
  EXPECT_EQ(client_->Post(ack, R"({"comment": "x"})", "application/json")->status, 401);
  EXPECT_EQ(client_->Post(ack, read, R"({"comment": "x"})", "application/json")->status, 403);
  EXPECT_EQ(client_->Post(ack, ops, "[1]", "application/json")->status, 400);
  EXPECT_EQ(client_->Post(ack, ops, R"({"coment": "typo"})", "application/json")->status, 400);
  EXPECT_EQ(client_->Post("/api/v1/alerts/nope/ack", ops, "{}", "application/json")->status, 404);
  auto acked = client_->Post(ack, ops, R"({"comment": "valve crew on it"})", "application/json");
  ASSERT_EQ(acked->status, 200) << acked->body;
  EXPECT_EQ(Json::parse(acked->body)["ack"]["by"], "ann");

  // Silences.
  EXPECT_EQ(client_->Post("/api/v1/silences", ops, R"({"duration": "1h"})", "application/json")->status, 400);
  EXPECT_EQ(client_->Post("/api/v1/silences", ops, R"({"matchers": {"rule": "sat-high"}})", "application/json")->status,
            400) << "an end is mandatory";
  EXPECT_EQ(client_->Post("/api/v1/silences", ops, R"({"matchers": {"colour": "red"}, "duration": "1h"})",
                          "application/json")->status, 400);
  EXPECT_EQ(client_->Post("/api/v1/silences", read, R"({"matchers": {"rule": "sat-high"}, "duration": "1h"})",
                          "application/json")->status, 403);
  auto silence = client_->Post("/api/v1/silences", ops,
                               R"({"matchers": {"rule": "sat-high"}, "duration": "1h", "comment": "valve job"})",
                               "application/json");
  ASSERT_EQ(silence->status, 201) << silence->body;
  const std::string sid = Json::parse(silence->body)["id"];
  EXPECT_EQ(Json::parse(silence->body)["author"], "ann");
  auto silenced = Json::parse(client_->Get("/api/v1/alerts/" + id, read)->body);
  EXPECT_EQ(silenced["silenced_by"], Json::array({sid}));
  EXPECT_EQ(silenced["state"], "firing") << "silenced alerts stay visible";
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/silences", read)->body)["count"], 1);
  EXPECT_EQ(client_->Get("/api/v1/silences?limit=0", read)->status, 400);
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/silences?offset=1", read)->body)["count"], 0);
  EXPECT_EQ(client_->Delete("/api/v1/silences/nope", ops)->status, 404);
  EXPECT_EQ(client_->Delete("/api/v1/silences/" + sid, read)->status, 403);
  EXPECT_EQ(client_->Delete("/api/v1/silences/" + sid, ops)->status, 200);
  EXPECT_EQ(client_->Delete("/api/v1/silences/" + sid, ops)->status, 409);
  EXPECT_TRUE(Json::parse(client_->Get("/api/v1/alerts/" + id, read)->body)["silenced_by"].empty());

  // Rules and metrics.
  auto rules = Json::parse(client_->Get("/api/v1/rules", read)->body);
  ASSERT_EQ(rules["count"], 1);
  EXPECT_EQ(rules["rules"][0]["applies"], Json::array({"urn:b#AHU1"}));
  EXPECT_EQ(rules["rules"][0]["bindings"][0]["points"]["SAT"], "urn:b#SAT") << "the point each input reads";
  EXPECT_EQ(rules["rules"][0]["limit"]["input"], "SAT");
  EXPECT_NEAR(rules["rules"][0]["limit"]["value"].get<double>(), 26.667, 1e-3) << "SI, as the series";
  EXPECT_EQ(rules["rules"][0]["limit"]["direction"], "above");
  EXPECT_GE(rules["rules"][0]["evaluations"].get<int>(), 1);
  const std::string metrics = client_->Get("/metrics", read)->body;
  EXPECT_NE(metrics.find("brickcast_alerts{state=\"firing\",severity=\"warning\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("brickcast_rule_evaluations_total"), std::string::npos);
  EXPECT_EQ(testing::PrometheusTextProblems(metrics), "");
}

// An open GET /api/v1/events stream read on its own thread; Wait() blocks until the text so far
// holds `needle` (the stream's own events pace it, not a timer).
class EventStreamReader {
 public:
  EventStreamReader(int port, std::string path, httplib::Headers headers) {
    thread_ = std::thread([this, port, path = std::move(path), headers = std::move(headers)] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      auto res = c.Get(path, headers, [this](const char* data, size_t n) {
        std::lock_guard<std::mutex> lock(mu_);
        text_.append(data, n);
        cv_.notify_all();
        return !stop_;
      });
      std::lock_guard<std::mutex> lock(mu_);
      status_ = res ? res->status : -1;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~EventStreamReader() { Close(); }
  bool Wait(const std::string& needle, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return text_.find(needle) != std::string::npos || done_; }) &&
           text_.find(needle) != std::string::npos;
  }
  std::string Text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  // Ends the stream (the next chunk, at the latest a heartbeat, makes the client hang up).
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  bool stop_ = false, done_ = false;
  int status_ = 0;
  std::thread thread_;
};

// The ids of the events in an SSE text, in order.
std::vector<std::string> EventIds(const std::string& text) {
  std::vector<std::string> ids;
  for (size_t at = text.find("id: "); at != std::string::npos; at = text.find("id: ", at + 1))
    ids.push_back(text.substr(at + 4, text.find('\n', at) - at - 4));
  return ids;
}

TEST_F(ApiTest, LiveEventsStreamAlertTransitionsAndResumeAfterAReconnect) {
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "80 degF",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])");
  StartDaemon(R"(, "tokens": [{"name": "viewer", "token": "r"}, {"name": "ann", "token": "o", "scope": "operate"}])",
              "", R"("store": {"step_seconds": 60, "window_steps": 60}, "forecast": {"model": "none", "workers": 1},
                   "rules": ["rules"], "alerts": {"database": "alerts.db"})");
  httplib::Headers read{{"Authorization", "Bearer r"}};
  httplib::Headers ops{{"Authorization", "Bearer o"}};
  EXPECT_EQ(client_->Get("/api/v1/events")->status, 401) << "a token is needed to read events";
  EXPECT_EQ(client_->Get("/api/v1/events?types=alert,weather", read)->status, 400);
  EXPECT_EQ(client_->Get("/api/v1/events?heartbeat=0", read)->status, 400);

  std::promise<void> resolved;
  bool once = false;
  auto on_resolve = daemon_->events().Subscribe("test", {EventKind<AlertChanged>()}, [&](const Event& e) {
    if (std::get<AlertChanged>(e).to == "resolved" && !once) {
      once = true;
      resolved.set_value();
    }
  });
  auto first = std::make_unique<EventStreamReader>(daemon_->http_port(), "/api/v1/events?heartbeat=1", read);
  ASSERT_TRUE(first->Wait(": connected"));
  ASSERT_EQ(client_->Post("/api/v1/observations", ops, R"({"observations": [
      {"point": "SAT", "time": "2026-11-22T10:00:10Z", "value": 85},
      {"point": "SAT", "time": "2026-11-22T10:01:10Z", "value": 85}]})", "application/json")->status, 200);
  ASSERT_TRUE(first->Wait("\"to\":\"firing\"")) << first->Text();
  EXPECT_TRUE(first->Wait(": heartbeat")) << "a quiet stream sends heartbeats";
  const std::string seen = first->Text();
  EXPECT_NE(seen.find("event: alert\ndata: {"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"rule\":\"sat-high\""), std::string::npos);
  EXPECT_NE(seen.find("\"equipment\":\"urn:b#AHU1\""), std::string::npos);
  const std::vector<std::string> ids = EventIds(seen);
  ASSERT_FALSE(ids.empty());
  first->Close();

  // While no one listens, the alert resolves; a client resuming from its last id gets exactly that.
  ASSERT_EQ(client_->Post("/api/v1/observations", ops, R"({"observations": [
      {"point": "SAT", "time": "2026-11-22T10:02:10Z", "value": 70},
      {"point": "SAT", "time": "2026-11-22T10:03:10Z", "value": 70}]})", "application/json")->status, 200);
  ASSERT_EQ(resolved.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  httplib::Headers resume = read;
  resume.emplace("Last-Event-ID", ids.back());
  EventStreamReader second(daemon_->http_port(), "/api/v1/events?types=alert&heartbeat=1", resume);
  ASSERT_TRUE(second.Wait("\"to\":\"resolved\"")) << second.Text();
  ASSERT_TRUE(second.Wait(": heartbeat"));
  const std::string replayed = second.Text();
  EXPECT_EQ(replayed.find("\"to\":\"firing\""), std::string::npos) << "nothing seen before is sent again";
  EXPECT_EQ(replayed.find("event: reset"), std::string::npos) << replayed;
  second.Close();

  // An id from another run (or garbage) cannot be resumed: the client is told to reload.
  httplib::Headers stale = read;
  stale.emplace("Last-Event-ID", "123-4");
  EventStreamReader third(daemon_->http_port(), "/api/v1/events?heartbeat=1", stale);
  EXPECT_TRUE(third.Wait("event: reset")) << third.Text();
}

TEST_F(ApiTest, MutatingCallsAreAuditedInTheStateDatabase) {
  StartDaemon(R"(, "tokens": [{"name": "viewer", "token": "r"}, {"name": "ann", "token": "o", "scope": "operate"},
                              {"name": "root", "token": "a", "scope": "admin"}])",
              "", R"("store": {"step_seconds": 60, "window_steps": 60}, "forecast": {"model": "none", "workers": 1},
                   "alerts": {"database": "alerts.db"})");
  httplib::Headers read{{"Authorization", "Bearer r"}}, ops{{"Authorization", "Bearer o"}},
      admin{{"Authorization", "Bearer a"}};
  ASSERT_EQ(client_->Post("/api/v1/silences", ops, R"({"matchers": {"rule": "x"}, "duration": "1h", "comment": "job"})",
                          "application/json")->status, 201);
  EXPECT_EQ(client_->Post("/api/v1/silences", read, R"({"matchers": {"rule": "y"}, "duration": "1h"})",
                          "application/json")->status, 403);
  ASSERT_EQ(client_->Get("/api/v1/alerts", read)->status, 200);  // reads are not audited
  EXPECT_EQ(client_->Get("/api/v1/audit", ops)->status, 403) << "the audit log is for admins";
  auto got = client_->Get("/api/v1/audit", admin);
  ASSERT_EQ(got->status, 200) << got->body;
  const Json log = Json::parse(got->body);
  ASSERT_EQ(log["count"], 2) << log.dump();
  EXPECT_EQ(log["entries"][0]["status"], 403);
  EXPECT_TRUE(log["entries"][0]["who"].is_null()) << "refused: no principal";
  EXPECT_EQ(log["entries"][1]["who"], "ann");
  EXPECT_EQ(log["entries"][1]["method"], "POST");
  EXPECT_EQ(log["entries"][1]["path"], "/api/v1/silences");
  EXPECT_EQ(log["entries"][1]["status"], 201);
  EXPECT_NE(log["entries"][1]["detail"].get<std::string>().find("\"comment\": \"job\""), std::string::npos);
  EXPECT_EQ(log["entries"][1]["remote"], "127.0.0.1");
  auto page = Json::parse(client_->Get("/api/v1/audit?limit=1", admin)->body);
  ASSERT_EQ(page["count"], 1);
  auto rest = Json::parse(client_->Get("/api/v1/audit?before=" + std::to_string(page["next_before"].get<int64_t>()),
                                       admin)->body);
  EXPECT_EQ(rest["entries"][0]["status"], 201);
  EXPECT_EQ(client_->Get("/api/v1/audit?before=x", admin)->status, 400);

  // The log is in the state database: it survives a restart.
  daemon_->Stop();
  StartDaemon(R"(, "tokens": [{"name": "root", "token": "a", "scope": "admin"}])", "",
              R"("store": {"step_seconds": 60, "window_steps": 60}, "forecast": {"model": "none", "workers": 1},
                   "alerts": {"database": "alerts.db"})");
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/audit", admin)->body)["count"], 2);
}

TEST_F(ApiTest, AClientOverItsRateGets429WithRetryAfter) {
  StartDaemon(R"(, "rate_limit_per_second": 1, "rate_limit_burst": 3)");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client_->Get("/api/v1/points")->status, 200) << i;
  auto limited = client_->Get("/api/v1/points");
  ASSERT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Json::parse(limited->body)["error"]["code"], "rate_limited");
}

// Every answer carries the request's id (the one its log lines carry): the client's own
// X-Request-Id when it is a sane token, else a new one.
TEST_F(ApiTest, EveryAnswerCarriesItsRequestId) {
  StartDaemon("");
  auto plain = client_->Get("/healthz");
  ASSERT_TRUE(plain);
  const std::string id = plain->get_header_value("X-Request-Id");
  EXPECT_EQ(id.size(), 16u) << id;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  auto again = client_->Get("/healthz");
  EXPECT_NE(again->get_header_value("X-Request-Id"), id) << "a new id per request";
  auto given = client_->Get("/api/v1/points", httplib::Headers{{"X-Request-Id", "bms-job-42.step_3"}});
  EXPECT_EQ(given->get_header_value("X-Request-Id"), "bms-job-42.step_3");
  auto odd = client_->Get("/nope", httplib::Headers{{"X-Request-Id", "has spaces and {braces}"}});
  EXPECT_EQ(odd->status, 404);
  EXPECT_EQ(odd->get_header_value("X-Request-Id").size(), 16u) << "an unsafe id is replaced, errors carry one too";
}

TEST_F(ApiTest, OversizedAndMalformedBodiesGetClearErrorsAndTheDaemonGoesOn) {
  StartDaemon(R"(, "max_body_bytes": 1024)");
  auto big = client_->Post("/api/v1/observations", std::string(4096, ' ') + kTtl, "text/turtle");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Json::parse(big->body)["error"]["code"], "payload_too_large");
  auto garbage = client_->Post("/api/v1/observations", "{\"observations\": [", "application/json");
  EXPECT_EQ(garbage->status, 400);
  EXPECT_FALSE(Json::parse(garbage->body)["error"]["message"].get<std::string>().empty());
  auto silence = client_->Post("/api/v1/silences", "not json", "application/json");
  EXPECT_EQ(silence->status, 400);
  EXPECT_EQ(Json::parse(silence->body)["error"]["message"], "body is not valid JSON");
  auto ok = client_->Post("/api/v1/observations", kTtl, "text/turtle");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << "a good request after bad ones is served";
}

TEST_F(ApiTest, HeavyReadsAnswer304WhenUnchanged) {
  StartDaemon();
  ASSERT_EQ(client_->Post("/api/v1/observations", kTtl, "text/turtle")->status, 200);
  auto first = client_->Get("/api/v1/points/SAT/series");
  ASSERT_EQ(first->status, 200);
  const std::string etag = first->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(client_->Get("/api/v1/points/SAT/series", httplib::Headers{{"If-None-Match", etag}})->status, 304);
  ASSERT_EQ(client_->Post("/api/v1/observations", R"({"observations": [{"point": "SAT", "time": "2026-11-22T10:01:00Z", "value": 56}]})",
                          "application/json")->status, 200);
  EXPECT_EQ(client_->Get("/api/v1/points/SAT/series", httplib::Headers{{"If-None-Match", etag}})->status, 200)
      << "new data: a new ETag";
}

TEST_F(ApiTest, ReloadAppliesAllOrNothingAndSaysWhatNeedsARestart) {
  dir_.File("model.ttl", kModel);
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "80 degF",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])");
  auto config = [](const std::string& extra_tokens, int threads) {
    return R"({"brick": {"models": ["model.ttl"]}, "store": {"step_seconds": 60, "window_steps": 60},
      "forecast": {"model": "none", "workers": 1}, "rules": ["rules"], "log": {"level": "warn"},
      "http": {"listen": "127.0.0.1:0", "threads": )" + std::to_string(threads) + R"(,
               "tokens": [{"name": "root", "token": "a", "scope": "admin"}, {"name": "viewer", "token": "r"})" +
           extra_tokens + "]}}";
  };
  StartDaemonWithConfig(config("", 4));
  httplib::Headers admin{{"Authorization", "Bearer a"}}, read{{"Authorization", "Bearer r"}},
      bob{{"Authorization", "Bearer b"}};
  EXPECT_EQ(client_->Post("/api/v1/reload", read, "", "application/json")->status, 403);
  EXPECT_EQ(client_->Get("/api/v1/rules", bob)->status, 401);

  // A second rule, a new token and a thread count (read only at start) in the files.
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "80 degF",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}},
      {"id": "oat-low", "kind": "threshold", "applies_to": "AHU", "direction": "below", "limit": "-20 degC",
       "inputs": {"OAT": "Outside_Air_Temperature_Sensor"}}])");
  dir_.File("brickcast.json", config(R"(, {"name": "bob", "token": "b"})", 2));
  auto done = client_->Post("/api/v1/reload", admin, "", "application/json");
  ASSERT_EQ(done->status, 200) << done->body;
  const Json report = Json::parse(done->body);
  EXPECT_TRUE(report["ok"].get<bool>());
  EXPECT_EQ(report["needs_restart"], Json::array({"/http/threads"})) << report.dump();
  EXPECT_NE(report["applied"].dump().find("/http/tokens"), std::string::npos) << report.dump();
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/rules", bob)->body)["count"], 2) << "the new rule and token are in force";

  // A broken rule file: nothing is applied, the error names the file, the running set stays.
  dir_.File("rules/r.json", R"([{"id": "broken", "kind": "threshold", "limt": 3}])");
  dir_.File("brickcast.json", config("", 2));  // would also revoke bob's token
  auto refused = client_->Post("/api/v1/reload", admin, "", "application/json");
  ASSERT_EQ(refused->status, 422) << refused->body;
  const Json why = Json::parse(refused->body);
  EXPECT_EQ(why["error"]["code"], "invalid_config");
  EXPECT_NE(why["error"]["message"].get<std::string>().find("r.json"), std::string::npos) << why.dump();
  EXPECT_EQ(Json::parse(client_->Get("/api/v1/rules", bob)->body)["count"], 2) << "bob's token and both rules stay";
  // A config that does not parse: the same.
  dir_.File("brickcast.json", "{\"http\": {\"lissen\": 1}}");
  EXPECT_EQ(client_->Post("/api/v1/reload", admin, "", "application/json")->status, 422);
  auto status = Json::parse(client_->Get("/api/v1/status", read)->body);
  EXPECT_EQ(status["reloads"], 3);
  EXPECT_EQ(status["reload_failures"], 2);
  EXPECT_FALSE(status["last_reload"]["ok"].get<bool>());
  EXPECT_NE(status["last_reload"]["errors"][0].get<std::string>().find("/http/lissen"), std::string::npos)
      << status.dump();
  const std::string metrics = client_->Get("/metrics", read)->body;
  EXPECT_NE(metrics.find("brickcast_reload_failures_total 2"), std::string::npos) << metrics;
}

TEST_F(ApiTest, ServesTheEmbeddedDashboard) {
  StartDaemon(R"(, "tokens": [{"name": "viewer", "token": "r"}])");
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << "the page itself holds no data and needs no token";
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/assets/app.js\""), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  for (const char* asset : {"/assets/app.js", "/assets/style.css"}) {
    auto a = client_->Get(asset);
    ASSERT_EQ(a->status, 200) << asset;
    const std::string etag = a->get_header_value("ETag");
    ASSERT_FALSE(etag.empty());
    auto again = client_->Get(asset, httplib::Headers{{"If-None-Match", etag}});
    EXPECT_EQ(again->status, 304) << asset;
    EXPECT_TRUE(again->body.empty());
  }
  EXPECT_EQ(client_->Get("/assets/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(client_->Get("/assets/../brickcast.json")->status, 404);
  EXPECT_EQ(client_->Get("/assets/nope.js")->status, 404);
  EXPECT_EQ(client_->Get("/api/v1/alerts")->status, 401) << "the API behind it still needs the token";
  // Every dashboard and events route is in the OpenAPI document.
  auto doc = Json::parse(client_->Get("/api/v1/openapi.json")->body);
  for (const char* path : {"/", "/assets/{name}", "/api/v1/events"}) EXPECT_TRUE(doc["paths"].contains(path)) << path;
}

TEST_F(ApiTest, ReplaysAFileOfMessages) {
  std::string file;
  for (int i = 0; i < 30; ++i) {
    char ts[32];
    std::snprintf(ts, sizeof ts, "2026-11-22T10:%02d:00Z", i);
    if (i > 0) file += "# brickcast:message\n";
    file += "@prefix b: <urn:b#> .\nb:ZAT brick:lastKnownValue [ brick:value " + std::to_string(20 + i % 3) +
            " ; brick:timestamp \"" + ts + "\" ] .\n";
  }
  file += "# brickcast:message\nthis one is broken\n";
  const std::string path = dir_.File("replay.ttl", file);
  StartDaemon("", "\"" + path + "\"");
  ASSERT_TRUE(testing::WaitFor([&] { return daemon_->replay_finished(); }, std::chrono::seconds(10)));
  auto zat = Json::parse(client_->Get("/api/v1/points/ZAT")->body);
  EXPECT_EQ(zat["count"], 30);
  EXPECT_EQ(zat["equipment"], "urn:b#VAV1");
  EXPECT_EQ(daemon_->ingestor().Counters().failed_messages, 1u);
  std::ifstream dead(dir_.path() + "/dead.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(dead, line));
  EXPECT_EQ(Json::parse(line)["source"], path + ":91");
}

// The shipped model serves live forecasts: post 9 h of 5-minute supply-air temperatures in degF
// and read a 2-hour forecast in degC, with its model, intervals and accuracy, over the API.
TEST_F(ApiTest, ServesForecastsFromTheShippedModel) {
  StartDaemon("", "", R"("store": {"step_seconds": 300, "window_steps": 288}, "forecast": {"workers": 1})");
  Json obs = Json::array();
  const UnixMillis t0 = 1795341600000;  // 2026-11-22T10:00:00Z
  // More than the model's input (a day: 288 steps).
  for (int s = 0; s < 300; ++s)
    obs.push_back({{"point", "SAT"}, {"time", t0 + s * 300000}, {"value", 55 + 3 * std::sin(s * 0.1)}});
  auto post = client_->Post("/api/v1/observations", Json{{"observations", obs}}.dump(), "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;

  Json f;
  ASSERT_TRUE(testing::WaitFor([&] {
    auto r = client_->Get("/api/v1/points/SAT/forecast");
    if (!r || r->status != 200) return false;
    f = Json::parse(r->body);
    return f["status"] == "ok";
  }, std::chrono::seconds(20))) << f.dump();
  EXPECT_EQ(f["point"], "urn:b#SAT");
  EXPECT_EQ(f["unit"], "degC");
  EXPECT_FALSE(f["fallback"].get<bool>());
  EXPECT_EQ(f["model"].get<std::string>().rfind("timemixer sha256:", 0), 0u) << f["model"];
  EXPECT_EQ(f["step_seconds"], 300);
  EXPECT_EQ(f["window_end"], "2026-11-23T10:55:00Z");  // the step holding the newest value is still open
  // Columns, as in /series: times, values and the interval bounds.
  ASSERT_EQ(f["times"].size(), 24u);
  ASSERT_EQ(f["values"].size(), 24u);
  ASSERT_EQ(f["lower"].size(), 24u);
  ASSERT_EQ(f["upper"].size(), 24u);
  EXPECT_EQ(f["times"][0], "2026-11-23T10:55:00Z");
  for (const auto& v : f["values"]) {
    const double c = v.get<double>();
    EXPECT_GT(c, 8.0);  // 52..58 degF is 11..14.5 degC; a forecast in degF or scaled units would fail
    EXPECT_LT(c, 18.0);
  }

  auto status = client_->Get("/api/v1/forecast");
  ASSERT_TRUE(status);
  EXPECT_EQ(Json::parse(status->body)["model"], f["model"]);
  EXPECT_FALSE(Json::parse(status->body)["accuracy"].contains("by_class")) << "only on request";
  auto by_class = client_->Get("/api/v1/forecast?by=class");
  ASSERT_TRUE(by_class);
  ASSERT_EQ(by_class->status, 200) << by_class->body;
  bool sat_class = false;
  const Json overview = Json::parse(by_class->body);
  for (const Json& c : overview["accuracy"]["by_class"]) {
    if (c["class"] == "Supply_Air_Temperature_Sensor") sat_class = c["points"].get<int>() >= 1;
  }
  EXPECT_TRUE(sat_class) << by_class->body;
  EXPECT_EQ(client_->Get("/api/v1/forecast?by=room")->status, 400);
  auto metrics = client_->Get("/metrics");
  EXPECT_NE(metrics->body.find("brickcast_forecasts_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("brickcast_forecast_latency_seconds_bucket"), std::string::npos);
  auto reload = client_->Post("/api/v1/forecast/model/reload", "", "application/json");
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 200) << reload->body;
  EXPECT_EQ(Json::parse(reload->body)["model"], f["model"]);

  auto unknown = client_->Get("/api/v1/points/nope/forecast");
  EXPECT_EQ(unknown->status, 404);
  auto pending = client_->Get("/api/v1/points/OAT/forecast");
  EXPECT_EQ(Json::parse(pending->body)["status"], "pending");
}

TEST(DaemonTest, StartFailsCleanlyOnABadModel) {
  TempDir dir;
  dir.File("model.ttl", "this is : not turtle");
  auto config = LoadConfigFile(dir.File("c.json", R"({"brick": {"models": ["model.ttl"]}, "http": {"listen": "127.0.0.1:0"}})"));
  ASSERT_TRUE(config.ok());
  Daemon d(std::move(*config));
  Status s = d.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.ttl"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace brickcast
