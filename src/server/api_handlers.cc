#include "server/api_handlers.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "brickcast/units.h"
#include "serving/forecast_json.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

HttpResponse JsonResponse(const Json& j, int status = 200) {
  return HttpResponse{status, "application/json", j.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

Json ErrorJson(const IngestError& e) {
  Json j{{"reason", e.reason}, {"message", e.message}};
  if (e.line > 0) {
    j["line"] = e.line;
    j["column"] = e.column;
  }
  if (!e.point.empty()) j["point"] = e.point;
  return j;
}

Json ReportJson(const IngestReport& r) {
  Json errors = Json::array();
  for (size_t i = 0; i < r.errors.size() && i < 100; ++i) errors.push_back(ErrorJson(r.errors[i]));
  return Json{{"observations", r.parsed},   {"accepted", r.accepted}, {"duplicates", r.duplicates},
              {"rejected", r.rejected},     {"errors", errors},       {"errors_total", r.errors.size()},
              {"message_failed", r.message_failed}};
}

// A request's point id: IRI, short name or timeseries id.
std::string ResolvePoint(const ApiServices& s, const std::string& id) { return s.registry->Resolve(id); }

std::string ResolveEquipment(const ApiServices& s, const std::string& id) {
  if (s.model->Find(id) != nullptr) return id;
  for (const Entity* e : s.model->InstancesOf(BrickClassIri("Equipment"))) {
    if (LocalName(e->iri) == id) return e->iri;
  }
  return id;  // stream-only equipment is known by IRI only
}

Json PointJson(const ApiServices& s, const PointInfo& p) {
  Json j{{"id", p.iri},          {"short_name", p.short_name}, {"class", LocalName(p.brick_class)},
         {"class_iri", p.brick_class}, {"equipment", p.equipment}, {"unit", p.unit},
         {"timeseries_id", p.timeseries_id}, {"label", p.label}, {"in_model", p.in_model}};
  if (!p.unit.empty()) {
    if (const UnitInfo* u = FindUnit(p.unit)) j["si_unit"] = u->si_symbol;
  }
  if (auto st = s.store->Stats(p.iri)) {
    j["count"] = st->accepted;
    j["last_value"] = st->last_value;
    j["last_time"] = FormatIsoUtc(st->last_time);
    j["duplicates"] = st->duplicates;
    j["late"] = st->late;
    j["too_old"] = st->too_old;
  } else {
    j["count"] = 0;
    j["last_value"] = nullptr;
    j["last_time"] = nullptr;
  }
  return j;
}

HttpResponse ListPoints(const ApiServices& s, const HttpRequest& req) {
  const std::string cls = req.Query("class");
  const std::string equipment = req.Query("equipment").empty() ? "" : ResolveEquipment(s, req.Query("equipment"));
  const std::string cls_iri = cls.empty() ? "" : BrickClassIri(cls);
  if (!cls.empty() && !s.registry->classes().Knows(cls_iri))
    return JsonError(400, "invalid_argument", "unknown Brick class '" + cls + "'");
  Json points = Json::array();
  for (const PointInfo& p : s.registry->List()) {
    if (!cls_iri.empty() && (p.brick_class.empty() || !s.registry->classes().IsA(p.brick_class, cls_iri))) continue;
    if (!equipment.empty() && p.equipment != equipment && s.model->RootEquipmentOf(p.equipment) != equipment) continue;
    points.push_back(PointJson(s, p));
  }
  return JsonResponse(Json{{"points", points}, {"count", points.size()}});
}

HttpResponse GetSeries(const ApiServices& s, const HttpRequest& req) {
  const std::string id = ResolvePoint(s, req.matches.at(0));
  if (id.empty()) return JsonError(404, "not_found", "unknown point '" + req.matches.at(0) + "'");
  size_t steps = s.store->options().window_steps;
  if (!req.Query("steps").empty()) {
    try {
      steps = std::stoul(req.Query("steps"));
    } catch (const std::exception&) {
      return JsonError(400, "invalid_argument", "steps must be a positive integer");
    }
    if (steps == 0 || steps > s.store->options().window_steps)
      return JsonError(400, "invalid_argument",
                       "steps must be between 1 and " + std::to_string(s.store->options().window_steps));
  }
  auto w = s.store->Latest(id, steps);
  if (!w) return JsonResponse(Json{{"point", id}, {"values", Json::array()}, {"coverage", 0}});
  Json values = Json::array(), times = Json::array();
  for (size_t i = 0; i < w->values.size(); ++i) {
    values.push_back(std::isnan(w->values[i]) ? Json(nullptr) : Json(w->values[i]));
    times.push_back(FormatIsoUtc(w->start + static_cast<int64_t>(i) * w->step_ms));
  }
  return JsonResponse(Json{{"point", id},
                           {"start", FormatIsoUtc(w->start)},
                           {"step_seconds", w->step_ms / 1000},
                           {"times", times},
                           {"values", values},
                           {"observed", w->observed},
                           {"filled", w->filled},
                           {"coverage", w->coverage()}});
}

HttpResponse ListEquipment(const ApiServices& s) {
  Json out = Json::array();
  for (const Entity* e : s.model->InstancesOf(BrickClassIri("Equipment"))) {
    size_t npoints = 0;
    for (const auto& p : e->points) npoints += s.model->Find(p) != nullptr;
    out.push_back(Json{{"id", e->iri},
                       {"class", e->classes.empty() ? "" : std::string(LocalName(e->classes.front()))},
                       {"label", e->label},
                       {"points", npoints},
                       {"parts", e->parts},
                       {"part_of", e->part_of},
                       {"feeds", e->feeds},
                       {"fed_by", e->fed_by}});
  }
  return JsonResponse(Json{{"equipment", out}, {"count", out.size()}});
}

// JSON observations: {"observations":[{"point","time","value","unit"}]}, a bare array, or one object.
HttpResponse PostJsonObservations(const ApiServices& s, const HttpRequest& req) {
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return JsonError(400, "invalid_argument", "body is not valid JSON");
  Json list = body.is_object() && body.contains("observations") ? body["observations"]
              : body.is_array()                                  ? body
                                                                 : Json::array({body});
  if (!list.is_array()) return JsonError(400, "invalid_argument", "observations must be an array");
  std::vector<Observation> obs;
  std::vector<IngestError> errors;
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& o = list[i];
    const std::string where = "/observations/" + std::to_string(i);
    if (!o.is_object() || !o.contains("point") || !o["point"].is_string() || !o.contains("value") ||
        !o.contains("time")) {
      errors.push_back({"bad_value", where + ": expected {point, time, value[, unit]}", 0, 0, {}});
      continue;
    }
    Observation ob;
    const std::string id = o["point"].get<std::string>();
    ob.point = ResolvePoint(s, id);
    if (ob.point.empty()) ob.point = id;
    if (o["value"].is_number()) {
      ob.value = o["value"].get<double>();
    } else if (o["value"].is_boolean()) {
      ob.value = o["value"].get<bool>() ? 1 : 0;
    } else {
      errors.push_back({"bad_value", where + "/value: expected a number", 0, 0, ob.point});
      continue;
    }
    if (o["time"].is_number_integer()) {
      ob.time = o["time"].get<int64_t>();
    } else if (o["time"].is_string()) {
      auto t = ParseIsoDateTime(o["time"].get<std::string>(), s.config->site.zone);
      if (!t.ok()) {
        errors.push_back({"bad_timestamp", where + "/time: " + t.status().message(), 0, 0, ob.point});
        continue;
      }
      ob.time = *t;
    } else {
      errors.push_back({"bad_timestamp", where + "/time: expected ISO 8601 string or epoch milliseconds", 0, 0, ob.point});
      continue;
    }
    if (o.contains("unit") && o["unit"].is_string()) ob.unit = o["unit"].get<std::string>();
    obs.push_back(std::move(ob));
  }
  IngestReport report = s.ingestor->IngestObservations(std::move(obs), "http");
  report.rejected += errors.size();
  report.parsed += errors.size();
  report.errors.insert(report.errors.begin(), errors.begin(), errors.end());
  const int status = report.accepted + report.duplicates == 0 && report.rejected > 0 ? 400 : 200;
  return JsonResponse(ReportJson(report), status);
}

HttpResponse PostObservations(const ApiServices& s, const HttpRequest& req) {
  const std::string ct = req.Header("content-type");
  if (ct.find("json") != std::string::npos) return PostJsonObservations(s, req);
  if (!ct.empty() && ct.find("turtle") == std::string::npos && ct.find("text/plain") == std::string::npos &&
      ct.find("n3") == std::string::npos)
    return JsonError(415, "unsupported_media_type", "send text/turtle or application/json, not " + ct);
  IngestReport report = s.ingestor->IngestMessage(req.body, "http:" + req.remote_addr);
  const int status = report.message_failed || (report.accepted + report.duplicates == 0 && report.rejected > 0) ? 400 : 200;
  return JsonResponse(ReportJson(report), status);
}

HttpResponse GetForecast(const ApiServices& s, const HttpRequest& req) {
  if (!s.forecast) return JsonError(404, "forecasting_disabled", "forecast.enabled is false in the configuration");
  const std::string id = ResolvePoint(s, req.matches.at(0));
  if (id.empty() || !s.registry->Get(id)) return JsonError(404, "not_found", "unknown point '" + req.matches.at(0) + "'");
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

HttpResponse ForecastOverview(const ApiServices& s) {
  if (!s.forecast) return JsonError(404, "forecasting_disabled", "forecast.enabled is false in the configuration");
  const ForecastCounters c = s.forecast->Counters();
  const ModelAccuracy a = s.forecast->Accuracy();
  return JsonResponse(Json{{"model", a.model.empty() ? Json() : Json(a.model)},
                           {"model_path", s.config->forecast.model},
                           {"accuracy",
                            {{"residuals", a.residuals},
                             {"mae", NumberOrNull(a.mae)},
                             {"persistence_mae", NumberOrNull(a.persistence_mae)},
                             {"interval_coverage", NumberOrNull(a.interval_coverage)},
                             {"target_coverage", s.config->forecast.interval_coverage}}},
                           {"forecasts", c.forecasts},
                           {"fallback_forecasts", c.fallback_forecasts},
                           {"insufficient_data", c.insufficient_data},
                           {"deferred", c.deferred},
                           {"late", c.late},
                           {"queue_depth", c.queue_depth},
                           {"points", c.points},
                           {"latency_p50_s", NumberOrNull(c.latency_p50_s)},
                           {"latency_p99_s", NumberOrNull(c.latency_p99_s)}});
}


bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

int ScopeRank(const std::string& scope) { return scope == "admin" ? 3 : scope == "operate" ? 2 : 1; }

}  // namespace

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  return JsonResponse(Json{{"error", {{"code", code}, {"message", message}}}}, status);
}

