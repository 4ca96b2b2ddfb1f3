#include "api/router.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "brickcast/logging.h"
#include "brickcast/sha256.h"

namespace brickcast {

const char* ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kPublic:
      return "public";
    case Scope::kRead:
      return "read";
    case Scope::kOperate:
      return "operate";
    case Scope::kAdmin:
      return "admin";
  }
  return "read";
}

HttpResponse JsonResponse(const nlohmann::json& body, int status) {
  return HttpResponse{status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      {}, nullptr};
}

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  return JsonResponse(nlohmann::json{{"error", {{"code", code}, {"message", message}}}}, status);
}

namespace {

std::string EscapeRegex(const std::string& literal) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : literal) {
    if (kSpecial.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void Router::Add(Route route) {
  Pattern p;
  std::string regex;
  size_t i = 0;
  while (i < route.path.size()) {
    const size_t open = route.path.find('{', i);
    if (open == std::string::npos) {
      regex += EscapeRegex(route.path.substr(i));
      p.literal_chars += route.path.size() - i;
      break;
    }
    const size_t close = route.path.find('}', open);
    if (close == std::string::npos) throw std::invalid_argument("route " + route.path + ": unclosed '{'");
    regex += EscapeRegex(route.path.substr(i, open - i)) + "(.+)";
    p.literal_chars += open - i;
    p.params.push_back(route.path.substr(open + 1, close - open - 1));
    i = close + 1;
  }
  p.regex = std::regex(regex);
  patterns_.push_back(std::move(p));
  routes_.push_back(std::move(route));
}

namespace {

// The client's X-Request-Id when it is a sane token, else a new random one.
std::string RequestId(const HttpRequest& request) {
  const std::string given = request.Header("x-request-id");
  const bool sane = !given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (sane) return given;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

}  // namespace

HttpResponse Router::Handle(const HttpRequest& request) const {
  // Every log line written while the request is handled carries its id; the client gets it back.
  const std::string id = RequestId(request);
  LogScope scope("request=" + id);
  HttpResponse response = Dispatch(request);
  response.headers["X-Request-Id"] = id;
  return response;
}

HttpResponse Router::Dispatch(const HttpRequest& request) const {
  if (admit_) {
    if (auto refused = admit_(request)) return *refused;
  }
  const std::string method = request.method == "HEAD" ? "GET" : request.method;
  std::string allowed;
  const Route* best = nullptr;
  const Pattern* best_pattern = nullptr;
  std::smatch best_match;
  for (size_t i = 0; i < routes_.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(request.path, m, patterns_[i].regex)) continue;
    if (routes_[i].method != method) {
      if (allowed.find(routes_[i].method) == std::string::npos)
        allowed += (allowed.empty() ? "" : ", ") + routes_[i].method;
      continue;
    }
    if (best == nullptr || patterns_[i].literal_chars > best_pattern->literal_chars) {
      best = &routes_[i];
      best_pattern = &patterns_[i];
      best_match = std::move(m);
    }
  }
  if (best == nullptr && !allowed.empty()) {
    HttpResponse r = JsonError(405, "method_not_allowed", request.method + " is not allowed on " + request.path);
    r.headers["Allow"] = allowed;
    return r;
  }
  if (best == nullptr) return JsonError(404, "not_found", "no endpoint " + request.path + " (see /api/v1/openapi.json)");
  HttpRequest routed = request;
  for (size_t k = 0; k < best_pattern->params.size(); ++k)
    routed.params[best_pattern->params[k]] = best_match[k + 1].str();
  const bool mutating = method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
  if (authorize_) {
    if (auto denied = authorize_(request, best->scope, &routed.principal)) {
      if (mutating && audit_) audit_(routed, *denied);  // refused attempts are recorded too
      return *denied;
    }
  }
  HttpResponse response = best->handler(routed);
  if (mutating && audit_) audit_(routed, response);
  if (method == "GET" && response.status == 200 && !response.stream && response.content_type == "application/json" &&
      response.headers.count("ETag") == 0) {
    // Heavy reads (alert lists, series, forecasts) polled by scripts: unchanged, they cost a 304.
    const std::string etag = "\"" + Sha256Hex(response.body).substr(0, 20) + "\"";
    response.headers["ETag"] = etag;
    if (request.Header("if-none-match") == etag) {
      response.status = 304;
      response.body.clear();
    }
  }
  return response;
}

nlohmann::json Router::OpenApi(const std::string& title, const std::string& version) const {
  using Json = nlohmann::json;
  Json paths = Json::object();
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    Json op{{"summary", r.summary}, {"x-brickcast-scope", ScopeName(r.scope)}};
    if (!r.description.empty()) op["description"] = r.description;
    std::string op_id = r.method;
    for (char c : r.path) op_id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    op["operationId"] = op_id;
    Json params = Json::array();
    for (const std::string& p : patterns_[i].params) {
      params.push_back(Json{{"name", p}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    for (const QueryParam& q : r.query) {
      params.push_back(Json{{"name", q.name},
                            {"in", "query"},
                            {"required", q.required},
                            {"description", q.description},
                            {"schema", {{"type", q.type}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (!r.request_types.empty()) {
      Json content = Json::object();
      for (const std::string& t : r.request_types) content[t] = Json::object();
      op["requestBody"] = Json{{"required", true}, {"content", content}};
    }
    Json responses = Json::object();
    for (const auto& [status, what] : r.responses) {
      Json resp{{"description", what}};
      resp["content"][status < 300 ? r.response_type : "application/json"] = Json::object();
      responses[std::to_string(status)] = resp;
    }
    if (r.scope != Scope::kPublic) {
      op["security"] = Json::array({Json{{"bearer", Json::array()}}});
      responses["401"] = Json{{"description", "missing or unknown token (when tokens are configured)"}};
      responses["403"] = Json{{"description", std::string("the token's scope is below ") + ScopeName(r.scope)}};
    }
    op["responses"] = responses;
    std::string lower = r.method;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r.path][lower] = op;
  }
  return Json{{"openapi", "3.0.3"},
              {"info", {{"title", title}, {"version", version}}},
              {"paths", paths},
              {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

}  // namespace brickcast
