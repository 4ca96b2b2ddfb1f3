// The REST API (the endpoints are listed in the README): handlers are plain functions over HttpRequest/HttpResponse and
// the daemon's services, registered on an HttpServer. Handlers only read through thread-safe
// interfaces, so cpp-httplib's worker threads may run them concurrently.
#pragma once

#include <functional>
#include <string>

#include "brickcast/brick_model.h"
#include "brickcast/config.h"
#include "brickcast/forecast_service.h"
#include "brickcast/ingestor.h"
#include "brickcast/kafka.h"
#include "brickcast/metrics.h"
#include "brickcast/point_registry.h"
#include "brickcast/series_store.h"
#include "server/http_server.h"

namespace brickcast {

struct ApiServices {
  const Config* config = nullptr;
  const BrickModel* model = nullptr;
  PointRegistry* registry = nullptr;
  SeriesStore* store = nullptr;
  Ingestor* ingestor = nullptr;
  // Returns true when ready; otherwise fills the reason.
  std::function<bool(std::string*)> ready;
  // Kafka source statistics; nullopt when the daemon runs without Kafka.
  std::function<std::optional<KafkaSourceStats>()> kafka_stats;
  UnixMillis started_at = 0;
  ForecastService* forecast = nullptr;  // null when forecasting is disabled
  const MetricsRegistry* metrics = nullptr;  // what GET /metrics exposes
  // Reloads the configured model file into the forecast service (POST .../model/reload).
  std::function<Status()> reload_model;
};

HttpResponse JsonError(int status, const std::string& code, const std::string& message);

// Registers every route, plus the bearer-token filter when tokens are configured.
void RegisterApiRoutes(HttpServer& server, const ApiServices& services);

}  // namespace brickcast
