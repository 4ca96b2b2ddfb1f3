// Notifications without a network: rendering for each medium, routing, grouping timers on an
// injected clock, and the dispatcher's retries, deadline, rate limit and outbox (SQLite, across a
// restart) with a scripted notifier. Plugins are loaded for real (the sample built in the tree).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "brickcast/alerts.h"
#include "brickcast/notify.h"
#include "notify/grouping.h"
#include "notify/render.h"
#include "test_support.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;
using notify::Grouper;
using notify::RouteTree;

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'790'000'000'000 - 1'790'000'000'000 % kStep;

NotifyAlert Alert(const std::string& id, const std::string& equipment, bool firing, const std::string& severity = "warning",
                  const std::string& rule = "g36-fc5") {
  NotifyAlert a;
  a.id = id;
  a.rule = rule;
  a.equipment = "urn:site#" + equipment;
  a.equipment_class = "Air_Handling_Unit";
  a.severity = severity;
  a.kind = "g36";
  a.site = "plant";
  a.firing = firing;
  a.starts_at = kT0;
  a.ends_at = firing ? 0 : kT0 + kStep;
  a.summary = "SAT too low <b>& cold</b>";
  a.action = "Check the heating valve.";
  a.evidence = R"({"detail":"FC5 fault","values":[{"name":"SAT","value":11.25,"unit":"degC"}],)"
               R"("thresholds":[{"name":"MAT + dT","value":13.5,"unit":"degC"}]})";
  return a;
}

Notification Note(std::vector<NotifyAlert> alerts) {
  Notification n;
  n.key = "k123";
  n.receiver = "ops";
  n.group_key = "root:{equipment=\"AHU-1\"}";
  n.group_labels = {{"equipment", "AHU-1"}};
  n.alerts = std::move(alerts);
  n.external_url = "http://bc:8080";
  n.created = kT0;
  return n;
}

TEST(NotifyRender, WebhookBodyHasTheAlertmanagerV4Fields) {
  const Notification n = Note({Alert("a1", "AHU-1", true), Alert("a2", "AHU-1", false, "critical")});
  Json j = Json::parse(notify::WebhookV4Json(n, 0));
  for (const char* f : {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
                        "commonAnnotations", "externalURL", "alerts"})
    EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["receiver"], "ops");
  EXPECT_EQ(j["groupLabels"]["equipment"], "AHU-1");
  EXPECT_EQ(j["commonLabels"]["equipment"], "AHU-1");
  EXPECT_FALSE(j["commonLabels"].contains("severity")) << "severities differ";
  ASSERT_EQ(j["alerts"].size(), 2u);
  for (const Json& a : j["alerts"]) {
    for (const char* f : {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"})
      EXPECT_TRUE(a.contains(f)) << f;
  }
  EXPECT_EQ(j["alerts"][0]["labels"]["alertname"], "g36-fc5");
  EXPECT_EQ(j["alerts"][0]["generatorURL"], "http://bc:8080/#/alerts/a1");
  EXPECT_EQ(j["alerts"][1]["status"], "resolved");
  EXPECT_EQ(j["alerts"][1]["endsAt"], FormatIsoUtc(kT0 + kStep));
  Json cut = Json::parse(notify::WebhookV4Json(n, 1));
  EXPECT_EQ(cut["alerts"].size(), 1u);
  EXPECT_EQ(cut["truncatedAlerts"], 1);
}

TEST(NotifyRender, AlertmanagerBodyEndsFiringAlertsAheadAndResolvedAtTheirEnd) {
  Json j = Json::parse(notify::AlertmanagerV2Json(Note({Alert("a1", "AHU-1", true), Alert("a2", "AHU-2", false)}),
                                                  kT0 + 240'000));
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["endsAt"], FormatIsoUtc(kT0 + 240'000));
  EXPECT_EQ(j[1]["endsAt"], FormatIsoUtc(kT0 + kStep));
  EXPECT_EQ(j[0]["labels"]["equipment"], "AHU-1");
  EXPECT_EQ(j[0]["annotations"]["action"], "Check the heating valve.");
}

TEST(NotifyRender, SmsFitsOneSegment) {
  // GSM-7: 160 septets, escape characters ({ } [ ] ~ ^ | \ €) count two.
  EXPECT_FALSE(notify::FitSms(std::string(160, 'a')).truncated);
  auto long_text = notify::FitSms(std::string(200, 'a'));
  EXPECT_TRUE(long_text.truncated);
  EXPECT_TRUE(long_text.gsm7);
  EXPECT_EQ(long_text.text.size(), 160u);
  EXPECT_EQ(long_text.text.substr(146), "...(truncated)");
  auto braces = notify::FitSms(std::string(80, '{'));
  EXPECT_FALSE(braces.truncated) << "80 escapes are 160 septets";
  EXPECT_TRUE(notify::FitSms(std::string(81, '{')).truncated);
  // A character outside GSM 03.38 makes the whole text UCS-2: 70 units.
  auto ucs2 = notify::FitSms("Temp 12 °C ↓ " + std::string(100, 'x'));
  EXPECT_FALSE(ucs2.gsm7);
  EXPECT_TRUE(ucs2.truncated);
  EXPECT_NE(ucs2.text.find("...(truncated)"), std::string::npos);
  size_t units = 0;
  for (unsigned char c : ucs2.text) units += (c & 0xC0) != 0x80;  // code points (all in the BMP here)
  EXPECT_EQ(units, 70u);
  auto sms = notify::RenderSms(Note({Alert("a1", "AHU-1", true)}));
  EXPECT_EQ(sms.text.rfind("[FIRING:1] g36-fc5 on AHU-1", 0), 0u) << sms.text;
}

TEST(NotifyRender, EmailHasBothBodiesEscapedAndAStableMessageId) {
  const Notification n = Note({Alert("a1", "AHU-1", true)});
  const std::string m = notify::EmailMessage(n, "brickcast <bc@plant.example>", {"a@x", "b@y"});
  EXPECT_NE(m.find("Message-ID: <k123@brickcast>\r\n"), std::string::npos);
  EXPECT_EQ(m, notify::EmailMessage(n, "brickcast <bc@plant.example>", {"a@x", "b@y"})) << "deterministic";
  EXPECT_NE(m.find("To: a@x, b@y\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: [FIRING:1] g36-fc5 on AHU-1\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/html"), std::string::npos);
  const std::string html = notify::HtmlBody(n);
  EXPECT_NE(html.find("SAT too low &lt;b&gt;&amp; cold&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>&"), std::string::npos) << "no raw markup from alert text";
  const std::string text = notify::TextBody(n);
  EXPECT_NE(text.find("values: SAT=11.25 degC"), std::string::npos) << text;
  EXPECT_NE(text.find("recommended action: Check the heating valve."), std::string::npos);
  EXPECT_NE(text.find("http://bc:8080/#/alerts/a1"), std::string::npos);
}

TEST(NotifyRender, ReceiversOwnTemplatesWithValuesEscapedPerMedium) {
  const Notification n = Note({Alert("a1", "AHU-1", true), Alert("a2", "AHU-2", true)});
  notify::Templates t{"{{site}}: {{rule}} at {{ equipment }} {{more}}",
                      "{{status}} {{severity}} {{equipment}}: {{summary}}\nDo: {{action}}\n{{evidence}}\n{{link}}"};
  EXPECT_EQ(notify::Title(n, t), "plant: g36-fc5 at AHU-1 (+1 more)");
  const std::string text = notify::TextBody(n, t);
  EXPECT_NE(text.find("FIRING warning AHU-2: SAT too low <b>& cold</b>\nDo: Check the heating valve.\n"
                      "FC5 fault; values: SAT=11.25 degC; thresholds: MAT + dT=13.5 degC\nhttp://bc:8080/#/alerts/a2"),
            std::string::npos)
      << text;
  const std::string html = notify::HtmlBody(n, t);
  EXPECT_NE(html.find("SAT too low &lt;b&gt;&amp; cold&lt;/b&gt;"), std::string::npos) << html;
  EXPECT_EQ(html.find("<b>&"), std::string::npos);
  notify::Templates sms{"", "{{status}} {{equipment}} {{summary}}"};
  EXPECT_EQ(notify::RenderSms(n, sms).text, "FIRING AHU-1 SAT too low <b>& cold</b>");
  const std::string mail = notify::EmailMessage(n, "bc@x", {"a@x"}, t);
  EXPECT_NE(mail.find("Subject: plant: g36-fc5 at AHU-1 (+1 more)\r\n"), std::string::npos);
  auto bad = LoadConfigText(R"({"notify": {"receivers": [{"name": "h", "kind": "webhook", "url": "http://h",
                                 "text_template": "{{summary}} {{sumary}}"}], "route": {"receiver": "h"}}})", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/notify/receivers/0/text_template: unknown variable {{sumary}}"),
            std::string::npos)
      << bad.status().message();
}

