// TimeMixer (Wang et al., ICLR 2024) as a native LibTorch model, behind an interface free of
// torch types (only src/forecast/ includes LibTorch, whose headers cost ~18 s per file).
// Architecture and defaults follow the official implementation (thuml/TimeMixer, run.py), with its
// known bugs fixed: time features are tiled per sample (so forecasts do not depend on what else is
// in the batch) and the DFT decomposition transforms the time axis.
// A model is immutable after loading; Forecast() is safe from many threads (inference mode).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brickcast/forecaster.h"
#include "brickcast/status.h"

namespace brickcast {

struct TimeMixerConfig {
  int seq_len = 96;
  int pred_len = 96;
  int channels = 7;  // enc_in = c_out; channel independence: every channel is forecast alone
  int d_model = 16;
  int d_ff = 32;
  int e_layers = 2;  // past-decomposable-mixing blocks
  int down_sampling_layers = 3;
  int down_sampling_window = 2;
  std::string down_sampling_method = "avg";  // avg | max | conv
  std::string decomposition = "moving_avg";  // moving_avg | dft
  int moving_avg = 25;
  int top_k = 5;                 // dft: frequencies kept as season
  bool use_norm = true;          // RevIN
  // RevIN's centre: "mean" (the window mean, as the official code) or "last" (the window's newest
  // value, as NLinear does): then the network forecasts the change from now, and a zero output is
  // persistence, the baseline a short-horizon HVAC forecast has to beat.
  std::string norm_center = "mean";
  int time_features = 4;         // hour of day, day of week, day of month, day of year; 0 = none
  double dropout = 0.1;          // training only

  // Every problem at once, one per line ("seq_len 100 is not divisible by ...").
  Status Validate() const;
};

// Floating-point operations of one forward pass for one window (all channels), counting the
// matrix products only (linear layers, convolutions; 2 per multiply-add). Pooling,
// decomposition and element-wise work are left out, so achieved GFLOP/s is a lower bound.
double ForwardFlops(const TimeMixerConfig& config);

// What a model file says about itself besides its weights.
struct ModelMetadata {
  int64_t step_seconds = 3600;        // sampling interval the model was trained on
  std::vector<std::string> channels;  // channel names (CSV columns); size == config.channels
  std::vector<double> scaler_mean;    // dataset z-score per channel, fitted on the training split
  std::vector<double> scaler_std;
  std::string training = "{}";  // JSON: data, split, options, epochs, stopping reason
  std::string metrics = "{}";   // JSON: validation / test MSE and MAE
  std::string created;          // ISO 8601
  std::string content_hash;     // SHA-256 of the weights; set by Save and checked by Load
};

inline constexpr int kModelFileVersion = 1;
// Every model file starts with this word (then a space and the version).
inline constexpr std::string_view kTimeMixerFileMagic = "brickcast-timemixer";

class TimeMixerModel final : public Forecaster {
 public:
  // Reads a model file written by Save: checks the header, version, configuration, every
  // parameter's name and shape, the size and the content hash, and says which check failed.
  static StatusOr<std::unique_ptr<TimeMixerModel>> Load(const std::string& path);
  // One self-describing file: a header line, a JSON line (configuration, metadata, parameter
  // table, hash) and the float32 weights.
  Status Save(const std::string& path);

  const ModelMetadata& metadata() const;
  ModelMetadata& mutable_metadata();

  // A model with freshly initialised weights (deterministic for a given seed).
  static StatusOr<std::unique_ptr<TimeMixerModel>> Create(const TimeMixerConfig& config, uint64_t seed);
  ~TimeMixerModel() override;
  TimeMixerModel(const TimeMixerModel&) = delete;
  TimeMixerModel& operator=(const TimeMixerModel&) = delete;

  const TimeMixerConfig& config() const;
  int64_t NumParameters() const;

  // x: [batch, seq_len, channels] row-major (normalised as the model was trained: the dataset
  // scaler is the caller's business); marks: [batch, seq_len, time_features] or empty (no time
  // features). Returns [batch, pred_len, channels].
  // Runs the inference plan (timemixer_inference.h) where the configuration has one, else the
  // LibTorch modules.
  StatusOr<std::vector<float>> Forecast(const std::vector<float>& x, const std::vector<float>& marks,
                                        int batch) const override;
  // The same forward through the LibTorch modules, for tests and benchmarks that compare the two.
  StatusOr<std::vector<float>> TEST_ForecastThroughModules(const std::vector<float>& x, const std::vector<float>& marks,
                                                           int batch) const;

  int seq_len() const override { return config().seq_len; }
  int pred_len() const override { return config().pred_len; }
  int channels() const override { return config().channels; }
  int time_features() const override { return config().time_features; }
  std::string kind() const override { return "timemixer"; }
  int64_t step_seconds() const override { return metadata().step_seconds; }
  std::string identity() const override;

  // Imports parameters saved by the official Python TimeMixer: `manifest` (JSON: name -> shape,
  // offset in floats) and `weights` (little-endian float32). Names are the official module paths
  // ("pdm_blocks.0.out_cross_layer.0.weight"); entries the forward pass never uses (LayerNorm of
  // the PDM blocks, the positional table) are accepted and ignored. Every used parameter must be
  // present with the right shape, or nothing is changed.
  Status ImportOfficialParameters(const std::string& manifest_path, const std::string& weights_path);

 private:
  friend class TimeMixerTrainer;
  struct Impl;
  explicit TimeMixerModel(std::unique_ptr<Impl> impl);
  StatusOr<std::vector<float>> Run(const std::vector<float>& x, const std::vector<float>& marks, int batch,
                                   bool through_modules) const;
  std::unique_ptr<Impl> impl_;
};

// Time features of one UTC instant, each scaled to [-0.5, 0.5] as the official `timeF` encoding
// (hour of day, day of week, day of month, day of year), appended to `out`.
void AppendTimeFeatures(int64_t unix_seconds, std::vector<float>* out);

}  // namespace brickcast
