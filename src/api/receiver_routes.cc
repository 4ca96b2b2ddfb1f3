// Receivers: GET /api/v1/receivers (each with its delivery counts and recent notifications) and
// POST /api/v1/receivers/{name}/test (admin: send a test notification now, answer the outcome).
#include "api/api.h"
#include "brickcast/notify.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

}  // namespace

void AddReceiverRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/receivers",
      .summary = "Notification receivers with their delivery counts, and the newest notifications",
      .responses = {{200, "{receivers: [{name, kind, delivered, retried, failed, rate_limited, pending, last_error}], "
                          "recent: [{key, receiver, target, state, attempts, created, last_error}]}"}},
      .handler = [s](const HttpRequest&) {
        std::shared_ptr<NotificationService> n = s.notifications ? s.notifications() : nullptr;
        const std::shared_ptr<const Config> config = s.config->Get();
        auto counts = s.alerts->outbox().Counts();
        Json receivers = Json::array();
        const auto stats = n ? n->Stats() : std::map<std::string, ReceiverStats>{};
        for (const ReceiverConfig& r : config->notify.receivers) {
          auto st = stats.find(r.name);
          const ReceiverStats rs = st == stats.end() ? ReceiverStats{} : st->second;
          size_t pending = 0;
          if (counts.ok() && counts->pending_by_receiver.count(r.name)) pending = counts->pending_by_receiver.at(r.name);
          receivers.push_back(Json{{"name", r.name},
                                   {"kind", r.kind},
                                   {"delivered", rs.delivered},
                                   {"retried", rs.retried},
                                   {"failed", rs.failed},
                                   {"rate_limited", rs.rate_limited},
                                   {"pending", pending},
                                   {"last_attempt", rs.last_attempt ? Json(FormatIsoUtc(rs.last_attempt)) : Json()},
                                   {"last_error", rs.last_error}});
        }
        Json recent = Json::array();
        auto entries = s.alerts->outbox().Recent(50);
        if (entries.ok()) {
          for (const OutboxEntry& e : *entries) {
            recent.push_back(Json{{"key", e.key},
                                  {"receiver", e.receiver},
                                  {"target", e.target},
                                  {"state", OutboxStateName(e.state)},
                                  {"attempts", e.attempts},
                                  {"created", FormatIsoUtc(e.created)},
                                  {"last_error", e.last_error}});
          }
        }
        return JsonResponse(Json{{"receivers", receivers}, {"recent", recent}});
      }});
  router.Add(Route{
      .method = "POST",
      .path = "/api/v1/receivers/{name}/test",
      .scope = Scope::kAdmin,
      .summary = "Send a test notification to a receiver now and answer with the outcome",
      .description = "Outside the outbox, grouping and rate limit: one attempt, no retry. 200 whatever the "
                     "outcome; `outcome` is delivered, retryable or permanent with the `reason`.",
      .responses = {{200, "{receiver, outcome, reason}"}, {404, "no such receiver"}, {503, "notifications not running"}},
      .handler = [s](const HttpRequest& req) {
        std::shared_ptr<NotificationService> n = s.notifications ? s.notifications() : nullptr;
        if (!n) return JsonError(503, "unavailable", "notifications are not running");
        auto result = n->SendTest(req.Param("name"));
        if (!result.ok()) return JsonError(404, "not_found", result.status().message());
        return JsonResponse(Json{{"receiver", req.Param("name")},
                                 {"outcome", DeliveryOutcomeName(result->outcome)},
                                 {"reason", result->reason}});
      }});
}

}  // namespace brickcast
