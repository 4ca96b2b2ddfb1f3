#include "brickcast/daemon.h"
#include "brickcast/notify.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include <filesystem>
#include <fstream>

#include "app/alert_changelog.h"
#include "app/file_replay_source.h"
#include "brickcast/logging.h"
#include "brickcast/alerts.h"
#include "brickcast/lifecycle.h"
#include "brickcast/process_memory.h"
#include "brickcast/rule_engine.h"
#include "brickcast/units.h"
#include "brickcast/kafka.h"
#include "api/api.h"
#include "notify/render.h"
#include "serving/forecast_json.h"
#include "server/http_server.h"

namespace brickcast {
namespace {
// In-daemon replay into Kafka: the most payload published ahead of what the consumer fetched.
constexpr uint64_t kReplayBacklogBytes = 1 << 20;
}  // namespace

StreamParserOptions ParserOptionsFromConfig(const Config& config) {
  StreamParserOptions o;
  o.format = config.ingest.format;
  o.default_prefixes = config.brick.prefixes;
  o.site_zone = config.site.zone;
  o.wide_row = config.ingest.wide_row;
  o.max_message_bytes = config.ingest.max_message_bytes;
  return o;
}

SeriesOptions SeriesOptionsFromConfig(const StoreConfig& c) {
  return SeriesOptions{c.step_seconds * 1000, c.window_steps, c.ffill_limit_steps, c.dedup_depth};
}

ForecastServiceOptions ForecastOptionsFromConfig(const Config& config) {
  const ForecastConfig& fc = config.forecast;
  ForecastServiceOptions o;
  o.workers = fc.workers;
  o.intra_op_threads = fc.intra_op_threads;
  o.max_batch = fc.max_batch;
  o.max_wait = std::chrono::microseconds(fc.max_wait_us);
  o.queue_capacity = fc.queue_capacity;
  o.min_coverage = fc.min_coverage;
  o.interval_coverage = fc.interval_coverage;
  o.interval_adaptation = fc.interval_adaptation;
  o.calibration_size = fc.calibration_size;
  o.serve_best = fc.serve_best;
  o.site_zone = config.site.zone;
  return o;
}

struct Daemon::Impl {
  Impl(Config c, const Clock& k)
      : clock(k),
        classes(ClassHierarchy::BuiltIn()),
        store(SeriesOptionsFromConfig(c.store)),
        parser(ParserOptionsFromConfig(c)) {
    start_config = std::make_shared<const Config>(std::move(c));
    config.Set(start_config);
  }

  const Clock& clock;
  // Read-mostly state that a reload replaces whole; services take the snapshot they need.
  Snapshot<Config> config;
  Snapshot<BrickModel> model;
  DataWatermark watermark;
  EventBus events;  // before every publisher and subscriber: destroyed after them
  // Alert transitions and forecasts for GET /api/v1/events; ids name this run (its start time).
  LiveEvents live_events{std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count())};
  MetricsRegistry metrics;
  std::shared_ptr<ClassHierarchy> classes;
  std::unique_ptr<PointRegistry> registry;
  SeriesStore store;
  StreamParser parser;
  std::unique_ptr<DeadLetterSink> dead_letters;
  std::unique_ptr<Ingestor> ingestor;
  std::unique_ptr<EmbeddedBroker> broker;
  std::string bootstrap;  // Kafka bootstrap servers in use ("" without Kafka)
  std::unique_ptr<KafkaSource> kafka;
  std::unique_ptr<KafkaProducer> replay_producer;
  std::unique_ptr<KafkaProducer> output_producer;  // alerts and forecasts topics
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<FileReplaySource> replay;
  std::unique_ptr<ForecastService> forecast;
  Snapshot<RuleSet> rules;
  std::unique_ptr<AlertManager> alerts;
  std::unique_ptr<RuleEngine> rule_engine;
  std::unique_ptr<AlertChangelog> changelog;  // scale-out only (kafka.alert_changelog_topic)
  MemoryTrimmer trimmer;  // gives the allocator's free pages back once a minute (process_memory.h)
  // Replaced whole by a reload that changes `notify`; readers take a reference under the lock.
  mutable std::mutex notify_mu;
  std::shared_ptr<NotificationService> notifications;
  std::shared_ptr<NotificationService> Notifications() const {
    std::lock_guard<std::mutex> lock(notify_mu);
    return notifications;
  }
  // Who listens to what (docs/architecture.md); last, so they go before what they call.
  std::vector<std::unique_ptr<EventBus::Subscription>> subscriptions;
  EventBus::Subscription* rules_subscription = nullptr;      // drained before a handover
  EventBus::Subscription* changelog_subscription = nullptr;  // (both owned by `subscriptions`)

  Lifecycle lifecycle;
  bool services_added = false;
  std::mutex reload_mu;  // one reload at a time; guards reloads
  ReloadCounters reloads;

  Status LoadBrickModel();
  Status StartBroker();
  Status OpenDeadLetters();
  Status StartOutputs();
  void PublishOutput(const Event& e);
  Status StartIngest();
  Status StartForecast();
  Status StartAlerts();
  Status CheckChangelogPartitions();
  StatusOr<std::shared_ptr<NotificationService>> MakeNotifications(const Config& c);
  Status StartNotifications();
  void StopNotifications();
  Status Subscribe();
  void RegisterMetrics();

