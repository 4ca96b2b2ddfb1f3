// The TimeMixer network as LibTorch modules (internal to src/forecast/). Module and parameter
// names mirror the official Python code so that its state_dict imports by name.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "brickcast/timemixer.h"
#include "forecast/timemixer_inference.h"

namespace brickcast::forecast {

namespace nn = torch::nn;
using torch::Tensor;

// Linear -> GELU -> Linear, as torch.nn.Sequential(Linear, GELU, Linear): parameters "0.*", "2.*".
inline nn::Sequential Mlp(int64_t in, int64_t mid, int64_t out) {
  return nn::Sequential(nn::Linear(in, mid), nn::GELU(), nn::Linear(mid, out));
}

// Moving-average decomposition: trend = mean over a window (edges replicated), season = x - trend.
inline std::pair<Tensor, Tensor> MovingAverageDecomp(const Tensor& x, int64_t kernel) {  // x: [B, T, D]
  const int64_t pad = (kernel - 1) / 2;
  Tensor front = x.slice(1, 0, 1).repeat({1, pad, 1});
  Tensor end = x.slice(1, x.size(1) - 1, x.size(1)).repeat({1, pad, 1});
  Tensor padded = torch::cat({front, x, end}, 1);
  Tensor trend = torch::avg_pool1d(padded.permute({0, 2, 1}), {kernel}, {1}).permute({0, 2, 1});
  return {x - trend, trend};
}

// DFT decomposition on the time axis (the official code transforms the feature axis: a bug):
// the top-k frequencies (DC excluded) are the season, the rest the trend.
inline std::pair<Tensor, Tensor> DftDecomp(const Tensor& x, int64_t top_k) {  // x: [B, T, D]
  Tensor xf = torch::fft::rfft(x, c10::nullopt, 1);
  Tensor mag = xf.abs();
  mag.select(1, 0).zero_();
  const int64_t k = std::min<int64_t>(top_k, mag.size(1));
  Tensor kth = std::get<0>(torch::topk(mag, k, 1)).narrow(1, k - 1, 1);  // per (batch, feature)
  xf = torch::where(mag >= kth, xf, torch::zeros_like(xf));
  Tensor season = torch::fft::irfft(xf, x.size(1), 1);
  return {season, x - season};
}

struct MultiScaleSeasonMixingImpl : nn::Module {
  explicit MultiScaleSeasonMixingImpl(const TimeMixerConfig& c) {
    for (int i = 0; i < c.down_sampling_layers; ++i) {
      const int64_t t_in = c.seq_len / static_cast<int64_t>(std::pow(c.down_sampling_window, i));
      const int64_t t_out = t_in / c.down_sampling_window;
      down_sampling_layers->push_back(Mlp(t_in, t_out, t_out));
    }
    register_module("down_sampling_layers", down_sampling_layers);
  }
  // seasons: [B, D, T_i] per scale -> [B, T_i, D] per scale; bottom-up (fine to coarse).
  std::vector<Tensor> forward(const std::vector<Tensor>& seasons) {
    Tensor high = seasons[0];
    std::vector<Tensor> out{high.permute({0, 2, 1})};
    for (size_t i = 0; i + 1 < seasons.size(); ++i) {
      high = seasons[i + 1] + down_sampling_layers[i]->as<nn::Sequential>()->forward(high);
      out.push_back(high.permute({0, 2, 1}));
    }
    return out;
  }
  nn::ModuleList down_sampling_layers;
};
TORCH_MODULE(MultiScaleSeasonMixing);

struct MultiScaleTrendMixingImpl : nn::Module {
  explicit MultiScaleTrendMixingImpl(const TimeMixerConfig& c) {
    for (int i = c.down_sampling_layers - 1; i >= 0; --i) {
      const int64_t t_big = c.seq_len / static_cast<int64_t>(std::pow(c.down_sampling_window, i));
      const int64_t t_small = t_big / c.down_sampling_window;
      up_sampling_layers->push_back(Mlp(t_small, t_big, t_big));
    }
    register_module("up_sampling_layers", up_sampling_layers);
  }
  // trends: [B, D, T_i] per scale -> [B, T_i, D] per scale; top-down (coarse to fine).
  std::vector<Tensor> forward(const std::vector<Tensor>& trends) {
    const size_t n = trends.size();
    Tensor low = trends[n - 1];
    std::vector<Tensor> out(n);
    out[n - 1] = low.permute({0, 2, 1});
    for (size_t i = 0; i + 1 < n; ++i) {
      low = trends[n - 2 - i] + up_sampling_layers[i]->as<nn::Sequential>()->forward(low);
      out[n - 2 - i] = low.permute({0, 2, 1});
    }
    return out;
  }
  nn::ModuleList up_sampling_layers;
};
TORCH_MODULE(MultiScaleTrendMixing);

struct PastDecomposableMixingImpl : nn::Module {
  explicit PastDecomposableMixingImpl(const TimeMixerConfig& c)
      : config(c),
        mixing_multi_scale_season(c),
        mixing_multi_scale_trend(c),
        out_cross_layer(Mlp(c.d_model, c.d_ff, c.d_model)) {
    register_module("mixing_multi_scale_season", mixing_multi_scale_season);
    register_module("mixing_multi_scale_trend", mixing_multi_scale_trend);
    register_module("out_cross_layer", out_cross_layer);
  }
  std::vector<Tensor> forward(const std::vector<Tensor>& xs) {  // [B*N, T_i, D] per scale
    std::vector<Tensor> seasons, trends;
    for (const Tensor& x : xs) {
      auto [season, trend] = config.decomposition == "dft" ? DftDecomp(x, config.top_k)
                                                           : MovingAverageDecomp(x, config.moving_avg);
      seasons.push_back(season.permute({0, 2, 1}));
      trends.push_back(trend.permute({0, 2, 1}));
    }
    std::vector<Tensor> s = mixing_multi_scale_season(seasons), t = mixing_multi_scale_trend(trends);
    std::vector<Tensor> out;
    for (size_t i = 0; i < xs.size(); ++i) out.push_back(xs[i] + out_cross_layer->forward(s[i] + t[i]));
    return out;
  }
  TimeMixerConfig config;
  MultiScaleSeasonMixing mixing_multi_scale_season;
  MultiScaleTrendMixing mixing_multi_scale_trend;
  nn::Sequential out_cross_layer;
};
TORCH_MODULE(PastDecomposableMixing);

// RevIN: per-sample, per-channel standardisation with a learnt affine map.
struct NormalizeImpl : nn::Module {
  explicit NormalizeImpl(int64_t channels) {
    affine_weight = register_parameter("affine_weight", torch::ones({channels}));
    affine_bias = register_parameter("affine_bias", torch::zeros({channels}));
  }
  // x: [B, T, N]; returns the normalised x, and (mean, std) for Denormalize.
  // `last`: centred on the newest step instead of the mean (TimeMixerConfig::norm_center).
  Tensor Normalize(const Tensor& x, Tensor* mean, Tensor* std, bool last) {
    *mean = (last ? x.slice(1, x.size(1) - 1) : x.mean(1, true)).detach();
    *std = torch::sqrt(x.var(1, /*unbiased=*/false, true) + 1e-5).detach();
    return (x - *mean) / *std * affine_weight + affine_bias;
  }
  Tensor Denormalize(const Tensor& y, const Tensor& mean, const Tensor& std) {
    return (y - affine_bias) / (affine_weight + 1e-10) * std + mean;
  }
  Tensor affine_weight, affine_bias;
};
TORCH_MODULE(Normalize);

struct TokenEmbeddingImpl : nn::Module {
  explicit TokenEmbeddingImpl(int64_t d_model)
      : tokenConv(nn::Conv1dOptions(1, d_model, 3).padding(1).padding_mode(torch::kCircular).bias(false)) {
    register_module("tokenConv", tokenConv);
    nn::init::kaiming_normal_(tokenConv->weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
  }
  Tensor forward(const Tensor& x) { return tokenConv(x.permute({0, 2, 1})).transpose(1, 2); }
  nn::Conv1d tokenConv;
};
TORCH_MODULE(TokenEmbedding);

struct TemporalEmbeddingImpl : nn::Module {
  TemporalEmbeddingImpl(int64_t features, int64_t d_model) : embed(nn::LinearOptions(features, d_model).bias(false)) {
    register_module("embed", embed);
  }
  nn::Linear embed;
};
TORCH_MODULE(TemporalEmbedding);

struct DataEmbeddingImpl : nn::Module {
  DataEmbeddingImpl(const TimeMixerConfig& c) : value_embedding(c.d_model), dropout(c.dropout) {
    register_module("value_embedding", value_embedding);
    if (c.time_features > 0) temporal_embedding = register_module("temporal_embedding", TemporalEmbedding(c.time_features, c.d_model));
    register_module("dropout", dropout);
  }
  Tensor forward(const Tensor& x, const c10::optional<Tensor>& marks) {
    Tensor out = value_embedding(x);
    if (marks && temporal_embedding) out = out + temporal_embedding->embed(*marks);
    return dropout(out);
  }
  TokenEmbedding value_embedding;
  TemporalEmbedding temporal_embedding{nullptr};
  nn::Dropout dropout;
};
TORCH_MODULE(DataEmbedding);

struct TimeMixerNetImpl : nn::Module {
  explicit TimeMixerNetImpl(const TimeMixerConfig& c) : config(c), enc_embedding(c) {
    for (int i = 0; i < c.e_layers; ++i) pdm_blocks->push_back(PastDecomposableMixing(c));
    register_module("pdm_blocks", pdm_blocks);
    register_module("enc_embedding", enc_embedding);
    for (int i = 0; i <= c.down_sampling_layers; ++i) normalize_layers->push_back(Normalize(c.channels));
    register_module("normalize_layers", normalize_layers);
    for (int i = 0; i <= c.down_sampling_layers; ++i) {
      const int64_t t = c.seq_len / static_cast<int64_t>(std::pow(c.down_sampling_window, i));
      predict_layers->push_back(nn::Linear(t, c.pred_len));
    }
    register_module("predict_layers", predict_layers);
    projection_layer = register_module("projection_layer", nn::Linear(c.d_model, 1));
    if (c.down_sampling_method == "conv") {
      down_conv = register_module(
          "down_pool", nn::Conv1d(nn::Conv1dOptions(c.channels, c.channels, 3)
                                      .stride(c.down_sampling_window)
                                      .padding(1)
                                      .padding_mode(torch::kCircular)
                                      .bias(false)));
    }
  }

