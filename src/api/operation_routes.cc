// Operations: POST /api/v1/reload (as SIGHUP) and GET /api/v1/status (version, config file, the
// last reload's outcome).
#include "api/api.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

Json ReportJson(const ReloadReport& r) {
  return Json{{"ok", r.ok},
              {"time", FormatIsoUtc(r.time)},
              {"errors", r.errors},
              {"applied", r.applied},
              {"needs_restart", r.needs_restart}};
}

}  // namespace

void AddOperationRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{
      .method = "POST",
      .path = "/api/v1/reload",
      .scope = Scope::kAdmin,
      .summary = "Re-read the config file, its rules, Brick models, tokens and forecast model (as SIGHUP)",
      .description = "Everything is validated first and applied all or nothing. `applied` lists the changed "
                     "settings now in force, `needs_restart` those read only at start (listen address, Kafka, "
                     "store); on errors (422) the running configuration stays.",
      .responses = {{200, "{ok, applied, needs_restart}"}, {422, "invalid: nothing applied, errors listed"},
                    {503, "reload not available"}},
      .handler = [s](const HttpRequest&) {
        if (!s.reload) return JsonError(503, "unavailable", "reload is not available here");
        const ReloadReport r = s.reload();
        if (r.ok) return JsonResponse(ReportJson(r));
        std::string message;
        for (const std::string& e : r.errors) message += (message.empty() ? "" : "; ") + e;
        Json body = ReportJson(r);
        body["error"] = Json{{"code", "invalid_config"}, {"message", "nothing reloaded: " + message}};
        return JsonResponse(body, 422);
      }});
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/status",
      .summary = "The daemon: version, config file, reloads and the last reload's outcome",
      .responses = {{200, "{version, config_file, reloads, reload_failures, last_reload}"}},
      .handler = [s](const HttpRequest&) {
        Json out{{"version", BRICKCAST_VERSION}, {"config_file", s.config->Get()->path}};
        if (s.reload_counters) {
          const ReloadCounters c = s.reload_counters();
          out["reloads"] = c.reloads;
          out["reload_failures"] = c.failures;
          out["last_reload"] = c.last ? ReportJson(*c.last) : Json();
        }
        return JsonResponse(out);
      }});
}

}  // namespace brickcast
