// Points: the registry's view (model and stream points) with their latest values and series.
#include <cmath>

#include "api/api.h"
#include "brickcast/units.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

std::string ResolveEquipment(const BrickModel& model, const std::string& id) {
  if (model.Find(id) != nullptr) return id;
  for (const Entity* e : model.InstancesOf(BrickClassIri("Equipment"))) {
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
  const std::shared_ptr<const BrickModel> model = s.model->Get();
  const std::string cls = req.Query("class");
  const std::string equipment = req.Query("equipment").empty() ? "" : ResolveEquipment(*model, req.Query("equipment"));
  const std::string cls_iri = cls.empty() ? "" : BrickClassIri(cls);
  if (!cls.empty() && !s.registry->classes().Knows(cls_iri))
    return JsonError(400, "invalid_argument", "unknown Brick class '" + cls + "'");
  size_t offset = 0, limit = 0;
  if (auto bad = ParsePage(req, &offset, &limit)) return *bad;
  if (req.Query("limit").empty()) limit = 1000;  // a site's points in one answer, unless it is large
  Json points = Json::array();
  size_t total = 0;
  for (const PointInfo& p : s.registry->List()) {
    if (!cls_iri.empty() && (p.brick_class.empty() || !s.registry->classes().IsA(p.brick_class, cls_iri))) continue;
    if (!equipment.empty() && p.equipment != equipment && model->RootEquipmentOf(p.equipment) != equipment) continue;
    if (total++ >= offset && points.size() < limit) points.push_back(PointJson(s, p));
  }
  Json out{{"points", points}, {"count", points.size()}, {"total", total}, {"offset", offset}, {"limit", limit}};
  out["next_offset"] = offset + points.size() < total ? Json(offset + points.size()) : Json();
  return JsonResponse(out);
}

HttpResponse GetSeries(const ApiServices& s, const HttpRequest& req) {
  const std::string id = ResolvePointId(s, req.Param("point"));
  if (id.empty()) return JsonError(404, "not_found", "unknown point '" + req.Param("point") + "'");
  const size_t window = s.store->options().window_steps;
  size_t steps = window;
  if (!req.Query("steps").empty()) {
    try {
      steps = std::stoul(req.Query("steps"));
    } catch (const std::exception&) {
      return JsonError(400, "invalid_argument", "steps must be a positive integer");
    }
    if (steps == 0 || steps > window)
      return JsonError(400, "invalid_argument", "steps must be between 1 and " + std::to_string(window));
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

}  // namespace

void AddPointRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/points",
                   .summary = "Points of the model and the streams, with their latest values",
                   .query = {{"class", "string", "Brick class (subclasses match), e.g. Temperature_Sensor"},
                             {"equipment", "string", "equipment IRI or local name (its parts' points too)"},
                             {"offset", "integer", "points to skip"},
                             {"limit", "integer", "points to return, 1-1000 (default 1000)"}},
                   .responses = {{200, "{points: [...], count, total, next_offset}"}, {400, "unknown Brick class, bad page"}},
                   .handler = [s](const HttpRequest& r) { return ListPoints(s, r); }});
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/points/{point}/series",
                   .summary = "The point's resampled window (columnar: times, values)",
                   .query = {{"steps", "integer", "most recent steps to return (default: the whole window)"}},
                   .responses = {{200, "the window"}, {400, "bad steps"}, {404, "unknown point"}},
                   .handler = [s](const HttpRequest& r) { return GetSeries(s, r); }});
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/points/{point}",
                   .summary = "One point (IRI, short name or timeseries id)",
                   .responses = {{200, "the point"}, {404, "unknown point"}},
                   .handler = [s](const HttpRequest& r) {
                     const std::string id = ResolvePointId(s, r.Param("point"));
                     auto p = id.empty() ? std::nullopt : s.registry->Get(id);
                     if (!p) return JsonError(404, "not_found", "unknown point '" + r.Param("point") + "'");
                     return JsonResponse(PointJson(s, *p));
                   }});
}

}  // namespace brickcast
