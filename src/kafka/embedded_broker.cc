// rdkafka_mock.h needs rdkafka.h first (via rdkafka_common.h).
#include "kafka/rdkafka_common.h"

#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

namespace brickcast {

// The mock cluster lives inside an rd_kafka_t handle that owns its threads and sockets.
struct EmbeddedBroker::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string bootstrap;
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedBroker::~EmbeddedBroker() = default;

StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers, const std::vector<std::string>& topics,
                                                                 int partitions) {
  auto impl = std::make_unique<Impl>();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "brickcast-embedded-broker", err, sizeof err);
  // This handle only hosts the mock cluster and never connects: its notice that no
  // bootstrap.servers are configured is noise on every start.
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (impl->rk == nullptr) return Status::Internal(std::string("embedded broker: ") + err);
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) return Status::Unavailable("embedded broker: cannot start the mock cluster");
  impl->bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster);
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker(std::move(impl)));
  for (const std::string& t : topics) {
    if (!t.empty() && t[0] == '^') continue;  // a pattern names no topic to create
    BRICKCAST_RETURN_IF_ERROR(broker->CreateTopic(t, partitions));
  }
  spdlog::info("embedded kafka broker listening bootstrap={} topics={} partitions={}", broker->bootstrap(),
               topics.size(), partitions);
  return broker;
}

const std::string& EmbeddedBroker::bootstrap() const { return impl_->bootstrap; }

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    return Status::Internal("embedded broker: create topic " + topic + ": " + rd_kafka_err2str(e));
  return Status::Ok();
}

Status EmbeddedBroker::SetBrokerDown(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::Ok() : Status::Internal(rd_kafka_err2str(e));
}

Status EmbeddedBroker::SetBrokerUp(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(impl_->cluster, broker_id);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::Ok() : Status::Internal(rd_kafka_err2str(e));
}

}  // namespace brickcast
