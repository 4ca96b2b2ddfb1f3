// NotificationService: the grouping thread and one dispatcher thread per receiver, over the outbox.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <random>
#include <set>
#include <thread>

#include "brickcast/alerts.h"
#include "brickcast/notify.h"
#include "brickcast/sha256.h"
#include "notify/grouping.h"
#include "notify/render.h"

namespace brickcast {

using notify::Grouper;
using notify::RouteTree;

namespace {

// Token bucket per receiver, on the injected clock: `per_minute` on average, up to a tenth of
// that (at least one) at once.
class ReceiverRateLimit {
 public:
  explicit ReceiverRateLimit(double per_minute) : rate_per_ms_(per_minute / 60'000.0),
      capacity_(std::max(1.0, per_minute / 10.0)), tokens_(capacity_) {}
  bool TryTake(UnixMillis now) {
    if (rate_per_ms_ <= 0) return true;
    if (last_ != 0) tokens_ = std::min(capacity_, tokens_ + static_cast<double>(now - last_) * rate_per_ms_);
    last_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  // When the next token is there.
  UnixMillis NextToken(UnixMillis now) const {
    if (rate_per_ms_ <= 0 || tokens_ >= 1.0) return now;
    return now + static_cast<UnixMillis>((1.0 - tokens_) / rate_per_ms_) + 1;
  }

 private:
  double rate_per_ms_, capacity_, tokens_;
  UnixMillis last_ = 0;
};

}  // namespace

struct NotificationService::Impl {
  NotifyConfig config;
  AlertManager* alerts = nullptr;
  Outbox* outbox = nullptr;
  NotificationServiceOptions options;
  RouteTree tree;
  std::map<std::string, ReceiverConfig> receivers;

  struct Receiver {
    ReceiverConfig config;
    std::shared_ptr<Notifier> notifier;  // null: it could not be built (error says why)
    std::string error;
    std::mutex mu;  // one delivery at a time; guards the fields below
    std::unique_ptr<ReceiverRateLimit> limit;
    mutable std::mutex stats_mu;  // stats are read by scrapes while a delivery holds `mu`
    ReceiverStats stats;
    std::thread thread;
    std::condition_variable wake;
    bool woken = false;
  };
  std::map<std::string, std::unique_ptr<Receiver>> by_name;

  mutable std::mutex mu;  // grouper, running
  std::condition_variable wake;
  bool woken = false;
  std::unique_ptr<Grouper> grouper;
  std::atomic<bool> running{false};
  std::atomic<UnixMillis> stop_deadline{0};
  std::thread grouping_thread;
  std::mt19937_64 rng{std::random_device{}()};
  std::mutex rng_mu;
  std::atomic<uint64_t> outbox_errors{0};
  std::atomic<uint64_t> clock_steps{0};
  UnixMillis last_wall = 0;  // guarded by mu, with last_mono: the clocks at the previous flush
  int64_t last_mono = 0;

  UnixMillis Now() const { return options.clock->Now(); }

  // The alert's current state, as notifications show it; false when the manager has no such alert.
  bool Refresh(NotifyAlert* a) const {
    auto v = alerts->Get(a->id);
    if (!v) return false;
    const bool was_firing = a->firing;
    *a = NotifyAlert::From(v->alert, options.site);
    // A firing alert that went pending again (a new episode) is over as far as receivers know.
    if (!a->firing && was_firing && a->ends_at == 0) a->ends_at = Now();
    return true;
  }

  bool Quiet(const std::string& id) const {
    auto v = alerts->Get(id);
    return !v || v->quiet() || !v->alert.acked_by.empty();
  }

  // A step of the wall clock (more than 2 s apart from the time that passed) moves every group's
  // and every pending notification's times with it: stepped back an hour, a notification due in
  // a minute is still due in a minute, not in an hour and a minute.
  void FollowClockSteps() {
    const UnixMillis wall = Now();
    const int64_t mono = options.clock->MonotonicMillis();
    int64_t step = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (last_wall != 0) step = (wall - last_wall) - (mono - last_mono);
      last_wall = wall;
      last_mono = mono;
      if (step > -2000 && step < 2000) return;
      grouper->Shift(step);
    }
    ++clock_steps;
    spdlog::warn("notifications: the wall clock stepped by {} s; group and retry times moved with it",
                 static_cast<double>(step) / 1000.0);
    if (Status st = outbox->ShiftPending(step); !st.ok()) {
      ++outbox_errors;
      spdlog::error("notifications: {}", st.message());
    }
    for (auto& [name, r] : by_name) Wake(r.get());
  }

