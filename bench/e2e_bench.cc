// End to end (issue 17): the whole daemon in this process (Kafka consumer, ingest, store, forecasts
// with the shipped model, the shipped rules plus one bench rule, alerts in SQLite, notifications to
// a webhook served here), fed through a Kafka-protocol broker in a process of its own (`brickcast
// broker`, so the broker's 5 MiB logs are not counted in the daemon's memory), as a site feeds it.
//
//  1. History: `--history` steps of every air handler as fast as the daemon takes them, so the
//     forecasts have their input window. Ingest throughput here is set next to its reference in
//     the same run: parsing the same messages alone, on one thread (Serd through StreamParser).
//  2. Live: each air handler sends one message per step, paced at `--rate` x the nominal rate
//     (1,000 air handlers x 10 points once a minute = 10,000 points per minute), for `--minutes`.
//     Every message flips its unit's supply air temperature above or below the bench rule's
//     limit, so every message closes a step that changes an alert; the webhook stamps each
//     notification when it arrives. Latency = webhook arrival - the moment the message that
//     closed the step was handed to Kafka, i.e. observation arrival -> alert -> notification
//     enqueued -> dispatched -> received (an upper bound of the "enqueued" figure; no `for` time,
//     group_wait 0).
//  3. Memory: process RSS before the daemon starts, after the history and at every minute.
//
// Run: build/bench/e2e_bench [--ahus 1000] [--minutes 3] [--rate 1] [--history 100] [--model PATH|none]
// Soak (issue 17): build/bench/e2e_bench --minutes 60 --rate 10 --fetch-wait-ms 50   (RSS every minute)
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "bench_site.h"
#include "brickcast/config.h"
#include "brickcast/daemon.h"
#include "brickcast/forecaster.h"
#include "brickcast/kafka.h"
#include "brickcast/process_memory.h"
#include "brickcast/stream_parser.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'790'000'000'000 / kStep * kStep;
const char* kTopic = "brickcast.observations";

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Resident set, heap in use (all arenas) and SQLite's own count: set next to each other, they tell
// a growing heap from pages the allocator keeps.
constexpr double kMiB = 1024.0 * 1024.0;
double RssMiB() { return static_cast<double>(ReadProcessMemory().resident_bytes) / kMiB; }
double HeapMiB() { return static_cast<double>(ReadProcessMemory().heap_in_use_bytes) / kMiB; }
double HeapFreeMiB() { return static_cast<double>(ReadProcessMemory().heap_free_bytes) / kMiB; }
double SqliteMiB() { return static_cast<double>(sqlite3_memory_used()) / kMiB; }

struct Args {
  int ahus = 1000;
  double minutes = 3;
  double rate = 1;  // x nominal: each air handler sends one message every 60 s / rate
  int history = 100;
  // The mock broker holds a fetch this long even when data arrives meanwhile (Kafka answers at
  // once): the default 50 ms would add 0-50 ms of broker artefact to every latency; 5 ms costs
  // the broker CPU in fetch requests (a soak at 10x can take 50).
  int fetch_wait_ms = 5;
  std::string model = std::string(BRICKCAST_SOURCE_DIR) + "/models/hvac-5min.model";
};