  Tensor DownSample(const Tensor& x) {  // [B, N, T] -> [B, N, T/w]
    const int64_t w = config.down_sampling_window;
    if (config.down_sampling_method == "max") return torch::max_pool1d(x, {w});
    if (config.down_sampling_method == "conv") return down_conv(x);
    return torch::avg_pool1d(x, {w});
  }

  // x: [B, T, N]; marks: [B, T, F] or undefined. Returns [B, H, N].
  Tensor forward(const Tensor& x, const Tensor& marks) {
    const int64_t batch = x.size(0), n = x.size(2);
    const bool with_marks = marks.defined() && config.time_features > 0;
    // Multiscale inputs: pooled values, strided marks.
    std::vector<Tensor> xs{x}, ms;
    if (with_marks) ms.push_back(marks);
    Tensor cur = x.permute({0, 2, 1});
    for (int i = 0; i < config.down_sampling_layers; ++i) {
      cur = DownSample(cur);
      xs.push_back(cur.permute({0, 2, 1}));
      if (with_marks) ms.push_back(ms.back().slice(1, 0, c10::nullopt, config.down_sampling_window));
    }
    // Normalise each scale, then channel independence: [B, T_i, N] -> [B*N, T_i, 1], row b*N + n.
    Tensor mean0, std0;
    std::vector<Tensor> enc;
    for (size_t i = 0; i < xs.size(); ++i) {
      Tensor xi = xs[i];
      if (config.use_norm) {
        Tensor mean, std;
        xi = normalize_layers[i]->as<NormalizeImpl>()->Normalize(xi, &mean, &std, config.norm_center == "last");
        if (i == 0) {
          mean0 = mean;
          std0 = std;
        }
      }
      const int64_t t = xi.size(1);
      xi = xi.permute({0, 2, 1}).contiguous().reshape({batch * n, t, 1});
      c10::optional<Tensor> mi;
      // Per-sample tiling (repeat_interleave), not the official repeat(N, 1, 1) that mixes samples.
      if (with_marks) mi = ms[i].repeat_interleave(n, 0);
      enc.push_back(enc_embedding(xi, mi));
    }
    for (auto& block : *pdm_blocks) enc = block->as<PastDecomposableMixingImpl>()->forward(enc);
    // Future multipredictor mixing: one predictor per scale, summed.
    Tensor y;
    for (size_t i = 0; i < enc.size(); ++i) {
      Tensor d = predict_layers[i]->as<nn::Linear>()->forward(enc[i].permute({0, 2, 1})).permute({0, 2, 1});
      d = projection_layer(d).reshape({batch, n, config.pred_len}).permute({0, 2, 1});
      y = y.defined() ? y + d : d;
    }
    if (config.use_norm) y = normalize_layers[0]->as<NormalizeImpl>()->Denormalize(y, mean0, std0);
    return y;
  }

