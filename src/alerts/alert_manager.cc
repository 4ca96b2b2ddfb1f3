#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "brickcast/alerts.h"
#include "brickcast/logging.h"
#include "brickcast/sha256.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

Json NumberOrNull(double v) { return std::isfinite(v) ? Json(v) : Json(); }

Json EvidenceValuesJson(const std::vector<EvidenceValue>& values) {
  Json out = Json::array();
  for (const EvidenceValue& v : values) {
    Json j{{"name", v.name}, {"value", NumberOrNull(v.value)}, {"unit", v.unit}};
    if (!v.point.empty()) j["point"] = v.point;
    out.push_back(std::move(j));
  }
  return out;
}

std::string EvidenceJson(const ConditionResult& r) {
  Json j{{"time", FormatIsoUtc(r.time)},
         {"outcome", OutcomeName(r.outcome)},
         {"detail", r.detail},
         {"values", EvidenceValuesJson(r.values)},
         {"thresholds", EvidenceValuesJson(r.thresholds)},
         {"predicted", r.predicted}};
  if (r.predicted) j["crossing_time"] = FormatIsoUtc(r.crossing_time);
  if (!r.missing.empty()) j["missing"] = r.missing;
  if (r.forecast) {
    Json times = Json::array(), values = Json::array(), lower = Json::array(), upper = Json::array();
    for (const ForecastStep& s : r.forecast->steps) {
      times.push_back(FormatIsoUtc(s.time));
      values.push_back(NumberOrNull(s.value));
      lower.push_back(NumberOrNull(s.lower));
      upper.push_back(NumberOrNull(s.upper));
    }
    j["forecast"] = Json{{"model", r.forecast->model},
                         {"window_end", FormatIsoUtc(r.forecast->window_end)},
                         {"step_seconds", r.forecast->step_ms / 1000},
                         {"times", times},
                         {"values", values},
                         {"lower", lower},
                         {"upper", upper}};
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}


}  // namespace

const char* AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
    case AlertState::kResolved: return "resolved";
    case AlertState::kNoData: return "no_data";
  }
  return "?";
}

std::optional<AlertState> ParseAlertState(const std::string& name) {
  for (AlertState s : {AlertState::kInactive, AlertState::kPending, AlertState::kFiring, AlertState::kResolved,
                       AlertState::kNoData}) {
    if (name == AlertStateName(s)) return s;
  }
  return std::nullopt;
}

std::string AlertFingerprint(const std::string& rule_id, const std::string& equipment) {
  return Sha256Hex(rule_id + "\n" + equipment).substr(0, 16);
}

const std::vector<std::string>& AlertMatchers::Names() {
  static const std::vector<std::string> kNames = {"rule", "equipment", "class", "severity", "kind", "predicted"};
  return kNames;
}

bool AlertMatchers::Matches(const Alert& a) const {
  for (const auto& [name, want] : labels) {
    if (name == "rule" && a.rule != want) return false;
    if (name == "equipment" && a.equipment != want && std::string(LocalName(a.equipment)) != want) return false;
    if (name == "class" && a.equipment_class != want) return false;
    if (name == "severity" && SeverityName(a.severity) != want) return false;
    if (name == "kind" && RuleKindName(a.kind) != want) return false;
    if (name == "predicted" && (a.predicted ? "true" : "false") != want) return false;
  }
  return true;
}