// Receives the daemon's webhook notifications and turns them into latencies: a notification
// about air handler a was caused by a's newest message (messages of one unit are a minute apart
// at the nominal rate, the latencies milliseconds).
class LatencyProbe {
 public:
  explicit LatencyProbe(int ahus) : last_sent_(static_cast<size_t>(ahus)) {
    for (auto& t : last_sent_) t.store(0);
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      const int64_t now = MonoNs();
      OnNotification(req.body, now);
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LatencyProbe() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  void Sent(int ahu, int64_t mono_ns) { last_sent_[static_cast<size_t>(ahu)].store(mono_ns); }
  void StartMeasuring() { measuring_ = true; }

  // Latencies in fixed buckets (10 us to 100 ms, then 1 ms to 60 s), allocated and touched before
  // the memory baseline: a soak's RSS curve must not include the bench's own samples (a vector of
  // them grew 4.6 MiB in the hour, by doublings that showed as steps of the heap).
  struct Result {
    static constexpr size_t kFine = 10'000, kCoarse = 60'000;  // 0.01 ms and 1 ms buckets
    std::vector<uint32_t> buckets = std::vector<uint32_t>(kFine + kCoarse, 0);
    size_t alerts = 0, notifications = 0, predicted = 0;
    double max_ms = NAN;
    void Add(double ms) {
      const size_t b = ms < 100 ? static_cast<size_t>(std::max(0.0, ms) * 100)
                                : kFine + std::min(kCoarse - 1, static_cast<size_t>(ms));
      ++buckets[b];
      ++alerts;
      max_ms = std::isnan(max_ms) ? ms : std::max(max_ms, ms);
    }
    // Upper edge of the bucket that holds the q-quantile; NaN with no samples.
    double Percentile(double q) const {
      if (alerts == 0) return NAN;
      const size_t rank = std::min(alerts, static_cast<size_t>(q * static_cast<double>(alerts)) + 1);
      size_t seen = 0;
      for (size_t b = 0; b < buckets.size(); ++b) {
        seen += buckets[b];
        if (seen >= rank) return b < kFine ? static_cast<double>(b + 1) / 100 : static_cast<double>(b - kFine + 1);
      }
      return max_ms;
    }
  };
  Result Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  size_t notifications() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_.notifications;
  }

 private:
  void OnNotification(const std::string& body, int64_t now) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("alerts")) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++result_.notifications;
    if (!measuring_) return;
    const nlohmann::json& alerts = j["alerts"];
    for (const auto& a : alerts) {
      const nlohmann::json& labels = a["labels"];
      if (labels.value("predicted", "false") == "true") {  // caused by a forecast, not a message
        ++result_.predicted;
        continue;
      }
      const std::string equipment = labels.value("equipment", "");
      if (equipment.rfind("AHU", 0) != 0) continue;
      const size_t ahu = static_cast<size_t>(std::atoi(equipment.c_str() + 3));
      if (ahu >= last_sent_.size()) continue;
      const int64_t sent = last_sent_[ahu].load();
      if (sent == 0) continue;
      const double ms = static_cast<double>(now - sent) / 1e6;
      result_.Add(ms);
      if (std::getenv("BRICKCAST_BENCH_TRACE") && ms > 100)
        std::fprintf(stderr, "slow: %.0f ms %s %s %s\n", ms, labels.value("rule", "").c_str(),
                     a.value("status", "").c_str(), equipment.c_str());
    }
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::vector<std::atomic<int64_t>> last_sent_;
  std::atomic<bool> measuring_{false};
  std::mutex mu_;
  Result result_;
};

