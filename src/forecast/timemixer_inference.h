// TimeMixer inference without LibTorch's per-operator machinery (internal to src/forecast/).
//
// The network is channel independent: after RevIN every (sample, channel) row goes through the
// same layers on its own. This plan runs a chunk of rows at a time with activations laid out
// [time][row][d_model], so that every layer is one matrix product over the whole chunk:
// time-mixing layers (Linear over the time axis) multiply a [T_out x T_in] weight by the
// [T_in x rows*d_model] activations, and channel layers (out_cross_layer) multiply the
// [T*rows x d_model] activations by a weight, with no transposes or copies in between. The
// moving-average decomposition is a windowed sum, the projection to one value is folded into the
// predictors (project first, then one [H x T_i] product per scale), GELU is a vectorisable
// rational approximation of erf, and each thread keeps its buffers between calls.
// Outputs equal the LibTorch modules' (timemixer_net.h) to float rounding; training and the
// configurations this plan does not cover (DFT decomposition, convolutional down-sampling) use
// the modules.
// Thread-safety: const after Build; ForecastRows may run on many threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/status.h"
#include "brickcast/timemixer.h"

namespace brickcast::forecast {

struct ParameterValues {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
};
// By the module path of the LibTorch network ("pdm_blocks.0.out_cross_layer.0.weight").
using ParameterMap = std::map<std::string, ParameterValues>;

class TimeMixerInference {
 public:
  // Whether the configuration is one this plan runs (and the system BLAS is reachable).
  static bool Supports(const TimeMixerConfig& config);
  // REQUIRES: Supports(config). Fails if a parameter is missing or has the wrong shape.
  static StatusOr<std::unique_ptr<const TimeMixerInference>> Build(const TimeMixerConfig& config,
                                                                   const ParameterMap& parameters);

  // Forecasts rows [row_begin, row_end) of a batch, row = sample * channels + channel.
  // x: [batch, seq_len, channels]; marks: [batch, seq_len, time_features] or nullptr; writes those
  // rows of y: [batch, pred_len, channels].
  void ForecastRows(const float* x, const float* marks, int64_t row_begin, int64_t row_end, float* y) const;

  // Rows per chunk: activations of a chunk stay in the core's cache.
  static constexpr int64_t kChunkRows = 32;

 private:
  struct Linear {  // y = W x + b; W: [out x in] row-major
    int64_t in = 0, out = 0;
    std::vector<float> w, b;
  };
  struct Mlp {  // Linear -> GELU -> Linear
    Linear first, second;
  };
  struct Block {
    std::vector<Mlp> season;  // scale i -> i + 1 (time axis)
    std::vector<Mlp> trend;   // scale i + 1 -> i (time axis), indexed by the finer scale i
    Mlp cross;                // d_model -> d_ff -> d_model
  };

  explicit TimeMixerInference(const TimeMixerConfig& config) : c_(config), center_last_(config.norm_center == "last") {}
  void ForecastChunk(const float* x, const float* marks, int64_t row0, int64_t rows, float* y) const;

  TimeMixerConfig c_;
  bool center_last_;  // RevIN centred on the newest step (norm_center "last")
  std::vector<int64_t> steps_;                // T_i per scale
  std::vector<float> token_conv_;             // [3][d_model]
  std::vector<float> time_embed_;             // [time_features][d_model]
  std::vector<std::vector<float>> norm_w_, norm_b_;  // per scale, per channel
  std::vector<Block> blocks_;
  std::vector<Linear> predict_;               // per scale: pred_len x T_i
  std::vector<float> projection_;             // [d_model]
  float predict_bias_sum_ = 0;                // projection bias, once per scale
  std::vector<std::vector<float>> predict_bias_;  // per scale, per horizon step: b_i[h] * sum(projection)
};

}  // namespace brickcast::forecast
