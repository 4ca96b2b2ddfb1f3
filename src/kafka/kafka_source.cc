#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "brickcast/bounded_queue.h"
#include "kafka/rdkafka_common.h"

namespace brickcast {
namespace {

using Steady = std::chrono::steady_clock;
using TopicPartition = std::pair<std::string, int32_t>;

struct Item {
  std::string payload, key, topic;
  int32_t partition = 0;
  int64_t offset = 0;
  bool redelivery = false;
};

// Messages travel from the poll thread to the ingest thread in batches: one hand-over (lock,
// wake-up) per batch instead of per message keeps the consumer's overhead small on one core.
using Batch = std::vector<Item>;
constexpr size_t kMaxBatch = 64;

}  // namespace

struct KafkaSource::Impl {
  Impl(KafkaSourceOptions o, Ingestor& i, SeriesStore& s, EventBus* e)
      : options(std::move(o)), ingestor(i), store(s), events(e),
        queue(std::max<size_t>(2, (options.queue_messages + kMaxBatch - 1) / kMaxBatch)) {}

  KafkaSourceOptions options;
  Ingestor& ingestor;
  SeriesStore& store;
  EventBus* events;  // may be null
  rd_kafka_t* rk = nullptr;
  BoundedQueue<Batch> queue;
  std::atomic<size_t> queued{0};  // messages in the queue (the backpressure measure)
  std::thread poll_thread, ingest_thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> aborting{false};

  // Set by the ingest thread while it applies one item; the rebalance callback waits for it.
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  bool busy = false;  // guarded by idle_mu

  mutable std::mutex mu;
  std::map<TopicPartition, int64_t> rebuild_until;                // guarded by mu
  std::map<TopicPartition, std::set<std::string>> partition_points;  // guarded by mu
  std::map<TopicPartition, std::vector<std::string>> last_points;    // guarded by mu
  std::vector<TopicPartition> assigned;                           // guarded by mu
  std::map<TopicPartition, int64_t> next_offset;                  // expected next offset; guarded by mu
  bool brokers_down = false;                                      // guarded by mu
  std::string down_reason;                                        // guarded by mu
  bool paused = false;                                            // poll thread only, mirrored in stats
  KafkaSourceStats stats;                                         // guarded by mu
  Steady::time_point last_probe;

  // --- rebalance ---------------------------------------------------------------------------

  void WaitIngestIdle() {
    queue.WaitEmpty(Steady::now() + std::chrono::seconds(60));
    std::unique_lock<std::mutex> lock(idle_mu);
    idle_cv.wait_for(lock, std::chrono::seconds(60), [&] { return !busy; });
  }

  static std::vector<int32_t> PartitionNumbers(const rd_kafka_topic_partition_list_t* parts) {
    std::set<int32_t> numbers;
    for (int i = 0; i < parts->cnt; ++i) numbers.insert(parts->elems[i].partition);
    return {numbers.begin(), numbers.end()};
  }

