// The route table and the API handlers without a socket: matching, scopes, 404/405, the OpenAPI
// document against the table (both ways), and handlers called with plain request structs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api/api.h"
#include "brickcast/daemon.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

HttpRequest Request(const std::string& method, const std::string& path, std::string body = "",
                    std::string content_type = "") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers["content-type"] = content_type;
  return r;
}

HttpHandler Echo(std::string name) {
  return [name](const HttpRequest& r) {
    Json params = Json::object();
    for (const auto& [k, v] : r.params) params[k] = v;
    return JsonResponse(Json{{"route", name}, {"params", params}});
  };
}

TEST(RouterTest, MostSpecificRouteWinsAndParametersMaySpanSlashes) {
  Router router;
  router.Add(Route{.method = "GET", .path = "/p/{point}", .summary = "one", .handler = Echo("one")});
  router.Add(Route{.method = "GET", .path = "/p/{point}/series", .summary = "series", .handler = Echo("series")});
  auto a = Json::parse(router.Handle(Request("GET", "/p/urn:b#AHU/SAT/series")).body);
  EXPECT_EQ(a["route"], "series");
  EXPECT_EQ(a["params"]["point"], "urn:b#AHU/SAT");
  auto b = Json::parse(router.Handle(Request("GET", "/p/http://x.org/b#SAT")).body);
  EXPECT_EQ(b["route"], "one");
  EXPECT_EQ(b["params"]["point"], "http://x.org/b#SAT");
  EXPECT_EQ(router.Handle(Request("HEAD", "/p/x")).status, 200);  // HEAD is served as GET
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.Add(Route{.method = "GET", .path = "/things", .summary = "list", .handler = Echo("list")});
  router.Add(Route{.method = "POST", .path = "/things", .summary = "add", .handler = Echo("add")});
  HttpResponse missing = router.Handle(Request("GET", "/nothing"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json::parse(missing.body)["error"]["code"], "not_found");
  HttpResponse wrong = router.Handle(Request("DELETE", "/things"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["Allow"], "GET, POST");
  EXPECT_EQ(Json::parse(wrong.body)["error"]["code"], "method_not_allowed");
}

TEST(RouterTest, JsonReadsCarryAnETagAndAnUnchangedOneGets304) {
  Router router;
  int version = 1;
  router.Add(Route{.method = "GET", .path = "/thing", .summary = "thing",
                   .handler = [&version](const HttpRequest&) { return JsonResponse(Json{{"v", version}}); }});
  const HttpResponse first = router.Handle(Request("GET", "/thing"));
  const std::string etag = first.headers.at("ETag");
  ASSERT_EQ(etag.size(), 22u);
  HttpRequest again = Request("GET", "/thing");
  again.headers["if-none-match"] = etag;
  const HttpResponse same = router.Handle(again);
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  version = 2;
  const HttpResponse changed = router.Handle(again);
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.headers.at("ETag"), etag);
}

TEST(RouterTest, AdmissionRefusesBeforeRoutingAndTheAuditorSeesMutatingCallsOnly) {
  Router router;
  router.Add(Route{.method = "GET", .path = "/r", .summary = "read", .handler = Echo("r")});
  router.Add(Route{.method = "POST", .path = "/w", .scope = Scope::kOperate, .summary = "write", .handler = Echo("w")});
  std::vector<std::pair<std::string, int>> audited;
  router.SetAuditor([&](const HttpRequest& r, const HttpResponse& res) { audited.emplace_back(r.path, res.status); });
  router.SetAuthorizer([](const HttpRequest& r, Scope s, std::string* who) -> std::optional<HttpResponse> {
    if (s == Scope::kOperate && r.Header("authorization").empty()) return JsonError(401, "unauthenticated", "no token");
    *who = "ann";
    return std::nullopt;
  });
  bool full = false;
  router.SetAdmission([&full](const HttpRequest&) -> std::optional<HttpResponse> {
    if (full) return JsonError(429, "rate_limited", "slow down");
    return std::nullopt;
  });
  EXPECT_EQ(router.Handle(Request("GET", "/r")).status, 200);
  EXPECT_EQ(router.Handle(Request("POST", "/w")).status, 401);
  HttpRequest ok = Request("POST", "/w");
  ok.headers["authorization"] = "Bearer x";
  EXPECT_EQ(router.Handle(ok).status, 200);
  full = true;
  EXPECT_EQ(router.Handle(Request("GET", "/r")).status, 429);
  EXPECT_EQ(audited, (std::vector<std::pair<std::string, int>>{{"/w", 401}, {"/w", 200}}))
      << "reads are not audited; refused writes are";
}

TEST(RouterTest, TheAuthorizerSeesEachRoutesDeclaredScope) {
  Router router;
  router.Add(Route{.method = "GET", .path = "/open", .scope = Scope::kPublic, .summary = "o", .handler = Echo("o")});
  router.Add(Route{.method = "POST", .path = "/admin", .scope = Scope::kAdmin, .summary = "a", .handler = Echo("a")});
  std::vector<Scope> seen;
  router.SetAuthorizer([&seen](const HttpRequest&, Scope s, std::string*) -> std::optional<HttpResponse> {
    seen.push_back(s);
    if (s == Scope::kAdmin) return JsonError(403, "permission_denied", "no");
    return std::nullopt;
  });
  EXPECT_EQ(router.Handle(Request("GET", "/open")).status, 200);
  EXPECT_EQ(router.Handle(Request("POST", "/admin")).status, 403);
  EXPECT_EQ(router.Handle(Request("GET", "/missing")).status, 404);  // no route: no authorization asked
  EXPECT_EQ(seen, (std::vector<Scope>{Scope::kPublic, Scope::kAdmin}));
}

// A real registry, store and ingestor behind the API, without a daemon or a socket.
class ApiHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadConfigText(R"({"store": {"step_seconds": 60, "window_steps": 30},
                                     "http": {"tokens": [{"name": "viewer", "token": "r"},
                                                         {"name": "ops", "token": "o", "scope": "operate"}]}})",
                                 "");
    ASSERT_TRUE(config.ok()) << config.status().message();
    config_.Set(std::make_shared<const Config>(*config));
    auto classes = ClassHierarchy::BuiltIn();
    auto model = std::make_shared<BrickModel>(classes);
    ASSERT_TRUE(model
                    ->LoadTurtle(R"(@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .)",
                                 "model.ttl")
                    .ok());
    registry_ = std::make_unique<PointRegistry>(classes);
    registry_->LoadModel(*model);
    model_.Set(model);
    store_ = std::make_unique<SeriesStore>(SeriesOptionsFromConfig(config_.Get()->store));
    parser_ = std::make_unique<StreamParser>(ParserOptionsFromConfig(*config_.Get()));
    ingestor_ = std::make_unique<Ingestor>(*parser_, *registry_, *store_, true, nullptr);
    metrics_.Register("store", [this](MetricWriter& w) { CollectStoreMetrics(*store_, w); });
    alerts_ = std::make_unique<AlertManager>(NewMemoryAlertStore(), AlertManagerOptions{});
    engine_ = std::make_unique<RuleEngine>(*store_, nullptr, *registry_, *alerts_);
    auto rules = ParseRules(R"([{"id": "r", "kind": "threshold", "applies_to": "AHU", "limit": 30,
                                 "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}])",
                            "r.json");
    ASSERT_TRUE(rules.ok());
    rules_.Set(*rules);
    engine_->SetRules(*rules, model);
    ApiServices s;
    s.config = &config_;
    s.model = &model_;
    s.registry = registry_.get();
    s.store = store_.get();
    s.ingestor = ingestor_.get();
    s.metrics = &metrics_;
    s.rules = &rules_;
    s.rule_engine = engine_.get();
    s.alerts = alerts_.get();
    router_ = std::make_unique<Router>(BuildApiRouter(s));
  }

  HttpResponse Call(HttpRequest r, const std::string& token) {
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return router_->Handle(r);
  }

  Snapshot<Config> config_;
  Snapshot<BrickModel> model_;
  std::unique_ptr<PointRegistry> registry_;
  std::unique_ptr<SeriesStore> store_;
  std::unique_ptr<StreamParser> parser_;
  std::unique_ptr<Ingestor> ingestor_;
  MetricsRegistry metrics_;
  Snapshot<RuleSet> rules_;
  std::unique_ptr<AlertManager> alerts_;
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<Router> router_;
};

