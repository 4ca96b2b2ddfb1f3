#include "api/api.h"

#include <memory>

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
  return [config](const HttpRequest& req, Scope needed) -> std::optional<HttpResponse> {
    if (needed == Scope::kPublic) return std::nullopt;
    const std::shared_ptr<const Config> c = config->Get();
    if (c->http.tokens.empty()) return std::nullopt;
    const std::string auth = req.Header("authorization");
    if (auth.rfind("Bearer ", 0) != 0) return JsonError(401, "unauthenticated", "missing 'Authorization: Bearer <token>'");
    const std::string presented = auth.substr(7);
    for (const AuthToken& t : c->http.tokens) {
      if (!ConstantTimeEquals(t.token, presented)) continue;
      if (ScopeOf(t.scope) >= needed) return std::nullopt;
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

Router BuildApiRouter(const ApiServices& services) {
  Router router;
  router.SetAuthorizer(TokenAuthorizer(services.config));
  AddHealthRoutes(router, services);
  AddObservationRoutes(router, services);
  AddPointRoutes(router, services);
  AddEquipmentRoutes(router, services);
  AddForecastRoutes(router, services);
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
