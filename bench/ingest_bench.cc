// Ingest benchmark: Brick Turtle messages -> observations, next to Serd parsing the same bytes.
//
// Input: the real LBNL SZVAV.csv converted in memory with config/mappings/lbnl-szvav.json (one
// lastKnownValue message per minute row, 14 points). Reference runs in the same process:
//   BM_SerdRaw      - the Serd reader over the same bytes with an empty statement sink (the
//                     parsing work serdi does, without its output writer);
//   BM_SerdiProcess - the `serdi` program itself on the same bytes (Turtle in, N-Triples to /dev/null).
// Ours:
//   BM_StreamParser - StreamParser::Parse per message (Turtle -> observations + metadata);
//   BM_Ingest       - the whole ingest path (parse, unit conversion, registry, series store).
// Run: build/bench/ingest_bench   (bench/run_ingest.sh prints the ratios)
#include <benchmark/benchmark.h>
#include <serd/serd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "brickcast/csv_converter.h"
#include "brickcast/ingestor.h"

namespace brickcast {
namespace {

struct Corpus {
  std::vector<std::string> messages;
  std::string joined;  // all messages, one Turtle document
  size_t observations = 0;
  std::string file;    // the joined bytes on disk, for serdi
};

const Corpus& GetCorpus() {
  static const Corpus* const kCorpus = [] {
    auto* c = new Corpus();
    auto mapping = LoadCsvMapping(std::string(BRICKCAST_SOURCE_DIR) + "/config/mappings/lbnl-szvav.json");
    std::ifstream csv(std::string(BRICKCAST_SHARED_DATA) + "/hvac-faults/SZVAV.csv");
    if (!mapping.ok() || !csv) {
      std::cerr << "ingest_bench needs ../shared/data/hvac-faults/SZVAV.csv\n";
      std::exit(2);
    }
    ConvertStats stats;
    if (!ConvertCsv(*mapping, csv, [&](ConvertedMessage&& m) { c->messages.push_back(std::move(m.ttl)); }, &stats)
             .ok())
      std::exit(2);
    for (const auto& m : c->messages) c->joined += m;
    c->observations = stats.values;
    c->file = "/tmp/brickcast-ingest-bench.ttl";
    std::ofstream(c->file, std::ios::binary) << c->joined;
    return c;
  }();
  return *kCorpus;
}

SerdStatus CountStatement(void* handle, SerdStatementFlags, const SerdNode*, const SerdNode*, const SerdNode*,
                          const SerdNode*, const SerdNode*, const SerdNode*) {
  ++*static_cast<size_t*>(handle);
  return SERD_SUCCESS;
}

void BM_SerdRaw(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  size_t triples = 0;
  for (auto _ : state) {
    SerdReader* r = serd_reader_new(SERD_TURTLE, &triples, nullptr, nullptr, nullptr, CountStatement, nullptr);
    serd_reader_read_string(r, reinterpret_cast<const uint8_t*>(c.joined.c_str()));
    serd_reader_free(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.joined.size()));
  state.counters["triples"] = static_cast<double>(triples / state.iterations());
}
BENCHMARK(BM_SerdRaw)->Unit(benchmark::kMillisecond);

void BM_SerdiProcess(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  const std::string cmd = "serdi -i turtle -o ntriples " + c.file + " > /dev/null";
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) {
      state.SkipWithError("serdi failed (is the Debian package serdi installed?)");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.joined.size()));
}
BENCHMARK(BM_SerdiProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StreamParser(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  StreamParser parser(StreamParserOptions{});
  size_t obs = 0;
  for (auto _ : state) {
    for (const auto& m : c.messages) obs += parser.Parse(m, "bench").observations.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.joined.size()));
  state.SetItemsProcessed(static_cast<int64_t>(obs));
  state.counters["messages_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * c.messages.size()),
                                                        benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StreamParser)->Unit(benchmark::kMillisecond);

void BM_Ingest(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  auto classes = ClassHierarchy::BuiltIn();
  StreamParser parser(StreamParserOptions{});
  size_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    PointRegistry registry(classes);
    SeriesStore store(SeriesOptions{});
    Ingestor ingestor(parser, registry, store, true, nullptr);
    state.ResumeTiming();
    for (const auto& m : c.messages) accepted += ingestor.IngestMessage(m, "bench").accepted;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.joined.size()));
  state.SetItemsProcessed(static_cast<int64_t>(accepted));
  state.counters["messages_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * c.messages.size()),
                                                        benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Ingest)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace brickcast

BENCHMARK_MAIN();
