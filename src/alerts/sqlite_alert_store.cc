// AlertStore on SQLite: the only file that includes sqlite3.h. WAL journal, synchronous=NORMAL
// (a power cut may lose the last transactions, never corrupt the file), exclusive locking (a second
// daemon on the same file is refused at start), and a schema versioned with PRAGMA user_version
// whose migrations run in order inside one transaction.
#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "brickcast/alerts.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

// Migration i takes the schema from version i to i + 1. Never edit one that has shipped; append.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      R"(CREATE TABLE alerts(id TEXT PRIMARY KEY, rule TEXT NOT NULL, equipment TEXT NOT NULL,
                             state TEXT NOT NULL, data TEXT NOT NULL);
         CREATE TABLE transitions(seq INTEGER PRIMARY KEY AUTOINCREMENT, alert TEXT NOT NULL,
                                  from_state TEXT NOT NULL, to_state TEXT NOT NULL, data_time INTEGER NOT NULL,
                                  wall_time INTEGER NOT NULL, summary TEXT NOT NULL, evidence TEXT NOT NULL);
         CREATE INDEX transitions_by_alert ON transitions(alert, seq);
         CREATE TABLE silences(id TEXT PRIMARY KEY, ends_at INTEGER NOT NULL, data TEXT NOT NULL);)",
      R"(CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, who TEXT NOT NULL,
                            remote TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
                            status INTEGER NOT NULL, detail TEXT NOT NULL);)",
      R"(CREATE TABLE outbox(key TEXT PRIMARY KEY, receiver TEXT NOT NULL, target TEXT NOT NULL,
                             body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
                             created INTEGER NOT NULL, next_attempt INTEGER NOT NULL,
                             finished INTEGER NOT NULL, last_error TEXT NOT NULL);
         CREATE INDEX outbox_due ON outbox(receiver, state, next_attempt);
         CREATE TABLE notify_log(receiver TEXT NOT NULL, group_key TEXT NOT NULL, firing TEXT NOT NULL,
                                 last_sent INTEGER NOT NULL, PRIMARY KEY(receiver, group_key));)",
      R"(CREATE TABLE notify_untold(alert TEXT PRIMARY KEY, since INTEGER NOT NULL);)",
  };
  return kMigrations;
}

Json SilenceToJson(const Silence& s) {
  return Json{{"id", s.id},           {"matchers", s.matchers.labels}, {"starts_at", s.starts_at},
              {"ends_at", s.ends_at}, {"author", s.author},            {"comment", s.comment},
              {"created_at", s.created_at}, {"expired", s.expired}};
}