void RegisterApiRoutes(HttpServer& server, const ApiServices& s) {
  if (!s.config->http.tokens.empty()) {
    const auto tokens = s.config->http.tokens;
    server.SetFilter([tokens](const HttpRequest& req) -> std::optional<HttpResponse> {
      if (req.path == "/healthz" || req.path == "/readyz") return std::nullopt;
      const std::string auth = req.Header("authorization");
      if (auth.rfind("Bearer ", 0) != 0)
        return JsonError(401, "unauthenticated", "missing 'Authorization: Bearer <token>'");
      const std::string presented = auth.substr(7);
      const int needed = req.method == "GET" ? 1 : req.path == "/api/v1/observations" ? 2 : 3;
      for (const AuthToken& t : tokens) {
        if (ConstantTimeEquals(t.token, presented)) {
          if (ScopeRank(t.scope) >= needed) return std::nullopt;
          return JsonError(403, "permission_denied", "token '" + t.name + "' has scope " + t.scope);
        }
      }
      return JsonError(401, "unauthenticated", "unknown token");
    });
  }
  server.Route("GET", "/healthz", [](const HttpRequest&) { return JsonResponse(Json{{"status", "ok"}}); });
  server.Route("GET", "/readyz", [s](const HttpRequest&) {
    std::string why;
    Json j;
    if (auto k = s.kafka_stats ? s.kafka_stats() : std::nullopt) {
      j["kafka"] = Json{{"assigned", k->assigned}, {"paused", k->paused}, {"queue_depth", k->queue_depth}};
    }
    if (s.ready && !s.ready(&why)) {
      j["status"] = "not_ready";
      j["reason"] = why;
      return JsonResponse(j, 503);
    }
    j["status"] = "ready";
    return JsonResponse(j);
  });
  server.Route("GET", "/metrics", [s](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4", s.metrics->PrometheusText()};
  });
  server.Route("POST", "/api/v1/observations", [s](const HttpRequest& r) { return PostObservations(s, r); });
  server.Route("GET", "/api/v1/points", [s](const HttpRequest& r) { return ListPoints(s, r); });
  server.Route("GET", R"(/api/v1/points/(.+)/series)", [s](const HttpRequest& r) { return GetSeries(s, r); });
  server.Route("GET", R"(/api/v1/points/(.+)/forecast)", [s](const HttpRequest& r) { return GetForecast(s, r); });
  server.Route("GET", "/api/v1/forecast", [s](const HttpRequest&) { return ForecastOverview(s); });
  server.Route("POST", "/api/v1/forecast/model/reload", [s](const HttpRequest&) {
    if (!s.forecast || !s.reload_model) return JsonError(404, "forecasting_disabled", "forecasting is disabled");
    Status st = s.reload_model();
    if (!st.ok()) return JsonError(422, "model_rejected", st.message() + " (the previous model stays in service)");
    return JsonResponse(Json{{"status", "reloaded"}, {"model", s.forecast->model_identity()}});
  });
  server.Route("GET", R"(/api/v1/points/(.+))", [s](const HttpRequest& r) {
    const std::string id = ResolvePoint(s, r.matches.at(0));
    auto p = id.empty() ? std::nullopt : s.registry->Get(id);
    if (!p) return JsonError(404, "not_found", "unknown point '" + r.matches.at(0) + "'");
    return JsonResponse(PointJson(s, *p));
  });
  server.Route("GET", "/api/v1/equipment", [s](const HttpRequest&) { return ListEquipment(s); });
}

}  // namespace brickcast
