#include "forecast/timemixer_inference.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>

namespace brickcast::forecast {
namespace {

// The system BLAS's sgemm (Fortran interface), the one LibTorch itself calls (OpenBLAS when
// libopenblas0-pthread is installed): looked up at run time as in blas_threads.cc, so no BLAS
// development package is needed to build.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc);

SgemmFn Sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

// Row-major C[m x n] = A[m x k] * op(B) + beta * C, op(B) = B [k x n], or B^T for B [n x k].
// BLAS is column-major, so it computes C^T = op(B)^T * A^T.
void Gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, bool transpose_b, float beta, float* c) {
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int lda = ki, ldb = transpose_b ? ki : ni, ldc = ni;
  const float one = 1.0f;
  Sgemm()(transpose_b ? "T" : "N", "N", &ni, &mi, &ki, &one, b, &ldb, a, &lda, &beta, c, &ldc);
}

// The element-wise loops below are compiled for x86-64-v3 (AVX2 and FMA: Haswell, Zen) and for
// baseline x86-64, picked at load time: one binary runs anywhere and uses wide registers where
// they exist.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BRICKCAST_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BRICKCAST_VECTOR_CLONES
#endif

// erf(x) = x P(x^2) / Q(x^2) on |x| <= 4 (|erf| rounds to 1 in float beyond), a rational
// least-squares fit made for this file (max abs error 2e-9 in exact arithmetic, 4e-7 evaluated in
// float; GELU's error is then below 1.1e-6 for |x| <= 10). No branches and no library calls, so
// the GELU loop vectorises.
constexpr float kErfP[] = {1.1283791839293111f,   0.19262220481758102f,  0.05583865729138057f,
                           0.004231939702288799f, 0.0004167178032678078f, 7.00954880956256e-06f};
constexpr float kErfQ[] = {1.0f,
                           0.5040405699672544f,
                           0.11749805863561458f,
                           0.016324476627023056f,
                           0.0014292890586806014f,
                           7.414786216065547e-05f,
                           2.722568684665472e-07f};

BRICKCAST_VECTOR_CLONES void GeluInPlace(float* __restrict v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = v[i];
    float z = x * 0.70710678118654752f;
    z = z > 4.0f ? 4.0f : z;  // value selects, not std::min/max (references): these vectorise
    z = z < -4.0f ? -4.0f : z;
    const float z2 = z * z;
    const float p = kErfP[0] + z2 * (kErfP[1] + z2 * (kErfP[2] + z2 * (kErfP[3] + z2 * (kErfP[4] + z2 * kErfP[5]))));
    const float q =
        kErfQ[0] + z2 * (kErfQ[1] + z2 * (kErfQ[2] + z2 * (kErfQ[3] + z2 * (kErfQ[4] + z2 * (kErfQ[5] + z2 * kErfQ[6])))));
    v[i] = 0.5f * x * (1.0f + z * p / q);
  }
}

// Fills rows x cols with bias[row] (time-axis layers) or bias[col] (channel layers), for a
// product to accumulate onto (BLAS's beta = 1): the bias costs no pass of its own, and BLAS skips
// the pass that zeroes its output for beta = 0.
BRICKCAST_VECTOR_CLONES void FillRowBias(float* __restrict v, int64_t rows, int64_t cols, const float* __restrict bias) {
  for (int64_t r = 0; r < rows; ++r) std::fill(v + r * cols, v + (r + 1) * cols, bias[r]);
}
BRICKCAST_VECTOR_CLONES void FillColumnBias(float* __restrict v, int64_t rows, int64_t cols, const float* __restrict bias) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] = bias[c];
}
// Adds bias[row] or bias[col] where the product's output already holds something (a residual).
BRICKCAST_VECTOR_CLONES void AddRowBias(float* __restrict v, int64_t rows, int64_t cols, const float* __restrict bias) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] += bias[r];
}
BRICKCAST_VECTOR_CLONES void AddColumnBias(float* __restrict v, int64_t rows, int64_t cols, const float* __restrict bias) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] += bias[c];
}

