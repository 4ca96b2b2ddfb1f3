// The REST API: what the handlers may use (ApiServices) and the route table built from it. One
// file per resource adds its routes (health_routes.cc, point_routes.cc, observation_routes.cc,
// equipment_routes.cc, forecast_routes.cc, alert_routes.cc, silence_routes.cc, rule_routes.cc,
// event_routes.cc, audit_routes.cc, operation_routes.cc) and the dashboard's static files (dashboard_routes.cc); handlers only read
// through thread-safe interfaces and snapshots, so the HTTP workers may run them concurrently.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/live_events.h"
#include "api/router.h"
#include "brickcast/alerts.h"
#include "brickcast/brick_model.h"
#include "brickcast/rule_engine.h"
#include "brickcast/config.h"
#include "brickcast/daemon.h"
#include "brickcast/forecast_service.h"
#include "brickcast/ingestor.h"
#include "brickcast/kafka.h"
#include "brickcast/notify.h"
#include "brickcast/metrics.h"
#include "brickcast/point_registry.h"
#include "brickcast/series_store.h"
#include "brickcast/snapshot.h"

namespace brickcast {

struct ApiServices {
  const Snapshot<Config>* config = nullptr;
  const Snapshot<BrickModel>* model = nullptr;
  PointRegistry* registry = nullptr;
  SeriesStore* store = nullptr;
  Ingestor* ingestor = nullptr;
  // Returns true when ready; otherwise fills the reason.
  std::function<bool(std::string*)> ready;
  // Kafka source statistics; nullopt when the daemon runs without Kafka.
  std::function<std::optional<KafkaSourceStats>()> kafka_stats;
  ForecastService* forecast = nullptr;       // null when forecasting is disabled
  const MetricsRegistry* metrics = nullptr;  // what GET /metrics exposes
  // Reloads the configured model file into the forecast service (POST .../model/reload).
  std::function<Status()> reload_model;
  const Snapshot<RuleSet>* rules = nullptr;
  const RuleEngine* rule_engine = nullptr;
  AlertManager* alerts = nullptr;
  const Clock* clock = &Clock::Real();  // "now" for silences
  LiveEvents* live_events = nullptr;    // GET /api/v1/events; null: 503
  std::function<ReloadReport()> reload;  // POST /api/v1/reload
  std::function<ReloadCounters()> reload_counters;
  // The notification service in force (null when the daemon has none yet).
  std::function<std::shared_ptr<NotificationService>()> notifications;
};

// Every route of the API, with bearer-token checks against the current config's tokens.
Router BuildApiRouter(const ApiServices& services);

// One per resource file.
void AddHealthRoutes(Router& router, const ApiServices& services);
void AddPointRoutes(Router& router, const ApiServices& services);
void AddObservationRoutes(Router& router, const ApiServices& services);
void AddEquipmentRoutes(Router& router, const ApiServices& services);
void AddForecastRoutes(Router& router, const ApiServices& services);
void AddAlertRoutes(Router& router, const ApiServices& services);
void AddSilenceRoutes(Router& router, const ApiServices& services);
void AddRuleRoutes(Router& router, const ApiServices& services);
void AddEventRoutes(Router& router, const ApiServices& services);
void AddAuditRoutes(Router& router, const ApiServices& services);
void AddOperationRoutes(Router& router, const ApiServices& services);
void AddReceiverRoutes(Router& router, const ApiServices& services);
// What the audit log keeps of a mutating call.
AuditEntry AuditEntryOf(const HttpRequest& request, const HttpResponse& response);
void AddDashboardRoutes(Router& router);

// Shared by the resource files: a request's point id (IRI, short name or timeseries id) as the
// registry's IRI, "" when unknown.
std::string ResolvePointId(const ApiServices& services, const std::string& id);

// A JSON request body as an object, or the 400 that says why not.
std::optional<HttpResponse> ParseJsonObject(const HttpRequest& request, nlohmann::json* body);
// Parses a `limit`/`offset` pair of query parameters (default limit 100, at most 1000).
std::optional<HttpResponse> ParsePage(const HttpRequest& request, size_t* offset, size_t* limit);
// ISO 8601 string or epoch milliseconds; `what` names the field in the error.
std::optional<HttpResponse> ParseTime(const nlohmann::json& value, const std::string& what, const TimeZone& zone,
                                      UnixMillis* out);

}  // namespace brickcast