bool MuteWindow::OpenAt(UnixMillis now, const TimeZone& zone) const {
  const int64_t local = now / 1000 + zone.OffsetAtUtc(now / 1000);
  const int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const int minute = static_cast<int>((local - day * 86400) / 60);
  const int weekday = static_cast<int>(((day % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  auto day_listed = [this](int wd) {
    return weekdays.empty() || std::find(weekdays.begin(), weekdays.end(), wd) != weekdays.end();
  };
  if (start_minute <= end_minute) return day_listed(weekday) && minute >= start_minute && minute < end_minute;
  // Spans midnight: open from start on a listed day until end the next morning.
  if (minute >= start_minute) return day_listed(weekday);
  return minute < end_minute && day_listed((weekday + 6) % 7);
}

struct AlertManager::Impl {
  std::unique_ptr<AlertStore> store;
  AlertManagerOptions options;
  mutable std::mutex mu;
  std::unordered_map<std::string, Alert> alerts;  // by id
  std::vector<Silence> silences;
  std::shared_ptr<const BrickModel> model;
  // Root equipment upstream of an equipment's root along feeds (cached per model).
  mutable std::unordered_map<std::string, std::set<std::string>> upstream;
  uint64_t transitions = 0, store_errors = 0, silence_seq = 0;
  // The database's health as the last write found it (a full disk, a read-only file system):
  // /readyz reports it. Alerts whose state could not be saved are saved again once writes succeed.
  std::string store_error;  // "" = the last write succeeded
  std::set<std::string> unsaved;

  // Every write to the store reports here.
  void Wrote(const Status& st, const std::string& what) {
    if (!st.ok()) {
      ++store_errors;
      if (store_error.empty()) spdlog::error("alert store: writes fail ({}): {}", what, st.message());
      store_error = st.message();  // the store's messages say what it was writing
      return;
    }
    if (store_error.empty()) return;
    spdlog::info("alert store: writes succeed again; saving the {} alerts that could not be saved", unsaved.size());
    store_error.clear();
    for (auto it = unsaved.begin(); it != unsaved.end() && store_error.empty();) {
      auto a = alerts.find(*it);
      if (a == alerts.end()) {
        it = unsaved.erase(it);
        continue;
      }
      Status again = store->SaveAlert(a->second);
      if (!again.ok()) {
        ++store_errors;
        store_error = again.message();
        break;
      }
      it = unsaved.erase(it);
    }
  }

  // Saves the alert, with the transition that changed it if any (one transaction: see
  // AlertStore::RecordTransition). A transition whose write fails is missing from the history; the
  // alert itself is saved again once writes succeed.
  void Persist(const Alert& a, AlertTransition* transition = nullptr) {
    Status st = transition != nullptr ? store->RecordTransition(a, transition) : store->SaveAlert(a);
    if (!st.ok()) {
      unsaved.insert(a.id);
      if (transition != nullptr)
        spdlog::warn("alert store: transition of {} not recorded in the history: {}", a.id, st.message());
    }
    Wrote(st, (transition != nullptr ? "record transition of " : "save alert ") + a.id);
    if (st.ok()) unsaved.erase(a.id);
  }

  const std::set<std::string>& UpstreamOf(const std::string& equipment) const {
    auto it = upstream.find(equipment);
    if (it != upstream.end()) return it->second;
    std::set<std::string> out;
    if (model) {
      // Walk isFedBy from the equipment and everything it is part of.
      std::vector<std::string> to_visit{equipment};
      std::set<std::string> seen;
      while (!to_visit.empty()) {
        const std::string iri = to_visit.back();
        to_visit.pop_back();
        if (!seen.insert(iri).second) continue;
        const Entity* e = model->Find(iri);
        if (e == nullptr) continue;
        for (const std::string& p : e->part_of) to_visit.push_back(p);
        for (const std::string& f : e->fed_by) {
          out.insert(model->RootEquipmentOf(f));
          to_visit.push_back(f);
        }
      }
      out.erase(model->RootEquipmentOf(equipment));
    }
    return upstream.emplace(equipment, std::move(out)).first->second;
  }

  AlertView Annotate(const Alert& a, UnixMillis now) const {
    AlertView v{a, {}, {}, {}};
    if (!IsActive(a.state)) return v;
    for (const Silence& s : silences) {
      if (s.ActiveAt(now) && s.matchers.Matches(a)) v.silenced_by.push_back(s.id);
    }
    for (const MuteWindow& w : options.mute_windows) {
      if (w.matchers.Matches(a) && w.OpenAt(now, options.zone)) {
        v.muted_by = w.name;
        break;
      }
    }
    const std::string root = model ? model->RootEquipmentOf(a.equipment) : a.equipment;
    const std::set<std::string>& up = UpstreamOf(a.equipment);
    for (const auto& [id, b] : alerts) {
      if (id == a.id || b.state != AlertState::kFiring) continue;
      const std::string b_root = model ? model->RootEquipmentOf(b.equipment) : b.equipment;
      // A fault (or a dead sensor) upstream explains what the units it feeds see.
      if (b_root != root && up.count(b_root)) {
        v.inhibited_by.push_back(id);
        continue;
      }
      // A sensor-health alert on a point discredits every other rule reading that point.
      if (b.kind == RuleKind::kSensorHealth && b.rule != a.rule) {
        for (const std::string& p : b.points) {
          if (std::find(a.points.begin(), a.points.end(), p) != a.points.end()) {
            v.inhibited_by.push_back(id);
            break;
          }
        }
      }
    }
    return v;
  }
};

AlertManager::AlertManager(std::unique_ptr<AlertStore> store, AlertManagerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = std::move(store);
  impl_->options = std::move(options);
}

AlertManager::~AlertManager() = default;

Status AlertManager::Restore() {
  auto alerts = impl_->options.restore_alerts ? impl_->store->LoadAlerts() : StatusOr<std::vector<Alert>>(std::vector<Alert>{});
  if (!alerts.ok()) return alerts.status();
  auto silences = impl_->store->LoadSilences();
  if (!silences.ok()) return silences.status();
  std::lock_guard<std::mutex> lock(impl_->mu);
  size_t firing = 0;
  for (Alert& a : *alerts) {
    firing += a.state == AlertState::kFiring;
    impl_->alerts[a.id] = std::move(a);
  }
  impl_->silences = std::move(*silences);
  if (!impl_->alerts.empty())
    spdlog::info("alerts restored: {} ({} firing), {} silences", impl_->alerts.size(), firing, impl_->silences.size());
  return Status::Ok();
}

std::vector<Alert> AlertManager::Adopt(std::vector<Alert> incoming) {
  std::vector<Alert> taken;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (Alert& a : incoming) {
    auto it = impl_->alerts.find(a.id);
    if (it != impl_->alerts.end() && it->second.last_evaluated > a.last_evaluated) continue;
    impl_->Persist(a);
    taken.push_back(a);
    impl_->alerts[a.id] = std::move(a);
  }
  return taken;
}

std::vector<std::string> AlertManager::Release(const std::vector<std::string>& ids) {
  std::vector<std::string> released;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const std::string& id : ids) {
    if (impl_->alerts.erase(id) > 0) released.push_back(id);
    impl_->unsaved.erase(id);
  }
  return released;
}

void AlertManager::SetModel(std::shared_ptr<const BrickModel> model) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->model = std::move(model);
  impl_->upstream.clear();
}

AlertState AlertManager::Apply(const RuleBinding& binding, const ConditionResult& r) {
  const RuleSpec& rule = *binding.rule;
  LogScope scope("alert=" + (binding.alert_id.empty() ? AlertFingerprint(rule.id, binding.equipment) : binding.alert_id));
  std::optional<AlertChanged> changed;
  AlertState result_state;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const std::string id = binding.alert_id.empty() ? AlertFingerprint(rule.id, binding.equipment) : binding.alert_id;
    auto [it, created] = impl_->alerts.try_emplace(id);
    Alert& a = it->second;
    if (created) a.id = id;
    // Labels follow the rule (a reload may change severity or kind).
    if (created || a.equipment_class.empty()) {
      a.rule = rule.id;
      a.equipment = binding.equipment;
      if (impl_->model) {
        if (const Entity* e = impl_->model->Find(binding.equipment); e && !e->classes.empty())
          a.equipment_class = std::string(LocalName(e->classes.front()));
      }
    }
    a.kind = rule.kind;
    a.severity = rule.severity;
    if (a.action != rule.action) a.action = rule.action;
    if (a.points.size() != binding.points.size()) {
      a.points.clear();
      for (const auto& [name, point] : binding.points) a.points.push_back(point);
    }
    if (a.last_evaluated != 0 && r.time <= a.last_evaluated) return a.state;  // already judged this data time
    a.last_evaluated = r.time;

    const AlertState from = a.state;
    AlertState to = from;
    bool dirty = false;
    const UnixMillis t = r.time;
    switch (r.outcome) {
      case Outcome::kNoData:
        if (from == AlertState::kPending || from == AlertState::kFiring) {
          a.was_firing = from == AlertState::kFiring;
          to = AlertState::kNoData;
        }
        break;
      case Outcome::kFault:
        // A prediction of a crossing that has already happened warns of nothing: a predicted
        // alert only starts ahead of the measured crossing (a measured rule covers the rest).
        if (r.predicted && r.measured_crossed && (from == AlertState::kInactive || from == AlertState::kResolved))
          break;
        if (from == AlertState::kInactive || from == AlertState::kResolved) {
          a.pending_since = t;
          a.predicted = r.predicted;
          a.realised_at = 0;
          a.ends_at = 0;
          to = AlertState::kPending;
        } else if (from == AlertState::kNoData) {
          to = a.was_firing ? AlertState::kFiring : AlertState::kPending;
          if (!a.was_firing) a.pending_since = t;
        }
        if (to == AlertState::kPending && t - a.pending_since >= rule.for_ms) {
          to = AlertState::kFiring;
          a.starts_at = t;
        }
        if (a.normal_since != 0) {
          a.normal_since = 0;
          dirty = true;
        }
        // The expected crossing of the latest real prediction: once the measured value is past
        // the limit, the forecast no longer predicts anything.
        if (r.predicted && !r.measured_crossed) a.crossing_time = r.crossing_time;
        break;
      case Outcome::kNormal:
        if (from == AlertState::kPending || (from == AlertState::kNoData && !a.was_firing)) {
          to = AlertState::kInactive;
        } else if (from == AlertState::kFiring || from == AlertState::kNoData) {
          if (a.normal_since == 0) {
            a.normal_since = t;
            dirty = true;
          }
          to = t - a.normal_since >= rule.clear_for_ms ? AlertState::kResolved : AlertState::kFiring;
          if (to == AlertState::kResolved) {
            a.ends_at = t;
            a.normal_since = 0;
          }
        }
        break;
    }
    // A predicted alert whose measured value has now crossed records the lead it gave, if the
    // crossing came within the rule's horizon of the crossing last predicted (not after a feed gap
    // of months, during which the alert stayed firing because nothing was evaluated).
    if (a.predicted && r.measured_crossed && a.realised_at == 0 &&
        (to == AlertState::kPending || to == AlertState::kFiring) &&
        (rule.within_ms <= 0 || a.crossing_time == 0 || t <= a.crossing_time + rule.within_ms)) {
      a.realised_at = t;
      dirty = true;
    }
    // The alert shows the evaluation that made it (and its latest while active); a resolve keeps
    // the fault's evidence on the alert, and the history records the resolving evaluation.
    const std::string evidence = EvidenceJson(r);
    const std::string summary = RenderSummary(rule, binding.equipment, r);
    if (r.outcome != Outcome::kNormal && (IsActive(to) || to != from)) {
      a.evidence = evidence;
      a.summary = summary;
    }
    if (to != from) {
      a.state = to;
      ++a.transitions;
      ++impl_->transitions;
      a.acked_by.clear();
      a.ack_comment.clear();
      a.acked_at = 0;
      AlertTransition tr{0, a.id, from, to, t, impl_->options.clock->Now(), summary, evidence};
      impl_->Persist(a, &tr);
      changed = AlertChanged{a.id,          a.rule, a.equipment, SeverityName(a.severity), AlertStateName(from),
                             AlertStateName(to), a.predicted, t,           summary, a.realised_at,
                             a.starts_at};
    } else if (dirty) {
      impl_->Persist(a);
    }
    result_state = a.state;
  }
  if (changed && impl_->options.events) impl_->options.events->Publish(*changed);
  return result_state;
}