  // An alert's state into the groups; wakes the grouping thread.
  void Update(const NotifyAlert& a) {
    {
      std::lock_guard<std::mutex> lock(mu);
      grouper->Update(a, Now());
      woken = true;
    }
    wake.notify_all();
  }

  // Flushes due groups into the outbox (each group's notifications and log in one transaction).
  void FlushGroups() {
    FollowClockSteps();
    std::vector<notify::GroupFlush> flushes;
    {
      std::lock_guard<std::mutex> lock(mu);
      flushes = grouper->Flush(
          Now(), [this](NotifyAlert* a) { return Refresh(a); }, [this](const std::string& id) { return Quiet(id); },
          [this](const std::string& r) {
            auto it = receivers.find(r);
            return it == receivers.end() || it->second.send_resolved;
          });
    }
    for (notify::GroupFlush& f : flushes) {
      std::vector<OutboxEntry> entries;
      Receiver* r = nullptr;
      if (f.send) {
        auto it = by_name.find(f.notification.receiver);
        r = it == by_name.end() ? nullptr : it->second.get();
        const std::vector<std::string> targets =
            r != nullptr && r->notifier ? r->notifier->Targets() : std::vector<std::string>{""};
        for (const std::string& target : targets) {
          Notification n = f.notification;
          n.target = target;
          if (!target.empty()) n.key = Sha256Hex(f.notification.key + "\n" + target).substr(0, 32);
          OutboxEntry e;
          e.key = n.key;
          e.receiver = n.receiver;
          e.target = target;
          e.body = n.ToJson();
          e.created = e.next_attempt = n.created;
          entries.push_back(std::move(e));
        }
      }
      std::vector<std::string> told;
      if (f.send) {
        for (const NotifyAlert& a : f.notification.alerts) told.push_back(a.id);
      }
      Status st = Status::Ok();
      if (f.send || !f.forget) st = outbox->Enqueue(entries, f.log, told);
      if (st.ok() && f.forget) st = outbox->ForgetGroup(f.log.receiver, f.log.group_key);
      if (!st.ok()) {
        ++outbox_errors;
        spdlog::error("notifications: cannot write the outbox: {}", st.message());
        continue;
      }
      if (!told.empty() && options.on_told) {
        std::vector<ToldAlert> what;
        for (const NotifyAlert& a : f.notification.alerts) what.push_back(ToldAlert{a.id, a.firing, a.starts_at});
        options.on_told(what);  // recorded before anything of it is delivered
      }
      if (r != nullptr) Wake(r);
    }
  }

  void Wake(Receiver* r) {
    {
      std::lock_guard<std::mutex> lock(r->mu);
      r->woken = true;
    }
    r->wake.notify_all();
  }

  int64_t Backoff(int attempts) {
    double d = static_cast<double>(config.retry_initial_ms);
    for (int i = 1; i < attempts && d < static_cast<double>(config.retry_max_ms); ++i) d *= 2;
    d = std::min(d, static_cast<double>(config.retry_max_ms));
    std::lock_guard<std::mutex> lock(rng_mu);
    return static_cast<int64_t>(d * (1.0 + options.jitter * std::uniform_real_distribution<double>(0, 1)(rng)));
  }

