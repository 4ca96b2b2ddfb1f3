// Alerts: the lifecycle of one (rule, equipment) pair, and what people do with alerts.
//
//   ConditionResult ──AlertManager::Apply──> state machine ──> AlertStore (SQLite: state + history)
//                                                         └──> EventBus: AlertChanged
//
// States: inactive -> pending (the condition holds, for `for`) -> firing -> resolved (the
// condition has been clear for `clear_for`); no_data when an input has no data (not a resolve:
// a firing alert whose sensor went silent says so, and fires again, with its old start, when the
// data returns and the condition still holds). A resolved alert that faults again starts a new
// episode under the same fingerprint. Lifecycle times are data times (the step evaluated), so a
// replay at any speed gives the same alerts; acks, silences and mute windows use the injected
// clock.
//
// On top of the state, read-time annotations: silenced (a silence's matchers match), muted (a
// recurring mute window is open), inhibited (an upstream AHU alert or a sensor-health alert on a
// point the rule reads). Annotated alerts stay visible with the reason. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "brickcast/brick_model.h"
#include "brickcast/clock.h"
#include "brickcast/events.h"
#include "brickcast/metrics.h"
#include "brickcast/outbox.h"
#include "brickcast/rules.h"
#include "brickcast/snapshot.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

enum class AlertState { kInactive, kPending, kFiring, kResolved, kNoData };
const char* AlertStateName(AlertState s);  // "inactive", "pending", "firing", "resolved", "no_data"
std::optional<AlertState> ParseAlertState(const std::string& name);

// Stable id of a (rule, equipment) pair: 16 hex digits of SHA-256("<rule>\n<equipment IRI>").
std::string AlertFingerprint(const std::string& rule_id, const std::string& equipment);

struct Alert {
  std::string id;  // the fingerprint
  std::string rule;
  std::string equipment;        // IRI
  std::string equipment_class;  // local name
  RuleKind kind = RuleKind::kThreshold;
  Severity severity = Severity::kWarning;
  std::vector<std::string> points;  // the points the rule reads here
  AlertState state = AlertState::kInactive;
  bool predicted = false;
  UnixMillis pending_since = 0;  // data time the condition started to hold
  UnixMillis starts_at = 0;      // data time it fired (kept through no_data)
  UnixMillis ends_at = 0;        // data time it resolved
  UnixMillis normal_since = 0;   // firing but clear since (clear_for running); 0 otherwise
  UnixMillis last_evaluated = 0;
  UnixMillis crossing_time = 0;  // predicted: expected crossing
  UnixMillis realised_at = 0;    // predicted: when the measured value crossed (lead = this - starts_at)
  bool was_firing = false;       // in no_data: whether it was firing before
  std::string summary;
  std::string action;
  std::string evidence;  // JSON of the evaluation behind the last transition
  std::string acked_by, ack_comment;
  UnixMillis acked_at = 0;  // wall time; cleared when the state changes
  uint64_t transitions = 0;
};

struct AlertTransition {
  int64_t seq = 0;
  std::string alert;
  AlertState from = AlertState::kInactive, to = AlertState::kInactive;
  UnixMillis data_time = 0;
  UnixMillis wall_time = 0;
  std::string summary;
  std::string evidence;  // JSON
};

// Label matchers of silences and mute windows: every given label must equal the alert's
// (equipment matches its IRI or local name, class its equipment class, predicted "true"/"false").
struct AlertMatchers {
  std::map<std::string, std::string> labels;  // rule, equipment, class, severity, kind, predicted
  bool Matches(const Alert& a) const;
  static const std::vector<std::string>& Names();
};

struct Silence {
  std::string id;
  AlertMatchers matchers;
  UnixMillis starts_at = 0, ends_at = 0;  // wall time; ends_at is mandatory
  std::string author, comment;
  UnixMillis created_at = 0;
  bool expired = false;  // ended early by DELETE
  bool ActiveAt(UnixMillis now) const { return !expired && now >= starts_at && now < ends_at; }
};

// A recurring window (site time zone, DST-aware): on the given weekdays from `start` to `end`
// (minutes after local midnight; end < start spans midnight).
struct MuteWindow {
  std::string name;
  std::vector<int> weekdays;  // 0 = Sunday ... 6 = Saturday; empty = every day
  int start_minute = 0, end_minute = 0;
  AlertMatchers matchers;
  bool OpenAt(UnixMillis now, const TimeZone& zone) const;
};

// An alert's whole state as JSON text and back (the alert database, the scale-out changelog).
std::string EncodeAlert(const Alert& alert);
StatusOr<Alert> DecodeAlert(std::string_view text);

