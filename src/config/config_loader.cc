// Config schema tables (one per section) and the mapping from validated JSON to Config.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "brickcast/config.h"
#include "brickcast/sha256.h"
#include "brickcast/units.h"
#include "brickcast/template_text.h"
#include "config/schema.h"

namespace brickcast {
namespace {

using config::AtLeast;
using config::Between;
using config::Field;
using config::FieldType;
using config::Json;
using config::OneOf;
using config::Schema;

std::string CheckTimeZone(const Json& v) {
  auto z = TimeZone::Load(v.get<std::string>());
  return z.ok() ? "" : z.status().message();
}

std::string CheckFormat(const Json& v) {
  auto f = ParseStreamFormat(v.get<std::string>());
  return f.ok() ? "" : f.status().message();
}

std::string CheckDuration(const Json& v) {
  auto d = ParseDurationMs(v.get<std::string>());
  if (!d.ok()) return d.status().message();
  return *d < 0 ? "must not be negative" : "";
}

std::string CheckTemplateText(const Json& v) { return CheckTemplate(v.get<std::string>(), NotifyTemplateVariables()); }

std::string CheckUnit(const Json& v) {
  const std::string u = v.get<std::string>();
  return u.empty() || FindUnit(u) != nullptr ? "" : "unknown unit '" + u + "'";
}

// The schema's defaults are the typed structs' (config.h), so the two cannot drift.
const char* const kWeekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string CheckWeekdays(const Json& v) {
  for (const auto& d : v) {
    if (std::find(std::begin(kWeekdays), std::end(kWeekdays), d.get<std::string>()) == std::end(kWeekdays))
      return "'" + d.get<std::string>() + "' is not one of sun, mon, tue, wed, thu, fri, sat";
  }
  return "";
}

// "HH:MM" -> minutes after midnight, or -1.
int ParseClockTime(const std::string& s) {
  int h = 0, m = 0;
  char colon = 0;
  std::istringstream in(s);
  if (!(in >> h >> colon >> m) || colon != ':' || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) ||
      !in.eof())
    return -1;
  return h * 60 + m;
}

std::string CheckClockTime(const Json& v) { return ParseClockTime(v.get<std::string>()) < 0 ? "expected HH:MM" : ""; }

const Schema& RootSchema() {
  static const Config kDefaults;
  static const Schema* const kSite = new Schema{{
      {"name", FieldType::kString, kDefaults.site.name, "Site name shown in the API and alerts."},
      {"timezone", FieldType::kString, kDefaults.site.timezone,
       "Time zone for timestamps without one: UTC, +hh:mm, or an IANA name (America/Los_Angeles).", nullptr,
       false, false, CheckTimeZone},
  }};
  static const Schema* const kBrick = new Schema{{
      {"models", FieldType::kStringList, Json::array(), "Brick model files (Turtle), loaded at start and on reload."},
      {"ontology", FieldType::kString, "",
       "Optional Brick ontology file (e.g. Brick_v1.3.0_ontology.ttl) extending the built-in class table."},
      {"prefixes", FieldType::kStringMap, Json::object(),
       "Default prefixes for stream messages that use prefixes without declaring them (name -> IRI)."},
  }};
  static const Schema* const kColumn = new Schema{{
      {"point", FieldType::kString, Json(), "Point IRI this column's values belong to.", nullptr, false, true},
      {"unit", FieldType::kString, "", "QUDT unit of the column (DEG_F, PERCENT, ...).", nullptr, false, false,
       CheckUnit},
  }, "point"};
  static const Schema* const kWide = new Schema{{
      {"time_property", FieldType::kString, std::string(kBrickNs) + "timestamp",
       "Predicate holding the row time (full IRI), e.g. rdfs:label's IRI for '2017-09-11_00:05:00' rows."},
      {"time_format", FieldType::kString, "%Y-%m-%d_%H:%M:%S",
       "strptime-like format for non-ISO row times (%Y %m %d %H %M %S %b %f)."},
      {"point_base", FieldType::kString, "",
       "Point IRI prefix for unmapped column predicates (point = base + local name); empty: the predicate IRI."},
      {"columns", FieldType::kObjectMap, Json::object(),
       "Column predicate (IRI or local name) -> {point, unit} or a point IRI.", kColumn},
  }};
  static const Schema* const kIngest = new Schema{{
      {"format", FieldType::kString, "auto", "Stream format: auto, lkv, sosa or wide.", nullptr, false, false,
       CheckFormat},
      {"max_message_bytes", FieldType::kInteger, kDefaults.ingest.max_message_bytes, "Messages larger than this are rejected (too_large).",
       nullptr, false, false, Between(64, 256 << 20)},
      {"unknown_points", FieldType::kString, "accept",
       "accept: streams may add points on the fly; reject: observations of points not in the model are rejected.",
       nullptr, false, false, OneOf({"accept", "reject"})},
      {"dead_letter_file", FieldType::kString, "",
       "JSONL file receiving rejected messages (reason, source, first 4 KiB); empty: count and log only."},
      {"wide_row", FieldType::kObject, Json(), "Wide-row format settings.", kWide},
  }};
  static const Schema* const kReplay = new Schema{{
      {"files", FieldType::kStringList, Json::array(),
       "Message files replayed at start (TTL, messages separated by '# brickcast:message'); '-' is stdin."},
      {"speed", FieldType::kNumber, kDefaults.replay.speed, "0: as fast as possible; N: N x real time (by message timestamps).",
       nullptr, false, false, AtLeast(0)},
      {"loop", FieldType::kBoolean, kDefaults.replay.loop, "Start again at the end of the files."},
      {"target", FieldType::kString, "ingest",
       "ingest: feed the daemon directly; kafka: publish to kafka.topics[0] (keyed by equipment), as a producer would.",
       nullptr, false, false, OneOf({"ingest", "kafka"})},
  }};
  static const Schema* const kEmbedded = new Schema{{
      {"partitions", FieldType::kInteger, kDefaults.kafka.embedded_partitions, "Partitions of each topic the embedded broker creates.", nullptr,
       false, false, Between(1, 1024)},
      {"brokers", FieldType::kInteger, kDefaults.kafka.embedded_brokers, "Brokers in the embedded cluster.", nullptr, false, false, Between(1, 16)},
      {"address_file", FieldType::kString, "", "File receiving the embedded broker's bootstrap address."},
  }};
  static const Schema* const kKafka = new Schema{{
      {"brokers", FieldType::kString, "",
       "Bootstrap servers (host:port,...); \"embedded\" starts an in-process broker on loopback; empty: no Kafka."},
      {"topics", FieldType::kStringList, kDefaults.kafka.topics,
       "Topics to consume; a name starting with ^ is a regex."},
      {"group_id", FieldType::kString, kDefaults.kafka.group_id, "Consumer group; instances in one group share the partitions."},
      {"dead_letter_topic", FieldType::kString, "", "Topic for rejected messages; empty: ingest.dead_letter_file."},
      {"alerts_topic", FieldType::kString, "",
       "Publish each alert firing or resolving here (Alertmanager webhook v4 alert JSON, keyed by fingerprint); "
       "empty: none."},
      {"alert_changelog_topic", FieldType::kString, "",
       "Scale-out: alert state follows the input partitions through this topic (each alert's state keyed by "
       "fingerprint, in the partition of its equipment's input: create it with the input topic's partition count, "
       "cleanup.policy=compact). An instance restores a partition's alerts from it before consuming the "
       "partition, so several instances in one group neither repeat nor lose notifications. Empty: alert state is "
       "this instance's own (SQLite)."},
      {"forecasts_topic", FieldType::kString, "",
       "Publish each forecast here (JSON: point, equipment, model, times, values, lower, upper; keyed by "
       "equipment); empty: none."},
      {"forecasts_format", FieldType::kString, kDefaults.kafka.forecasts_format,
       "json, or turtle: the point's bc:forecast with one lastKnownValue-shaped bc:step per step (brick:value, "
       "brick:timestamp, bc:horizon, bc:lower, bc:upper; bc: = https://brickcast.dev/schema#).",
       nullptr, false, false, OneOf({"json", "turtle"})},
      {"commit_interval_ms", FieldType::kInteger, kDefaults.kafka.commit_interval_ms, "How often applied offsets are committed.", nullptr, false,
       false, Between(10, 600000)},
      {"rebuild_seconds", FieldType::kInteger, kDefaults.kafka.rebuild_seconds,
       "On assignment, re-read this much history to rebuild windows; -1: the store window.", nullptr, false, false,
       Between(-1, 90 * 86400)},
      {"rebuild_from", FieldType::kString, kDefaults.kafka.rebuild_from,
       "Where that re-read starts: \"time\" (offsets for times, as Kafka answers them), \"log_start\" (the "
       "start of each partition's log: for brokers that cannot look offsets up by time, such as `brickcast "
       "broker`; bounded by their size cap), \"auto\": log_start with the embedded broker, else time.",
       nullptr, false, false, OneOf({"auto", "time", "log_start"})},
      {"queue_messages", FieldType::kInteger, kDefaults.kafka.queue_messages,
       "Messages buffered between consumer and ingest; partitions pause at 90 % and resume below 50 %.", nullptr,
       false, false, Between(10, 10000000)},
      {"fetch_wait_max_ms", FieldType::kInteger, kDefaults.kafka.fetch_wait_max_ms, "Broker wait for an empty fetch (latency vs. requests).",
       nullptr, false, false, Between(1, 10000)},
      {"instance_id", FieldType::kString, "auto",
       "Static group membership (group.instance.id): a restarted instance takes its partitions back at once "
       "instead of after the session timeout. \"auto\": <hostname>-<group_id> with an external broker, none "
       "with the embedded one; \"\": none. Give each instance on one host its own."},
      {"session_timeout_ms", FieldType::kInteger, kDefaults.kafka.session_timeout_ms,
       "Group session timeout; -1: 45000, or 10000 with the embedded broker (a joining member waits this long; "
       "shorter risks a spurious rebalance on a busy 2-core machine).",
       nullptr,
       false, false, [](const Json& v) -> std::string {
         const int64_t ms = v.get<int64_t>();
         return ms == -1 || (ms >= 1000 && ms <= 3600000) ? "" : "must be -1 or between 1000 and 3600000";
       }},
      {"properties", FieldType::kStringMap, Json::object(),
       "librdkafka properties passed through (security.protocol, sasl.*, ssl.*, ...); passwords are redacted.",
       nullptr, true},
      {"embedded", FieldType::kObject, Json(), "The embedded broker.", kEmbedded},
  }};
  static const Schema* const kStore = new Schema{{
      {"step_seconds", FieldType::kInteger, kDefaults.store.step_seconds, "Resampling step of every series (mean within the step).",
       nullptr, false, false, Between(1, 86400)},
      {"window_steps", FieldType::kInteger, kDefaults.store.window_steps, "Steps kept per point (memory: ~24 bytes per step per point).",
       nullptr, false, false, Between(2, 1 << 20)},
      {"ffill_limit_steps", FieldType::kInteger, kDefaults.store.ffill_limit_steps, "Missing steps forward-filled from the last value before a gap.",
       nullptr, false, false, Between(0, 1 << 20)},
      {"dedup_depth", FieldType::kInteger, kDefaults.store.dedup_depth,
       "Recent timestamps remembered per point to drop duplicates; later arrivals older than these are rejected.",
       nullptr, false, false, Between(1, 4096)},
  }};
  static const Schema* const kForecast = new Schema{{
      {"enabled", FieldType::kBoolean, kDefaults.forecast.enabled, "Forecast every point when one of its steps closes."},
      {"model", FieldType::kString, "default",
       "Model file (brickcast TimeMixer or TorchScript); \"default\": the shipped general HVAC model "
       "(models/hvac-5min.model); \"none\": seasonal-naive forecasts only."},
      {"workers", FieldType::kInteger, kDefaults.forecast.workers, "Forecast worker threads; 0: one per core.", nullptr, false, false,
       Between(0, 256)},
      {"intra_op_threads", FieldType::kInteger, kDefaults.forecast.intra_op_threads, "LibTorch threads per forward (workers x this <= cores).", nullptr,
       false, false, Between(1, 64)},
      {"max_batch", FieldType::kInteger, kDefaults.forecast.max_batch, "Most windows in one forward (dynamic batching).", nullptr, false, false,
       Between(1, 4096)},
      {"max_wait_ms", FieldType::kNumber, kDefaults.forecast.max_wait_us / 1000.0, "Longest a worker waits for a batch to fill.", nullptr, false, false,
       Between(0, 10000)},
      {"queue_capacity", FieldType::kInteger, kDefaults.forecast.queue_capacity,
       "Due windows waiting for a worker; when full, points stay due and are retried (backpressure).", nullptr,
       false, false, Between(1, 1 << 24)},
      {"min_coverage", FieldType::kNumber, kDefaults.forecast.min_coverage,
       "Share of observed (or forward-filled) steps an input window needs; below it: insufficient data.", nullptr,
       false, false, Between(0, 1)},
      {"interval_coverage", FieldType::kNumber, kDefaults.forecast.interval_coverage, "Target coverage of the prediction intervals.", nullptr, false,
       false, Between(0.5, 0.999)},
      {"interval_adaptation", FieldType::kNumber, kDefaults.forecast.interval_adaptation,
       "Adaptive conformal inference: after each scored step, a point's interval level per horizon step moves by this "
       "much times (target misses - miss), so intervals that miss more than promised widen and those that cover more "
       "narrow, under shift too. 0: plain split conformal.",
       nullptr, false, false, Between(0, 0.2)},
      {"calibration_size", FieldType::kInteger, kDefaults.forecast.calibration_size, "Residuals kept per point and horizon step for the intervals, sampled evenly over the last day (every (day / calibration_size)-th forecast).",
       nullptr, false, false, Between(4, 1024)},
      {"serve_best", FieldType::kBoolean, kDefaults.forecast.serve_best,
       "Per point, serve the most accurate of the model, persistence and seasonal naive (rolling MAE over the last "
       "~200 scored steps, a challenger must be 5 % better), flagged in the API as `served` with the reason; the "
       "model keeps being scored and comes back when it is better. Predictive rules act on what is served."},
  }};
  static const Schema* const kToken = new Schema{{
      {"name", FieldType::kString, Json(), "Who uses the token (shown in logs).", nullptr, false, true},
      {"token", FieldType::kString, "", "The bearer token.", nullptr, true},
      {"token_file", FieldType::kString, "", "File holding the token (preferred over `token`)."},
      {"sha256", FieldType::kString, "",
       "Hex SHA-256 of the token, so that the config holds no secret (`brickcast token` prints it)."},
      {"scope", FieldType::kString, "read", "read, operate or admin.", nullptr, false, false,
       OneOf({"read", "operate", "admin"})},
  }};
  static const Schema* const kTls = new Schema{{
      {"cert_file", FieldType::kString, "", "PEM certificate, followed by its intermediates; re-read when it changes."},
      {"key_file", FieldType::kString, "", "PEM private key of the certificate; re-read when it changes."},
  }};
  static const Schema* const kHttp = new Schema{{
      {"tls", FieldType::kObject, Json(), "Serve HTTPS (TLS 1.2+) with this certificate; renewals need no restart.", kTls},
      {"listen", FieldType::kString, kDefaults.http.host + ":" + std::to_string(kDefaults.http.port), "Address and port of the API and dashboard (port 0: any)."},
      {"threads", FieldType::kInteger, kDefaults.http.threads, "HTTP worker threads.", nullptr, false, false, Between(1, 256)},
      {"max_body_bytes", FieldType::kInteger, kDefaults.http.max_body_bytes, "Largest accepted request body.", nullptr, false, false,
       Between(1024, 1 << 30)},
      {"tokens", FieldType::kObjectList, Json::array(),
       "Bearer tokens. With none here nor in tokens_file the API is open, which only a loopback listen "
       "address allows.", kToken},
      {"rate_limit_per_second", FieldType::kNumber, kDefaults.http.rate_limit_per_second,
       "Requests per second one client address may make on average (429 with Retry-After beyond); 0: no limit."},
      {"rate_limit_burst", FieldType::kNumber, kDefaults.http.rate_limit_burst,
       "Requests one client may make at once before the per-second rate applies."},
      {"tokens_file", FieldType::kString, "",
       "JSON file of tokens [{name, scope, sha256}], re-read when it changes: add or revoke tokens without a "
       "restart (`brickcast token --name N --scope S` prints an entry)."},
  }};
  static const Schema* const kLog = new Schema{{
      {"format", FieldType::kString, kDefaults.log.format,
       "text, or json: one object per line {time, level, msg} for log shippers.", nullptr, false, false,
       OneOf({"text", "json"})},
      {"level", FieldType::kString, kDefaults.log.level, "trace, debug, info, warn, error.", nullptr, false, false,
       OneOf({"trace", "debug", "info", "warn", "error"})},
  }};
  static const Schema* const kMute = new Schema{{
      {"name", FieldType::kString, Json(), "Shown on muted alerts.", nullptr, false, true},
      {"weekdays", FieldType::kStringList, Json::array(), "mon ... sun; empty: every day.", nullptr, false, false,
       CheckWeekdays},
      {"start", FieldType::kString, Json(), "Local start time HH:MM (site.timezone).", nullptr, false, true,
       CheckClockTime},
      {"end", FieldType::kString, Json(), "Local end time HH:MM; before start: the window spans midnight.", nullptr,
       false, true, CheckClockTime},
      {"matchers", FieldType::kStringMap, Json::object(),
       "Which alerts it mutes: rule, equipment, class, severity, kind, predicted; empty: all."},
  }};
  static const Schema* const kAlerts = new Schema{{
      {"database", FieldType::kString, kDefaults.alerts.database,
       "SQLite file keeping alert state, history and silences across restarts; a relative path is relative to "
       "$STATE_DIRECTORY (systemd's StateDirectory=) when set, else to the config file; \"\": in memory only."},
      {"retention_days", FieldType::kInteger, kDefaults.alerts.retention_days, "History older than this is deleted.",
       nullptr, false, false, Between(1, 36500)},
      {"retention_transitions", FieldType::kInteger, kDefaults.alerts.retention_transitions,
       "At most this many history rows are kept.", nullptr, false, false, Between(100, 100000000)},
      {"mute_windows", FieldType::kObjectList, Json::array(),
       "Recurring windows (e.g. nightly maintenance) during which matching alerts are muted.", kMute},
  }};
  static Schema* const kRoute = [] {
    auto* route = new Schema;
    route->fields = {
        {"receiver", FieldType::kString, "", "Receiver of the alerts this route takes; \"\": its parent's."},
        {"matchers", FieldType::kStringMap, Json::object(),
         "Labels the alert must have (exact): alertname, rule, equipment (name or IRI), class, severity, kind, "
         "site, predicted."},
        {"matchers_re", FieldType::kStringMap, Json::object(), "Labels matched by a regular expression (whole value)."},
        {"continue", FieldType::kBoolean, false, "After matching here, try the following sibling routes too."},
        {"group_by", FieldType::kStringList, Json(),
         "Labels that split alerts into notifications; [\"...\"]: one per alert; absent: its parent's (root: all "
         "alerts in one group)."},
        {"group_wait", FieldType::kString, Json(), "Wait before a new group's first notification (root default 30s).",
         nullptr, false, false, CheckDuration},
        {"group_interval", FieldType::kString, Json(), "Least time between two notifications of a group; a change after it goes out at once (root default 5m).",
         nullptr, false, false, CheckDuration},
        {"repeat_interval", FieldType::kString, Json(),
         "Re-send a group still firing unchanged after this long (root default 4h).", nullptr, false, false,
         CheckDuration},
        {"routes", FieldType::kObjectList, Json::array(), "Child routes, tried in order.", route},
    };
    return route;
  }();
  static const Schema* const kReceiver = new Schema{{
      {"name", FieldType::kString, Json(), "Name routes refer to.", nullptr, false, true},
      {"kind", FieldType::kString, Json(), "email, sms, webhook, alertmanager or plugin.", nullptr, false, true,
       OneOf({"email", "sms", "webhook", "alertmanager", "plugin"})},
      {"send_resolved", FieldType::kBoolean, true, "Also notify when alerts resolve."},
      {"rate_limit_per_minute", FieldType::kNumber, 0, "At most this many notifications a minute; 0: no limit.",
       nullptr, false, false, AtLeast(0)},
      {"timeout", FieldType::kString, "10s", "Time one delivery attempt may take.", nullptr, false, false, CheckDuration},
      {"title_template", FieldType::kString, "",
       "Own title (email subject, SMS lead) with {{variables}}: status, severity, rule, equipment, class, site, "
       "summary, evidence, action, link, starts_at, ends_at, crossing_time, predicted, count, more, receiver; "
       "\"\": built in.", nullptr, false, false, CheckTemplateText},
      {"text_template", FieldType::kString, "",
       "Own text for each alert (email bodies, SMS, plugins), same variables; values are escaped per medium; "
       "\"\": built in.", nullptr, false, false, CheckTemplateText},
      {"tls_verify", FieldType::kBoolean, true, "Verify the server's TLS certificate."},
      {"ca_file", FieldType::kString, "", "CA bundle to verify the server with; \"\": the system's."},
      {"to", FieldType::kStringList, Json::array(), "email: addresses; sms: phone numbers (E.164)."},
      {"from", FieldType::kString, "", "email: sender (\"brickcast <bc@example.com>\"); sms: sending number."},
      {"smtp_url", FieldType::kString, "", "email: smtp://host:587 (STARTTLS) or smtps://host:465 (TLS)."},
      {"starttls", FieldType::kString, "required", "email on smtp://: required, opportunistic or never.", nullptr,
       false, false, OneOf({"required", "opportunistic", "never"})},
      {"username", FieldType::kString, "", "email: SMTP login."},
      {"password", FieldType::kString, "", "email: SMTP password; prefer password_file or password_env.", nullptr,
       true},
      {"password_file", FieldType::kString, "", "email: file holding the SMTP password."},
      {"password_env", FieldType::kString, "", "email: environment variable holding the SMTP password."},
      {"url", FieldType::kString, "",
       "sms: the gateway's endpoint; webhook: the receiver's URL; alertmanager: its base URL (http://am:9093)."},
      {"format", FieldType::kString, "twilio", "sms: twilio (form POST, basic auth) or json (json_template).",
       nullptr, false, false, OneOf({"twilio", "json"})},
      {"json_template", FieldType::kString, "{\"to\": \"{{to}}\", \"from\": \"{{from}}\", \"text\": \"{{text}}\"}",
       "sms json: the body; {{to}}, {{from}}, {{text}}, {{key}} are replaced, JSON-escaped."},
      {"account", FieldType::kString, "", "sms twilio: the account SID."},
      {"token", FieldType::kString, "",
       "sms: twilio auth token or json bearer token; webhook, alertmanager: bearer token. Prefer token_file or "
       "token_env.", nullptr, true},
      {"token_file", FieldType::kString, "", "File holding the token."},
      {"token_env", FieldType::kString, "", "Environment variable holding the token."},
      {"max_alerts", FieldType::kInteger, 0, "webhook: alerts per notification (the rest counted in truncatedAlerts); 0: all.",
       nullptr, false, false, AtLeast(0)},
      {"resend_interval", FieldType::kString, "1m", "alertmanager: re-send firing alerts at least this often.",
       nullptr, false, false, CheckDuration},
      {"plugin", FieldType::kString, "", "plugin: the .so file, relative to notify.plugin_dir."},
      {"plugin_config", FieldType::kStringMap, Json::object(), "plugin: settings handed to its init as JSON.",
       nullptr, true},
  }};
  static const Schema* const kNotify = new Schema{{
      {"receivers", FieldType::kObjectList, Json::array(), "Where notifications go.", kReceiver},
      {"route", FieldType::kObject, Json(), "Routing tree (Alertmanager's): which receiver gets which alerts.", kRoute},
      {"plugin_dir", FieldType::kString, "", "Directory of notifier plugins (.so), relative to the config file."},
      {"external_url", FieldType::kString, "", "Base of the links in notifications; \"\": http://<http.listen>."},
      {"retry_initial", FieldType::kString, "1s", "First retry delay; it doubles each attempt.", nullptr, false,
       false, CheckDuration},
      {"retry_max", FieldType::kString, "5m", "Longest retry delay.", nullptr, false, false, CheckDuration},
      {"deadline", FieldType::kString, "24h", "A notification not delivered by then is failed.", nullptr, false,
       false, CheckDuration},
      {"retention_days", FieldType::kInteger, 7, "Delivered and failed notifications are kept this long.", nullptr,
       false, false, Between(1, 3650)},
  }};
  static const Schema* const kRoot = new Schema{{
      {"site", FieldType::kObject, Json(), "The site.", kSite},
      {"brick", FieldType::kObject, Json(), "Brick models.", kBrick},
      {"ingest", FieldType::kObject, Json(), "Stream parsing and bad-input policy.", kIngest},
      {"replay", FieldType::kObject, Json(), "File replay source.", kReplay},
      {"kafka", FieldType::kObject, Json(), "Kafka source.", kKafka},
      {"store", FieldType::kObject, Json(), "Per-point series store.", kStore},
      {"forecast", FieldType::kObject, Json(), "Live forecasts (model, worker pool, intervals).", kForecast},
      {"http", FieldType::kObject, Json(), "REST API and dashboard.", kHttp},
      {"log", FieldType::kObject, Json(), "Logging.", kLog},
      {"shutdown_grace_seconds", FieldType::kInteger, kDefaults.shutdown_grace_seconds,
       "On SIGTERM: stop intake, evaluate what was ingested, persist alerts, deliver due notifications and "
       "commit offsets within this; past it (or on a second signal) the process exits at once. Keep it under "
       "systemd's TimeoutStopSec.", nullptr, false, false, Between(1, 3600)},
      {"rules", FieldType::kStringList, Json::array(),
       "Rule files or directories of *.json rule files (see the rule reference); \"default\": the shipped set."},
      {"alerts", FieldType::kObject, Json(), "Alert state, history and mute windows.", kAlerts},
      {"notify", FieldType::kObject, Json(), "Notifications: receivers, routing, retries.", kNotify},
  }};
  return *kRoot;
}

}  // namespace

