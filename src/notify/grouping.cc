#include "notify/grouping.h"

#include <algorithm>

#include "brickcast/sha256.h"

namespace brickcast::notify {
namespace {

const std::string* Label(const std::map<std::string, std::string>& labels, const std::string& name) {
  auto it = labels.find(name);
  return it == labels.end() ? nullptr : &it->second;
}

// `equipment` matchers accept the local name or the IRI, like silences do.
bool LabelEquals(const std::map<std::string, std::string>& labels, const std::string& name, const std::string& want) {
  const std::string* v = Label(labels, name);
  if (v != nullptr && *v == want) return true;
  if (name == "equipment") {
    const std::string* iri = Label(labels, "equipment_iri");
    return iri != nullptr && *iri == want;
  }
  return false;
}

Status BuildNode(const RouteConfig& c, const RouteNode* parent, const std::string& id, RouteNode* out) {
  out->id = id;
  out->receiver = !c.receiver.empty() ? c.receiver : parent ? parent->receiver : "";
  if (out->receiver.empty()) return Status::InvalidArgument("route " + id + ": no receiver (nor one inherited)");
  out->matchers = c.matchers;
  for (const auto& [label, re] : c.matchers_re) {
    try {
      out->matchers_re.emplace_back(label, std::regex(re, std::regex::ECMAScript));
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("route " + id + ": matchers_re/" + label + ": invalid regular expression: " + e.what());
    }
  }
  out->continue_matching = c.continue_matching;
  if (c.group_by_set) {
    out->group_by = c.group_by;
    out->group_by_all = std::find(c.group_by.begin(), c.group_by.end(), "...") != c.group_by.end();
  } else if (parent) {
    out->group_by = parent->group_by;
    out->group_by_all = parent->group_by_all;
  }
  auto inherit = [&](int64_t own, int64_t RouteNode::*field) {
    if (own >= 0) out->*field = own;
    else if (parent) out->*field = parent->*field;
  };
  inherit(c.group_wait_ms, &RouteNode::group_wait_ms);
  inherit(c.group_interval_ms, &RouteNode::group_interval_ms);
  inherit(c.repeat_interval_ms, &RouteNode::repeat_interval_ms);
  if (out->group_interval_ms <= 0) return Status::InvalidArgument("route " + id + ": group_interval must be > 0");
  for (size_t i = 0; i < c.routes.size(); ++i) {
    out->children.emplace_back();
    BRICKCAST_RETURN_IF_ERROR(BuildNode(c.routes[i], out, id + "/" + std::to_string(i), &out->children.back()));
  }
  return Status::Ok();
}

void MatchInto(const RouteNode& node, const std::map<std::string, std::string>& labels,
               std::vector<const RouteNode*>* out) {
  bool child_matched = false;
  for (const RouteNode& child : node.children) {
    if (!child.Matches(labels)) continue;
    child_matched = true;
    MatchInto(child, labels, out);
    if (!child.continue_matching) break;
  }
  if (!child_matched) out->push_back(&node);
}

}  // namespace

bool RouteNode::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [name, want] : matchers) {
    if (!LabelEquals(labels, name, want)) return false;
  }
  for (const auto& [name, re] : matchers_re) {
    const std::string* v = Label(labels, name);
    if (v == nullptr || !std::regex_match(*v, re)) return false;
  }
  return true;
}

StatusOr<RouteTree> RouteTree::Build(const RouteConfig& root) {
  RouteTree t;
  BRICKCAST_RETURN_IF_ERROR(BuildNode(root, nullptr, "root", &t.root_));
  return t;
}

std::vector<const RouteNode*> RouteTree::Match(const std::map<std::string, std::string>& labels) const {
  std::vector<const RouteNode*> out;
  MatchInto(root_, labels, &out);
  return out;
}

Grouper::Grouper(const RouteTree* tree, std::string external_url)
    : tree_(tree), external_url_(std::move(external_url)) {}

void Grouper::RestoreLog(const std::vector<GroupLogEntry>& log, UnixMillis) {
  for (const GroupLogEntry& g : log) restored_[{g.receiver, g.group_key}] = g;
}

