// Notifiers against real servers the tests start on loopback: an SMTP server (Debian's
// python3-aiosmtpd, with STARTTLS and AUTH), HTTP servers standing in for an SMS gateway and a
// webhook receiver, and a real Prometheus Alertmanager. Outages are real too: the SMTP server is
// down for the first attempt and started before the retry.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <set>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "brickcast/alerts.h"
#include "brickcast/notify.h"
#include "daemon_fixture.h"
#include "test_support.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;
using testing::TempDir;
using testing::WaitFor;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-aiosmtpd is

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A child process killed (and reaped) when the object dies.
class Child {
 public:
  explicit Child(std::vector<std::string> argv, const std::string& log = "/dev/null") {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(fileno(stdout), 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// tests/integration/smtp_server.py: every message it receives is a JSON file in maildir.
class SmtpServer {
 public:
  SmtpServer(const TempDir& dir, int port, bool tls, const std::string& auth = "") : maildir_(dir.path() + "/mail") {
    const std::string ready = dir.path() + "/smtp-ready-" + std::to_string(port);
    std::filesystem::remove(ready);
    std::vector<std::string> argv{kPython, testing::SourcePath("tests/integration/smtp_server.py"), "--port",
                                  std::to_string(port), "--maildir", maildir_, "--ready-file", ready};
    if (tls) {
      argv.insert(argv.end(), {"--cert", dir.path() + "/cert.pem", "--key", dir.path() + "/key.pem"});
    }
    if (!auth.empty()) argv.insert(argv.end(), {"--auth", auth});
    child_ = std::make_unique<Child>(argv, dir.path() + "/smtp.log");
    ready_ = WaitFor([&] { return std::filesystem::exists(ready); }, std::chrono::seconds(20));
  }
  bool ready() const { return ready_; }
  void Stop() { child_->Kill(); }
  std::vector<Json> Messages() const {
    std::vector<Json> out;
    if (!std::filesystem::exists(maildir_)) return out;
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(maildir_)) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back(Json::parse(std::ifstream(f)));
    return out;
  }

 private:
  std::string maildir_;
  std::unique_ptr<Child> child_;
  bool ready_ = false;
};

// A throwaway certificate for 127.0.0.1 (cert.pem, key.pem in dir).
bool MakeCertificate(const TempDir& dir) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir.path() + "/key.pem -out " +
                          dir.path() + "/cert.pem >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

NotifyAlert TestAlert(bool firing) {
  NotifyAlert a;
  a.id = "4112cfe7520738e6";
  a.rule = "g36-fc11";
  a.equipment = "urn:site#AHU-1";
  a.equipment_class = "Air_Handling_Unit";
  a.severity = "critical";
  a.kind = "g36";
  a.site = "plant";
  a.firing = firing;
  a.starts_at = 1'790'000'000'000;
  a.ends_at = firing ? 0 : 1'790'000'900'000;
  a.summary = "AHU: outside air too cold for mechanical cooling";
  a.action = "Check the economizer changeover settings.";
  a.evidence = R"({"detail":"FC11 fault","values":[{"name":"OAT","value":14.8,"unit":"degC"}]})";
  return a;
}

Notification TestNotification(bool firing, const std::string& key = "key-0001") {
  Notification n;
  n.key = key;
  n.receiver = "r";
  n.group_key = "root:{}";
  n.alerts = {TestAlert(firing)};
  n.external_url = "http://127.0.0.1:8080";
  n.created = 1'790'000'000'000;
  return n;
}

// The message with its quoted-printable parts decoded (soft breaks joined, =XX bytes restored).
std::string QuotedPrintableDecoded(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;
    } else if (in[i] == '=' && i + 1 < in.size() && in[i + 1] == '\n') {
      i += 1;
    } else if (in[i] == '=' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

ReceiverConfig Email(int port, const TempDir& dir) {
  ReceiverConfig r;
  r.name = "mail";
  r.kind = "email";
  r.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
  r.starttls = "required";
  r.ca_file = dir.path() + "/cert.pem";
  r.username = "brickcast";
  r.password = "hunter2-secret";
  r.from = "brickcast <brickcast@plant.example>";
  r.to = {"ops@plant.example", "Ana <ana@plant.example>"};
  r.timeout_ms = 10'000;
  return r;
}

class SmtpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/lib/python3/dist-packages/aiosmtpd"))
        << "python3-aiosmtpd is missing: run scripts/install-deps.sh";
    ASSERT_TRUE(MakeCertificate(dir_));
  }
  TempDir dir_;
};

TEST_F(SmtpTest, MailGoesOutOverStartTlsWithLoginToEveryRecipient) {
  const int port = FreePort();
  SmtpServer server(dir_, port, true, "brickcast:hunter2-secret");
  ASSERT_TRUE(server.ready());
  auto n = MakeNotifier(Email(port, dir_), "");
  ASSERT_TRUE(n.ok());
  DeliveryResult r = (*n)->Deliver(TestNotification(true));
  ASSERT_EQ(r.outcome, DeliveryOutcome::kDelivered) << r.reason;
  auto mail = server.Messages();
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0]["mail_from"], "brickcast@plant.example");
  EXPECT_EQ(mail[0]["rcpt_tos"], (Json{"ops@plant.example", "ana@plant.example"}));
  const std::string data = QuotedPrintableDecoded(mail[0]["data"]);
  for (const char* want : {"Subject: [FIRING:1] g36-fc11 on AHU-1", "Message-ID: <key-0001@brickcast>",
                           "From: brickcast <brickcast@plant.example>", "To: ops@plant.example, Ana <ana@plant.example>",
                           "Content-Type: text/plain; charset=utf-8", "Content-Type: text/html; charset=utf-8",
                           "recommended action: Check the economizer changeover settings.",
                           "http://127.0.0.1:8080/#/alerts/4112cfe7520738e6", "values: OAT=14.8 degC"})
    EXPECT_NE(data.find(want), std::string::npos) << want << "\n" << data;
}