TEST_F(ApiHandlersTest, PostThenReadThroughTheRouteTable) {
  const std::string body =
      R"({"observations": [{"point": "SAT", "time": "2026-11-22T10:00:00Z", "value": 13.5},
                           {"point": "SAT", "time": "2026-11-22T10:01:00Z", "value": "warm"}]})";
  HttpResponse post = Call(Request("POST", "/api/v1/observations", body, "application/json"), "o");
  ASSERT_EQ(post.status, 200) << post.body;
  Json report = Json::parse(post.body);
  EXPECT_EQ(report["accepted"], 1);
  EXPECT_EQ(report["rejected"], 1);
  EXPECT_EQ(report["errors"][0]["reason"], "bad_value");

  HttpResponse point = Call(Request("GET", "/api/v1/points/SAT"), "r");
  ASSERT_EQ(point.status, 200) << point.body;
  EXPECT_EQ(Json::parse(point.body)["last_value"], 13.5);
  HttpResponse series = Call(Request("GET", "/api/v1/points/urn:b#SAT/series"), "r");
  ASSERT_EQ(series.status, 200) << series.body;
  EXPECT_EQ(Json::parse(series.body)["point"], "urn:b#SAT");
  EXPECT_EQ(Call(Request("GET", "/api/v1/points/NOPE/series"), "r").status, 404);
  // An empty point id is the element's own error, not an observation of no point (found by fuzzing).
  HttpResponse empty = Call(Request("POST", "/api/v1/observations",
                                    R"([{"point": "", "time": 1772438400000, "value": 1}])", "application/json"),
                            "o");
  EXPECT_EQ(empty.status, 400) << empty.body;
  EXPECT_EQ(Json::parse(empty.body)["errors"][0]["reason"], "unknown_point");
  EXPECT_NE(Json::parse(empty.body)["errors"][0]["message"].get<std::string>().find("/observations/0/point"),
            std::string::npos);
  // No forecast service here: the forecast routes say so.
  EXPECT_EQ(Json::parse(Call(Request("GET", "/api/v1/forecast"), "r").body)["error"]["code"], "forecasting_disabled");
}