// Persistence of alert state, history and silences. Implementations are thread-compatible; the
// AlertManager serialises calls.
// One mutating API call (who, what, when), kept in the state database: GET /api/v1/audit.
struct AuditEntry {
  int64_t seq = 0;      // assigned by the store
  UnixMillis time = 0;  // wall time
  std::string who;      // the token's name; "" on an open API or when the call was refused
  std::string remote;   // client address
  std::string method, path;
  int status = 0;
  std::string detail;   // the request body when small, else its size
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;
  virtual Status SaveAlert(const Alert& alert) = 0;
  // Saves the alert as the transition left it and appends the transition (assigning its seq),
  // atomically: after a crash the alert's state and its history agree.
  virtual Status RecordTransition(const Alert& alert, AlertTransition* transition) = 0;
  virtual StatusOr<std::vector<Alert>> LoadAlerts() = 0;
  virtual StatusOr<std::vector<AlertTransition>> History(const std::string& alert, size_t limit) = 0;
  virtual Status SaveSilence(const Silence& silence) = 0;
  virtual StatusOr<std::vector<Silence>> LoadSilences() = 0;
  // Deletes history older than `before` and beyond the newest `keep` rows, and silences that
  // ended before `before`.
  virtual Status Prune(UnixMillis before, size_t keep) = 0;
  virtual Status AppendAudit(AuditEntry* entry) = 0;  // assigns seq
  // Newest first, entries with seq < before (0: from the newest).
  virtual StatusOr<std::vector<AuditEntry>> Audit(size_t limit, int64_t before) = 0;
  // The notification outbox, in the same database; lives as long as the store.
  virtual Outbox& outbox() = 0;
};

// SQLite in WAL mode with a versioned schema; a corrupt or locked file is an error, never reset.
StatusOr<std::unique_ptr<AlertStore>> OpenSqliteAlertStore(const std::string& path);
// In memory (tests, and `alerts.database: ""`).
std::unique_ptr<AlertStore> NewMemoryAlertStore();

// Pending, firing or no_data: the alert needs every evaluation (with its evidence).
inline bool IsActive(AlertState s) {
  return s == AlertState::kPending || s == AlertState::kFiring || s == AlertState::kNoData;
}

struct AlertManagerOptions {
  const Clock* clock = &Clock::Real();
  EventBus* events = nullptr;  // AlertChanged is published here
  TimeZone zone = TimeZone::Utc();
  std::vector<MuteWindow> mute_windows;
  int64_t retention_ms = 30LL * 86'400'000;  // history kept by wall time
  size_t retention_rows = 100'000;
  // Restore() loads the saved alerts (false: only silences; with several instances the alert
  // state comes from the changelog of the partitions an instance is assigned, see Adopt).
  bool restore_alerts = true;
};

// An alert as the API shows it: state plus why it is quiet, if it is.
struct AlertView {
  Alert alert;
  std::vector<std::string> silenced_by;  // silence ids
  std::string muted_by;                  // mute window name
  std::vector<std::string> inhibited_by;  // alert ids
  bool quiet() const { return !silenced_by.empty() || !muted_by.empty() || !inhibited_by.empty(); }
};

struct AlertFilter {
  std::optional<AlertState> state;
  std::optional<Severity> severity;
  std::string equipment;  // IRI or local name
  std::string rule;
  std::optional<bool> predicted;
  bool include_inactive = false;  // inactive alerts (never fired or back to normal) are hidden by default
};

struct AlertCounters {
  std::map<std::pair<AlertState, Severity>, uint64_t> by_state;
  uint64_t transitions = 0, store_errors = 0;
  std::string store_error;  // why the last write to the store failed; "" when it succeeded
};

class AlertManager {
 public:
  AlertManager(std::unique_ptr<AlertStore> store, AlertManagerOptions options);
  ~AlertManager();
  AlertManager(const AlertManager&) = delete;
  AlertManager& operator=(const AlertManager&) = delete;

  // Loads saved alerts and silences (firing alerts stay firing with their start).
  Status Restore();
  // Scale-out: alerts taken over from the instance that owned their partition. Each replaces the
  // local one unless that has judged a later data time; returns the alerts taken (with their
  // state as adopted). Saved, not recorded as transitions (they were recorded where they happened).
  std::vector<Alert> Adopt(std::vector<Alert> alerts);
  // Scale-out: alerts whose partition went to another instance leave this one (its API no longer
  // lists them; the history stays). Returns the ids that were here.
  std::vector<std::string> Release(const std::vector<std::string>& ids);

  // The Brick model used for inhibition along `feeds`.
  void SetModel(std::shared_ptr<const BrickModel> model);

  // Applies one evaluation of `binding`; records and publishes any transition. Returns the alert's
  // state afterwards.
  AlertState Apply(const RuleBinding& binding, const ConditionResult& result);

  std::vector<AlertView> List(const AlertFilter& filter) const;
  std::optional<AlertView> Get(const std::string& id) const;
  std::optional<AlertState> StateOf(const std::string& id) const;  // cheap: no annotations
  std::vector<AlertTransition> History(const std::string& id, size_t limit) const;
  // The audit log lives in the same database (one file of state to back up).
  Status RecordAudit(AuditEntry entry);
  // The notification outbox of the state database (thread-safe on its own).
  Outbox& outbox();
  StatusOr<std::vector<AuditEntry>> Audit(size_t limit, int64_t before) const;

  // Acknowledges until the next state change. NotFound for an unknown id; FailedPrecondition
  // when the alert is inactive or resolved.
  Status Ack(const std::string& id, const std::string& who, const std::string& comment);
  // Validates (ends_at after starts_at and in the future, author, at least one matcher), assigns
  // the id, stores it.
  StatusOr<Silence> AddSilence(Silence silence);
  Status ExpireSilence(const std::string& id);
  std::vector<Silence> Silences(bool include_expired) const;

  AlertCounters Counters() const;
  // Deletes history and silences past the retention (the daemon calls this now and then).
  void Prune();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

void CollectAlertMetrics(const AlertManager& alerts, MetricWriter& writer);

}  // namespace brickcast
