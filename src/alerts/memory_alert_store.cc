// AlertStore in memory: for tests and for `alerts.database: ""` (state lost at exit).
#include <algorithm>
#include <map>

#include "brickcast/alerts.h"

namespace brickcast {
namespace {

class MemoryAlertStore : public AlertStore {
 public:
  Status SaveAlert(const Alert& alert) override {
    alerts_[alert.id] = alert;
    return Status::Ok();
  }
  Status AppendTransition(AlertTransition* t) override {
    t->seq = ++seq_;
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
};

}  // namespace

std::unique_ptr<AlertStore> NewMemoryAlertStore() { return std::make_unique<MemoryAlertStore>(); }

}  // namespace brickcast
