// Live events: GET /api/v1/events, a server-sent event stream of alert transitions and fresh
// forecasts, with heartbeats and Last-Event-ID resume. The dashboard keeps one open; scripts
// may too (curl -N).
#include <algorithm>
#include <sstream>

#include "api/api.h"
#include "api/live_events.h"

namespace brickcast {
namespace {

// One SSE frame. Data is one line of JSON, so it needs no splitting.
std::string Frame(const std::string& id, const std::string& type, const std::string& data) {
  std::string out;
  if (!id.empty()) out += "id: " + id + "\n";
  out += "event: " + type + "\ndata: " + data + "\n\n";
  return out;
}

}  // namespace

void AddEventRoutes(Router& router, const ApiServices& s) {
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/events",
      .summary = "Server-sent events: alert transitions (event: alert) and fresh forecasts (event: forecast)",
      .description = "A text/event-stream that stays open. Each event has an id; reconnect with the "
                     "Last-Event-ID header (or last_event_id) to get what was missed. When the daemon no "
                     "longer holds it (or restarted), the stream starts with `event: reset`: reload your "
                     "state. A comment line is sent every `heartbeat` seconds of silence.",
      .query = {{"types", "string", "comma-separated event types to send: alert, forecast (default: both)"},
                {"heartbeat", "integer", "seconds between heartbeats while nothing happens, 1-60 (default 15)"},
                {"last_event_id", "string", "as the Last-Event-ID header, for clients that cannot set headers"}},
      .responses = {{200, "text/event-stream"}, {400, "bad types or heartbeat"}, {503, "live events disabled"}},
      .response_type = "text/event-stream",
      .handler = [s](const HttpRequest& req) -> HttpResponse {
        if (s.live_events == nullptr) return JsonError(503, "unavailable", "live events are not enabled");
        bool want_alert = true, want_forecast = true;
        if (const std::string types = req.Query("types"); !types.empty()) {
          want_alert = want_forecast = false;
          std::stringstream list(types);
          for (std::string t; std::getline(list, t, ',');) {
            if (t == "alert") want_alert = true;
            else if (t == "forecast") want_forecast = true;
            else return JsonError(400, "invalid_argument", "unknown event type '" + t + "' (alert, forecast)");
          }
        }
        int heartbeat_s = 15;
        if (const std::string h = req.Query("heartbeat"); !h.empty()) {
          char* end = nullptr;
          const long v = std::strtol(h.c_str(), &end, 10);
          if (end == h.c_str() || *end != 0 || v < 1 || v > 60)
            return JsonError(400, "invalid_argument", "heartbeat must be an integer number of seconds, 1-60");
          heartbeat_s = static_cast<int>(v);
        }
        std::string last = req.Header("last-event-id");
        if (last.empty()) last = req.Query("last_event_id");
        LiveEvents* events = s.live_events;
        bool reset = false;
        const uint64_t start = events->ResumeAfter(last, &reset);
        HttpResponse res;
        res.content_type = "text/event-stream";
        res.headers["Cache-Control"] = "no-cache";
        res.headers["X-Accel-Buffering"] = "no";  // proxies must not buffer a stream
        res.stream = [events, start, reset, want_alert, want_forecast, heartbeat_s](StreamWriter& w) {
          using namespace std::chrono;
          std::string head = "retry: 3000\n\n";
          if (reset) head += Frame(events->Id(start), "reset", "{\"reason\":\"events missed; reload state\"}");
          else head += ": connected\n\n";
          if (!w.Write(head)) return;
          uint64_t after = start;
          auto quiet_since = steady_clock::now();
          while (!w.stopping()) {
            bool dropped = false;
            // Short waits, so that a server stop is seen promptly.
            const std::vector<LiveEvents::Item> items = events->After(after, milliseconds(500), &dropped);
            std::string out;
            if (dropped) out += Frame(events->Id(after), "reset", "{\"reason\":\"stream too slow; events dropped\"}");
            for (const LiveEvents::Item& it : items) {
              after = it.seq;
              if ((it.type == "alert" && want_alert) || (it.type == "forecast" && want_forecast))
                out += Frame(events->Id(it.seq), it.type, it.data);
            }
            const auto now = steady_clock::now();
            if (out.empty() && now - quiet_since >= seconds(heartbeat_s)) out = ": heartbeat\n\n";
            if (out.empty()) continue;
            if (!w.Write(out)) return;  // the client went away
            quiet_since = now;
          }
        };
        return res;
      }});
}

}  // namespace brickcast
