#include "brickcast/daemon.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "app/file_replay_source.h"
#include "server/api_handlers.h"
#include "server/http_server.h"

namespace brickcast {

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

struct Daemon::Impl {
  explicit Impl(Config c)
      : config(std::move(c)),
        classes(ClassHierarchy::BuiltIn()),
        store(SeriesOptionsFromConfig(config.store)),
        parser(ParserOptionsFromConfig(config)) {}

  Config config;
  std::shared_ptr<ClassHierarchy> classes;
  std::unique_ptr<BrickModel> model;
  std::unique_ptr<PointRegistry> registry;
  SeriesStore store;
  StreamParser parser;
  std::unique_ptr<DeadLetterSink> dead_letters;
  std::unique_ptr<Ingestor> ingestor;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<FileReplaySource> replay;
  std::atomic<bool> started{false};
};

Daemon::Daemon(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  Impl& d = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  if (!d.config.brick.ontology.empty()) BRICKCAST_RETURN_IF_ERROR(d.classes->LoadOntology(d.config.brick.ontology));
  d.model = std::make_unique<BrickModel>(d.classes);
  for (const std::string& f : d.config.brick.models) BRICKCAST_RETURN_IF_ERROR(d.model->LoadFile(f));
  d.registry = std::make_unique<PointRegistry>(d.classes);
  d.registry->LoadModel(*d.model);
  spdlog::info("brick model loaded files={} entities={} points={} classes={} ms={}", d.config.brick.models.size(),
               d.model->size(), d.registry->size(), d.classes->size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());

  if (!d.config.ingest.dead_letter_file.empty()) {
    Status st;
    d.dead_letters = NewJsonlDeadLetterSink(d.config.ingest.dead_letter_file, &st);
    BRICKCAST_RETURN_IF_ERROR(st);
  }
  d.ingestor = std::make_unique<Ingestor>(d.parser, *d.registry, d.store, d.config.ingest.accept_unknown_points,
                                          d.dead_letters.get());

  d.http = std::make_unique<HttpServer>(HttpServerOptions{d.config.http.host, d.config.http.port,
                                                          d.config.http.threads, d.config.http.max_body_bytes});
  ApiServices services;
  services.config = &d.config;
  services.model = d.model.get();
  services.registry = d.registry.get();
  services.store = &d.store;
  services.ingestor = d.ingestor.get();
  services.started_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  services.ready = [this](std::string* why) {
    if (!impl_->started) {
      *why = "starting";
      return false;
    }
    return true;
  };
  RegisterApiRoutes(*d.http, services);
  BRICKCAST_RETURN_IF_ERROR(d.http->Start());

  if (!d.config.replay.files.empty()) {
    d.replay = std::make_unique<FileReplaySource>(d.config.replay, *d.ingestor);
    Status st = d.replay->Start();
    if (!st.ok()) {
      d.http->Stop();
      return st;
    }
  }
  d.started = true;
  spdlog::info("brickcast serving site={} api=http://{}:{}/", d.config.site.name, d.config.http.host, d.http->port());
  return Status::Ok();
}

void Daemon::Stop() {
  Impl& d = *impl_;
  // Inputs first, so nothing arrives while the rest shuts down.
  if (d.replay) d.replay->Stop();
  if (d.http) d.http->Stop();
  d.started = false;
}

int Daemon::http_port() const { return impl_->http ? impl_->http->port() : 0; }
bool Daemon::replay_finished() const { return !impl_->replay || impl_->replay->finished(); }
const Config& Daemon::config() const { return impl_->config; }
const BrickModel& Daemon::model() const { return *impl_->model; }
PointRegistry& Daemon::registry() { return *impl_->registry; }
SeriesStore& Daemon::store() { return impl_->store; }
Ingestor& Daemon::ingestor() { return *impl_->ingestor; }

}  // namespace brickcast
