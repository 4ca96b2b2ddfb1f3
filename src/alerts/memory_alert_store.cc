// AlertStore in memory: for tests and for `alerts.database: ""` (state lost at exit).
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "brickcast/alerts.h"

namespace brickcast {
namespace {

class MemoryOutbox : public Outbox {
 public:
  Status Enqueue(const std::vector<OutboxEntry>& entries, const GroupLogEntry& log,
                 const std::vector<std::string>& told) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : told) untold_.erase(id);
    for (const OutboxEntry& e : entries) entries_.emplace(e.key, e);
    log_[{log.receiver, log.group_key}] = log;
    return Status::Ok();
  }
  StatusOr<std::vector<OutboxEntry>> Due(const std::string& receiver, UnixMillis now, size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<OutboxEntry> out;
    for (const auto& [key, e] : entries_) {
      if (e.receiver == receiver && e.state == OutboxState::kPending && e.next_attempt <= now) out.push_back(e);
    }
    std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) {
      return std::tie(a.next_attempt, a.created) < std::tie(b.next_attempt, b.created);
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  StatusOr<UnixMillis> NextDue(const std::string& receiver) override {
    std::lock_guard<std::mutex> lock(mu_);
    UnixMillis next = 0;
    for (const auto& [key, e] : entries_) {
      if (e.receiver == receiver && e.state == OutboxState::kPending && (next == 0 || e.next_attempt < next))
        next = e.next_attempt;
    }
    return next;
  }
  Status Update(const OutboxEntry& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(e.key);
    if (it == entries_.end()) return Status::NotFound("outbox: no entry " + e.key);
    it->second = e;
    return Status::Ok();
  }
  StatusOr<std::vector<OutboxEntry>> Recent(size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<OutboxEntry> out;
    for (const auto& [key, e] : entries_) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) { return a.created > b.created; });
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  StatusOr<std::vector<GroupLogEntry>> GroupLog() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<GroupLogEntry> out;
    for (const auto& [k, g] : log_) out.push_back(g);
    return out;
  }
  StatusOr<std::vector<std::string>> Untold() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<std::string>(untold_.begin(), untold_.end());
  }
  Status ForgetUntold() override {
    std::lock_guard<std::mutex> lock(mu_);
    untold_.clear();
    return Status::Ok();
  }
  void MarkUntold(const std::string& alert) {
    std::lock_guard<std::mutex> lock(mu_);
    untold_.insert(alert);
  }
  Status ForgetGroup(const std::string& receiver, const std::string& group_key) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.erase({receiver, group_key});
    return Status::Ok();
  }
  StatusOr<OutboxCounts> Counts() override {
    std::lock_guard<std::mutex> lock(mu_);
    OutboxCounts c;
    for (const auto& [key, e] : entries_) {
      if (e.state != OutboxState::kPending) continue;
      ++c.pending_by_receiver[e.receiver];
      if (c.oldest_pending == 0 || e.created < c.oldest_pending) c.oldest_pending = e.created;
    }
    return c;
  }
  Status ShiftPending(int64_t delta_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, e] : entries_) {
      if (e.state != OutboxState::kPending) continue;
      e.created += delta_ms;
      e.next_attempt += delta_ms;
    }
    return Status::Ok();
  }
  Status Prune(UnixMillis before) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(entries_, [before](const auto& kv) {
      return kv.second.state != OutboxState::kPending && kv.second.finished < before;
    });
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  std::map<std::string, OutboxEntry> entries_;
  std::map<std::pair<std::string, std::string>, GroupLogEntry> log_;
  std::set<std::string> untold_;
};

class MemoryAlertStore : public AlertStore {
 public:
  Outbox& outbox() override { return outbox_; }
  Status SaveAlert(const Alert& alert) override {
    alerts_[alert.id] = alert;
    return Status::Ok();
  }
  Status RecordTransition(const Alert& alert, AlertTransition* t) override {
    alerts_[alert.id] = alert;
    t->seq = ++seq_;
    if (t->to == AlertState::kFiring) outbox_.MarkUntold(t->alert);
    history_.push_back(*t);
    return Status::Ok();
  }
  StatusOr<std::vector<Alert>> LoadAlerts() override {
    std::vector<Alert> out;
    for (const auto& [id, a] : alerts_) out.push_back(a);
    return out;
  }
  StatusOr<std::vector<AlertTransition>> History(const std::string& alert, size_t limit) override {
    std::vector<AlertTransition> out;
    for (auto it = history_.rbegin(); it != history_.rend() && out.size() < limit; ++it) {
      if (it->alert == alert) out.push_back(*it);
    }
    return out;  // newest first
  }
  Status SaveSilence(const Silence& s) override {
    silences_[s.id] = s;
    return Status::Ok();
  }
  StatusOr<std::vector<Silence>> LoadSilences() override {
    std::vector<Silence> out;
    for (const auto& [id, s] : silences_) out.push_back(s);
    return out;
  }
  Status Prune(UnixMillis before, size_t keep) override {
    std::erase_if(history_, [before](const AlertTransition& t) { return t.wall_time < before; });
    if (history_.size() > keep) history_.erase(history_.begin(), history_.end() - static_cast<std::ptrdiff_t>(keep));
    std::erase_if(silences_, [before](const auto& kv) { return kv.second.ends_at < before; });
    std::erase_if(audit_, [before](const AuditEntry& e) { return e.time < before; });
    if (audit_.size() > keep) audit_.erase(audit_.begin(), audit_.end() - static_cast<std::ptrdiff_t>(keep));
    return Status::Ok();
  }
  Status AppendAudit(AuditEntry* e) override {
    e->seq = static_cast<int64_t>(++audit_seq_);
    audit_.push_back(*e);
    return Status::Ok();
  }
  StatusOr<std::vector<AuditEntry>> Audit(size_t limit, int64_t before) override {
    std::vector<AuditEntry> out;
    for (auto it = audit_.rbegin(); it != audit_.rend() && out.size() < limit; ++it) {
      if (before == 0 || it->seq < before) out.push_back(*it);
    }
    return out;
  }

 private:
  std::map<std::string, Alert> alerts_;
  std::vector<AlertTransition> history_;
  std::map<std::string, Silence> silences_;
  int64_t seq_ = 0;
  std::vector<AuditEntry> audit_;
  uint64_t audit_seq_ = 0;
  MemoryOutbox outbox_;
};

}  // namespace

const char* OutboxStateName(OutboxState s) {
  switch (s) {
    case OutboxState::kPending: return "pending";
    case OutboxState::kDelivered: return "delivered";
    case OutboxState::kFailed: return "failed";
  }
  return "pending";
}

std::unique_ptr<AlertStore> NewMemoryAlertStore() { return std::make_unique<MemoryAlertStore>(); }

}  // namespace brickcast
