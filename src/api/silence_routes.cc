// Silences: quiet matching alerts for a while, with an author, a comment and a mandatory end.
#include "api/api.h"
#include "brickcast/units.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

Json SilenceJson(const Silence& s, UnixMillis now) {
  return Json{{"id", s.id},
              {"matchers", s.matchers.labels},
              {"starts_at", FormatIsoUtc(s.starts_at)},
              {"ends_at", FormatIsoUtc(s.ends_at)},
              {"author", s.author},
              {"comment", s.comment},
              {"created_at", FormatIsoUtc(s.created_at)},
              {"state", s.expired || now >= s.ends_at ? "expired" : now < s.starts_at ? "pending" : "active"}};
}

HttpResponse AddSilence(const ApiServices& s, const HttpRequest& req, UnixMillis now) {
  Json body;
  if (auto bad = ParseJsonObject(req, &body)) return *bad;
  static const std::vector<std::string> kKeys = {"matchers", "starts_at", "ends_at", "duration", "author", "comment"};
  for (const auto& [k, v] : body.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), k) == kKeys.end())
      return JsonError(400, "invalid_argument", "unknown key '" + k + "' (matchers, starts_at, ends_at, duration, author, comment)");
  }
  Silence silence;
  if (!body.contains("matchers") || !body["matchers"].is_object() || body["matchers"].empty())
    return JsonError(400, "invalid_argument", "matchers must be a non-empty object, e.g. {\"equipment\": \"AHU1\"}");
  for (const auto& [k, v] : body["matchers"].items()) {
    if (!v.is_string()) return JsonError(400, "invalid_argument", "matchers/" + k + " must be a string");
    silence.matchers.labels[k] = v.get<std::string>();
  }
  const TimeZone zone = s.config->Get()->site.zone;
  if (body.contains("starts_at")) {
    if (auto bad = ParseTime(body["starts_at"], "starts_at", zone, &silence.starts_at)) return *bad;
  } else {
    silence.starts_at = now;
  }
  if (body.contains("ends_at") == body.contains("duration"))
    return JsonError(400, "invalid_argument", "give exactly one of ends_at or duration (\"2h\")");
  if (body.contains("ends_at")) {
    if (auto bad = ParseTime(body["ends_at"], "ends_at", zone, &silence.ends_at)) return *bad;
  } else {
    if (!body["duration"].is_string()) return JsonError(400, "invalid_argument", "duration must be a string like \"2h\"");
    auto d = ParseDurationMs(body["duration"].get<std::string>());
    if (!d.ok()) return JsonError(400, "invalid_argument", "duration: " + d.status().message());
    silence.ends_at = silence.starts_at + *d;
  }
  for (const char* k : {"author", "comment"}) {
    if (body.contains(k) && !body[k].is_string()) return JsonError(400, "invalid_argument", std::string(k) + " must be a string");
  }
  silence.author = body.value("author", req.principal);
  silence.comment = body.value("comment", "");
  auto added = s.alerts->AddSilence(std::move(silence));
  if (!added.ok()) return JsonError(400, "invalid_argument", added.status().message());
  return JsonResponse(SilenceJson(*added, now), 201);
}

}  // namespace

void AddSilenceRoutes(Router& router, const ApiServices& s) {
  const Clock* clock = s.clock;
  router.Add(Route{.method = "GET",
                   .path = "/api/v1/silences",
                   .summary = "Silences in force or to come (all=true: expired ones too)",
                   .query = {{"all", "boolean", "include expired silences"},
                             {"offset", "integer", "silences to skip"},
                             {"limit", "integer", "silences to return, 1-1000 (default 100)"}},
                   .responses = {{200, "{silences, count, total, next_offset}"}, {400, "bad page"}},
                   .handler = [s, clock](const HttpRequest& r) {
                     size_t offset = 0, limit = 0;
                     if (auto bad = ParsePage(r, &offset, &limit)) return *bad;
                     const std::vector<Silence> all = s.alerts->Silences(r.Query("all") == "true");
                     Json out = Json::array();
                     for (size_t i = offset; i < all.size() && out.size() < limit; ++i)
                       out.push_back(SilenceJson(all[i], clock->Now()));
                     Json body{{"silences", out}, {"count", out.size()}, {"total", all.size()}, {"offset", offset},
                               {"limit", limit}};
                     body["next_offset"] = offset + out.size() < all.size() ? Json(offset + out.size()) : Json();
                     return JsonResponse(body);
                   }});
  router.Add(Route{.method = "POST",
                   .path = "/api/v1/silences",
                   .scope = Scope::kOperate,
                   .summary = "Create a silence",
                   .description = "Body {matchers: {rule|equipment|class|severity|kind|predicted: value}, "
                                  "starts_at (default now), ends_at or duration (\"2h\"), author (default: the "
                                  "token's name), comment}. Silenced alerts keep their state and stay listed.",
                   .request_types = {"application/json"},
                   .responses = {{201, "the silence"}, {400, "bad body"}},
                   .handler = [s, clock](const HttpRequest& r) { return AddSilence(s, r, clock->Now()); }});
  router.Add(Route{.method = "DELETE",
                   .path = "/api/v1/silences/{id}",
                   .scope = Scope::kOperate,
                   .summary = "Expire a silence now",
                   .responses = {{200, "expired"}, {404, "unknown id"}, {409, "already expired"}},
                   .handler = [s](const HttpRequest& r) {
                     Status st = s.alerts->ExpireSilence(r.Param("id"));
                     if (st.code() == StatusCode::kNotFound) return JsonError(404, "not_found", st.message());
                     if (st.code() == StatusCode::kFailedPrecondition) return JsonError(409, "conflict", st.message());
                     if (!st.ok()) return JsonError(500, "internal", st.message());
                     return JsonResponse(Json{{"id", r.Param("id")}, {"state", "expired"}});
                   }});
}

}  // namespace brickcast