  TimeMixerConfig config;
  nn::ModuleList pdm_blocks;
  DataEmbedding enc_embedding;
  nn::ModuleList normalize_layers;
  nn::ModuleList predict_layers;
  nn::Linear projection_layer{nullptr};
  nn::Conv1d down_conv{nullptr};
};
TORCH_MODULE(TimeMixerNet);

// The configuration as stored in model files (every field, by its TimeMixerConfig name).
inline nlohmann::json ConfigToJson(const TimeMixerConfig& c) {
  return {{"seq_len", c.seq_len},
          {"pred_len", c.pred_len},
          {"channels", c.channels},
          {"d_model", c.d_model},
          {"d_ff", c.d_ff},
          {"e_layers", c.e_layers},
          {"down_sampling_layers", c.down_sampling_layers},
          {"down_sampling_window", c.down_sampling_window},
          {"down_sampling_method", c.down_sampling_method},
          {"decomposition", c.decomposition},
          {"moving_avg", c.moving_avg},
          {"top_k", c.top_k},
          {"use_norm", c.use_norm},
          {"norm_center", c.norm_center},
          {"time_features", c.time_features},
          {"dropout", c.dropout}};
}

// REQUIRES: every field present (throws nlohmann::json::exception otherwise).
inline TimeMixerConfig ConfigFromJson(const nlohmann::json& j) {
  TimeMixerConfig c;
  c.seq_len = j.at("seq_len");
  c.pred_len = j.at("pred_len");
  c.channels = j.at("channels");
  c.d_model = j.at("d_model");
  c.d_ff = j.at("d_ff");
  c.e_layers = j.at("e_layers");
  c.down_sampling_layers = j.at("down_sampling_layers");
  c.down_sampling_window = j.at("down_sampling_window");
  c.down_sampling_method = j.at("down_sampling_method");
  c.decomposition = j.at("decomposition");
  c.moving_avg = j.at("moving_avg");
  c.top_k = j.at("top_k");
  c.use_norm = j.at("use_norm");
  c.norm_center = j.value("norm_center", "mean");  // absent in files written before it existed
  c.time_features = j.at("time_features");
  c.dropout = j.at("dropout");
  return c;
}

}  // namespace brickcast::forecast

namespace brickcast {

struct TimeMixerModel::Impl {
  explicit Impl(const TimeMixerConfig& c) : config(c), net(c) { net->eval(); }

  // Rebuilds the inference plan from the network's current weights; called by whatever changes
  // them (creation, loading, import, training). Configurations the plan does not cover keep none.
  Status WeightsChanged() {
    std::shared_ptr<const forecast::TimeMixerInference> fresh;
    if (forecast::TimeMixerInference::Supports(config)) {
      forecast::ParameterMap values;
      for (const auto& item : net->named_parameters()) {
        torch::Tensor t = item.value().detach().contiguous().to(torch::kFloat32);
        values[item.key()] = {t.sizes().vec(), std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())};
      }
      auto built = forecast::TimeMixerInference::Build(config, values);
      if (!built.ok()) return built.status();
      fresh = std::move(*built);
    }
    std::lock_guard<std::mutex> lock(plan_mu);
    plan = std::move(fresh);
    return Status::Ok();
  }
  std::shared_ptr<const forecast::TimeMixerInference> Plan() const {
    std::lock_guard<std::mutex> lock(plan_mu);
    return plan;
  }

  TimeMixerConfig config;
  forecast::TimeMixerNet net;
  ModelMetadata metadata;

 private:
  mutable std::mutex plan_mu;
  std::shared_ptr<const forecast::TimeMixerInference> plan;  // null: forward through the modules
};

}  // namespace brickcast