TEST_F(SmtpTest, ARefusedLoginIsPermanentAndTheMessageHasNoPassword) {
  const int port = FreePort();
  SmtpServer server(dir_, port, true, "brickcast:another-password");
  ASSERT_TRUE(server.ready());
  auto n = MakeNotifier(Email(port, dir_), "");
  DeliveryResult r = (*n)->Deliver(TestNotification(true));
  EXPECT_EQ(r.outcome, DeliveryOutcome::kPermanent);
  EXPECT_NE(r.reason.find("login refused for user 'brickcast'"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("hunter2"), std::string::npos);
  EXPECT_TRUE(server.Messages().empty());
}

TEST_F(SmtpTest, StartTlsRequiredButNotOfferedIsPermanent) {
  const int port = FreePort();
  SmtpServer server(dir_, port, false);
  ASSERT_TRUE(server.ready());
  ReceiverConfig c = Email(port, dir_);
  c.username.clear();
  auto n = MakeNotifier(c, "");
  DeliveryResult r = (*n)->Deliver(TestNotification(true));
  EXPECT_EQ(r.outcome, DeliveryOutcome::kPermanent) << r.reason;
  EXPECT_NE(r.reason.find("STARTTLS"), std::string::npos) << r.reason;
  c.starttls = "never";  // a trusted local relay
  auto plain = MakeNotifier(c, "");
  EXPECT_EQ((*plain)->Deliver(TestNotification(true)).outcome, DeliveryOutcome::kDelivered);
}

// The SMTP server is down for the first attempt; the dispatcher retries after its backoff and the
// mail arrives once, with the retry in the metrics.
TEST_F(SmtpTest, AnOutageIsRetriedAndTheMailArrivesOnce) {
  const int port = FreePort();
  ManualClock clock(1'790'000'000'000);
  AlertManagerOptions o;
  o.clock = &clock;
  AlertManager alerts(NewMemoryAlertStore(), o);
  NotifyConfig c;
  c.receivers = {Email(port, dir_)};
  c.route.receiver = "mail";
  c.route.group_wait_ms = 0;
  c.retry_initial_ms = 5'000;
  NotificationServiceOptions so;
  so.clock = &clock;
  so.jitter = 0;
  auto service = NotificationService::Create(c, &alerts, so);
  ASSERT_TRUE(service.ok());
  auto rules = ParseRules(R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                              "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])", "t.json");
  ASSERT_TRUE(rules.ok());
  ConditionResult fault;
  fault.outcome = Outcome::kFault;
  fault.time = clock.Now();
  fault.values.push_back(EvidenceValue{"SAT", "urn:b#SAT", 31, "degC"});
  alerts.Apply(RuleBinding{(*rules)->rules.front(), "urn:b#AHU1", {{"SAT", "urn:b#SAT"}}}, fault);
  (*service)->OnAlertChanged(AlertFingerprint("sat-high", "urn:b#AHU1"));
  (*service)->Tick();  // nobody listens on the port yet
  auto stats = (*service)->Stats().at("mail");
  EXPECT_EQ(stats.retried, 1u);
  EXPECT_NE(stats.last_error.find("127.0.0.1"), std::string::npos) << stats.last_error;
  SmtpServer server(dir_, port, true, "brickcast:hunter2-secret");
  ASSERT_TRUE(server.ready());
  clock.Advance(4'999);
  (*service)->Tick();
  EXPECT_TRUE(server.Messages().empty()) << "not before the backoff";
  clock.Advance(1);
  (*service)->Tick();
  ASSERT_EQ(server.Messages().size(), 1u);
  clock.Advance(3'600'000);
  (*service)->Tick();
  EXPECT_EQ(server.Messages().size(), 1u) << "delivered once";
  MetricWriter w;
  (*service)->Collect(w);
  EXPECT_NE(w.Text().find("brickcast_notification_retries_total{receiver=\"mail\"} 1"), std::string::npos);
  EXPECT_NE(w.Text().find("brickcast_notifications_total{receiver=\"mail\",outcome=\"delivered\"} 1"),
            std::string::npos);
}

// An HTTP server on loopback recording what it is sent.
class HttpSink {
 public:
  HttpSink() {
    server_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      // A slow receiver (its server thread takes delay_ms to answer, as a real one over a slow
      // link would): the test observes `seen` at once and the answer after the delay.
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(req);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
      res.status = status_;
      res.set_content(status_ >= 400 ? "no such route\nmore" : "ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    testing::WaitFor([this] { return server_.is_running(); }, std::chrono::seconds(10));
  }
  ~HttpSink() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::vector<httplib::Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  void set_status(int s) { status_ = s; }
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  size_t seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<httplib::Request> requests_;  // answered
  std::vector<httplib::Request> seen_;      // received, answered or not
  std::atomic<int> status_{200};
  std::atomic<int> delay_ms_{0};
};

TEST(WebhookTest, PostsTheV4BodyWithItsIdempotencyKeyAndClassifiesAnswers) {
  HttpSink sink;
  ReceiverConfig r;
  r.name = "hook";
  r.kind = "webhook";
  r.url = sink.url("/alerts");
  r.token = "bearer-secret";
  auto n = MakeNotifier(r, "");
  ASSERT_EQ((*n)->Deliver(TestNotification(true)).outcome, DeliveryOutcome::kDelivered);
  auto reqs = sink.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/alerts");
  EXPECT_EQ(reqs[0].get_header_value("Idempotency-Key"), "key-0001");
  EXPECT_EQ(reqs[0].get_header_value("Authorization"), "Bearer bearer-secret");
  EXPECT_EQ(reqs[0].get_header_value("Content-Type"), "application/json");
  Json body = Json::parse(reqs[0].body);
  // Every field of Alertmanager's webhook v4 payload, as receivers parse it.
  for (const char* f : {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
                        "commonAnnotations", "externalURL", "alerts"})
    EXPECT_TRUE(body.contains(f)) << f;
  EXPECT_EQ(body["alerts"][0]["labels"]["alertname"], "g36-fc11");
  EXPECT_EQ(body["alerts"][0]["startsAt"], FormatIsoUtc(1'790'000'000'000));
  sink.set_status(503);
  EXPECT_EQ((*n)->Deliver(TestNotification(true)).outcome, DeliveryOutcome::kRetryable);
  sink.set_status(404);
  DeliveryResult bad = (*n)->Deliver(TestNotification(true));
  EXPECT_EQ(bad.outcome, DeliveryOutcome::kPermanent);
  EXPECT_NE(bad.reason.find("HTTP 404: no such route"), std::string::npos) << bad.reason;
  EXPECT_EQ(bad.reason.find("bearer-secret"), std::string::npos);
}

TEST(SmsTest, TwilioFormAndJsonTemplate) {
  HttpSink sink;
  ReceiverConfig r;
  r.name = "sms";
  r.kind = "sms";
  r.url = sink.url("/2010-04-01/Accounts/AC123/Messages.json");
  r.account = "AC123";
  r.token = "twilio-secret";
  r.from = "+15550000";
  r.to = {"+15551111"};
  auto n = MakeNotifier(r, "");
  ASSERT_EQ((*n)->Targets(), std::vector<std::string>{"+15551111"});
  Notification note = TestNotification(true);
  note.target = "+15551111";
  ASSERT_EQ((*n)->Deliver(note).outcome, DeliveryOutcome::kDelivered);
  auto reqs = sink.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].get_header_value("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0].get_param_value("To"), "+15551111");
  EXPECT_EQ(reqs[0].get_param_value("From"), "+15550000");
  const std::string text = reqs[0].get_param_value("Body");
  EXPECT_EQ(text.rfind("[FIRING:1] g36-fc11 on AHU-1 critical:", 0), 0u) << text;
  EXPECT_NE(text.find("http://127.0.0.1:8080/#/alerts/4112cfe7520738e6"), std::string::npos) << text;
  EXPECT_LE(text.size(), 160u);
  Notification wordy = note;
  wordy.alerts[0].summary = std::string(200, 'x');
  ASSERT_EQ((*n)->Deliver(wordy).outcome, DeliveryOutcome::kDelivered);
  const std::string cut = sink.requests()[1].get_param_value("Body");
  // 160 septets: '[' and ']' take two each in GSM-7, so 158 characters.
  EXPECT_EQ(cut.size(), 158u);
  EXPECT_EQ(cut.substr(cut.size() - 14), "...(truncated)") << "said so";
  EXPECT_EQ(reqs[0].get_header_value("Authorization").rfind("Basic ", 0), 0u);
  r.sms_format = "json";
  r.sms_json_template = R"({"msisdn": "{{to}}", "message": "{{text}}", "ref": "{{key}}"})";
  r.token = "gw-token";
  auto j = MakeNotifier(r, "");
  ASSERT_EQ((*j)->Deliver(note).outcome, DeliveryOutcome::kDelivered);
  Json body = Json::parse(sink.requests()[2].body);
  EXPECT_EQ(body["msisdn"], "+15551111");
  EXPECT_EQ(body["ref"], "key-0001");
  EXPECT_EQ(body["message"].get<std::string>().rfind("[FIRING:1]", 0), 0u);
  EXPECT_EQ(sink.requests()[2].get_header_value("Authorization"), "Bearer gw-token");
}

// A real Prometheus Alertmanager receives the pushed alerts; read back through its v2 API.
TEST(AlertmanagerTest, PushedAlertsFireAndResolveInARealAlertmanager) {
  const char* binary = "/usr/bin/prometheus-alertmanager";
  ASSERT_TRUE(std::filesystem::exists(binary)) << "prometheus-alertmanager is missing: run scripts/install-deps.sh";
  TempDir dir;
  const std::string config = dir.File("am.yml", "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n");
  const int port = FreePort();
  Child am({binary, "--config.file=" + config, "--storage.path=" + dir.path() + "/data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="},
           dir.path() + "/am.log");
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(WaitFor([&] {
    auto r = client.Get("/-/ready");
    return r && r->status == 200;
  }, std::chrono::seconds(30)));
  ReceiverConfig r;
  r.name = "am";
  r.kind = "alertmanager";
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto n = MakeNotifier(r, "");
  ASSERT_TRUE(n.ok());
  Notification firing = TestNotification(true);
  firing.alerts[0].starts_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count() - 60'000;
  DeliveryResult res = (*n)->Deliver(firing);
  ASSERT_EQ(res.outcome, DeliveryOutcome::kDelivered) << res.reason;
  Json alerts;
  ASSERT_TRUE(WaitFor([&] {
    auto got = client.Get("/api/v2/alerts");
    if (!got || got->status != 200) return false;
    alerts = Json::parse(got->body);
    return alerts.size() == 1;
  }, std::chrono::seconds(10)));
  EXPECT_EQ(alerts[0]["labels"]["alertname"], "g36-fc11");
  EXPECT_EQ(alerts[0]["labels"]["equipment"], "AHU-1");
  EXPECT_EQ(alerts[0]["labels"]["severity"], "critical");
  EXPECT_EQ(alerts[0]["status"]["state"], "active");
  EXPECT_EQ(alerts[0]["annotations"]["action"], "Check the economizer changeover settings.");
  EXPECT_EQ(alerts[0]["generatorURL"], "http://127.0.0.1:8080/#/alerts/4112cfe7520738e6");
  // Resolved: endsAt in the past, so Alertmanager no longer lists it as active.
  Notification resolved = firing;
  resolved.alerts[0].firing = false;
  resolved.alerts[0].ends_at = firing.alerts[0].starts_at + 30'000;
  ASSERT_EQ((*n)->Deliver(resolved).outcome, DeliveryOutcome::kDelivered);
  EXPECT_TRUE(WaitFor([&] {
    auto got = client.Get("/api/v2/alerts?active=true");
    return got && got->status == 200 && Json::parse(got->body).empty();
  }, std::chrono::seconds(10)));
}

// kill -9 of the daemon while it delivers, several times, then a last start: every notification
// the outbox took is delivered, and a receiver that deduplicates by Idempotency-Key sees each once.
TEST(NotifyCrashTest, KillNineDuringDeliveryLosesNothing) {
  HttpSink sink;
  sink.set_delay_ms(300);
  TempDir dir;
  std::string model = "@prefix b: <urn:b#> .\n";
  constexpr int kIterations = 5, kPerIteration = 3;
  for (int i = 0; i < kIterations * kPerIteration; ++i) {
    const std::string n = std::to_string(i);
    model += "b:AHU" + n + " a brick:AHU ; brick:hasPoint b:SAT" + n + " .\nb:SAT" + n +
             " a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .\n";
  }
  dir.File("model.ttl", model);
  dir.File("rules/sat.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "30 degC",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])");
  const int port = FreePort();
  const std::string config = dir.File("c.json", R"({"brick": {"models": ["model.ttl"]}, "rules": ["rules"],
      "alerts": {"database": "state/alerts.db"}, "forecast": {"model": "none"},
      "http": {"listen": "127.0.0.1:)" + std::to_string(port) + R"("}, "log": {"level": "info"},
      "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": ")" + sink.url("/in") + R"("}],
                 "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s"}}})");
  httplib::Client c("127.0.0.1", port);
  auto start = [&](int n) {
    auto child = std::make_unique<Child>(std::vector<std::string>{BRICKCAST_BINARY, "serve", "--config", config},
                                         dir.path() + "/serve" + std::to_string(n) + ".log");
    EXPECT_TRUE(WaitFor([&] {
      auto r = c.Get("/healthz");
      return r && r->status == 200;
    }, std::chrono::seconds(30)));
    return child;
  };
  for (int it = 0; it < kIterations; ++it) {
    auto daemon = start(it);
    const size_t before = sink.seen();
    std::string body = R"({"observations": [)";
    for (int k = 0; k < kPerIteration; ++k) {
      const std::string n = std::to_string(it * kPerIteration + k);
      body += std::string(k ? "," : "") + R"({"point": "SAT)" + n + R"(", "time": "2026-11-22T10:01:00Z", "value": 35},)" +
              R"({"point": "SAT)" + n + R"(", "time": "2026-11-22T10:06:00Z", "value": 36})";
    }
    auto post = c.Post("/api/v1/observations", body + "]}", "application/json");
    ASSERT_TRUE(post);
    ASSERT_EQ(post->status, 200) << post->body;
    // Killed while the receiver is busy with a notification (its answer takes 300 ms): the first
    // one of the batch, or on odd iterations the second, so the kill lands at different points.
    const size_t busy_with = before + 1 + static_cast<size_t>(it % 2);
    ASSERT_TRUE(WaitFor([&] { return sink.seen() >= busy_with; }, std::chrono::seconds(30))) << "iteration " << it;
    daemon->Kill();
  }
  auto last = start(kIterations);
  Json receivers;
  ASSERT_TRUE(WaitFor([&] {
    auto r = c.Get("/api/v1/receivers");
    if (!r || r->status != 200) return false;
    receivers = Json::parse(r->body);
    return receivers["receivers"][0]["pending"] == 0;
  }, std::chrono::seconds(60))) << receivers.dump();
  ASSERT_TRUE(WaitFor([&] { return sink.requests().size() >= sink.seen(); }, std::chrono::seconds(10)));
  // Every notification in the outbox was delivered, each alert was told, and by key once.
  std::set<std::string> outbox_keys;
  for (const Json& e : receivers["recent"]) {
    EXPECT_EQ(e["state"], "delivered") << e.dump();
    outbox_keys.insert(e["key"]);
  }
  std::set<std::string> received_keys, told;
  size_t duplicates = 0;
  for (const auto& req : sink.requests()) {
    if (!received_keys.insert(req.get_header_value("Idempotency-Key")).second) ++duplicates;
    const Json body = Json::parse(req.body);
    for (const Json& a : body["alerts"]) told.insert(a["fingerprint"].get<std::string>());
  }
  EXPECT_EQ(received_keys, outbox_keys);
  // Every alert the daemon holds reached the receiver. (Observations posted over HTTP live in
  // memory until evaluated: a kill can take a batch's last ones with it before their alert fires.)
  auto listed = c.Get("/api/v1/alerts?state=all&limit=100");
  ASSERT_TRUE(listed);
  std::set<std::string> fired;
  const Json listed_json = Json::parse(listed->body);
  ASSERT_TRUE(listed_json.contains("alerts")) << listed->body;
  for (const Json& a : listed_json["alerts"]) fired.insert(a["id"].get<std::string>());
  EXPECT_GE(fired.size(), static_cast<size_t>(kIterations * (kPerIteration - 1)));
  for (const std::string& id : fired) EXPECT_TRUE(told.count(id)) << "alert " << id << " was never notified";
  EXPECT_LE(duplicates, static_cast<size_t>(kIterations)) << "at most the one in flight at each kill, same key";
  std::cout << "kill -9 x" << kIterations << ": " << fired.size() << " alerts, " << outbox_keys.size()
            << " notifications, " << duplicates
            << " re-sent with the same key after a kill\n";
  (void)last;
}

