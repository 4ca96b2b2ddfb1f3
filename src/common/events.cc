#include "brickcast/events.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

namespace brickcast {

const char* EventName(const Event& e) {
  struct Name {
    const char* operator()(const ObservationsApplied&) const { return "observations_applied"; }
    const char* operator()(const ForecastProduced&) const { return "forecast_produced"; }
    const char* operator()(const PartitionsAssigned&) const { return "partitions_assigned"; }
    const char* operator()(const PartitionsRevoked&) const { return "partitions_revoked"; }
    const char* operator()(const ModelSwapped&) const { return "model_swapped"; }
    const char* operator()(const ConfigReloaded&) const { return "config_reloaded"; }
    const char* operator()(const AlertChanged&) const { return "alert_changed"; }
  };
  return std::visit(Name{}, e);
}

struct EventBus::Subscription::State {
  std::string name;
  std::set<size_t> kinds;
  Handler handler;
  size_t capacity = 1024;
  Overflow overflow = Overflow::kBlock;
  std::weak_ptr<EventBus::Impl> bus;

  std::mutex mu;
  std::condition_variable changed;
  std::deque<Event> queue;  // guarded by mu
  bool closed = false;      // guarded by mu
  uint64_t enqueued = 0, handled = 0, dropped = 0;  // guarded by mu
  std::thread thread;

  bool Wants(const Event& e) const { return kinds.empty() || kinds.count(e.index()) > 0; }

  void Push(const Event& e) {
    std::unique_lock<std::mutex> lock(mu);
    if (overflow == Overflow::kBlock) {
      changed.wait(lock, [&] { return closed || queue.size() < capacity; });
    } else if (queue.size() >= capacity) {
      queue.pop_front();
      ++dropped;
      ++handled;  // counted as done, so Drain does not wait for it
    }
    if (closed) return;
    queue.push_back(e);
    ++enqueued;
    changed.notify_all();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      changed.wait(lock, [&] { return closed || !queue.empty(); });
      if (queue.empty()) return;  // closed and drained
      Event e = std::move(queue.front());
      queue.pop_front();
      changed.notify_all();  // room for a blocked publisher
      lock.unlock();
      handler(e);
      lock.lock();
      ++handled;
      changed.notify_all();
    }
  }
};

struct EventBus::Impl {
  mutable std::mutex mu;
  std::vector<std::shared_ptr<Subscription::State>> subscriptions;  // guarded by mu
};

EventBus::EventBus() : impl_(std::make_shared<Impl>()) {}
EventBus::~EventBus() = default;

std::unique_ptr<EventBus::Subscription> EventBus::Subscribe(std::string name, std::set<size_t> kinds, Handler handler,
                                                            size_t capacity, Overflow overflow) {
  auto st = std::make_shared<Subscription::State>();
  st->name = std::move(name);
  st->kinds = std::move(kinds);
  st->handler = std::move(handler);
  st->capacity = std::max<size_t>(1, capacity);
  st->overflow = overflow;
  st->bus = impl_;
  st->thread = std::thread([raw = st.get()] { raw->Run(); });
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->subscriptions.push_back(st);
  }
  return std::unique_ptr<Subscription>(new Subscription(std::move(st)));
}

void EventBus::Publish(const Event& event) {
  std::vector<std::shared_ptr<Subscription::State>> targets;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& s : impl_->subscriptions)
      if (s->Wants(event)) targets.push_back(s);
  }
  for (const auto& s : targets) s->Push(event);  // outside the bus lock: a blocked subscriber stalls only us
}

std::vector<SubscriptionStats> EventBus::Stats() const {
  std::vector<std::shared_ptr<Subscription::State>> subs;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    subs = impl_->subscriptions;
  }
  std::vector<SubscriptionStats> out;
  for (const auto& s : subs) {
    std::lock_guard<std::mutex> lock(s->mu);
    out.push_back(SubscriptionStats{s->name, s->handled - s->dropped, s->dropped, s->queue.size()});
  }
  return out;
}

EventBus::Subscription::Subscription(std::shared_ptr<State> state) : state_(std::move(state)) {}

EventBus::Subscription::~Subscription() {
  if (auto bus = state_->bus.lock()) {
    std::lock_guard<std::mutex> lock(bus->mu);
    auto& subs = bus->subscriptions;
    subs.erase(std::remove(subs.begin(), subs.end(), state_), subs.end());
  }
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->closed = true;
    state_->changed.notify_all();
  }
  if (state_->thread.joinable()) state_->thread.join();
}

void EventBus::Subscription::Drain() {
  std::unique_lock<std::mutex> lock(state_->mu);
  const uint64_t target = state_->enqueued;  // each enqueued event ends handled or dropped
  state_->changed.wait(lock, [&] { return state_->handled >= target || (state_->closed && state_->queue.empty()); });
}

SubscriptionStats EventBus::Subscription::Stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return SubscriptionStats{state_->name, state_->handled - state_->dropped, state_->dropped, state_->queue.size()};
}

}  // namespace brickcast