// One step of one row's embedding: the circular 3-tap convolution of the value (taps [3][d]) plus,
// with time features, their linear embedding (embed [features][d]).
BRICKCAST_VECTOR_CLONES void Embed(float* __restrict out, int64_t d, const float* __restrict taps, float prev,
                                   float cur, float next, const float* __restrict marks,
                                   const float* __restrict embed, int64_t features) {
  for (int64_t k = 0; k < d; ++k) out[k] = taps[k] * prev + taps[d + k] * cur + taps[2 * d + k] * next;
  for (int64_t f = 0; f < features; ++f)
    for (int64_t k = 0; k < d; ++k) out[k] += marks[f] * embed[f * d + k];
}

// trend[t] = mean of x over t-pad .. t+pad, edges replicated (x: [steps][cols]);
// season = x - trend. A running window sum (one row in, one out per step), so the cost does not
// grow with the kernel; kept in double, so 96 steps of adding and removing do not drift.
BRICKCAST_VECTOR_CLONES void Decompose(const float* __restrict x, int64_t steps, int64_t cols, int kernel,
                                       float* __restrict season, float* __restrict trend, double* __restrict sum) {
  const int64_t pad = (kernel - 1) / 2;
  const double inv = 1.0 / kernel;
  auto row = [&](int64_t j) { return x + std::clamp<int64_t>(j, 0, steps - 1) * cols; };
  std::fill(sum, sum + cols, 0.0);
  for (int64_t j = -pad; j <= pad; ++j) {
    const float* __restrict src = row(j);
    for (int64_t c = 0; c < cols; ++c) sum[c] += src[c];
  }
  for (int64_t t = 0; t < steps; ++t) {
    if (t > 0) {
      const float* __restrict in = row(t + pad);
      const float* __restrict out = row(t - 1 - pad);
      for (int64_t c = 0; c < cols; ++c) sum[c] += static_cast<double>(in[c]) - static_cast<double>(out[c]);
    }
    const float* __restrict v = x + t * cols;
    float* __restrict tr = trend + t * cols;
    float* __restrict se = season + t * cols;
    for (int64_t c = 0; c < cols; ++c) {
      tr[c] = static_cast<float>(sum[c] * inv);
      se[c] = v[c] - tr[c];
    }
  }
}

BRICKCAST_VECTOR_CLONES void AddInPlace(float* __restrict a, const float* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

// Per-thread buffers, grown to the largest chunk seen and kept between calls.
thread_local std::vector<float> scratch;
thread_local std::vector<double> window_sums;

}  // namespace

bool TimeMixerInference::Supports(const TimeMixerConfig& c) {
  return Sgemm() != nullptr && c.decomposition == "moving_avg" &&
         (c.down_sampling_method == "avg" || c.down_sampling_method == "max");
}

