#include "cli/commands.h"
#include "brickcast/notify.h"

#include <signal.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <thread>
#include <nlohmann/json.hpp>
#include <sstream>

#include <thread>

#include "api/tokens.h"
#include "app/replay_support.h"
#include "app/systemd_notify.h"
#include "brick/turtle_reader.h"
#include "serving/forecast_json.h"
#include "brickcast/kafka.h"
#include "brickcast/config.h"
#include "brickcast/csv_converter.h"
#include "brickcast/daemon.h"
#include "brickcast/fault_evaluation.h"
#include "brickcast/rules.h"
#include "brickcast/sha256.h"
#include "brickcast/simulator.h"
#include "brickcast/forecast_service.h"
#include "brickcast/logging.h"
#include "brickcast/offline_forecast.h"
#include "brickcast/point_registry.h"
#include "brickcast/stream_parser.h"
#include "brickcast/training.h"

namespace brickcast::cli {
namespace {

int Fail(const Status& s) {
  std::cerr << "brickcast: " << s.message() << '\n';
  return 1;
}

StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::ostringstream os;
    os << std::cin.rdbuf();
    return os.str();
  }
  return ReadFileToString(path);
}

}  // namespace

int Serve(const std::string& config_path, const std::vector<std::string>& replay_files, double speed) {
  auto config = LoadConfigFile(config_path);
  if (!config.ok()) return Fail(config.status());
  for (const auto& f : replay_files) config->replay.files.push_back(f);
  if (speed >= 0) config->replay.speed = speed;
  if (Status st = SetupLogging(config->log.level, config->log.format); !st.ok()) return Fail(st);

  // Block the signals before any thread starts, then wait for them here (threads inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Daemon daemon(std::move(*config));
  if (Status st = daemon.Start(); !st.ok()) {
    spdlog::error("start failed: {}", st.message());
    return 1;
  }
  systemd::NotifyReady("serving on port " + std::to_string(daemon.http_port()));
  // Wait for a signal; with a systemd watchdog, wake up in time to ping it.
  const auto ping = systemd::WatchdogPingInterval();
  while (true) {
    timespec timeout{};
    if (ping) {
      timeout.tv_sec = static_cast<time_t>(ping->count() / 1000000);
      timeout.tv_nsec = static_cast<long>(ping->count() % 1000000 * 1000);
    } else {
      timeout.tv_sec = 3600;
    }
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig < 0) {  // timeout (or EINTR): the main loop is alive
      if (ping) systemd::PingWatchdog();
      continue;
    }
    if (sig == SIGHUP) {
      // The config file, its rules, Brick models, tokens and the forecast model, all or nothing
      // (the report is logged; GET /api/v1/status keeps it).
      (void)daemon.Reload();
      continue;
    }
    spdlog::info("signal {} received, stopping", sig);
    break;
  }
  systemd::NotifyStopping();
  // A second SIGINT/SIGTERM, or a stop that outlasts its grace (plus a margin), ends the process at
  // once: the alert database and the outbox are transactional, so nothing committed is lost.
  const int64_t grace_s = daemon.config()->shutdown_grace_seconds;
  std::thread([signals, grace_s]() mutable {
    sigdelset(&signals, SIGHUP);
    timespec limit{static_cast<time_t>(grace_s + 5), 0};
    const int again = sigtimedwait(&signals, nullptr, &limit);
    if (again > 0) spdlog::warn("signal {} received again: exiting now", again);
    else spdlog::error("shutdown still running {} s after the signal: exiting now", grace_s + 5);
    spdlog::shutdown();
    _exit(again > 0 ? 130 : 1);
  }).detach();
  daemon.Stop();
  spdlog::info("stopped");
  if (KafkaTeardownsPending() > 0) {  // everything of ours is persisted; librdkafka's threads are not ours
    spdlog::shutdown();
    _exit(0);
  }
  return 0;
}

