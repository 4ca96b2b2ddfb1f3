#include "app/alert_changelog.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

namespace brickcast {
namespace {

using Json = nlohmann::json;
using Steady = std::chrono::steady_clock;

// Evidence beyond this is left out of a record: the changelog is read whole on every assignment
// (and the embedded broker keeps 5 MiB a partition); the history keeps the evidence.
constexpr size_t kMaxRecordEvidence = 4096;

// What receivers were last told of an alert, for the episode that started at `episode`.
struct Told {
  bool firing = false;
  UnixMillis episode = 0;
};

bool FiringNow(const Alert& a) {
  return a.state == AlertState::kFiring || (a.state == AlertState::kNoData && a.was_firing);
}

}  // namespace

struct AlertChangelog::Impl {
  AlertChangelogOptions options;
  AlertManager& alerts;
  RuleEngine& rules;
  Notifications notifications;
  std::unique_ptr<KafkaProducer> producer;

  mutable std::mutex mu;  // the maps, and the order records are produced in
  std::unordered_map<std::string, int32_t> point_partition;
  std::vector<std::string> last_points;  // of the previous ObservationsApplied (most repeat)
  int32_t last_partition = -1;
  std::unordered_map<std::string, int32_t> alert_partition;
  std::unordered_map<std::string, Told> told;
  std::set<int32_t> owned;  // partitions restored and not handed over since
  AlertChangelogStats stats;

  Impl(AlertChangelogOptions o, AlertManager& a, RuleEngine& r, Notifications n)
      : options(std::move(o)), alerts(a), rules(r), notifications(std::move(n)) {}

  // The partition of the alert's equipment: that of the first of its points seen from Kafka.
  int32_t PartitionLocked(const Alert& a) {
    if (auto it = alert_partition.find(a.id); it != alert_partition.end()) return it->second;
    for (const std::string& p : a.points) {
      if (auto it = point_partition.find(p); it != point_partition.end()) {
        alert_partition[a.id] = it->second;
        return it->second;
      }
    }
    return -1;
  }

  std::string TellsLocked(const Alert& a) const {
    auto it = told.find(a.id);
    if (it == told.end() || it->second.episode != a.starts_at) return "";
    return it->second.firing ? "firing" : "resolved";
  }

  // Writes the alert's current state. False when it could not be queued.
  bool WriteLocked(const std::string& id) {
    auto view = alerts.Get(id);
    if (!view) return true;  // released meanwhile: its new owner writes it
    Alert a = std::move(view->alert);
    const int32_t partition = PartitionLocked(a);
    if (partition < 0) {
      // Not from Kafka (POSTed, replayed in process): no partition owns it, nothing moves.
      ++stats.unplaced;
      return true;
    }
    // A late evaluation of a partition handed over (a forecast in flight at the revoke) must not
    // overwrite what its new owner writes.
    if (!owned.count(partition)) return true;
    if (a.evidence.size() > kMaxRecordEvidence) a.evidence.clear();
    const std::string record = "{\"instance\":" + Json(options.instance).dump() + ",\"written_at\":" +
                               std::to_string(options.clock->Now()) + ",\"told\":\"" + TellsLocked(a) +
                               "\",\"alert\":" + EncodeAlert(a) + "}";
    const Status st = producer->ProduceToPartition(options.topic, partition, a.id, record);
    if (!st.ok()) {
      ++stats.write_errors;
      spdlog::warn("alert changelog: alert {}: {}", a.id, st.message());
      return false;
    }
    ++stats.written;
    return true;
  }
};

AlertChangelog::AlertChangelog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlertChangelog::~AlertChangelog() {
  if (impl_->producer) (void)impl_->producer->Flush(std::chrono::seconds(5));
}

StatusOr<std::unique_ptr<AlertChangelog>> AlertChangelog::Create(AlertChangelogOptions options, AlertManager& alerts,
                                                                 RuleEngine& rules, Notifications notifications) {
  auto impl = std::make_unique<Impl>(std::move(options), alerts, rules, std::move(notifications));
  auto producer = KafkaProducer::Create(impl->options.client);  // idempotent: no duplicates, no reordering
  if (!producer.ok()) return producer.status().WithContext("alert changelog");
  impl->producer = std::move(*producer);
  return std::unique_ptr<AlertChangelog>(new AlertChangelog(std::move(impl)));
}

void AlertChangelog::OnEvent(const Event& event) {
  Impl& d = *impl_;
  if (const auto* applied = std::get_if<ObservationsApplied>(&event)) {
    if (applied->partition < 0) return;
    std::lock_guard<std::mutex> lock(d.mu);
    if (applied->partition == d.last_partition && applied->points == d.last_points) return;
    for (const std::string& p : applied->points) d.point_partition[p] = applied->partition;
    d.last_points = applied->points;
    d.last_partition = applied->partition;
  } else if (const auto* changed = std::get_if<AlertChanged>(&event)) {
    std::lock_guard<std::mutex> lock(d.mu);
    d.WriteLocked(changed->alert);
  }
}

void AlertChangelog::OnTold(const std::vector<ToldAlert>& told) {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    for (const ToldAlert& t : told) {
      if (auto it = d.told.find(t.id); it != d.told.end() && it->second.episode > t.starts_at) continue;
      if (!d.alerts.Get(t.id)) continue;
      d.told[t.id] = Told{t.firing, t.starts_at};
      d.WriteLocked(t.id);
    }
  }
  // Durable before the notification goes out (see the header); a broker that does not answer in
  // time costs at most a repeat after a takeover, never a lost notification.
  if (Status st = d.producer->Flush(d.options.flush_timeout); !st.ok())
    spdlog::warn("alert changelog: told records not confirmed: {}", st.message());
}