  void OnAssign(rd_kafka_topic_partition_list_t* parts) {
    // Where to start each partition: far enough back to rebuild its windows, but never past the
    // committed offset (that would skip unapplied messages).
    rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, committed, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::warn("kafka committed offsets: {}", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_t* by_time = rd_kafka_topic_partition_list_copy(parts);
    if (options.rebuild_from == KafkaSourceOptions::RebuildFrom::kTime) {
      const int64_t since = options.clock->Now() - options.rebuild.count();
      for (int i = 0; i < by_time->cnt; ++i) by_time->elems[i].offset = since;
      e = rd_kafka_offsets_for_times(rk, by_time, 10000);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::warn("kafka offsets_for_times: {}", rd_kafka_err2str(e));
    } else {
      for (int i = 0; i < by_time->cnt; ++i) {
        int64_t lo = -1, hi = -1;
        e = rd_kafka_query_watermark_offsets(rk, by_time->elems[i].topic, by_time->elems[i].partition, &lo, &hi, 10000);
        by_time->elems[i].offset = e == RD_KAFKA_RESP_ERR_NO_ERROR ? lo : -1;
        by_time->elems[i].err = e;
      }
    }
    std::vector<std::string> names;
    PartitionsAssigned event;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (int i = 0; i < parts->cnt; ++i) {
        rd_kafka_topic_partition_t& p = parts->elems[i];
        const int64_t c = committed->elems[i].offset;
        const int64_t back = by_time->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR ? by_time->elems[i].offset : -1;
        int64_t start = RD_KAFKA_OFFSET_INVALID;  // no commit yet: auto.offset.reset decides
        if (c >= 0) start = back >= 0 && back < c ? back : c;
        p.offset = start;
        const TopicPartition tp{p.topic, p.partition};
        rebuild_until[tp] = c >= 0 ? c : -1;
        if (start >= 0) next_offset[tp] = start;  // else the first message fetched sets it
        else next_offset.erase(tp);
        assigned.push_back(tp);
        event.partitions.push_back(kafka::PartitionName(p.topic, p.partition));
        names.push_back(kafka::PartitionName(p.topic, p.partition) + "@" + std::to_string(start) +
                        (c >= 0 && start < c ? " (rebuild to " + std::to_string(c) + ")" : ""));
      }
      ++stats.rebalances;
    }
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(by_time);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    spdlog::info("kafka assigned partitions: {}", list);
    if (options.on_assign) options.on_assign(PartitionNumbers(parts));  // before anything is fetched
    e = rd_kafka_assign(rk, parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::error("kafka assign: {}", rd_kafka_err2str(e));
    if (events != nullptr) events->Publish(event);
  }

  void OnRevoke(rd_kafka_topic_partition_list_t* parts) {
    // Apply everything fetched so far, commit it, then forget the revoked partitions' state:
    // their new owner rebuilds it.
    if (!aborting) {
      WaitIngestIdle();
      rd_kafka_resp_err_t e = rd_kafka_commit(rk, nullptr, 0);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        spdlog::warn("kafka commit on revoke: {}", rd_kafka_err2str(e));
      if (options.on_revoke) options.on_revoke(PartitionNumbers(parts));  // applied, not yet dropped
    }
    size_t dropped = 0;
    PartitionsRevoked event;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (int i = 0; i < parts->cnt; ++i) {
        const TopicPartition tp{parts->elems[i].topic, parts->elems[i].partition};
        event.partitions.push_back(kafka::PartitionName(tp.first, tp.second));
        for (const std::string& point : partition_points[tp]) {
          store.Drop(point);
          event.points.push_back(point);
          ++dropped;
        }
        partition_points.erase(tp);
        last_points.erase(tp);
        rebuild_until.erase(tp);
        next_offset.erase(tp);
        assigned.erase(std::remove(assigned.begin(), assigned.end(), tp), assigned.end());
      }
      stats.dropped_points += dropped;
      ++stats.rebalances;
    }
    spdlog::info("kafka revoked {} partitions, dropped {} points", parts->cnt, dropped);
    if (events != nullptr) events->Publish(event);  // the forecast service and registry drop them too
    rd_kafka_assign(rk, nullptr);
    paused = false;
  }

