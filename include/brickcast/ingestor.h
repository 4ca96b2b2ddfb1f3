// Ingestor: the ingest path shared by every source (file replay, HTTP POST, Kafka).
// payload -> StreamParser -> PointRegistry (metadata, unit normalisation) -> SeriesStore.
// Bad input never stops it: rejected messages and observations are counted per reason, logged at
// a limited rate and written to the dead-letter sink. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "brickcast/clock.h"
#include "brickcast/events.h"
#include "brickcast/metrics.h"
#include "brickcast/observation.h"
#include "brickcast/point_registry.h"
#include "brickcast/series_store.h"
#include "brickcast/stream_parser.h"

namespace brickcast {

// Where a message came from: shown in logs and dead letters.
struct MessageOrigin {
  std::string source;  // "file.ttl:12", "http:127.0.0.1", "hvac/3@1042"
  std::string topic;   // Kafka only
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  // Re-read while rebuilding windows after a rebalance or restart: a bad message was already
  // dead-lettered the first time, so it is counted but not dead-lettered again.
  bool redelivery = false;
};

// Where rejected input goes: a JSONL file or a Kafka topic. Implementations are thread-safe.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // `payload` is the whole message; implementations keep at most the first 4 KiB.
  virtual void Write(const IngestError& error, const MessageOrigin& origin, std::string_view payload) = 0;
};

// The JSON record of a dead letter (reason, message, line, column, source, topic, partition,
// offset, key, payload_bytes, payload truncated to 4 KiB), shared by every sink.
std::string DeadLetterJson(const IngestError& error, const MessageOrigin& origin, std::string_view payload);

// Appends one JSON object per rejected message to a file. Thread-safe.
std::unique_ptr<DeadLetterSink> NewJsonlDeadLetterSink(const std::string& path, Status* status);

struct IngestReport {
  size_t parsed = 0;    // observations found in the message
  size_t accepted = 0;  // stored (including late ones)
  size_t duplicates = 0;
  size_t rejected = 0;  // invalid, or too old to store
  bool message_failed = false;
  UnixMillis latest_time = 0;    // newest observation time in the message (0 when none)
  UnixMillis earliest_time = 0;  // oldest
  std::vector<std::string> points;  // distinct points the message carried values for
  std::vector<IngestError> errors;
};

struct IngestCounters {
  uint64_t messages = 0, failed_messages = 0, observations = 0, accepted = 0, duplicates = 0, rejected = 0;
  std::map<std::string, uint64_t> errors_by_reason;
};

class Ingestor {
 public:
  // `dead_letters` may be null. All references must outlive the Ingestor.
  Ingestor(const StreamParser& parser, PointRegistry& registry, SeriesStore& store, bool accept_unknown_points,
           DeadLetterSink* dead_letters, const Clock& clock = Clock::Real());

  IngestReport IngestMessage(std::string_view payload, const MessageOrigin& origin);
  IngestReport IngestMessage(std::string_view payload, std::string_view source) {
    return IngestMessage(payload, MessageOrigin{std::string(source)});
  }
  // Observations that arrive already structured (JSON API); values in `unit` (or the model's).
  IngestReport IngestObservations(std::vector<Observation> observations, std::string_view source);

  IngestCounters Counters() const;

  // Where ObservationsApplied is published after each message or batch that stored values (the
  // forecast scheduler subscribes). Set it before any ingest starts; null publishes nothing.
  void PublishTo(EventBus* events) { events_ = events; }

 private:
  void Store(std::vector<Observation>&& observations, int32_t partition, IngestReport* report);
  void Record(const IngestReport& report, const MessageOrigin& origin, std::string_view payload);

  const StreamParser& parser_;
  PointRegistry& registry_;
  SeriesStore& store_;
  const bool accept_unknown_points_;
  DeadLetterSink* dead_letters_;
  EventBus* events_ = nullptr;
  const Clock& clock_;  // paces the rate-limited error log

  mutable std::mutex mu_;
  IngestCounters counters_;  // guarded by mu_
  std::map<std::string, int64_t> last_log_ms_;  // reason -> last warn time; guarded by mu_
  std::map<std::string, uint64_t> suppressed_;  // guarded by mu_
};

// Messages, observations by outcome and rejections by reason, for the metrics registry.
void CollectIngestMetrics(const Ingestor& ingestor, MetricWriter& writer);

}  // namespace brickcast
