// The dashboard: GET / and GET /assets/{name}, the files of web/ embedded in the binary. They
// hold no data (the page reads the API with the user's token), so they need no token. Served
// with a content hash as ETag and a policy that allows only this origin's scripts and API.
#include <memory>

#include "api/api.h"
#include "api/dashboard_assets.h"
#include "brickcast/sha256.h"

namespace brickcast {
namespace {

HttpResponse Serve(const DashboardAsset& asset, const std::string& etag, const HttpRequest& req) {
  HttpResponse res;
  res.headers["ETag"] = etag;
  res.headers["Cache-Control"] = "no-cache";  // revalidate: a new binary may serve new files
  res.headers["X-Content-Type-Options"] = "nosniff";
  res.headers["Content-Security-Policy"] =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  res.headers["Referrer-Policy"] = "no-referrer";
  if (req.Header("if-none-match") == etag) {
    res.status = 304;
    res.content_type = asset.content_type;
    return res;
  }
  res.content_type = asset.content_type;
  res.body = std::string(asset.bytes);
  return res;
}

}  // namespace

void AddDashboardRoutes(Router& router) {
  auto etags = std::make_shared<std::vector<std::string>>();
  for (const DashboardAsset& a : DashboardAssets()) etags->push_back("\"" + Sha256Hex(a.bytes).substr(0, 16) + "\"");
  router.Add(Route{.method = "GET",
                   .path = "/",
                   .scope = Scope::kPublic,
                   .summary = "The dashboard (HTML)",
                   .description = "Equipment, live values with forecast bands, alerts with ack and silence; "
                                  "reads this API with the token the user enters.",
                   .responses = {{200, "the page"}, {304, "not modified (If-None-Match)"}},
                   .response_type = "text/html",
                   .handler = [etags](const HttpRequest& req) {
                     const auto& assets = DashboardAssets();
                     for (size_t i = 0; i < assets.size(); ++i) {
                       if (std::string_view(assets[i].name) == "index.html") return Serve(assets[i], (*etags)[i], req);
                     }
                     return JsonError(404, "not_found", "this build has no dashboard");
                   }});
  router.Add(Route{.method = "GET",
                   .path = "/assets/{name}",
                   .scope = Scope::kPublic,
                   .summary = "A file of the dashboard (script, style sheet)",
                   .responses = {{200, "the file"}, {304, "not modified (If-None-Match)"}, {404, "no such file"}},
                   .response_type = "text/javascript",
                   .handler = [etags](const HttpRequest& req) {
                     const auto& assets = DashboardAssets();
                     const std::string name = req.Param("name");
                     for (size_t i = 0; i < assets.size(); ++i) {
                       if (name == assets[i].name) return Serve(assets[i], (*etags)[i], req);
                     }
                     return JsonError(404, "not_found", "no dashboard file '" + name + "'");
                   }});
}

}  // namespace brickcast