// `brickcast broker` as a child process, stopped (SIGTERM) when this goes out of scope.
class BrokerProcess {
 public:
  explicit BrokerProcess(const std::string& dir) {
    const std::string address = dir + "/broker.addr";
    std::vector<std::string> argv = {BRICKCAST_BINARY, "broker", "--partitions", "32", "--address-file", address};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, BRICKCAST_BINARY, nullptr, nullptr, args.data(), environ) != 0) return;
    for (int i = 0; i < 3000 && bootstrap_.empty(); ++i) {  // the file appears whole (renamed into place)
      std::ifstream in(address);
      std::getline(in, bootstrap_);
      if (bootstrap_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~BrokerProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  pid_t pid_ = 0;
  std::string bootstrap_;
};

std::string WriteSite(const Args& args, int hook_port, const std::string& dir, const std::string& brokers) {
  std::ofstream(dir + "/model.ttl") << bench::SiteModelTurtle(args.ahus);
  // A unit's supply air above 30 °C: flipped by every live message, so every step changes an alert.
  std::ofstream(dir + "/bench-rules.json") << R"({"rules": [{"id": "bench-sat-high", "kind": "threshold",
    "applies_to": "Air_Handling_Unit", "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}, "limit": 30}]})";
  nlohmann::json config = {
      {"site", {{"name", "e2e bench"}, {"timezone", "UTC"}}},
      {"brick", {{"models", {"model.ttl"}}}},
      {"kafka", {{"brokers", brokers}, {"topics", {kTopic}}, {"rebuild_from", "log_start"}, {"instance_id", ""},
                 {"fetch_wait_max_ms", args.fetch_wait_ms}}},
      {"store", {{"step_seconds", kStep / 1000}, {"window_steps", 288}}},
      {"forecast", {{"enabled", args.model != "none"}, {"model", args.model == "none" ? "" : args.model}}},
      {"rules", {std::string(BRICKCAST_SOURCE_DIR) + "/config/rules", "bench-rules.json"}},
      {"alerts", {{"database", "alerts.db"}}},
      {"notify",
       {{"receivers", {{{"name", "probe"}, {"kind", "webhook"},
                        {"url", "http://127.0.0.1:" + std::to_string(hook_port) + "/hook"}}}},
        {"route",
         {{"receiver", "probe"}, {"group_by", {"..."}}, {"group_wait", "0s"}, {"group_interval", "10s"},
          {"repeat_interval", "24h"}}}}},
      {"http", {{"listen", "127.0.0.1:0"}}},
      {"log", {{"level", "warn"}}}};
  std::ofstream(dir + "/brickcast.json") << config.dump(2);
  return dir + "/brickcast.json";
}

int Run(const Args& args) {
  const char* log = std::getenv("BRICKCAST_BENCH_LOG");  // e.g. info: the daemon's log
  spdlog::set_level(log != nullptr ? spdlog::level::from_str(log) : spdlog::level::warn);
  const int points = args.ahus * bench::kSitePoints;
  const std::string dir = (std::filesystem::temp_directory_path() / ("brickcast-e2e-" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  BrokerProcess broker(dir);
  if (broker.bootstrap().empty()) {
    std::fprintf(stderr, "brickcast broker did not start (%s)\n", BRICKCAST_BINARY);
    return 1;
  }
  LatencyProbe probe(args.ahus);
  auto config = LoadConfigFile(WriteSite(args, probe.port(), dir, broker.bootstrap()));
  if (!config.ok()) {
    std::fprintf(stderr, "config: %s\n", config.status().message().c_str());
    return 1;
  }
  // Reference: messages of the history parsed alone, one thread (ten steps' worth, built first;
  // freed and given back to the system before the baseline of the memory figures).
  double parse_obs_per_s = 0;
  {
    std::vector<std::string> sample;
    for (int s = 0; s < std::min(args.history, 10); ++s) {
      for (int a = 0; a < args.ahus; ++a) sample.push_back(bench::SiteMessage(a, s, kT0, kStep));
    }
    StreamParser parser(StreamParserOptions{});
    size_t obs = 0;
    const int64_t t0 = MonoNs();
    for (const std::string& m : sample) obs += parser.Parse(m).observations.size();
    parse_obs_per_s = static_cast<double>(obs) / (static_cast<double>(MonoNs() - t0) / 1e9);
  }
  malloc_trim(0);

  const double rss_base = RssMiB();
  Daemon daemon(*config);
  if (Status st = daemon.Start(); !st.ok()) {
    std::fprintf(stderr, "daemon: %s\n", st.message().c_str());
    return 1;
  }
  auto producer = KafkaProducer::Create(KafkaClientOptions{daemon.kafka_bootstrap(), {{"linger.ms", "0"}}});
  if (!producer.ok()) {
    std::fprintf(stderr, "producer: %s\n", producer.status().message().c_str());
    return 1;
  }
  auto key = [](int a) { return "urn:bench#AHU" + std::to_string(a); };
  auto ingested = [&daemon] { return daemon.ingestor().Counters().messages; };
  const uint64_t ingested_before = ingested();

  // 1. History, as fast as the daemon takes it (at most 2,000 messages ahead of the ingest, so
  // the broker's 5 MiB per partition never drops one). The first step is not timed: the consumer
  // joins its group meanwhile.
  const size_t history = static_cast<size_t>(args.history) * static_cast<size_t>(args.ahus);
  auto message_of = [&](size_t i) {  // built as sent: the bench holds no copy of the history
    const int a = static_cast<int>(i % static_cast<size_t>(args.ahus));
    return bench::SiteMessage(a, static_cast<int>(i / static_cast<size_t>(args.ahus)), kT0, kStep);
  };
  for (int a = 0; a < args.ahus; ++a) (void)(*producer)->Produce(kTopic, key(a), message_of(static_cast<size_t>(a)));
  while (ingested() - ingested_before < static_cast<uint64_t>(args.ahus))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int64_t h0 = MonoNs();
  const uint64_t obs0 = daemon.ingestor().Counters().accepted;
  for (size_t i = static_cast<size_t>(args.ahus); i < history; ++i) {
    while (i - (ingested() - ingested_before) > 2000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    (void)(*producer)->Produce(kTopic, key(static_cast<int>(i % static_cast<size_t>(args.ahus))), message_of(i));
  }
  while (ingested() - ingested_before < history) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double history_s = static_cast<double>(MonoNs() - h0) / 1e9;
  const double ingest_obs_per_s = static_cast<double>(daemon.ingestor().Counters().accepted - obs0) / history_s;
  // (the first step's join is not in history_s)
  const double rss_history = RssMiB();
  std::printf("e2e_bench: %d air handlers x %d points = %d points; model %s\n", args.ahus, bench::kSitePoints, points,
              args.model.c_str());
  std::printf("  history: %d steps = %zu messages through Kafka in %.1f s\n", args.history, history, history_s);
  std::printf("  ingest (Kafka -> store, rules and forecasts running beside it on the same 2 cores, wall clock): "
              "%.0f observations/s; reference, the parse alone on one thread: %.0f/s; ratio %.2f\n",
              ingest_obs_per_s, parse_obs_per_s, ingest_obs_per_s / parse_obs_per_s);

  // 2. Live, paced.
  probe.StartMeasuring();
  const auto forecasts0 = daemon.forecast() ? daemon.forecast()->Counters() : ForecastCounters{};
  const auto rules0 = daemon.rule_engine().Counters();
  const int64_t interval_ns = static_cast<int64_t>(60e9 / args.rate / args.ahus);
  const int64_t total = static_cast<int64_t>(std::llround(args.minutes * args.rate * args.ahus));
  const int64_t l0 = MonoNs();
  int64_t next_minute = l0 + 60'000'000'000;
  std::printf("  live: %.0f points per minute for %.0f minutes\n", args.rate * points, args.minutes);
  std::printf("  minute  rss_mib  heap_mib  heap_free_mib  sqlite_mib  observations  forecasts  notifications\n");
  std::printf("  %6d  %7.1f  %8.1f  %13.1f  %10.1f  %12llu  %9llu  %13zu\n", 0, RssMiB(), HeapMiB(), HeapFreeMiB(), SqliteMiB(),
              static_cast<unsigned long long>(daemon.ingestor().Counters().accepted),
              static_cast<unsigned long long>(daemon.forecast() ? daemon.forecast()->Counters().forecasts : 0),
              probe.notifications());
  int minute = 0;
  for (int64_t i = 0; i < total; ++i) {
    const int a = static_cast<int>(i % args.ahus);
    const int step = args.history + static_cast<int>(i / args.ahus);
    const int64_t due = l0 + i * interval_ns;
    while (MonoNs() < due) std::this_thread::sleep_for(std::chrono::nanoseconds(due - MonoNs()));
    const std::string m = bench::SiteMessage(a, step, kT0, kStep, (step + a) % 2 == 0 ? 35.0 : NAN);
    probe.Sent(a, MonoNs());
    (void)(*producer)->Produce(kTopic, key(a), m);
    if (MonoNs() >= next_minute) {
      next_minute += 60'000'000'000;
      std::printf("  %6d  %7.1f  %8.1f  %13.1f  %10.1f  %12llu  %9llu  %13zu\n", ++minute, RssMiB(), HeapMiB(), HeapFreeMiB(), SqliteMiB(),
                  static_cast<unsigned long long>(daemon.ingestor().Counters().accepted),
                  static_cast<unsigned long long>(daemon.forecast() ? daemon.forecast()->Counters().forecasts : 0),
                  probe.notifications());
      std::fflush(stdout);
    }
  }
  // The last message's notification, then the figures.
  const int64_t drain_until = MonoNs() + 5'000'000'000;
  while (MonoNs() < drain_until && ingested() - ingested_before < static_cast<uint64_t>(args.history * args.ahus + total))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double live_s = static_cast<double>(MonoNs() - l0) / 1e9;
  const double rss_end = RssMiB();
  const auto forecasts1 = daemon.forecast() ? daemon.forecast()->Counters() : ForecastCounters{};
  const auto rules1 = daemon.rule_engine().Counters();
  const LatencyProbe::Result r = probe.Take();
  daemon.Stop();
  std::filesystem::remove_all(dir);

  const double closed = static_cast<double>(total) * bench::kSitePoints;
  std::printf("  forecasts: %llu in %.0f s (%.0f/s) for %.0f point-steps closed (%.0f/s): %.2f of demand; "
              "p50 %.1f ms, p99 %.1f ms enqueue -> result\n",
              static_cast<unsigned long long>(forecasts1.forecasts - forecasts0.forecasts), live_s,
              static_cast<double>(forecasts1.forecasts - forecasts0.forecasts) / live_s, closed, closed / live_s,
              static_cast<double>(forecasts1.forecasts - forecasts0.forecasts) / closed, 1e3 * forecasts1.latency_p50_s,
              1e3 * forecasts1.latency_p99_s);
  const double evals = static_cast<double>(rules1.evaluations - rules0.evaluations);
  std::printf("  rules: %.0f evaluations (%.0f/s), %.3f s CPU: %.1f us each\n", evals, evals / live_s,
              rules1.evaluation_seconds - rules0.evaluation_seconds,
              1e6 * (rules1.evaluation_seconds - rules0.evaluation_seconds) / std::max(1.0, evals));
  std::printf("  latency, message handed to Kafka -> notification received: %zu alerts in %zu notifications "
              "(%zu predicted left out): p50 %.1f ms, p99 %.1f ms, max %.1f ms  bar: p99 <= 50 ms\n",
              r.alerts, r.notifications, r.predicted, r.Percentile(0.5), r.Percentile(0.99), r.max_ms);
  std::printf("  RSS: %.1f MiB before the daemon, %.1f after the history, %.1f at the end: %.1f MiB for %d points "
              "(%.2f KiB per point)\n",
              rss_base, rss_history, rss_end, rss_end - rss_base, points, 1024.0 * (rss_end - rss_base) / points);
  return r.alerts > 0 && r.Percentile(0.99) <= 50 ? 0 : 2;
}

}  // namespace
}  // namespace brickcast

int main(int argc, char** argv) {
  brickcast::SingleThreadBlas();  // as brickcast main does, before any thread starts
  brickcast::Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--ahus") args.ahus = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--minutes") args.minutes = std::atof(value.c_str());
    else if (flag == "--rate") args.rate = std::atof(value.c_str());
    else if (flag == "--history") args.history = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--model") args.model = value;
    else if (flag == "--fetch-wait-ms") args.fetch_wait_ms = std::max(1, std::atoi(value.c_str()));
    else {
      std::fprintf(stderr, "usage: e2e_bench [--ahus N] [--minutes M] [--rate X] [--history STEPS] [--model PATH|none] "
                   "[--fetch-wait-ms MS]\n");
      return 1;
    }
  }
  return brickcast::Run(args);
}
