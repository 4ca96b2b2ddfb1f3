// TimeMixer inference throughput in LibTorch (ETTh1 settings: 7 channels, 96 -> 96), windows per
// second at batch 1, 8, 64 and 256 on one and two intra-op threads, next to a plain 1024x1024
// float matmul in the same run (the machine's BLAS ceiling). Each window is one sample of all 7
// channels. OpenBLAS runs single-threaded; LibTorch's pool is sized per benchmark.
// Run: OPENBLAS_NUM_THREADS=1 build/bench/forecast_bench
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <random>

#include "brickcast/timemixer.h"

namespace brickcast {
namespace {

void BM_Forecast(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  at::set_num_threads(static_cast<int>(state.range(1)));
  TimeMixerConfig c;
  auto model = TimeMixerModel::Create(c, 7);
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 1);
  std::vector<float> x(static_cast<size_t>(batch) * c.seq_len * c.channels), marks;
  for (float& v : x) v = noise(rng);
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < c.seq_len; ++t) AppendTimeFeatures(1700000000 + (b * 24 + t) * 3600, &marks);
  for (auto _ : state) benchmark::DoNotOptimize((*model)->Forecast(x, marks, batch));
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["windows_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * batch),
                                                       benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Forecast)
    ->ArgsProduct({{1, 8, 64, 256}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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

}  // namespace
}  // namespace brickcast

BENCHMARK_MAIN();