// The shipped model, found without help from the environment wherever the binary was put:
// $BRICKCAST_HOME/models when set; else beside the running binary: <bin>/../share/brickcast/models
// (packages, `cmake --install`, the Docker image), <bin>/../models (a build directory inside the
// source tree), <bin>/models; else the source tree the binary was built from. The first one that
// holds the file wins; when none does, the error names the installed location.
namespace {

// The first of: $BRICKCAST_HOME/<installed>; beside the running binary <bin>/../share/brickcast/
// <installed>, <bin>/../<source>, <bin>/<source>; the source tree's <source>. When none exists,
// the installed location (for the error message).
std::string FindShipped(const std::string& installed, const std::string& source) {
  namespace fs = std::filesystem;
  const char* home = std::getenv("BRICKCAST_HOME");
  if (home != nullptr && *home != '\0') return (fs::path(home) / installed).string();
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path bin = exe.parent_path();
    candidates.push_back(bin / ".." / "share" / "brickcast" / installed);
    candidates.push_back(bin / ".." / source);
    candidates.push_back(bin / source);
  }
  candidates.push_back(fs::path(BRICKCAST_DATA_DIR) / source);
  for (const fs::path& c : candidates) {
    if (fs::exists(c, ec)) return c.lexically_normal().string();
  }
  return candidates.front().lexically_normal().string();
}

}  // namespace