Grouper::Group& Grouper::GroupFor(const RouteNode* route, const std::map<std::string, std::string>& labels,
                                  const std::string& alert_id, UnixMillis now) {
  std::map<std::string, std::string> group_labels;
  std::string key = route->id + ":{";
  if (route->group_by_all) {
    group_labels = labels;
    group_labels.erase("equipment_iri");
    key += "alert=" + alert_id;
  } else {
    for (const std::string& name : route->group_by) {
      const std::string* v = Label(labels, name);
      group_labels[name] = v ? *v : "";
    }
    bool first = true;
    for (const auto& [k, v] : group_labels) {
      key += (first ? "" : ",") + k + "=\"" + v + "\"";
      first = false;
    }
  }
  key += "}";
  auto [it, inserted] = groups_.try_emplace({route->receiver, key});
  Group& g = it->second;
  if (inserted) {
    g.route = route;
    g.receiver = route->receiver;
    g.key = key;
    g.labels = std::move(group_labels);
    g.next_flush = now + route->group_wait_ms;
    auto log = restored_.find({g.receiver, key});
    if (log != restored_.end()) {
      g.sent_firing.insert(log->second.firing.begin(), log->second.firing.end());
      g.last_sent = log->second.last_sent;
      restored_.erase(log);
    }
  }
  return g;
}

void Grouper::EndHeldEpisode(Group& g, const NotifyAlert& next) {
  auto held = g.alerts.find(next.id);
  if (held == g.alerts.end()) return;
  NotifyAlert ended = std::move(held->second);
  g.alerts.erase(held);
  const bool told_firing = g.sent_firing.erase(next.id) > 0;
  if (ended.firing) {
    // Its resolve never reached the group (it arrives as a late transition, or was collapsed):
    // it ended no later than the next episode began.
    if (!told_firing) return;  // neither its firing nor its end was told: nothing to correct
    ended.firing = false;
    ended.ends_at = next.starts_at;
  }
  g.ended.push_back(std::move(ended));
}

void Grouper::Update(const NotifyAlert& alert, UnixMillis now, bool untold) {
  const auto labels = alert.Labels();
  for (const RouteNode* route : tree_->Match(labels)) {
    Group& g = GroupFor(route, labels, alert.id, now);
    if (auto held = g.alerts.find(alert.id); held != g.alerts.end() && held->second.starts_at != alert.starts_at) {
      if (alert.starts_at < held->second.starts_at) {
        // A transition of an episode the group has moved past: its resolve is still news (once).
        const bool known = std::any_of(g.ended.begin(), g.ended.end(), [&](const NotifyAlert& e) {
          return e.id == alert.id && e.starts_at == alert.starts_at;
        });
        if (!alert.firing && !known) g.ended.push_back(alert);
        continue;
      }
      EndHeldEpisode(g, alert);
    }
    // A resolve of an alert this group never held is not news; one that fired and resolved
    // before the group's flush is still told (as resolved, with its start and end): a fault
    // that came and went is evidence the plant team wants.
    if (!alert.firing && !untold && !g.sent_firing.count(alert.id) && !g.alerts.count(alert.id)) continue;
    g.alerts[alert.id] = alert;
    // group_interval limits how often a group is told, it does not make news wait for a tick: a
    // change group_interval or more after the group's last notification is flushed at once.
    if (g.last_sent != 0) g.next_flush = std::min(g.next_flush, std::max(now, g.last_sent + g.route->group_interval_ms));
  }
}

void Grouper::AdoptTold(const NotifyAlert& alert, UnixMillis now) {
  const auto labels = alert.Labels();
  for (const RouteNode* route : tree_->Match(labels)) {
    Group& g = GroupFor(route, labels, alert.id, now);
    g.alerts[alert.id] = alert;
    g.sent_firing.insert(alert.id);
    if (g.last_sent == 0) g.last_sent = now;  // the repeat interval runs from the takeover
  }
}