RouteConfig Routes() {
  RouteConfig root;
  root.receiver = "default";
  root.group_by = {"equipment"};
  root.group_by_set = true;
  RouteConfig critical;
  critical.receiver = "pager";
  critical.matchers = {{"severity", "critical"}};
  critical.continue_matching = true;
  critical.group_wait_ms = 0;
  RouteConfig fc;
  fc.receiver = "fdd";
  fc.matchers_re = {{"rule", "g36-fc(5|6)"}};
  root.routes = {critical, fc};
  return root;
}

TEST(NotifyRouting, MatchersContinueAndInheritance) {
  auto tree = RouteTree::Build(Routes());
  ASSERT_TRUE(tree.ok()) << tree.status().message();
  auto receivers = [&](const NotifyAlert& a) {
    std::vector<std::string> out;
    for (const auto* r : tree->Match(a.Labels())) out.push_back(r->receiver);
    return out;
  };
  EXPECT_EQ(receivers(Alert("1", "AHU-1", true, "critical")), (std::vector<std::string>{"pager", "fdd"}));
  EXPECT_EQ(receivers(Alert("2", "AHU-1", true, "warning")), (std::vector<std::string>{"fdd"}));
  EXPECT_EQ(receivers(Alert("3", "AHU-1", true, "warning", "g36-fc12")), (std::vector<std::string>{"default"}));
  const auto matched = tree->Match(Alert("1", "AHU-1", true, "critical").Labels());
  EXPECT_EQ(matched[0]->group_wait_ms, 0);
  EXPECT_EQ(matched[1]->group_wait_ms, notify::kDefaultGroupWaitMs) << "inherited default";
  EXPECT_EQ(matched[1]->group_by, std::vector<std::string>{"equipment"});
  RouteConfig bad = Routes();
  bad.routes[1].matchers_re = {{"rule", "g36-fc("}};
  EXPECT_FALSE(RouteTree::Build(bad).ok());
  // The equipment label matches the local name or the IRI.
  RouteConfig by_iri;
  by_iri.receiver = "x";
  by_iri.matchers = {{"equipment", "urn:site#AHU-1"}};
  RouteConfig top;
  top.receiver = "y";
  top.routes = {by_iri};
  auto t2 = RouteTree::Build(top);
  EXPECT_EQ(t2->Match(Alert("1", "AHU-1", true).Labels())[0]->receiver, "x");
}

// Grouping timers on explicit times.
class GrouperTest : public ::testing::Test {
 protected:
  GrouperTest() {
    RouteConfig root;
    root.receiver = "ops";
    root.group_by = {"equipment"};
    root.group_by_set = true;
    root.group_wait_ms = 30'000;
    root.group_interval_ms = 300'000;
    root.repeat_interval_ms = 3'600'000;
    tree_ = std::move(*RouteTree::Build(root));
    grouper_ = std::make_unique<Grouper>(&tree_, "http://bc");
  }
  std::vector<notify::GroupFlush> Flush(UnixMillis t) {
    auto sent = grouper_->Flush(
        t, [this](NotifyAlert* a) {
          auto it = state_.find(a->id);
          if (it == state_.end()) return true;
          *a = it->second;
          return true;
        },
        [this](const std::string& id) { return quiet_.count(id) > 0; }, [this](const std::string&) { return resolved_; });
    std::vector<notify::GroupFlush> out;
    for (auto& f : sent) {
      if (f.send) out.push_back(f);
    }
    return out;
  }
  void Set(const NotifyAlert& a, UnixMillis t) {
    state_[a.id] = a;
    grouper_->Update(a, t);
  }
  RouteTree tree_;
  std::unique_ptr<Grouper> grouper_;
  std::map<std::string, NotifyAlert> state_;
  std::set<std::string> quiet_;
  bool resolved_ = true;
};

