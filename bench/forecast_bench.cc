// TimeMixer throughput in LibTorch (ETTh1 settings: 7 channels, 96 -> 96): inference windows per
// second at batch 1, 8, 64 and 256 under InferenceMode, and training samples per second of the
// product's training loop (batch 128, Adam, one-cycle), each on one and two intra-op threads, with
// the achieved GFLOP/s (ForwardFlops; training counted as 3x forward) next to a plain 1024x1024
// float matmul in the same run (the machine's BLAS ceiling). Each window is one sample of all 7
// channels. OpenBLAS runs single-threaded; LibTorch's pool is sized per benchmark.
// BM_Forecast is the product's forward (the inference plan), BM_ForecastModules the LibTorch
// modules it replaced. bench/forecast_vs_eager.py times BM_Forecast against PyTorch eager.
// Run: OPENBLAS_NUM_THREADS=1 build/bench/forecast_bench
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <nlohmann/json.hpp>
#include <random>

#include "brickcast/timemixer.h"
#include "brickcast/training.h"

namespace brickcast {
namespace {

constexpr uint64_t kSeed = 7;  // the benchmarked weights (also what --save_model writes)

// A batch of inputs: normal noise and hourly time features.
void Inputs(const TimeMixerConfig& c, int batch, std::vector<float>* x, std::vector<float>* marks) {
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 1);
  x->assign(static_cast<size_t>(batch) * c.seq_len * c.channels, 0.0f);
  for (float& v : *x) v = noise(rng);
  marks->clear();
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < c.seq_len; ++t) AppendTimeFeatures(1700000000 + (b * 24 + t) * 3600, marks);
}

// BM_Forecast: the product's forward (the inference plan); BM_ForecastModules: the same network
// through the LibTorch modules, as every forward ran before the plan (the old figures, same run).
void RunForecast(benchmark::State& state, bool modules) {
  const int batch = static_cast<int>(state.range(0));
  SetForecastThreads(static_cast<int>(state.range(1)));
  TimeMixerConfig c;
  auto model = TimeMixerModel::Create(c, kSeed);
  std::vector<float> x, marks;
  Inputs(c, batch, &x, &marks);
  for (auto _ : state) {
    if (modules) {
      benchmark::DoNotOptimize((*model)->TEST_ForecastThroughModules(x, marks, batch));
    } else {
      benchmark::DoNotOptimize((*model)->Forecast(x, marks, batch));
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["windows_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * batch),
                                                       benchmark::Counter::kIsRate);
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      ForwardFlops((*model)->config()) * static_cast<double>(state.iterations() * batch) / 1e9, benchmark::Counter::kIsRate);
}
void BM_Forecast(benchmark::State& state) { RunForecast(state, false); }
void BM_ForecastModules(benchmark::State& state) { RunForecast(state, true); }
BENCHMARK(BM_Forecast)
    ->ArgsProduct({{1, 8, 64, 256}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ForecastModules)
    ->ArgsProduct({{1, 8, 64, 256}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The product's training loop on a synthetic 7-channel hourly table; the counter is its own
// measure of samples per second over the training batches (validation excluded).
void BM_Train(benchmark::State& state) {
  SeriesTable data;
  data.name = "synthetic";
  data.channels = {"a", "b", "c", "d", "e", "f", "g"};
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 0.2f);
  for (int r = 0; r < 3000; ++r) {
    data.times.push_back(1700000000 + r * 3600);
    for (int c = 0; c < 7; ++c) data.values.push_back(static_cast<float>(std::sin(r * 0.26 + c)) + noise(rng));
  }
  TrainOptions o;
  o.split = "ratio";
  o.epochs = 1;
  o.batch_size = 128;
  o.max_steps_per_epoch = 12;
  o.threads = static_cast<int>(state.range(0));
  double samples_per_s = 0;
  for (auto _ : state) {
    auto model = TrainTimeMixer({data}, "synthetic", o, nullptr);
    if (!model.ok()) {
      state.SkipWithError(model.status().message().c_str());
      return;
    }
    auto history = nlohmann::json::parse((*model)->metadata().training)["history"];
    samples_per_s = history[0]["train_samples_per_s"].get<double>();
  }
  state.counters["samples_per_s"] = samples_per_s;
  TimeMixerConfig trained = o.model;
  trained.channels = static_cast<int>(data.channels.size());
  state.counters["GFLOP_per_s"] = 3 * ForwardFlops(trained) * samples_per_s / 1e9;
}
BENCHMARK(BM_Train)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

void BM_Matmul(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  c10::InferenceMode guard;
  torch::manual_seed(1);
  const int64_t n = 1024;
  torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));
  state.counters["GFLOP_per_s"] = benchmark::Counter(2.0 * n * n * n * static_cast<double>(state.iterations()) / 1e9,
                                                     benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Matmul)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();

// --save_model=PATH: writes the benchmarked model to PATH, a batch of 8 inputs to PATH.x.bin (time
// features to PATH.x.bin.marks) and our forecast of it to PATH.y.bin (float32), for the PyTorch
// eager reference (bench/timemixer_eager.py) to load and check before it is timed.
int SaveModel(const std::string& path) {
  TimeMixerConfig c;
  auto model = TimeMixerModel::Create(c, kSeed);
  if (!model.ok() || !(*model)->Save(path).ok()) return 1;
  std::vector<float> x, marks;
  Inputs(c, 8, &x, &marks);
  auto y = (*model)->Forecast(x, marks, 8);
  if (!y.ok()) return 1;
  auto write = [](const std::string& file, const std::vector<float>& v) {
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(v.data(), sizeof(float), v.size(), f) == v.size();
    return std::fclose(f) == 0 && ok;
  };
  return write(path + ".x.bin", x) && write(path + ".x.bin.marks", marks) && write(path + ".y.bin", *y) ? 0 : 1;
}

}  // namespace
}  // namespace brickcast

int main(int argc, char** argv) {
  brickcast::SingleThreadBlas();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--save_model=", 0) == 0) return brickcast::SaveModel(arg.substr(13));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