void Grouper::Release(const std::string& alert_id) {
  for (auto& [key, g] : groups_) {
    g.alerts.erase(alert_id);
    std::erase_if(g.ended, [&](const NotifyAlert& e) { return e.id == alert_id; });
    g.sent_firing.erase(alert_id);
  }
}

std::vector<GroupFlush> Grouper::Flush(UnixMillis now, const std::function<bool(NotifyAlert*)>& refresh,
                                       const std::function<bool(const std::string&)>& quiet,
                                       const std::function<bool(const std::string&)>& send_resolved) {
  std::vector<GroupFlush> out;
  // Logs of groups that no alert came back to after a restart.
  for (const auto& [k, log] : restored_) out.push_back(GroupFlush{false, {}, log, true});
  restored_.clear();
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    if (g.next_flush > now) {
      ++it;
      continue;
    }
    std::vector<NotifyAlert> firing, resolved = std::move(g.ended);
    g.ended.clear();
    for (auto a = g.alerts.begin(); a != g.alerts.end();) {
      NotifyAlert current = a->second;
      if (!refresh(&current)) {
        a = g.alerts.erase(a);
        continue;
      }
      if (current.starts_at == a->second.starts_at) a->second = std::move(current);
      if (a->second.firing) {
        if (!quiet(a->first)) firing.push_back(a->second);
      } else {
        resolved.push_back(a->second);
      }
      ++a;
    }
    std::set<std::string> firing_ids;
    for (const NotifyAlert& a : firing) firing_ids.insert(a.id);
    const bool wants_resolved = send_resolved(g.receiver);
    const bool new_firing = !std::includes(g.sent_firing.begin(), g.sent_firing.end(), firing_ids.begin(), firing_ids.end());
    const bool repeat_due = !firing.empty() && now - g.last_sent >= g.route->repeat_interval_ms;
    // Resolved alerts leave the group at each flush, so any still here are news.
    const bool changed = wants_resolved ? firing_ids != g.sent_firing || !resolved.empty() : new_firing;
    GroupFlush f;
    f.send = (changed || repeat_due) && (!firing.empty() || (wants_resolved && !resolved.empty()));
    if (f.send) {
      Notification& n = f.notification;
      n.receiver = g.receiver;
      n.group_key = g.key;
      n.group_labels = g.labels;
      n.alerts = firing;
      if (wants_resolved) n.alerts.insert(n.alerts.end(), resolved.begin(), resolved.end());
      n.external_url = external_url_;
      n.created = now;
      n.key = Sha256Hex(g.receiver + "\n" + g.key + "\n" + std::to_string(now) + "\n" + std::to_string(++seq_)).substr(0, 32);
      g.last_sent = now;
    }
    const bool log_changed = firing_ids != g.sent_firing || f.send;
    g.sent_firing = firing_ids;
    // Resolved alerts have been announced (or were not wanted): they leave the group.
    std::erase_if(g.alerts, [](const auto& kv) { return !kv.second.firing; });
    g.next_flush = now + g.route->group_interval_ms;
    f.log = GroupLogEntry{g.receiver, g.key, std::vector<std::string>(firing_ids.begin(), firing_ids.end()), g.last_sent};
    if (g.alerts.empty() && g.sent_firing.empty()) {
      f.forget = true;
      out.push_back(std::move(f));
      it = groups_.erase(it);
      continue;
    }
    if (log_changed) out.push_back(std::move(f));
    ++it;
  }
  return out;
}

void Grouper::Shift(int64_t delta_ms) {
  for (auto& [k, g] : groups_) {
    g.next_flush += delta_ms;
    if (g.last_sent != 0) g.last_sent += delta_ms;
  }
  for (auto& [k, log] : restored_) {
    if (log.last_sent != 0) log.last_sent += delta_ms;
  }
}

UnixMillis Grouper::NextFlush() const {
  UnixMillis next = 0;
  for (const auto& [k, g] : groups_) {
    if (next == 0 || g.next_flush < next) next = g.next_flush;
  }
  if (!restored_.empty()) return 1;  // forget stale logs at once
  return next;
}

}  // namespace brickcast::notify
