// Forecast serving throughput and latency (issue 5): the ForecastService with a single-channel
// TimeMixer, 96 steps in (the previous shipped model; --seq_len 288 for today's) and 24 out, at a
// 1-minute step. For each point
// count, one step closes for every point at once (the worst case: all points due together) and
// the service forecasts them all; forecasts/s = points / time until idle, latency = enqueue to
// result (p50/p99 over the last 8192). Each configuration runs next to the same workload with
// batching off (max_batch 1), in the same process. Memory per point is the resident-set growth
// of store + forecast state divided by the points.
// Run: OPENBLAS_NUM_THREADS=1 build/bench/serving_bench [--quick] [--seq_len N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "brickcast/forecast_service.h"
#include "brickcast/timemixer.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 60'000;
constexpr UnixMillis kT0 = 1'700'000'000'000 / kStep * kStep;

double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

std::string Name(int i) { return "urn:bench:site#ahu" + std::to_string(i / 16) + ".point" + std::to_string(i % 16); }

void FeedStep(SeriesStore& store, const std::vector<std::string>& points, int s) {
  Observation o;
  for (size_t i = 0; i < points.size(); ++i) {
    o.point = points[i];
    o.time = kT0 + s * kStep + 1000;
    o.value = 20 + std::sin(s * 0.05 + static_cast<double>(i)) + 0.01 * static_cast<double>(i % 7);
    store.Append(o);
  }
}

struct Result {
  double forecasts_per_s = 0, p50_ms = 0, p99_ms = 0, mean_batch = 0;
};

// Forecasts `steps` consecutive closing steps for every point; returns the figures of the last.
// Steps the store keeps: the model's whole input and more.
int StoreSteps(int seq_len) { return std::max(128, seq_len + 32); }

Result RunConfig(const std::vector<std::string>& points, std::shared_ptr<const Forecaster> model, size_t workers,
                 size_t max_batch, int steps, double* mib_per_point) {
  const int history = StoreSteps(model->seq_len()) - 28;  // steps fed before the service starts
  SeriesOptions so{kStep, static_cast<size_t>(StoreSteps(model->seq_len())), 2, 8};
  const double before = ResidentMiB();
  SeriesStore store(so);
  ForecastServiceOptions o;
  o.workers = workers;
  o.max_batch = max_batch;
  o.max_wait = std::chrono::microseconds(max_batch == 1 ? 0 : 2000);
  o.queue_capacity = 16384;
  o.scan_interval = std::chrono::milliseconds(2);
  ForecastService svc(store, o);
  (void)svc.SetModel(model);
  for (int s = 0; s < history; ++s) FeedStep(store, points, s);
  (void)svc.Start();
  Result r;
  for (int k = 0; k < steps; ++k) {
    FeedStep(store, points, history + k);
    const uint64_t done_before = svc.Counters().forecasts;
    const auto t0 = std::chrono::steady_clock::now();
    svc.NotifyData(points);
    svc.WaitIdle(std::chrono::minutes(30));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const ForecastCounters c = svc.Counters();
    r.forecasts_per_s = static_cast<double>(c.forecasts - done_before) / secs;
    r.p50_ms = c.latency_p50_s * 1e3;
    r.p99_ms = c.latency_p99_s * 1e3;
    r.mean_batch = c.batches ? static_cast<double>(c.batch_sum) / static_cast<double>(c.batches) : 0;
  }
  if (mib_per_point) *mib_per_point = (ResidentMiB() - before) / static_cast<double>(points.size());
  svc.Stop();
  return r;
}

}  // namespace
}  // namespace brickcast

int main(int argc, char** argv) {
  using namespace brickcast;
  spdlog::set_level(spdlog::level::warn);  // keep the table readable
  bool quick = false;
  int seq_len = 96;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--seq_len") == 0 && i + 1 < argc) {
      seq_len = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: serving_bench [--quick] [--seq_len N]\n");
      return 2;
    }
  }
  TimeMixerConfig cfg;
  cfg.seq_len = seq_len;
  cfg.pred_len = 24;
  cfg.channels = 1;
  cfg.time_features = 0;
  auto created = TimeMixerModel::Create(cfg, 1);
  if (!created.ok()) return 1;
  (*created)->mutable_metadata().step_seconds = 60;
  std::shared_ptr<const Forecaster> model(std::move(*created));
  std::printf("TimeMixer %d -> 24, single channel, %.2f MFLOP per window; 1-minute step; %u hardware threads\n",
              cfg.seq_len, ForwardFlops(cfg) / 1e6, std::thread::hardware_concurrency());
  std::printf("%8s %8s %9s %12s %10s %9s %9s %14s %10s\n", "points", "workers", "max_batch", "forecasts/s",
              "mean_batch", "p50_ms", "p99_ms", "vs_unbatched", "realtime_x");
  struct Case {
    int points;
    std::vector<std::pair<size_t, size_t>> configs;  // (workers, max_batch)
  };
  std::vector<Case> cases = {{1000, {{1, 8}, {1, 64}, {2, 8}, {2, 64}, {2, 256}}},
                             {10000, {{2, 64}, {2, 256}}},
                             {100000, {{2, 256}}}};
  if (quick) cases = {{1000, {{2, 64}}}};
  for (const Case& c : cases) {
    std::vector<std::string> points;
    for (int i = 0; i < c.points; ++i) points.push_back(Name(i));
    // The reference: the same workload one window per forward, on the same number of workers.
    double mib = 0;
    const int steps = c.points >= 100000 ? 1 : 2;
    const Result unbatched = RunConfig(points, model, 2, 1, steps, &mib);
    std::printf("%8d %8d %9d %12.0f %10.1f %9.1f %9.1f %14s %10.1f\n", c.points, 2, 1, unbatched.forecasts_per_s,
                unbatched.mean_batch, unbatched.p50_ms, unbatched.p99_ms, "1.00x",
                unbatched.forecasts_per_s / (c.points / 60.0));
    for (auto [workers, batch] : c.configs) {
      const Result r = RunConfig(points, model, workers, batch, steps, nullptr);
      char ratio[32];
      std::snprintf(ratio, sizeof ratio, "%.2fx", r.forecasts_per_s / unbatched.forecasts_per_s);
      std::printf("%8d %8zu %9zu %12.0f %10.1f %9.1f %9.1f %14s %10.1f\n", c.points, workers, batch, r.forecasts_per_s,
                  r.mean_batch, r.p50_ms, r.p99_ms, ratio, r.forecasts_per_s / (c.points / 60.0));
    }
    std::printf("%8d points: %.1f KiB resident per point (store of %d steps + forecast state)\n", c.points,
                mib * 1024.0, StoreSteps(seq_len));
  }
  return 0;
}