// The daemon's receiver endpoints over real sockets.
class ReceiverApiTest : public testing::DaemonFixture {};

// Stopping right after data arrived: the rules still evaluate it, the alert is persisted, and its
// notification reaches a slow receiver before Stop returns, well within the shutdown grace.
TEST_F(ReceiverApiTest, ShutdownEvaluatesPersistsAndDeliversInOrder) {
  HttpSink sink;
  sink.set_delay_ms(1'000);
  dir_.File("model.ttl", R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)");
  dir_.File("rules/r.json", R"([{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": "30 degC",
      "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])");
  StartDaemonWithConfig(R"({"brick": {"models": ["model.ttl"]}, "rules": ["rules"], "forecast": {"model": "none"},
      "store": {"step_seconds": 60, "window_steps": 60}, "shutdown_grace_seconds": 6,
      "alerts": {"database": "alerts.db"}, "http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"},
      "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": ")" + sink.url("/in") + R"("}],
                 "route": {"receiver": "hook", "group_wait": "0s"}}})");
  auto post = client_->Post("/api/v1/observations", R"({"observations": [
      {"point": "SAT", "time": "2026-11-22T10:01:00Z", "value": 35},
      {"point": "SAT", "time": "2026-11-22T10:02:00Z", "value": 36}]})", "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  const auto t0 = std::chrono::steady_clock::now();
  daemon_->Stop();
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(stop_s, 6.0) << "within shutdown_grace_seconds";
  ASSERT_EQ(sink.requests().size(), 1u) << "the slow receiver got the notification before the stop ended";
  EXPECT_EQ(Json::parse(sink.requests()[0].body)["alerts"][0]["labels"]["alertname"], "sat-high");
  daemon_.reset();
  // The alert and the delivered notification are in the state database.
  auto store = OpenSqliteAlertStore(dir_.path() + "/alerts.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto saved = (*store)->LoadAlerts();
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].state, AlertState::kFiring);
  auto outbox = (*store)->outbox().Recent(10);
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ((*outbox)[0].state, OutboxState::kDelivered);
}

