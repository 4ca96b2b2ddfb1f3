// The daemon's configuration: one JSON file, validated against a schema (every key has a default
// and a description, unknown keys are errors, all errors are reported together with their JSON
// pointer, secrets print as "<secret>"). The structs are plain values; a loaded Config is
// immutable and shared as std::shared_ptr<const Config> so a reload can swap it whole.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "brickcast/rdf.h"
#include "brickcast/status.h"
#include "brickcast/stream_parser.h"
#include "brickcast/time.h"

namespace brickcast {

struct SiteConfig {
  std::string name = "site";
  std::string timezone = "UTC";  // for timestamps without a zone
  TimeZone zone = TimeZone::Utc();
};

struct BrickConfig {
  std::vector<std::string> models;  // Turtle model files, relative to the config file
  std::string ontology;             // optional full Brick ontology file
  PrefixMap prefixes;               // default prefixes for stream messages
};

struct IngestConfig {
  StreamFormat format = StreamFormat::kAuto;
  size_t max_message_bytes = 1 << 20;
  WideRowOptions wide_row;
  bool accept_unknown_points = true;  // "accept": streams may add points; "reject": dead-letter them
  std::string dead_letter_file;       // JSONL; empty = log and count only
};

struct ReplayConfig {
  std::vector<std::string> files;  // TTL message files or "-" (stdin)
  double speed = 0;                // 0 = as fast as possible; N = N x real time
  bool loop = false;
  bool to_kafka = false;           // publish to kafka.topics[0] instead of ingesting directly
};

struct KafkaConfig {
  std::string brokers;  // "" = no Kafka source; "embedded" = in-process broker; else bootstrap list
  std::vector<std::string> topics = {"brickcast.observations"};  // "^regex" subscribes by pattern
  std::string group_id = "brickcast";
  std::string dead_letter_topic;  // "" = use ingest.dead_letter_file
  std::string alerts_topic;       // "": none; alert transitions (webhook v4 alert JSON, key: fingerprint)
  std::string forecasts_topic;    // "": none; forecasts (key: equipment)
  std::string alert_changelog_topic;  // "": alert state local; else scale-out changelog (AlertChangelog)
  std::string forecasts_format = "json";  // "json" or "turtle" (ForecastToTurtle)
  int commit_interval_ms = 1000;
  int64_t rebuild_seconds = -1;   // -1 = the store window (step x window_steps)
  // Where a rebuild starts: "time" (offsets for times: Kafka), "log_start" (the log's start: a broker
  // that cannot look offsets up by time, as `brickcast broker`), "auto" (log_start with the embedded
  // broker, time otherwise).
  std::string rebuild_from = "auto";
  size_t queue_messages = 10000;  // consumer -> ingest queue; pause at 90 %, resume below 50 %
  int fetch_wait_max_ms = 50;
  // -1: the Kafka consumer's default (45 s), or 10 s with the embedded broker; see
  // EffectiveSessionTimeoutMs.
  int session_timeout_ms = -1;
  std::string instance_id = "auto";  // group.instance.id; see EffectiveInstanceId
  std::map<std::string, std::string> properties;  // passed to librdkafka as is
  int embedded_partitions = 8;
  int embedded_brokers = 1;
  std::string embedded_address_file;  // where the embedded broker's bootstrap address is written
};

struct StoreConfig {
  int64_t step_seconds = 300;
  size_t window_steps = 288;
  size_t ffill_limit_steps = 2;
  size_t dedup_depth = 32;
};

struct ForecastConfig {
  bool enabled = true;
  std::string model;  // resolved path; "" = no model (seasonal-naive fallback only)
  size_t workers = 0;  // 0: one per core
  int intra_op_threads = 1;
  size_t max_batch = 64;
  int64_t max_wait_us = 2000;
  size_t queue_capacity = 4096;
  double min_coverage = 0.8;
  double interval_coverage = 0.9;
  double interval_adaptation = 0.01;  // adaptive conformal step (0: plain split conformal)
  size_t calibration_size = 48;
  bool serve_best = true;  // ForecastServiceOptions::serve_best
};
struct AuthToken {
  std::string name;
  std::string token;           // not kept: hashed into sha256 at load
  std::string scope = "read";  // read | operate | admin
  std::string sha256;          // hex SHA-256 of the token: what requests are checked against
};

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 4;
  size_t max_body_bytes = 4 << 20;
  std::vector<AuthToken> tokens;  // none here nor in tokens_file: no authentication (loopback only)
  std::string tokens_file;        // JSON [{name, scope, sha256}], re-read when it changes
  std::string tls_cert_file, tls_key_file;  // both: HTTPS
  double rate_limit_per_second = 50;  // per client address; 0: no limit
  double rate_limit_burst = 200;
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";  // text | json
};

