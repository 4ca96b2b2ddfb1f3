// AlertChangelog: alert state that follows the partition, for several instances in one consumer
// group (the state-store changelog of Kafka Streams).
//
//   AlertChanged / notification queued ──> record {alert, told} ──> changelog topic, keyed by
//   fingerprint, in the partition its equipment's input comes from (co-partitioned with the input)
//   assignment of partition p ──> changelog p read to its end ──> AlertManager::Adopt, the rule
//   engine's active flags, NotificationService::Adopt (what receivers were told)
//   revoke of p ──> records written and flushed ──> the alerts of p leave this instance
//
// An alert is only ever evaluated and notified by the instance that owns its partition; the one
// taking it over knows its lifecycle (pending since, firing since, clear for) and whether its
// firing or its resolve was already told, so a move neither repeats nor drops a notification. A
// notification's "told" record is flushed before the notification is delivered: an instance
// killed between the two leaves it in its own outbox, which it delivers when it comes back.
// Thread-safe: events on the changelog's subscription thread, told on the grouping thread,
// Restore/Handover on the Kafka consumer's rebalance.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "brickcast/alerts.h"
#include "brickcast/events.h"
#include "brickcast/kafka.h"
#include "brickcast/metrics.h"
#include "brickcast/notify.h"
#include "brickcast/rule_engine.h"

namespace brickcast {

struct AlertChangelogOptions {
  KafkaClientOptions client;
  std::string topic;
  std::string instance;  // written into each record, for operators reading the topic
  std::chrono::milliseconds restore_timeout{30'000};
  std::chrono::milliseconds flush_timeout{2'000};  // a told record's wait for the broker
  const Clock* clock = &Clock::Real();
};

struct AlertChangelogStats {
  uint64_t written = 0, write_errors = 0, unplaced = 0;  // unplaced: no partition known for the alert
  uint64_t restores = 0, restore_failures = 0, adopted = 0, released = 0;
};

class AlertChangelog {
 public:
  using Notifications = std::function<std::shared_ptr<NotificationService>()>;
  static StatusOr<std::unique_ptr<AlertChangelog>> Create(AlertChangelogOptions options, AlertManager& alerts,
                                                          RuleEngine& rules, Notifications notifications);
  ~AlertChangelog();
  AlertChangelog(const AlertChangelog&) = delete;
  AlertChangelog& operator=(const AlertChangelog&) = delete;

  // ObservationsApplied: learns which partition each point comes from. AlertChanged: writes the
  // alert's state.
  void OnEvent(const Event& event);
  // Notifications holding these alerts were queued: records what receivers were told of each
  // alert's latest episode (an earlier episode's resolve told late changes nothing), flushed.
  void OnTold(const std::vector<ToldAlert>& alerts);
  // Assignment (before fetching): adopts the latest state of every alert of these partitions.
  void Restore(const std::vector<int32_t>& partitions);
  // Revoke (after everything fetched is applied and evaluated): flushes, then lets go of these
  // partitions' alerts.
  void Handover(const std::vector<int32_t>& partitions);

  AlertChangelogStats Stats() const;
  void Collect(MetricWriter& writer) const;

 private:
  struct Impl;
  explicit AlertChangelog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brickcast
