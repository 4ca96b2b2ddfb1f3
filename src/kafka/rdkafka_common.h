// Shared plumbing of the librdkafka adapter (src/kafka/ is the only place that includes it):
// building a configuration from options, and routing librdkafka's logs to spdlog.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <string>

#include "brickcast/kafka.h"

namespace brickcast::kafka {

// A conf with bootstrap.servers, then `defaults`, then the user's properties (which win).
// On error returns null and fills `status` with the offending property.
rd_kafka_conf_t* MakeConf(const KafkaClientOptions& options, const std::map<std::string, std::string>& defaults,
                          Status* status);

// "topic/partition"
std::string PartitionName(const std::string& topic, int32_t partition);

}  // namespace brickcast::kafka
