// The API's route table. Each route declares its method, path template, the scope a caller needs,
// its handler and its OpenAPI description; the same table dispatches requests (tests call
// Handle() directly, without a socket), checks scopes and writes /api/v1/openapi.json, so the
// document cannot drift from what is served.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_server.h"

namespace brickcast {

// What a caller's token must allow (tokens are read < operate < admin); kPublic needs none.
enum class Scope { kPublic, kRead, kOperate, kAdmin };
const char* ScopeName(Scope scope);

struct QueryParam {
  std::string name;
  std::string type;  // OpenAPI schema type: string, integer, number, boolean
  std::string description;
  bool required = false;
};

struct Route {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  // Literal segments and {name} parameters. A parameter may span '/' (point IRIs contain it);
  // when several routes match, the one with the most literal text wins
  // (/points/{point}/series over /points/{point}).
  std::string path;
  Scope scope = Scope::kRead;
  std::string summary;
  std::string description;
  std::vector<QueryParam> query;
  std::vector<std::string> request_types;  // media types of the body; empty: no body
  std::map<int, std::string> responses;   // status -> what it means
  std::string response_type = "application/json";
  HttpHandler handler;
};

// Decides whether a request may call a route of `scope`: nullopt to proceed (filling *principal
// with who is calling, e.g. the token's name), or the 401/403.
using Authorizer = std::function<std::optional<HttpResponse>(const HttpRequest&, Scope, std::string* principal)>;
// Decides whether a client may make a request now: nullopt to proceed, or the 429.
using Admission = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
// Told of every mutating call (not GET) to a route, with its outcome: the audit log.
using Auditor = std::function<void(const HttpRequest& routed, const HttpResponse& response)>;

class Router {
 public:
  void Add(Route route);
  void SetAuthorizer(Authorizer authorize) { authorize_ = std::move(authorize); }
  void SetAdmission(Admission admit) { admit_ = std::move(admit); }
  void SetAuditor(Auditor audit) { audit_ = std::move(audit); }

  // Admits the client, finds the route, checks its scope and runs it; 404 for an unknown path,
  // 405 (with Allow) for a known path with another method. HEAD is served as GET. A JSON answer
  // to a GET carries an ETag (a hash of the body): If-None-Match with it gets 304 and no body.
  // Dispatches `request` under a log scope of its id (the client's X-Request-Id when sane, else a
  // new one), returned in the response's X-Request-Id header.
  HttpResponse Handle(const HttpRequest& request) const;

  const std::vector<Route>& routes() const { return routes_; }

  // The OpenAPI 3 document of every route.
  nlohmann::json OpenApi(const std::string& title, const std::string& version) const;

 private:
  HttpResponse Dispatch(const HttpRequest& request) const;
  struct Pattern {
    std::regex regex;
    std::vector<std::string> params;
    size_t literal_chars = 0;
  };
  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;
  Authorizer authorize_;
  Admission admit_;
  Auditor audit_;
};

// The API's JSON answers: one error shape everywhere, {"error": {"code", "message"}}.
HttpResponse JsonResponse(const nlohmann::json& body, int status = 200);
HttpResponse JsonError(int status, const std::string& code, const std::string& message);

}  // namespace brickcast