std::string DefaultModelPath() { return FindShipped("models/hvac-5min.model", "models/hvac-5min.model"); }

std::string DefaultRulesDir() { return FindShipped("rules", "config/rules"); }

namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path == "-" || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

bool ParseListen(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  try {
    size_t used = 0;
    *port = std::stoi(listen.substr(colon + 1), &used);
    return used == listen.size() - colon - 1 && *port >= 0 && *port <= 65535 && !host->empty();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

namespace {

// A secret given inline, in a file (first line) or in an environment variable: exactly one.
std::string ReadSecret(const Json& r, const std::string& key, const std::string& base_dir, const std::string& ptr,
                       std::vector<std::string>* errors) {
  const std::string inline_value = r[key];
  const std::string file = Resolve(base_dir, r[key + "_file"].get<std::string>());
  const std::string env = r[key + "_env"];
  if (!inline_value.empty() + !file.empty() + !env.empty() > 1) {
    errors->push_back(ptr + "/" + key + ": give one of " + key + ", " + key + "_file or " + key + "_env");
    return "";
  }
  if (!file.empty()) {
    std::ifstream in(file);
    std::string v;
    if (!in || !std::getline(in, v)) errors->push_back(ptr + "/" + key + "_file: cannot read " + file);
    return v;
  }
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v == nullptr) errors->push_back(ptr + "/" + key + "_env: the environment has no " + env);
    return v == nullptr ? "" : v;
  }
  return inline_value;
}

int64_t DurationOr(const Json& v, int64_t fallback) {
  if (!v.is_string()) return fallback;
  auto d = ParseDurationMs(v.get<std::string>());
  return d.ok() ? *d : fallback;
}

void LoadRoute(const Json& j, RouteConfig* r) {
  r->receiver = j["receiver"];
  for (const auto& [k, v] : j["matchers"].items()) r->matchers[k] = v.get<std::string>();
  for (const auto& [k, v] : j["matchers_re"].items()) r->matchers_re[k] = v.get<std::string>();
  r->continue_matching = j["continue"];
  r->group_by_set = j.contains("group_by") && j["group_by"].is_array();
  if (r->group_by_set) r->group_by = j["group_by"].get<std::vector<std::string>>();
  r->group_wait_ms = DurationOr(j.value("group_wait", Json()), -1);
  r->group_interval_ms = DurationOr(j.value("group_interval", Json()), -1);
  r->repeat_interval_ms = DurationOr(j.value("repeat_interval", Json()), -1);
  for (const Json& c : j["routes"]) {
    r->routes.emplace_back();
    LoadRoute(c, &r->routes.back());
  }
}

void LoadNotify(const Json& n, const std::string& base_dir, const HttpConfig& http, NotifyConfig* out,
                std::vector<std::string>* errors) {
  // Which kinds each kind-specific key belongs to: a key set for another kind is a mistake.
  static const std::map<std::string, std::set<std::string>> kKinds = {
      {"to", {"email", "sms"}},
      {"from", {"email", "sms"}},
      {"smtp_url", {"email"}},
      {"username", {"email"}},
      {"password", {"email"}},
      {"password_file", {"email"}},
      {"password_env", {"email"}},
      {"url", {"sms", "webhook", "alertmanager"}},
      {"account", {"sms"}},
      {"token", {"sms", "webhook", "alertmanager"}},
      {"token_file", {"sms", "webhook", "alertmanager"}},
      {"token_env", {"sms", "webhook", "alertmanager"}},
      {"plugin", {"plugin"}},
  };
  std::set<std::string> names;
  for (size_t i = 0; i < n["receivers"].size(); ++i) {
    const Json& r = n["receivers"][i];
    const std::string ptr = "/notify/receivers/" + std::to_string(i);
    ReceiverConfig rc;
    rc.name = r["name"];
    rc.kind = r["kind"];
    if (!names.insert(rc.name).second) errors->push_back(ptr + "/name: '" + rc.name + "' is defined twice");
    for (const auto& [key, kinds] : kKinds) {
      const Json& v = r[key];
      const bool set = v.is_string() ? !v.get<std::string>().empty() : v.is_array() && !v.empty();
      if (set && !kinds.count(rc.kind)) errors->push_back(ptr + "/" + key + ": not a setting of kind " + rc.kind);
    }
    rc.send_resolved = r["send_resolved"];
    rc.rate_limit_per_minute = r["rate_limit_per_minute"];
    rc.timeout_ms = DurationOr(r["timeout"], rc.timeout_ms);
    rc.title_template = r["title_template"];
    rc.text_template = r["text_template"];
    rc.tls_verify = r["tls_verify"];
    rc.ca_file = Resolve(base_dir, r["ca_file"].get<std::string>());
    rc.to = r["to"].get<std::vector<std::string>>();
    rc.from = r["from"];
    rc.smtp_url = r["smtp_url"];
    rc.starttls = r["starttls"];
    rc.username = r["username"];
    rc.url = r["url"];
    rc.sms_format = r["format"];
    rc.sms_json_template = r["json_template"];
    rc.account = r["account"];
    rc.max_alerts = r["max_alerts"];
    rc.resend_ms = DurationOr(r["resend_interval"], rc.resend_ms);
    rc.plugin = r["plugin"];
    rc.plugin_config = r["plugin_config"].dump();
    if (rc.kind == "email") rc.password = ReadSecret(r, "password", base_dir, ptr, errors);
    if (rc.kind == "sms" || rc.kind == "webhook" || rc.kind == "alertmanager")
      rc.token = ReadSecret(r, "token", base_dir, ptr, errors);
    auto require = [&](const std::string& key, bool ok) {
      if (!ok) errors->push_back(ptr + "/" + key + ": required for kind " + rc.kind);
    };
    auto check_url = [&](const std::string& key, const std::string& url, std::initializer_list<const char*> schemes) {
      bool scheme_ok = false;
      for (const char* s : schemes) scheme_ok = scheme_ok || url.rfind(s, 0) == 0;
      if (!url.empty() && !scheme_ok) {
        std::string list;
        for (const char* s : schemes) list += (list.empty() ? "" : " or ") + std::string(s);
        errors->push_back(ptr + "/" + key + ": must start with " + list);
      }
      // Credentials in a URL end up in logs; they belong in the secret keys.
      const size_t at = url.find('@'), slash = url.find('/', url.find("://") + 3);
      if (at != std::string::npos && (slash == std::string::npos || at < slash))
        errors->push_back(ptr + "/" + key + ": put credentials in username/password or token (and their _file "
                                            "forms), not in the URL");
    };
    if (rc.kind == "email") {
      require("smtp_url", !rc.smtp_url.empty());
      require("from", !rc.from.empty());
      require("to", !rc.to.empty());
      check_url("smtp_url", rc.smtp_url, {"smtp://", "smtps://"});
    } else if (rc.kind == "sms") {
      require("url", !rc.url.empty());
      require("to", !rc.to.empty());
      if (rc.sms_format == "twilio") require("from", !rc.from.empty());
      check_url("url", rc.url, {"http://", "https://"});
      if (rc.sms_format == "json" && rc.sms_json_template.find("{{text}}") == std::string::npos)
        errors->push_back(ptr + "/json_template: has no {{text}}");
    } else if (rc.kind == "webhook" || rc.kind == "alertmanager") {
      require("url", !rc.url.empty());
      check_url("url", rc.url, {"http://", "https://"});
    } else if (rc.kind == "plugin") {
      require("plugin", !rc.plugin.empty());
    }
    out->receivers.push_back(std::move(rc));
  }
  LoadRoute(n["route"], &out->route);
  if (!out->receivers.empty() && out->route.receiver.empty())
    errors->push_back("/notify/route/receiver: required when receivers are configured");
  if (!out->route.receiver.empty() && !names.count(out->route.receiver))
    errors->push_back("/notify/route/receiver: no receiver named '" + out->route.receiver + "'");
  // Receivers named by child routes.
  std::vector<std::pair<const RouteConfig*, std::string>> to_check;  // (route, its pointer)
  for (size_t i = 0; i < out->route.routes.size(); ++i) to_check.push_back({&out->route.routes[i], "/notify/route/routes/" + std::to_string(i)});
  while (!to_check.empty()) {
    auto [r, ptr] = to_check.back();
    to_check.pop_back();
    if (!r->receiver.empty() && !names.count(r->receiver))
      errors->push_back(ptr + "/receiver: no receiver named '" + r->receiver + "'");
    for (const auto& [label, re] : r->matchers_re) {
      try {
        std::regex check(re);
      } catch (const std::regex_error& e) {
        errors->push_back(ptr + "/matchers_re/" + label + ": invalid regular expression: " + e.what());
      }
    }
    for (size_t i = 0; i < r->routes.size(); ++i) to_check.push_back({&r->routes[i], ptr + "/routes/" + std::to_string(i)});
  }
  out->plugin_dir = Resolve(base_dir, n["plugin_dir"].get<std::string>());
  out->external_url = n["external_url"];
  if (out->external_url.empty()) {
    const std::string host = http.host == "0.0.0.0" || http.host == "::" ? "127.0.0.1" : http.host;
    out->external_url = std::string(http.tls_cert_file.empty() ? "http" : "https") + "://" +
                        (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(http.port);
  }
  out->retry_initial_ms = DurationOr(n["retry_initial"], out->retry_initial_ms);
  out->retry_max_ms = DurationOr(n["retry_max"], out->retry_max_ms);
  out->deadline_ms = DurationOr(n["deadline"], out->deadline_ms);
  out->retention_days = n["retention_days"];
  if (out->retry_initial_ms <= 0) errors->push_back("/notify/retry_initial: must be > 0");
  if (out->retry_max_ms < out->retry_initial_ms) errors->push_back("/notify/retry_max: must be >= retry_initial");
}

}  // namespace

StatusOr<Config> LoadConfigText(const std::string& json_text, const std::string& base_dir) {
  std::vector<std::string> errors;
  Json eff;
  config::ParseWithSchema(json_text, RootSchema(), &eff, &errors);

  Config c;
  if (errors.empty()) {
    const Json& site = eff["site"];
    c.site.name = site["name"];
    c.site.timezone = site["timezone"];
    c.site.zone = *TimeZone::Load(c.site.timezone);  // checked by the schema

    for (const auto& m : eff["brick"]["models"]) c.brick.models.push_back(Resolve(base_dir, m.get<std::string>()));
    c.brick.ontology = Resolve(base_dir, eff["brick"]["ontology"].get<std::string>());
    for (const auto& [k, v] : eff["brick"]["prefixes"].items()) c.brick.prefixes[k] = v.get<std::string>();

    const Json& ing = eff["ingest"];
    c.ingest.format = *ParseStreamFormat(ing["format"].get<std::string>());
    c.ingest.max_message_bytes = ing["max_message_bytes"].get<size_t>();
    c.ingest.accept_unknown_points = ing["unknown_points"] == "accept";
    c.ingest.dead_letter_file = Resolve(base_dir, ing["dead_letter_file"].get<std::string>());
    const Json& w = ing["wide_row"];
    c.ingest.wide_row.time_property = w["time_property"];
    c.ingest.wide_row.time_format = w["time_format"];
    c.ingest.wide_row.point_base = w["point_base"];
    for (const auto& [k, v] : w["columns"].items())
      c.ingest.wide_row.columns[k] = WideRowColumn{v["point"].get<std::string>(), v["unit"].get<std::string>()};

    for (const auto& f : eff["replay"]["files"]) c.replay.files.push_back(Resolve(base_dir, f.get<std::string>()));
    c.replay.speed = eff["replay"]["speed"];
    c.replay.loop = eff["replay"]["loop"];
    c.replay.to_kafka = eff["replay"]["target"] == "kafka";

    const Json& k = eff["kafka"];
    c.kafka.brokers = k["brokers"];
    c.kafka.topics.clear();
    for (const auto& t : k["topics"]) c.kafka.topics.push_back(t);
    c.kafka.group_id = k["group_id"];
    c.kafka.dead_letter_topic = k["dead_letter_topic"];
    c.kafka.alerts_topic = k["alerts_topic"];
    c.kafka.forecasts_topic = k["forecasts_topic"];
    c.kafka.alert_changelog_topic = k["alert_changelog_topic"];
    if (!c.kafka.alert_changelog_topic.empty() && c.kafka.brokers.empty())
      errors.push_back("/kafka/alert_changelog_topic: the changelog needs kafka.brokers");
    c.kafka.forecasts_format = k["forecasts_format"];
    if ((!c.kafka.alerts_topic.empty() || !c.kafka.forecasts_topic.empty()) && c.kafka.brokers.empty())
      errors.push_back("/kafka/alerts_topic: output topics need kafka.brokers");
    c.kafka.commit_interval_ms = k["commit_interval_ms"];
    c.kafka.rebuild_seconds = k["rebuild_seconds"];
    c.kafka.rebuild_from = k["rebuild_from"];
    c.kafka.queue_messages = k["queue_messages"];
    c.kafka.fetch_wait_max_ms = k["fetch_wait_max_ms"];
    c.kafka.session_timeout_ms = k["session_timeout_ms"];
    c.kafka.instance_id = k["instance_id"];
    for (const auto& [key, v] : k["properties"].items()) c.kafka.properties[key] = v.get<std::string>();
    c.kafka.embedded_partitions = k["embedded"]["partitions"];
    c.kafka.embedded_brokers = k["embedded"]["brokers"];
    c.kafka.embedded_address_file = Resolve(base_dir, k["embedded"]["address_file"].get<std::string>());
    if (c.kafka.topics.empty()) errors.push_back("/kafka/topics: at least one topic is required");
    if (c.replay.to_kafka && c.kafka.brokers.empty())
      errors.push_back("/replay/target: \"kafka\" needs kafka.brokers");
    if (c.replay.to_kafka && !c.kafka.topics.empty() && c.kafka.topics[0].rfind('^', 0) == 0)
      errors.push_back("/replay/target: kafka.topics[0] is a pattern; replay needs a topic name");

    const Json& st = eff["store"];
    c.store.step_seconds = st["step_seconds"];
    c.store.window_steps = st["window_steps"];
    c.store.ffill_limit_steps = st["ffill_limit_steps"];
    c.store.dedup_depth = st["dedup_depth"];

    const Json& fc = eff["forecast"];
    c.forecast.enabled = fc["enabled"];
    const std::string model = fc["model"];
    c.forecast.model = model == "none" ? "" : model == "default" ? DefaultModelPath() : Resolve(base_dir, model);
    c.forecast.workers = fc["workers"];
    c.forecast.intra_op_threads = fc["intra_op_threads"];
    c.forecast.max_batch = fc["max_batch"];
    c.forecast.max_wait_us = static_cast<int64_t>(fc["max_wait_ms"].get<double>() * 1000);
    c.forecast.queue_capacity = fc["queue_capacity"];
    c.forecast.min_coverage = fc["min_coverage"];
    c.forecast.interval_coverage = fc["interval_coverage"];
    c.forecast.interval_adaptation = fc["interval_adaptation"];
    c.forecast.calibration_size = fc["calibration_size"];
    c.forecast.serve_best = fc["serve_best"];

    const Json& http = eff["http"];
    if (!ParseListen(http["listen"], &c.http.host, &c.http.port))
      errors.push_back("/http/listen: expected HOST:PORT");
    c.http.threads = http["threads"];
    c.http.max_body_bytes = http["max_body_bytes"];
    for (size_t i = 0; i < http["tokens"].size(); ++i) {
      const Json& t = http["tokens"][i];
      AuthToken tok{t["name"], t["token"], t["scope"], t["sha256"]};
      const std::string file = Resolve(base_dir, t["token_file"].get<std::string>());
      const std::string ptr = "/http/tokens/" + std::to_string(i);
      bool readable = true;
      if (!file.empty()) {
        std::ifstream tf(file);
        readable = static_cast<bool>(tf);
        if (!readable) errors.push_back(ptr + "/token_file: cannot read " + file);
        std::getline(tf, tok.token);
      }
      const int given = !t["token"].get<std::string>().empty() + !file.empty() + !tok.sha256.empty();
      if (given != 1) {
        errors.push_back(ptr + ": exactly one of token, token_file or sha256 is required");
      } else if (!tok.sha256.empty()) {
        const bool hex = tok.sha256.size() == 64 &&
                         tok.sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex) errors.push_back(ptr + "/sha256: 64 lower-case hex digits");
      } else if (tok.token.empty()) {
        if (readable) errors.push_back(ptr + "/token_file: " + file + " is empty");
      } else {
        tok.sha256 = Sha256Hex(tok.token);
      }
      tok.token.clear();  // only the hash is kept
      c.http.tokens.push_back(std::move(tok));
    }
    c.http.tokens_file = Resolve(base_dir, http["tokens_file"].get<std::string>());
    c.http.tls_cert_file = Resolve(base_dir, http["tls"]["cert_file"].get<std::string>());
    c.http.tls_key_file = Resolve(base_dir, http["tls"]["key_file"].get<std::string>());
    if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty())
      errors.push_back("/http/tls: give both cert_file and key_file, or neither");
    c.http.rate_limit_per_second = http["rate_limit_per_second"];
    c.http.rate_limit_burst = http["rate_limit_burst"];
    if (c.http.rate_limit_per_second < 0) errors.push_back("/http/rate_limit_per_second: must be >= 0");
    if (c.http.rate_limit_burst < 1) errors.push_back("/http/rate_limit_burst: must be >= 1");
    // An open API on a reachable address lets anyone post observations and silence alerts.
    if (c.http.tokens.empty() && c.http.tokens_file.empty() && !IsLoopbackHost(c.http.host))
      errors.push_back("/http/listen: " + c.http.host +
                       " is reachable from other machines and no tokens are configured; add http.tokens or "
                       "http.tokens_file (brickcast token prints one), or listen on 127.0.0.1");
    c.log.level = eff["log"]["level"];
    c.log.format = eff["log"]["format"];
    c.shutdown_grace_seconds = eff["shutdown_grace_seconds"];
    for (const auto& r : eff["rules"]) {
      const std::string rule_path = r.get<std::string>();
      c.rules.push_back(rule_path == "default" ? DefaultRulesDir() : Resolve(base_dir, rule_path));
    }
    const Json& al = eff["alerts"];
    // Under systemd (StateDirectory=) state goes to $STATE_DIRECTORY, not next to the config.
    const char* state_dir = std::getenv("STATE_DIRECTORY");
    c.alerts.database = Resolve(state_dir != nullptr && *state_dir != '\0' ? std::string(state_dir) : base_dir,
                                al["database"].get<std::string>());
    c.alerts.retention_days = al["retention_days"];
    c.alerts.retention_transitions = al["retention_transitions"];
    for (const Json& mw : al["mute_windows"]) {
      MuteWindowConfig m;
      m.name = mw["name"];
      for (const auto& d : mw["weekdays"])
        m.weekdays.push_back(static_cast<int>(std::find(std::begin(kWeekdays), std::end(kWeekdays), d.get<std::string>()) -
                                              std::begin(kWeekdays)));
      m.start_minute = ParseClockTime(mw["start"]);
      m.end_minute = ParseClockTime(mw["end"]);
      for (const auto& [label, v] : mw["matchers"].items()) m.matchers[label] = v.get<std::string>();
      c.alerts.mute_windows.push_back(std::move(m));
    }
    LoadNotify(eff["notify"], base_dir, c.http, &c.notify, &errors);
  }
  BRICKCAST_RETURN_IF_ERROR(config::ErrorsToStatus("config", errors));
  RedactSecrets(RootSchema(), &eff);
  c.effective_json = eff.dump(2);
  return c;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open config file " + path);
  std::ostringstream os;
  os << in.rdbuf();
  auto c = LoadConfigText(os.str(), std::filesystem::path(path).parent_path().string());
  if (!c.ok()) return Status(c.status().code(), path + " " + c.status().message());
  c->path = path;
  return c;
}

std::string EffectiveInstanceId(const KafkaConfig& kafka) {
  if (kafka.instance_id != "auto") return kafka.instance_id;
  // The embedded broker lives and dies with the daemon: no member outlives a restart there.
  if (kafka.brokers == "embedded" || kafka.brokers.empty()) return "";
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "";
  return std::string(host) + "-" + kafka.group_id;
}

int EffectiveSessionTimeoutMs(const KafkaConfig& kafka) {
  if (kafka.session_timeout_ms >= 0) return kafka.session_timeout_ms;
  // A joining member waits up to this long for the dead members of a previous run; the embedded
  // broker lives and dies with the daemon, so it has none worth 45 s.
  return kafka.brokers == "embedded" ? 10000 : 45000;
}

std::string ConfigReference() {
  std::string out = "| key | type | default | description |\n|---|---|---|---|\n";
  config::DescribeSchema(RootSchema(), "", &out);
  return out;
}

}  // namespace brickcast