TEST_F(GrouperTest, WaitIntervalRepeatAndResolved) {
  Set(Alert("a1", "AHU-1", true), kT0);
  EXPECT_TRUE(Flush(kT0 + 29'999).empty()) << "group_wait";
  Set(Alert("a2", "AHU-1", true), kT0 + 10'000);
  Set(Alert("b1", "AHU-2", true), kT0 + 20'000);
  auto first = Flush(kT0 + 30'000);
  ASSERT_EQ(first.size(), 1u) << "AHU-1's group; AHU-2's waits until +50 s";
  EXPECT_EQ(first[0].notification.alerts.size(), 2u);
  EXPECT_EQ(first[0].notification.group_labels.at("equipment"), "AHU-1");
  EXPECT_EQ(Flush(kT0 + 50'000).size(), 1u);
  // Nothing new: nothing sent at the next interval.
  EXPECT_TRUE(Flush(kT0 + 330'000).empty());
  // A resolve more than group_interval (5 min) after the group's last notification (+30 s) goes
  // out at once, with the still-firing alert: the interval limits how often, it is not a tick
  // that news waits for.
  Set(Alert("a1", "AHU-1", false), kT0 + 400'000);
  auto resolved = Flush(kT0 + 400'000);
  ASSERT_EQ(resolved.size(), 1u);
  ASSERT_EQ(resolved[0].notification.alerts.size(), 2u);
  EXPECT_TRUE(resolved[0].notification.alerts[0].firing);
  EXPECT_EQ(resolved[0].notification.alerts[0].id, "a2");
  EXPECT_FALSE(resolved[0].notification.alerts[1].firing);
  // News within the interval waits for it: a3 at +450 s goes out at +700 s.
  Set(Alert("a3", "AHU-1", true), kT0 + 450'000);
  EXPECT_TRUE(Flush(kT0 + 600'000).empty());
  auto later = Flush(kT0 + 700'000);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].notification.alerts.size(), 2u);
  // Still firing unchanged: repeated at the first group-interval tick 1 h (repeat_interval) after
  // each group's last notification: AHU-2's was at +50 s, AHU-1's at +700 s.
  EXPECT_TRUE(Flush(kT0 + 3'640'000).empty());
  auto ahu2 = Flush(kT0 + 3'940'000);
  ASSERT_EQ(ahu2.size(), 1u);
  EXPECT_EQ(ahu2[0].notification.group_labels.at("equipment"), "AHU-2");
  EXPECT_TRUE(Flush(kT0 + 4'240'000).empty());
  auto ahu1 = Flush(kT0 + 4'540'000);
  ASSERT_EQ(ahu1.size(), 1u);
  EXPECT_EQ(ahu1[0].notification.group_labels.at("equipment"), "AHU-1");
  ASSERT_EQ(ahu1[0].notification.alerts.size(), 2u) << "the resolved alert left the group";
  EXPECT_EQ(ahu1[0].notification.alerts[0].id, "a2");
  EXPECT_EQ(ahu1[0].notification.alerts[1].id, "a3");
}

TEST_F(GrouperTest, QuietAlertsAreLeftOutAndAnnouncedWhenTheyAreNot) {
  quiet_ = {"a1"};  // silenced (or acked, muted, inhibited)
  Set(Alert("a1", "AHU-1", true), kT0);
  EXPECT_TRUE(Flush(kT0 + 30'000).empty());
  quiet_.clear();  // the silence ended
  auto sent = Flush(kT0 + 330'000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].notification.alerts[0].id, "a1");
}

TEST_F(GrouperTest, AnAlertThatFiredAndResolvedBeforeTheFlushIsStillTold) {
  Set(Alert("a1", "AHU-1", true), kT0);
  Set(Alert("a1", "AHU-1", false), kT0 + 5'000);
  auto sent = Flush(kT0 + 30'000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].notification.Firing());
  // Without resolved notices, such an alert is dropped, and later resolves are not sent either.
  resolved_ = false;
  Set(Alert("a2", "AHU-2", true), kT0 + 40'000);
  ASSERT_EQ(Flush(kT0 + 70'000).size(), 1u);
  Set(Alert("a2", "AHU-2", false), kT0 + 80'000);
  EXPECT_TRUE(Flush(kT0 + 370'000).empty());
}

TEST_F(GrouperTest, RestoredLogPreventsReannouncingAfterARestart) {
  Set(Alert("a1", "AHU-1", true), kT0);
  auto sent = Flush(kT0 + 30'000);
  ASSERT_EQ(sent.size(), 1u);
  // A new grouper (the daemon restarted) with the log the outbox kept.
  Grouper after(&tree_, "http://bc");
  after.RestoreLog({sent[0].log}, kT0 + 60'000);
  after.Update(Alert("a1", "AHU-1", true), kT0 + 60'000);
  auto again = after.Flush(kT0 + 90'000, [](NotifyAlert*) { return true; }, [](const std::string&) { return false; },
                           [](const std::string&) { return true; });
  for (const auto& f : again) EXPECT_FALSE(f.send) << "already told";
  // It resolved while we were down: the resolve is told.
  Grouper later(&tree_, "http://bc");
  later.RestoreLog({sent[0].log}, kT0 + 60'000);
  later.Update(Alert("a1", "AHU-1", false), kT0 + 60'000);
  auto resolved = later.Flush(kT0 + 90'000, [](NotifyAlert*) { return true; },
                              [](const std::string&) { return false; }, [](const std::string&) { return true; });
  ASSERT_FALSE(resolved.empty());
  EXPECT_TRUE(resolved[0].send);
  EXPECT_FALSE(resolved[0].notification.Firing());
}

TEST_F(GrouperTest, AlertsTakenOverAreNotReannouncedAndAlertsHandedOverLeaveQuietly) {
  // Another instance told a1 firing; this one takes it over: nothing at the flush, its resolve is news.
  grouper_->AdoptTold(Alert("a1", "AHU-1", true), kT0);
  state_["a1"] = Alert("a1", "AHU-1", true);
  EXPECT_TRUE(Flush(kT0 + 30'000).empty()) << "already told by the instance before";
  Set(Alert("a1", "AHU-1", false), kT0 + 400'000);
  auto resolved = Flush(kT0 + 400'000);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_FALSE(resolved[0].notification.Firing());
  // Two firing alerts told in one group; one is handed over: the other is not told again for it.
  Set(Alert("b1", "AHU-2", true), kT0 + 500'000);
  Set(Alert("b2", "AHU-2", true), kT0 + 500'000);
  ASSERT_EQ(Flush(kT0 + 530'000).size(), 1u);
  grouper_->Release("b1");
  state_.erase("b1");
  EXPECT_TRUE(Flush(kT0 + 900'000).empty()) << "a handover is no news to receivers";
  Set(Alert("b2", "AHU-2", false), kT0 + 1'000'000);
  auto b2 = Flush(kT0 + 1'000'000);
  ASSERT_EQ(b2.size(), 1u);
  ASSERT_EQ(b2[0].notification.alerts.size(), 1u);
  EXPECT_EQ(b2[0].notification.alerts[0].id, "b2");
}

// The notifier runs behind the rules: an alert told firing resolves and fires again before the
// group hears of either. Each episode is told: the first one's resolve (its own start and end),
// then the next one's firing; never "still firing", which would hide that the fault cleared.
TEST_F(GrouperTest, EachEpisodeIsToldWhenTheAlertMovesOnBeforeTheGroupHears) {
  // a1's episode starting at `start`: firing, or resolved at `end`.
  auto episode = [](UnixMillis start, UnixMillis end = 0) {
    NotifyAlert a = Alert("a1", "AHU-1", end == 0);
    a.starts_at = start;
    a.ends_at = end;
    return a;
  };
  // One notification holding exactly these (firing?, start) in order.
  auto expect_told = [](const std::vector<notify::GroupFlush>& sent, std::vector<std::pair<bool, UnixMillis>> want) {
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].notification.alerts.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(sent[0].notification.alerts[i].firing, want[i].first) << i;
      EXPECT_EQ(sent[0].notification.alerts[i].starts_at, want[i].second) << i;
    }
  };
  const UnixMillis s1 = kT0, s2 = kT0 + 20 * kStep, s3 = kT0 + 40 * kStep;
  Set(episode(s1), kT0);
  ASSERT_EQ(Flush(kT0 + 30'000).size(), 1u);
  // Both transitions reach the group before its next flush; the alert is already in the next episode.
  state_["a1"] = episode(s2);
  grouper_->Update(episode(s1, s1 + 10 * kStep), kT0 + 400'000);
  grouper_->Update(episode(s2), kT0 + 400'000);
  auto both = Flush(kT0 + 400'000);
  expect_told(both, {{true, s2}, {false, s1}});
  EXPECT_EQ(both[0].notification.alerts[1].ends_at, s1 + 10 * kStep);
  // The flush comes between the two transitions, when the alert already shows the next episode:
  // the group tells the episode it holds (the resolve), not the state it reads.
  state_["a1"] = episode(s3);
  grouper_->Update(episode(s2, s2 + 10 * kStep), kT0 + 800'000);
  expect_told(Flush(kT0 + 800'000), {{false, s2}});
  grouper_->Update(episode(s3), kT0 + 1'200'000);  // the group was empty and went: group_wait again
  expect_told(Flush(kT0 + 1'230'000), {{true, s3}});
  // A late transition of an episode already told changes nothing.
  grouper_->Update(episode(s2), kT0 + 1'600'000);
  EXPECT_TRUE(Flush(kT0 + 1'600'000).empty());
}

// A notifier that answers from a script and records what it was asked to send.
class ScriptedNotifier : public Notifier {
 public:
  std::vector<DeliveryResult> script;  // consumed in order; delivered when empty
  std::vector<std::string> keys;
  std::vector<Notification> sent;
  std::vector<std::string> targets_seen;
  std::vector<std::string> targets{""};
  std::vector<std::string> Targets() const override { return targets; }
  DeliveryResult Deliver(const Notification& n) override {
    keys.push_back(n.key);
    sent.push_back(n);
    targets_seen.push_back(n.target);
    if (script.empty()) return DeliveryResult::Delivered();
    DeliveryResult r = script.front();
    script.erase(script.begin());
    return r;
  }
};

std::shared_ptr<const RuleSpec> Rule(const std::string& id, const std::string& severity = "warning") {
  auto set = ParseRules(R"([{"id": ")" + id + R"(", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                             "severity": ")" + severity + R"(", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])",
                        "t.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  return (*set)->rules.front();
}

ConditionResult Result(Outcome o, UnixMillis t) {
  ConditionResult r;
  r.outcome = o;
  r.time = t;
  r.primary_value = 31;
  r.values.push_back(EvidenceValue{"SAT", "urn:b#SAT", 31, "degC"});
  r.detail = OutcomeName(o);
  return r;
}

// The service over a real AlertManager (memory or SQLite) with injected time and notifier.
class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : clock_(kT0) {}
  void Open(const std::string& db = "") {
    service_.reset();
    alerts_.reset();
    AlertManagerOptions o;
    o.clock = &clock_;
    o.events = events_;
    std::unique_ptr<AlertStore> store;
    if (db.empty()) {
      store = NewMemoryAlertStore();
    } else {
      auto opened = OpenSqliteAlertStore(db);
      ASSERT_TRUE(opened.ok()) << opened.status().message();
      store = std::move(*opened);
    }
    alerts_ = std::make_unique<AlertManager>(std::move(store), o);
    ASSERT_TRUE(alerts_->Restore().ok());
    NotifyConfig c;
    ReceiverConfig r;
    r.name = "ops";
    r.kind = "webhook";
    r.url = "http://unused";
    r.rate_limit_per_minute = rate_per_minute_;
    c.receivers = {r};
    c.route.receiver = "ops";
    c.route.group_wait_ms = 0;
    c.route.group_interval_ms = 60'000;
    if (group_each_alert_) {
      c.route.group_by = {"..."};
      c.route.group_by_set = true;
    }
    c.retry_initial_ms = 1'000;
    c.retry_max_ms = 8'000;
    c.deadline_ms = 60'000;
    NotificationServiceOptions so;
    so.clock = &clock_;
    so.notifiers["ops"] = notifier_;
    so.jitter = 0;
    auto made = NotificationService::Create(c, alerts_.get(), so);
    ASSERT_TRUE(made.ok()) << made.status().message();
    service_ = std::move(*made);
  }
  void Fire(const std::string& rule, const std::string& equipment) {
    RuleBinding b{Rule(rule), equipment, {{"SAT", "urn:b#SAT"}}};
    alerts_->Apply(b, Result(Outcome::kFault, kT0));
    service_->OnAlertChanged(AlertFingerprint(rule, equipment));
  }
  std::vector<OutboxEntry> Outbox() { return *alerts_->outbox().Recent(100); }
  // A threshold rule on AHU1 that resolves at the first normal step.
  static RuleBinding Blip() {
    auto rules = ParseRules(R"([{"id": "blip", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                                "clear_for": "0s", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])", "t.json");
    EXPECT_TRUE(rules.ok()) << rules.status().message();
    return RuleBinding{(*rules)->rules.front(), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  }

  ManualClock clock_;
  EventBus* events_ = nullptr;  // where the alert manager publishes its transitions, if set
  double rate_per_minute_ = 0;
  bool group_each_alert_ = false;
  std::shared_ptr<ScriptedNotifier> notifier_ = std::make_shared<ScriptedNotifier>();
  std::unique_ptr<AlertManager> alerts_;
  std::unique_ptr<NotificationService> service_;
};

TEST_F(ServiceTest, RetriesWithCappedExponentialBackoffThenDelivers) {
  Open();
  notifier_->script = {DeliveryResult::Retryable("down"), DeliveryResult::Retryable("down"),
                       DeliveryResult::Retryable("down"), DeliveryResult::Retryable("down"),
                       DeliveryResult::Retryable("down")};
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  ASSERT_EQ(notifier_->keys.size(), 1u);
  // Backoff 1 s, 2 s, 4 s, 8 s, 8 s (capped): nothing is tried before its time.
  for (int64_t wait : {1'000, 2'000, 4'000, 8'000, 8'000}) {
    const size_t before = notifier_->keys.size();
    clock_.Advance(wait - 1);
    service_->Tick();
    EXPECT_EQ(notifier_->keys.size(), before) << "too early at " << wait;
    clock_.Advance(1);
    service_->Tick();
    EXPECT_EQ(notifier_->keys.size(), before + 1) << "due after " << wait;
  }
  ASSERT_EQ(notifier_->keys.size(), 6u);
  for (const std::string& k : notifier_->keys) EXPECT_EQ(k, notifier_->keys[0]) << "one idempotency key";
  auto entries = Outbox();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].state, OutboxState::kDelivered);
  EXPECT_EQ(entries[0].attempts, 6);
  const auto stats = service_->Stats().at("ops");
  EXPECT_EQ(stats.retried, 5u);
  EXPECT_EQ(stats.delivered, 1u);
  MetricWriter w;
  service_->Collect(w);
  EXPECT_NE(w.Text().find("brickcast_notifications_total{receiver=\"ops\",outcome=\"retried\"} 5"), std::string::npos)
      << w.Text();
}

TEST_F(ServiceTest, WallClockStepsMoveRetriesAndGroupsWithThem) {
  Open();
  notifier_->script = {DeliveryResult::Retryable("down"), DeliveryResult::Retryable("down")};
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  ASSERT_EQ(notifier_->keys.size(), 1u);
  // Stepped back an hour (NTP, `date -s`): the retry due in 1 s is still due in 1 s.
  clock_.Jump(-3'600'000);
  service_->Tick();
  clock_.Advance(999);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 1u) << "not before its time";
  clock_.Advance(1);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 2u) << "due 1 s after the failure, not an hour later";
  // Stepped forward a day: the retry is not failed by its 60 s deadline, and comes 2 s later.
  clock_.Jump(86'400'000);
  service_->Tick();
  auto entries = Outbox();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].state, OutboxState::kPending);
  clock_.Advance(2'000);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 3u);
  EXPECT_EQ(Outbox()[0].state, OutboxState::kDelivered);
  // The group's interval (60 s from its notification) follows too: news 60 s on goes out.
  Fire("r2", "urn:b#AHU1");
  clock_.Jump(-3'600'000);
  clock_.Advance(56'000);  // 59 s after the group's notification at the start (3 s had passed)
  service_->Tick();
  EXPECT_EQ(Outbox().size(), 1u) << "within the group interval";
  clock_.Advance(1'000);
  service_->Tick();
  EXPECT_EQ(Outbox().size(), 2u) << "the interval ended, an hour early by the wall clock";
  MetricWriter w;
  service_->Collect(w);
  EXPECT_NE(w.Text().find("brickcast_clock_steps_total 3"), std::string::npos) << w.Text();
}

TEST_F(ServiceTest, PermanentFailuresAndTheDeadlineFailTheNotification) {
  Open();
  notifier_->script = {DeliveryResult::Permanent("401 unauthorised")};
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  auto entries = Outbox();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].state, OutboxState::kFailed);
  EXPECT_EQ(entries[0].last_error, "401 unauthorised");
  // Retryable past the deadline (60 s here): failed, saying why.
  notifier_->script.assign(100, DeliveryResult::Retryable("timeout"));
  Fire("r2", "urn:b#AHU2");
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(8'000);
    service_->Tick();
  }
  entries = Outbox();
  ASSERT_EQ(entries.size(), 2u);
  const OutboxEntry& late = entries[0].state == OutboxState::kFailed && entries[0].last_error != "401 unauthorised"
                                ? entries[0]
                                : entries[1];
  EXPECT_EQ(late.state, OutboxState::kFailed);
  EXPECT_NE(late.last_error.find("deadline passed"), std::string::npos) << late.last_error;
  EXPECT_EQ(service_->Stats().at("ops").failed, 2u);
}

TEST_F(ServiceTest, RateLimitHoldsNotificationsBackWithoutLosingThem) {
  rate_per_minute_ = 6;  // one every 10 s, no burst
  group_each_alert_ = true;
  Open();
  for (int i = 0; i < 3; ++i) Fire("r" + std::to_string(i), "urn:b#AHU" + std::to_string(i));
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 1u);
  EXPECT_EQ(Outbox().size(), 3u) << "three groups, three notifications";
  clock_.Advance(9'000);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 1u);
  clock_.Advance(1'100);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 2u);
  clock_.Advance(10'100);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 3u) << "none lost";
  EXPECT_GE(service_->Stats().at("ops").rate_limited, 2u);
}

TEST_F(ServiceTest, FanOutGivesEachTargetItsOwnKey) {
  notifier_->targets = {"+15550001", "+15550002"};
  Open();
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  auto seen = notifier_->targets_seen;
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen, (std::vector<std::string>{"+15550001", "+15550002"}));
  EXPECT_NE(notifier_->keys[0], notifier_->keys[1]);
}

TEST_F(ServiceTest, OutboxSurvivesARestartAndNothingIsSentTwice) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/alerts.db";
  Open(db);
  notifier_->script = {DeliveryResult::Retryable("smtp down")};
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  ASSERT_EQ(notifier_->keys.size(), 1u);
  const std::string key = notifier_->keys[0];
  // "Restart": a new manager and service on the same file, before the retry was due.
  Open(db);
  ASSERT_TRUE(service_->Start().ok());
  service_->Stop(0);
  clock_.Advance(2'000);
  service_->Tick();
  ASSERT_EQ(notifier_->keys.size(), 2u);
  EXPECT_EQ(notifier_->keys[1], key) << "the pending notification, not a new one";
  auto entries = Outbox();
  ASSERT_EQ(entries.size(), 1u) << "the group log kept the restarted grouper from re-announcing";
  EXPECT_EQ(entries[0].state, OutboxState::kDelivered);
  clock_.Advance(120'000);
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 2u);
}

// The transition to firing and the alert's "not yet told" mark are one transaction: an alert that
// fires and resolves just before a crash (before any flush) is told after the restart, once.
TEST_F(ServiceTest, AnAlertThatFiredAndResolvedJustBeforeACrashIsToldAfterTheRestart) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/alerts.db";
  Open(db);
  const RuleBinding b = Blip();
  alerts_->Apply(b, Result(Outcome::kFault, kT0));
  alerts_->Apply(b, Result(Outcome::kNormal, kT0 + kStep));
  ASSERT_EQ(alerts_->StateOf(AlertFingerprint("blip", "urn:b#AHU1")), AlertState::kResolved);
  // Killed before the notification pipeline heard of it; restarted.
  Open(db);
  ASSERT_TRUE(service_->Start().ok());
  service_->Stop(0);
  service_->Tick();
  ASSERT_EQ(notifier_->sent.size(), 1u);
  EXPECT_FALSE(notifier_->sent[0].Firing());
  EXPECT_EQ(notifier_->sent[0].alerts[0].rule, "blip");
  // Told: the next restart has nothing to say.
  Open(db);
  ASSERT_TRUE(service_->Start().ok());
  service_->Stop(0);
  clock_.Advance(3'600'000);
  service_->Tick();
  EXPECT_EQ(notifier_->sent.size(), 1u);
}

// Scale-out: this instance told an alert firing, then (killed and restarted, or handing the
// partition over) another instance told its resolve and hands it back through the changelog with
// told = "resolved". The changelog is authoritative: this instance's own "told firing" mark must
// not make the alert's next firing look like no news.
TEST_F(ServiceTest, AnAdoptedAlertsNextFiringIsToldDespiteThisInstancesOldMark) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/alerts.db";
  Open(db);
  const RuleBinding b = Blip();
  const std::string id = AlertFingerprint("blip", "urn:b#AHU1");
  alerts_->Apply(b, Result(Outcome::kFault, kT0));
  service_->OnAlertChanged(id);
  service_->Tick();
  ASSERT_EQ(notifier_->sent.size(), 1u);
  ASSERT_TRUE(notifier_->sent[0].Firing());
  // Restarted: the group log says "told firing". Meanwhile another instance resolved the episode
  // and told it; its changelog record comes back with the partition.
  Open(db);
  ASSERT_TRUE(service_->Start().ok());
  service_->Stop(0);
  brickcast::Alert theirs = alerts_->Get(id)->alert;
  theirs.state = AlertState::kResolved;
  theirs.ends_at = kT0 + kStep;
  theirs.last_evaluated = kT0 + 2 * kStep;
  ASSERT_EQ(alerts_->Adopt({theirs}).size(), 1u);
  service_->Adopt({{id, "resolved"}});
  service_->Tick();
  EXPECT_EQ(notifier_->sent.size(), 1u) << "the resolve was told by the other instance";
  // The next episode fires here: news.
  clock_.Advance(120'000);
  alerts_->Apply(b, Result(Outcome::kFault, kT0 + 3 * kStep));
  service_->OnAlertChanged(id);
  service_->Tick();
  ASSERT_EQ(notifier_->sent.size(), 2u) << "the new episode's firing must be told";
  EXPECT_TRUE(notifier_->sent[1].Firing());
}

// The daemon's path: the service hears of transitions through the event bus, after the rules
// have moved on. A blip resolved and fired again before the service read the alert: the first
// episode's resolve and the second's firing are both told.
TEST_F(ServiceTest, TransitionsHeardLateStillTellEveryEpisode) {
  EventBus bus;
  events_ = &bus;
  Open();
  std::vector<AlertChanged> changes;
  std::mutex mu;
  auto sub = bus.Subscribe("test", {EventKind<AlertChanged>()}, [&](const Event& e) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(std::get<AlertChanged>(e));
  });
  const RuleBinding b = Blip();
  alerts_->Apply(b, Result(Outcome::kFault, kT0));
  sub->Drain();
  ASSERT_EQ(changes.size(), 1u);
  service_->OnAlertChanged(changes[0]);
  service_->Tick();
  ASSERT_EQ(notifier_->sent.size(), 1u);
  clock_.Advance(120'000);
  alerts_->Apply(b, Result(Outcome::kNormal, kT0 + kStep));
  alerts_->Apply(b, Result(Outcome::kFault, kT0 + 2 * kStep));
  sub->Drain();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1].to, "resolved");
  EXPECT_EQ(changes[1].starts_at, kT0) << "a resolve names the episode it ends";
  EXPECT_EQ(changes[2].starts_at, kT0 + 2 * kStep);
  for (size_t i = 1; i < changes.size(); ++i) service_->OnAlertChanged(changes[i]);
  service_->Tick();
  ASSERT_EQ(notifier_->sent.size(), 2u);
  const auto& alerts = notifier_->sent[1].alerts;
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_TRUE(alerts[0].firing);
  EXPECT_EQ(alerts[0].starts_at, kT0 + 2 * kStep);
  EXPECT_FALSE(alerts[1].firing);
  EXPECT_EQ(alerts[1].starts_at, kT0);
  EXPECT_EQ(alerts[1].ends_at, kT0 + kStep);
  sub.reset();
  service_.reset();
  alerts_.reset();
}

// An alert still pending (its `for` not yet met) whose input goes stale never fired: its no_data
// state is not a firing to announce, and its pending and inactive transitions are no news.
TEST_F(ServiceTest, APendingAlertThatLosesItsDataIsNotAnnouncedAsFiring) {
  EventBus bus;
  events_ = &bus;
  Open();
  std::vector<AlertChanged> changes;
  auto sub = bus.Subscribe("test", {EventKind<AlertChanged>()},
                           [&](const Event& e) { changes.push_back(std::get<AlertChanged>(e)); });
  auto rules = ParseRules(R"([{"id": "slow", "kind": "threshold", "applies_to": "AHU", "limit": 30, "for": "30m",
                               "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])", "t.json");
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  const RuleBinding b{(*rules)->rules.front(), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  // Heard as they happen.
  const Outcome outcomes[] = {Outcome::kFault, Outcome::kNoData, Outcome::kNormal};
  for (int i = 0; i < 3; ++i) {
    alerts_->Apply(b, Result(outcomes[i], kT0 + i * kStep));
    sub->Drain();
    ASSERT_EQ(changes.size(), static_cast<size_t>(i + 1));
    service_->OnAlertChanged(changes.back());
    clock_.Advance(120'000);
    service_->Tick();
  }
  EXPECT_EQ(changes[1].to, "no_data");
  EXPECT_TRUE(notifier_->sent.empty()) << notifier_->sent.size() << " sent; first firing: "
                                       << (notifier_->sent.empty() ? false : notifier_->sent[0].Firing());
  sub.reset();
  service_.reset();
  alerts_.reset();
}

TEST_F(ServiceTest, AcknowledgedAlertsAreNotRepeated) {
  Open();
  Fire("r1", "urn:b#AHU1");
  service_->Tick();
  ASSERT_EQ(notifier_->keys.size(), 1u);
  ASSERT_TRUE(alerts_->Ack(AlertFingerprint("r1", "urn:b#AHU1"), "ana", "on it").ok());
  clock_.Advance(5 * 3'600'000);  // past the 4 h repeat interval
  service_->Tick();
  EXPECT_EQ(notifier_->keys.size(), 1u);
}

#ifdef BRICKCAST_SAMPLE_PLUGIN
TEST(NotifyPlugin, TheSamplePluginDeliversThroughTheCAbi) {
  testing::TempDir dir;
  ReceiverConfig r;
  r.name = "jsonl";
  r.kind = "plugin";
  r.plugin = BRICKCAST_SAMPLE_PLUGIN;
  r.plugin_config = Json{{"path", dir.path() + "/out.jsonl"}}.dump();
  auto n = MakeNotifier(r, "");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ((*n)->Deliver(Note({Alert("a1", "AHU-1", true)})).outcome, DeliveryOutcome::kDelivered);
  std::ifstream in(dir.path() + "/out.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  Json j = Json::parse(line);
  EXPECT_EQ(j["key"], "k123");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["webhook"]["version"], "4");
  r.plugin_config = R"({"path": "/tmp/x", "fail": "retryable"})";
  auto failing = MakeNotifier(r, "");
  ASSERT_TRUE(failing.ok());
  auto res = (*failing)->Deliver(Note({Alert("a1", "AHU-1", true)}));
  EXPECT_EQ(res.outcome, DeliveryOutcome::kRetryable);
  EXPECT_NE(res.reason.find("configured to fail"), std::string::npos);
}

TEST(NotifyPlugin, LoadErrorsAreClearAndStayWithTheirReceiver) {
  ReceiverConfig r;
  r.name = "p";
  r.kind = "plugin";
  r.plugin = BRICKCAST_SAMPLE_PLUGIN_WRONG_ABI;
  r.plugin_config = R"({"path": "/tmp/x"})";
  auto wrong = MakeNotifier(r, "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("ABI version 2, this brickcast speaks 1"), std::string::npos)
      << wrong.status().message();
  r.plugin = "libm.so.6";  // a real library without the entry point
  auto missing = MakeNotifier(r, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no brickcast_notifier_plugin_entry symbol"), std::string::npos);
  r.plugin = BRICKCAST_SAMPLE_PLUGIN;
  r.plugin_config = "{}";
  auto init = MakeNotifier(r, "");
  ASSERT_FALSE(init.ok());
  EXPECT_NE(init.status().message().find("init failed: plugin_config needs a \"path\""), std::string::npos);
  r.plugin = "no-such-plugin.so";
  auto absent = MakeNotifier(r, "/nonexistent");
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find("/nonexistent/no-such-plugin.so: cannot load"), std::string::npos);
}

TEST(NotifyPlugin, ABrokenPluginLeavesTheOtherReceiversWorking) {
  ManualClock clock(kT0);
  AlertManagerOptions o;
  o.clock = &clock;
  AlertManager alerts(NewMemoryAlertStore(), o);
  NotifyConfig c;
  ReceiverConfig broken;
  broken.name = "broken";
  broken.kind = "plugin";
  broken.plugin = BRICKCAST_SAMPLE_PLUGIN_WRONG_ABI;
  ReceiverConfig ok;
  ok.name = "ok";
  ok.kind = "webhook";
  c.receivers = {broken, ok};
  c.route.receiver = "ok";
  RouteConfig both;
  both.receiver = "broken";
  both.continue_matching = true;
  c.route.routes = {both};
  c.route.group_wait_ms = 0;
  auto scripted = std::make_shared<ScriptedNotifier>();
  NotificationServiceOptions so;
  so.clock = &clock;
  so.notifiers["ok"] = scripted;
  auto service = NotificationService::Create(c, &alerts, so);
  ASSERT_TRUE(service.ok()) << service.status().message();
  RuleBinding b{Rule("r1"), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}};
  alerts.Apply(b, Result(Outcome::kFault, kT0));
  (*service)->OnAlertChanged(AlertFingerprint("r1", "urn:b#AHU1"));
  (*service)->Tick();
  EXPECT_EQ(scripted->keys.size(), 0u) << "matched the 'broken' route only (continue, no other sibling)";
  auto stats = (*service)->Stats();
  EXPECT_NE(stats.at("broken").last_error.find("ABI version"), std::string::npos);
  auto test = (*service)->SendTest("ok");
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->outcome, DeliveryOutcome::kDelivered);
  auto pending = alerts.outbox().Counts();
  EXPECT_EQ(pending->pending_by_receiver.at("broken"), 1u) << "kept for when the plugin is fixed";
}
#endif

TEST(NotifyConfig, SecretsComeFromFilesOrTheEnvironmentAndAreNeverPrinted) {
  testing::TempDir dir;
  dir.File("smtp.pass", "s3cret-from-file\n");
  setenv("BRICKCAST_TEST_TOKEN", "tok-from-env", 1);
  auto c = LoadConfigText(R"({"notify": {
      "receivers": [
        {"name": "mail", "kind": "email", "smtp_url": "smtp://127.0.0.1:25", "from": "bc@x", "to": ["a@x"],
         "username": "bc", "password_file": "smtp.pass"},
        {"name": "hook", "kind": "webhook", "url": "https://h.example/in", "token_env": "BRICKCAST_TEST_TOKEN"},
        {"name": "inline", "kind": "sms", "url": "https://sms.example", "account": "AC1", "token": "inline-secret",
         "from": "+1555", "to": ["+1666"]}],
      "route": {"receiver": "mail", "routes": [{"receiver": "hook", "matchers": {"severity": "critical"}}]}}})",
                          dir.path());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->notify.receivers[0].password, "s3cret-from-file");
  EXPECT_EQ(c->notify.receivers[1].token, "tok-from-env");
  EXPECT_EQ(c->notify.receivers[2].token, "inline-secret");
  EXPECT_EQ(c->effective_json.find("inline-secret"), std::string::npos);
  EXPECT_EQ(c->effective_json.find("s3cret"), std::string::npos);
  EXPECT_EQ(c->effective_json.find("tok-from-env"), std::string::npos);
  EXPECT_EQ(c->notify.route.routes[0].matchers.at("severity"), "critical");
  EXPECT_EQ(c->notify.external_url, "http://127.0.0.1:8080");
}

TEST(NotifyConfig, MistakesAreReportedWithTheirPointer) {
  auto c = LoadConfigText(R"({"notify": {
      "receivers": [
        {"name": "mail", "kind": "email", "smtp_url": "smtp://user:pw@host:25", "to": ["a@x"], "url": "http://x"},
        {"name": "mail", "kind": "webhook"},
        {"name": "sms", "kind": "sms", "url": "https://s", "to": ["+1"], "token": "a", "token_env": "B",
         "format": "json", "json_template": "{}"}],
      "route": {"receiver": "nobody",
                "routes": [{"receiver": "ghost", "matchers_re": {"rule": "fc("}}]}}})",
                          "");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  for (const char* want : {"/notify/receivers/0/from: required for kind email",
                           "/notify/receivers/0/url: not a setting of kind email",
                           "/notify/receivers/0/smtp_url: put credentials in username/password",
                           "/notify/receivers/1/name: 'mail' is defined twice",
                           "/notify/receivers/1/url: required for kind webhook",
                           "/notify/receivers/2/token: give one of token, token_file or token_env",
                           "/notify/receivers/2/json_template: has no {{text}}",
                           "/notify/route/receiver: no receiver named 'nobody'",
                           "/notify/route/routes/0/receiver: no receiver named 'ghost'",
                           "/notify/route/routes/0/matchers_re/rule: invalid regular expression"})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  EXPECT_EQ(m.find("user:pw"), std::string::npos) << "the URL's credentials are not echoed";
  // Schema errors (types, durations, unknown keys) come first, all at once.
  auto typed = LoadConfigText(R"({"notify": {"route": {"receiver": "x", "group_wait": "soon", "grup_by": []},
                                             "receivers": [{"name": "x", "kind": "pager"}]}})", "");
  ASSERT_FALSE(typed.ok());
  for (const char* want : {"/notify/route/group_wait: 'soon' is not a duration", "/notify/route/grup_by",
                           "/notify/receivers/0/kind: must be one of email, sms, webhook, alertmanager, plugin"})
    EXPECT_NE(typed.status().message().find(want), std::string::npos) << want << "\n" << typed.status().message();
}

}  // namespace
}  // namespace brickcast
