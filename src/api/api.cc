#include "api/api.h"
#include "api/rate_limiter.h"
#include "api/tokens.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <tuple>

namespace brickcast {
namespace {

Scope ScopeOf(const std::string& name) {
  return name == "admin" ? Scope::kAdmin : name == "operate" ? Scope::kOperate : Scope::kRead;
}

// Bearer tokens of the config in force (and its tokens file) at the time of the request; none
// configured: an open API (the config only allows that on loopback).
Authorizer TokenAuthorizer(std::shared_ptr<TokenStore> tokens) {
  return [tokens](const HttpRequest& req, Scope needed, std::string* principal) -> std::optional<HttpResponse> {
    if (needed == Scope::kPublic) return std::nullopt;
    if (tokens->Empty()) return std::nullopt;
    const std::string auth = req.Header("authorization");
    if (auth.rfind("Bearer ", 0) != 0) return JsonError(401, "unauthenticated", "missing 'Authorization: Bearer <token>'");
    const std::optional<AuthToken> t = tokens->Find(auth.substr(7));
    if (!t) return JsonError(401, "unauthenticated", "unknown token");
    if (ScopeOf(t->scope) < needed)
      return JsonError(403, "permission_denied",
                       "token '" + t->name + "' has scope " + t->scope + "; this needs " + ScopeName(needed));
    *principal = t->name;
    return std::nullopt;
  };
}

}  // namespace

std::string ResolvePointId(const ApiServices& services, const std::string& id) {
  return services.registry->Resolve(id);
}

std::optional<HttpResponse> ParseJsonObject(const HttpRequest& request, nlohmann::json* body) {
  *body = nlohmann::json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  if (body->is_discarded()) return JsonError(400, "invalid_argument", "body is not valid JSON");
  if (!body->is_object()) return JsonError(400, "invalid_argument", "body must be a JSON object");
  return std::nullopt;
}

std::optional<HttpResponse> ParsePage(const HttpRequest& request, size_t* offset, size_t* limit) {
  *offset = 0;
  *limit = 100;
  for (auto [name, out, max] : {std::tuple<const char*, size_t*, size_t>{"offset", offset, SIZE_MAX},
                                std::tuple<const char*, size_t*, size_t>{"limit", limit, 1000}}) {
    const std::string text = request.Query(name);
    if (text.empty()) continue;
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || text[0] == '-' || v > max || (std::string(name) == "limit" && v == 0))
      return JsonError(400, "invalid_argument",
                       std::string(name) + " must be an integer" + (max == 1000 ? " between 1 and 1000" : " >= 0"));
    *out = static_cast<size_t>(v);
  }
  return std::nullopt;
}

std::optional<HttpResponse> ParseTime(const nlohmann::json& value, const std::string& what, const TimeZone& zone,
                                      UnixMillis* out) {
  if (value.is_number_integer()) {
    *out = value.get<int64_t>();
    return std::nullopt;
  }
  if (value.is_string()) {
    auto t = ParseIsoDateTime(value.get<std::string>(), zone);
    if (t.ok()) {
      *out = *t;
      return std::nullopt;
    }
    return JsonError(400, "invalid_argument", what + ": " + t.status().message());
  }
  return JsonError(400, "invalid_argument", what + ": expected an ISO 8601 time or epoch milliseconds");
}

Router BuildApiRouter(const ApiServices& services) {
  Router router;
  router.SetAuthorizer(TokenAuthorizer(std::make_shared<TokenStore>(services.config)));
  const HttpConfig& http = services.config->Get()->http;
  if (http.rate_limit_per_second > 0) {
    auto limiter = std::make_shared<RateLimiter>(http.rate_limit_per_second, http.rate_limit_burst);
    router.SetAdmission([limiter](const HttpRequest& req) -> std::optional<HttpResponse> {
      const std::optional<int> wait = limiter->Admit(req.remote_addr);
      if (!wait) return std::nullopt;
      HttpResponse r = JsonError(429, "rate_limited",
                                 "too many requests from " + req.remote_addr + "; retry in " + std::to_string(*wait) + " s");
      r.headers["Retry-After"] = std::to_string(*wait);
      return r;
    });
  }
  if (services.alerts != nullptr) {
    AlertManager* alerts = services.alerts;
    router.SetAuditor([alerts](const HttpRequest& req, const HttpResponse& res) {
      Status st = alerts->RecordAudit(AuditEntryOf(req, res));
      if (!st.ok()) spdlog::warn("audit log: {}", st.message());
    });
  }
  AddHealthRoutes(router, services);
  AddObservationRoutes(router, services);
  AddPointRoutes(router, services);
  AddEquipmentRoutes(router, services);
  AddForecastRoutes(router, services);
  if (services.alerts != nullptr) {
    AddAlertRoutes(router, services);
    AddSilenceRoutes(router, services);
    AddRuleRoutes(router, services);
    AddAuditRoutes(router, services);
  }
  AddEventRoutes(router, services);
  AddOperationRoutes(router, services);
  AddReceiverRoutes(router, services);
  AddDashboardRoutes(router);
  // Last, so the document describes every route above and itself.
  auto document = std::make_shared<std::string>();
  router.Add(Route{"GET", "/api/v1/openapi.json", Scope::kPublic, "This API's OpenAPI 3 document",
                   "Generated from the route table that serves the requests.", {}, {},
                   {{200, "the OpenAPI document"}}, "application/json",
                   [document](const HttpRequest&) { return HttpResponse{200, "application/json", *document, {}, nullptr}; }});
  *document = router.OpenApi("brickcast", BRICKCAST_VERSION).dump();
  return router;
}

}  // namespace brickcast
