// Observations pushed over HTTP: Turtle messages (as on Kafka) or JSON.
#include "api/api.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

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

// JSON observations: {"observations":[{"point","time","value","unit"}]}, a bare array, or one object.
HttpResponse PostJsonObservations(const ApiServices& s, const HttpRequest& req) {
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return JsonError(400, "invalid_argument", "body is not valid JSON");
  Json list = body.is_object() && body.contains("observations") ? body["observations"]
              : body.is_array()                                  ? body
                                                                 : Json::array({body});
  if (!list.is_array()) return JsonError(400, "invalid_argument", "observations must be an array");
  const TimeZone zone = s.config->Get()->site.zone;
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
    ob.point = ResolvePointId(s, id);
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
      auto t = ParseIsoDateTime(o["time"].get<std::string>(), zone);
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
  const int status =
      report.message_failed || (report.accepted + report.duplicates == 0 && report.rejected > 0) ? 400 : 200;
  return JsonResponse(ReportJson(report), status);
}

}  // namespace

void AddObservationRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{.method = "POST",
                   .path = "/api/v1/observations",
                   .scope = Scope::kOperate,
                   .summary = "Ingest observations: a Turtle message or JSON {observations: [{point, time, value, unit}]}",
                   .description = "Every observation is accepted or rejected on its own; the report lists each "
                                  "rejection with its reason (and line and column for Turtle).",
                   .request_types = {"text/turtle", "application/json"},
                   .responses = {{200, "ingest report"},
                                 {400, "nothing accepted (malformed message or every observation rejected)"},
                                 {413, "body larger than http.max_body_bytes"},
                                 {415, "unsupported content type"}},
                   .handler = [s](const HttpRequest& r) { return PostObservations(s, r); }});
}

}  // namespace brickcast
