// Daemon: the long-running `serve` process, assembled from a Config. It owns every module and
// its threads; it never touches signals (main does), so tests can embed it, bind port 0 and ask
// for the port. Start/Stop from one thread; accessors are safe once Start() has returned OK.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brickcast/alerts.h"
#include "brickcast/brick_model.h"
#include "brickcast/rule_engine.h"
#include "brickcast/clock.h"
#include "brickcast/events.h"
#include "brickcast/config.h"
#include "brickcast/forecast_service.h"
#include "brickcast/ingestor.h"
#include "brickcast/point_registry.h"
#include "brickcast/series_store.h"
#include "brickcast/status.h"

namespace brickcast {

// What a reload did: applied everything (ok) or nothing (errors); settings that changed in the
// file but only take effect at a restart are listed, not silently ignored.
struct ReloadReport {
  bool ok = false;
  UnixMillis time = 0;  // wall time
  std::vector<std::string> errors;         // why nothing was applied
  std::vector<std::string> applied;        // JSON pointers of changed settings now in force
  std::vector<std::string> needs_restart;  // JSON pointers of changed settings read only at start
};

struct ReloadCounters {
  uint64_t reloads = 0, failures = 0;
  std::optional<ReloadReport> last;
};

class Daemon {
 public:
  // `clock` stamps what the daemon reports (tests pass a ManualClock); it must outlive the daemon.
  explicit Daemon(Config config, const Clock& clock = Clock::Real());
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the models, starts the API and the sources. On error nothing keeps running.
  Status Start();
  // Stops the sources first, then the API. Idempotent.
  void Stop();

  int http_port() const;
  // Kafka bootstrap servers in use (the embedded broker's loopback address); "" without Kafka.
  const std::string& kafka_bootstrap() const;
  bool replay_finished() const;
  // The config and Brick model in force (snapshots: a reload installs new ones).
  std::shared_ptr<const Config> config() const;
  std::shared_ptr<const BrickModel> model() const;
  PointRegistry& registry();
  SeriesStore& store();
  Ingestor& ingestor();
  ForecastService* forecast();  // null when forecast.enabled is false
  AlertManager& alerts();
  RuleEngine& rule_engine();
  EventBus& events();
  // Newest data time per air-handling system (BrickModel::SystemOf of each point's equipment):
  // the time base of rules, identical live and in a replay at any speed.
  const DataWatermark& watermark() const;
  // Re-reads the configured forecast model file and swaps it in; on error the running one stays.
  Status ReloadForecastModel();
  // SIGHUP and POST /api/v1/reload: re-reads the config file, its rules, Brick models, tokens and
  // forecast model; validates all of it first and applies all or nothing.
  ReloadReport Reload();
  ReloadCounters reload_counters() const;

 private:
  Status StartHttp();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the parser options the config asks for (shared by serve, parse and replay).
StreamParserOptions ParserOptionsFromConfig(const Config& config);
SeriesOptions SeriesOptionsFromConfig(const StoreConfig& config);
ForecastServiceOptions ForecastOptionsFromConfig(const Config& config);

}  // namespace brickcast