std::vector<AlertView> AlertManager::List(const AlertFilter& f) const {
  const UnixMillis now = impl_->options.clock->Now();
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<AlertView> out;
  for (const auto& [id, a] : impl_->alerts) {
    if (f.state ? a.state != *f.state : (!f.include_inactive && a.state == AlertState::kInactive)) continue;
    if (f.severity && a.severity != *f.severity) continue;
    if (!f.rule.empty() && a.rule != f.rule) continue;
    if (!f.equipment.empty() && a.equipment != f.equipment && std::string(LocalName(a.equipment)) != f.equipment)
      continue;
    if (f.predicted && a.predicted != *f.predicted) continue;
    out.push_back(impl_->Annotate(a, now));
  }
  // Most urgent first: firing, then by severity, then newest.
  auto rank = [](AlertState s) {
    return s == AlertState::kFiring ? 0 : s == AlertState::kNoData ? 1 : s == AlertState::kPending ? 2 : 3;
  };
  std::sort(out.begin(), out.end(), [&](const AlertView& x, const AlertView& y) {
    if (rank(x.alert.state) != rank(y.alert.state)) return rank(x.alert.state) < rank(y.alert.state);
    if (x.alert.severity != y.alert.severity) return x.alert.severity > y.alert.severity;
    if (x.alert.last_evaluated != y.alert.last_evaluated) return x.alert.last_evaluated > y.alert.last_evaluated;
    return x.alert.id < y.alert.id;
  });
  return out;
}

