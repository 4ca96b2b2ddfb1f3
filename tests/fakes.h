// Test doubles shared by the tests, so tests of rules, alerts and serving need no LibTorch:
//  - TrendForecaster: a transparent single-channel Forecaster (last value plus the mean step);
//    it can be slowed down or made to fail, and records the largest batch it saw.
//  - ManualClock (brickcast/clock.h) is the clock double; SeriesStore and EventBus are cheap and
//    deterministic enough to use as they are.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "brickcast/clock.h"
#include "brickcast/forecaster.h"

namespace brickcast::testing {

class TrendForecaster : public Forecaster {
 public:
  TrendForecaster(int seq, int pred, std::string name = "trend", int64_t step_seconds = 60)
      : seq_(seq), pred_(pred), step_seconds_(step_seconds), name_(std::move(name)) {}
  int seq_len() const override { return seq_; }
  int pred_len() const override { return pred_; }
  int channels() const override { return 1; }
  int time_features() const override { return 0; }
  std::string kind() const override { return "test"; }
  int64_t step_seconds() const override { return step_seconds_; }
  std::string identity() const override { return name_; }
  StatusOr<std::vector<float>> Forecast(const std::vector<float>& x, const std::vector<float>&, int batch) const override {
    ++calls;
    max_batch_seen = std::max(max_batch_seen.load(), batch);
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (fail) return Status::Internal("injected failure");
    std::vector<float> y;
    for (int b = 0; b < batch; ++b) {
      const float* w = &x[static_cast<size_t>(b) * seq_];
      const float slope = (w[seq_ - 1] - w[0]) / static_cast<float>(seq_ - 1);
      for (int h = 1; h <= pred_; ++h) y.push_back(w[seq_ - 1] + slope * static_cast<float>(h));
    }
    return y;
  }
  // Simulated compute time per forward (the backpressure and swap-under-load tests need a model
  // that is slow in real time, since the workers are real threads); 0 by default.
  std::chrono::milliseconds delay{0};
  std::atomic<bool> fail{false};
  mutable std::atomic<int> calls{0}, max_batch_seen{0};

 private:
  int seq_, pred_;
  int64_t step_seconds_;
  std::string name_;
};

}  // namespace brickcast::testing
