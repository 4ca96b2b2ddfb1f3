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
  std::vector<Observation> obs;
  std::vector<IngestError> errors;
  const Status parsed = ParseJsonObservations(
      req.body, s.config->Get()->site.zone, [&s](const std::string& id) { return ResolvePointId(s, id); }, &obs,
      &errors);
  if (!parsed.ok()) return JsonError(400, "invalid_argument", parsed.message());
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