Silence SilenceFromJson(const Json& j) {
  Silence s;
  s.id = j.value("id", "");
  s.matchers.labels = j.value("matchers", std::map<std::string, std::string>{});
  s.starts_at = j.value("starts_at", int64_t{0});
  s.ends_at = j.value("ends_at", int64_t{0});
  s.author = j.value("author", "");
  s.comment = j.value("comment", "");
  s.created_at = j.value("created_at", int64_t{0});
  s.expired = j.value("expired", false);
  return s;
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t == nullptr ? "" : reinterpret_cast<const char*>(t);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  Status Error(const std::string& what) const { return Status::Internal(what + ": " + sqlite3_errmsg(db_)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

Status Exec(sqlite3* db, const std::string& sql, const std::string& what);

OutboxEntry EntryFromRow(const Statement& st) {
  OutboxEntry e;
  e.key = st.Text(0);
  e.receiver = st.Text(1);
  e.target = st.Text(2);
  e.body = st.Text(3);
  const std::string state = st.Text(4);
  e.state = state == "delivered" ? OutboxState::kDelivered : state == "failed" ? OutboxState::kFailed : OutboxState::kPending;
  e.attempts = static_cast<int>(st.Int(5));
  e.created = st.Int(6);
  e.next_attempt = st.Int(7);
  e.finished = st.Int(8);
  e.last_error = st.Text(9);
  return e;
}

constexpr const char* kOutboxColumns =
    "SELECT key, receiver, target, body, state, attempts, created, next_attempt, finished, last_error FROM outbox ";

// The outbox shares the store's connection (the file is opened in exclusive locking mode) and its
// mutex, so its transactions never interleave with the store's writes.
class SqliteOutbox : public Outbox {
 public:
  SqliteOutbox(sqlite3* db, std::mutex* mu) : db_(db), mu_(mu) {}

  Status Enqueue(const std::vector<OutboxEntry>& entries, const GroupLogEntry& log,
                 const std::vector<std::string>& told) override {
    std::lock_guard<std::mutex> lock(*mu_);
    BRICKCAST_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE", "outbox"));
    Status st = [&]() -> Status {
      for (const std::string& id : told) {
        Statement del(db_, "DELETE FROM notify_untold WHERE alert = ?1");
        if (!del.ok()) return del.Error("notify untold");
        del.Bind(1, id);
        if (del.Step() != SQLITE_DONE) return del.Error("notify untold");
      }
      for (const OutboxEntry& e : entries) {
        Statement ins(db_, "INSERT OR IGNORE INTO outbox(key, receiver, target, body, state, attempts, created, "
                           "next_attempt, finished, last_error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        if (!ins.ok()) return ins.Error("outbox insert");
        ins.Bind(1, e.key).Bind(2, e.receiver).Bind(3, e.target).Bind(4, e.body);
        ins.Bind(5, std::string(OutboxStateName(e.state))).Bind(6, static_cast<int64_t>(e.attempts));
        ins.Bind(7, e.created).Bind(8, e.next_attempt).Bind(9, e.finished).Bind(10, e.last_error);
        if (ins.Step() != SQLITE_DONE) return ins.Error("outbox insert " + e.key);
      }
      Statement up(db_, "INSERT INTO notify_log(receiver, group_key, firing, last_sent) VALUES(?1, ?2, ?3, ?4) "
                        "ON CONFLICT(receiver, group_key) DO UPDATE SET firing=?3, last_sent=?4");
      if (!up.ok()) return up.Error("notify log");
      up.Bind(1, log.receiver).Bind(2, log.group_key).Bind(3, Json(log.firing).dump()).Bind(4, log.last_sent);
      return up.Step() == SQLITE_DONE ? Status::Ok() : up.Error("notify log");
    }();
    if (!st.ok()) {
      static_cast<void>(Exec(db_, "ROLLBACK", "outbox"));
      return st;
    }
    return Exec(db_, "COMMIT", "outbox");
  }

  StatusOr<std::vector<OutboxEntry>> Due(const std::string& receiver, UnixMillis now, size_t limit) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, (std::string(kOutboxColumns) +
                       "WHERE receiver = ?1 AND state = 'pending' AND next_attempt <= ?2 ORDER BY next_attempt, created "
                       "LIMIT ?3").c_str());
    if (!st.ok()) return st.Error("outbox due");
    st.Bind(1, receiver).Bind(2, now).Bind(3, static_cast<int64_t>(limit));
    return Rows(st, "outbox due");
  }

  StatusOr<UnixMillis> NextDue(const std::string& receiver) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "SELECT COALESCE(MIN(next_attempt), 0) FROM outbox WHERE receiver = ?1 AND state = 'pending'");
    if (!st.ok()) return st.Error("outbox next");
    st.Bind(1, receiver);
    if (st.Step() != SQLITE_ROW) return st.Error("outbox next");
    return st.Int(0);
  }

  Status Update(const OutboxEntry& e) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "UPDATE outbox SET state=?2, attempts=?3, next_attempt=?4, finished=?5, last_error=?6 WHERE key=?1");
    if (!st.ok()) return st.Error("outbox update");
    st.Bind(1, e.key).Bind(2, std::string(OutboxStateName(e.state))).Bind(3, static_cast<int64_t>(e.attempts));
    st.Bind(4, e.next_attempt).Bind(5, e.finished).Bind(6, e.last_error);
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("outbox update " + e.key);
  }

  StatusOr<std::vector<OutboxEntry>> Recent(size_t limit) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, (std::string(kOutboxColumns) + "ORDER BY created DESC, key LIMIT ?1").c_str());
    if (!st.ok()) return st.Error("outbox recent");
    st.Bind(1, static_cast<int64_t>(limit));
    return Rows(st, "outbox recent");
  }

  StatusOr<std::vector<GroupLogEntry>> GroupLog() override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "SELECT receiver, group_key, firing, last_sent FROM notify_log");
    if (!st.ok()) return st.Error("notify log");
    std::vector<GroupLogEntry> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      Json f = Json::parse(st.Text(2), nullptr, false);
      GroupLogEntry g{st.Text(0), st.Text(1), {}, st.Int(3)};
      if (f.is_array()) g.firing = f.get<std::vector<std::string>>();
      out.push_back(std::move(g));
    }
    if (rc != SQLITE_DONE) return st.Error("notify log");
    return out;
  }

  StatusOr<std::vector<std::string>> Untold() override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "SELECT alert FROM notify_untold ORDER BY since");
    if (!st.ok()) return st.Error("notify untold");
    std::vector<std::string> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(st.Text(0));
    if (rc != SQLITE_DONE) return st.Error("notify untold");
    return out;
  }

  Status ForgetUntold() override {
    std::lock_guard<std::mutex> lock(*mu_);
    return Exec(db_, "DELETE FROM notify_untold", "notify untold");
  }

  Status ForgetGroup(const std::string& receiver, const std::string& group_key) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "DELETE FROM notify_log WHERE receiver = ?1 AND group_key = ?2");
    if (!st.ok()) return st.Error("notify log");
    st.Bind(1, receiver).Bind(2, group_key);
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("notify log");
  }

  StatusOr<OutboxCounts> Counts() override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "SELECT receiver, COUNT(*), MIN(created) FROM outbox WHERE state = 'pending' GROUP BY receiver");
    if (!st.ok()) return st.Error("outbox counts");
    OutboxCounts c;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      c.pending_by_receiver[st.Text(0)] = static_cast<size_t>(st.Int(1));
      if (c.oldest_pending == 0 || st.Int(2) < c.oldest_pending) c.oldest_pending = st.Int(2);
    }
    if (rc != SQLITE_DONE) return st.Error("outbox counts");
    return c;
  }

  Status ShiftPending(int64_t delta_ms) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "UPDATE outbox SET created = created + ?1, next_attempt = next_attempt + ?1 WHERE state = 'pending'");
    if (!st.ok()) return st.Error("outbox shift");
    st.Bind(1, delta_ms);
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("outbox shift");
  }
  Status Prune(UnixMillis before) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Statement st(db_, "DELETE FROM outbox WHERE state != 'pending' AND finished < ?1");
    if (!st.ok()) return st.Error("outbox prune");
    st.Bind(1, before);
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("outbox prune");
  }

 private:
  static StatusOr<std::vector<OutboxEntry>> Rows(Statement& st, const char* what) {
    std::vector<OutboxEntry> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(EntryFromRow(st));
    if (rc != SQLITE_DONE) return st.Error(what);
    return out;
  }

  sqlite3* db_;
  std::mutex* mu_;
};

