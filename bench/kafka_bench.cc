// End-to-end Kafka ingest benchmark on the embedded broker.
//
// The real SZVAV data (15,839 lastKnownValue messages, no metadata triples) is split into 32
// one-AHU streams (consecutive chunks renamed AHU-0..31, as a site with 32 AHUs would send) and
// published keyed by AHU to a 32-partition topic of the embedded broker (which keeps at most 5 MiB
// per partition), then consumed by KafkaSource into the series store. Same process, same bytes,
// measured one after the other (median of 3 runs):
//   serd      - the Serd reader over the bytes (reference: raw Turtle parsing speed)
//   fetch     - a bare librdkafka consumer reading every message and doing nothing with it
//   parse     - StreamParser on every message
//   ingest    - the whole ingest path in-process (parse, units, registry, store)
//   kafka e2e - KafkaSource: fetch + ingest, until every observation is in the store
// The fetch / parse / store shares are each step's own time over their sum.
// The broker runs in a child process pinned to another core when there is one (in production it is
// another machine); the measured consumer process is pinned to core 0, so every figure is one core.
// Run: build/bench/kafka_bench
#include <librdkafka/rdkafka.h>
#include <serd/serd.h>
#include <spdlog/spdlog.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "brickcast/csv_converter.h"
#include "brickcast/ingestor.h"
#include "brickcast/kafka.h"

namespace brickcast {
namespace {

using Steady = std::chrono::steady_clock;
double Seconds(Steady::time_point a, Steady::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds of this process (all its threads): what the consumer itself costs on its core.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

SerdStatus Count(void* h, SerdStatementFlags, const SerdNode*, const SerdNode*, const SerdNode*, const SerdNode*,
                 const SerdNode*, const SerdNode*) {
  ++*static_cast<size_t*>(h);
  return SERD_SUCCESS;
}

double TimeSerd(const std::string& doc) {
  size_t n = 0;
  const auto t0 = Steady::now();
  SerdReader* r = serd_reader_new(SERD_TURTLE, &n, nullptr, nullptr, nullptr, Count, nullptr);
  serd_reader_read_string(r, reinterpret_cast<const uint8_t*>(doc.c_str()));
  serd_reader_free(r);
  return Seconds(t0, Steady::now());
}

double TimeFetch(const std::string& brokers, const std::string& topic, size_t expected, double* cpu) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", ("fetch-" + std::to_string(Steady::now().time_since_epoch().count())).c_str(),
                    err, sizeof err);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  // Assign directly: no group join delay in the measurement.
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(32);
  for (int p = 0; p < 32; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  size_t got = 0, bytes = 0;
  const auto t0 = Steady::now();
  const double c0 = CpuSeconds();
  while (got < expected && Seconds(t0, Steady::now()) < 120) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++got;
      bytes += m->len;
    }
    rd_kafka_message_destroy(m);
  }
  const double s = Seconds(t0, Steady::now());
  *cpu = CpuSeconds() - c0;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == expected ? s : -1;
}

