// Kafka: the daemon's main source, behind plain interfaces; only src/kafka/
// includes librdkafka.
//  - EmbeddedBroker: librdkafka's in-process mock cluster on loopback (demo and tests).
//  - KafkaProducer: publishes messages (replay tool, dead-letter topic).
//  - KafkaSource: consumer-group member with at-least-once delivery: an offset is committed only
//    after every observation of its message is in the series store; partitions pause while the
//    ingest queue is full; on assignment the windows of the new partitions are rebuilt by seeking
//    back `rebuild` in time; on revoke their points are dropped from the store.
// Start/Stop from one thread; Stats()/Ready() from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/clock.h"
#include "brickcast/events.h"
#include "brickcast/metrics.h"
#include "brickcast/ingestor.h"
#include "brickcast/series_store.h"
#include "brickcast/status.h"

namespace brickcast {

struct KafkaClientOptions {
  std::string brokers;                            // bootstrap servers
  std::map<std::string, std::string> properties;  // librdkafka properties, applied last
};

class EmbeddedBroker {
 public:
  // Starts `brokers` mock brokers on loopback and creates the topics with `partitions` each.
  static StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int brokers, const std::vector<std::string>& topics,
                                                          int partitions);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  const std::string& bootstrap() const;  // "127.0.0.1:PORT,..."
  Status CreateTopic(const std::string& topic, int partitions);
  // Fault injection for tests: broker ids start at 1.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);