int CheckConfig(const std::string& config_path, bool reference) {
  if (reference) {
    std::cout << "## Configuration\n\n" << ConfigReference() << "\n## Rule files\n\nA file holds "
              << "{\"rules\": [...]} or a bare array; each rule's keys depend on its kind.\n"
              << RuleReference();
    return 0;
  }
  auto config = LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << '\n';
    return 1;
  }
  // Model files are part of the config: check that they load too.
  auto classes = ClassHierarchy::BuiltIn();
  if (!config->brick.ontology.empty()) {
    if (Status st = classes->LoadOntology(config->brick.ontology); !st.ok()) return Fail(st);
  }
  BrickModel model(classes);
  for (const auto& f : config->brick.models) {
    if (Status st = model.LoadFile(f); !st.ok()) return Fail(st);
  }
  // So is the forecast model: it must load and fit the store (the same checks as at start).
  std::string forecaster = "none";
  if (config->forecast.enabled && !config->forecast.model.empty()) {
    spdlog::set_level(spdlog::level::warn);  // stdout carries the effective config only
    SeriesStore store(SeriesOptionsFromConfig(config->store));
    ForecastService probe(store, ForecastServiceOptions{});
    if (Status st = probe.LoadModel(config->forecast.model); !st.ok()) return Fail(st.WithContext("forecast.model"));
    forecaster = probe.model_identity() + " from " + config->forecast.model;
  }
  // And the rules: they must load, and the report says where each applies and where not.
  auto rules = LoadRules(config->rules);
  if (!rules.ok()) return Fail(rules.status());
  const RuleResolution resolved = ResolveRules(**rules, model);
  // Receivers: each notifier is built as at start (a plugin must load and init), nothing is sent;
  // one that no route names never gets anything, which is worth saying.
  std::set<std::string> routed;
  std::vector<const RouteConfig*> routes{&config->notify.route};
  while (!routes.empty()) {
    const RouteConfig* r = routes.back();
    routes.pop_back();
    routed.insert(r->receiver);
    for (const RouteConfig& c : r->routes) routes.push_back(&c);
  }
  for (const ReceiverConfig& r : config->notify.receivers) {
    auto notifier = MakeNotifier(r, config->notify.plugin_dir);
    if (!notifier.ok()) return Fail(notifier.status());
    if (!routed.count(r.name)) std::cerr << "receiver " << r.name << ": no route names it; it gets nothing\n";
  }
  std::cout << config->effective_json << '\n';
  for (const auto& rule : (*rules)->rules) {
    size_t applies = 0;
    for (const RuleBinding& b : resolved.bindings) applies += b.rule == rule;
    std::cerr << "rule " << rule->id << " (" << RuleKindName(rule->kind) << "): applies to " << applies
              << " equipment";
    for (const RuleNotApplicable& na : resolved.not_applicable) {
      if (na.rule != rule->id) continue;
      std::cerr << "; not applicable " << (na.equipment.empty() ? "anywhere" : "to " + std::string(LocalName(na.equipment)))
                << ": missing ";
      for (size_t i = 0; i < na.missing.size(); ++i) std::cerr << (i ? ", " : "") << na.missing[i];
    }
    std::cerr << '\n';
  }
  std::cerr << config_path << ": ok (" << config->brick.models.size() << " model files, " << model.size()
            << " entities; forecast model " << forecaster << "; " << (*rules)->rules.size() << " rules in "
            << (*rules)->files.size() << " files, " << resolved.bindings.size() << " bindings; "
            << config->notify.receivers.size() << " notification receivers)\n";
  return 0;
}

int Parse(const std::vector<std::string>& files, const std::string& format, const std::string& config_path,
          const std::vector<std::string>& models, bool si) {
  Config config;
  if (!config_path.empty()) {
    auto c = LoadConfigFile(config_path);
    if (!c.ok()) return Fail(c.status());
    config = std::move(*c);
  }
  auto fmt = ParseStreamFormat(format);
  if (!fmt.ok()) return Fail(fmt.status());
  StreamParserOptions options = ParserOptionsFromConfig(config);
  options.format = *fmt;
  StreamParser parser(options);

  auto classes = ClassHierarchy::BuiltIn();
  if (!config.brick.ontology.empty()) {
    if (Status st = classes->LoadOntology(config.brick.ontology); !st.ok()) return Fail(st);
  }
  BrickModel model(classes);
  std::vector<std::string> all_models = config.brick.models;
  all_models.insert(all_models.end(), models.begin(), models.end());
  for (const auto& f : all_models) {
    if (Status st = model.LoadFile(f); !st.ok()) return Fail(st);
  }
  PointRegistry registry(classes);
  registry.LoadModel(model);

  size_t failed = 0, messages = 0;
  std::string line;
  for (const std::string& file : files) {
    auto text = ReadInput(file);
    if (!text.ok()) return Fail(text.status());
    // Message numbers count from 1 within each file.
    size_t index = 0;
    for (std::string_view msg : SplitMessages(*text)) {
      ++index;
      ++messages;
      const std::string source = (file == "-" ? std::string("stdin") : file) + "#" + std::to_string(index);
      ParseResult r = parser.Parse(msg, source);
      for (const PointMetadata& m : r.metadata) registry.Apply(m);
      bool bad = r.message_failed;
      for (Observation& o : r.observations) {
        IngestError err;
        if (si && !registry.Normalize(&o, &err)) {
          r.errors.push_back(err);
          continue;
        }
        nlohmann::json j{{"point", o.point}, {"time", FormatIsoUtc(o.time)}, {"value", o.value}};
        if (!o.unit.empty()) j["unit"] = o.unit;
        if (!o.si_unit.empty()) j["si_unit"] = o.si_unit;
        std::cout << j.dump() << '\n';
      }
      for (const IngestError& e : r.errors) {
        bad = true;
        std::cerr << source << ": " << e.ToString() << '\n';
      }
      failed += bad;
    }
  }
  std::cout.flush();
  if (failed > 0) std::cerr << failed << " of " << messages << " messages had errors\n";
  return failed > 0 ? 1 : 0;
}

int Convert(const std::string& mapping_path, const std::string& csv_path, const std::string& out_path,
            const std::string& format_override) {
  auto mapping = LoadCsvMapping(mapping_path);
  if (!mapping.ok()) return Fail(mapping.status());
  if (!format_override.empty()) {
    auto f = ParseStreamFormat(format_override);
    if (!f.ok() || *f == StreamFormat::kAuto) return Fail(Status::InvalidArgument("--format must be lkv, sosa or wide"));
    mapping->format = *f;
  }
  std::ifstream csv(csv_path, std::ios::binary);
  if (!csv) return Fail(Status::NotFound("cannot open " + csv_path));
  std::ofstream file;
  if (out_path != "-") {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) return Fail(Status::Unavailable("cannot write " + out_path));
  }
  std::ostream& out = out_path == "-" ? std::cout : file;
  ConvertStats stats;
  bool first = true;
  Status st = ConvertCsv(*mapping, csv, [&](ConvertedMessage&& m) {
    if (!first) out << kMessageSeparator << '\n';
    first = false;
    out << m.ttl;
  }, &stats);
  if (!st.ok()) return Fail(st);
  out.flush();
  for (const auto& e : stats.errors) std::cerr << csv_path << ": " << e << '\n';
  std::cerr << "converted rows=" << stats.rows << " messages=" << stats.messages << " values=" << stats.values
            << " empty_cells=" << stats.empty_cells << " bad_cells=" << stats.bad_cells
            << " bad_rows=" << stats.bad_rows << '\n';
  return stats.bad_rows > 0 ? 1 : 0;
}

