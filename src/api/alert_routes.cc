// Alerts: the list (filters, pagination), one alert with its evidence and history, and ack.
#include "api/api.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

Json TimeOrNull(UnixMillis t) { return t == 0 ? Json() : Json(FormatIsoUtc(t)); }

Json AlertJson(const AlertView& v) {
  const Alert& a = v.alert;
  Json evidence = a.evidence.empty() ? Json() : Json::parse(a.evidence, nullptr, false);
  Json j{{"id", a.id},
         {"rule", a.rule},
         {"equipment", a.equipment},
         {"equipment_class", a.equipment_class},
         {"kind", RuleKindName(a.kind)},
         {"severity", SeverityName(a.severity)},
         {"state", AlertStateName(a.state)},
         {"predicted", a.predicted},
         {"summary", a.summary},
         {"action", a.action},
         {"pending_since", TimeOrNull(a.pending_since)},
         {"starts_at", TimeOrNull(a.starts_at)},
         {"ends_at", TimeOrNull(a.ends_at)},
         {"last_evaluated", TimeOrNull(a.last_evaluated)},
         {"points", a.points},
         {"evidence", evidence.is_discarded() ? Json() : evidence},
         {"silenced_by", v.silenced_by},
         {"muted_by", v.muted_by.empty() ? Json() : Json(v.muted_by)},
         {"inhibited_by", v.inhibited_by},
         {"quiet", v.quiet()},
         {"transitions", a.transitions}};
  if (a.predicted) {
    j["crossing_time"] = TimeOrNull(a.crossing_time);
    j["realised_at"] = TimeOrNull(a.realised_at);
    // The warning it gave: from the prediction firing to the measured crossing.
    j["lead_time_seconds"] = a.realised_at != 0 && a.starts_at != 0 ? Json((a.realised_at - a.starts_at) / 1000) : Json();
  }
  j["ack"] = a.acked_by.empty() ? Json()
                                : Json{{"by", a.acked_by}, {"comment", a.ack_comment}, {"at", FormatIsoUtc(a.acked_at)}};
  return j;
}

HttpResponse ListAlerts(const ApiServices& s, const HttpRequest& req) {
  AlertFilter f;
  if (const std::string st = req.Query("state"); !st.empty()) {
    if (st == "all") {
      f.include_inactive = true;
    } else if (auto parsed = ParseAlertState(st)) {
      f.state = *parsed;
    } else {
      return JsonError(400, "invalid_argument",
                       "state must be one of pending, firing, no_data, resolved, inactive, all");
    }
  }
  if (const std::string sev = req.Query("severity"); !sev.empty()) {
    f.severity = ParseSeverity(sev);
    if (!f.severity) return JsonError(400, "invalid_argument", "severity must be info, warning or critical");
  }
  if (const std::string p = req.Query("predicted"); !p.empty()) {
    if (p != "true" && p != "false") return JsonError(400, "invalid_argument", "predicted must be true or false");
    f.predicted = p == "true";
  }
  f.equipment = req.Query("equipment");
  f.rule = req.Query("rule");
  size_t offset = 0, limit = 0;
  if (auto bad = ParsePage(req, &offset, &limit)) return *bad;
  const std::vector<AlertView> all = s.alerts->List(f);
  Json page = Json::array();
  for (size_t i = offset; i < all.size() && page.size() < limit; ++i) page.push_back(AlertJson(all[i]));
  Json out{{"alerts", page}, {"count", page.size()}, {"total", all.size()}, {"offset", offset}, {"limit", limit}};
  out["next_offset"] = offset + page.size() < all.size() ? Json(offset + page.size()) : Json();
  return JsonResponse(out);
}

HttpResponse GetAlert(const ApiServices& s, const HttpRequest& req) {
  auto v = s.alerts->Get(req.Param("id"));
  if (!v) return JsonError(404, "not_found", "no alert '" + req.Param("id") + "'");
  Json j = AlertJson(*v);
  Json history = Json::array();
  for (const AlertTransition& t : s.alerts->History(v->alert.id, 200)) {
    Json evidence = t.evidence.empty() ? Json() : Json::parse(t.evidence, nullptr, false);
    history.push_back(Json{{"seq", t.seq},
                           {"from", AlertStateName(t.from)},
                           {"to", AlertStateName(t.to)},
                           {"time", FormatIsoUtc(t.data_time)},
                           {"recorded_at", FormatIsoUtc(t.wall_time)},
                           {"summary", t.summary},
                           {"evidence", evidence.is_discarded() ? Json() : evidence}});
  }
  j["history"] = history;
  return JsonResponse(j);
}

HttpResponse AckAlert(const ApiServices& s, const HttpRequest& req) {
  Json body;
  if (auto bad = ParseJsonObject(req, &body)) return *bad;
  for (const auto& [k, v] : body.items()) {
    if (k != "author" && k != "comment") return JsonError(400, "invalid_argument", "unknown key '" + k + "' (author, comment)");
    if (!v.is_string()) return JsonError(400, "invalid_argument", k + " must be a string");
  }
  std::string author = body.value("author", "");
  if (author.empty()) author = req.principal;
  if (author.empty()) return JsonError(400, "invalid_argument", "author is required (who acknowledges)");
  Status st = s.alerts->Ack(req.Param("id"), author, body.value("comment", ""));
  if (st.code() == StatusCode::kNotFound) return JsonError(404, "not_found", st.message());
  if (st.code() == StatusCode::kFailedPrecondition) return JsonError(409, "conflict", st.message());
  if (!st.ok()) return JsonError(400, "invalid_argument", st.message());
  return JsonResponse(AlertJson(*s.alerts->Get(req.Param("id"))));
}

}  // namespace

void AddAlertRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/alerts",
      .summary = "Alerts, most urgent first (inactive ones hidden unless state=inactive or all)",
      .query = {{"state", "string", "pending, firing, no_data, resolved, inactive or all"},
                {"severity", "string", "info, warning or critical"},
                {"equipment", "string", "equipment IRI or local name"},
                {"rule", "string", "rule id"},
                {"predicted", "boolean", "true: predicted alerts only; false: measured only"},
                {"offset", "integer", "first alert of the page (default 0)"},
                {"limit", "integer", "alerts per page, 1-1000 (default 100)"}},
      .responses = {{200, "{alerts, count, total, offset, limit, next_offset}"}, {400, "bad filter or page"}},
      .handler = [s](const HttpRequest& r) { return ListAlerts(s, r); }});
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/alerts/{id}",
                   .summary = "One alert with its evidence and transition history (newest first)",
                   .responses = {{200, "the alert"}, {404, "unknown id"}},
                   .handler = [s](const HttpRequest& r) { return GetAlert(s, r); }});
  router.Add(Route{.method = "POST",
                   .path = "/api/v1/alerts/{id}/ack",
                   .scope = Scope::kOperate,
                   .summary = "Acknowledge an active alert until its state changes",
                   .description = "Body {author, comment}; the author defaults to the token's name.",
                   .request_types = {"application/json"},
                   .responses = {{200, "the acknowledged alert"},
                                 {400, "bad body or no author"},
                                 {404, "unknown id"},
                                 {409, "the alert is not active"}},
                   .handler = [s](const HttpRequest& r) { return AckAlert(s, r); }});
}

}  // namespace brickcast
