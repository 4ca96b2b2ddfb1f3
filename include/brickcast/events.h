// Events: what happened in the daemon, published by the module where it happened to every module
// that cares, instead of one callback per pair of modules. Ingest publishes applied observations,
// the Kafka source partition assignments and revocations, the forecast service its forecasts and
// model swaps; the forecast service, the point registry and (next) rules, server-sent events and
// Kafka outputs subscribe.
//
// Each subscription owns a thread and a bounded queue, so a slow subscriber never runs on the
// publisher's thread. Publishers publish after releasing their own locks. A full queue either
// makes the publisher wait (kBlock: for subscribers that must see every event, such as the
// forecast scheduler) or drops the subscription's oldest event and counts it (kDropOldest: for
// live views that only need the latest state, such as a dashboard stream). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "brickcast/time.h"

namespace brickcast {

// Observations of these points were stored (a message, a POST, a replayed file).
struct ObservationsApplied {
  std::vector<std::string> points;
  UnixMillis latest_time = 0;    // newest observation time among them (data time)
  UnixMillis earliest_time = 0;  // oldest (0: same as latest_time)
  int32_t partition = -1;        // the Kafka partition they came from; -1 when not from Kafka
};
struct PointForecast;  // forecast_service.h

// A forecast for `point` was produced (window ending at `window_end`, data time). `forecast` is
// the forecast itself, shared (immutable): subscribers need not ask the service for a copy.
struct ForecastProduced {
  std::string point;
  UnixMillis window_end = 0;
  bool fallback = false;
  std::shared_ptr<const PointForecast> forecast;  // may be null (tests, older publishers)
};
// This instance now owns these partitions ("topic/partition").
struct PartitionsAssigned {
  std::vector<std::string> partitions;
};
// This instance no longer owns these partitions; `points` are the points that lived in them, whose
// state every module drops (their new owner rebuilds it).
struct PartitionsRevoked {
  std::vector<std::string> partitions;
  std::vector<std::string> points;
};
struct ModelSwapped {
  std::string previous, current;  // model identities ("" for none)
};
struct ConfigReloaded {
  std::string source;  // the config file
};
// An alert changed state (states by name: "pending", "firing", ...), at data time `data_time`.
struct AlertChanged {
  std::string alert;  // fingerprint
  std::string rule, equipment, severity;
  std::string from, to;
  bool predicted = false;
  UnixMillis data_time = 0;
  std::string summary;
  // Predicted alerts: when the measured value crossed in this episode (0: not yet). Set on the
  // episode's later transitions (its resolve), so a consumer can tell the lead the alert gave.
  UnixMillis realised_at = 0;
  // The start of the episode the transition belongs to (for a resolve, of the episode it ends): a
  // consumer that reads the alert later, after further transitions, still tells episodes apart.
  UnixMillis starts_at = 0;
};

using Event = std::variant<ObservationsApplied, ForecastProduced, PartitionsAssigned, PartitionsRevoked, ModelSwapped,
                           ConfigReloaded, AlertChanged>;
// The index of an event's type in Event, for subscription filters: EventKind<PartitionsRevoked>().
template <typename T>
constexpr size_t EventKind() {
  return Event(T{}).index();
}
const char* EventName(const Event& e);

enum class Overflow { kBlock, kDropOldest };

struct SubscriptionStats {
  std::string name;
  uint64_t delivered = 0, dropped = 0;
  size_t queue_depth = 0;
};

class EventBus {
 public:
  class Subscription;
  using Handler = std::function<void(const Event&)>;

  EventBus();
  ~EventBus();  // subscriptions must be gone first
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // `kinds`: the EventKind<T>() of the events wanted (empty: all). The handler runs on the
  // subscription's own thread, one event at a time, in publication order. Destroying the returned
  // subscription unsubscribes, handles what is queued, and joins the thread.
  std::unique_ptr<Subscription> Subscribe(std::string name, std::set<size_t> kinds, Handler handler,
                                          size_t capacity = 1024, Overflow overflow = Overflow::kBlock);
  void Publish(const Event& event);
  std::vector<SubscriptionStats> Stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

class EventBus::Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  // Blocks until every event published before the call has been handled (tests, shutdown).
  void Drain();
  SubscriptionStats Stats() const;

 private:
  friend class EventBus;
  struct State;
  explicit Subscription(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace brickcast