TEST_F(ApiHandlersTest, ScopesComeFromTheCurrentConfigSnapshot) {
  EXPECT_EQ(Call(Request("GET", "/api/v1/points"), "").status, 401);
  EXPECT_EQ(Call(Request("GET", "/healthz"), "").status, 200);
  EXPECT_EQ(Call(Request("GET", "/api/v1/openapi.json"), "").status, 200);
  EXPECT_EQ(Call(Request("POST", "/api/v1/observations", "{}", "application/json"), "r").status, 403);
  EXPECT_EQ(Call(Request("POST", "/api/v1/forecast/model/reload"), "o").status, 403);
  // A new config without tokens takes effect on the next request (a reload swaps the snapshot).
  auto open = LoadConfigText("{}", "");
  ASSERT_TRUE(open.ok());
  config_.Set(std::make_shared<const Config>(*open));
  EXPECT_EQ(Call(Request("GET", "/api/v1/points"), "").status, 200);
}

TEST_F(ApiHandlersTest, OpenApiDocumentMatchesTheRouteTableBothWays) {
  HttpResponse r = Call(Request("GET", "/api/v1/openapi.json"), "");
  ASSERT_EQ(r.status, 200);
  Json doc = Json::parse(r.body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> documented, routed;
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + path);
      EXPECT_FALSE(op["summary"].get<std::string>().empty()) << path;
      EXPECT_TRUE(op["responses"].contains("200") || op["responses"].contains("201")) << method << " " << path;
      // Every {param} of the path is declared.
      for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
        const std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        bool declared = false;
        for (const auto& p : op["parameters"]) declared |= p["name"] == name && p["in"] == "path";
        EXPECT_TRUE(declared) << name << " in " << path;
      }
    }
  }
  for (const Route& route : router_->routes()) {
    routed.insert(route.method + " " + route.path);
    // Served as documented: a request on the route's path never gets the router's own 404/405.
    std::string path = route.path;
    for (size_t open; (open = path.find('{')) != std::string::npos;) path.replace(open, path.find('}') - open + 1, "SAT");
    HttpResponse answer = Call(Request(route.method, path, "{}", "application/json"), "o");
    EXPECT_NE(answer.status, 405) << route.path;
    EXPECT_EQ(answer.body.find("no endpoint"), std::string::npos) << route.path;
  }
  EXPECT_EQ(documented, routed);
  for (const char* path : {"/api/v1/alerts", "/api/v1/alerts/{id}/ack", "/api/v1/silences/{id}", "/api/v1/rules"})
    EXPECT_TRUE(doc["paths"].contains(path)) << path;
}

}  // namespace
}  // namespace brickcast