  // Delivers what is due for one receiver. Returns when the next attempt is due (0: nothing
  // pending). Holds the receiver's lock: one delivery at a time per receiver.
  UnixMillis DeliverDue(Receiver& r) {
    std::unique_lock<std::mutex> lock(r.mu);
    for (;;) {
      const UnixMillis now = Now();
      auto due = outbox->Due(r.config.name, now, 16);
      if (!due.ok()) {
        ++outbox_errors;
        spdlog::error("notifications: cannot read the outbox: {}", due.status().message());
        return now + 1000;
      }
      if (due->empty()) break;
      for (OutboxEntry& e : *due) {
        const UnixMillis t = Now();
        if (!r.limit->TryTake(t)) {
          std::lock_guard<std::mutex> stats_lock(r.stats_mu);
          ++r.stats.rate_limited;
          return r.limit->NextToken(t);
        }
        DeliveryResult result;
        auto n = Notification::FromJson(e.body);
        if (!n.ok()) {
          result = DeliveryResult::Permanent(n.status().message());
        } else if (!r.notifier) {
          result = DeliveryResult::Retryable("receiver " + r.config.name + " is not available: " + r.error);
        } else {
          result = r.notifier->Deliver(*n);
        }
        const UnixMillis done = Now();
        ++e.attempts;
        std::unique_lock<std::mutex> stats_lock(r.stats_mu);
        r.stats.last_attempt = done;
        e.last_error = result.reason;
        if (result.outcome == DeliveryOutcome::kDelivered) {
          e.state = OutboxState::kDelivered;
          e.finished = done;
          ++r.stats.delivered;
        } else if (result.outcome == DeliveryOutcome::kRetryable && done - e.created < config.deadline_ms) {
          e.next_attempt = done + Backoff(e.attempts);
          ++r.stats.retried;
          r.stats.last_error = result.reason;
        } else {
          e.state = OutboxState::kFailed;
          e.finished = done;
          if (result.outcome == DeliveryOutcome::kRetryable)
            e.last_error = "deadline passed after " + std::to_string(e.attempts) + " attempts; last: " + result.reason;
          ++r.stats.failed;
          r.stats.last_error = e.last_error;
        }
        stats_lock.unlock();
        Status st = outbox->Update(e);
        if (!st.ok()) {
          ++outbox_errors;
          spdlog::error("notifications: cannot update the outbox: {}", st.message());
        }
        // Logged once the outbox holds it: a reader of the log finds the outbox saying the same.
        if (e.state == OutboxState::kDelivered) {
          spdlog::info("notification {} to {}{} delivered (attempt {})", e.key, r.config.name,
                       e.target.empty() ? "" : " " + e.target, e.attempts);
        } else if (e.state == OutboxState::kPending) {
          spdlog::warn("notification {} to {}: {}; retry {} in {} ms", e.key, r.config.name, result.reason,
                       e.attempts, e.next_attempt - done);
        } else {
          spdlog::error("notification {} to {} failed: {}", e.key, r.config.name, e.last_error);
        }
        if (!running && stop_deadline != 0 && Now() >= stop_deadline) return 0;
      }
    }
    auto next = outbox->NextDue(r.config.name);
    return next.ok() ? *next : Now() + 1000;
  }

  void DispatchLoop(Receiver* r) {
    while (running) {
      const UnixMillis next = DeliverDue(*r);
      std::unique_lock<std::mutex> lock(r->mu);
      const UnixMillis now = Now();
      const int64_t wait = next == 0 ? 1000 : std::clamp<int64_t>(next - now, 0, 1000);
      r->wake.wait_for(lock, std::chrono::milliseconds(wait), [&] { return r->woken || !running; });
      r->woken = false;
    }
    // Shutting down: what is due now gets its chance until the deadline.
    if (Now() < stop_deadline) DeliverDue(*r);
  }

