// Config schema tables (one per section) and the mapping from validated JSON to Config.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "brickcast/config.h"
#include "brickcast/sha256.h"
#include "brickcast/units.h"
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
      {"commit_interval_ms", FieldType::kInteger, kDefaults.kafka.commit_interval_ms, "How often applied offsets are committed.", nullptr, false,
       false, Between(10, 600000)},
      {"rebuild_seconds", FieldType::kInteger, kDefaults.kafka.rebuild_seconds,
       "On assignment, re-read this much history to rebuild windows; -1: the store window.", nullptr, false, false,
       Between(-1, 90 * 86400)},
      {"queue_messages", FieldType::kInteger, kDefaults.kafka.queue_messages,
       "Messages buffered between consumer and ingest; partitions pause at 90 % and resume below 50 %.", nullptr,
       false, false, Between(10, 10000000)},
      {"fetch_wait_max_ms", FieldType::kInteger, kDefaults.kafka.fetch_wait_max_ms, "Broker wait for an empty fetch (latency vs. requests).",
       nullptr, false, false, Between(1, 10000)},
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
      {"calibration_size", FieldType::kInteger, kDefaults.forecast.calibration_size, "Residuals kept per point and horizon step for the intervals.",
       nullptr, false, false, Between(4, 1024)},
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
      {"rules", FieldType::kStringList, Json::array(),
       "Rule files or directories of *.json rule files (see the rule reference)."},
      {"alerts", FieldType::kObject, Json(), "Alert state, history and mute windows.", kAlerts},
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
    c.kafka.commit_interval_ms = k["commit_interval_ms"];
    c.kafka.rebuild_seconds = k["rebuild_seconds"];
    c.kafka.queue_messages = k["queue_messages"];
    c.kafka.fetch_wait_max_ms = k["fetch_wait_max_ms"];
    c.kafka.session_timeout_ms = k["session_timeout_ms"];
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
    c.forecast.calibration_size = fc["calibration_size"];

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
    for (const auto& r : eff["rules"]) c.rules.push_back(Resolve(base_dir, r.get<std::string>()));
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
