#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "kafka/rdkafka_common.h"

namespace brickcast {

namespace {

struct DeliveryCounters {
  std::atomic<uint64_t> delivered{0}, failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* counters = static_cast<DeliveryCounters*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    counters->delivered.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters->failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("kafka delivery failed topic={} error={}", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
  }
}

}  // namespace

struct KafkaProducer::Impl {
  rd_kafka_t* rk = nullptr;
  DeliveryCounters counters;
  ~Impl() {
    if (rk != nullptr) {
      rd_kafka_flush(rk, 5000);
      rd_kafka_destroy(rk);
    }
  }
};

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaProducer::~KafkaProducer() = default;

StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const KafkaClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  Status st;
  // Idempotence keeps retries from duplicating or reordering messages within a partition.
  rd_kafka_conf_t* conf = kafka::MakeConf(options, {{"enable.idempotence", "true"}, {"linger.ms", "5"},
                                                    {"client.id", "brickcast-producer"}}, &st);
  if (conf == nullptr) return st;
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &impl->counters);
  char err[512];
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (impl->rk == nullptr) return Status::InvalidArgument(std::string("kafka producer: ") + err);
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

Status KafkaProducer::Produce(const std::string& topic, std::string_view key, std::string_view payload) {
  return ProduceToPartition(topic, RD_KAFKA_PARTITION_UA, key, payload);
}

Status KafkaProducer::ProduceToPartition(const std::string& topic, int32_t partition, std::string_view key,
                                         std::string_view payload) {
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_poll(impl_->rk, 0);  // serve delivery reports
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt > 600)
      return Status::Unavailable("kafka produce to " + topic + ": " + rd_kafka_err2str(e));
    rd_kafka_poll(impl_->rk, 100);  // local queue full: wait for deliveries
  }
}

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t e = rd_kafka_flush(impl_->rk, static_cast<int>(timeout.count()));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::DeadlineExceeded(std::string("kafka flush: ") + rd_kafka_err2str(e));
  if (impl_->counters.failed.load() > 0)
    return Status::Unavailable(std::to_string(impl_->counters.failed.load()) + " messages could not be delivered");
  return Status::Ok();
}

uint64_t KafkaProducer::delivered() const { return impl_->counters.delivered.load(); }
uint64_t KafkaProducer::failed() const { return impl_->counters.failed.load(); }

namespace {

class KafkaDeadLetterSink final : public DeadLetterSink {
 public:
  KafkaDeadLetterSink(std::unique_ptr<KafkaProducer> producer, std::string topic)
      : producer_(std::move(producer)), topic_(std::move(topic)) {}
  void Write(const IngestError& error, const MessageOrigin& origin, std::string_view payload) override {
    Status st = producer_->Produce(topic_, origin.key, DeadLetterJson(error, origin, payload));
    if (!st.ok()) spdlog::error("dead letter lost topic={} source={} error={}", topic_, origin.source, st.message());
  }

 private:
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
};

}  // namespace

std::unique_ptr<DeadLetterSink> NewKafkaDeadLetterSink(const KafkaClientOptions& options, const std::string& topic,
                                                       Status* status) {
  auto producer = KafkaProducer::Create(options);
  if (!producer.ok()) {
    *status = producer.status().WithContext("dead-letter topic");
    return nullptr;
  }
  *status = Status::Ok();
  return std::make_unique<KafkaDeadLetterSink>(std::move(*producer), topic);
}

}  // namespace brickcast