StatusOr<std::unique_ptr<const TimeMixerInference>> TimeMixerInference::Build(const TimeMixerConfig& c,
                                                                              const ParameterMap& p) {
  if (!Supports(c)) return Status::InvalidArgument("this TimeMixer configuration needs the LibTorch modules");
  std::unique_ptr<TimeMixerInference> plan(new TimeMixerInference(c));
  std::vector<std::string> errors;
  auto take = [&](const std::string& name, std::vector<int64_t> shape) -> std::vector<float> {
    auto it = p.find(name);
    if (it == p.end() || it->second.shape != shape) {
      errors.push_back(name);
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      return std::vector<float>(static_cast<size_t>(n), 0.0f);
    }
    return it->second.values;
  };
  auto linear = [&](const std::string& name, int64_t in, int64_t out) {
    Linear l;
    l.in = in;
    l.out = out;
    l.w = take(name + ".weight", {out, in});
    l.b = take(name + ".bias", {out});
    return l;
  };
  auto mlp = [&](const std::string& name, int64_t in, int64_t mid, int64_t out) {
    return Mlp{linear(name + ".0", in, mid), linear(name + ".2", mid, out)};
  };
  const int64_t d = c.d_model, scales = c.down_sampling_layers + 1;
  for (int64_t i = 0, t = c.seq_len; i < scales; ++i, t /= c.down_sampling_window) plan->steps_.push_back(t);
  const std::vector<int64_t>& steps = plan->steps_;
  // Stored tap-major [3][d] and feature-major [features][d], so Embed's loops run along d.
  const std::vector<float> conv = take("enc_embedding.value_embedding.tokenConv.weight", {d, 1, 3});
  plan->token_conv_.resize(conv.size());
  for (int64_t k = 0; k < d; ++k)
    for (int64_t tap = 0; tap < 3; ++tap) plan->token_conv_[tap * d + k] = conv[k * 3 + tap];
  if (c.time_features > 0) {
    const std::vector<float> embed = take("enc_embedding.temporal_embedding.embed.weight", {d, c.time_features});
    plan->time_embed_.resize(embed.size());
    for (int64_t k = 0; k < d; ++k)
      for (int64_t f = 0; f < c.time_features; ++f) plan->time_embed_[f * d + k] = embed[k * c.time_features + f];
  }
  for (int64_t i = 0; i < scales; ++i) {
    const std::string n = "normalize_layers." + std::to_string(i);
    plan->norm_w_.push_back(take(n + ".affine_weight", {c.channels}));
    plan->norm_b_.push_back(take(n + ".affine_bias", {c.channels}));
  }
  for (int b = 0; b < c.e_layers; ++b) {
    const std::string n = "pdm_blocks." + std::to_string(b);
    Block block;
    for (int64_t i = 0; i + 1 < scales; ++i)
      block.season.push_back(mlp(n + ".mixing_multi_scale_season.down_sampling_layers." + std::to_string(i), steps[i],
                                 steps[i + 1], steps[i + 1]));
    // up_sampling_layers[j] maps scale (scales-1-j) to (scales-2-j); stored by the finer scale.
    block.trend.resize(static_cast<size_t>(scales - 1));
    for (int64_t j = 0; j + 1 < scales; ++j) {
      const int64_t fine = scales - 2 - j;
      block.trend[static_cast<size_t>(fine)] = mlp(n + ".mixing_multi_scale_trend.up_sampling_layers." + std::to_string(j),
                                                   steps[fine + 1], steps[fine], steps[fine]);
    }
    block.cross = mlp(n + ".out_cross_layer", d, c.d_ff, d);
    plan->blocks_.push_back(std::move(block));
  }
  for (int64_t i = 0; i < scales; ++i)
    plan->predict_.push_back(linear("predict_layers." + std::to_string(i), steps[i], c.pred_len));
  plan->projection_ = take("projection_layer.weight", {1, d});
  const std::vector<float> projection_bias = take("projection_layer.bias", {1});
  if (!errors.empty()) {
    std::string msg = "TimeMixer inference plan: parameters missing or of the wrong shape:";
    for (const std::string& e : errors) msg += " " + e;
    return Status::InvalidArgument(msg);
  }
  // The projection to one value is linear, so it is applied before the predictors:
  // sum_d w_d (P_i X_i + b_i)[h, d] + b = P_i (X_i w)[h] + b_i[h] sum_d w_d + b.
  float projection_sum = 0;
  for (float w : plan->projection_) projection_sum += w;
  for (const Linear& l : plan->predict_) {
    std::vector<float> bias(l.b.size());
    for (size_t h = 0; h < bias.size(); ++h) bias[h] = l.b[h] * projection_sum;
    plan->predict_bias_.push_back(std::move(bias));
  }
  plan->predict_bias_sum_ = projection_bias[0] * static_cast<float>(scales);
  return std::unique_ptr<const TimeMixerInference>(std::move(plan));
}

void TimeMixerInference::ForecastRows(const float* x, const float* marks, int64_t row_begin, int64_t row_end,
                                      float* y) const {
  for (int64_t r = row_begin; r < row_end; r += kChunkRows)
    ForecastChunk(x, marks, r, std::min(kChunkRows, row_end - r), y);
}