int Replay(const ReplayArgs& args) {
  Config config;
  if (!args.config.empty()) {
    auto c = LoadConfigFile(args.config);
    if (!c.ok()) return Fail(c.status());
    config = std::move(*c);
  }
  if (Status st = SetupLogging("warn"); !st.ok()) return Fail(st);
  auto producer = KafkaProducer::Create(KafkaClientOptions{args.brokers, config.kafka.properties});
  if (!producer.ok()) return Fail(producer.status());
  StreamParser parser(ParserOptionsFromConfig(config));
  // The config's Brick models let the key be the air-handling system (an AHU and what it feeds).
  auto classes = ClassHierarchy::BuiltIn();
  if (!config.brick.ontology.empty()) {
    if (Status st = classes->LoadOntology(config.brick.ontology); !st.ok()) return Fail(st);
  }
  BrickModel model(classes);
  for (const auto& f : config.brick.models) {
    if (Status st = model.LoadFile(f); !st.ok()) return Fail(st);
  }
  MessageKeyer keyer(parser, &model);
  Pacer pacer(args.speed);
  std::unique_ptr<GroupLagProbe> lag_probe;
  if (!args.group.empty()) {
    auto probe = GroupLagProbe::Create(KafkaClientOptions{args.brokers, config.kafka.properties}, args.group, args.topic);
    if (!probe.ok()) return Fail(probe.status());
    lag_probe = std::move(*probe);
  }
  size_t sent = 0;
  Status failure;
  // With --group: before every batch of max_lag/4 messages, wait until no partition of the group
  // is more than max_lag messages behind, so a capped log never drops what the group has not read.
  const size_t check_every = static_cast<size_t>(std::max<int64_t>(1, args.max_lag / 4));
  auto wait_for_group = [&]() {
    if (!lag_probe || sent % check_every != 0) return;
    (void)(*producer)->Flush(std::chrono::seconds(10));
    auto last_report = std::chrono::steady_clock::now();
    while (true) {
      auto lag = lag_probe->Lag();
      if (!lag.ok()) {
        if (failure.ok()) failure = lag.status();
        return;
      }
      int64_t worst = 0;
      for (const auto& [p, n] : *lag) worst = std::max(worst, n);
      if (worst + static_cast<int64_t>(check_every) <= args.max_lag) return;
      if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
        std::cerr << "replay: waiting for group " << args.group << " (" << worst << " messages behind)\n";
        last_report = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  auto publish = [&](const std::string& key, UnixMillis time, std::string_view ttl) {
    const Pacer::Decision d = pacer.Due(time, std::chrono::steady_clock::now());
    if (d.jumped) std::cerr << "replay: data time jumps " << d.gap / 86400000 << " days; not waited for\n";
    if (d.due) std::this_thread::sleep_until(*d.due);
    wait_for_group();
    Status st = (*producer)->Produce(args.topic, key, ttl);
    if (!st.ok() && failure.ok()) failure = st;
    ++sent;
  };
  std::optional<CsvMapping> mapping;
  if (!args.mapping.empty()) {
    auto m = LoadCsvMapping(args.mapping);
    if (!m.ok()) return Fail(m.status());
    mapping = std::move(*m);
  }
  for (const std::string& file : args.files) {
    if (mapping) {
      std::ifstream csv_file;
      if (file != "-") {
        csv_file.open(file, std::ios::binary);
        if (!csv_file) return Fail(Status::NotFound("cannot open " + file));
      }
      std::istream& in = file == "-" ? std::cin : csv_file;
      ConvertStats stats;
      Status st = ConvertCsv(*mapping, in, [&](ConvertedMessage&& m) { publish(keyer.KeyOf(m.key), m.time, m.ttl); }, &stats);
      if (!st.ok()) return Fail(st);
      for (const auto& e : stats.errors) std::cerr << file << ": " << e << '\n';
    } else {
      auto text = ReadInput(file);
      if (!text.ok()) return Fail(text.status());
      for (std::string_view msg : SplitMessages(*text)) {
        const MessageSummary s = keyer.Summarize(msg);
        publish(s.key, s.time, msg);
      }
    }
    if (!failure.ok()) break;
  }
  Status flushed = (*producer)->Flush(std::chrono::seconds(30));
  std::cerr << "replay: published " << (*producer)->delivered() << " of " << sent << " messages to " << args.topic
            << '\n';
  if (!failure.ok()) return Fail(failure);
  if (!flushed.ok()) return Fail(flushed);
  return 0;
}

int Broker(const BrokerArgs& args) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the broker's threads start
  auto broker = EmbeddedBroker::Start(args.brokers, args.topics, args.partitions);
  if (!broker.ok()) return Fail(broker.status());
  const std::string& bootstrap = (*broker)->bootstrap();
  if (!args.address_file.empty()) {
    // Written whole, then renamed: a reader never sees half an address.
    const std::string tmp = args.address_file + ".tmp";
    std::ofstream(tmp) << bootstrap << '\n';
    if (std::rename(tmp.c_str(), args.address_file.c_str()) != 0)
      return Fail(Status::Unavailable("cannot write " + args.address_file));
  }
  std::cout << "kafka broker listening on " << bootstrap << " (" << args.partitions << " partitions per topic; "
            << "in memory, at most 5 MiB per partition)" << std::endl;
  // An outage drill: SIGUSR1 takes every broker down (connections closed, new ones refused, the
  // logs kept), SIGUSR2 brings them back.
  auto set_all = [&](bool up) {
    for (int id = 1; id <= args.brokers; ++id) {
      Status st = up ? (*broker)->SetBrokerUp(id) : (*broker)->SetBrokerDown(id);
      if (!st.ok()) std::cerr << "broker " << id << ": " << st.message() << '\n';
    }
    std::cout << "kafka broker " << (up ? "up" : "down") << std::endl;
  };
  int sig = -1;
  while (sig != SIGINT && sig != SIGTERM) {
    sig = sigwaitinfo(&signals, nullptr);
    if (sig == SIGUSR1 || sig == SIGUSR2) set_all(sig == SIGUSR2);
  }
  std::cout << "kafka broker stopping" << std::endl;
  return 0;
}

int Simulate(const SimulateArgs& args) {
  SimulatorOptions o;
  if (!args.start.empty()) {
    auto start = ParseIsoDateTime(args.start, TimeZone::Utc());
    if (!start.ok()) return Fail(Status::InvalidArgument("--start: " + start.status().message()));
    o.start = *start;
  }
  if (!(args.days > 0) || args.days > 3660) return Fail(Status::InvalidArgument("--days must be in (0, 3660]"));
  if (args.sample_seconds < 1 || args.sample_seconds > 3600)
    return Fail(Status::InvalidArgument("--sample-seconds must be in [1, 3600]"));
  if (args.zones < 1 || args.zones > 20) return Fail(Status::InvalidArgument("--zones must be in [1, 20]"));
  o.duration_ms = static_cast<int64_t>(args.days * 86'400'000.0);
  o.sample_ms = static_cast<int64_t>(args.sample_seconds) * 1000;
  o.zones = args.zones;
  o.seed = args.seed;
  if (args.scenario == "demo") {
    o.faults = DemoScenario();
  } else if (args.scenario != "none") {
    return Fail(Status::InvalidArgument("--scenario is 'demo' or 'none'"));
  }
  for (const std::string& spec : args.faults) {
    auto f = ParseSimFault(spec);
    if (!f.ok()) return Fail(f.status());
    o.faults.push_back(std::move(*f));
  }
  AhuSimulator sim(o);
  if (!args.model_out.empty()) {
    std::ofstream model(args.model_out, std::ios::binary);
    model << sim.BrickModel();
    if (!model.flush()) return Fail(Status::Internal("cannot write " + args.model_out));
  }
  for (const SimFault& f : sim.options().faults)
    std::cerr << "simulate: fault " << f.spec << " from " << FormatIsoUtc(sim.options().start + f.from_ms)
              << (f.to_ms == INT64_MAX ? std::string() : " to " + FormatIsoUtc(sim.options().start + f.to_ms)) << '\n';
  // To Kafka (paced like `replay`, keyed by the AHU) or to a message file.
  std::unique_ptr<KafkaProducer> producer;
  if (!args.brokers.empty()) {
    auto p = KafkaProducer::Create(KafkaClientOptions{args.brokers, {}});
    if (!p.ok()) return Fail(p.status());
    producer = std::move(*p);
  }
  std::ofstream file;
  if (!producer && args.out != "-") {
    file.open(args.out, std::ios::binary);
    if (!file) return Fail(Status::NotFound("cannot write " + args.out));
  }
  std::ostream& out = producer || args.out == "-" ? std::cout : file;
  Pacer pacer(args.speed);
  UnixMillis t = 0;
  std::vector<SimReading> readings;
  size_t messages = 0;
  Status failure;
  while (sim.Next(&t, &readings)) {
    const std::string ttl = sim.Message(t, readings, (t - sim.options().start) % 3'600'000 < o.sample_ms);
    if (producer) {
      const Pacer::Decision d = pacer.Due(t, std::chrono::steady_clock::now());
      if (d.due) std::this_thread::sleep_until(*d.due);
      if (Status st = producer->Produce(args.topic, sim.AhuIri(), ttl); !st.ok() && failure.ok()) failure = st;
    } else {
      out << kMessageSeparator << '\n' << ttl;
    }
    ++messages;
  }
  if (producer) {
    if (Status st = producer->Flush(std::chrono::seconds(30)); !st.ok() && failure.ok()) failure = st;
    std::cerr << "simulate: published " << producer->delivered() << " of " << messages << " messages to " << args.topic
              << '\n';
  } else {
    out.flush();
    if (!out) return Fail(Status::Internal("cannot write " + args.out));
    std::cerr << "simulate: wrote " << messages << " messages" << (args.out == "-" ? "" : " to " + args.out) << '\n';
  }
  return failure.ok() ? 0 : Fail(failure);
}

namespace {

// Expands directories to their *.csv files (sorted) and loads every input.
StatusOr<std::vector<SeriesTable>> LoadData(const DataArgs& args, const std::vector<std::string>& columns,
                                            int64_t step_seconds) {
  if (!args.mappings.empty() && args.mappings.size() != 1 && args.mappings.size() != args.paths.size())
    return Status::InvalidArgument("give one --mapping, or one per --data");
  std::vector<SeriesTable> tables;
  for (size_t i = 0; i < args.paths.size(); ++i) {
    std::vector<std::string> files;
    std::error_code ec;
    if (std::filesystem::is_directory(args.paths[i], ec)) {
      for (const auto& e : std::filesystem::directory_iterator(args.paths[i], ec))
        if (e.path().extension() == ".csv") files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      if (files.empty()) return Status::NotFound(args.paths[i] + ": no .csv files");
    } else {
      files.push_back(args.paths[i]);
    }
    for (const auto& f : files) {
      if (args.mappings.empty()) {
        auto t = LoadSeriesCsv(f, columns);
        if (!t.ok()) return t.status();
        tables.push_back(std::move(*t));
        continue;
      }
      const std::string& mapping = args.mappings.size() == 1 ? args.mappings[0] : args.mappings[i];
      MappedLoadStats stats;
      auto series = LoadMappedSeries(f, mapping, step_seconds, &stats);
      if (!series.ok()) return series.status();
      std::cerr << f << ": " << stats.rows << " rows, " << series->size() << " points, " << stats.values << " values ("
                << stats.rejected << " rejected, " << stats.bad_cells << " bad cells) at a " << step_seconds << " s step\n";
      for (auto& s : *series) tables.push_back(std::move(s));
    }
  }
  return tables;
}

std::string DataName(const DataArgs& args) {
  std::string name;
  for (const auto& p : args.paths) name += (name.empty() ? "" : " ") + p;
  for (const auto& m : args.mappings) name += " mapping " + m;
  return name;
}

std::atomic<bool> g_interrupted{false};

}  // namespace

int Train(const TrainArgs& args) {
  auto options = LoadTrainOptions(args.config);
  if (!options.ok()) return Fail(options.status());
  if (args.threads > 0) options->threads = args.threads;
  if (!args.data.mappings.empty() && options->step_seconds <= 0)
    return Fail(Status::InvalidArgument(args.config + ": mapped HVAC data needs step_seconds"));
  auto tables = LoadData(args.data, options->columns, options->step_seconds);
  if (!tables.ok()) return Fail(tables.status());
  size_t rows = 0;
  for (const auto& t : *tables) rows += t.rows();
  std::cerr << "train: " << tables->size() << " series, " << rows << " rows x " << (*tables)[0].channels.size()
            << " channels\n";
  options->checkpoint = args.out + ".ckpt";
  options->resume = args.resume;
  // Ctrl-C / SIGTERM: stop between batches; the checkpoint of the last whole epoch stays.
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto model = TrainTimeMixer(*tables, DataName(args.data), *options,
                              [](const std::string& line) { std::cerr << line << '\n'; }, &g_interrupted);
  if (!model.ok()) {
    if (model.status().code() == StatusCode::kCancelled)
      std::cerr << "interrupted; continue with the same command and --resume (checkpoint " << options->checkpoint << ")\n";
    return Fail(model.status());
  }
  {
    auto training = nlohmann::json::parse((*model)->metadata().training);
    std::cerr << "best epoch " << training["best_epoch"] << " (selected on " << options->select_by << " loss, "
              << training["stopped_by"].get<std::string>() << ")\n";
  }
  EvalOptions eo;
  eo.split = options->split;
  auto test = EvaluateTimeMixer(**model, *tables, eo);
  if (test.ok()) {
    auto metrics = nlohmann::json::parse((*model)->metadata().metrics);
    metrics["test_mse"] = test->mse;
    metrics["test_mae"] = test->mae;
    if (std::isfinite(test->mse_units)) {
      metrics["test_mse_units"] = test->mse_units;
      metrics["test_mae_units"] = test->mae_units;
    }
    (*model)->mutable_metadata().metrics = metrics.dump();
    std::fprintf(stderr, "test (scaled): mse %.4f  mae %.4f  over %zu windows\n", test->mse, test->mae, test->windows);
  }
  if (Status st = (*model)->Save(args.out); !st.ok()) return Fail(st);
  std::remove(options->checkpoint.c_str());
  std::cerr << "model written to " << args.out << " (" << (*model)->NumParameters() << " parameters, sha256 "
            << (*model)->metadata().content_hash.substr(0, 12) << "...)\n";
  return 0;
}

int Evaluate(const EvaluateArgs& args) {
  auto model = TimeMixerModel::Load(args.model);
  if (!model.ok()) return Fail(model.status());
  const ModelMetadata& md = (*model)->metadata();
  auto training = nlohmann::json::parse(md.training, nullptr, false);
  EvalOptions eo;
  eo.split = args.split;
  if (eo.split.empty()) eo.split = training.is_object() ? training.value("split", "ratio") : "ratio";
  eo.drop_last_batch = args.drop_last;
  const bool per_series = training.is_object() && training.value("scaler", "") == "per_series";
  auto tables = LoadData(args.data, per_series ? std::vector<std::string>{} : md.channels, md.step_seconds);
  if (!tables.ok()) return Fail(tables.status());
  auto r = EvaluateTimeMixer(**model, *tables, eo);
  if (!r.ok()) return Fail(r.status());
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  if (args.json) {
    nlohmann::json j{{"model", args.model}, {"data", DataName(args.data)}, {"split", eo.split}, {"windows", r->windows},
                     {"mse", r->mse}, {"mae", r->mae}, {"mse_units", number(r->mse_units)},
                     {"mae_units", number(r->mae_units)}, {"mse_by_horizon_quarter", r->mse_by_horizon},
                     {"persistence", {{"mse", r->persistence_mse}, {"mae", r->persistence_mae}}},
                     {"seasonal_naive", {{"mse", r->seasonal_mse}, {"mae", r->seasonal_mae},
                                         {"fallback_steps", r->seasonal_fallback_steps}}}};
    j["channels"] = nlohmann::json::object();
    for (const auto& c : r->channels)
      j["channels"][c.name] = {{"windows", c.windows}, {"mse", c.mse}, {"mae", c.mae}, {"mae_units", c.mae_units},
                               {"persistence_mae_units", c.persistence_mae_units},
                               {"seasonal_naive_mae_units", c.seasonal_mae_units}, {"unit", c.unit}};
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::printf("model %s, %s split, %zu test windows\n", args.model.c_str(), eo.split.c_str(), r->windows);
  std::printf("%-40s %10s %10s %12s %12s %12s\n", "", "MSE", "MAE", "MAE (units)", "persistence", "seasonal");
  std::printf("%-40s %10.4f %10.4f\n", "all (scaled, as the paper)", r->mse, r->mae);
  std::printf("%-40s %10.4f %10.4f\n", "persistence (last value), same windows", r->persistence_mse, r->persistence_mae);
  std::printf("%-40s %10.4f %10.4f\n", "seasonal naive (a day before), same", r->seasonal_mse, r->seasonal_mae);
  if (r->seasonal_fallback_steps > 0)
    std::printf("  (seasonal naive: %zu of %zu forecast steps had no value a day before and took the last value)\n",
                r->seasonal_fallback_steps, r->windows * static_cast<size_t>((*model)->config().pred_len));
  if (std::isfinite(r->mse_units)) std::printf("%-40s %10.4f %10.4f\n", "all (data units)", r->mse_units, r->mae_units);
  const int h = (*model)->config().pred_len;
  for (size_t q = 0; q < r->mse_by_horizon.size(); ++q) {
    char label[64];
    std::snprintf(label, sizeof label, "horizon steps %d-%d", static_cast<int>(h * q / 4) + 1, static_cast<int>(h * (q + 1) / 4));
    std::printf("%-40s %10.4f\n", label, r->mse_by_horizon[q]);
  }
  for (const auto& c : r->channels) {
    std::string name = c.name.size() > 40 ? "..." + c.name.substr(c.name.size() - 37) : c.name;
    std::printf("%-40s %10.4f %10.4f %12.4f %12.4f %12.4f %s\n", name.c_str(), c.mse, c.mae, c.mae_units,
                c.persistence_mae_units, c.seasonal_mae_units, c.unit.c_str());
  }
  return 0;
}

int EvaluateFaults(const FaultsArgs& args) {
  FaultEvaluationOptions o;
  if (!args.config.empty()) {
    auto c = LoadConfigFile(args.config);
    if (!c.ok()) return Fail(c.status());
    o.config = std::move(*c);
  }
  // A command, not a daemon: the pipeline's info lines would drown the report.
  if (Status st = SetupLogging(o.config.log.level == "info" ? "warn" : o.config.log.level); !st.ok()) return Fail(st);
  o.data = args.data;
  o.mapping = args.mapping;
  o.brick_models = args.models;
  o.rules = args.rules.empty() ? std::vector<std::string>{DefaultRulesDir()} : args.rules;
  o.forecast_model = args.forecast_model == "none"      ? ""
                     : args.forecast_model == "default" ? DefaultModelPath()
                                                        : args.forecast_model;
  o.forecast_all_points = args.forecast_all_points;
  auto r = EvaluateFaults(o);
  if (!r.ok()) return Fail(r.status());
  if (args.json) {
    nlohmann::json days = nlohmann::json::array();
    for (const DayResult& d : r->days) {
      nlohmann::json alerts = nlohmann::json::array();
      for (const FiredAlert& a : d.alerts)
        alerts.push_back({{"rule", a.rule}, {"kind", a.kind}, {"severity", a.severity}, {"predicted", a.predicted},
                          {"time", FormatIsoUtc(a.time)}, {"local_time", a.local_time}, {"equipment", a.equipment},
                          {"summary", a.summary},
                          {"lead_minutes", a.realised_at != 0 ? nlohmann::json((a.realised_at - a.time) / 60'000)
                                                              : nlohmann::json()}});
      days.push_back({{"date", d.date},
                      {"label", d.label < 0 ? nlohmann::json() : nlohmann::json(d.label)},
                      {"alarmed", d.alarmed()},
                      {"alerts", alerts}});
    }
    nlohmann::json points = nlohmann::json::object();
    std::vector<std::pair<std::string, PointAccuracy>> classes;
    for (const auto& [point, f] : r->forecast_points) {
      points[point] = AccuracyToJson(f.accuracy);  // the API's per-point `accuracy`, plus the source served
      points[point]["served"] = f.served;
      classes.emplace_back(f.brick_class, f.accuracy);
    }
    std::cout << nlohmann::json{{"fault_days", r->fault_days},
                                {"detected", r->detected},
                                {"fault_free_days", r->fault_free_days},
                                {"alarmed", r->alarmed},
                                {"median_first_alert", r->median_first_alert.empty() ? nlohmann::json()
                                                                                    : nlohmann::json(r->median_first_alert)},
                                {"detected_by_kind", r->detected_by_kind},
                                {"predicted", {{"fired", r->predicted_fired},
                                               {"realised", r->predicted_realised},
                                               {"median_lead_minutes", std::isnan(r->median_lead_minutes)
                                                                           ? nlohmann::json()
                                                                           : nlohmann::json(r->median_lead_minutes)}}},
                                {"forecast", {{"model", r->forecast.model.empty() ? "seasonal_naive" : r->forecast.model},
                                              {"points_forecast", r->forecast_all_points ? "all" : "read_by_rules"},
                                              {"mae", NumberOrNull(r->forecast.mae)},
                                              {"persistence_mae", NumberOrNull(r->forecast.persistence_mae)},
                                              {"seasonal_naive_mae", NumberOrNull(r->forecast.seasonal_naive_mae)},
                                              {"quarters", QuartersToJson(r->forecast.quarters)},
                                              {"persistence_quarters", QuartersToJson(r->forecast.persistence_quarters)},
                                              {"seasonal_naive_quarters", QuartersToJson(r->forecast.seasonal_quarters)},
                                              {"points", points},
                                              {"by_class", SharpnessByClass(classes)}}},
                                {"messages", r->messages},
                                {"rules", r->rules},
                                {"bindings", r->bindings},
                                {"days", days}}
                     .dump(2)
              << '\n';
    return 0;
  }
  std::cout << "day (local) label       alerts that started firing (warning, critical), local time\n";
  for (const DayResult& d : r->days) {
    std::cout << d.date << "  " << (d.label == 1 ? "fault     " : d.label == 0 ? "fault-free" : "unlabelled") << "  ";
    if (d.alerts.empty()) std::cout << "-";
    for (size_t i = 0; i < d.alerts.size() && i < 4; ++i)
      std::cout << (i ? ", " : "") << d.alerts[i].rule << " " << d.alerts[i].local_time
                << (!d.alerts[i].predicted           ? ""
                    : d.alerts[i].realised_at != 0 ? " (predicted, lead " +
                                                         std::to_string((d.alerts[i].realised_at - d.alerts[i].time) / 60'000) +
                                                         " min)"
                                                   : " (predicted)");
    if (d.alerts.size() > 4) std::cout << ", +" << d.alerts.size() - 4 << " more";
    std::cout << '\n';
  }
  std::cout << "fault days detected: " << r->detected << "/" << r->fault_days << "; fault-free days alarmed: "
            << r->alarmed << "/" << r->fault_free_days << "; median first alert: "
            << (r->median_first_alert.empty() ? "-" : r->median_first_alert + " local") << "\n";
  for (const auto& [kind, n] : r->detected_by_kind) std::cout << "  fault days caught by " << kind << ": " << n << '\n';
  if (r->predicted_fired > 0) {
    std::cout << "  predicted alerts: " << r->predicted_fired << " fired, " << r->predicted_realised
              << " followed by the measured crossing";
    if (!std::isnan(r->median_lead_minutes))
      std::cout << ", median lead " << static_cast<int64_t>(r->median_lead_minutes) << " min";
    std::cout << '\n';
  }
  const size_t forecast_count = r->forecast_points.size();
  std::cout << "forecasts (" << (r->forecast_all_points ? "every point: " : "the points the rules read: ") << forecast_count
            << (forecast_count == 1 ? " point" : " points")
            << (r->forecast_all_points ? "" : "; --forecast-all-points for every point") << "): MAE " << r->forecast.mae << " (persistence " << r->forecast.persistence_mae
            << ", seasonal naive " << r->forecast.seasonal_naive_mae << "); 90 % interval coverage / mean width by horizon quarter:";
  for (const IntervalQuarter& q : r->forecast.quarters) std::cout << " " << q.coverage << "/" << q.mean_width;
  std::cout << "; around persistence:";
  for (const IntervalQuarter& q : r->forecast.persistence_quarters) std::cout << " " << q.coverage << "/" << q.mean_width;
  std::cout << "; around seasonal naive:";
  for (const IntervalQuarter& q : r->forecast.seasonal_quarters) std::cout << " " << q.coverage << "/" << q.mean_width;
  std::cout << '\n';
  std::cout << "per point (model | persistence | seasonal naive): MAE; 90 % interval coverage by horizon quarter; "
               "mean width in the last quarter\n";
  auto coverages = [](const IntervalQuarters& qs) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(3);
    for (const IntervalQuarter& q : qs) out << " " << q.coverage;
    return out.str();
  };
  for (const auto& [point, f] : r->forecast_points) {
    const PointAccuracy& a = f.accuracy;
    std::cout << "  " << std::left << std::setw(20) << point.substr(point.find_last_of("#/:") + 1) << " served "
              << std::setw(15) << f.served << std::right << std::fixed << std::setprecision(3) << a.mae << " | "
              << a.persistence_mae << " | " << a.seasonal_naive_mae << ";" << coverages(a.quarters) << " |"
              << coverages(a.persistence_quarters) << " |" << coverages(a.seasonal_quarters) << ";" << std::setprecision(2)
              << " " << a.quarters.back().mean_width << " | " << a.persistence_quarters.back().mean_width << " | "
              << a.seasonal_quarters.back().mean_width << std::defaultfloat << std::setprecision(6) << '\n';
  }
  std::cout << "per point class (sharpness; model | persistence | seasonal naive), over the same scored steps: "
               "MAE; interval coverage; mean width\n";
  std::vector<std::pair<std::string, PointAccuracy>> classes;
  for (const auto& [point, f] : r->forecast_points) classes.emplace_back(f.brick_class, f.accuracy);
  auto number = [](const nlohmann::json& v, int precision) {
    if (!v.is_number()) return std::string("-");
    std::ostringstream out;
    out << std::fixed << std::setprecision(precision) << v.get<double>();
    return out.str();
  };
  for (const nlohmann::json& c : SharpnessByClass(classes)) {
    std::cout << "  " << std::left << std::setw(40) << c["class"].get<std::string>() << std::right << " "
              << c["points"].get<size_t>() << " points; " << number(c["mean_abs_error"], 3) << " | "
              << number(c["persistence_mean_abs_error"], 3) << " | " << number(c["seasonal_naive_mean_abs_error"], 3)
              << "; "
              << number(c["coverage"], 3) << " | " << number(c["persistence_coverage"], 3) << " | "
              << number(c["seasonal_naive_coverage"], 3) << "; " << number(c["mean_width"], 2) << " | "
              << number(c["persistence_mean_width"], 2) << " | " << number(c["seasonal_naive_mean_width"], 2) << '\n';
  }
  std::cout << r->rules << " rules, " << r->bindings << " bindings, " << r->messages << " messages\n";
  return 0;
}

int Forecast(const ForecastArgs& args) {
  if (args.format != "csv" && args.format != "json") return Fail(Status::InvalidArgument("--format must be csv or json"));
  OfflineForecastOptions o;
  if (!args.config.empty()) {
    auto c = LoadConfigFile(args.config);
    if (!c.ok()) return Fail(c.status());
    o.config = std::move(*c);
  } else {
    o.config.forecast.model = DefaultModelPath();
  }
  if (!args.model.empty()) {
    o.config.forecast.model = args.model == "none" ? "" : args.model == "default" ? DefaultModelPath() : args.model;
  }
  // A command, not a daemon: the service's info lines (model loaded, ...) would drown the summary.
  if (Status st = SetupLogging(o.config.log.level == "info" ? "warn" : o.config.log.level); !st.ok()) return Fail(st);
  o.mapping = args.mapping;
  o.files = args.files;
  o.backtest_steps = args.backtest_steps;
  auto r = RunOfflineForecast(o);
  if (!r.ok()) return Fail(r.status());

  std::ofstream file;
  if (args.out != "-") {
    file.open(args.out, std::ios::trunc);
    if (!file) return Fail(Status::Unavailable("cannot write " + args.out));
  }
  std::ostream& out = args.out == "-" ? std::cout : file;
  if (args.format == "json") {
    nlohmann::json points = nlohmann::json::array();
    for (const OfflineForecast& p : r->points) {
      nlohmann::json j = ForecastToJson(p.forecast);
      j["unit"] = p.si_unit;
      points.push_back(std::move(j));
    }
    out << nlohmann::json{{"data_end", FormatIsoUtc(r->data_end)}, {"messages", r->messages},
                          {"forecasts", points}}.dump(2)
        << '\n';
  } else {
    auto num = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string(); };
    out << "point,unit,step,time,value,lower,upper,status,model,fallback,interval_source\n";
    for (const OfflineForecast& p : r->points) {
      const PointForecast& f = p.forecast;
      for (size_t i = 0; i < f.steps.size(); ++i) {
        const ForecastStep& st = f.steps[i];
        out << f.point << ',' << p.si_unit << ',' << i + 1 << ',' << FormatIsoUtc(st.time) << ',' << num(st.value)
            << ',' << num(st.lower) << ',' << num(st.upper) << ',' << ForecastStatusName(f.status) << ','
            << f.model << ',' << (f.fallback ? "true" : "false") << ',' << IntervalSourceName(f.interval_source)
            << '\n';
      }
      if (f.steps.empty())
        out << f.point << ',' << p.si_unit << ",,,,,," << ForecastStatusName(f.status) << ',' << f.model << ",,\n";
    }
  }
  out.flush();
  // A summary for the person at the terminal, on stderr: how the model did on this history.
  for (const OfflineForecast& p : r->points) {
    const PointAccuracy& a = p.forecast.accuracy;
    std::fprintf(stderr, "%-60s %-18s residuals %5llu  mae %9.4f  persistence %9.4f  coverage %5.3f\n",
                 p.forecast.point.c_str(), ForecastStatusName(p.forecast.status), static_cast<unsigned long long>(a.residuals),
                 a.mae, a.persistence_mae, a.interval_coverage);
  }
  std::cerr << "forecast: " << r->points.size() << " points from " << r->messages << " messages, data until "
            << FormatIsoUtc(r->data_end) << " (" << r->ingest.rejected << " observations rejected)\n";
  return r->points.empty() ? 1 : 0;
}

int Token(const TokenArgs& args) {
  const std::string token = NewToken();
  const nlohmann::json entry{{"name", args.name}, {"scope", args.scope}, {"sha256", Sha256Hex(token)}};
  if (!args.add_to.empty()) {
    nlohmann::json all = nlohmann::json::array();
    if (std::filesystem::exists(args.add_to)) {
      std::ifstream in(args.add_to);
      std::stringstream text;
      text << in.rdbuf();
      auto existing = ParseTokensFile(text.str());
      if (!existing.ok()) {
        std::cerr << "brickcast token: " << args.add_to << ": " << existing.status().message() << '\n';
        return 1;
      }
      all = nlohmann::json::parse(text.str());
      for (const auto& t : all) {
        if (t.value("name", "") == args.name) {
          std::cerr << "brickcast token: " << args.add_to << " already has a token named '" << args.name
                    << "' (remove it first to replace it)\n";
          return 1;
        }
      }
    }
    all.push_back(entry);
    // Written whole and renamed: the daemon re-reading it never sees half a file.
    const std::string tmp = args.add_to + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << all.dump(2) << '\n';
      if (!out) {
        std::cerr << "brickcast token: cannot write " << tmp << '\n';
        return 1;
      }
    }
    std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::rename(tmp, args.add_to);
  }
  std::cout << "token: " << token << "\n"
            << "  Give it to the client (Authorization: Bearer <token>); brickcast keeps only its hash.\n"
            << "entry: " << entry.dump() << '\n'
            << (args.add_to.empty() ? "  Add the entry to http.tokens_file (or to http.tokens).\n"
                                    : "  Added to " + args.add_to + "; a running daemon picks it up within a second.\n");
  return 0;
}

int Version() {
  std::cout << "brickcast " << BRICKCAST_VERSION << '\n';
  return 0;
}

}  // namespace brickcast::cli