// A recurring mute window (alerts.mute_windows): local time of the site, DST-aware.
struct MuteWindowConfig {
  std::string name;
  std::vector<int> weekdays;  // 0 = Sunday; empty = every day
  int start_minute = 0, end_minute = 0;
  std::map<std::string, std::string> matchers;
};

struct AlertsConfig {
  std::string database = "alerts.db";  // SQLite file, relative to the config file; "" = in memory
  int64_t retention_days = 90;
  size_t retention_transitions = 100000;
  std::vector<MuteWindowConfig> mute_windows;
};

// notify.receivers: where notifications go. Kind-specific settings live in the kind's fields;
// secrets are read from their *_file or *_env keys at load and never printed.
struct ReceiverConfig {
  std::string name;
  std::string kind;  // email | sms | webhook | alertmanager | plugin
  bool send_resolved = true;
  double rate_limit_per_minute = 0;  // notifications per minute at most; 0: no limit
  int64_t timeout_ms = 10'000;       // one delivery attempt
  std::string title_template;        // "": the built-in title ("[FIRING:1] rule on AHU-1")
  std::string text_template;         // "": the built-in block per alert
  bool tls_verify = true;
  std::string ca_file;
  // email
  std::string smtp_url;                 // smtp://host:port (STARTTLS per `starttls`) or smtps://host:port
  std::string starttls = "required";    // required | opportunistic | never (smtp:// only)
  std::string username, password;       // password: a secret
  std::string from;
  std::vector<std::string> to;          // email addresses or phone numbers
  // sms, webhook, alertmanager
  std::string url;
  std::string sms_format = "twilio";   // twilio | json
  std::string sms_json_template;       // json: {{to}}, {{from}}, {{text}} are replaced (JSON-escaped)
  std::string account;                 // twilio: account SID (basic auth user)
  std::string token;                   // twilio auth token, or a webhook/json bearer token: a secret
  size_t max_alerts = 0;               // webhook: alerts per notification (0: all)
  int64_t resend_ms = 60'000;          // alertmanager: re-sent at least this often while firing
  // plugin
  std::string plugin;                  // .so file (relative to notify.plugin_dir)
  std::string plugin_config;           // JSON text handed to the plugin's init
};

// notify.route: Alertmanager's routing tree. A child inherits its parent's receiver and timers.
struct RouteConfig {
  std::string receiver;
  std::map<std::string, std::string> matchers;     // label -> exact value
  std::map<std::string, std::string> matchers_re;  // label -> regular expression (whole value)
  bool continue_matching = false;
  std::vector<std::string> group_by;  // labels; ["..."]: every alert alone
  bool group_by_set = false;
  int64_t group_wait_ms = -1, group_interval_ms = -1, repeat_interval_ms = -1;  // -1: inherited
  std::vector<RouteConfig> routes;
};

struct NotifyConfig {
  std::vector<ReceiverConfig> receivers;
  RouteConfig route;             // root: receiver required when there are receivers
  std::string plugin_dir;        // where plugin receivers' .so files are
  std::string external_url;      // base of links in notifications; "": http://<http.listen>
  int64_t retry_initial_ms = 1'000, retry_max_ms = 300'000;
  int64_t deadline_ms = 24LL * 3'600'000;  // a notification not delivered by then is failed
  int64_t retention_days = 7;               // delivered and failed notifications kept
};

struct Config {
  std::string path;  // file it was loaded from ("" for defaults)
  SiteConfig site;
  BrickConfig brick;
  IngestConfig ingest;
  ReplayConfig replay;
  KafkaConfig kafka;
  StoreConfig store;
  ForecastConfig forecast;
  HttpConfig http;
  LogConfig log;
  std::vector<std::string> rules;  // rule files or directories (*.json), resolved
  AlertsConfig alerts;
  NotifyConfig notify;
  int64_t shutdown_grace_seconds = 20;

  // The effective configuration as JSON text (defaults filled), secrets redacted.
  std::string effective_json;
};

// The consumer's group.instance.id for this config ("" for dynamic membership).
std::string EffectiveInstanceId(const KafkaConfig& kafka);
// The group session timeout the consumer uses for this config.
int EffectiveSessionTimeoutMs(const KafkaConfig& kafka);

// Loads and validates a config file. On error the message lists every problem, one per line,
// each starting with its JSON pointer ("/store/step_seconds: must be >= 1").
StatusOr<Config> LoadConfigFile(const std::string& path);
StatusOr<Config> LoadConfigText(const std::string& json_text, const std::string& base_dir);

// Markdown table of every key (type, default, description).
std::string ConfigReference();

// Path of the shipped forecast model (`forecast.model: "default"`): $BRICKCAST_HOME/models, else
// found beside the running binary (../share/brickcast/models, ../models), else the source tree.
std::string DefaultModelPath();
// The shipped rule set, found the same way: $BRICKCAST_HOME/rules, ../share/brickcast/rules beside
// the binary, else config/rules of the source tree.
std::string DefaultRulesDir();

}  // namespace brickcast