  static void Rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) self->OnAssign(parts);
    else self->OnRevoke(parts);
  }

  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      std::lock_guard<std::mutex> lock(self->mu);
      if (!self->brokers_down) {
        spdlog::warn("kafka: all brokers down: {}", reason);
        ++self->stats.broker_outages;
      }
      self->brokers_down = true;
      self->down_reason = std::string("kafka: all brokers down (") + reason + ")";
    } else if (err != RD_KAFKA_RESP_ERR__TRANSPORT) {
      spdlog::warn("kafka error: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
    }
  }

  // --- threads -----------------------------------------------------------------------------

  void SetPaused(bool pause) {
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == nullptr) return;
    if (pause) rd_kafka_pause_partitions(rk, parts);
    else rd_kafka_resume_partitions(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    paused = pause;
    std::lock_guard<std::mutex> lock(mu);
    stats.paused = pause;
    if (pause) ++stats.pauses;
    spdlog::debug("kafka {} partitions, queue depth {}", pause ? "paused" : "resumed", queued.load());
  }

  void ProbeBrokers() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!brokers_down || Steady::now() - last_probe < std::chrono::seconds(1)) return;
    }
    last_probe = Steady::now();
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, nullptr, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      std::lock_guard<std::mutex> lock(mu);
      brokers_down = false;
      down_reason.clear();
      spdlog::info("kafka: brokers reachable again");
    }
  }

  // Converts one fetched message; false for errors and partition ends (already logged).
  bool TakeMessage(rd_kafka_message_t* m, Batch* batch) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        spdlog::warn("kafka consume error: {}", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      return false;
    }
    Item& item = batch->emplace_back();
    item.topic = rd_kafka_topic_name(m->rkt);
    item.partition = m->partition;
    item.offset = m->offset;
    item.payload.assign(static_cast<const char*>(m->payload), m->len);
    if (m->key != nullptr) item.key.assign(static_cast<const char*>(m->key), m->key_len);
    rd_kafka_message_destroy(m);
    std::lock_guard<std::mutex> lock(mu);
    const TopicPartition tp{item.topic, item.partition};
    auto it = rebuild_until.find(tp);
    item.redelivery = it != rebuild_until.end() && item.offset < it->second;
    if (!item.redelivery) stats.bytes += item.payload.size();
    NoteOffsetLocked(tp, item.offset);
    if (brokers_down) {
      brokers_down = false;  // a fetch succeeded
      down_reason.clear();
      spdlog::info("kafka: brokers reachable again");
    }
    return true;
  }

  // Kafka offsets of a partition are consecutive (no compaction here, no transactions), so a
  // message past the expected offset means librdkafka reset the position (auto.offset.reset)
  // because the broker no longer had it: those messages are lost to this instance. Say so.
  void NoteOffsetLocked(const TopicPartition& tp, int64_t offset) {
    auto [it, fresh] = next_offset.try_emplace(tp, offset);
    if (!fresh && offset > it->second) {
      const int64_t skipped = offset - it->second;
      const std::string name = kafka::PartitionName(tp.first, tp.second);
      stats.offsets_skipped[name] += static_cast<uint64_t>(skipped);
      ++stats.offset_resets;
      spdlog::warn("kafka {}: offsets {}..{} skipped ({} messages never consumed): the position fell behind the "
                   "log start and was reset; the broker had dropped them (retention, or the embedded broker's "
                   "5 MiB per-partition cap: slow the producer or add partitions)",
                   name, it->second, offset - 1, skipped);
    }
    it->second = std::max(it->second, offset + 1);
  }

  void PollLoop() {
    const size_t capacity = options.queue_messages;
    const size_t high = std::max<size_t>(1, capacity * 9 / 10);
    const size_t low = capacity / 2;
    while (!stopping) {
      ProbeBrokers();
      const size_t depth = queued.load();
      if (!paused && depth >= high) SetPaused(true);
      else if (paused && depth <= low) SetPaused(false);
      // Wait for one message, then take what is already fetched without waiting.
      Batch batch;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) continue;
      TakeMessage(m, &batch);
      while (batch.size() < kMaxBatch && depth + batch.size() < capacity &&
             (m = rd_kafka_consumer_poll(rk, 0)) != nullptr) {
        TakeMessage(m, &batch);
      }
      if (batch.empty()) continue;
      const size_t n = batch.size();
      queued.fetch_add(n);
      bool pushed = false;
      while (!stopping && !(pushed = queue.Push(std::move(batch), Steady::now() + std::chrono::milliseconds(200)))) {
      }
      if (!pushed) queued.fetch_sub(n);
    }
  }

  void IngestLoop() {
    while (auto batch = queue.Pop(Steady::now() + std::chrono::hours(24 * 365))) {
      if (aborting) continue;  // killed: drop what is queued, as a crash would
      {
        std::lock_guard<std::mutex> lock(idle_mu);
        busy = true;
      }
      for (Item& item : *batch) {
        Apply(item);
        queued.fetch_sub(1);
      }
      {
        std::lock_guard<std::mutex> lock(idle_mu);
        busy = false;
      }
      idle_cv.notify_all();
    }
  }

  // Ingests one message, then stores its offset for the next commit.
  void Apply(const Item& item) {
    MessageOrigin origin;
    origin.source = item.topic + "/" + std::to_string(item.partition) + "@" + std::to_string(item.offset);
    origin.topic = item.topic;
    origin.partition = item.partition;
    origin.offset = item.offset;
    origin.key = item.key;
    origin.redelivery = item.redelivery;
    IngestReport report = ingestor.IngestMessage(item.payload, origin);
    {
      std::lock_guard<std::mutex> lock(mu);
      // Remember which points live in which partition (to drop them on revoke). Consecutive
      // messages of a partition usually carry the same points: skip the set work then.
      const TopicPartition tp{item.topic, item.partition};
      std::vector<std::string>& last = last_points[tp];
      if (report.points != last) {
        partition_points[tp].insert(report.points.begin(), report.points.end());
        last = std::move(report.points);
      }
      ++stats.messages;
      if (item.redelivery) ++stats.redelivered;
    }
    // Applied (or dead-lettered): now, and only now, the offset may be committed.
    rd_kafka_topic_partition_list_t* offs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offs, item.topic.c_str(), item.partition)->offset = item.offset + 1;
    rd_kafka_offsets_store(rk, offs);
    rd_kafka_topic_partition_list_destroy(offs);
  }

};

