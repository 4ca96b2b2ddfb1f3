// The notification outbox: notifications waiting for delivery, and the per-group log of what each
// receiver was last told. It lives in the alert state database (one file to back up), and a group's
// notifications and its log entry are written in one transaction, so after a crash a group neither
// forgets what it still owes a receiver nor re-announces what was already queued.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

enum class OutboxState { kPending, kDelivered, kFailed };
const char* OutboxStateName(OutboxState s);  // "pending", "delivered", "failed"

struct OutboxEntry {
  std::string key;       // idempotency key: unique, stable across retries and restarts
  std::string receiver;  // receiver name
  std::string target;    // one recipient for receivers that fan out (an SMS number); "" otherwise
  std::string body;      // the notification as JSON (Notification::ToJson)
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  UnixMillis created = 0, next_attempt = 0, finished = 0;  // wall times
  std::string last_error;
};

// What a (receiver, group) was last told: the firing alerts it knows of, and when.
struct GroupLogEntry {
  std::string receiver, group_key;
  std::vector<std::string> firing;  // alert ids, sorted
  UnixMillis last_sent = 0;
};

struct OutboxCounts {
  std::map<std::string, size_t> pending_by_receiver;
  UnixMillis oldest_pending = 0;  // created time of the oldest pending entry; 0 when none
};

// Thread-safe.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // Adds `entries` (an existing key is left as it is), replaces the group's log entry and marks
  // `told` alerts as told (see Untold), in one transaction.
  virtual Status Enqueue(const std::vector<OutboxEntry>& entries, const GroupLogEntry& log,
                         const std::vector<std::string>& told = {}) = 0;
  // Alerts that fired and have not been in a notification since: the store records each transition
  // to firing here in the transition's own transaction, so an alert that fires and resolves just
  // before a crash is still told after the restart.
  virtual StatusOr<std::vector<std::string>> Untold() = 0;
  virtual Status ForgetUntold() = 0;  // no receivers: nobody to tell
  // Pending entries of `receiver` due at `now`, oldest first.
  virtual StatusOr<std::vector<OutboxEntry>> Due(const std::string& receiver, UnixMillis now, size_t limit) = 0;
  // Earliest next_attempt of the receiver's pending entries; 0 when none.
  virtual StatusOr<UnixMillis> NextDue(const std::string& receiver) = 0;
  // Saves state, attempts, next_attempt, finished and last_error of an entry.
  virtual Status Update(const OutboxEntry& entry) = 0;
  virtual StatusOr<std::vector<OutboxEntry>> Recent(size_t limit) = 0;  // newest first
  virtual StatusOr<std::vector<GroupLogEntry>> GroupLog() = 0;
  virtual Status ForgetGroup(const std::string& receiver, const std::string& group_key) = 0;
  virtual StatusOr<OutboxCounts> Counts() = 0;
  // Deletes delivered and failed entries finished before `before`.
  virtual Status Prune(UnixMillis before) = 0;
  // The wall clock stepped by `delta_ms`: moves the created and next_attempt times of pending
  // entries with it, so a step back does not hold retries for its length and a step forward does
  // not fail them by their deadline.
  virtual Status ShiftPending(int64_t delta_ms) = 0;
};

}  // namespace brickcast
