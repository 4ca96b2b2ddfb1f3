// Alert state following the partition (scale-out): one instance's alerts and what its receivers
// were told go to the changelog topic of the embedded broker; another instance assigned those
// partitions restores them and neither repeats nor drops a notification; a handover lets them go.
#include <gtest/gtest.h>

#include "app/alert_changelog.h"
#include "brickcast/alerts.h"
#include "brickcast/kafka.h"
#include "brickcast/notify.h"
#include "brickcast/point_registry.h"
#include "brickcast/rule_engine.h"
#include "brickcast/series_store.h"
#include "test_support.h"

namespace brickcast {
namespace {

constexpr UnixMillis kT0 = 1'790'000'100'000 - 1'790'000'100'000 % 60'000;
constexpr int kPartitions = 4;
const char* kTopic = "alert-state";

class RecordingNotifier : public Notifier {
 public:
  DeliveryResult Deliver(const Notification& n) override {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back(n);
    return DeliveryResult::Delivered();
  }
  std::vector<Notification> Sent() {
    std::lock_guard<std::mutex> lock(mu);
    return sent;
  }
  std::mutex mu;
  std::vector<Notification> sent;
};

std::shared_ptr<const RuleSpec> Rule() {
  auto set = ParseRules(R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                             "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])",
                        "t.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return (*set)->rules.front();
}

ConditionResult Result(Outcome o, UnixMillis t) {
  ConditionResult r;
  r.outcome = o;
  r.time = t;
  r.primary_value = o == Outcome::kFault ? 35 : 20;
  r.values.push_back(EvidenceValue{"SAT", "urn:b#SAT", r.primary_value, "degC"});
  r.detail = OutcomeName(o);
  return r;
}

// One daemon's alert side: alert manager, rule engine (no rules: only its active flags matter
// here), notification service on an injected clock, and the changelog.
struct Instance {
  Instance(const std::string& brokers, const Clock& clock, const std::string& name,
           std::chrono::milliseconds restore_timeout = std::chrono::seconds(30))
      : classes(ClassHierarchy::BuiltIn()), registry(classes), store(SeriesOptions{60000, 100, 0, 8}) {
    AlertManagerOptions ao;
    ao.clock = &clock;
    ao.restore_alerts = false;
    alerts = std::make_unique<AlertManager>(NewMemoryAlertStore(), ao);
    EXPECT_TRUE(alerts->Restore().ok());
    engine = std::make_unique<RuleEngine>(store, ForecastLookup{}, registry, *alerts);
    AlertChangelogOptions co;
    co.client.brokers = brokers;
    co.topic = kTopic;
    co.instance = name;
    co.clock = &clock;
    co.restore_timeout = restore_timeout;
    auto made = AlertChangelog::Create(co, *alerts, *engine, [this] { return notifications; });
    EXPECT_TRUE(made.ok()) << made.status().message();
    changelog = std::move(*made);
    NotifyConfig c;
    ReceiverConfig r;
    r.name = "ops";
    r.kind = "webhook";
    r.url = "http://unused";
    c.receivers = {r};
    c.route.receiver = "ops";
    c.route.group_by = {"..."};
    c.route.group_by_set = true;
    c.route.group_wait_ms = 0;
    c.route.group_interval_ms = 1;
    NotificationServiceOptions so;
    so.clock = &clock;
    so.notifiers = {{"ops", notifier}};
    AlertChangelog* log = changelog.get();
    so.on_told = [log](const std::vector<ToldAlert>& told) { log->OnTold(told); };
    auto service = NotificationService::Create(c, alerts.get(), so);
    EXPECT_TRUE(service.ok()) << service.status().message();
    notifications = std::move(*service);
  }
  // What the daemon's subscriptions do: the point's partition is learned from the applied
  // observation, the transition is written and reaches the notification service.
  void Evaluate(const std::string& equipment, const std::string& point, int32_t partition, Outcome o, UnixMillis t) {
    changelog->OnEvent(ObservationsApplied{{point}, t, t, partition});
    RuleBinding b{rule, equipment, {{"SAT", point}}};
    const AlertState before = alerts->StateOf(AlertFingerprint(rule->id, equipment)).value_or(AlertState::kInactive);
    const AlertState after = alerts->Apply(b, Result(o, t));
    if (before != after) {
      const std::string id = AlertFingerprint(rule->id, equipment);
      changelog->OnEvent(AlertChanged{id, rule->id, equipment, "warning", "", AlertStateName(after)});
      notifications->OnAlertChanged(id);
    }
  }
  std::shared_ptr<ClassHierarchy> classes;
  PointRegistry registry;
  SeriesStore store;
  std::shared_ptr<const RuleSpec> rule = Rule();
  std::unique_ptr<AlertManager> alerts;
  std::unique_ptr<RuleEngine> engine;
  std::unique_ptr<AlertChangelog> changelog;
  std::shared_ptr<RecordingNotifier> notifier = std::make_shared<RecordingNotifier>();
  std::shared_ptr<NotificationService> notifications;
};

std::vector<std::pair<std::string, bool>> Told(const std::vector<Notification>& sent) {
  std::vector<std::pair<std::string, bool>> out;
  for (const Notification& n : sent) {
    for (const NotifyAlert& a : n.alerts) out.emplace_back(a.equipment, a.firing);
  }
  return out;
}

TEST(AlertChangelogTest, TheNewOwnerKnowsWhatWasToldAndTellsWhatWasNot) {
  auto broker = EmbeddedBroker::Start(1, {"obs", kTopic}, kPartitions);
  ASSERT_TRUE(broker.ok()) << broker.status().message();
  ManualClock clock(kT0 + 3'600'000);
  Instance a((*broker)->bootstrap(), clock, "a");
  a.changelog->Restore({1, 2, 3});  // assigned: nothing there yet
  EXPECT_EQ(a.changelog->Stats().adopted, 0u);

  // AHU1 (partition 1) fires and is told; AHU2 (partition 2) fires after the last notification
  // round: not told when `a` goes.
  a.Evaluate("urn:b#AHU1", "urn:b#AHU1_SAT", 1, Outcome::kFault, kT0);
  a.notifications->Tick();
  ASSERT_EQ(Told(a.notifier->Sent()), (std::vector<std::pair<std::string, bool>>{{"urn:b#AHU1", true}}));
  a.Evaluate("urn:b#AHU2", "urn:b#AHU2_SAT", 2, Outcome::kFault, kT0 + 60'000);
  a.Evaluate("urn:b#AHU3", "urn:b#AHU3_SAT", 3, Outcome::kNormal, kT0 + 60'000);  // no transition, no record
  EXPECT_EQ(a.changelog->Stats().written, 3u) << "AHU1 firing, AHU1 told, AHU2 firing";
  a.changelog->Handover({1, 2, 3});  // `a` leaves the group: flushed, then let go
  EXPECT_FALSE(a.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU1")).has_value());
  EXPECT_EQ(a.changelog->Stats().released, 2u);

  Instance b((*broker)->bootstrap(), clock, "b");
  b.changelog->Restore({1, 2, 3});
  EXPECT_EQ(b.changelog->Stats().adopted, 2u);
  auto ahu1 = b.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU1"));
  ASSERT_TRUE(ahu1.has_value());
  EXPECT_EQ(ahu1->alert.state, AlertState::kFiring);
  EXPECT_EQ(ahu1->alert.starts_at, kT0) << "the episode continues, with its start";
  b.notifications->Tick();
  EXPECT_EQ(Told(b.notifier->Sent()), (std::vector<std::pair<std::string, bool>>{{"urn:b#AHU2", true}}))
      << "AHU1's firing was told by `a`; AHU2's was not";

  // AHU1 clears on `b`: its resolve is news, once. A step `a` judged is not judged again.
  b.Evaluate("urn:b#AHU1", "urn:b#AHU1_SAT", 1, Outcome::kNormal, kT0);
  EXPECT_EQ(b.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU1"))->alert.state, AlertState::kFiring);
  b.Evaluate("urn:b#AHU1", "urn:b#AHU1_SAT", 1, Outcome::kNormal, kT0 + 120'000);
  clock.Advance(1000);
  b.notifications->Tick();
  const auto sent = Told(b.notifier->Sent());
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1], (std::pair<std::string, bool>{"urn:b#AHU1", false}));

  // Partition 1 moves on to `c`: it restores AHU1 resolved and told so; nothing to say.
  b.changelog->Handover({1});
  EXPECT_FALSE(b.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU1")).has_value());
  EXPECT_TRUE(b.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU2")).has_value()) << "partition 2 stays";
  Instance c((*broker)->bootstrap(), clock, "c");
  c.changelog->Restore({1});
  EXPECT_EQ(c.alerts->Get(AlertFingerprint("sat-high", "urn:b#AHU1"))->alert.state, AlertState::kResolved);
  c.notifications->Tick();
  EXPECT_TRUE(c.notifier->Sent().empty());
}

TEST(AlertChangelogTest, AnUnreachableChangelogIsReportedNotFatal) {
  auto broker = EmbeddedBroker::Start(1, {"obs", kTopic}, kPartitions);
  ASSERT_TRUE(broker.ok()) << broker.status().message();
  ManualClock clock(kT0);
  Instance b((*broker)->bootstrap(), clock, "b", std::chrono::seconds(2));
  ASSERT_TRUE((*broker)->SetBrokerDown(1).ok());
  b.changelog->Restore({0, 1});  // bounded by the restore timeout, then the instance goes on
  EXPECT_EQ(b.changelog->Stats().restore_failures, 1u);
}

}  // namespace
}  // namespace brickcast
