// Liveness, readiness and the Prometheus metrics.
#include "api/api.h"

namespace brickcast {

void AddHealthRoutes(Router& router, const ApiServices& s) {
  using Json = nlohmann::json;
  router.Add(Route{.method = "GET",
                   .path = "/healthz",
                   .scope = Scope::kPublic,
                   .summary = "Liveness: the process answers",
                   .responses = {{200, "alive"}},
                   .handler = [](const HttpRequest&) { return JsonResponse(Json{{"status", "ok"}}); }});
  router.Add(Route{.method = "GET",
                   .path = "/readyz",
                   .scope = Scope::kPublic,
                   .summary = "Readiness: started and holding its Kafka partitions",
                   .responses = {{200, "ready"}, {503, "not ready, with the reason"}},
                   .handler = [s](const HttpRequest&) {
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
                   }});
  router.Add(Route{.method = "GET",
                   .path = "/metrics",
                   .scope = Scope::kRead,
                   .summary = "Prometheus metrics of every module",
                   .responses = {{200, "Prometheus text format 0.0.4"}},
                   .response_type = "text/plain",
                   .handler = [s](const HttpRequest&) {
                     return HttpResponse{200, "text/plain; version=0.0.4", s.metrics->PrometheusText(), {}, nullptr};
                   }});
}

}  // namespace brickcast
