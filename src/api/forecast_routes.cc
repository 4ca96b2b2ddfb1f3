// Forecasts: per point, the model's overview and accuracy, and model reload.
#include "api/api.h"
#include "brickcast/units.h"
#include "serving/forecast_json.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

HttpResponse ForecastDisabled() {
  return JsonError(404, "forecasting_disabled", "forecast.enabled is false in the configuration");
}

HttpResponse GetForecast(const ApiServices& s, const HttpRequest& req) {
  if (!s.forecast) return ForecastDisabled();
  const std::string id = ResolvePointId(s, req.Param("point"));
  if (id.empty() || !s.registry->Get(id)) return JsonError(404, "not_found", "unknown point '" + req.Param("point") + "'");
  auto f = s.forecast->Get(id);
  if (!f) {
    return JsonResponse(Json{{"point", id},
                             {"status", "pending"},
                             {"message", "no step of this point has closed since start; a forecast follows the next one"}});
  }
  Json j = ForecastToJson(*f);
  auto info = s.registry->Get(id);
  if (const UnitInfo* u = info ? FindUnit(info->unit) : nullptr) j["unit"] = std::string(u->si_symbol);
  return JsonResponse(j);
}

HttpResponse ForecastOverview(const ApiServices& s, const HttpRequest& req) {
  if (!s.forecast) return ForecastDisabled();
  const std::string by = req.Query("by");
  if (!by.empty() && by != "class") return JsonError(400, "bad_request", "by must be 'class' (got '" + by + "')");
  const std::shared_ptr<const Config> config = s.config->Get();
  const ForecastCounters c = s.forecast->Counters();
  const ModelAccuracy a = s.forecast->Accuracy();
  Json by_class;
  if (by == "class") {  // on request: it reads every point's forecast state
    std::vector<std::pair<std::string, PointAccuracy>> points;
    for (const PointInfo& p : s.registry->List()) {
      if (auto f = s.forecast->Get(p.iri)) points.emplace_back(std::string(LocalName(p.brick_class)), f->accuracy);
    }
    by_class = SharpnessByClass(points);
  }
  Json body{{"model", a.model.empty() ? Json() : Json(a.model)},
                           {"model_path", config->forecast.model},
                           {"accuracy",
                            {{"residuals", a.residuals},
                             {"mae", NumberOrNull(a.mae)},
                             {"persistence_mae", NumberOrNull(a.persistence_mae)},
                             {"seasonal_naive_mae", NumberOrNull(a.seasonal_naive_mae)},
                             {"interval_coverage", NumberOrNull(a.interval_coverage)},
                             {"target_coverage", config->forecast.interval_coverage},
                             // since the model was loaded, all points: the run's realised coverage
                             {"quarters", QuartersToJson(a.quarters)},
                             // intervals around persistence built the same way: the model's sharpness
                             {"persistence_quarters", QuartersToJson(a.persistence_quarters)},
           {"seasonal_naive_quarters", QuartersToJson(a.seasonal_quarters)}}},
                           {"forecasts", c.forecasts},
                           {"fallback_forecasts", c.fallback_forecasts},
                           {"insufficient_data", c.insufficient_data},
                           {"deferred", c.deferred},
                           {"late", c.late},
                           {"queue_depth", c.queue_depth},
                           {"points", c.points},
                           {"latency_p50_s", NumberOrNull(c.latency_p50_s)},
                           {"latency_p99_s", NumberOrNull(c.latency_p99_s)}};
  if (!by_class.is_null()) body["accuracy"]["by_class"] = by_class;
  return JsonResponse(body);
}

}  // namespace

void AddForecastRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/points/{point}/forecast",
                   .summary = "The point's latest forecast with its prediction interval",
                   .responses = {{200, "the forecast (columnar: times, values, lower, upper), or status pending"},
                                 {404, "unknown point, or forecasting disabled"}},
                   .handler = [s](const HttpRequest& r) { return GetForecast(s, r); }});
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/forecast",
                   .summary = "The model in service, its rolling accuracy against persistence, and the workers",
                   .query = {{"by", "string", "class: add accuracy.by_class, per Brick point class the MAE and "
                                              "the intervals' coverage and mean width of the model, persistence and "
                                              "seasonal naive (sharpness)"}},
                   .responses = {{200, "overview"}, {400, "bad by"}, {404, "forecasting disabled"}},
                   .handler = [s](const HttpRequest& r) { return ForecastOverview(s, r); }});
  router.Add(Route{.method = "POST",
                   .path = "/api/v1/forecast/model/reload",
                   .scope = Scope::kAdmin,
                   .summary = "Re-read the configured model file and swap it in",
                   .description = "The new model is checked before it replaces the running one; on error the "
                                  "running model stays in service.",
                   .responses = {{200, "reloaded"}, {404, "forecasting disabled"}, {422, "model rejected"}},
                   .handler = [s](const HttpRequest&) {
                     if (!s.forecast || !s.reload_model)
                       return JsonError(404, "forecasting_disabled", "forecasting is disabled");
                     Status st = s.reload_model();
                     if (!st.ok())
                       return JsonError(422, "model_rejected", st.message() + " (the previous model stays in service)");
                     return JsonResponse(Json{{"status", "reloaded"}, {"model", s.forecast->model_identity()}});
                   }});
}

}  // namespace brickcast