void AlertChangelog::Restore(const std::vector<int32_t>& partitions) {
  Impl& d = *impl_;
  const auto t0 = Steady::now();
  struct Latest {
    int32_t partition = -1;
    std::string record;
  };
  std::map<std::string, Latest> latest;  // by fingerprint: the last record wins
  const Status read = ReadPartitionsToEnd(
      d.options.client, d.options.topic, partitions,
      [&latest](int32_t partition, std::string_view key, std::string_view value) {
        latest[std::string(key)] = Latest{partition, std::string(value)};
      },
      d.options.restore_timeout);
  std::vector<Alert> incoming;
  std::map<std::string, std::pair<int32_t, std::string>> meta;  // id -> (partition, told)
  size_t bad = 0;
  for (auto& [key, l] : latest) {
    const Json j = Json::parse(l.record, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("alert")) {
      ++bad;
      continue;
    }
    auto alert = DecodeAlert(j.at("alert").dump());
    if (!alert.ok()) {
      ++bad;
      continue;
    }
    const Json told = j.value("told", Json(""));
    meta[alert->id] = {l.partition, told.is_string() ? told.get<std::string>() : ""};
    incoming.push_back(std::move(*alert));
  }
  std::vector<Alert> taken = d.alerts.Adopt(std::move(incoming));
  std::vector<std::string> ids;
  std::vector<std::pair<std::string, std::string>> told;
  size_t firing = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.owned.insert(partitions.begin(), partitions.end());
    ++d.stats.restores;
    if (!read.ok()) ++d.stats.restore_failures;
    d.stats.adopted += taken.size();
    for (const Alert& a : taken) {
      const auto& [partition, tells] = meta[a.id];
      d.alert_partition[a.id] = partition;
      if (tells == "firing" || tells == "resolved") d.told[a.id] = Told{tells == "firing", a.starts_at};
      else d.told.erase(a.id);
      ids.push_back(a.id);
      told.emplace_back(a.id, tells);
      firing += FiringNow(a);
    }
  }
  d.rules.RefreshAlerts(ids);
  if (auto n = d.notifications()) n->Adopt(told);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0).count();
  if (!read.ok()) {
    spdlog::error("alert changelog: restoring partitions failed after {} ms, {} alerts adopted: {} (alerts of these "
                  "partitions may fire and be notified again)",
                  ms, taken.size(), read.message());
  } else {
    spdlog::info("alert changelog: {} partitions restored in {} ms: {} alerts adopted ({} firing){}", partitions.size(),
                 ms, taken.size(), firing, bad > 0 ? ", " + std::to_string(bad) + " unreadable records skipped" : "");
  }
}

void AlertChangelog::Handover(const std::vector<int32_t>& partitions) {
  Impl& d = *impl_;
  const std::set<int32_t> moving(partitions.begin(), partitions.end());
  if (Status st = d.producer->Flush(d.options.flush_timeout); !st.ok())
    spdlog::warn("alert changelog: records not confirmed before the handover: {}", st.message());
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    for (int32_t p : partitions) d.owned.erase(p);
    for (auto it = d.alert_partition.begin(); it != d.alert_partition.end();) {
      if (!moving.count(it->second)) {
        ++it;
        continue;
      }
      ids.push_back(it->first);
      d.told.erase(it->first);
      it = d.alert_partition.erase(it);
    }
    for (auto it = d.point_partition.begin(); it != d.point_partition.end();) {
      it = moving.count(it->second) ? d.point_partition.erase(it) : std::next(it);
    }
    d.last_points.clear();
    d.last_partition = -1;
  }
  const std::vector<std::string> released = d.alerts.Release(ids);
  if (auto n = d.notifications()) n->Release(released);
  d.rules.RefreshAlerts(released);
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.stats.released += released.size();
  }
  spdlog::info("alert changelog: {} alerts of {} revoked partitions handed over", released.size(), partitions.size());
}

AlertChangelogStats AlertChangelog::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

void AlertChangelog::Collect(MetricWriter& w) const {
  const AlertChangelogStats s = Stats();
  w.Counter("brickcast_alert_changelog_records_total", "Alert state records written to the changelog topic.",
            static_cast<double>(s.written));
  w.Counter("brickcast_alert_changelog_write_errors_total", "Alert state records that could not be queued.",
            static_cast<double>(s.write_errors));
  w.Counter("brickcast_alert_changelog_restores_total", "Partition assignments whose alert state was restored.",
            static_cast<double>(s.restores));
  w.Counter("brickcast_alert_changelog_restore_failures_total",
            "Restores that did not read the changelog to its end (alerts may be notified again).",
            static_cast<double>(s.restore_failures));
  w.Counter("brickcast_alert_changelog_adopted_total", "Alerts taken over from the changelog.",
            static_cast<double>(s.adopted));
  w.Counter("brickcast_alert_changelog_released_total", "Alerts handed over with a revoked partition.",
            static_cast<double>(s.released));
}

}  // namespace brickcast