void TimeMixerInference::ForecastChunk(const float* x, const float* marks, int64_t row0, int64_t rows, float* y) const {
  const int64_t n_channels = c_.channels, d = c_.d_model, ff = c_.d_ff, h_len = c_.pred_len;
  const int64_t scales = static_cast<int64_t>(steps_.size()), cols = rows * d, t0 = steps_[0];
  const int64_t window = c_.down_sampling_window;
  int64_t all_steps = 0;
  for (int64_t t : steps_) all_steps += t;

  // Buffers: raw values per scale and row, activations, seasons and trends per scale ([T][rows][d]),
  // the hidden layers, the projected activations and the forecast.
  const size_t need = static_cast<size_t>(all_steps * rows + 2 * rows + 3 * all_steps * cols + t0 * cols +
                                          t0 * rows * ff + all_steps * rows + h_len * rows);
  if (scratch.size() < need) scratch.resize(need);
  if (window_sums.size() < static_cast<size_t>(cols)) window_sums.resize(static_cast<size_t>(cols));
  float* next = scratch.data();
  auto carve = [&](int64_t n) {
    float* out = next;
    next += n;
    return out;
  };
  std::vector<float*> raw, act, season, trend, projected;
  for (int64_t t : steps_) raw.push_back(carve(t * rows));  // [row][t]
  float* mean0 = carve(rows);
  float* std0 = carve(rows);
  for (int64_t t : steps_) act.push_back(carve(t * cols));
  for (int64_t t : steps_) season.push_back(carve(t * cols));
  for (int64_t t : steps_) trend.push_back(carve(t * cols));
  float* hidden = carve(t0 * cols);
  float* cross_hidden = carve(t0 * rows * ff);
  for (int64_t t : steps_) projected.push_back(carve(t * rows));
  float* forecast = carve(h_len * rows);

  // Each row's series, and its pooled versions at the coarser scales.
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = row0 + r, b = row / n_channels, ch = row % n_channels;
    const float* src = x + b * t0 * n_channels + ch;
    for (int64_t t = 0; t < t0; ++t) raw[0][r * t0 + t] = src[t * n_channels];
    for (int64_t i = 1; i < scales; ++i) {
      const float* fine = raw[static_cast<size_t>(i - 1)] + r * steps_[static_cast<size_t>(i - 1)];
      float* coarse = raw[static_cast<size_t>(i)] + r * steps_[static_cast<size_t>(i)];
      for (int64_t t = 0; t < steps_[static_cast<size_t>(i)]; ++t) {
        const float* w = fine + t * window;
        float v = w[0];
        if (c_.down_sampling_method == "max") {
          for (int64_t k = 1; k < window; ++k) v = std::max(v, w[k]);
        } else {
          for (int64_t k = 1; k < window; ++k) v += w[k];
          v /= static_cast<float>(window);
        }
        coarse[t] = v;
      }
    }
  }

  // RevIN per scale and row, then the embedding: a circular 3-tap convolution of the value (and
  // the time features, strided to the scale).
  for (int64_t i = 0; i < scales; ++i) {
    const size_t si = static_cast<size_t>(i);
    const int64_t steps = steps_[si], stride = static_cast<int64_t>(std::pow(window, i));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = row0 + r, b = row / n_channels, ch = row % n_channels;
      float* v = raw[si] + r * steps;
      if (c_.use_norm) {
        float mean = 0;
        for (int64_t t = 0; t < steps; ++t) mean += v[t];
        mean /= static_cast<float>(steps);
        float var = 0;  // around the mean whatever the centre: RevIN's scale is the spread
        for (int64_t t = 0; t < steps; ++t) var += (v[t] - mean) * (v[t] - mean);
        const float sd = std::sqrt(var / static_cast<float>(steps) + 1e-5f);
        if (center_last_) mean = v[steps - 1];
        const float w = norm_w_[si][static_cast<size_t>(ch)], bias = norm_b_[si][static_cast<size_t>(ch)];
        for (int64_t t = 0; t < steps; ++t) v[t] = (v[t] - mean) / sd * w + bias;
        if (i == 0) {
          mean0[r] = mean;
          std0[r] = sd;
        }
      }
      const bool with_marks = marks != nullptr && c_.time_features > 0;
      for (int64_t t = 0; t < steps; ++t) {
        Embed(act[si] + (t * rows + r) * d, d, token_conv_.data(), v[(t + steps - 1) % steps], v[t],
              v[(t + 1) % steps], with_marks ? marks + (b * t0 + t * stride) * c_.time_features : nullptr,
              time_embed_.data(), with_marks ? c_.time_features : 0);
      }
    }
  }

  // Past-decomposable mixing.
  auto time_mlp = [&](const Mlp& mlp, const float* in, float* accumulate) {
    // accumulate[T_out][cols] += second(GELU(first(in)))
    FillRowBias(hidden, mlp.first.out, cols, mlp.first.b.data());
    Gemm(mlp.first.out, cols, mlp.first.in, mlp.first.w.data(), in, false, 1.0f, hidden);
    GeluInPlace(hidden, mlp.first.out * cols);
    Gemm(mlp.second.out, cols, mlp.second.in, mlp.second.w.data(), hidden, false, 1.0f, accumulate);
    AddRowBias(accumulate, mlp.second.out, cols, mlp.second.b.data());
  };
  for (const Block& block : blocks_) {
    for (int64_t i = 0; i < scales; ++i) {
      const size_t si = static_cast<size_t>(i);
      Decompose(act[si], steps_[si], cols, c_.moving_avg, season[si], trend[si], window_sums.data());
    }
    for (int64_t i = 0; i + 1 < scales; ++i)  // seasons bottom-up: fine to coarse
      time_mlp(block.season[static_cast<size_t>(i)], season[static_cast<size_t>(i)], season[static_cast<size_t>(i + 1)]);
    for (int64_t i = scales - 2; i >= 0; --i)  // trends top-down: coarse to fine
      time_mlp(block.trend[static_cast<size_t>(i)], trend[static_cast<size_t>(i + 1)], trend[static_cast<size_t>(i)]);
    for (int64_t i = 0; i < scales; ++i) {
      const size_t si = static_cast<size_t>(i);
      const int64_t n = steps_[si] * rows;  // rows of the [T*rows][d] view
      AddInPlace(season[si], trend[si], n * d);
      FillColumnBias(cross_hidden, n, ff, block.cross.first.b.data());
      Gemm(n, ff, d, season[si], block.cross.first.w.data(), true, 1.0f, cross_hidden);
      GeluInPlace(cross_hidden, n * ff);
      Gemm(n, d, ff, cross_hidden, block.cross.second.w.data(), true, 1.0f, act[si]);
      AddColumnBias(act[si], n, d, block.cross.second.b.data());
    }
  }

  // Future multipredictor mixing, projection first: [T_i][rows] per scale, then one product each.
  for (int64_t i = 0; i < scales; ++i) {
    const size_t si = static_cast<size_t>(i);
    const int64_t n = steps_[si] * rows;
    Gemm(n, 1, d, act[si], projection_.data(), false, 0.0f, projected[si]);
    Gemm(h_len, rows, steps_[si], predict_[si].w.data(), projected[si], false, i == 0 ? 0.0f : 1.0f, forecast);
  }
  for (int64_t h = 0; h < h_len; ++h) {
    float bias = predict_bias_sum_;
    for (int64_t i = 0; i < scales; ++i) bias += predict_bias_[static_cast<size_t>(i)][static_cast<size_t>(h)];
    for (int64_t r = 0; r < rows; ++r) forecast[h * rows + r] += bias;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = row0 + r, b = row / n_channels, ch = row % n_channels;
    float* out = y + b * h_len * n_channels + ch;
    const float w = norm_w_[0][static_cast<size_t>(ch)], bias = norm_b_[0][static_cast<size_t>(ch)];
    for (int64_t h = 0; h < h_len; ++h) {
      float v = forecast[h * rows + r];
      if (c_.use_norm) v = (v - bias) / (w + 1e-10f) * std0[r] + mean0[r];
      out[h * n_channels] = v;
    }
  }
}

}  // namespace brickcast::forecast
