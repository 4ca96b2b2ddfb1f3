#include "brickcast/ingestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

namespace brickcast {
namespace {

constexpr size_t kDeadLetterPayloadBytes = 4096;
constexpr int64_t kLogIntervalMs = 10'000;  // one warning per reason per 10 s, then a summary

class JsonlDeadLetterSink final : public DeadLetterSink {
 public:
  explicit JsonlDeadLetterSink(const std::string& path) : out_(path, std::ios::app) {}
  bool ok() const { return static_cast<bool>(out_); }

  void Write(const IngestError& error, const MessageOrigin& origin, std::string_view payload) override {
    const std::string line = DeadLetterJson(error, origin, payload);
    std::lock_guard<std::mutex> lock(mu_);
    out_ << line << '\n';
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

}  // namespace

std::string DeadLetterJson(const IngestError& error, const MessageOrigin& origin, std::string_view payload) {
  nlohmann::json j;
  j["time"] = FormatIsoUtc(Clock::Real().Now());
  j["reason"] = error.reason;
  j["message"] = error.message;
  if (error.line > 0) {
    j["line"] = error.line;
    j["column"] = error.column;
  }
  if (!error.point.empty()) j["point"] = error.point;
  j["source"] = origin.source;
  if (!origin.topic.empty()) {
    j["topic"] = origin.topic;
    j["partition"] = origin.partition;
    j["offset"] = origin.offset;
    j["key"] = origin.key;
  }
  j["payload_bytes"] = payload.size();
  j["payload"] = std::string(payload.substr(0, kDeadLetterPayloadBytes));
  // Invalid UTF-8 in a payload must not break the JSON line: replace it.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<DeadLetterSink> NewJsonlDeadLetterSink(const std::string& path, Status* status) {
  auto sink = std::make_unique<JsonlDeadLetterSink>(path);
  if (!sink->ok()) {
    *status = Status::Unavailable("cannot open dead-letter file " + path);
    return nullptr;
  }
  *status = Status::Ok();
  return sink;
}

Ingestor::Ingestor(const StreamParser& parser, PointRegistry& registry, SeriesStore& store,
                   bool accept_unknown_points, DeadLetterSink* dead_letters, const Clock& clock)
    : parser_(parser),
      registry_(registry),
      store_(store),
      accept_unknown_points_(accept_unknown_points),
      dead_letters_(dead_letters),
      clock_(clock) {}

IngestReport Ingestor::IngestMessage(std::string_view payload, const MessageOrigin& origin) {
  ParseResult parsed = parser_.Parse(payload, origin.source);
  IngestReport report;
  report.message_failed = parsed.message_failed;
  report.errors = std::move(parsed.errors);
  for (const PointMetadata& m : parsed.metadata) registry_.Apply(m);
  report.parsed = parsed.observations.size();
  report.rejected = report.errors.size();  // observation-level parse errors
  if (report.message_failed) report.rejected = 0;
  Store(std::move(parsed.observations), origin.partition, &report);
  Record(report, origin, payload);
  return report;
}

IngestReport Ingestor::IngestObservations(std::vector<Observation> observations, std::string_view source) {
  IngestReport report;
  report.parsed = observations.size();
  Store(std::move(observations), -1, &report);
  Record(report, MessageOrigin{std::string(source)}, {});
  return report;
}

void Ingestor::Store(std::vector<Observation>&& observations, int32_t partition, IngestReport* report) {
  for (Observation& obs : observations) {
    report->latest_time = std::max(report->latest_time, obs.time);
    report->earliest_time = report->earliest_time == 0 ? obs.time : std::min(report->earliest_time, obs.time);
    if (!accept_unknown_points_ && !registry_.Get(obs.point)) {
      report->errors.push_back(IngestError{"unknown_point", obs.point + " is not in the Brick model", 0, 0, obs.point});
      ++report->rejected;
      continue;
    }
    IngestError err;
    if (!registry_.Normalize(&obs, &err)) {
      report->errors.push_back(std::move(err));
      ++report->rejected;
      continue;
    }
    registry_.Touch(obs.point);
    if (report->points.empty() || report->points.back() != obs.point) {
      if (std::find(report->points.begin(), report->points.end(), obs.point) == report->points.end())
        report->points.push_back(obs.point);
    }
    switch (store_.Append(obs)) {
      case AppendOutcome::kAccepted:
      case AppendOutcome::kLate: ++report->accepted; break;
      case AppendOutcome::kDuplicate: ++report->duplicates; break;
      case AppendOutcome::kTooOld:
        ++report->rejected;
        report->errors.push_back(IngestError{"too_old",
                                             obs.point + " at " + FormatIsoUtc(obs.time) +
                                                 " is older than the stored window or the duplicate memory",
                                             0, 0, obs.point});
        break;
    }
  }
  // Published with no lock of ours held; the store's own locks are released too.
  if (events_ != nullptr && !report->points.empty())
    events_->Publish(ObservationsApplied{report->points, report->latest_time, report->earliest_time, partition});
}

void Ingestor::Record(const IngestReport& report, const MessageOrigin& origin, std::string_view payload) {
  const std::string& source = origin.source;
  const int64_t now = clock_.Now();
  std::vector<std::string> to_log;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.messages;
    if (report.message_failed) ++counters_.failed_messages;
    counters_.observations += report.parsed;
    counters_.accepted += report.accepted;
    counters_.duplicates += report.duplicates;
    counters_.rejected += report.rejected;
    for (const IngestError& e : report.errors) {
      ++counters_.errors_by_reason[e.reason];
      int64_t& last = last_log_ms_[e.reason];
      if (now - last >= kLogIntervalMs) {
        std::string line = "ingest rejected reason=" + e.reason + " source=" + source + " " + e.ToString();
        if (uint64_t n = suppressed_[e.reason]; n > 0) line += " (" + std::to_string(n) + " similar suppressed)";
        suppressed_[e.reason] = 0;
        last = now;
        to_log.push_back(std::move(line));
      } else {
        ++suppressed_[e.reason];
      }
    }
  }
  for (const auto& line : to_log) spdlog::warn("{}", line);
  if (dead_letters_ != nullptr && !report.errors.empty() && !origin.redelivery) {
    // A failed message is dead-lettered whole; otherwise one record per rejected observation
    // (the payload is the same message, so keep it on the first record only).
    if (report.message_failed) {
      dead_letters_->Write(report.errors.front(), origin, payload);
    } else {
      bool first = true;
      for (const IngestError& e : report.errors) {
        dead_letters_->Write(e, origin, first ? payload : std::string_view());
        first = false;
      }
    }
  }
}

IngestCounters Ingestor::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void CollectIngestMetrics(const Ingestor& ingestor, MetricWriter& w) {
  const IngestCounters c = ingestor.Counters();
  w.Counter("brickcast_ingest_messages_total", "Messages received by all sources.", c.messages);
  w.Counter("brickcast_ingest_failed_messages_total", "Messages rejected whole (dead-lettered).", c.failed_messages);
  const char* help = "Observations by outcome.";
  w.Counter("brickcast_ingest_observations_total", help, c.accepted, {{"outcome", "accepted"}});
  w.Counter("brickcast_ingest_observations_total", help, c.duplicates, {{"outcome", "duplicate"}});
  w.Counter("brickcast_ingest_observations_total", help, c.rejected, {{"outcome", "rejected"}});
  for (const auto& [reason, n] : c.errors_by_reason)
    w.Counter("brickcast_ingest_errors_total", "Rejections by reason.", n, {{"reason", reason}});
}

}  // namespace brickcast
