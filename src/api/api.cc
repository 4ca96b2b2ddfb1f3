#include "api/api.h"

#include <cstdint>
#include <memory>
#include <tuple>

namespace brickcast {
namespace {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Scope ScopeOf(const std::string& name) {
  return name == "admin" ? Scope::kAdmin : name == "operate" ? Scope::kOperate : Scope::kRead;
}

// Bearer tokens of the config in force at the time of the request; none configured: open API.
Authorizer TokenAuthorizer(const Snapshot<Config>* config) {
  return [config](const HttpRequest& req, Scope needed, std::string* principal) -> std::optional<HttpResponse> {
    if (needed == Scope::kPublic) return std::nullopt;
    const std::shared_ptr<const Config> c = config->Get();
    if (c->http.tokens.empty()) return std::nullopt;
    const std::string auth = req.Header("authorization");
    if (auth.rfind("Bearer ", 0) != 0) return JsonError(401, "unauthenticated", "missing 'Authorization: Bearer <token>'");
    const std::string presented = auth.substr(7);
    for (const AuthToken& t : c->http.tokens) {
      if (!ConstantTimeEquals(t.token, presented)) continue;
      if (ScopeOf(t.scope) >= needed) {
        *principal = t.name;
        return std::nullopt;
      }
      return JsonError(403, "permission_denied",
                       "token '" + t.name + "' has scope " + t.scope + "; this needs " + ScopeName(needed));
    }
    return JsonError(401, "unauthenticated", "unknown token");
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
  router.SetAuthorizer(TokenAuthorizer(services.config));
  AddHealthRoutes(router, services);
  AddObservationRoutes(router, services);
  AddPointRoutes(router, services);
  AddEquipmentRoutes(router, services);
  AddForecastRoutes(router, services);
  if (services.alerts != nullptr) {
    AddAlertRoutes(router, services);
    AddSilenceRoutes(router, services);
    AddRuleRoutes(router, services);
  }
  AddEventRoutes(router, services);
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