  void GroupingLoop() {
    while (running) {
      FlushGroups();
      std::unique_lock<std::mutex> lock(mu);
      const UnixMillis next = grouper->NextFlush();
      const int64_t wait = next == 0 ? 1000 : std::clamp<int64_t>(next - Now(), 0, 1000);
      wake.wait_for(lock, std::chrono::milliseconds(wait), [&] { return woken || !running; });
      woken = false;
    }
  }
};

NotificationService::NotificationService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusOr<std::unique_ptr<NotificationService>> NotificationService::Create(const NotifyConfig& config,
                                                                           AlertManager* alerts,
                                                                           NotificationServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->alerts = alerts;
  impl->outbox = &alerts->outbox();
  impl->options = std::move(options);
  for (const ReceiverConfig& r : config.receivers) impl->receivers[r.name] = r;
  if (!config.receivers.empty()) {
    auto tree = RouteTree::Build(config.route);
    if (!tree.ok()) return Status::InvalidArgument("notify/route: " + tree.status().message());
    impl->tree = std::move(*tree);
    std::vector<const notify::RouteNode*> to_check{&impl->tree.root()};
    while (!to_check.empty()) {
      const notify::RouteNode* n = to_check.back();
      to_check.pop_back();
      if (!impl->receivers.count(n->receiver))
        return Status::InvalidArgument("notify/route: route " + n->id + " names receiver '" + n->receiver +
                                       "', which notify.receivers does not define");
      for (const auto& c : n->children) to_check.push_back(&c);
    }
  }
  std::string external = config.external_url;
  while (!external.empty() && external.back() == '/') external.pop_back();
  impl->grouper = std::make_unique<Grouper>(&impl->tree, external);
  for (const ReceiverConfig& rc : config.receivers) {
    auto r = std::make_unique<Impl::Receiver>();
    r->config = rc;
    r->limit = std::make_unique<ReceiverRateLimit>(rc.rate_limit_per_minute);
    auto injected = impl->options.notifiers.find(rc.name);
    if (injected != impl->options.notifiers.end()) {
      r->notifier = injected->second;
    } else {
      auto n = MakeNotifier(rc, config.plugin_dir);
      if (n.ok()) {
        r->notifier = std::move(*n);
      } else {
        // One broken channel must not take the others (or the daemon) down: it is reported and
        // its notifications wait in the outbox until a reload fixes it.
        r->error = n.status().message();
        spdlog::error("notifications: {}", r->error);
      }
    }
    impl->by_name[rc.name] = std::move(r);
  }
  return std::unique_ptr<NotificationService>(new NotificationService(std::move(impl)));
}

NotificationService::~NotificationService() { Stop(); }

Status NotificationService::Start() {
  Impl& s = *impl_;
  if (s.running) return Status::Ok();
  auto log = s.outbox->GroupLog();
  if (!log.ok()) return log.status();
  auto untold = s.outbox->Untold();
  if (!untold.ok()) return untold.status();
  if (s.by_name.empty()) return s.outbox->ForgetUntold();  // nobody to tell
  {
    std::lock_guard<std::mutex> lock(s.mu);
    const UnixMillis now = s.Now();
    s.grouper->RestoreLog(*log, now);
    const std::set<std::string> not_told(untold->begin(), untold->end());
    AlertFilter all;
    all.include_inactive = true;
    for (const AlertView& v : s.alerts->List(all)) {
      const bool never_told = not_told.count(v.alert.id) > 0;
      if (v.alert.state == AlertState::kFiring || v.alert.state == AlertState::kNoData ||
          v.alert.state == AlertState::kResolved || never_told)
        s.grouper->Update(NotifyAlert::From(v.alert, s.options.site), now, never_told);
    }
  }
  s.running = true;
  s.stop_deadline = 0;
  s.grouping_thread = std::thread([&s] { s.GroupingLoop(); });
  for (auto& [name, r] : s.by_name) {
    Impl::Receiver* rp = r.get();
    r->thread = std::thread([&s, rp] { s.DispatchLoop(rp); });
  }
  return Status::Ok();
}

void NotificationService::Stop(int64_t deadline_ms) {
  Impl& s = *impl_;
  if (!s.running.exchange(false)) return;
  s.stop_deadline = s.Now() + deadline_ms;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.woken = true;
  }
  s.wake.notify_all();
  if (s.grouping_thread.joinable()) s.grouping_thread.join();
  s.FlushGroups();  // what is due now goes to the outbox; the rest waits there for the next start
  for (auto& [name, r] : s.by_name) {
    s.Wake(r.get());
    if (r->thread.joinable()) r->thread.join();
  }
}

void NotificationService::OnAlertChanged(const std::string& alert_id) {
  Impl& s = *impl_;
  if (s.by_name.empty()) return;
  auto v = s.alerts->Get(alert_id);
  if (!v) return;
  s.Update(NotifyAlert::From(v->alert, s.options.site));
}

void NotificationService::OnAlertChanged(const AlertChanged& change) {
  Impl& s = *impl_;
  if (s.by_name.empty()) return;
  auto v = s.alerts->Get(change.alert);
  if (!v) return;
  // Pending and inactive count as not firing: news only to a group that holds the alert.
  NotifyAlert a = NotifyAlert::From(v->alert, s.options.site);
  // The alert as the transition left it, where it has moved on since (its evidence and summary
  // stay the latest: the transition's own are in the alert's history).
  if (change.to == AlertStateName(AlertState::kFiring)) {
    a.firing = true;
    a.starts_at = change.starts_at;
    a.ends_at = 0;
  } else if (change.to == AlertStateName(AlertState::kResolved)) {
    a.firing = false;
    a.starts_at = change.starts_at;
    a.ends_at = change.data_time;
  }
  s.Update(a);
}

void NotificationService::Adopt(const std::vector<std::pair<std::string, std::string>>& alerts_told) {
  Impl& s = *impl_;
  if (s.by_name.empty() || alerts_told.empty()) return;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    const UnixMillis now = s.Now();
    for (const auto& [id, told] : alerts_told) {
      auto v = s.alerts->Get(id);
      if (!v) continue;
      const Alert& alert = v->alert;
      const bool firing = alert.state == AlertState::kFiring || (alert.state == AlertState::kNoData && alert.was_firing);
      NotifyAlert a = NotifyAlert::From(alert, s.options.site);
      // What the changelog says was told is authoritative: this instance may still hold the alert
      // as told firing from before it handed the partition over (or was killed), and that stale
      // mark would make its next firing no news.
      s.grouper->Release(id);
      if (firing && told == "firing") {
        s.grouper->AdoptTold(a, now);
      } else if (firing || (alert.state == AlertState::kResolved && told != "resolved")) {
        // Not told yet: announced as here (a resolve counts as news: the fault came and went, or
        // its firing was told by the instance before).
        s.grouper->Update(a, now, /*untold=*/true);
      }
    }
    s.woken = true;
  }
  s.wake.notify_all();
}

