#include "kafka/rdkafka_common.h"

#include <spdlog/spdlog.h>

namespace brickcast::kafka {
namespace {

void LogToSpdlog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const char* name = rk != nullptr ? rd_kafka_name(rk) : "rdkafka";
  if (level <= 3) spdlog::error("kafka {} {}: {}", name, fac, buf);
  else if (level == 4) spdlog::warn("kafka {} {}: {}", name, fac, buf);
  else if (level <= 6) spdlog::info("kafka {} {}: {}", name, fac, buf);
  else spdlog::debug("kafka {} {}: {}", name, fac, buf);
}

}  // namespace

rd_kafka_conf_t* MakeConf(const KafkaClientOptions& options, const std::map<std::string, std::string>& defaults,
                          Status* status) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      *status = Status::InvalidArgument("kafka property " + k + ": " + err);
      return false;
    }
    return true;
  };
  bool ok = set("bootstrap.servers", options.brokers);
  for (const auto& [k, v] : defaults) ok = ok && set(k, v);
  for (const auto& [k, v] : options.properties) ok = ok && set(k, v);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  rd_kafka_conf_set_log_cb(conf, LogToSpdlog);
  *status = Status::Ok();
  return conf;
}

std::string PartitionName(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

}  // namespace brickcast::kafka