void PinToCore(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// Child: run an embedded broker with `partitions` partitions of topic "bench" until killed.
int BrokerChild(int partitions) {
  if (std::thread::hardware_concurrency() > 1) PinToCore(1);
  auto broker = EmbeddedBroker::Start(1, {"bench"}, partitions);
  if (!broker.ok()) return 3;
  std::printf("%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace
}  // namespace brickcast

int main(int argc, char** argv) {
  using namespace brickcast;  // NOLINT(google-build-using-namespace): a benchmark's main
  spdlog::set_level(spdlog::level::warn);
  if (argc > 1 && std::string(argv[1]) == "--broker-child") return BrokerChild(32);
  PinToCore(0);
  auto mapping = LoadCsvMapping(std::string(BRICKCAST_SOURCE_DIR) + "/config/mappings/lbnl-szvav.json");
  std::ifstream csv(std::string(BRICKCAST_SHARED_DATA) + "/hvac-faults/SZVAV.csv");
  if (!mapping.ok() || !csv) {
    std::cerr << "kafka_bench needs ../shared/data/hvac-faults/SZVAV.csv\n";
    return 2;
  }
  mapping->metadata = MetadataMode::kNone;
  std::vector<std::string> messages, keys;
  ConvertStats stats;
  if (!ConvertCsv(*mapping, csv, [&](ConvertedMessage&& m) { messages.push_back(std::move(m.ttl)); }, &stats).ok())
    return 2;
  constexpr int kStreams = 32;
  const std::string ns = "urn:brickcast:lbnl-flexlab#";
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string ahu = "urn:brickcast:ahu-" + std::to_string(i * kStreams / messages.size()) + "#";
    std::string& m = messages[i];
    for (size_t pos = m.find(ns); pos != std::string::npos; pos = m.find(ns, pos + ahu.size())) m.replace(pos, ns.size(), ahu);
    keys.push_back(ahu);
  }
  std::string joined;
  for (const auto& m : messages) joined += m;
  const double mb = joined.size() / 1e6;
  const size_t observations = stats.values;

  std::vector<double> serd_s, fetch_s, parse_s, ingest_s, e2e_s, fetch_cpu_s, e2e_cpu_s;
  for (int run = 0; run < 3; ++run) {
    serd_s.push_back(TimeSerd(joined));
    StreamParser parser(StreamParserOptions{});
    auto t0 = Steady::now();
    size_t n = 0;
    for (const auto& m : messages) n += parser.Parse(m, "bench").observations.size();
    parse_s.push_back(Seconds(t0, Steady::now()));
    {
      auto classes = ClassHierarchy::BuiltIn();
      PointRegistry registry(classes);
      SeriesStore store(SeriesOptions{});
      Ingestor ingestor(parser, registry, store, true, nullptr);
      t0 = Steady::now();
      for (const auto& m : messages) ingestor.IngestMessage(m, "bench");
      ingest_s.push_back(Seconds(t0, Steady::now()));
    }

    const std::string child = std::string("exec ") + argv[0] + " --broker-child";
    FILE* broker_proc = popen(child.c_str(), "r");
    char line[256] = {0};
    if (broker_proc == nullptr || std::fgets(line, sizeof line, broker_proc) == nullptr) return 3;
    const std::string bootstrap = std::string(line).substr(0, std::string(line).find('\n'));
    {
      auto producer = KafkaProducer::Create(KafkaClientOptions{bootstrap, {}});
      for (size_t i = 0; i < messages.size(); ++i)
        if (!(*producer)->Produce("bench", keys[i], messages[i]).ok()) return 3;
      if (!(*producer)->Flush(std::chrono::seconds(60)).ok()) return 3;
    }
    double fetch_cpu = 0;
    fetch_s.push_back(TimeFetch(bootstrap, "bench", messages.size(), &fetch_cpu));
    fetch_cpu_s.push_back(fetch_cpu);

    auto classes = ClassHierarchy::BuiltIn();
    PointRegistry registry(classes);
    SeriesStore store(SeriesOptions{});
    Ingestor ingestor(parser, registry, store, true, nullptr);
    KafkaSourceOptions o;
    o.client.brokers = bootstrap;
    o.topics = {"bench"};
    o.group_id = "bench-" + std::to_string(run);
    o.session_timeout_ms = 6000;
    o.rebuild_from = KafkaSourceOptions::RebuildFrom::kLogStart;
    KafkaSource source(o, ingestor, store);
    if (!source.Start().ok()) return 3;
    // The clock starts at the first message (the group join takes ~3 s on the mock and is not ingest).
    const auto started = Steady::now();
    while (ingestor.Counters().messages == 0 && Seconds(started, Steady::now()) < 60)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    t0 = Steady::now();
    const double c0 = CpuSeconds();
    while (ingestor.Counters().accepted < observations && Seconds(t0, Steady::now()) < 120)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (ingestor.Counters().accepted < observations) {
      std::cerr << "kafka_bench: only " << ingestor.Counters().accepted << " of " << observations
                << " observations arrived\n";
      return 4;
    }
    e2e_s.push_back(Seconds(t0, Steady::now()));
    e2e_cpu_s.push_back(CpuSeconds() - c0);
    source.Stop();
    std::system(("pkill -f -- '" + std::string(argv[0]) + " --broker-child'").c_str());
    pclose(broker_proc);
  }

  const double serd = Median(serd_s), fetch = Median(fetch_s), parse = Median(parse_s), ingest = Median(ingest_s),
               e2e = Median(e2e_s), fetch_cpu = Median(fetch_cpu_s), e2e_cpu = Median(e2e_cpu_s);
  const double msgs = static_cast<double>(messages.size()), obs = static_cast<double>(observations);
  std::printf("input: %zu messages, %zu observations, %.1f MB (SZVAV.csv as 32 AHU streams)\n",
              messages.size(), observations, mb);
  std::printf("%-28s %9s %10s %12s %8s\n", "run (median of 3)", "seconds", "msg/s", "obs/s", "MB/s");
  auto row = [&](const char* name, double s, bool has_obs) {
    std::printf("%-28s %9.3f %10.0f %12s %8.1f\n", name, s, msgs / s, has_obs ? std::to_string(static_cast<long>(obs / s)).c_str() : "-", mb / s);
  };
  row("serd raw parse (reference)", serd, false);
  row("kafka fetch only", fetch, false);
  row("StreamParser", parse, true);
  row("ingest in-process", ingest, true);
  row("kafka -> store end to end", e2e, true);
  std::printf("consumer CPU: fetch only %.3f s (%.1f us/msg), end to end %.3f s (%.1f us/msg)\n", fetch_cpu,
              1e6 * fetch_cpu / msgs, e2e_cpu, 1e6 * e2e_cpu / msgs);
  row("end to end, CPU-bound rate", e2e_cpu, true);
  const double store = std::max(0.0, ingest - parse), sum = fetch_cpu + parse + store;
  std::printf("shares of the consumer's CPU: fetch %.0f %%, parse %.0f %%, store %.0f %%\n", 100 * fetch_cpu / sum,
              100 * parse / sum, 100 * store / sum);
  std::printf("end to end / serd raw: %.2f wall, %.2f CPU-bound\n", serd / e2e, serd / e2e_cpu);
  return 0;
}
