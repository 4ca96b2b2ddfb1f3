// Notifications: from alert transitions to messages people receive, after Alertmanager's pipeline.
//
//   AlertChanged ──> RouteTree (matchers, continue) ──> Grouper (group_by, group_wait,
//   group_interval, repeat_interval; silenced, muted, inhibited and acked alerts left out)
//   ──> Outbox (SQLite, with the group's log, one transaction) ──> one Dispatcher thread per
//   receiver (rate limit, retries with capped exponential backoff and jitter, a deadline)
//   ──> Notifier (email, sms, webhook, alertmanager, plugin): renders and delivers once.
//
// Notifiers never retry: they answer delivered, retryable or permanent and the dispatcher decides.
// Every notification carries an idempotency key (the webhook's Idempotency-Key header, the email's
// Message-ID) that stays the same across retries and restarts: delivery is at least once, and
// a receiver that deduplicates by key sees it once.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "brickcast/clock.h"
#include "brickcast/config.h"
#include "brickcast/events.h"
#include "brickcast/metrics.h"
#include "brickcast/outbox.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

class AlertManager;
struct Alert;

// An alert as a notification shows it.
struct NotifyAlert {
  std::string id;  // fingerprint
  std::string rule, equipment, equipment_class, severity, kind, site;  // equipment: IRI
  bool predicted = false;
  bool firing = true;  // false: resolved
  UnixMillis starts_at = 0, ends_at = 0, crossing_time = 0;
  std::string summary, action, evidence;  // evidence: JSON text

  static NotifyAlert From(const Alert& alert, const std::string& site);
  // Routing and grouping labels: alertname (= rule), rule, equipment (local name), equipment_iri,
  // class, severity, kind, site, predicted ("true"/"false").
  std::map<std::string, std::string> Labels() const;
};

struct Notification {
  std::string key;       // idempotency key
  std::string receiver;  // receiver name
  std::string target;    // the one recipient of a fanned-out receiver (an SMS number), else ""
  std::string group_key;
  std::map<std::string, std::string> group_labels;
  std::vector<NotifyAlert> alerts;  // firing first
  std::string external_url;         // base of links ("http://host:8080")
  UnixMillis created = 0;           // wall time
  bool test = false;                // sent by POST /api/v1/receivers/{name}/test

  bool Firing() const;  // any alert firing
  size_t FiringCount() const;
  std::string AlertLink(const NotifyAlert& a) const;  // the alert's page on the dashboard
  std::string ToJson() const;
  static StatusOr<Notification> FromJson(const std::string& text);
};

enum class DeliveryOutcome { kDelivered, kRetryable, kPermanent };
const char* DeliveryOutcomeName(DeliveryOutcome o);  // "delivered", "retryable", "permanent"

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
  std::string reason;  // why it was not delivered; never contains a secret
  static DeliveryResult Delivered() { return {}; }
  static DeliveryResult Retryable(std::string why) { return {DeliveryOutcome::kRetryable, std::move(why)}; }
  static DeliveryResult Permanent(std::string why) { return {DeliveryOutcome::kPermanent, std::move(why)}; }
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The recipients a notification fans out to, one outbox entry each ({""}: one entry).
  virtual std::vector<std::string> Targets() const { return {""}; }
  // Sends `n` once (to n.target when the notifier fans out). Never retries, never throws.
  virtual DeliveryResult Deliver(const Notification& n) = 0;
};

// Builds the notifier of a receiver; plugins are loaded from `plugin_dir`. A plugin that cannot be
// loaded (missing symbol, ABI mismatch, failing init) is an error for that receiver only.
StatusOr<std::unique_ptr<Notifier>> MakeNotifier(const ReceiverConfig& receiver, const std::string& plugin_dir);

struct ReceiverStats {
  uint64_t delivered = 0, retried = 0, failed = 0, rate_limited = 0;
  std::string last_error;
  UnixMillis last_attempt = 0;
};

// What a notification told of one alert: which episode (its start), firing or resolved.
struct ToldAlert {
  std::string id;  // fingerprint
  bool firing = true;
  UnixMillis starts_at = 0;
};

struct NotificationServiceOptions {
  const Clock* clock = &Clock::Real();
  std::string site;
  // Notifiers by receiver name, for tests; receivers not listed here are built with MakeNotifier.
  std::map<std::string, std::shared_ptr<Notifier>> notifiers;
  // Added to the exponential backoff, as a fraction of it drawn at random in [0, jitter).
  double jitter = 0.5;
  // Called on the grouping thread once notifications are in the outbox and before any of them is
  // delivered, with each alert they hold (an alert may appear twice: an earlier episode's resolve
  // and its next firing). The scale-out changelog records it here, so that an instance taking an
  // alert over knows what receivers were told. May block briefly.
  std::function<void(const std::vector<ToldAlert>&)> on_told;
};

// Owns routing, grouping and the dispatchers. Without Start() nothing runs on its own: Tick() does
// one round of grouping and delivery at the clock's time (tests with an injected clock).
class NotificationService {
 public:
  // `alerts` gives the alerts' current state (quiet or not) and holds the outbox; it must outlive
  // the service.
  static StatusOr<std::unique_ptr<NotificationService>> Create(const NotifyConfig& config, AlertManager* alerts,
                                                               NotificationServiceOptions options);
  ~NotificationService();  // Stop()s
  NotificationService(const NotificationService&) = delete;
  NotificationService& operator=(const NotificationService&) = delete;

  // Rebuilds the groups from the alert state and the outbox's group log (after a restart nothing
  // owed is forgotten), then starts the grouping thread and one dispatcher thread per receiver.
  Status Start();
  // Flushes due groups one last time and gives deliveries in flight until `deadline_ms` to end.
  void Stop(int64_t deadline_ms = 5'000);

  // An alert changed state (the daemon calls this from its AlertChanged subscription). The
  // service runs behind the rules: by the time it reads the alert, the alert may have resolved and
  // fired again. The transition says which episode it is about, so each episode's firing and
  // resolve are told, never collapsed into "still firing".
  void OnAlertChanged(const AlertChanged& change);
  // The alert's current state, as a transition to it would (tests, and callers without the event).
  void OnAlertChanged(const std::string& alert_id);
  // Scale-out: alerts taken over from another instance, with what their receivers were last told
  // ("firing", "resolved" or "" for nothing of this episode): a firing alert already told joins
  // its groups as told (no second announcement; its resolve is news); one not told yet, or a
  // resolve not told yet, is announced as any change would be.
  void Adopt(const std::vector<std::pair<std::string, std::string>>& alerts_told);
  // Scale-out: alerts handed to another instance leave their groups without a notification.
  void Release(const std::vector<std::string>& alert_ids);
  // One round at the clock's time: flush due groups into the outbox, deliver what is due.
  void Tick();
  // Sends a test notification to `receiver` now, outside the outbox and its rate limit.
  StatusOr<DeliveryResult> SendTest(const std::string& receiver);

  std::vector<std::string> ReceiverNames() const;
  std::map<std::string, ReceiverStats> Stats() const;
  void Collect(MetricWriter& writer) const;

 private:
  struct Impl;
  explicit NotificationService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brickcast
