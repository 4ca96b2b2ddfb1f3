// Routing and grouping, after Alertmanager: the route tree picks receivers by label matchers; each
// (receiver, group) collects its alerts and is flushed on its timers. Pure logic over an explicit
// `now`, so tests drive the timers without sleeping. Not thread-safe (NotificationService locks).
#pragma once

#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "brickcast/config.h"
#include "brickcast/notify.h"
#include "brickcast/outbox.h"

namespace brickcast::notify {

// Alertmanager's defaults.
constexpr int64_t kDefaultGroupWaitMs = 30'000;
constexpr int64_t kDefaultGroupIntervalMs = 300'000;
constexpr int64_t kDefaultRepeatIntervalMs = 4 * 3'600'000;

struct RouteNode {
  std::string id;  // position in the tree: "root", "root/0", "root/0/1"
  std::string receiver;
  std::map<std::string, std::string> matchers;
  std::vector<std::pair<std::string, std::regex>> matchers_re;
  bool continue_matching = false;
  std::vector<std::string> group_by;
  bool group_by_all = false;  // group_by ["..."]: each alert its own group
  int64_t group_wait_ms = kDefaultGroupWaitMs, group_interval_ms = kDefaultGroupIntervalMs,
          repeat_interval_ms = kDefaultRepeatIntervalMs;
  std::vector<RouteNode> children;

  bool Matches(const std::map<std::string, std::string>& labels) const;
};

class RouteTree {
 public:
  // Fills inherited settings; an invalid regular expression or a route without a receiver
  // anywhere on its path is an error with the route's position.
  static StatusOr<RouteTree> Build(const RouteConfig& root);
  // The routes an alert goes to: the deepest matching ones, left to right, stopping at the first
  // match that does not `continue`; the root when no child matches.
  std::vector<const RouteNode*> Match(const std::map<std::string, std::string>& labels) const;
  const RouteNode& root() const { return root_; }

 private:
  RouteNode root_;
};

// One group's flush: the notification to send (none when nothing needs saying) and the log entry
// to store with it; `forget`: the group is empty and its log entry can go.
struct GroupFlush {
  bool send = false;
  Notification notification;  // key, created and group fields filled; receiver set
  GroupLogEntry log;
  bool forget = false;
};

class Grouper {
 public:
  Grouper(const RouteTree* tree, std::string external_url);

  // After a restart: what each group last told its receiver; call before Update()s.
  void RestoreLog(const std::vector<GroupLogEntry>& log, UnixMillis now);
  // The alert's state (firing or resolved) into every group its labels route to. `untold`: it fired
  // and no notification has held it since (after a restart), so a resolve is still news. Episodes
  // are told one by one: a state of a later episode (a later starts_at) than the one a group holds
  // ends the held one, and a state of an earlier one (a transition that arrives late) is only told
  // if it is that episode's resolve.
  void Update(const NotifyAlert& alert, UnixMillis now, bool untold = false);
  // A firing alert whose receivers were told by another instance: it joins its groups as already
  // sent (no announcement; its resolve will be news). A group it creates counts as told at `now`.
  void AdoptTold(const NotifyAlert& alert, UnixMillis now);
  // The alert leaves every group, silently (its partition went to another instance).
  void Release(const std::string& alert_id);
  // Flushes the groups due at `now`. `refresh` gives an alert's current state (false: it is gone),
  // kept only while it is the episode the group holds (the transitions of a later one are still on
  // their way through Update);
  // `quiet` says whether a firing alert is silenced, muted, inhibited or acknowledged;
  // `send_resolved` whether a receiver wants resolved notices.
  std::vector<GroupFlush> Flush(UnixMillis now, const std::function<bool(NotifyAlert*)>& refresh,
                                const std::function<bool(const std::string&)>& quiet,
                                const std::function<bool(const std::string&)>& send_resolved);
  UnixMillis NextFlush() const;  // 0 when there are no groups
  void Shift(int64_t delta_ms);  // the wall clock stepped: every group's times move with it
  size_t size() const { return groups_.size(); }

 private:
  struct Group {
    const RouteNode* route = nullptr;
    std::string receiver, key;
    std::map<std::string, std::string> labels;
    std::map<std::string, NotifyAlert> alerts;  // each alert's latest episode the group knows of
    // Earlier episodes of alerts that have moved on before a flush told their end: each is still
    // told (resolved, with its own start and end), never merged into the next episode.
    std::vector<NotifyAlert> ended;
    std::set<std::string> sent_firing;
    UnixMillis last_sent = 0, next_flush = 0;
  };
  // `next` is a later episode of an alert the group holds: the held episode ends (as resolved) and
  // the firing told of it is not a firing of `next`.
  static void EndHeldEpisode(Group& g, const NotifyAlert& next);
  Group& GroupFor(const RouteNode* route, const std::map<std::string, std::string>& labels, const std::string& alert_id,
                  UnixMillis now);

  const RouteTree* tree_;
  std::string external_url_;
  std::map<std::pair<std::string, std::string>, Group> groups_;  // by (receiver, group key)
  std::map<std::pair<std::string, std::string>, GroupLogEntry> restored_;  // logs without alerts yet
  uint64_t seq_ = 0;
};

}  // namespace brickcast::notify