TEST_F(ReceiverApiTest, TestEndpointSendsNowAndListsReceivers) {
  HttpSink sink;
  StartDaemonWithConfig(R"({"http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"},
      "alerts": {"database": ""},
      "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": ")" + sink.url("/in") + R"("},
                               {"name": "dead", "kind": "webhook", "url": "http://127.0.0.1:1/in", "timeout": "2s"}],
                 "route": {"receiver": "hook"}}})");
  auto res = client_->Post("/api/v1/receivers/hook/test", "", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Json::parse(res->body)["outcome"], "delivered");
  ASSERT_EQ(sink.requests().size(), 1u);
  Json body = Json::parse(sink.requests()[0].body);
  EXPECT_EQ(body["alerts"][0]["labels"]["alertname"], "brickcast_test");
  auto dead = client_->Post("/api/v1/receivers/dead/test", "", "application/json");
  ASSERT_TRUE(dead);
  Json d = Json::parse(dead->body);
  EXPECT_EQ(d["outcome"], "retryable");
  EXPECT_NE(d["reason"].get<std::string>().find("127.0.0.1:1"), std::string::npos) << d.dump();
  auto missing = client_->Post("/api/v1/receivers/nobody/test", "", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto list = client_->Get("/api/v1/receivers");
  ASSERT_TRUE(list);
  Json l = Json::parse(list->body);
  ASSERT_EQ(l["receivers"].size(), 2u);
  EXPECT_EQ(l["receivers"][0]["name"], "hook");
  auto metrics = client_->Get("/metrics");
  EXPECT_NE(metrics->body.find("brickcast_outbox_pending{receiver=\"hook\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace brickcast