std::optional<AlertView> AlertManager::Get(const std::string& id) const {
  const UnixMillis now = impl_->options.clock->Now();
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->alerts.find(id);
  if (it == impl_->alerts.end()) return std::nullopt;
  return impl_->Annotate(it->second, now);
}

std::optional<AlertState> AlertManager::StateOf(const std::string& id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->alerts.find(id);
  if (it == impl_->alerts.end()) return std::nullopt;
  return it->second.state;
}

std::vector<AlertTransition> AlertManager::History(const std::string& id, size_t limit) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto h = impl_->store->History(id, limit);
  return h.ok() ? *h : std::vector<AlertTransition>{};
}

Outbox& AlertManager::outbox() { return impl_->store->outbox(); }

Status AlertManager::RecordAudit(AuditEntry entry) {
  if (entry.time == 0) entry.time = impl_->options.clock->Now();
  std::lock_guard<std::mutex> lock(impl_->mu);
  Status st = impl_->store->AppendAudit(&entry);
  impl_->Wrote(st, "append audit");
  return st;
}

StatusOr<std::vector<AuditEntry>> AlertManager::Audit(size_t limit, int64_t before) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->store->Audit(limit, before);
}

Status AlertManager::Ack(const std::string& id, const std::string& who, const std::string& comment) {
  if (who.empty()) return Status::InvalidArgument("an acknowledgement needs an author");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->alerts.find(id);
  if (it == impl_->alerts.end()) return Status::NotFound("no alert " + id);
  Alert& a = it->second;
  if (!IsActive(a.state))
    return Status::FailedPrecondition("alert " + id + " is " + AlertStateName(a.state) + "; only active alerts are acknowledged");
  a.acked_by = who;
  a.ack_comment = comment;
  a.acked_at = impl_->options.clock->Now();
  impl_->Persist(a);
  return Status::Ok();
}