 private:
  struct Impl;
  explicit EmbeddedBroker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class KafkaProducer {
 public:
  static StatusOr<std::unique_ptr<KafkaProducer>> Create(const KafkaClientOptions& options);
  ~KafkaProducer();  // flushes for up to 5 s
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one message (partitioned by key). Blocks while librdkafka's queue is full.
  Status Produce(const std::string& topic, std::string_view key, std::string_view payload);
  // Queues one message to a given partition (a changelog co-partitioned with its input).
  Status ProduceToPartition(const std::string& topic, int32_t partition, std::string_view key,
                            std::string_view payload);
  // Waits until every queued message is delivered or failed.
  Status Flush(std::chrono::milliseconds timeout);
  uint64_t delivered() const;
  uint64_t failed() const;

 private:
  struct Impl;
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Dead letters as JSON records (DeadLetterJson) on a topic, keyed like the original message.
std::unique_ptr<DeadLetterSink> NewKafkaDeadLetterSink(const KafkaClientOptions& options, const std::string& topic,
                                                       Status* status);

struct KafkaSourceOptions {
  KafkaClientOptions client;
  std::vector<std::string> topics;
  std::string group_id = "brickcast";
  int commit_interval_ms = 1000;
  std::chrono::milliseconds rebuild{24 * 3600 * 1000};  // history re-read on assignment
  // How the rebuild start is found: by time (ListOffsets by timestamp, real Kafka), or from the
  // start of the log (the embedded broker cannot look offsets up by time; its logs are capped at
  // 5 MiB per partition, so re-reading them whole stays bounded).
  enum class RebuildFrom { kTime, kLogStart };
  RebuildFrom rebuild_from = RebuildFrom::kTime;
  size_t queue_messages = 10000;
  int fetch_wait_max_ms = 50;
  int session_timeout_ms = 45000;
  // Static membership: "" joins as a dynamic member; else a restarted consumer with the same id takes
  // its partitions back without a rebalance (and a close does not leave the group).
  std::string group_instance_id;
  const Clock* clock = &Clock::Real();  // "now" for the rebuild's look-back by time
  // Called from the rebalance, with the partition numbers concerned (of any subscribed topic):
  // on assignment before anything of them is fetched (state that follows the partition is
  // restored here), on revoke after everything fetched from them is applied and before their
  // points are dropped (that state is handed over here). May block; bound it.
  std::function<void(const std::vector<int32_t>&)> on_assign, on_revoke;
};

struct KafkaSourceStats {
  uint64_t messages = 0;     // handed to the ingestor
  uint64_t redelivered = 0;  // of which re-read while rebuilding windows
  uint64_t rebalances = 0;
  uint64_t pauses = 0;
  uint64_t dropped_points = 0;  // state dropped on revoke
  uint64_t bytes = 0;           // payload bytes fetched for the ingestor (first deliveries only)
  // Holes in the offsets a partition delivered: the consumer's position fell behind the log start
  // (retention, the embedded broker's 5 MiB cap) and was reset, or the log was compacted. Each
  // hole is one reset; the offsets in it were never seen by this instance.
  uint64_t offset_resets = 0;
  std::map<std::string, uint64_t> offsets_skipped;  // "topic/partition" -> offsets skipped
  size_t queue_depth = 0;
  bool paused = false;
  bool brokers_down = false;      // librdkafka reported all brokers down and no fetch has succeeded since
  uint64_t broker_outages = 0;    // times that happened
  std::vector<std::string> assigned;  // "topic/partition"
};

class KafkaSource {
 public:
  // Publishes PartitionsAssigned / PartitionsRevoked to `events` (may be null); on revoke the
  // store's points of those partitions are dropped here, before the event, and subscribers drop
  // their own state.
  KafkaSource(KafkaSourceOptions options, Ingestor& ingestor, SeriesStore& store, EventBus* events = nullptr);
  ~KafkaSource();
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  Status Start();
  // Graceful: stop fetching, apply what is queued, commit, leave the group, bounded whatever the
  // broker does: with the broker gone, the commit and the group leave are given up at `timeout`
  // (the next owner re-reads from the last committed offsets), and librdkafka's teardown, which
  // can wait for a dead coordinator, is left to finish in the background after `timeout` (at
  // least 1 s); see KafkaTeardownsPending.
  void Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Abrupt (as kill -9 would): no drain, no commit, no group leave.
  void AbortForTest();

  bool Ready(std::string* why) const;
  KafkaSourceStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How far a consumer group is behind a topic: per partition, the high watermark minus the group's
// committed offset (or the log start when it has none). Keeps one client for repeated queries;
// `replay --group` uses it to publish no faster than the group consumes.
class GroupLagProbe {
 public:
  static StatusOr<std::unique_ptr<GroupLagProbe>> Create(const KafkaClientOptions& options, const std::string& group,
                                                         const std::string& topic);
  ~GroupLagProbe();
  GroupLagProbe(const GroupLagProbe&) = delete;
  GroupLagProbe& operator=(const GroupLagProbe&) = delete;
  StatusOr<std::map<int32_t, int64_t>> Lag();

 private:
  struct Impl;
  explicit GroupLagProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Consumer teardowns that outlived their Stop's deadline and still run on their own thread. A
// process that ends with one pending must leave by _exit (after flushing its logs): librdkafka's
// threads may still log while static destructors run.
int KafkaTeardownsPending();

// Consumer counters, offset holes per partition and the assignment, for the metrics registry.
void CollectKafkaMetrics(const KafkaSource& source, MetricWriter& writer);

// Reads `partitions` of `topic` from their log start to the high watermark seen when called,
// handing each record to `record` in offset order per partition (no consumer group, nothing
// committed). Fails when the end is not reached within `timeout`.
Status ReadPartitionsToEnd(const KafkaClientOptions& options, const std::string& topic,
                           const std::vector<int32_t>& partitions,
                           const std::function<void(int32_t partition, std::string_view key, std::string_view value)>& record,
                           std::chrono::milliseconds timeout);

// Offsets for operators and tests: committed offsets of a group and the high watermarks of a topic.
StatusOr<std::map<int32_t, int64_t>> CommittedOffsets(const KafkaClientOptions& options, const std::string& group,
                                                      const std::string& topic);
StatusOr<std::map<int32_t, int64_t>> HighWatermarks(const KafkaClientOptions& options, const std::string& topic);
// Partitions of a topic (NotFound when the cluster does not have it, Unavailable when it cannot be asked).
StatusOr<int> TopicPartitionCount(const KafkaClientOptions& options, const std::string& topic);

}  // namespace brickcast