  Status StartKafka();
  Status StartReplay();
  KafkaClientOptions Client() const { return KafkaClientOptions{bootstrap, cfg().kafka.properties}; }
  // The config the services were started with. Settings such as the listen address or the Kafka
  // group only take effect at start; what can change at run time is read from `config`.
  const Config& cfg() const { return *start_config; }
  std::shared_ptr<const Config> start_config;
  std::atomic<bool> started{false};
};

Daemon::Daemon(Config config, const Clock& clock) : impl_(std::make_unique<Impl>(std::move(config), clock)) {}
Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  Impl& d = *impl_;
  if (!d.services_added) {
    // In start order; Stop runs the stops in reverse: inputs first (replay, then the consumer,
    // which applies what it fetched and commits), then the API, the subscribers, the forecast
    // workers, and the embedded broker last.
    d.lifecycle.Add("memory trimmer", [&d] { d.trimmer.Start(); return Status::Ok(); }, [&d] { d.trimmer.Stop(); });
    d.lifecycle.Add("brick model", [&d] { return d.LoadBrickModel(); }, nullptr);
    d.lifecycle.Add("kafka broker", [&d] { return d.StartBroker(); }, [&d] { d.broker.reset(); });
    d.lifecycle.Add("dead letters", [&d] { return d.OpenDeadLetters(); }, [&d] { d.dead_letters.reset(); });
    d.lifecycle.Add("kafka outputs", [&d] { return d.StartOutputs(); }, [&d] {
      if (d.output_producer) (void)d.output_producer->Flush(std::chrono::seconds(5));
      d.output_producer.reset();
    });
    d.lifecycle.Add("ingest", [&d] { return d.StartIngest(); }, nullptr);
    d.lifecycle.Add("forecast", [&d] { return d.StartForecast(); }, [&d] {
      if (d.forecast) d.forecast->Stop();
    });
    d.lifecycle.Add("rules and alerts", [&d] { return d.StartAlerts(); }, nullptr);
    // Stopped after the subscriptions (the last alert transitions are in) and before the forecast
    // workers: due groups are flushed and pending notifications get a last chance to go out.
    d.lifecycle.Add("notifications", [&d] { return d.StartNotifications(); }, [&d] { d.StopNotifications(); });
    d.lifecycle.Add("event subscriptions", [&d] { return d.Subscribe(); }, [&d] { d.subscriptions.clear(); });
    d.lifecycle.Add("http", [this] { return StartHttp(); }, [&d] {
      if (d.http) d.http->Stop();
    });
    d.lifecycle.Add("kafka consumer", [&d] { return d.StartKafka(); }, [&d] {
      // Bounded whatever the broker does: a quarter of the shutdown grace, at most 10 s.
      if (d.kafka) d.kafka->Stop(std::chrono::milliseconds(std::min<int64_t>(10'000, d.cfg().shutdown_grace_seconds * 250)));
    });
    d.lifecycle.Add("replay", [&d] { return d.StartReplay(); }, [&d] {
      if (d.replay) d.replay->Stop();
      if (d.replay_producer) (void)d.replay_producer->Flush(std::chrono::seconds(5));
      d.replay_producer.reset();
    });
    d.services_added = true;
  }
  BRICKCAST_RETURN_IF_ERROR(d.lifecycle.Start());  // a failure stops what had started
  d.started = true;
  spdlog::info("brickcast serving site={} api=http://{}:{}/", d.cfg().site.name, d.cfg().http.host, d.http->port());
  return Status::Ok();
}

Status Daemon::Impl::LoadBrickModel() {
  const auto t0 = std::chrono::steady_clock::now();
  if (!cfg().brick.ontology.empty()) BRICKCAST_RETURN_IF_ERROR(classes->LoadOntology(cfg().brick.ontology));
  auto loaded = std::make_shared<BrickModel>(classes);
  for (const std::string& f : cfg().brick.models) BRICKCAST_RETURN_IF_ERROR(loaded->LoadFile(f));
  registry = std::make_unique<PointRegistry>(classes);
  registry->LoadModel(*loaded);
  model.Set(loaded);
  spdlog::info("brick model loaded files={} entities={} points={} classes={} ms={}", cfg().brick.models.size(),
               loaded->size(), registry->size(), classes->size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
  return Status::Ok();
}

Status Daemon::Impl::StartBroker() {
  const KafkaConfig& kc = cfg().kafka;
  if (kc.brokers != "embedded") {
    bootstrap = kc.brokers;
    return Status::Ok();
  }
  std::vector<std::string> topics = kc.topics;
  if (!kc.dead_letter_topic.empty()) topics.push_back(kc.dead_letter_topic);
  if (!kc.alerts_topic.empty()) topics.push_back(kc.alerts_topic);
  if (!kc.forecasts_topic.empty()) topics.push_back(kc.forecasts_topic);
  if (!kc.alert_changelog_topic.empty()) topics.push_back(kc.alert_changelog_topic);  // co-partitioned
  auto started_broker = EmbeddedBroker::Start(kc.embedded_brokers, topics, kc.embedded_partitions);
  if (!started_broker.ok()) return started_broker.status();
  broker = std::move(*started_broker);
  bootstrap = broker->bootstrap();
  spdlog::info("embedded kafka bootstrap={} (produce with: kcat -b {} -P -t {} -K: )", bootstrap, bootstrap,
               kc.topics.front());
  if (!kc.embedded_address_file.empty()) std::ofstream(kc.embedded_address_file, std::ios::trunc) << bootstrap << '\n';
  return Status::Ok();
}

Status Daemon::Impl::OpenDeadLetters() {
  Status st;
  if (!cfg().kafka.dead_letter_topic.empty() && !bootstrap.empty()) {
    dead_letters = NewKafkaDeadLetterSink(Client(), cfg().kafka.dead_letter_topic, &st);
  } else if (!cfg().ingest.dead_letter_file.empty()) {
    dead_letters = NewJsonlDeadLetterSink(cfg().ingest.dead_letter_file, &st);
  }
  return st;
}

Status Daemon::Impl::StartOutputs() {
  const KafkaConfig& kc = cfg().kafka;
  if (bootstrap.empty() || (kc.alerts_topic.empty() && kc.forecasts_topic.empty())) return Status::Ok();
  auto producer = KafkaProducer::Create(Client());  // idempotent: retries neither duplicate nor reorder
  if (!producer.ok()) return producer.status().WithContext("kafka outputs");
  output_producer = std::move(*producer);
  metrics.Register("kafka outputs", [this](MetricWriter& w) {
    w.Counter("brickcast_kafka_outputs_delivered_total", "Alert and forecast messages the broker acknowledged.",
              static_cast<double>(output_producer ? output_producer->delivered() : 0));
    w.Counter("brickcast_kafka_outputs_failed_total", "Alert and forecast messages that could not be delivered.",
              static_cast<double>(output_producer ? output_producer->failed() : 0));
  });
  return Status::Ok();
}

void Daemon::Impl::PublishOutput(const Event& e) {
  const KafkaConfig& kc = cfg().kafka;
  if (const auto* a = std::get_if<AlertChanged>(&e)) {
    if (kc.alerts_topic.empty() || (a->to != "firing" && a->to != "resolved")) return;
    auto view = alerts->Get(a->alert);
    if (!view) return;
    const std::string external = config.Get()->notify.external_url;
    const std::string body = notify::WebhookV4AlertJson(NotifyAlert::From(view->alert, cfg().site.name), external);
    if (Status st = output_producer->Produce(kc.alerts_topic, a->alert, body); !st.ok())
      spdlog::warn("kafka outputs: alert {}: {}", a->alert, st.message());
  } else if (const auto* f = std::get_if<ForecastProduced>(&e)) {
    if (kc.forecasts_topic.empty() || !f->forecast || f->forecast->status != ForecastStatus::kOk) return;
    auto info = registry->Get(f->point);
    const std::string equipment = info && !info->equipment.empty() ? info->equipment : f->point;
    const UnitInfo* u = info ? FindUnit(info->unit) : nullptr;
    std::string body;
    if (kc.forecasts_format == "turtle") {
      body = ForecastToTurtle(*f->forecast, equipment, u ? std::string(QudtNameOfStored(u->si_symbol)) : "");
    } else {
      nlohmann::json j = ForecastToJson(*f->forecast);
      j["equipment"] = equipment;
      if (u) j["unit"] = std::string(u->si_symbol);
      body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (Status st = output_producer->Produce(kc.forecasts_topic, equipment, body); !st.ok())
      spdlog::warn("kafka outputs: forecast of {}: {}", f->point, st.message());
  }
}

Status Daemon::Impl::StartIngest() {
  ingestor = std::make_unique<Ingestor>(parser, *registry, store, cfg().ingest.accept_unknown_points,
                                        dead_letters.get(), clock);
  ingestor->PublishTo(&events);
  return Status::Ok();
}

Status Daemon::StartHttp() {
  Impl& d = *impl_;
  ApiServices services;
  services.config = &d.config;
  services.model = &d.model;
  services.registry = d.registry.get();
  services.store = &d.store;
  services.ingestor = d.ingestor.get();
  services.forecast = d.forecast.get();
  services.rules = &d.rules;
  services.rule_engine = d.rule_engine.get();
  services.alerts = d.alerts.get();
  services.clock = &d.clock;
  services.metrics = &d.metrics;
  services.live_events = &d.live_events;
  services.reload = [this] { return Reload(); };
  services.reload_counters = [this] { return reload_counters(); };
  services.notifications = [&d] { return d.Notifications(); };
  services.reload_model = [this]() { return ReloadForecastModel(); };
  services.ready = [this, alerts = d.alerts.get()](std::string* why) {
    if (!impl_->started) {
      *why = "starting";
      return false;
    }
    // Alerts that cannot be saved would not survive a restart: not ready until writes succeed.
    if (const std::string err = alerts != nullptr ? alerts->Counters().store_error : ""; !err.empty()) {
      *why = "alert database: " + err;
      return false;
    }
    return impl_->kafka == nullptr || impl_->kafka->Ready(why);
  };
  services.kafka_stats = [this]() -> std::optional<KafkaSourceStats> {
    if (impl_->kafka == nullptr) return std::nullopt;
    return impl_->kafka->Stats();
  };
  d.RegisterMetrics();
  const HttpConfig& hc = d.cfg().http;
  auto router = std::make_shared<const Router>(BuildApiRouter(services));
  HttpServerOptions options{hc.host, hc.port, hc.threads, hc.max_body_bytes};
  options.tls_cert_file = hc.tls_cert_file;
  options.tls_key_file = hc.tls_key_file;
  d.http = std::make_unique<HttpServer>(options,
                                        [router](const HttpRequest& r) { return router->Handle(r); });
  return d.http->Start();
}

Status Daemon::Impl::StartForecast() {
  const ForecastConfig& fc = cfg().forecast;
  if (!fc.enabled) return Status::Ok();
  ForecastServiceOptions options = ForecastOptionsFromConfig(cfg());
  options.events = &events;
  options.clock = &clock;
  forecast = std::make_unique<ForecastService>(store, options);
  if (!fc.model.empty()) {
    // A model that does not load is a configuration error: refuse to start rather than forecast
    // silently with the fallback.
    Status st = forecast->LoadModel(fc.model);
    if (!st.ok()) return st.WithContext("forecast.model");
  } else {
    spdlog::warn("forecast.model is \"none\": every forecast is seasonal naive");
  }
  return forecast->Start();
}

// Rules are loaded and resolved against the Brick model, the alert database opened and its
// alerts restored, before any data flows.
Status Daemon::Impl::StartAlerts() {
  const Config& c = cfg();
  auto loaded = LoadRules(c.rules);
  if (!loaded.ok()) return loaded.status();
  rules.Set(*loaded);
  std::unique_ptr<AlertStore> alert_store;
  if (c.alerts.database.empty()) {
    spdlog::warn("alerts.database is \"\": alert state and history are kept in memory only");
    alert_store = NewMemoryAlertStore();
  } else {
    auto opened = OpenSqliteAlertStore(c.alerts.database);
    if (!opened.ok()) return opened.status();
    alert_store = std::move(*opened);
  }
  AlertManagerOptions o;
  o.clock = &clock;
  o.events = &events;
  o.zone = c.site.zone;
  o.retention_ms = c.alerts.retention_days * 86'400'000;
  o.retention_rows = c.alerts.retention_transitions;
  // With a changelog, alert state comes with the partitions this instance is assigned.
  o.restore_alerts = c.kafka.alert_changelog_topic.empty() || bootstrap.empty();
  for (size_t i = 0; i < c.alerts.mute_windows.size(); ++i) {
    const MuteWindowConfig& m = c.alerts.mute_windows[i];
    MuteWindow w{m.name, m.weekdays, m.start_minute, m.end_minute, AlertMatchers{m.matchers}};
    for (const auto& [label, value] : m.matchers) {
      const auto& names = AlertMatchers::Names();
      if (std::find(names.begin(), names.end(), label) == names.end())
        return Status::InvalidArgument("config: /alerts/mute_windows/" + std::to_string(i) + "/matchers/" + label +
                                       ": unknown label (rule, equipment, class, severity, kind, predicted)");
    }
    o.mute_windows.push_back(std::move(w));
  }
  alerts = std::make_unique<AlertManager>(std::move(alert_store), o);
  BRICKCAST_RETURN_IF_ERROR(alerts->Restore());
  alerts->Prune();
  ForecastService* service = forecast.get();
  ForecastLookup lookup;
  if (service != nullptr) lookup = [service](const std::string& point) { return service->Get(point); };
  rule_engine = std::make_unique<RuleEngine>(store, std::move(lookup), *registry, *alerts);
  rule_engine->SetRules(rules.Get(), model.Get());
  if (!c.kafka.alert_changelog_topic.empty() && !bootstrap.empty()) {
    BRICKCAST_RETURN_IF_ERROR(CheckChangelogPartitions());
    AlertChangelogOptions co;
    co.client = Client();
    co.topic = c.kafka.alert_changelog_topic;
    co.instance = EffectiveInstanceId(c.kafka);
    co.clock = &clock;
    auto made = AlertChangelog::Create(co, *alerts, *rule_engine, [this] { return Notifications(); });
    if (!made.ok()) return made.status();
    changelog = std::move(*made);
    spdlog::info("alert state follows the partitions through {}", co.topic);
  }
  return Status::Ok();
}

// The changelog is co-partitioned with the input: partition p of one holds the alerts of
// partition p of the other, so their partition counts must match. A cluster that cannot be asked
// now is no reason to refuse the start (the consumer waits for it too).
Status Daemon::Impl::CheckChangelogPartitions() {
  const KafkaConfig& kc = cfg().kafka;
  auto changelog_partitions = TopicPartitionCount(Client(), kc.alert_changelog_topic);
  if (changelog_partitions.status().code() == StatusCode::kNotFound)
    return Status::InvalidArgument("kafka.alert_changelog_topic: topic " + kc.alert_changelog_topic +
                                   " does not exist; create it with the input topic's partition count "
                                   "(cleanup.policy=compact)");
  if (!changelog_partitions.ok()) {
    spdlog::warn("alert changelog: cannot check the partitions of {}: {}", kc.alert_changelog_topic,
                 changelog_partitions.status().message());
    return Status::Ok();
  }
  for (const std::string& topic : kc.topics) {
    if (!topic.empty() && topic[0] == '^') continue;  // a pattern: its topics are not known yet
    auto input = TopicPartitionCount(Client(), topic);
    if (input.ok() && *input != *changelog_partitions)
      return Status::InvalidArgument("kafka.alert_changelog_topic: " + kc.alert_changelog_topic + " has " +
                                     std::to_string(*changelog_partitions) + " partitions and input topic " + topic +
                                     " has " + std::to_string(*input) +
                                     "; they must match (alert state follows the input partitions)");
  }
  return Status::Ok();
}

StatusOr<std::shared_ptr<NotificationService>> Daemon::Impl::MakeNotifications(const Config& c) {
  NotificationServiceOptions o;
  o.clock = &clock;
  o.site = c.site.name;
  if (changelog) {
    AlertChangelog* log = changelog.get();
    o.on_told = [log](const std::vector<ToldAlert>& told) { log->OnTold(told); };
  }
  auto made = NotificationService::Create(c.notify, alerts.get(), o);
  if (!made.ok()) return made.status();
  return std::shared_ptr<NotificationService>(std::move(*made));
}

Status Daemon::Impl::StartNotifications() {
  auto made = MakeNotifications(cfg());
  if (!made.ok()) return made.status();
  BRICKCAST_RETURN_IF_ERROR((*made)->Start());
  if (!cfg().notify.receivers.empty())
    spdlog::info("notifications: {} receivers, outbox in {}", cfg().notify.receivers.size(),
                 cfg().alerts.database.empty() ? "memory" : cfg().alerts.database);
  std::lock_guard<std::mutex> lock(notify_mu);
  notifications = std::move(*made);
  return Status::Ok();
}

void Daemon::Impl::StopNotifications() {
  std::shared_ptr<NotificationService> n;
  {
    std::lock_guard<std::mutex> lock(notify_mu);
    n = std::move(notifications);
  }
  // Due notifications get half the shutdown grace to go out; the rest wait in the outbox.
  if (n) n->Stop(std::max<int64_t>(1'000, cfg().shutdown_grace_seconds * 500));
}

// Every module's collector, in the order /metrics lists them (the Kafka consumer registers its own
// when it starts, after the API).
void Daemon::Impl::RegisterMetrics() {
  metrics.Register("ingest", [this](MetricWriter& w) { CollectIngestMetrics(*ingestor, w); });
  metrics.Register("logging", [](MetricWriter& w) {
    w.Counter("brickcast_log_lines_suppressed_total",
              "Log lines left out as repeats (more than 10 of one shape in 10 s; a summary line says how many).",
              static_cast<double>(SuppressedLogLines()));
  });
  metrics.Register("memory", [this](MetricWriter& w) { CollectProcessMemoryMetrics(&trimmer, w); });
  metrics.Register("store", [this](MetricWriter& w) { CollectStoreMetrics(store, w); });
  metrics.Register("registry", [this](MetricWriter& w) { registry->CollectMetrics(w); });
  if (forecast) metrics.Register("forecast", [this](MetricWriter& w) { CollectForecastMetrics(*forecast, w); });
  metrics.Register("rules", [this](MetricWriter& w) { CollectRuleMetrics(*rule_engine, w); });
  metrics.Register("alerts", [this](MetricWriter& w) { CollectAlertMetrics(*alerts, w); });
  if (changelog) metrics.Register("alert changelog", [this](MetricWriter& w) { changelog->Collect(w); });
  metrics.Register("notifications", [this](MetricWriter& w) {
    if (auto n = Notifications()) n->Collect(w);
  });
  metrics.Register("reload", [this](MetricWriter& w) {
    std::lock_guard<std::mutex> lock(reload_mu);
    w.Counter("brickcast_reloads_total", "Reloads asked for (SIGHUP or POST /api/v1/reload).",
              static_cast<double>(reloads.reloads));
    w.Counter("brickcast_reload_failures_total", "Reloads refused: nothing applied, the running configuration stays.",
              static_cast<double>(reloads.failures));
  });
}

Status Daemon::Impl::Subscribe() {
  // The forecast scheduler sees every applied observation (it must not miss a closed step).
  if (forecast) {
    ForecastService* service = forecast.get();
    subscriptions.push_back(events.Subscribe(
        "forecast", {EventKind<ObservationsApplied>(), EventKind<PartitionsRevoked>()},
        [service](const Event& e) {
          if (const auto* a = std::get_if<ObservationsApplied>(&e)) service->NotifyData(a->points);
          if (const auto* r = std::get_if<PartitionsRevoked>(&e)) service->Drop(r->points);
        },
        4096, Overflow::kBlock));
  }
  // Data time per air-handling system. A message carries one system's points (the partition key),
  // so its newest time is that system's.
  DataWatermark* marks = &watermark;
  const Snapshot<BrickModel>* brick_model = &model;
  PointRegistry* reg = registry.get();
  subscriptions.push_back(events.Subscribe(
      "watermark", {EventKind<ObservationsApplied>()},
      [marks, brick_model, reg](const Event& e) {
        const auto& a = std::get<ObservationsApplied>(e);
        const std::shared_ptr<const BrickModel> brick = brick_model->Get();
        std::string system;
        for (const std::string& p : a.points) {
          auto info = reg->Get(p);
          const std::string owner = info && !info->equipment.empty() ? info->equipment : p;
          const std::string s = brick->Find(owner) != nullptr ? brick->SystemOf(owner) : owner;
          if (s == system) continue;  // most messages hold one system
          system = s;
          marks->Advance(system, a.latest_time);
        }
      },
      4096, Overflow::kBlock));
  // Rules run on closed steps and fresh forecasts; a revoked partition's systems are forgotten.
  // Old alert history is pruned about once an hour of wall time.
  RuleEngine* engine = rule_engine.get();
  AlertManager* alert_manager = alerts.get();
  const Clock* wall = &clock;
  auto last_prune = std::make_shared<UnixMillis>(clock.Now());
  const int64_t notify_retention_ms = cfg().notify.retention_days * 86'400'000;
  subscriptions.push_back(events.Subscribe(
      "rules", {EventKind<ObservationsApplied>(), EventKind<ForecastProduced>(), EventKind<PartitionsRevoked>()},
      [engine, alert_manager, wall, last_prune, notify_retention_ms](const Event& e) {
        if (const auto* a = std::get_if<ObservationsApplied>(&e)) engine->OnObservations(*a);
        if (const auto* f = std::get_if<ForecastProduced>(&e)) engine->OnForecast(*f);
        if (const auto* r = std::get_if<PartitionsRevoked>(&e)) engine->Drop(r->points);
        if (wall->Now() - *last_prune > 3'600'000) {
          *last_prune = wall->Now();
          alert_manager->Prune();
          if (Status st = alert_manager->outbox().Prune(*last_prune - notify_retention_ms); !st.ok())
            spdlog::warn("notifications: cannot prune the outbox: {}", st.message());
        }
      },
      4096, Overflow::kBlock));
  rules_subscription = subscriptions.back().get();
  // Scale-out: alert transitions to the changelog, with the partition each point comes from.
  if (changelog) {
    AlertChangelog* log = changelog.get();
    subscriptions.push_back(events.Subscribe(
        "alert changelog", {EventKind<ObservationsApplied>(), EventKind<AlertChanged>()},
        [log](const Event& e) { log->OnEvent(e); }, 65536, Overflow::kBlock));
    changelog_subscription = subscriptions.back().get();
  }
  // Every alert transition reaches the notification pipeline (blocking: none may be lost).
  subscriptions.push_back(events.Subscribe(
      "notifications", {EventKind<AlertChanged>()},
      [this](const Event& e) {
        if (auto n = Notifications()) n->OnAlertChanged(std::get<AlertChanged>(e));
      },
      4096, Overflow::kBlock));
  // Alert transitions and forecasts out to Kafka for BMS and data platforms. A broker slower than
  // the rules loses the oldest (counted), never slows them.
  if (output_producer) {
    subscriptions.push_back(events.Subscribe(
        "kafka outputs", {EventKind<AlertChanged>(), EventKind<ForecastProduced>()},
        [this](const Event& e) { PublishOutput(e); }, 65536, Overflow::kDropOldest));
  }
  // The live view of the dashboard and scripts: a burst may push its oldest events out (streams
  // then tell their clients to reload), but it never slows the rules.
  LiveEvents* live = &live_events;
  subscriptions.push_back(events.Subscribe(
      "live events", {EventKind<AlertChanged>(), EventKind<ForecastProduced>()},
      [live](const Event& e) { live->OnEvent(e); }, 4096, Overflow::kDropOldest));
  // A revoked partition's points leave the registry too, unless the static model declares them.
  PointRegistry* points = registry.get();
  subscriptions.push_back(events.Subscribe(
      "registry", {EventKind<PartitionsRevoked>()},
      [points](const Event& e) {
        const auto& r = std::get<PartitionsRevoked>(e);
        const size_t n = points->DropStreamPoints(r.points);
        if (n > 0) spdlog::info("registry: forgot {} points of revoked partitions", n);
      },
      64, Overflow::kBlock));
  return Status::Ok();
}

Status Daemon::Impl::StartKafka() {
  if (bootstrap.empty()) return Status::Ok();
  KafkaSourceOptions o;
  o.client = Client();
  o.topics = cfg().kafka.topics;
  o.group_id = cfg().kafka.group_id;
  o.commit_interval_ms = cfg().kafka.commit_interval_ms;
  const int64_t window_s = cfg().store.step_seconds * static_cast<int64_t>(cfg().store.window_steps);
  o.rebuild = std::chrono::seconds(cfg().kafka.rebuild_seconds >= 0 ? cfg().kafka.rebuild_seconds : window_s);
  const std::string& from = cfg().kafka.rebuild_from;
  o.rebuild_from = from == "log_start" || (from == "auto" && broker) ? KafkaSourceOptions::RebuildFrom::kLogStart
                                                                     : KafkaSourceOptions::RebuildFrom::kTime;
  o.queue_messages = cfg().kafka.queue_messages;
  o.fetch_wait_max_ms = cfg().kafka.fetch_wait_max_ms;
  o.session_timeout_ms = EffectiveSessionTimeoutMs(cfg().kafka);
  o.group_instance_id = EffectiveInstanceId(cfg().kafka);
  o.clock = &clock;
  if (changelog) {
    // A partition's alerts arrive before its data; they leave once its data is evaluated and
    // their last state is written.
    o.on_assign = [this](const std::vector<int32_t>& partitions) { changelog->Restore(partitions); };
    o.on_revoke = [this](const std::vector<int32_t>& partitions) {
      if (rules_subscription) rules_subscription->Drain();
      if (changelog_subscription) changelog_subscription->Drain();
      changelog->Handover(partitions);
    };
  }
  kafka = std::make_unique<KafkaSource>(o, *ingestor, store, &events);
  BRICKCAST_RETURN_IF_ERROR(kafka->Start());
  KafkaSource* consumer = kafka.get();
  metrics.Register("kafka", [consumer](MetricWriter& w) { CollectKafkaMetrics(*consumer, w); });
  return Status::Ok();
}

Status Daemon::Impl::StartReplay() {
  if (cfg().replay.files.empty()) return Status::Ok();
  // The replay thread reads each message's time (and Kafka key) with a parser of its own.
  auto keyer_parser = std::make_shared<StreamParser>(ParserOptionsFromConfig(cfg()));
  // Key: the air-handling system, from the model in force when the replay starts.
  std::shared_ptr<const BrickModel> brick = model.Get();
  auto keyer = std::make_shared<MessageKeyer>(*keyer_parser, brick.get());
  ReplaySink sink;
  ReplayGate gate;
  if (cfg().replay.to_kafka) {
    auto producer = KafkaProducer::Create(Client());
    if (!producer.ok()) return producer.status().WithContext("replay");
    replay_producer = std::move(*producer);
    const std::string topic = cfg().kafka.topics.front();
    auto published = std::make_shared<std::atomic<uint64_t>>(0);  // payload bytes
    sink.summarize = [keyer, keyer_parser, brick](std::string_view message) { return keyer->Summarize(message); };
    sink.send = [this, topic, published](std::string&& message, const MessageSummary& m, const std::string& source) {
      Status st = replay_producer->Produce(topic, m.key, message);
      if (st.ok()) published->fetch_add(message.size());
      else spdlog::warn("replay: {} not published: {}", source, st.message());
    };
    // Publish once our consumer holds its partitions (so the replay the user watches follows data
    // time from its first message), and keep what is published but not yet fetched under
    // kReplayBacklogBytes, well below the embedded broker's 5 MiB per partition even when every
    // message has one key: the demo then loses nothing at any replay speed.
    if (kafka) {
      KafkaSource* consumer = kafka.get();
      gate = [consumer, published]() {
        const KafkaSourceStats s = consumer->Stats();
        return !s.assigned.empty() && published->load() < s.bytes + kReplayBacklogBytes;
      };
    }
  } else {
    if (cfg().replay.speed > 0) {
      sink.summarize = [keyer, keyer_parser, brick](std::string_view message) { return keyer->Summarize(message); };
    }
    sink.send = [this](std::string&& message, const MessageSummary&, const std::string& source) {
      ingestor->IngestMessage(message, source);
    };
  }
  replay = std::make_unique<FileReplaySource>(cfg().replay, std::move(sink), std::move(gate));
  return replay->Start();
}

void Daemon::Stop() {
  impl_->lifecycle.Stop(std::chrono::seconds(impl_->cfg().shutdown_grace_seconds));
  impl_->started = false;
}

int Daemon::http_port() const { return impl_->http ? impl_->http->port() : 0; }
const std::string& Daemon::kafka_bootstrap() const { return impl_->bootstrap; }
bool Daemon::replay_finished() const { return !impl_->replay || impl_->replay->finished(); }
std::shared_ptr<const Config> Daemon::config() const { return impl_->config.Get(); }
std::shared_ptr<const BrickModel> Daemon::model() const { return impl_->model.Get(); }
PointRegistry& Daemon::registry() { return *impl_->registry; }
SeriesStore& Daemon::store() { return impl_->store; }
Ingestor& Daemon::ingestor() { return *impl_->ingestor; }
ForecastService* Daemon::forecast() { return impl_->forecast.get(); }
AlertManager& Daemon::alerts() { return *impl_->alerts; }
RuleEngine& Daemon::rule_engine() { return *impl_->rule_engine; }
EventBus& Daemon::events() { return impl_->events; }
const DataWatermark& Daemon::watermark() const { return impl_->watermark; }

namespace {

// Settings a reload puts in force; every other change waits for a restart (the listen address,
// Kafka, the store's shape, ...).
bool AppliedAtReload(const std::string& pointer) {
  for (const char* prefix : {"/rules", "/brick/models", "/forecast/model", "/http/tokens", "/http/tokens_file",
                             "/log/level", "/log/format", "/notify"}) {
    const std::string p(prefix);
    if (pointer == p || pointer.rfind(p + "/", 0) == 0) return true;
  }
  return false;
}

// The JSON pointers whose values differ between two effective configs (leaves, or whole arrays).
void ChangedPointers(const nlohmann::json& before, const nlohmann::json& after, const std::string& at,
                     std::vector<std::string>* out) {
  if (before.is_object() && after.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : before.items()) keys.insert(k);
    for (const auto& [k, v] : after.items()) keys.insert(k);
    for (const std::string& k : keys) {
      ChangedPointers(before.contains(k) ? before[k] : nlohmann::json(), after.contains(k) ? after[k] : nlohmann::json(),
                      at + "/" + k, out);
    }
    return;
  }
  if (before != after) out->push_back(at);
}

}  // namespace

ReloadReport Daemon::Reload() {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.reload_mu);
  ReloadReport report;
  report.time = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  auto finish = [&]() {
    ++d.reloads.reloads;
    if (!report.ok) ++d.reloads.failures;
    d.reloads.last = report;
    auto join = [](const std::vector<std::string>& v, const char* sep) {
      std::string out;
      for (const std::string& x : v) out += (out.empty() ? "" : sep) + x;
      return out;
    };
    if (report.ok) {
      spdlog::info("reload: applied {} changed settings{}{}", report.applied.size(),
                   report.needs_restart.empty() ? "" : "; these need a restart: ", join(report.needs_restart, ", "));
    } else {
      spdlog::error("reload failed, the running configuration stays: {}", join(report.errors, "; "));
    }
    return report;
  };
  const std::shared_ptr<const Config> running = d.config.Get();
  if (running->path.empty()) {
    report.errors.push_back("the daemon was not started from a config file: nothing to re-read");
    return finish();
  }
  // 1. Validate everything: the config, its rule files, its Brick models.
  auto loaded = LoadConfigFile(running->path);
  if (!loaded.ok()) {
    report.errors.push_back(loaded.status().message());
    return finish();
  }
  auto next = std::make_shared<Config>(std::move(*loaded));
  next->replay = running->replay;  // command-line replay files and speed are the start's
  auto rules = LoadRules(next->rules);
  if (!rules.ok()) report.errors.push_back(rules.status().message());
  auto brick = std::make_shared<BrickModel>(d.classes);
  for (const std::string& f : next->brick.models) {
    if (Status st = brick->LoadFile(f); !st.ok()) report.errors.push_back(st.message());
  }
  if (!report.errors.empty()) return finish();
  std::vector<std::string> changed;
  ChangedPointers(nlohmann::json::parse(running->effective_json, nullptr, false),
                  nlohmann::json::parse(next->effective_json, nullptr, false), "", &changed);
  for (const std::string& p : changed) {
    if (p.rfind("/replay", 0) == 0) continue;
    (AppliedAtReload(p) ? report.applied : report.needs_restart).push_back(p);
  }
  // 2. The forecast model is loaded and swapped first: the one step that can still fail, and on
  // failure the service keeps its model, so nothing has changed yet.
  if (d.forecast && next->forecast.enabled && !next->forecast.model.empty()) {
    if (Status st = d.forecast->LoadModel(next->forecast.model); !st.ok()) {
      report.errors.push_back("forecast.model: " + st.message());
      report.applied.clear();
      report.needs_restart.clear();
      return finish();
    }
  }
  // Receivers and routes are rebuilt now (a bad route is an error here); a plugin that fails to
  // load is reported on its receiver, as at start.
  std::shared_ptr<NotificationService> next_notifications;
  const bool notify_changed = std::any_of(changed.begin(), changed.end(),
                                          [](const std::string& p) { return p.rfind("/notify", 0) == 0; });
  if (notify_changed) {
    auto made = d.MakeNotifications(*next);
    if (!made.ok()) {
      report.errors.push_back(made.status().message());
      report.applied.clear();
      report.needs_restart.clear();
      return finish();
    }
    next_notifications = std::move(*made);
  }
  // 3. Apply the rest, which cannot fail.
  d.registry->LoadModel(*brick);
  d.model.Set(brick);
  d.rules.Set(*rules);
  if (d.rule_engine) d.rule_engine->SetRules(*rules, brick);
  if (next->log.level != running->log.level || next->log.format != running->log.format)
    (void)SetupLogging(next->log.level, next->log.format);
  d.config.Set(next);  // tokens, and whatever reads the config at run time
  if (next_notifications) {
    // The old service hands over through the outbox and its group log: what it had queued is
    // delivered by the new one.
    d.StopNotifications();
    if (Status st = next_notifications->Start(); !st.ok()) spdlog::error("notifications: {}", st.message());
    std::lock_guard<std::mutex> nlock(d.notify_mu);
    d.notifications = std::move(next_notifications);
  }
  d.events.Publish(ConfigReloaded{next->path});
  report.ok = true;
  return finish();
}

ReloadCounters Daemon::reload_counters() const {
  std::lock_guard<std::mutex> lock(impl_->reload_mu);
  return impl_->reloads;
}

Status Daemon::ReloadForecastModel() {
  if (!impl_->forecast) return Status::FailedPrecondition("forecasting is disabled (forecast.enabled is false)");
  const std::shared_ptr<const Config> config = impl_->config.Get();
  if (config->forecast.model.empty()) return Status::FailedPrecondition("forecast.model is \"none\"");
  return impl_->forecast->LoadModel(config->forecast.model);
}

}  // namespace brickcast