class SqliteAlertStore : public AlertStore {
 public:
  explicit SqliteAlertStore(sqlite3* db) : db_(db), outbox_(db, &mu_) {}
  ~SqliteAlertStore() override { sqlite3_close(db_); }

  Outbox& outbox() override { return outbox_; }

  Status SaveAlert(const Alert& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    return SaveAlertLocked(a);
  }

  // The alert, its transition and (firing) its "not yet told" mark in one transaction: a kill
  // between them would restore an alert whose state its history and the notifier contradict.
  Status RecordTransition(const Alert& a, AlertTransition* t) override {
    std::lock_guard<std::mutex> lock(mu_);
    BRICKCAST_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE", "record transition"));
    Status done = [&]() -> Status {
      Statement st(db_, "INSERT INTO transitions(alert, from_state, to_state, data_time, wall_time, summary, evidence) "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      if (!st.ok()) return st.Error("append transition");
      st.Bind(1, t->alert).Bind(2, std::string(AlertStateName(t->from))).Bind(3, std::string(AlertStateName(t->to)));
      st.Bind(4, t->data_time).Bind(5, t->wall_time).Bind(6, t->summary).Bind(7, t->evidence);
      if (st.Step() != SQLITE_DONE) return st.Error("append transition of " + t->alert);
      t->seq = sqlite3_last_insert_rowid(db_);
      if (t->to == AlertState::kFiring) {
        Statement untold(db_, "INSERT INTO notify_untold(alert, since) VALUES(?1, ?2) "
                              "ON CONFLICT(alert) DO UPDATE SET since=?2");
        if (!untold.ok()) return untold.Error("notify untold");
        untold.Bind(1, t->alert).Bind(2, t->wall_time);
        if (untold.Step() != SQLITE_DONE) return untold.Error("notify untold");
      }
      return SaveAlertLocked(a);
    }();
    if (!done.ok()) {
      static_cast<void>(Exec(db_, "ROLLBACK", "record transition"));
      return done;
    }
    return Exec(db_, "COMMIT", "record transition");
  }

  StatusOr<std::vector<Alert>> LoadAlerts() override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "SELECT data FROM alerts ORDER BY id");
    if (!st.ok()) return st.Error("load alerts");
    std::vector<Alert> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      auto alert = DecodeAlert(st.Text(0));
      if (!alert.ok()) return Status::DataLoss("alert database: " + alert.status().message());
      out.push_back(std::move(*alert));
    }
    if (rc != SQLITE_DONE) return st.Error("load alerts");
    return out;
  }

  StatusOr<std::vector<AlertTransition>> History(const std::string& alert, size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "SELECT seq, from_state, to_state, data_time, wall_time, summary, evidence FROM transitions "
                      "WHERE alert = ?1 ORDER BY seq DESC LIMIT ?2");
    if (!st.ok()) return st.Error("history");
    st.Bind(1, alert).Bind(2, static_cast<int64_t>(limit));
    std::vector<AlertTransition> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      AlertTransition t;
      t.seq = st.Int(0);
      t.alert = alert;
      t.from = ParseAlertState(st.Text(1)).value_or(AlertState::kInactive);
      t.to = ParseAlertState(st.Text(2)).value_or(AlertState::kInactive);
      t.data_time = st.Int(3);
      t.wall_time = st.Int(4);
      t.summary = st.Text(5);
      t.evidence = st.Text(6);
      out.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return st.Error("history");
    return out;
  }

  Status SaveSilence(const Silence& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "INSERT INTO silences(id, ends_at, data) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(id) DO UPDATE SET ends_at=?2, data=?3");
    if (!st.ok()) return st.Error("save silence");
    st.Bind(1, s.id).Bind(2, s.ends_at).Bind(3, SilenceToJson(s).dump());
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("save silence " + s.id);
  }

  StatusOr<std::vector<Silence>> LoadSilences() override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "SELECT data FROM silences ORDER BY id");
    if (!st.ok()) return st.Error("load silences");
    std::vector<Silence> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      Json j = Json::parse(st.Text(0), nullptr, false);
      if (j.is_discarded()) return Status::DataLoss("alert database: a silence row is not valid JSON");
      out.push_back(SilenceFromJson(j));
    }
    if (rc != SQLITE_DONE) return st.Error("load silences");
    return out;
  }

  Status Prune(UnixMillis before, size_t keep) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement old(db_, "DELETE FROM transitions WHERE wall_time < ?1");
    Statement excess(db_, "DELETE FROM transitions WHERE seq <= (SELECT MAX(seq) FROM transitions) - ?1");
    Statement silences(db_, "DELETE FROM silences WHERE ends_at < ?1");
    Statement audit(db_, "DELETE FROM audit WHERE time < ?1 OR seq <= (SELECT MAX(seq) FROM audit) - ?2");
    if (!old.ok() || !excess.ok() || !silences.ok() || !audit.ok()) return old.Error("prune");
    old.Bind(1, before);
    excess.Bind(1, static_cast<int64_t>(keep));
    silences.Bind(1, before);
    audit.Bind(1, before).Bind(2, static_cast<int64_t>(keep));
    if (old.Step() != SQLITE_DONE || excess.Step() != SQLITE_DONE || silences.Step() != SQLITE_DONE ||
        audit.Step() != SQLITE_DONE)
      return old.Error("prune");
    return Status::Ok();
  }

  Status AppendAudit(AuditEntry* e) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "INSERT INTO audit(time, who, remote, method, path, status, detail) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st.ok()) return st.Error("append audit");
    st.Bind(1, e->time).Bind(2, e->who).Bind(3, e->remote).Bind(4, e->method).Bind(5, e->path);
    st.Bind(6, static_cast<int64_t>(e->status)).Bind(7, e->detail);
    if (st.Step() != SQLITE_DONE) return st.Error("append audit");
    e->seq = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  }

  StatusOr<std::vector<AuditEntry>> Audit(size_t limit, int64_t before) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement st(db_, "SELECT seq, time, who, remote, method, path, status, detail FROM audit "
                      "WHERE ?1 = 0 OR seq < ?1 ORDER BY seq DESC LIMIT ?2");
    if (!st.ok()) return st.Error("audit");
    st.Bind(1, before).Bind(2, static_cast<int64_t>(limit));
    std::vector<AuditEntry> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      out.push_back(AuditEntry{st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5),
                               static_cast<int>(st.Int(6)), st.Text(7)});
    }
    if (rc != SQLITE_DONE) return st.Error("audit");
    return out;
  }

 private:
  // REQUIRES: mu_ held.
  Status SaveAlertLocked(const Alert& a) {
    Statement st(db_, "INSERT INTO alerts(id, rule, equipment, state, data) VALUES(?1, ?2, ?3, ?4, ?5) "
                      "ON CONFLICT(id) DO UPDATE SET rule=?2, equipment=?3, state=?4, data=?5");
    if (!st.ok()) return st.Error("save alert");
    st.Bind(1, a.id).Bind(2, a.rule).Bind(3, a.equipment).Bind(4, std::string(AlertStateName(a.state)));
    st.Bind(5, EncodeAlert(a));
    return st.Step() == SQLITE_DONE ? Status::Ok() : st.Error("save alert " + a.id);
  }

  sqlite3* db_;
  std::mutex mu_;  // one statement or transaction at a time, store and outbox alike
  SqliteOutbox outbox_;
};

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errmsg(db);
  sqlite3_free(err);
  return Status::Internal(what + ": " + msg);
}

StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql) {
  Statement st(db, sql);
  if (!st.ok() || st.Step() != SQLITE_ROW) return st.Error(sql);
  return st.Int(0);
}

}  // namespace

StatusOr<std::unique_ptr<AlertStore>> OpenSqliteAlertStore(const std::string& path) {
  // A state directory that does not exist yet is created (a first start); failing that is the
  // error to report, not SQLite's "unable to open".
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Unavailable("alert database " + path + ": cannot create " + parent.string() + ": " + ec.message());
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Unavailable("alert database " + path + ": cannot open: " + msg);
  }
  auto fail = [&](const Status& st, const std::string& hint) -> Status {
    sqlite3_close(db);
    return Status(st.code(), "alert database " + path + ": " + st.message() + hint);
  };
  sqlite3_busy_timeout(db, 2000);
  // The integrity check reads every page: a damaged file is found now, not at the first write.
  bool locked = false;
  auto check = [&]() -> Status {
    Statement st(db, "PRAGMA quick_check");
    const int step = st.ok() ? st.Step() : sqlite3_errcode(db);
    locked = step == SQLITE_BUSY || step == SQLITE_LOCKED;
    if (locked) return Status::Unavailable("locked");
    if (!st.ok()) return Status::DataLoss(std::string("not a database: ") + sqlite3_errmsg(db));
    if (step != SQLITE_ROW) return Status::DataLoss(std::string("integrity check: ") + sqlite3_errmsg(db));
    const std::string verdict = st.Text(0);
    return verdict == "ok" ? Status::Ok() : Status::DataLoss("integrity check failed: " + verdict);
  }();
  if (locked) return fail(check, " by another process (is another brickcast using this file?)");
  if (!check.ok())
    return fail(check, " (the file is kept as it is; move it away to start with an empty alert history)");
  Status st = Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA locking_mode=EXCLUSIVE;", "pragmas");
  if (!st.ok()) return fail(st, "");
  // Take the exclusive lock now: a second daemon on this file fails here, with a clear error.
  st = Exec(db, "BEGIN IMMEDIATE", "lock");
  if (!st.ok()) return fail(st, " (is another brickcast using this file?)");
  auto version = QueryInt(db, "PRAGMA user_version");
  if (!version.ok()) return fail(version.status(), "");
  const auto& migrations = Migrations();
  if (*version > static_cast<int64_t>(migrations.size())) {
    return fail(Status::FailedPrecondition("schema version " + std::to_string(*version) +
                                           " is newer than this brickcast knows (" +
                                           std::to_string(migrations.size()) + ")"),
                "; use the newer brickcast or another file");
  }
  for (int64_t v = *version; v < static_cast<int64_t>(migrations.size()); ++v) {
    st = Exec(db, migrations[static_cast<size_t>(v)], "migration to schema " + std::to_string(v + 1));
    if (!st.ok()) return fail(st, "");
  }
  st = Exec(db, "PRAGMA user_version=" + std::to_string(migrations.size()) + "; COMMIT", "commit");
  if (!st.ok()) return fail(st, "");
  return std::unique_ptr<AlertStore>(new SqliteAlertStore(db));
}

}  // namespace brickcast
