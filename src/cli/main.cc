// brickcast: one binary, one subcommand per job. Flags and exit codes only; the work is in
// commands.cc and the libraries.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>

#include "brickcast/forecaster.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  // LibTorch calls the system BLAS: OpenBLAS started its worker threads while it was loaded, so
  // make it single-threaded through its API now (the environment is read too late to matter) and
  // let LibTorch's own pool, sized by the config, do the parallel work.
  brickcast::SingleThreadBlas();
  CLI::App app{"brickcast: HVAC fault prediction from Brick Turtle streams"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("brickcast ") + BRICKCAST_VERSION);

  std::string config_path = "/etc/brickcast/brickcast.json";
  std::vector<std::string> replay_files;
  double speed = -1;
  auto* serve = app.add_subcommand("serve", "Run the daemon: ingest, store, API.");
  serve->add_option("-c,--config", config_path, "Config file (JSON)")->capture_default_str();
  serve->add_option("--replay", replay_files, "Replay these message files (adds to replay.files)");
  serve->add_option("--speed", speed, "Replay speed: 0 = as fast as possible, N = N x real time");

  bool reference = false;
  auto* check = app.add_subcommand("check-config", "Validate a config file and print the effective config.");
  // -c/--config as for every other subcommand; the positional form is kept for existing units.
  check->add_option("-c,--config,config", config_path, "Config file (JSON)")->capture_default_str();
  check->add_flag("--reference", reference, "Print the reference of every config key instead");

  std::vector<std::string> parse_files;
  std::string format = "auto";
  std::string parse_config;
  std::vector<std::string> models;
  bool raw = false;
  auto* parse = app.add_subcommand("parse", "Parse Turtle messages and print observations as JSON lines.");
  parse->add_option("files", parse_files, "Message files ('-' for stdin)")->required();
  parse->add_option("--format", format, "auto, lkv, sosa or wide")->capture_default_str();
  parse->add_option("-c,--config", parse_config, "Config for prefixes, time zone, wide-row and unit settings");
  parse->add_option("--model", models, "Brick model files (units and classes of points)");
  parse->add_flag("--raw", raw, "Print values as sent, without unit conversion");

  std::string mapping, csv, out = "-", convert_format;
  auto* convert = app.add_subcommand("convert", "Convert a CSV into Brick Turtle messages.");
  convert->add_option("--mapping", mapping, "Mapping file (JSON)")->required();
  convert->add_option("csv", csv, "CSV file")->required();
  convert->add_option("-o,--out", out, "Output file ('-' for stdout)")->capture_default_str();
  convert->add_option("--format", convert_format, "Override the mapping's format: lkv, sosa or wide");

  brickcast::cli::ReplayArgs replay_args;
  bool max_speed = false;
  auto* replay = app.add_subcommand("replay", "Publish Brick Turtle messages (TTL files, or CSV via a mapping) to Kafka.");
  replay->add_option("--brokers", replay_args.brokers, "Bootstrap servers (host:port,...)")->required();
  replay->add_option("--topic", replay_args.topic, "Topic")->required();
  replay->add_option("--speed", replay_args.speed,
                     "0 = as fast as possible (as replay.speed in the config), N = N x real time by message timestamps")
      ->capture_default_str();
  replay->add_flag("--max", max_speed, "As fast as possible (same as --speed 0)");
  replay->add_option("--group", replay_args.group,
                     "Consumer group to wait for: publish at most --max-lag messages ahead of its committed offsets, "
                     "so a size-capped log (the embedded broker keeps 5 MiB per partition) drops nothing unread");
  replay->add_option("--max-lag", replay_args.max_lag, "Messages per partition the group may lag (with --group)")
      ->capture_default_str();
  replay->add_option("--mapping", replay_args.mapping, "Mapping file: the inputs are CSV files");
  replay->add_option("-c,--config", replay_args.config, "Config for default prefixes and the site time zone");
  replay->add_option("files", replay_args.files, "TTL message files or CSV files ('-' for stdin)")->required();

  brickcast::cli::BrokerArgs broker_args;
  auto* broker = app.add_subcommand(
      "broker", "Run a Kafka-protocol broker in memory (librdkafka's mock cluster) until SIGINT/SIGTERM; SIGUSR1 takes it down (connections refused, logs kept), SIGUSR2 brings it back.");
  broker->add_option("--partitions", broker_args.partitions, "Partitions per topic")->capture_default_str();
  broker->add_option("--brokers", broker_args.brokers, "Brokers in the cluster")->capture_default_str();
  broker->add_option("--topic", broker_args.topics, "Topics to create (repeatable)")->capture_default_str();
  broker->add_option("--address-file", broker_args.address_file, "Write the bootstrap address here");

  brickcast::cli::SimulateArgs sim_args;
  auto* simulate = app.add_subcommand(
      "simulate", "Simulate an AHU with VAV zones (and injected faults) as Brick Turtle messages, to a file or Kafka.");
  simulate->add_option("--start", sim_args.start, "Start (ISO 8601, UTC); default 2026-03-02T00:00:00Z, a Monday");
  simulate->add_option("--days", sim_args.days, "Simulated days")->capture_default_str();
  simulate->add_option("--sample-seconds", sim_args.sample_seconds, "Seconds between messages")->capture_default_str();
  simulate->add_option("--zones", sim_args.zones, "VAV zones fed by the AHU (1-20)")->capture_default_str();
  simulate->add_option("--seed", sim_args.seed, "Random seed (weather, sensor noise)")->capture_default_str();
  simulate->add_option("--scenario", sim_args.scenario, "'demo': the shipped fault scenario (README); 'none'")
      ->capture_default_str();
  simulate->add_option("--fault", sim_args.faults,
                       "Inject a fault: kind[:target][=value][@from[-to]], e.g. valve_stuck:cooling=0@1d12h-2d "
                       "(kinds: sensor_bias, sensor_drift, sensor_flatline, valve_stuck, valve_leak, damper_stuck, "
                       "fan_failure, filter_fouling)");
  simulate->add_option("-o,--out", sim_args.out, "Message file ('-': stdout)")->capture_default_str();
  simulate->add_option("--model-out", sim_args.model_out, "Write the system's Brick model (Turtle) here");
  simulate->add_option("--brokers", sim_args.brokers, "Publish to Kafka instead of writing messages");
  simulate->add_option("--topic", sim_args.topic, "Topic (with --brokers)")->capture_default_str();
  simulate->add_option("--speed", sim_args.speed, "With --brokers: 0 = as fast as possible, N = N x real time")
      ->capture_default_str();

  brickcast::cli::TrainArgs train_args;
  auto* train = app.add_subcommand("train", "Train a TimeMixer model (ETT-style CSVs, or HVAC CSVs through mappings).");
  train->add_option("--data", train_args.data.paths, "CSV file or directory of CSVs (repeatable)")->required();
  train->add_option("--mapping", train_args.data.mappings, "convert mapping: the data are HVAC CSVs (one, or one per --data)");
  train->add_option("-t,--train-config", train_args.config, "Training configuration (JSON; --config is the daemon's)")
      ->required();
  train->add_option("--out", train_args.out, "Model file to write (the checkpoint is OUT.ckpt)")->required();
  train->add_option("--threads", train_args.threads, "LibTorch threads (default: the config's)");
  train->add_flag("--resume", train_args.resume, "Continue from OUT.ckpt (written after every epoch)");

  brickcast::cli::EvaluateArgs eval_args;
  auto* evaluate = app.add_subcommand("evaluate", "Evaluate a model on the test split.");
  evaluate->add_option("--model", eval_args.model, "Model file")->required();
  evaluate->add_option("--data", eval_args.data.paths, "CSV file or directory (repeatable)")->required();
  evaluate->add_option("--mapping", eval_args.data.mappings, "convert mapping for HVAC CSVs (one, or one per --data)");
  evaluate->add_option("--split", eval_args.split, "ett or ratio (default: the split the model was trained with)");
  evaluate->add_option("--drop-last", eval_args.drop_last,
                       "Only whole batches of N windows, as the official test loader (drop_last) does");
  evaluate->add_flag("--json", eval_args.json, "Print JSON instead of a table");

  brickcast::cli::ForecastArgs forecast_args;
  auto* forecast = app.add_subcommand(
      "forecast", "Forecast every point from a site's history (CSV through a mapping, or Turtle message files).");
  forecast->add_option("files", forecast_args.files, "CSV files (with --mapping) or Turtle message files ('-' for stdin)")
      ->required();
  forecast->add_option("--mapping", forecast_args.mapping, "convert mapping: the inputs are CSV files");
  forecast->add_option("-c,--config", forecast_args.config,
                       "Daemon config: site time zone, prefixes, Brick models, store step and forecast settings");
  forecast->add_option("--model", forecast_args.model,
                       "Model file, 'default' (the shipped model) or 'none' (seasonal naive); default: the config's");
  forecast->add_option("--format", forecast_args.format, "csv or json")->capture_default_str();
  forecast->add_option("--backtest-steps", forecast_args.backtest_steps,
                       "Closed steps before the end that are forecast and scored to calibrate the intervals")
      ->capture_default_str();
  forecast->add_option("-o,--out", forecast_args.out, "Output file ('-' for stdout)")->capture_default_str();

  brickcast::cli::FaultsArgs faults_args;
  auto* faults = app.add_subcommand(
      "evaluate-faults",
      "Replay a labelled CSV through the whole pipeline (store, forecasts, rules, alerts) and score fault days.");
  faults->add_option("--data", faults_args.data, "Labelled CSV file")->required();
  faults->add_option("--mapping", faults_args.mapping, "convert mapping naming the label_column")->required();
  faults->add_option("--model", faults_args.models, "Brick model file (repeatable)")->required();
  faults->add_option("--rules", faults_args.rules, "Rule files or directories (default: the shipped rules)");
  faults->add_option("--forecast-model", faults_args.forecast_model,
                     "Forecast model file, 'default' (the shipped model) or 'none'")
      ->capture_default_str();
  faults->add_flag("--forecast-all-points", faults_args.forecast_all_points,
                   "Forecast every point to score the forecasts (default: only the points rules read forecasts of)");
  faults->add_option("-c,--config", faults_args.config, "Daemon config for store and forecast settings");
  faults->add_flag("--json", faults_args.json, "Print JSON instead of a report");

  brickcast::cli::TokenArgs token_args;
  auto* token = app.add_subcommand("token", "Make a new API token: print it and its hashed entry for http.tokens_file.");
  token->add_option("--name", token_args.name, "Who will use it (shown in the audit log)")->required();
  token->add_option("--scope", token_args.scope, "read, operate or admin")
      ->check(CLI::IsMember({"read", "operate", "admin"}))->capture_default_str();
  token->add_option("--add", token_args.add_to, "Append the entry to this tokens file (created if missing; 0600)");

  app.add_subcommand("version", "Print the version.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*serve) return brickcast::cli::Serve(config_path, replay_files, speed);
    if (*simulate) return brickcast::cli::Simulate(sim_args);
    if (*check) return brickcast::cli::CheckConfig(config_path, reference);
    if (*parse) return brickcast::cli::Parse(parse_files, format, parse_config, models, !raw);
    if (*convert) return brickcast::cli::Convert(mapping, csv, out, convert_format);
    if (*train) return brickcast::cli::Train(train_args);
    if (*evaluate) return brickcast::cli::Evaluate(eval_args);
    if (*forecast) return brickcast::cli::Forecast(forecast_args);
    if (*faults) return brickcast::cli::EvaluateFaults(faults_args);
    if (*token) return brickcast::cli::Token(token_args);
    if (*broker) return brickcast::cli::Broker(broker_args);
    if (*replay) {
      if (max_speed) replay_args.speed = 0;
      return brickcast::cli::Replay(replay_args);
    }
    return brickcast::cli::Version();
  } catch (const std::exception& e) {
    // Last resort: modules return Status; reaching here is a bug, reported, not a crash.
    std::cerr << "brickcast: fatal: " << e.what() << '\n';
    return 70;
  }
}