namespace {

std::atomic<int> teardowns_pending{0};

// librdkafka's destroy waits for requests still queued to a coordinator: an auto-commit queued
// while the broker died held it for about a session timeout (6.2 s against a 5 s grace in CI).
// The destroy runs on a thread of its own; past the deadline (plus a second for an orderly
// teardown) it is left to finish in the background and counted, so that the process can end
// without running static destructors under librdkafka's threads (KafkaTeardownsPending).
void DestroyBounded(rd_kafka_t* rk, int flags, Steady::time_point deadline) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  ++teardowns_pending;
  std::thread([rk, flags, done] {
    rd_kafka_destroy_flags(rk, flags);
    --teardowns_pending;
    std::lock_guard<std::mutex> lock(done->mu);
    done->done = true;
    done->cv.notify_all();
  }).detach();
  const auto until = std::max(deadline, Steady::now() + std::chrono::seconds(1));
  std::unique_lock<std::mutex> lock(done->mu);
  if (done->cv.wait_until(lock, until, [&] { return done->done; })) {
    spdlog::info("kafka consumer stopped");
  } else {
    spdlog::warn("kafka consumer teardown still waiting for the broker at the stop deadline: left to finish in "
                 "the background (nothing of ours is pending in it: offsets are committed or re-read)");
  }
}

}  // namespace

int KafkaTeardownsPending() { return teardowns_pending.load(); }

KafkaSource::KafkaSource(KafkaSourceOptions options, Ingestor& ingestor, SeriesStore& store, EventBus* events)
    : impl_(std::make_unique<Impl>(std::move(options), ingestor, store, events)) {}

KafkaSource::~KafkaSource() { Stop(); }