StatusOr<Silence> AlertManager::AddSilence(Silence s) {
  const UnixMillis now = impl_->options.clock->Now();
  if (s.matchers.labels.empty()) return Status::InvalidArgument("a silence needs at least one matcher");
  for (const auto& [name, value] : s.matchers.labels) {
    const auto& names = AlertMatchers::Names();
    if (std::find(names.begin(), names.end(), name) == names.end())
      return Status::InvalidArgument("unknown matcher '" + name + "' (rule, equipment, class, severity, kind, predicted)");
    if (value.empty()) return Status::InvalidArgument("matcher '" + name + "' is empty");
  }
  if (s.author.empty()) return Status::InvalidArgument("a silence needs an author");
  if (s.starts_at == 0) s.starts_at = now;
  if (s.ends_at <= s.starts_at) return Status::InvalidArgument("ends_at must be after starts_at");
  if (s.ends_at <= now) return Status::InvalidArgument("ends_at is in the past");
  std::lock_guard<std::mutex> lock(impl_->mu);
  s.created_at = now;
  s.id = Sha256Hex(std::to_string(now) + "\n" + s.author + "\n" + std::to_string(++impl_->silence_seq) + "\n" +
                   std::to_string(impl_->silences.size()))
             .substr(0, 12);
  BRICKCAST_RETURN_IF_ERROR(impl_->store->SaveSilence(s));
  impl_->silences.push_back(s);
  return s;
}

