// The `brickcast` subcommands. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace brickcast::cli {

int Serve(const std::string& config_path, const std::vector<std::string>& replay_files, double speed);
int CheckConfig(const std::string& config_path, bool reference);
int Parse(const std::vector<std::string>& files, const std::string& format, const std::string& config_path,
          const std::vector<std::string>& models, bool si);
int Convert(const std::string& mapping_path, const std::string& csv_path, const std::string& out_path,
            const std::string& format_override);
struct ReplayArgs {
  std::string brokers;
  std::string topic;
  double speed = 0;  // 0 = as fast as possible, N = N x real time
  std::string mapping;  // CSV input when set
  std::string config;   // prefixes / time zone for TTL input
  std::string group;    // when set, stay at most max_lag messages per partition ahead of this group
  int64_t max_lag = 1000;
  std::vector<std::string> files;
};
int Replay(const ReplayArgs& args);
// A Kafka-protocol broker (librdkafka's mock cluster, as kafka.brokers "embedded" starts inside the
// daemon) in a process of its own, until SIGINT/SIGTERM: a broker that outlives the daemons using
// it, for several instances on one machine and for kill -9 tests.
struct BrokerArgs {
  int brokers = 1;
  int partitions = 8;
  std::vector<std::string> topics = {"brickcast.observations"};
  std::string address_file;
};
int Broker(const BrokerArgs& args);
struct SimulateArgs {
  std::string start;  // ISO 8601; "" = the simulator's default
  double days = 7;
  int sample_seconds = 60;
  int zones = 3;
  uint64_t seed = 1;
  std::string scenario = "none";  // "demo": the shipped fault scenario
  std::vector<std::string> faults;
  std::string out = "-", model_out;
  std::string brokers, topic = "brickcast.observations";
  double speed = 0;
};
int Simulate(const SimulateArgs& args);
// Training and evaluation data: CSV files or directories of them, read as wide tables (time first),
// or through `convert` mappings (one mapping for all inputs, or one per input, in order).
struct DataArgs {
  std::vector<std::string> paths;
  std::vector<std::string> mappings;
};
struct TrainArgs {
  DataArgs data;
  std::string config, out;
  int threads = 0;
  bool resume = false;
};
int Train(const TrainArgs& args);
struct EvaluateArgs {
  DataArgs data;
  std::string model, split;
  size_t drop_last = 0;
  bool json = false;
};
int Evaluate(const EvaluateArgs& args);
struct ForecastArgs {
  std::vector<std::string> files;
  std::string mapping, config, model;
  std::string format = "csv";
  size_t backtest_steps = 576;
  std::string out = "-";
};
int Forecast(const ForecastArgs& args);

struct FaultsArgs {
  std::string data, mapping, config;
  std::vector<std::string> models, rules;
  std::string forecast_model = "default";
  bool forecast_all_points = false;
  bool json = false;
};
int EvaluateFaults(const FaultsArgs& args);
struct TokenArgs {
  std::string name, scope = "read", add_to;
};
int Token(const TokenArgs& args);
int Version();

}  // namespace brickcast::cli