Status KafkaSource::Start() {
  Impl& d = *impl_;
  const KafkaSourceOptions& o = d.options;
  Status st;
  rd_kafka_conf_t* conf = kafka::MakeConf(
      o.client,
      {{"group.id", o.group_id},
       {"client.id", "brickcast"},
       {"enable.auto.commit", "true"},
       {"enable.auto.offset.store", "false"},  // we store an offset once its message is applied
       {"auto.commit.interval.ms", std::to_string(o.commit_interval_ms)},
       {"auto.offset.reset", "earliest"},
       {"partition.assignment.strategy", "range,roundrobin"},
       {"session.timeout.ms", std::to_string(o.session_timeout_ms)},
       {"heartbeat.interval.ms", std::to_string(std::max(100, o.session_timeout_ms / 5))},
       {"fetch.wait.max.ms", std::to_string(o.fetch_wait_max_ms)},
       {"queued.max.messages.kbytes", "16384"},  // bounds librdkafka's own prefetch memory
       {"topic.metadata.refresh.interval.ms", "10000"}},
      &st);
  if (conf == nullptr) return st;
  if (!o.group_instance_id.empty()) {
    char err[512];
    if (rd_kafka_conf_set(conf, "group.instance.id", o.group_instance_id.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(std::string("kafka: group.instance.id: ") + err);
    }
  }
  rd_kafka_conf_set_rebalance_cb(conf, Impl::Rebalance);
  rd_kafka_conf_set_error_cb(conf, Impl::OnError);
  rd_kafka_conf_set_opaque(conf, &d);
  char err[512];
  d.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (d.rk == nullptr) return Status::InvalidArgument(std::string("kafka consumer: ") + err);
  rd_kafka_poll_set_consumer(d.rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(o.topics.size()));
  for (const std::string& t : o.topics) rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(d.rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(d.rk);
    d.rk = nullptr;
    return Status::InvalidArgument(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
  }
  d.ingest_thread = std::thread([&d] { d.IngestLoop(); });
  d.poll_thread = std::thread([&d] { d.PollLoop(); });
  spdlog::info("kafka consumer started brokers={} group={} instance={} topics={}", o.client.brokers, o.group_id,
               o.group_instance_id.empty() ? "(dynamic)" : o.group_instance_id, o.topics.size());
  return Status::Ok();
}

void KafkaSource::Stop(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  if (d.rk == nullptr) return;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  d.stopping = true;
  if (d.poll_thread.joinable()) d.poll_thread.join();
  d.queue.Close();  // the ingest thread applies what is queued, then exits
  if (d.ingest_thread.joinable()) d.ingest_thread.join();
  // The final commit and the group leave, bounded: synchronous, both wait for a coordinator that
  // may be gone (a stop took 46 s with the broker down). The close runs on a queue polled here
  // until it is done or the deadline passes.
  bool down = false;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    down = d.brokers_down;
  }
  if (!down && d.options.on_revoke) {
    // Leaving the group hands every partition over: its state goes first, as on a revoke.
    std::set<int32_t> numbers;
    {
      std::lock_guard<std::mutex> lock(d.mu);
      for (const auto& [topic, partition] : d.assigned) numbers.insert(partition);
    }
    if (!numbers.empty()) d.options.on_revoke({numbers.begin(), numbers.end()});
  }
  if (!down) {
    rd_kafka_resp_err_t e = rd_kafka_commit(d.rk, nullptr, 1 /* async */);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
      spdlog::warn("kafka final commit: {}", rd_kafka_err2str(e));
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(d.rk);
  if (down) {
    // No coordinator to leave: closing would only queue requests that the destroy then waits for.
  } else if (rd_kafka_error_t* err = rd_kafka_consumer_close_queue(d.rk, q)) {
    spdlog::warn("kafka close: {}", rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  } else {
    while (!rd_kafka_consumer_closed(d.rk) && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        // Giving the partitions up, as the close asks.
        if (std::string(rd_kafka_rebalance_protocol(d.rk)) == "COOPERATIVE")
          rd_kafka_error_destroy(rd_kafka_incremental_unassign(d.rk, rd_kafka_event_topic_partition_list(ev)));
        else
          rd_kafka_assign(d.rk, nullptr);
      }
      rd_kafka_event_destroy(ev);
    }
  }
  const bool closed = rd_kafka_consumer_closed(d.rk);
  rd_kafka_queue_destroy(q);
  if (!closed) {
    spdlog::warn("kafka consumer stopped without leaving its group: {} (the partitions move after the session "
                 "timeout; uncommitted messages are read again)",
                 down ? std::string("every broker is down")
                      : "the broker did not answer within " + std::to_string(timeout.count()) + " ms");
  }
  DestroyBounded(d.rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE, deadline);
  d.rk = nullptr;
}

void KafkaSource::AbortForTest() {
  Impl& d = *impl_;
  if (d.rk == nullptr) return;
  d.aborting = true;
  d.stopping = true;
  if (d.poll_thread.joinable()) d.poll_thread.join();
  d.queue.Close();
  if (d.ingest_thread.joinable()) d.ingest_thread.join();
  rd_kafka_destroy_flags(d.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  d.rk = nullptr;
}

bool KafkaSource::Ready(std::string* why) const {
  const Impl& d = *impl_;
  if (d.rk == nullptr) {
    *why = "kafka consumer not running";
    return false;
  }
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.brokers_down) {
    *why = d.down_reason;
    return false;
  }
  return true;
}

KafkaSourceStats KafkaSource::Stats() const {
  const Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  KafkaSourceStats s = d.stats;
  s.queue_depth = d.queued.load();
  s.brokers_down = d.brokers_down;
  for (const auto& [t, p] : d.assigned) s.assigned.push_back(kafka::PartitionName(t, p));
  return s;
}

void CollectKafkaMetrics(const KafkaSource& source, MetricWriter& w) {
  const KafkaSourceStats k = source.Stats();
  w.Counter("brickcast_kafka_messages_total", "Kafka messages handed to ingest.", k.messages);
  w.Counter("brickcast_kafka_redelivered_total", "Messages re-read to rebuild windows after assignment.",
            k.redelivered);
  w.Counter("brickcast_kafka_rebalances_total", "Partition assignments and revocations.", k.rebalances);
  w.Counter("brickcast_kafka_pauses_total", "Times the partitions were paused for backpressure.", k.pauses);
  w.Gauge("brickcast_kafka_queue_depth", "Messages fetched and waiting for ingest.", static_cast<double>(k.queue_depth));
  w.Gauge("brickcast_kafka_paused", "1 while partitions are paused.", k.paused ? 1 : 0);
  w.Gauge("brickcast_kafka_brokers_up", "0 while librdkafka reports every broker down (also in /readyz).",
          k.brokers_down ? 0 : 1);
  w.Counter("brickcast_kafka_broker_outages_total", "Times every broker went down.", k.broker_outages);
  w.Counter("brickcast_kafka_bytes_total", "Payload bytes fetched for ingest (first deliveries, not window rebuilds).", k.bytes);
  w.Counter("brickcast_kafka_offset_resets_total",
            "Holes in a partition's offsets: the position fell behind the log start and was reset (data lost).",
            k.offset_resets);
  std::map<std::string, uint64_t> skipped = k.offsets_skipped;  // every assigned partition, 0 or more
  for (const std::string& partition : k.assigned) skipped.try_emplace(partition, 0);
  for (const auto& [partition, n] : skipped)
    w.Counter("brickcast_kafka_offsets_skipped_total",
              "Offsets skipped per partition by those resets (messages this instance never consumed).", n,
              {{"partition", partition}});
  w.Gauge("brickcast_kafka_assigned_partitions", "Partitions assigned to this instance.",
          static_cast<double>(k.assigned.size()));
}

// --- offsets -----------------------------------------------------------------------------------

namespace {

StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000);
  rd_kafka_topic_destroy(t);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Unavailable(std::string("kafka metadata: ") + rd_kafka_err2str(e));
  int n = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : -1;
  rd_kafka_metadata_destroy(md);
  if (n < 0) return Status::NotFound("kafka topic " + topic + " not found");
  return n;
}

StatusOr<rd_kafka_t*> NewClient(const KafkaClientOptions& options, rd_kafka_type_t type,
                                std::map<std::string, std::string> defaults) {
  Status st;
  rd_kafka_conf_t* conf = kafka::MakeConf(options, defaults, &st);
  if (conf == nullptr) return st;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) return Status::InvalidArgument(err);
  return rk;
}

}  // namespace

