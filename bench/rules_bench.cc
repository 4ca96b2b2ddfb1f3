// Rule evaluation cost next to ingest cost (issue 11): 1,000 air handlers of 10 points each
// (10,000 points) with the shipped rules (config/rules), fed one Turtle message per air handler
// per 5-minute step, as Kafka would deliver them. Each message is ingested (parse, units, store:
// the reference), then the rule engine takes its event and evaluates the step it closed
// (conditions, alert lifecycle, the in-memory alert store), as the daemon's rules subscriber
// does right after each message. Both are timed on the same clock in the same run, so the ratio
// holds on a noisy machine. A forecast per supply air sensor is supplied by a
// lookup so the residual and predicted-crossing rules do their full work.
// Run: build/bench/rules_bench [--quick]  (BRICKCAST_BENCH_RULES=<dir>: another rule set;
// BRICKCAST_BENCH_AHUS=<n>: another number of air handlers)
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "brickcast/alerts.h"
#include "brickcast/ingestor.h"
#include "brickcast/point_registry.h"
#include "brickcast/rule_engine.h"
#include "bench_site.h"

namespace brickcast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr UnixMillis kT0 = 1'790'000'000'000 / kStep * kStep;

// A monotonic clock read through the vDSO (about 20 ns, no kernel entry). The thread CPU clock
// is a system call that costs about 1.3 us, as much as the rules of a message, and its kernel
// entry evicts the cache lines the rules then miss: it inflated the rules' share by a third.
// Preemption lands in wall time instead; the median of the per-step ratios keeps a preempted
// message from skewing the figure.
double NowSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Run(bool quick) {
  spdlog::set_level(spdlog::level::warn);
  const char* ahus_env = std::getenv("BRICKCAST_BENCH_AHUS");  // another scale to measure
  const int ahus = ahus_env != nullptr ? std::max(1, std::atoi(ahus_env)) : quick ? 200 : 1000;
  const int steps = quick ? 24 : 48;
  auto classes = ClassHierarchy::BuiltIn();
  auto model = std::make_shared<BrickModel>(classes);
  if (!model->LoadTurtle(bench::SiteModelTurtle(ahus), "bench.ttl").ok()) return 1;
  PointRegistry registry(classes);
  registry.LoadModel(*model);
  SeriesStore store(SeriesOptions{kStep, 288, 2, 32});
  StreamParser parser(StreamParserOptions{});
  Ingestor ingestor(parser, registry, store, true, nullptr);
  AlertManager alerts(NewMemoryAlertStore(), AlertManagerOptions{});
  // A forecast of every supply air sensor, as the forecast service would give: from the step the
  // bench is at, 24 steps of the signal's own shape with a +-1 K interval (so, like on a healthy
  // site, the residual rule finds nothing and the predicted-crossing rule scans the horizon).
  int current_step = 0;
  auto forecast_of = [&current_step](const std::string& point) -> std::optional<PointForecast> {
    const size_t at = point.find("AHU") + 3;
    const int a = std::stoi(point.substr(at, point.find('_', at) - at));
    PointForecast f;
    f.point = point;
    f.model = "bench";
    f.step_ms = kStep;
    f.window_end = kT0 + current_step * kStep;
    for (int h = 0; h < 24; ++h) {
      const double v = bench::SiteValue(0, a, current_step + h);
      f.steps.push_back(ForecastStep{f.window_end + h * kStep, v, v - 1, v + 1});
    }
    return f;
  };
  RuleEngine engine(store, forecast_of, registry, alerts);
  const char* rules_dir = std::getenv("BRICKCAST_BENCH_RULES");  // another rule set to measure
  auto rules = LoadRules({rules_dir != nullptr ? std::string(rules_dir) : std::string(BRICKCAST_SOURCE_DIR) + "/config/rules"});
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", rules.status().message().c_str());
    return 1;
  }
  engine.SetRules(*rules, model);

  std::vector<std::vector<std::string>> messages(static_cast<size_t>(steps));
  for (int s = 0; s < steps; ++s) {
    for (int a = 0; a < ahus; ++a) messages[static_cast<size_t>(s)].push_back(bench::SiteMessage(a, s, kT0, kStep));
  }
  // What a clock read costs, taken out of both sides.
  double clock_cost = 0;
  {
    const double c0 = NowSeconds();
    for (int i = 0; i < 10000; ++i) (void)NowSeconds();
    clock_cost = (NowSeconds() - c0) / 10001;
  }
  double ingest_s = 0, rules_s = 0;
  std::vector<double> step_ratios;
  uint64_t evaluations_before = 0;
  const int warmup = 2;
  for (int s = 0; s < steps; ++s) {
    current_step = s;
    // As in the daemon, where the rules subscriber takes each message's event right after the
    // ingest of that message: ingest, then rules, message by message, each on its own clock.
    double ingest_step = 0, rules_step = 0;
    for (int a = 0; a < ahus; ++a) {
      const double t0 = NowSeconds();
      IngestReport r = ingestor.IngestMessage(messages[static_cast<size_t>(s)][static_cast<size_t>(a)], "bench");
      const ObservationsApplied event{std::move(r.points), r.latest_time, r.earliest_time};  // the ingest's publish
      const double t_ingest = NowSeconds();
      // A fresh forecast every 15 minutes, made (and published) by the forecast service.
      std::optional<ForecastProduced> produced;
      if (s % 3 == 0) {
        const std::string sat = "urn:bench#AHU" + std::to_string(a) + "_SAT";
        produced = ForecastProduced{sat, kT0 + s * kStep, false,
                                    std::make_shared<const PointForecast>(*forecast_of(sat))};
      }
      const double t1 = NowSeconds();
      engine.OnObservations(event);
      if (produced) engine.OnForecast(*produced);
      const double t2 = NowSeconds();
      ingest_step += t_ingest - t0 - clock_cost;
      rules_step += t2 - t1 - clock_cost;
    }
    if (s < warmup) {
      evaluations_before = engine.Counters().evaluations;
      continue;
    }
    ingest_s += ingest_step;
    rules_s += rules_step;
    step_ratios.push_back(rules_step / ingest_step);
  }
  const RuleEngineCounters c = engine.Counters();
  const double evaluations = static_cast<double>(c.evaluations - evaluations_before);
  const int measured = steps - warmup;
  std::printf("rules_bench: %d air handlers x 10 points = %d points, %zu rules -> %zu bindings, %d steps measured\n",
              ahus, ahus * 10, (*rules)->rules.size(), c.bindings, measured);
  std::sort(step_ratios.begin(), step_ratios.end());
  const double ratio = step_ratios[step_ratios.size() / 2];
  std::printf("  ingest of a step (parse + store, %d messages): %.2f ms\n", ahus, 1e3 * ingest_s / measured);
  std::printf("  rules on that step (%.0f evaluations):          %.2f ms  (%.2f us per evaluation, %.0f evaluations/s)\n",
              evaluations / measured, 1e3 * rules_s / measured, 1e6 * rules_s / evaluations, evaluations / rules_s);
  std::printf("  rules / ingest: %.3f median of %zu steps (%.3f .. %.3f; totals %.3f)  bar: < 0.10\n", ratio,
              step_ratios.size(), step_ratios.front(), step_ratios.back(), rules_s / ingest_s);
  return ratio < 0.10 ? 0 : 2;
}

}  // namespace
}  // namespace brickcast

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  return brickcast::Run(quick);
}
