// The audit log: every mutating API call (who, what, when, outcome), kept in the state database.
// GET /api/v1/audit needs an admin token.
#include "api/api.h"

namespace brickcast {

AuditEntry AuditEntryOf(const HttpRequest& request, const HttpResponse& response) {
  AuditEntry e;
  e.who = request.principal;
  e.remote = request.remote_addr;
  e.method = request.method;
  e.path = request.path;
  e.status = response.status;
  // Small bodies (an ack, a silence) say what was done; observation batches only their size.
  e.detail = request.body.size() <= 2048 && request.path != "/api/v1/observations"
                 ? request.body
                 : "(" + std::to_string(request.body.size()) + " bytes)";
  return e;
}

void AddAuditRoutes(Router& router, const ApiServices& s) {
  using Json = nlohmann::json;
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/audit",
      .scope = Scope::kAdmin,
      .summary = "The audit log: every mutating API call, newest first",
      .description = "Who (the token's name), from where, what (method, path, small bodies), when and the "
                     "answer's status; refused attempts included. Page with `before` (the last seq seen).",
      .query = {{"limit", "integer", "entries to return, 1-1000 (default 100)"},
                {"before", "integer", "only entries with seq below this"}},
      .responses = {{200, "{entries, count, next_before}"}, {400, "bad limit or before"}},
      .handler = [s](const HttpRequest& req) {
        size_t offset = 0, limit = 0;
        if (auto bad = ParsePage(req, &offset, &limit)) return *bad;
        int64_t before = 0;
        if (const std::string b = req.Query("before"); !b.empty()) {
          char* end = nullptr;
          before = std::strtoll(b.c_str(), &end, 10);
          if (end == b.c_str() || *end != 0 || before < 0)
            return JsonError(400, "invalid_argument", "before must be a non-negative integer (a seq)");
        }
        auto entries = s.alerts->Audit(limit, before);
        if (!entries.ok()) return JsonError(503, "unavailable", "audit log: " + entries.status().message());
        Json out = Json::array();
        for (const AuditEntry& e : *entries) {
          out.push_back(Json{{"seq", e.seq},
                             {"time", FormatIsoUtc(e.time)},
                             {"who", e.who.empty() ? Json() : Json(e.who)},
                             {"remote", e.remote},
                             {"method", e.method},
                             {"path", e.path},
                             {"status", e.status},
                             {"detail", e.detail}});
        }
        Json body{{"entries", out}, {"count", out.size()}};
        body["next_before"] = entries->size() == limit && !entries->empty() ? Json(entries->back().seq) : Json();
        return JsonResponse(body);
      }});
}

}  // namespace brickcast