StatusOr<std::map<int32_t, int64_t>> CommittedOffsets(const KafkaClientOptions& options, const std::string& group,
                                                      const std::string& topic) {
  auto rk = NewClient(options, RD_KAFKA_CONSUMER, {{"group.id", group}});
  if (!rk.ok()) return rk.status();
  std::map<int32_t, int64_t> out;
  Status status;
  auto n = PartitionCount(*rk, topic);
  if (n.ok()) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(*n);
    for (int p = 0; p < *n; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
    rd_kafka_resp_err_t e = rd_kafka_committed(*rk, parts, 10000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < parts->cnt; ++i) out[parts->elems[i].partition] = parts->elems[i].offset;
    } else {
      status = Status::Unavailable(std::string("kafka committed: ") + rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(parts);
  } else {
    status = n.status();
  }
  rd_kafka_destroy(*rk);
  if (!status.ok()) return status;
  return out;
}

Status ReadPartitionsToEnd(const KafkaClientOptions& options, const std::string& topic,
                           const std::vector<int32_t>& partitions,
                           const std::function<void(int32_t, std::string_view, std::string_view)>& record,
                           std::chrono::milliseconds timeout) {
  if (partitions.empty()) return Status::Ok();
  const auto deadline = Steady::now() + timeout;
  auto rk = NewClient(options, RD_KAFKA_CONSUMER,
                      {{"group.id", "brickcast-changelog-reader"}, {"enable.auto.commit", "false"},
                       {"enable.partition.eof", "false"}, {"fetch.wait.max.ms", "10"}});
  if (!rk.ok()) return rk.status();
  Status status;
  // Where each partition ends now; records produced after this call are not waited for.
  std::map<int32_t, int64_t> end;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) {
    int64_t lo = 0, hi = 0;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(*rk, topic.c_str(), p, &lo, &hi, static_cast<int>(std::max<int64_t>(1, left)));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::Unavailable("kafka " + kafka::PartitionName(topic, p) + " watermarks: " + rd_kafka_err2str(e));
      break;
    }
    if (hi <= lo) continue;
    end[p] = hi;
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = lo;
  }
  if (status.ok() && !end.empty()) {
    rd_kafka_resp_err_t e = rd_kafka_assign(*rk, parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) status = Status::Unavailable(std::string("kafka assign: ") + rd_kafka_err2str(e));
    while (status.ok() && !end.empty()) {
      if (Steady::now() >= deadline) {
        status = Status::DeadlineExceeded("kafka " + topic + ": " + std::to_string(end.size()) +
                                          " partitions not read to their end in " + std::to_string(timeout.count()) + " ms");
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(*rk, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        auto it = end.find(m->partition);
        if (it != end.end() && m->offset < it->second) {
          record(m->partition, std::string_view(static_cast<const char*>(m->key), m->key_len),
                 std::string_view(static_cast<const char*>(m->payload), m->len));
          if (m->offset + 1 >= it->second) end.erase(it);
        }
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka {} read: {}", topic, rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy_flags(*rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return status;
}

StatusOr<int> TopicPartitionCount(const KafkaClientOptions& options, const std::string& topic) {
  auto rk = NewClient(options, RD_KAFKA_PRODUCER, {});
  if (!rk.ok()) return rk.status();
  auto n = PartitionCount(*rk, topic);
  rd_kafka_destroy(*rk);
  return n;
}

StatusOr<std::map<int32_t, int64_t>> HighWatermarks(const KafkaClientOptions& options, const std::string& topic) {
  auto rk = NewClient(options, RD_KAFKA_PRODUCER, {});
  if (!rk.ok()) return rk.status();
  std::map<int32_t, int64_t> out;
  Status status;
  auto n = PartitionCount(*rk, topic);
  if (n.ok()) {
    for (int p = 0; p < *n && status.ok(); ++p) {
      int64_t lo = 0, hi = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(*rk, topic.c_str(), p, &lo, &hi, 5000);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) status = Status::Unavailable(rd_kafka_err2str(e));
      out[p] = hi;
    }
  } else {
    status = n.status();
  }
  rd_kafka_destroy(*rk);
  if (!status.ok()) return status;
  return out;
}

struct GroupLagProbe::Impl {
  rd_kafka_t* rk = nullptr;
  std::string topic;
  int partitions = 0;
  ~Impl() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

GroupLagProbe::GroupLagProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GroupLagProbe::~GroupLagProbe() = default;

StatusOr<std::unique_ptr<GroupLagProbe>> GroupLagProbe::Create(const KafkaClientOptions& options,
                                                               const std::string& group, const std::string& topic) {
  auto rk = NewClient(options, RD_KAFKA_CONSUMER, {{"group.id", group}});
  if (!rk.ok()) return rk.status();
  auto impl = std::make_unique<Impl>();
  impl->rk = *rk;
  impl->topic = topic;
  auto n = PartitionCount(impl->rk, topic);
  if (!n.ok()) return n.status();
  impl->partitions = *n;
  return std::unique_ptr<GroupLagProbe>(new GroupLagProbe(std::move(impl)));
}

StatusOr<std::map<int32_t, int64_t>> GroupLagProbe::Lag() {
  Impl& d = *impl_;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(d.partitions);
  for (int p = 0; p < d.partitions; ++p) rd_kafka_topic_partition_list_add(parts, d.topic.c_str(), p);
  rd_kafka_resp_err_t e = rd_kafka_committed(d.rk, parts, 10000);
  std::map<int32_t, int64_t> lag;
  Status status;
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) status = Status::Unavailable(std::string("kafka committed: ") + rd_kafka_err2str(e));
  for (int i = 0; i < parts->cnt && status.ok(); ++i) {
    int64_t lo = 0, hi = 0;
    e = rd_kafka_query_watermark_offsets(d.rk, d.topic.c_str(), parts->elems[i].partition, &lo, &hi, 5000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::Unavailable(std::string("kafka watermarks: ") + rd_kafka_err2str(e));
      break;
    }
    lag[parts->elems[i].partition] = hi - std::max(lo, parts->elems[i].offset);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  if (!status.ok()) return status;
  return lag;
}

}  // namespace brickcast