void NotificationService::Release(const std::vector<std::string>& alert_ids) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  for (const std::string& id : alert_ids) s.grouper->Release(id);
}

void NotificationService::Tick() {
  impl_->FlushGroups();
  for (auto& [name, r] : impl_->by_name) impl_->DeliverDue(*r);
}

StatusOr<DeliveryResult> NotificationService::SendTest(const std::string& receiver) {
  Impl& s = *impl_;
  auto it = s.by_name.find(receiver);
  if (it == s.by_name.end()) return Status::NotFound("no receiver named '" + receiver + "'");
  Impl::Receiver& r = *it->second;
  if (!r.notifier) return DeliveryResult::Permanent(r.error);
  Notification n;
  n.test = true;
  n.receiver = receiver;
  n.created = s.Now();
  n.key = "test-" + Sha256Hex(receiver + "\n" + std::to_string(n.created)).substr(0, 26);
  n.group_key = "test";
  n.external_url = s.grouper ? s.config.external_url : "";
  NotifyAlert a;
  a.id = "0000000000000000";
  a.rule = "brickcast_test";
  a.equipment = "urn:brickcast:test";
  a.equipment_class = "Equipment";
  a.severity = "info";
  a.kind = "threshold";
  a.site = s.options.site;
  a.starts_at = n.created;
  a.summary = "Test notification: if you read this, receiver " + receiver + " works.";
  n.alerts.push_back(a);
  std::lock_guard<std::mutex> lock(r.mu);
  for (const std::string& target : r.notifier->Targets()) {
    n.target = target;
    DeliveryResult res = r.notifier->Deliver(n);
    if (res.outcome != DeliveryOutcome::kDelivered) return res;
  }
  return DeliveryResult::Delivered();
}

std::vector<std::string> NotificationService::ReceiverNames() const {
  std::vector<std::string> out;
  for (const auto& [name, r] : impl_->by_name) out.push_back(name);
  return out;
}

std::map<std::string, ReceiverStats> NotificationService::Stats() const {
  std::map<std::string, ReceiverStats> out;
  for (const auto& [name, r] : impl_->by_name) {
    // Not under r->mu: a delivery in progress could hold it for the delivery timeout.
    std::lock_guard<std::mutex> lock(r->stats_mu);
    out[name] = r->stats;
    if (!r->notifier) out[name].last_error = r->error;
  }
  return out;
}

void NotificationService::Collect(MetricWriter& w) const {
  const Impl& s = *impl_;
  auto counts = s.outbox->Counts();
  const std::map<std::string, ReceiverStats> stats = Stats();
  for (const auto& [name, r] : s.by_name) {
    const ReceiverStats& st = stats.at(name);
    const MetricLabels rl{{"receiver", name}};
    for (const auto& [outcome, v] : {std::pair<const char*, uint64_t>{"delivered", st.delivered},
                                     {"retried", st.retried}, {"failed", st.failed}, {"rate_limited", st.rate_limited}}) {
      w.Counter("brickcast_notifications_total",
                "Delivery attempts by receiver and outcome (retried: failed for now, tried again later).",
                static_cast<double>(v), {{"receiver", name}, {"outcome", outcome}});
    }
    w.Counter("brickcast_notification_retries_total", "Attempts that failed and were scheduled again.",
              static_cast<double>(st.retried), rl);
    size_t pending = 0;
    if (counts.ok()) {
      auto p = counts->pending_by_receiver.find(name);
      if (p != counts->pending_by_receiver.end()) pending = p->second;
    }
    w.Gauge("brickcast_outbox_pending", "Notifications waiting in the outbox.", static_cast<double>(pending), rl);
    w.Gauge("brickcast_receiver_up", "1 when the receiver's notifier could be built (a plugin loaded, ...).",
            r->notifier ? 1 : 0, rl);
  }
  const double oldest = counts.ok() && counts->oldest_pending != 0
                            ? static_cast<double>(s.Now() - counts->oldest_pending) / 1000.0
                            : 0.0;
  w.Gauge("brickcast_outbox_oldest_pending_seconds", "Age of the oldest notification not yet delivered.", oldest);
  w.Counter("brickcast_outbox_errors_total", "Outbox reads and writes that failed.",
            static_cast<double>(s.outbox_errors.load()));
  w.Counter("brickcast_clock_steps_total",
            "Steps of the wall clock (against monotonic time) that notification timers were moved with.",
            static_cast<double>(s.clock_steps.load()));
}

}  // namespace brickcast
