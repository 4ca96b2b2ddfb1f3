// The alert lifecycle with injected time and no sleeps; acks, silences, mute windows (across a DST
// change) and inhibition on real Brick models; the SQLite store (restart, corruption, a second
// process); and the rule engine over a real store, fed in order and in one burst.
#include <gtest/gtest.h>

#include <set>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "brickcast/alerts.h"
#include "brickcast/daemon.h"
#include "brickcast/rule_engine.h"
#include "test_support.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'790'000'000'000 - 1'790'000'000'000 % kStep;

std::shared_ptr<const RuleSpec> Rule(const std::string& json) {
  auto set = ParseRules("[" + json + "]", "t.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return (*set)->rules.front();
}

ConditionResult Result(Outcome o, UnixMillis t, double value = 1) {
  ConditionResult r;
  r.outcome = o;
  r.time = t;
  r.primary_value = value;
  r.values.push_back(EvidenceValue{"SAT", "urn:b#SAT", value, "degC"});
  r.detail = OutcomeName(o);
  return r;
}

class AlertLifecycleTest : public ::testing::Test {
 protected:
  AlertLifecycleTest() : clock_(kT0), alerts_(NewMemoryAlertStore(), Options()) {}
  AlertManagerOptions Options() {
    AlertManagerOptions o;
    o.clock = &clock_;
    return o;
  }
  AlertState StateAfter(const RuleBinding& b, Outcome o, int step) {
    alerts_.Apply(b, Result(o, kT0 + step * kStep));
    return alerts_.Get(AlertFingerprint(b.rule->id, b.equipment))->alert.state;
  }
  ManualClock clock_;
  AlertManager alerts_;
};

TEST_F(AlertLifecycleTest, PendingForThenFiringThenClearForThenResolved) {
  RuleBinding b{Rule(R"({"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30, "for": "10m",
                        "clear_for": "10m", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  struct Step {
    Outcome in;
    AlertState expected;
  };
  // 5-minute steps: `for` 10m needs the fault at t, t+5, t+10; clear_for likewise.
  const std::vector<Step> steps = {
      {Outcome::kNormal, AlertState::kInactive}, {Outcome::kFault, AlertState::kPending},
      {Outcome::kNormal, AlertState::kInactive},  // a blip does not fire
      {Outcome::kFault, AlertState::kPending},   {Outcome::kFault, AlertState::kPending},
      {Outcome::kFault, AlertState::kFiring},    {Outcome::kNormal, AlertState::kFiring},
      {Outcome::kFault, AlertState::kFiring},  // flapping back resets clear_for
      {Outcome::kNormal, AlertState::kFiring},   {Outcome::kNormal, AlertState::kFiring},
      {Outcome::kNormal, AlertState::kResolved}, {Outcome::kNormal, AlertState::kResolved},
      {Outcome::kFault, AlertState::kPending},  // a new episode under the same fingerprint
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(StateAfter(b, steps[i].in, static_cast<int>(i)), steps[i].expected) << "step " << i;
  }
  const std::string id = AlertFingerprint("r", "urn:b#AHU1");
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id, AlertFingerprint("r", "urn:b#AHU1")) << "stable";
  auto history = alerts_.History(id, 100);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front().to, AlertState::kPending) << "newest first";
  // Re-evaluating a data time already judged changes nothing (a replayed step).
  alerts_.Apply(b, Result(Outcome::kNormal, kT0 + 3 * kStep));
  EXPECT_EQ(alerts_.Get(id)->alert.state, AlertState::kPending);
}

TEST_F(AlertLifecycleTest, NoDataIsNotAResolveAndKeepsTheStart) {
  RuleBinding b{Rule(R"({"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  EXPECT_EQ(StateAfter(b, Outcome::kFault, 0), AlertState::kFiring) << "for 0 fires at once";
  const std::string id = AlertFingerprint("r", "urn:b#AHU1");
  EXPECT_EQ(alerts_.Get(id)->alert.starts_at, kT0);
  EXPECT_EQ(StateAfter(b, Outcome::kNoData, 1), AlertState::kNoData);
  EXPECT_EQ(StateAfter(b, Outcome::kNoData, 2), AlertState::kNoData);
  EXPECT_EQ(StateAfter(b, Outcome::kFault, 3), AlertState::kFiring);
  EXPECT_EQ(alerts_.Get(id)->alert.starts_at, kT0) << "the same episode";
  EXPECT_EQ(StateAfter(b, Outcome::kNormal, 4), AlertState::kResolved);
  EXPECT_EQ(alerts_.Get(id)->alert.ends_at, kT0 + 4 * kStep);
  // no_data on an alert that is not active is not news.
  EXPECT_EQ(StateAfter(b, Outcome::kNoData, 5), AlertState::kResolved);
}

TEST_F(AlertLifecycleTest, PredictedAlertsStartOnlyAheadOfTheCrossingAndRecordTheLead) {
  RuleBinding b{Rule(R"({"id": "p", "kind": "forecast_threshold", "applies_to": "AHU", "limit": 30, "within": "1h",
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  auto predicted = [](UnixMillis t, bool crossed) {
    ConditionResult r = Result(Outcome::kFault, t);
    r.predicted = true;
    r.crossing_time = t + 30 * 60'000;
    r.measured_crossed = crossed;
    return r;
  };
  const std::string id = AlertFingerprint("p", "urn:b#AHU1");
  // Already past the limit when the forecast first says so: no "prediction".
  alerts_.Apply(b, predicted(kT0, true));
  EXPECT_FALSE(alerts_.StateOf(id) && *alerts_.StateOf(id) != AlertState::kInactive);
  alerts_.Apply(b, Result(Outcome::kNormal, kT0 + kStep));
  // Ahead of the crossing: fires, and the measured crossing 20 minutes later is its lead.
  alerts_.Apply(b, predicted(kT0 + 2 * kStep, false));
  EXPECT_EQ(*alerts_.StateOf(id), AlertState::kFiring);
  alerts_.Apply(b, predicted(kT0 + 3 * kStep, false));
  alerts_.Apply(b, predicted(kT0 + 6 * kStep, true));
  const Alert a = alerts_.Get(id)->alert;
  EXPECT_TRUE(a.predicted);
  EXPECT_EQ(a.starts_at, kT0 + 2 * kStep);
  EXPECT_EQ(a.realised_at, kT0 + 6 * kStep);
  EXPECT_EQ(a.crossing_time, kT0 + 3 * kStep + 30 * 60'000) << "the last real prediction's, not one made past the limit";
  // Another episode; the feed stops for three months with the alert firing, and the first data
  // after the gap is past the limit: not the crossing this alert predicted, no lead recorded.
  alerts_.Apply(b, Result(Outcome::kNormal, kT0 + 20 * kStep));
  ASSERT_EQ(*alerts_.StateOf(id), AlertState::kResolved);
  alerts_.Apply(b, predicted(kT0 + 30 * kStep, false));
  ASSERT_EQ(*alerts_.StateOf(id), AlertState::kFiring);
  const UnixMillis later = kT0 + 30 * kStep + 90LL * 24 * 3'600'000;
  alerts_.Apply(b, predicted(later, true));
  alerts_.Apply(b, predicted(later + kStep, true));
  EXPECT_EQ(*alerts_.StateOf(id), AlertState::kFiring);
  EXPECT_EQ(alerts_.Get(id)->alert.realised_at, 0);
}

TEST_F(AlertLifecycleTest, EvidenceSummaryAndAckUntilTheStateChanges) {
  RuleBinding b{Rule(R"({"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30, "clear_for": "10m",
                        "summary": "{equipment}: SAT {SAT} over {rule}", "action": "Check the valve.",
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  alerts_.Apply(b, Result(Outcome::kFault, kT0, 31.5));
  const std::string id = AlertFingerprint("r", "urn:b#AHU1");
  AlertView v = *alerts_.Get(id);
  EXPECT_EQ(v.alert.summary, "AHU1: SAT 31.50 degC over r");
  EXPECT_EQ(v.alert.action, "Check the valve.");
  auto evidence = nlohmann::json::parse(v.alert.evidence);
  EXPECT_EQ(evidence["values"][0]["value"], 31.5);
  EXPECT_EQ(evidence["values"][0]["unit"], "degC");
  EXPECT_EQ(alerts_.Ack("nope", "ann", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(alerts_.Ack(id, "", "x").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(alerts_.Ack(id, "ann", "valve crew on it").ok());
  EXPECT_EQ(alerts_.Get(id)->alert.acked_by, "ann");
  alerts_.Apply(b, Result(Outcome::kFault, kT0 + kStep, 32));
  EXPECT_EQ(alerts_.Get(id)->alert.acked_by, "ann") << "same state: the ack stays";
  alerts_.Apply(b, Result(Outcome::kNoData, kT0 + 2 * kStep));
  EXPECT_EQ(alerts_.Get(id)->alert.acked_by, "") << "a state change clears the ack";
}

TEST_F(AlertLifecycleTest, SilencesMatchAndExpireByTheClock) {
  RuleBinding b{Rule(R"({"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30, "severity": "critical",
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  alerts_.Apply(b, Result(Outcome::kFault, kT0));
  const std::string id = AlertFingerprint("r", "urn:b#AHU1");
  Silence s;
  s.matchers.labels = {{"equipment", "AHU1"}, {"severity", "critical"}};
  s.ends_at = kT0 + 3'600'000;
  EXPECT_EQ(alerts_.AddSilence(s).status().code(), StatusCode::kInvalidArgument) << "author required";
  s.author = "bob";
  Silence past = s;
  past.ends_at = kT0 - 1;
  EXPECT_FALSE(alerts_.AddSilence(past).ok());
  Silence bad = s;
  bad.matchers.labels = {{"colour", "red"}};
  EXPECT_FALSE(alerts_.AddSilence(bad).ok());
  auto added = alerts_.AddSilence(s);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(alerts_.Get(id)->silenced_by, std::vector<std::string>{added->id});
  EXPECT_EQ(alerts_.Get(id)->alert.state, AlertState::kFiring) << "silenced alerts stay visible";
  clock_.Advance(3'600'000);
  EXPECT_TRUE(alerts_.Get(id)->silenced_by.empty()) << "expired by the clock";
  EXPECT_TRUE(alerts_.Silences(false).empty());
  EXPECT_EQ(alerts_.Silences(true).size(), 1u);
  auto again = alerts_.AddSilence([&] {
    Silence n = s;
    n.starts_at = 0;
    n.ends_at = clock_.Now() + 60'000;
    return n;
  }());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(alerts_.Get(id)->silenced_by.empty());
  ASSERT_TRUE(alerts_.ExpireSilence(again->id).ok());
  EXPECT_TRUE(alerts_.Get(id)->silenced_by.empty());
  EXPECT_EQ(alerts_.ExpireSilence("nope").code(), StatusCode::kNotFound);
}

TEST(MuteWindowTest, NightlyWindowFollowsLocalTimeAcrossDst) {
  auto zone = TimeZone::Load("America/New_York");
  ASSERT_TRUE(zone.ok()) << zone.status().message();
  MuteWindow w{"nightly maintenance", {}, 1 * 60, 3 * 60, {}};  // 01:00-03:00 local
  // 2026-03-08 is the spring-forward day (02:00 EST -> 03:00 EDT), 2026-11-01 the fall-back day.
  auto utc = [](int y, unsigned m, unsigned d, int h, int min) {
    return (DaysFromCivil(y, m, d) * 86400 + h * 3600 + min * 60) * 1000;
  };
  EXPECT_TRUE(w.OpenAt(utc(2026, 3, 7, 6, 30), *zone)) << "01:30 EST = 06:30 UTC";
  EXPECT_FALSE(w.OpenAt(utc(2026, 3, 7, 8, 30), *zone)) << "03:30 EST";
  EXPECT_TRUE(w.OpenAt(utc(2026, 3, 8, 6, 30), *zone)) << "01:30 EST on the change day";
  EXPECT_FALSE(w.OpenAt(utc(2026, 3, 8, 7, 30), *zone)) << "07:30 UTC is 03:30 EDT: closed, the hour 02-03 never happens";
  EXPECT_TRUE(w.OpenAt(utc(2026, 3, 9, 5, 30), *zone)) << "01:30 EDT = 05:30 UTC the day after";
  EXPECT_TRUE(w.OpenAt(utc(2026, 3, 9, 6, 30), *zone)) << "06:30 UTC is 02:30 EDT";
  EXPECT_FALSE(w.OpenAt(utc(2026, 3, 9, 7, 30), *zone)) << "07:30 UTC is 03:30 EDT";
  // Fall back: 01:30 happens twice on 2026-11-01 (05:30 and 06:30 UTC); both are inside.
  EXPECT_TRUE(w.OpenAt(utc(2026, 11, 1, 5, 30), *zone));
  EXPECT_TRUE(w.OpenAt(utc(2026, 11, 1, 6, 30), *zone));
  EXPECT_TRUE(w.OpenAt(utc(2026, 11, 1, 7, 30), *zone)) << "02:30 EST";
  EXPECT_FALSE(w.OpenAt(utc(2026, 11, 1, 8, 30), *zone)) << "03:30 EST";
}

TEST(MuteWindowTest, WeekdaysAndWindowsOverMidnight) {
  const TimeZone utc = TimeZone::Utc();
  MuteWindow w{"weekend nights", {5, 6}, 22 * 60, 6 * 60, {}};  // Fri and Sat 22:00 -> next day 06:00
  auto at = [](unsigned d, int h) { return (DaysFromCivil(2026, 12, d) * 86400 + h * 3600) * 1000; };
  // 2026-12-04 is a Friday.
  EXPECT_TRUE(w.OpenAt(at(4, 23), utc));
  EXPECT_TRUE(w.OpenAt(at(5, 3), utc)) << "Saturday 03:00 belongs to Friday's night";
  EXPECT_TRUE(w.OpenAt(at(6, 5), utc)) << "Sunday 05:00 belongs to Saturday's night";
  EXPECT_FALSE(w.OpenAt(at(6, 23), utc)) << "Sunday night is not listed";
  EXPECT_FALSE(w.OpenAt(at(4, 12), utc));
}

TEST(InhibitionTest, AnAhuFaultInhibitsTheVavsItFeedsOnTheG36Model) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  auto model = std::make_shared<BrickModel>(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(model->LoadFile(testing::SharedData("brick-models/brickschema_g36-combined-ahu-vav.ttl")).ok());
  ManualClock clock(kT0);
  AlertManagerOptions o;
  o.clock = &clock;
  AlertManager alerts(NewMemoryAlertStore(), o);
  alerts.SetModel(model);
  const std::string ex = "http://example.org#";
  RuleBinding ahu{Rule(R"({"id": "ahu-fault", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                          "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                  ex + "ahu1", {{"SAT", ex + "sats_ahu1"}}};
  RuleBinding vav{Rule(R"({"id": "zone-hot", "kind": "threshold", "applies_to": "VAV", "limit": 26,
                          "inputs": {"ZAT": "Zone_Air_Temperature_Sensor"}})"),
                  ex + "vav1", {{"ZAT", ex + "zts1"}}};
  RuleBinding zat_stuck{Rule(R"({"id": "zat-flat", "kind": "sensor_health", "check": "range", "max": 60,
                                "applies_to": "VAV", "inputs": {"ZAT": "Zone_Air_Temperature_Sensor"}})"),
                        ex + "vav1", {{"ZAT", ex + "zts1"}}};
  alerts.Apply(vav, Result(Outcome::kFault, kT0));
  const std::string vav_id = AlertFingerprint("zone-hot", ex + "vav1");
  EXPECT_TRUE(alerts.Get(vav_id)->inhibited_by.empty());
  alerts.Apply(ahu, Result(Outcome::kFault, kT0));
  const std::string ahu_id = AlertFingerprint("ahu-fault", ex + "ahu1");
  EXPECT_EQ(alerts.Get(vav_id)->inhibited_by, std::vector<std::string>{ahu_id}) << "ahu1 feeds vav1";
  EXPECT_TRUE(alerts.Get(ahu_id)->inhibited_by.empty()) << "never the other way round";
  alerts.Apply(ahu, Result(Outcome::kNormal, kT0 + kStep));
  EXPECT_TRUE(alerts.Get(vav_id)->inhibited_by.empty()) << "resolved upstream: no longer inhibited";
  // A sensor-health alert on the point a rule reads discredits that rule.
  alerts.Apply(zat_stuck, Result(Outcome::kFault, kT0 + kStep));
  EXPECT_EQ(alerts.Get(vav_id)->inhibited_by,
            std::vector<std::string>{AlertFingerprint("zat-flat", ex + "vav1")});
  EXPECT_TRUE(alerts.Get(AlertFingerprint("zat-flat", ex + "vav1"))->inhibited_by.empty());
}

TEST(InhibitionTest, SodaHallAhuInhibitsOnlyTheVavsItFeeds) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  auto model = std::make_shared<BrickModel>(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(model->LoadFile(testing::SharedData("brick-models/brickschema_soda_brick.ttl")).ok());
  const std::string ns = "https://brickschema.org/schema/1.0.2/building_example#";
  const Entity* c180 = model->Find(ns + "vav_C180");
  ASSERT_TRUE(c180 != nullptr && c180->fed_by.size() == 1);
  const std::string ahu = c180->fed_by.front();
  ManualClock clock(kT0);
  AlertManagerOptions o;
  o.clock = &clock;
  AlertManager alerts(NewMemoryAlertStore(), o);
  alerts.SetModel(model);
  auto rule = Rule(R"({"id": "vav-r", "kind": "threshold", "applies_to": "VAV", "limit": 1,
                      "inputs": {"F": "Supply_Air_Flow_Sensor"}})");
  auto ahu_rule = Rule(R"({"id": "ahu-r", "kind": "threshold", "applies_to": "AHU", "limit": 1,
                          "inputs": {"S": "Supply_Air_Temperature_Sensor"}})");
  alerts.Apply(RuleBinding{rule, ns + "vav_C180", {}}, Result(Outcome::kFault, kT0));
  alerts.Apply(RuleBinding{rule, ns + "vav_R179", {}}, Result(Outcome::kFault, kT0));  // no AHU in the model
  alerts.Apply(RuleBinding{ahu_rule, ahu, {}}, Result(Outcome::kFault, kT0));
  EXPECT_EQ(alerts.Get(AlertFingerprint("vav-r", ns + "vav_C180"))->inhibited_by.size(), 1u);
  EXPECT_TRUE(alerts.Get(AlertFingerprint("vav-r", ns + "vav_R179"))->inhibited_by.empty());
}

TEST(SqliteAlertStoreTest, FiringAlertsAndSilencesSurviveARestart) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/alerts.db";
  ManualClock clock(kT0);
  AlertManagerOptions o;
  o.clock = &clock;
  RuleBinding b{Rule(R"({"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  const std::string id = AlertFingerprint("r", "urn:b#AHU1");
  {
    auto store = OpenSqliteAlertStore(db);
    ASSERT_TRUE(store.ok()) << store.status().message();
    AlertManager alerts(std::move(*store), o);
    ASSERT_TRUE(alerts.Restore().ok());
    alerts.Apply(b, Result(Outcome::kFault, kT0));
    ASSERT_TRUE(alerts.Ack(id, "ann", "on it").ok());
    Silence s;
    s.matchers.labels = {{"rule", "r"}};
    s.author = "bob";
    s.ends_at = kT0 + 3'600'000;
    ASSERT_TRUE(alerts.AddSilence(s).ok());
    // While this store is open, a second one on the same file is refused with a clear error.
    auto second = OpenSqliteAlertStore(db);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.status().message().find("locked"), std::string::npos) << second.status().message();
    EXPECT_EQ(second.status().message().find("move it away"), std::string::npos) << second.status().message();
  }
  auto store = OpenSqliteAlertStore(db);
  ASSERT_TRUE(store.ok()) << store.status().message();
  AlertManager alerts(std::move(*store), o);
  ASSERT_TRUE(alerts.Restore().ok());
  auto v = alerts.Get(id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->alert.state, AlertState::kFiring);
  EXPECT_EQ(v->alert.starts_at, kT0);
  EXPECT_EQ(v->alert.acked_by, "ann");
  EXPECT_EQ(v->silenced_by.size(), 1u);
  EXPECT_EQ(alerts.History(id, 10).size(), 1u);
  // The next evaluation continues the episode.
  alerts.Apply(b, Result(Outcome::kFault, kT0 + kStep));
  EXPECT_EQ(alerts.Get(id)->alert.starts_at, kT0);
}

TEST_F(AlertLifecycleTest, AlertsTakenOverContinueTheirEpisodeAndHandedOverLeave) {
  RuleBinding b{Rule(R"({"id": "g", "kind": "threshold", "applies_to": "AHU", "limit": 30, "for": "10m",
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"),
                "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  const std::string id = AlertFingerprint("g", "urn:b#AHU1");
  // Another instance's state of the alert, as its changelog record carries it: pending for 5 min.
  Alert theirs;
  theirs.id = id;
  theirs.rule = "g";
  theirs.equipment = "urn:b#AHU1";
  theirs.kind = RuleKind::kG36;
  theirs.points = {"urn:b#SAT"};
  theirs.state = AlertState::kPending;
  theirs.pending_since = kT0;
  theirs.last_evaluated = kT0 + kStep;
  auto decoded = DecodeAlert(EncodeAlert(theirs));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->kind, RuleKind::kG36) << "the kind survives the record";
  EXPECT_EQ(decoded->pending_since, kT0);
  EXPECT_FALSE(DecodeAlert("{\"state\": 3}").ok());
  EXPECT_FALSE(DecodeAlert("not json").ok());

  ASSERT_EQ(alerts_.Adopt({*decoded}).size(), 1u);
  // Steps it already judged are not judged again; the next one completes its `for` (10 min).
  EXPECT_EQ(StateAfter(b, Outcome::kNormal, 1), AlertState::kPending);
  EXPECT_EQ(StateAfter(b, Outcome::kFault, 2), AlertState::kFiring);
  EXPECT_EQ(alerts_.Get(id)->alert.starts_at, kT0 + 2 * kStep);
  // An older record does not replace what this instance judged since.
  EXPECT_TRUE(alerts_.Adopt({*decoded}).empty());
  EXPECT_EQ(alerts_.Get(id)->alert.state, AlertState::kFiring);

  EXPECT_EQ(alerts_.Release({id, "unknown"}), std::vector<std::string>{id});
  EXPECT_FALSE(alerts_.Get(id).has_value());
  EXPECT_TRUE(alerts_.List(AlertFilter{}).empty());
}

TEST(SqliteAlertStoreTest, ACorruptFileIsAClearErrorAndIsKept) {
  testing::TempDir dir;
  const std::string db = dir.File("alerts.db", std::string(8192, 'x'));
  auto store = OpenSqliteAlertStore(db);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("alert database " + db), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find("the file is kept"), std::string::npos) << store.status().message();
  EXPECT_EQ(std::filesystem::file_size(db), 8192u) << "never reset";
  // A newer schema than this build knows is refused too.
  const std::string newer = dir.path() + "/newer.db";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(newer.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  auto future = OpenSqliteAlertStore(newer);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("newer than this brickcast knows"), std::string::npos);
}

// A store whose writes fail while `full` is set, as on a full disk; reads and the rest pass through.
class FullDiskStore : public AlertStore {
 public:
  explicit FullDiskStore(AlertStore& inner) : inner_(inner) {}
  bool full = false;
  Status SaveAlert(const Alert& a) override { return full ? Full("save alert " + a.id) : inner_.SaveAlert(a); }
  Status RecordTransition(const Alert& a, AlertTransition* t) override {
    return full ? Full("record transition of " + a.id) : inner_.RecordTransition(a, t);
  }
  StatusOr<std::vector<Alert>> LoadAlerts() override { return inner_.LoadAlerts(); }
  StatusOr<std::vector<AlertTransition>> History(const std::string& a, size_t n) override { return inner_.History(a, n); }
  Status SaveSilence(const Silence& s) override { return full ? Full("save silence") : inner_.SaveSilence(s); }
  StatusOr<std::vector<Silence>> LoadSilences() override { return inner_.LoadSilences(); }
  Status Prune(UnixMillis before, size_t keep) override { return inner_.Prune(before, keep); }
  Status AppendAudit(AuditEntry* e) override { return full ? Full("append audit") : inner_.AppendAudit(e); }
  StatusOr<std::vector<AuditEntry>> Audit(size_t n, int64_t before) override { return inner_.Audit(n, before); }
  Outbox& outbox() override { return inner_.outbox(); }

 private:
  static Status Full(const std::string& what) { return Status::Unavailable(what + ": database or disk is full"); }
  AlertStore& inner_;
};

// While the database cannot be written the alerts go on in memory, the failure is reported
// (counters, the reason for /readyz); once a write succeeds again, every alert whose state could
// not be saved is saved, so a restart finds what the API showed.
TEST(AlertStoreFailureTest, UnsavedAlertsAreSavedOnceWritesSucceedAgain) {
  std::unique_ptr<AlertStore> memory = NewMemoryAlertStore();
  auto flaky = std::make_unique<FullDiskStore>(*memory);
  FullDiskStore& store = *flaky;
  ManualClock clock(kT0);
  AlertManagerOptions o;
  o.clock = &clock;
  AlertManager alerts(std::move(flaky), o);
  RuleBinding a{Rule(R"({"id": "a", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  RuleBinding b{Rule(R"({"id": "b", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                        "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}})"), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  store.full = true;
  alerts.Apply(a, Result(Outcome::kFault, kT0));
  EXPECT_EQ(alerts.StateOf(AlertFingerprint("a", "urn:b#AHU1")), AlertState::kFiring) << "in memory all the same";
  AlertCounters c = alerts.Counters();
  EXPECT_GT(c.store_errors, 0u);
  EXPECT_NE(c.store_error.find("disk is full"), std::string::npos) << c.store_error;
  EXPECT_TRUE(memory->LoadAlerts()->empty());
  store.full = false;
  alerts.Apply(b, Result(Outcome::kFault, kT0));  // any successful write
  c = alerts.Counters();
  EXPECT_EQ(c.store_error, "");
  auto saved = memory->LoadAlerts();
  ASSERT_TRUE(saved.ok());
  std::set<std::string> ids;
  for (const Alert& x : *saved) ids.insert(x.rule + ":" + AlertStateName(x.state));
  EXPECT_EQ(ids, (std::set<std::string>{"a:firing", "b:firing"})) << "a, unsaved while full, saved now";
}

// A transition and the alert it changed are one write: when saving the alert fails (here a
// trigger refuses it), neither the history row nor the "not yet told" mark is left behind, so a
// restart never finds a history (or a notifier) that the alert's restored state contradicts.
TEST(SqliteAlertStoreTest, ATransitionAndTheAlertItChangedAreOneWrite) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/a.db";
  Alert a;
  a.id = "a";
  a.rule = "r";
  a.equipment = "urn:b#AHU1";
  a.state = AlertState::kFiring;
  {
    auto store = OpenSqliteAlertStore(path);
    ASSERT_TRUE(store.ok());
    AlertTransition t{0, "a", AlertState::kPending, AlertState::kFiring, kT0, kT0, "s", "{}"};
    ASSERT_TRUE((*store)->RecordTransition(a, &t).ok());
    EXPECT_GT(t.seq, 0);
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TRIGGER refuse BEFORE UPDATE ON alerts BEGIN SELECT RAISE(ABORT, 'refused'); END",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto store = OpenSqliteAlertStore(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->outbox().Enqueue({}, GroupLogEntry{"r", "g", {}, kT0}, {"a"}).ok());  // told
  Alert resolved = a;
  resolved.state = AlertState::kResolved;
  AlertTransition down{0, "a", AlertState::kFiring, AlertState::kResolved, kT0 + 60'000, kT0 + 60'000, "s", "{}"};
  EXPECT_FALSE((*store)->RecordTransition(resolved, &down).ok());
  Alert again = a;  // a later episode fires: its mark must not outlive a failed save either
  AlertTransition up{0, "a", AlertState::kResolved, AlertState::kFiring, kT0 + 120'000, kT0 + 120'000, "s", "{}"};
  EXPECT_FALSE((*store)->RecordTransition(again, &up).ok());
  EXPECT_EQ((*store)->History("a", 10)->size(), 1u) << "only the first, successful transition";
  EXPECT_TRUE((*store)->outbox().Untold()->empty());
  auto loaded = (*store)->LoadAlerts();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].state, AlertState::kFiring);
}

TEST(SqliteAlertStoreTest, RetentionBoundsTheHistory) {
  testing::TempDir dir;
  auto store = OpenSqliteAlertStore(dir.path() + "/a.db");
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 50; ++i) {
    AlertTransition t{0, "a", AlertState::kPending, AlertState::kFiring, kT0 + i, kT0 + i * 1000, "s", "{}"};
    Alert a;
    a.id = "a";
    a.state = AlertState::kFiring;
    ASSERT_TRUE((*store)->RecordTransition(a, &t).ok());
  }
  ASSERT_TRUE((*store)->Prune(kT0 + 10'000, 30).ok());  // older than 10 s, and beyond the newest 30
  EXPECT_EQ((*store)->History("a", 100)->size(), 30u);
  ASSERT_TRUE((*store)->Prune(kT0 + 45'000, 30).ok());
  EXPECT_EQ((*store)->History("a", 100)->size(), 5u);
}

// The engine over a real store and ingestor: messages of one AHU, with duplicates and an
// out-of-order observation, evaluated as they arrive (live, 1x) and all at once after the burst
// (a replay at full speed, where the store is ahead of the events). Same transitions.
class EngineTest : public ::testing::Test {
 protected:
  struct Run {
    std::vector<std::pair<UnixMillis, std::string>> transitions;  // data time, to-state
  };

  Run Replay(bool burst) {
    auto classes = ClassHierarchy::BuiltIn();
    auto model = std::make_shared<BrickModel>(classes);
    EXPECT_TRUE(model->LoadTurtle(R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT, b:OAT ; brick:feeds b:VAV1 .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:OAT a brick:Outside_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:VAV1 a brick:VAV ; brick:hasPoint b:ZAT .
b:ZAT a brick:Zone_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)",
                                  "m.ttl")
                    .ok());
    PointRegistry registry(classes);
    registry.LoadModel(*model);
    SeriesStore store(SeriesOptions{kStep, 48, 0, 32});
    ManualClock clock(kT0);
    EventBus events;
    AlertManagerOptions o;
    o.clock = &clock;
    o.events = &events;
    AlertManager alerts(NewMemoryAlertStore(), o);
    RuleEngine engine(store, nullptr, registry, alerts);
    auto rules = ParseRules(R"([
        {"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30, "for": "10m", "clear_for": "10m",
         "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}},
        {"id": "oat-stale", "kind": "sensor_health", "check": "stale", "stale_steps": 2, "applies_to": "AHU",
         "inputs": {"OAT": "Outside_Air_Temperature_Sensor"}},
        {"id": "zat-hot", "kind": "threshold", "applies_to": "VAV", "limit": 26,
         "inputs": {"ZAT": "Zone_Air_Temperature_Sensor"}}])",
                            "r.json");
    EXPECT_TRUE(rules.ok()) << rules.status().message();
    engine.SetRules(*rules, model);
    StreamParser parser(StreamParserOptions{});
    Ingestor ingestor(parser, registry, store, true, nullptr, clock);
    std::vector<ObservationsApplied> queued;
    Run run;
    auto sub = events.Subscribe("test", {EventKind<AlertChanged>()}, [&run](const Event& e) {
      const auto& c = std::get<AlertChanged>(e);
      run.transitions.emplace_back(c.data_time, c.rule + ":" + c.to);
    });
    auto deliver = [&](std::vector<Observation> obs) {
      UnixMillis latest = 0;
      std::vector<std::string> points;
      for (const Observation& ob : obs) {
        latest = std::max(latest, ob.time);
        points.push_back(ob.point);
      }
      ingestor.IngestObservations(obs, "test");
      ObservationsApplied a{points, latest};
      if (burst) queued.push_back(a);
      else engine.OnObservations(a);
    };
    // 16 minutes-apart rows: SAT rises over 30 degC for 20 minutes then falls; OAT stops after
    // step 6 while SAT keeps reporting; ZAT (another system? no: the VAV is fed by AHU1) is hot once.
    const double sat[] = {20, 22, 31, 32, 33, 34, 33, 25, 24, 23, 22, 21, 20, 20};
    for (int i = 0; i < 14; ++i) {
      const UnixMillis t = kT0 + i * kStep + 60'000;
      std::vector<Observation> row = {{"urn:b#SAT", t, sat[i], "DEG_C", ""}};
      if (i < 6) row.push_back({"urn:b#OAT", t, 10.0 + i, "DEG_C", ""});
      row.push_back({"urn:b#ZAT", t, i == 4 ? 27.0 : 22.0, "DEG_C", ""});
      deliver(row);
      if (i == 3) deliver({{"urn:b#SAT", t, sat[i], "DEG_C", ""}});              // a duplicate
      if (i == 5) deliver({{"urn:b#SAT", t - 30'000, sat[i], "DEG_C", ""}});     // late, same step
    }
    for (const ObservationsApplied& a : queued) engine.OnObservations(a);
    sub->Drain();
    return run;
  }
};

TEST_F(EngineTest, SameAlertsAtTheSameDataTimesLiveAndInABurst) {
  Run live = Replay(false);
  Run burst = Replay(true);
  ASSERT_FALSE(live.transitions.empty());
  EXPECT_EQ(live.transitions, burst.transitions);
  auto has = [&](UnixMillis t, const std::string& what) {
    return std::find(live.transitions.begin(), live.transitions.end(), std::make_pair(t, what)) !=
           live.transitions.end();
  };
  EXPECT_TRUE(has(kT0 + 2 * kStep, "sat-high:pending"));
  EXPECT_TRUE(has(kT0 + 4 * kStep, "sat-high:firing")) << "for 10m: three faulty steps";
  EXPECT_TRUE(has(kT0 + 9 * kStep, "sat-high:resolved")) << "clear_for 10m after the first normal step (7)";
  EXPECT_TRUE(has(kT0 + 7 * kStep, "oat-stale:firing")) << "OAT last reported in step 5";
  EXPECT_TRUE(has(kT0 + 4 * kStep, "zat-hot:firing"));
  EXPECT_TRUE(has(kT0 + 5 * kStep, "zat-hot:resolved"));
}

// A rule engine over a real store and registry on a small Brick model, with injected time.
struct EngineRig {
  EngineRig(const std::string& turtle, const std::string& rules_json, SeriesOptions store_options = {kStep, 48, 0, 32},
            ForecastLookup forecasts = nullptr)
      : classes(ClassHierarchy::BuiltIn()),
        model(std::make_shared<BrickModel>(classes)),
        registry(classes),
        store(store_options),
        clock(kT0),
        alerts(NewMemoryAlertStore(), Options(&clock)),
        engine(store, std::move(forecasts), registry, alerts) {
    EXPECT_TRUE(model->LoadTurtle("@prefix b: <urn:b#> .\n" + turtle, "m.ttl").ok());
    registry.LoadModel(*model);
    auto rules = ParseRules(rules_json, "r.json");
    EXPECT_TRUE(rules.ok()) << rules.status().message();
    if (rules.ok()) engine.SetRules(*rules, model);
  }
  static AlertManagerOptions Options(Clock* clock) {
    AlertManagerOptions o;
    o.clock = clock;
    return o;
  }
  std::string StateOf(const std::string& rule, const std::string& equipment) {
    auto a = alerts.Get(AlertFingerprint(rule, "urn:b#" + equipment));
    return a ? std::string(AlertStateName(a->alert.state)) : std::string("none");
  }
  std::shared_ptr<const ClassHierarchy> classes;
  std::shared_ptr<BrickModel> model;
  PointRegistry registry;
  SeriesStore store;
  ManualClock clock;
  AlertManager alerts;
  RuleEngine engine;
};

// A message that carries points of two air handlers (two systems) closes the steps of both; a
// later message of one of them alone does not advance the other.
TEST(RuleEngineTest, OneMessageAdvancesEverySystemItTouches) {
  EngineRig rig(R"(b:AHU1 a brick:AHU ; brick:hasPoint b:SAT1 .
b:AHU2 a brick:AHU ; brick:hasPoint b:SAT2 .
b:SAT1 a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:SAT2 a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)",
                R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30,
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])");
  auto deliver = [&](int step, std::vector<std::pair<std::string, double>> values) {
    std::vector<std::string> points;
    const UnixMillis t = kT0 + step * kStep + 60'000;
    for (const auto& [p, v] : values) {
      ASSERT_EQ(rig.store.Append({p, t, v, "DEG_C", ""}), AppendOutcome::kAccepted);
      points.push_back(p);
    }
    rig.engine.OnObservations(ObservationsApplied{points, t});
  };
  for (int step = 0; step < 4; ++step) deliver(step, {{"urn:b#SAT1", 35}, {"urn:b#SAT2", 35}});  // the same list each step
  EXPECT_EQ(rig.StateOf("sat-high", "AHU1"), "firing");
  EXPECT_EQ(rig.StateOf("sat-high", "AHU2"), "firing");
  for (int step = 4; step < 8; ++step) deliver(step, {{"urn:b#SAT1", 20}});
  EXPECT_EQ(rig.StateOf("sat-high", "AHU1"), "resolved");
  EXPECT_EQ(rig.StateOf("sat-high", "AHU2"), "firing") << "AHU2 sent nothing: its steps are not closed";
  EXPECT_EQ(rig.engine.Counters().evaluations, 3u + 3u + 4u);
}

const char* const kOneAhu = R"(b:AHU1 a brick:AHU ; brick:hasPoint b:SAT, b:OAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:OAT a brick:Outside_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)";

// A failing evaluation (here the forecast lookup throws) is counted against its rule and logged;
// the other rules and the engine go on.
TEST(RuleEngineTest, AFailingEvaluationIsCountedAndTheOthersGoOn) {
  ForecastLookup broken = [](const std::string&) -> std::optional<PointForecast> {
    throw std::runtime_error("forecast service exploded");
  };
  EngineRig rig(kOneAhu, R"([
      {"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30,
       "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}},
      {"id": "sat-high-soon", "kind": "forecast_threshold", "applies_to": "AHU", "limit": 30, "within": "1h",
       "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])",
                {kStep, 48, 0, 32}, broken);
  rig.engine.OnForecast(ForecastProduced{"urn:b#SAT", kT0, false, nullptr});  // the engine must look it up
  for (int step = 0; step < 3; ++step) {
    const Observation ob{"urn:b#SAT", kT0 + step * kStep + 60'000, 35, "DEG_C", ""};
    ASSERT_EQ(rig.store.Append(ob), AppendOutcome::kAccepted);
    rig.engine.OnObservations(ObservationsApplied{{ob.point}, ob.time});
  }
  EXPECT_EQ(rig.StateOf("sat-high", "AHU1"), "firing") << "the threshold rule still runs";
  EXPECT_EQ(rig.engine.Counters().errors, 2u) << "keeping the forecast, then the predictive rule";
  for (const RuleStatus& s : rig.engine.Status()) {
    if (s.rule->id != "sat-high-soon") continue;
    EXPECT_EQ(s.errors, 1u);
    EXPECT_NE(s.last_error.find("forecast service exploded"), std::string::npos) << s.last_error;
  }
  MetricWriter w;
  CollectRuleMetrics(rig.engine, w);
  EXPECT_NE(w.Text().find("brickcast_rule_evaluation_errors_total 2"), std::string::npos) << w.Text();
}

// A residual rule judges each step against the forecast made for it, whatever the replay speed.
// At full speed the forecasts trail the data: when a step closes, the newest forecast may be
// hours old, and judging against it raised a false alarm in the demo (a level change the old
// forecast knew nothing of). Here SAT steps from 20 to 14 degC at step 8 and stays there; each
// forecast repeats the last value it saw (+-1 K). Live, only step 8 is outside its interval
// (pending, then inactive); in the burst the data runs 20 steps ahead of the forecasts, and the
// steps must wait for theirs. No forecasts at all: the steps are judged (nothing to compare) once
// the data is forecast_wait_steps ahead.
TEST(RuleEngineTest, ResidualRulesJudgeEachStepAgainstItsOwnForecastAtAnySpeed) {
  const char* rules = R"([{"id": "sat-anomaly", "kind": "residual", "applies_to": "AHU", "for": "10m",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])";
  auto sat = [](int step) { return step < 8 ? 20.0 : 14.0; };
  auto forecast_at = [&](int origin) {  // made from the data before step `origin`
    auto f = std::make_shared<PointForecast>();
    f->point = "urn:b#SAT";
    f->model = "test";
    f->step_ms = kStep;
    f->window_end = kT0 + origin * kStep;
    for (int h = 0; h < 24; ++h) {
      const double v = sat(origin - 1);
      f->steps.push_back(ForecastStep{f->window_end + h * kStep, v, v - 1, v + 1});
    }
    return std::shared_ptr<const PointForecast>(f);
  };
  struct Transition {
    UnixMillis time;
    std::string to;
    bool operator==(const Transition& o) const { return time == o.time && to == o.to; }
  };
  auto replay = [&](bool burst, bool with_forecasts) {
    std::shared_ptr<const PointForecast> latest;
    EngineRig rig(kOneAhu, rules, {kStep, 96, 0, 32},
                  [&latest](const std::string&) -> std::optional<PointForecast> {
                    if (!latest) return std::nullopt;
                    return *latest;
                  });
    std::vector<Transition> seen;
    auto land = [&](int origin) {
      if (!with_forecasts) return;
      latest = forecast_at(origin);
      rig.engine.OnForecast(ForecastProduced{"urn:b#SAT", latest->window_end, false, latest});
    };
    std::vector<ObservationsApplied> queued;
    for (int step = 0; step < 70; ++step) {
      const Observation ob{"urn:b#SAT", kT0 + step * kStep + 60'000, sat(step), "DEG_C", ""};
      EXPECT_EQ(rig.store.Append(ob), AppendOutcome::kAccepted);
      if (!burst) {
        rig.engine.OnObservations(ObservationsApplied{{ob.point}, ob.time});
        land(step + 1);  // the forecast service answers before the next step's data
      } else {
        // The data runs 20 steps ahead, then the forecasts catch up (one made at step 7 just
        // before the change lands with the first chunk).
        queued.push_back(ObservationsApplied{{ob.point}, ob.time});
        if (step % 20 == 6 || step == 69) {
          for (const auto& a : queued) rig.engine.OnObservations(a);
          queued.clear();
          for (int origin = std::max(1, step - 19); origin <= step + 1; ++origin) land(origin);
        }
      }
    }
    std::vector<AlertTransition> history = rig.alerts.History(AlertFingerprint("sat-anomaly", "urn:b#AHU1"), 1000);
    std::sort(history.begin(), history.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    for (const AlertTransition& t : history) seen.push_back(Transition{t.data_time, AlertStateName(t.to)});
    return std::make_pair(seen, rig.engine.Counters());
  };
  auto [live, live_counters] = replay(false, true);
  auto [burst, burst_counters] = replay(true, true);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.front().time, kT0 + 8 * kStep);
  EXPECT_EQ(live.front().to, "pending") << "the step change itself is outside the interval";
  for (const Transition& t : live) EXPECT_NE(t.to, "firing") << "the next forecasts expect 14 degC";
  ASSERT_EQ(live.size(), burst.size());
  for (size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(live[i].time, burst[i].time) << i;
    EXPECT_EQ(live[i].to, burst[i].to) << i;
  }
  EXPECT_EQ(burst_counters.forecast_late_steps, 0u);
  EXPECT_EQ(live_counters.evaluations, burst_counters.evaluations);

  auto [none, none_counters] = replay(false, false);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none_counters.evaluations, 69u - 48u) << "steps judged once the wait is over";
  EXPECT_EQ(none_counters.forecast_late_steps, none_counters.evaluations);
}

// Rules that lag the ingest (a burst at full speed, then data resuming after a gap longer than
// the store's window) must not read evicted steps as missing observations: no stale alert on a
// sensor that reported every step, and the steps not judged are counted.
TEST(RuleEngineTest, StepsTheStoreNoLongerHoldsAreNotJudged) {
  EngineRig rig(kOneAhu, R"([{"id": "oat-stale", "kind": "sensor_health", "check": "stale", "stale_steps": 2,
      "applies_to": "AHU", "inputs": {"OAT": "Outside_Air_Temperature_Sensor"}}])",
                {kStep, 12, 0, 32});  // a one-hour window
  // Six steps, a day without data, six more: all stored before the engine sees any event.
  std::vector<ObservationsApplied> queued;
  for (int i = 0; i < 12; ++i) {
    const UnixMillis t = kT0 + (i < 6 ? i : 288 + i) * kStep + 60'000;
    for (const char* p : {"urn:b#SAT", "urn:b#OAT"})
      ASSERT_EQ(rig.store.Append({p, t, 20.0 + i, "DEG_C", ""}), AppendOutcome::kAccepted);
    queued.push_back(ObservationsApplied{{"urn:b#SAT", "urn:b#OAT"}, t});
  }
  for (const ObservationsApplied& a : queued) rig.engine.OnObservations(a);
  const std::string state = rig.StateOf("oat-stale", "AHU1");
  EXPECT_TRUE(state == "none" || state == "inactive") << state;
  EXPECT_GE(rig.engine.Counters().evicted_steps, 5u) << "the steps before the gap are gone from the ring";
  EXPECT_GE(rig.engine.Counters().evaluations, 4u) << "the steps after it are judged";
}

// An air handler's G36 operating state is derived once per step and kept for its conditions'
// settling checks over the next steps; a late observation for a closed step changes that
// step's state, and what was kept must follow. Step 2 is "other" (heating valve at 2 %) until a
// late 0 % for it brings its mean to 1 %, closed: the unit is then in free cooling from step 0,
// so FC8's 15-minute settling holds at step 4, not only at step 5.
TEST(RuleEngineTest, KeptOperatingStatesFollowLateData) {
  EngineRig rig(R"(b:AHU1 a brick:AHU ; brick:hasPoint b:SAT, b:MAT ;
  brick:hasPart b:HWC, b:CHWC, b:OAD .
b:HWC a brick:Hot_Water_Coil ; brick:hasPart b:HWV .
b:HWV a brick:Heating_Valve ; brick:hasPoint b:HTG .
b:CHWC a brick:Chilled_Water_Coil ; brick:hasPart b:CHWV .
b:CHWV a brick:Cooling_Valve ; brick:hasPoint b:CLG .
b:OAD a brick:Outside_Damper ; brick:hasPoint b:ECO .
b:HTG a brick:Valve_Command .
b:CLG a brick:Valve_Command .
b:ECO a brick:Damper_Position_Command .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
b:MAT a brick:Mixed_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)",
                R"([{"id": "fc8", "kind": "g36", "condition": 8, "applies_to": "AHU",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor", "MAT": "Mixed_Air_Temperature_Sensor",
        "HTG": {"class": "Valve_Command", "path": ["Hot_Water_Coil", "Heating_Valve"]},
        "CLG": {"class": "Valve_Command", "path": ["Chilled_Water_Coil", "Cooling_Valve"]},
        "ECO": {"class": "Damper_Position_Command", "path": ["Outside_Damper"]}}}])");
  auto deliver = [&](int step, std::vector<std::pair<std::string, double>> values, int64_t at = 60'000) {
    std::vector<std::string> points;
    const UnixMillis t = kT0 + step * kStep + at;
    for (const auto& [p, v] : values) {
      EXPECT_NE(rig.store.Append({"urn:b#" + p, t, v, "", ""}), AppendOutcome::kTooOld);
      points.push_back("urn:b#" + p);
    }
    rig.engine.OnObservations(ObservationsApplied{points, t, t});
  };
  // Supply air 6 K above mixed air in free cooling: FC8's fault, once the state has settled.
  auto row = [](double htg) {
    return std::vector<std::pair<std::string, double>>{{"SAT", 20}, {"MAT", 14}, {"HTG", htg}, {"CLG", 0}, {"ECO", 0.6}};
  };
  deliver(0, row(0));
  deliver(1, row(0));
  deliver(2, row(0.02));
  deliver(3, row(0));
  deliver(4, row(0));  // closes step 3: states 2 (OS2), 5, 2: not settled
  deliver(2, {{"HTG", 0}}, 120'000);  // late: step 2's heating valve mean is 1 %, closed
  deliver(5, row(0));  // closes step 4: states of steps 4, 3, 2 are all OS2 now
  auto a = rig.alerts.Get(AlertFingerprint("fc8", "urn:b#AHU1"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->alert.state, AlertState::kFiring);
  EXPECT_EQ(a->alert.starts_at, kT0 + 4 * kStep) << "step 2's state was kept from before the late data";
}

}  // namespace
}  // namespace brickcast