Status AlertManager::ExpireSilence(const std::string& id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (Silence& s : impl_->silences) {
    if (s.id != id) continue;
    if (s.expired) return Status::FailedPrecondition("silence " + id + " has already expired");
    s.expired = true;
    return impl_->store->SaveSilence(s);
  }
  return Status::NotFound("no silence " + id);
}

std::vector<Silence> AlertManager::Silences(bool include_expired) const {
  const UnixMillis now = impl_->options.clock->Now();
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<Silence> out;
  for (const Silence& s : impl_->silences) {
    if (include_expired || (!s.expired && s.ends_at > now)) out.push_back(s);
  }
  return out;
}

AlertCounters AlertManager::Counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  AlertCounters c;
  for (const auto& [id, a] : impl_->alerts) ++c.by_state[{a.state, a.severity}];
  c.transitions = impl_->transitions;
  c.store_errors = impl_->store_errors;
  c.store_error = impl_->store_error;
  return c;
}

void AlertManager::Prune() {
  const UnixMillis now = impl_->options.clock->Now();
  std::lock_guard<std::mutex> lock(impl_->mu);
  Status st = impl_->store->Prune(now - impl_->options.retention_ms, impl_->options.retention_rows);
  impl_->Wrote(st, "prune");
  std::erase_if(impl_->silences, [&](const Silence& s) { return s.ends_at < now - impl_->options.retention_ms; });
}

void CollectAlertMetrics(const AlertManager& alerts, MetricWriter& w) {
  const AlertCounters c = alerts.Counters();
  for (AlertState s : {AlertState::kPending, AlertState::kFiring, AlertState::kNoData, AlertState::kResolved}) {
    for (Severity sev : {Severity::kInfo, Severity::kWarning, Severity::kCritical}) {
      auto it = c.by_state.find({s, sev});
      w.Gauge("brickcast_alerts", "Alerts by state and severity.",
              static_cast<double>(it == c.by_state.end() ? 0 : it->second),
              {{"state", AlertStateName(s)}, {"severity", SeverityName(sev)}});
    }
  }
  w.Counter("brickcast_alert_transitions_total", "Alert state changes since start.", static_cast<double>(c.transitions));
  w.Counter("brickcast_alert_store_errors_total", "Failed writes to the alert database.",
            static_cast<double>(c.store_errors));
  w.Gauge("brickcast_alert_store_up", "1 when the last write to the alert database succeeded.",
          c.store_error.empty() ? 1.0 : 0.0);
}

}  // namespace brickcast
