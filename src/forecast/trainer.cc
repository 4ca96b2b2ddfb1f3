// The training loop and evaluation. Shares the network with timemixer.cc through
// timemixer_net.h; the second (and last) file that includes LibTorch.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "brickcast/time.h"
#include "brickcast/training.h"
#include "config/schema.h"
#include "convert/csv.h"
#include "forecast/timemixer_net.h"

namespace brickcast {

using torch::Tensor;

// Friend of TimeMixerModel: reaches the network for training.
class TimeMixerTrainer {
 public:
  static forecast::TimeMixerNet& Net(TimeMixerModel& m) { return m.impl_->net; }
  // Module calls are not const in LibTorch; evaluation does not change the network.
  static forecast::TimeMixerNet& Net(const TimeMixerModel& m) { return m.impl_->net; }
};

namespace {

struct Range {
  size_t begin = 0, end = 0;  // rows [begin, end)
};

struct Split {
  Range train, val, test;
};

StatusOr<Split> MakeSplit(const std::string& kind, size_t rows, int seq_len) {
  Split s;
  if (kind == "ett") {
    // The standard ETT-hour protocol: 12 / 4 / 4 months; val and test windows start seq_len early.
    const size_t a = 12 * 30 * 24, b = a + 4 * 30 * 24, c = b + 4 * 30 * 24;
    if (rows < c) return Status::InvalidArgument("the ett split needs " + std::to_string(c) + " rows, the data has " + std::to_string(rows));
    s.train = {0, a};
    s.val = {a - seq_len, b};
    s.test = {b - seq_len, c};
  } else if (kind == "ratio") {
    const size_t n_train = rows * 7 / 10, n_test = rows * 2 / 10, n_val = rows - n_train - n_test;
    if (n_train < static_cast<size_t>(seq_len)) return Status::InvalidArgument("too few rows for a 70/10/20 split");
    s.train = {0, n_train};
    s.val = {n_train - seq_len, n_train + n_val};
    s.test = {rows - n_test - seq_len, rows};
  } else {
    return Status::InvalidArgument("unknown split '" + kind + "' (ett, ratio)");
  }
  return s;
}

// Window starts inside `r` whose seq_len + pred_len rows are consecutive steps (no gap).
std::vector<int64_t> WindowStarts(const SeriesTable& d, Range r, int seq_len, int pred_len, int64_t step) {
  std::vector<int64_t> starts;
  const size_t span = static_cast<size_t>(seq_len + pred_len);
  size_t segment_start = r.begin;
  for (size_t i = r.begin; i < r.end; ++i) {
    if (i > r.begin && d.times[i] - d.times[i - 1] != step) segment_start = i;
    if (i + 1 >= segment_start + span) starts.push_back(static_cast<int64_t>(i + 1 - span));
  }
  return starts;
}

int64_t MedianStep(const SeriesTable& d) {
  std::vector<int64_t> diffs;
  for (size_t i = 1; i < d.rows() && diffs.size() < 10000; ++i) diffs.push_back(d.times[i] - d.times[i - 1]);
  if (diffs.empty()) return 0;
  std::nth_element(diffs.begin(), diffs.begin() + diffs.size() / 2, diffs.end());
  return diffs[diffs.size() / 2];
}

// Scaled values and time features of the whole table as tensors.
struct Prepared {
  Tensor values;  // [rows, N], z-scored
  Tensor marks;   // [rows, 4]
};

Prepared Prepare(const SeriesTable& d, const std::vector<double>& mean, const std::vector<double>& std) {
  const int64_t rows = static_cast<int64_t>(d.rows()), n = static_cast<int64_t>(d.channels.size());
  Tensor v = torch::from_blob(const_cast<float*>(d.values.data()), {rows, n}, torch::kFloat32).to(torch::kFloat64);
  Tensor m = torch::tensor(mean, torch::kFloat64), s = torch::tensor(std, torch::kFloat64);
  std::vector<float> marks;
  marks.reserve(static_cast<size_t>(rows) * 4);
  for (int64_t t : d.times) AppendTimeFeatures(t, &marks);
  return {((v - m) / s).to(torch::kFloat32), torch::tensor(marks).reshape({rows, 4})};
}

struct BatchTensors {
  Tensor x, marks, y;
};

BatchTensors Gather(const Prepared& p, const std::vector<int64_t>& starts, size_t from, size_t to, int seq, int pred) {
  std::vector<Tensor> xs, ms, ys;
  for (size_t i = from; i < to; ++i) {
    const int64_t s = starts[i];
    xs.push_back(p.values.slice(0, s, s + seq));
    ms.push_back(p.marks.slice(0, s, s + seq));
    ys.push_back(p.values.slice(0, s + seq, s + seq + pred));
  }
  return {torch::stack(xs), torch::stack(ms), torch::stack(ys)};
}

// OneCycleLR (cosine, three_phase = false, div_factor 25, final_div_factor 1e4), cycling Adam's
// beta1 between 0.95 and 0.85 as PyTorch does by default.
struct OneCycle {
  double max_lr, pct_start;
  int64_t total;
  static double Cos(double start, double end, double pct) { return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1); }
  std::pair<double, double> At(int64_t step) const {
    const double initial = max_lr / 25.0, min_lr = initial / 1e4;
    const double up_end = pct_start * static_cast<double>(total) - 1;
    if (step <= up_end) {
      const double pct = up_end <= 0 ? 1.0 : step / up_end;
      return {Cos(initial, max_lr, pct), Cos(0.95, 0.85, pct)};
    }
    const double pct = (step - up_end) / std::max(1.0, (total - 1) - up_end);
    return {Cos(max_lr, min_lr, std::min(1.0, pct)), Cos(0.85, 0.95, std::min(1.0, pct))};
  }
};

std::string Duration(double seconds) {
  char buf[32];
  const int s = static_cast<int>(seconds + 0.5);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

double MeanLoss(forecast::TimeMixerNet& net, const Prepared& p, const std::vector<int64_t>& starts, int seq, int pred,
                int batch, bool marks) {
  torch::NoGradGuard no_grad;
  net->eval();
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < starts.size(); i += static_cast<size_t>(batch)) {
    BatchTensors b = Gather(p, starts, i, std::min(starts.size(), i + static_cast<size_t>(batch)), seq, pred);
    Tensor out = net->forward(b.x, marks ? b.marks : Tensor());
    sum += torch::mse_loss(out, b.y, torch::Reduction::Sum).item<double>();
    count += static_cast<size_t>(out.numel());
  }
  return count == 0 ? 0 : sum / static_cast<double>(count);
}

}  // namespace

StatusOr<SeriesTable> LoadSeriesCsv(const std::string& path, const std::vector<std::string>& columns) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  CsvReader reader(in);
  std::vector<std::string> header, row;
  if (!reader.Next(&header) || header.size() < 2) return Status::InvalidArgument(path + ": no header with a time column and channels");
  for (auto& h : header) h = TrimCopy(h);
  std::vector<size_t> pick;
  SeriesTable t;
  if (columns.empty()) {
    for (size_t i = 1; i < header.size(); ++i) pick.push_back(i);
  } else {
    for (const auto& c : columns) {
      auto it = std::find(header.begin() + 1, header.end(), c);
      if (it == header.end()) return Status::InvalidArgument(path + ": no column '" + c + "'");
      pick.push_back(static_cast<size_t>(it - header.begin()));
    }
  }
  for (size_t i : pick) t.channels.push_back(header[i]);
  const TimeZone utc = TimeZone::Utc();
  while (reader.Next(&row)) {
    if (row.size() != header.size())
      return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": wrong number of fields");
    auto time = ParseIsoDateTime(row[0], utc);
    if (!time.ok()) return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": " + time.status().message());
    if (!t.times.empty() && *time / 1000 <= t.times.back())
      return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": times must increase");
    t.times.push_back(*time / 1000);
    for (size_t i : pick) {
      char* end = nullptr;
      const std::string cell = TrimCopy(row[i]);
      const double v = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0' || !std::isfinite(v))
        return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": column '" + header[i] +
                                       "' is not a number: '" + cell + "'");
      t.values.push_back(static_cast<float>(v));
    }
  }
  if (t.rows() < 2) return Status::InvalidArgument(path + ": fewer than two rows");
  return t;
}

StatusOr<TrainOptions> LoadTrainOptions(const std::string& path) {
  using config::Field;
  using config::FieldType;
  using config::Json;
  static const config::Schema* const kModel = new config::Schema{{
      {"seq_len", FieldType::kInteger, 96, "Input steps."},
      {"pred_len", FieldType::kInteger, 96, "Forecast horizon in steps."},
      {"d_model", FieldType::kInteger, 16, "Model width."},
      {"d_ff", FieldType::kInteger, 32, "Feed-forward width."},
      {"e_layers", FieldType::kInteger, 2, "Past-decomposable-mixing blocks."},
      {"down_sampling_layers", FieldType::kInteger, 3, "Extra scales."},
      {"down_sampling_window", FieldType::kInteger, 2, "Down-sampling factor per scale."},
      {"down_sampling_method", FieldType::kString, "avg", "avg, max or conv."},
      {"decomposition", FieldType::kString, "moving_avg", "moving_avg or dft."},
      {"moving_avg", FieldType::kInteger, 25, "Moving-average kernel (odd)."},
      {"top_k", FieldType::kInteger, 5, "dft: frequencies kept as season."},
      {"use_norm", FieldType::kBoolean, true, "RevIN normalisation."},
      {"time_features", FieldType::kBoolean, true, "Use hour/day time features."},
      {"dropout", FieldType::kNumber, 0.1, "Dropout while training."},
  }};
  static const config::Schema* const kRoot = new config::Schema{{
      {"model", FieldType::kObject, Json(), "Architecture.", kModel},
      {"columns", FieldType::kStringList, Json::array(), "Channels to use (CSV columns); empty: all."},
      {"learning_rate", FieldType::kNumber, 0.01, "Peak learning rate of the one-cycle schedule."},
      {"batch_size", FieldType::kInteger, 128, "Batch size."},
      {"epochs", FieldType::kInteger, 10, "Maximum epochs."},
      {"patience", FieldType::kInteger, 10, "Epochs without validation improvement before stopping."},
      {"pct_start", FieldType::kNumber, 0.2, "Share of the steps spent raising the learning rate."},
      {"seed", FieldType::kInteger, 2021, "Random seed."},
      {"split", FieldType::kString, "ett", "ett (12/4/4 months of hourly rows) or ratio (70/10/20)."},
      {"threads", FieldType::kInteger, 1, "LibTorch threads."},
      {"max_steps_per_epoch", FieldType::kInteger, 0, "Cap on batches per epoch (0: all)."},
  }};
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> errors;
  Json eff;
  config::ParseWithSchema(text.str(), *kRoot, &eff, &errors);
  BRICKCAST_RETURN_IF_ERROR(config::ErrorsToStatus("training configuration " + path, errors));
  TrainOptions o;
  Json m = eff["model"];
  m["channels"] = 1;  // set from the data
  m["time_features"] = m["time_features"].get<bool>() ? 4 : 0;
  o.model = forecast::ConfigFromJson(m);
  for (const auto& c : eff["columns"]) o.columns.push_back(c);
  o.learning_rate = eff["learning_rate"];
  o.batch_size = eff["batch_size"];
  o.epochs = eff["epochs"];
  o.patience = eff["patience"];
  o.pct_start = eff["pct_start"];
  o.seed = eff["seed"];
  o.split = eff["split"];
  o.threads = eff["threads"];
  o.max_steps_per_epoch = eff["max_steps_per_epoch"];
  return o;
}

StatusOr<std::unique_ptr<TimeMixerModel>> TrainTimeMixer(const SeriesTable& data, const std::string& data_name,
                                                         const TrainOptions& options, const ProgressFn& progress) {
  TimeMixerConfig cfg = options.model;
  cfg.channels = static_cast<int>(data.channels.size());
  BRICKCAST_RETURN_IF_ERROR(cfg.Validate());
  if (options.batch_size < 1 || options.epochs < 1) return Status::InvalidArgument("batch_size and epochs must be >= 1");
  auto split = MakeSplit(options.split, data.rows(), cfg.seq_len);
  if (!split.ok()) return split.status();
  const int64_t step = MedianStep(data);
  const int n = cfg.channels;
  try {
    at::set_num_threads(std::max(1, options.threads));
    torch::manual_seed(options.seed);
    // StandardScaler on the training rows only.
    std::vector<double> mean(n, 0), sd(n, 0);
    for (size_t r = split->train.begin; r < split->train.end; ++r)
      for (int c = 0; c < n; ++c) mean[c] += data.values[r * n + c];
    const double rows = static_cast<double>(split->train.end - split->train.begin);
    for (int c = 0; c < n; ++c) mean[c] /= rows;
    for (size_t r = split->train.begin; r < split->train.end; ++r)
      for (int c = 0; c < n; ++c) sd[c] += std::pow(data.values[r * n + c] - mean[c], 2);
    for (int c = 0; c < n; ++c) sd[c] = std::max(1e-8, std::sqrt(sd[c] / rows));
    const Prepared p = Prepare(data, mean, sd);
    const auto train = WindowStarts(data, split->train, cfg.seq_len, cfg.pred_len, step);
    const auto val = WindowStarts(data, split->val, cfg.seq_len, cfg.pred_len, step);
    const auto test = WindowStarts(data, split->test, cfg.seq_len, cfg.pred_len, step);
    if (train.empty() || val.empty()) return Status::InvalidArgument("no gap-free training or validation window");

    auto created = TimeMixerModel::Create(cfg, options.seed);
    if (!created.ok()) return created.status();
    std::unique_ptr<TimeMixerModel> model = std::move(*created);
    forecast::TimeMixerNet& net = TimeMixerTrainer::Net(*model);
    const bool marks = cfg.time_features > 0;
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(options.learning_rate));
    // Full batches only (the official loader drops the last partial batch: a one-sample batch at
    // a high learning rate is a noisy step).
    int64_t steps_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(train.size() / options.batch_size));
    if (options.max_steps_per_epoch > 0) steps_per_epoch = std::min(steps_per_epoch, options.max_steps_per_epoch);
    const OneCycle schedule{options.learning_rate, options.pct_start, steps_per_epoch * options.epochs};

    std::vector<Tensor> best;
    double best_val = INFINITY;
    int stale = 0, epochs_run = 0;
    std::string stop_reason = "max epochs";
    std::mt19937_64 rng(options.seed);
    int64_t global = 0;
    const auto t_start = std::chrono::steady_clock::now();
    std::vector<nlohmann::json> history;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
      std::vector<int64_t> order = train;
      std::shuffle(order.begin(), order.end(), rng);
      net->train();
      double loss_sum = 0;
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        const size_t from = static_cast<size_t>(s) * options.batch_size;
        BatchTensors b = Gather(p, order, from, std::min(order.size(), from + options.batch_size), cfg.seq_len, cfg.pred_len);
        auto [lr, beta1] = schedule.At(global++);
        for (auto& group : opt.param_groups()) {
          auto& o = static_cast<torch::optim::AdamOptions&>(group.options());
          o.lr(lr);
          o.betas(std::make_tuple(beta1, std::get<1>(o.betas())));
        }
        opt.zero_grad();
        Tensor loss = torch::mse_loss(net->forward(b.x, marks ? b.marks : Tensor()), b.y);
        loss.backward();
        opt.step();
        loss_sum += loss.item<double>();
      }
      const double train_loss = loss_sum / static_cast<double>(steps_per_epoch);
      const double val_loss = MeanLoss(net, p, val, cfg.seq_len, cfg.pred_len, options.batch_size, marks);
      const double test_loss = test.empty() ? NAN : MeanLoss(net, p, test, cfg.seq_len, cfg.pred_len, options.batch_size, marks);
      ++epochs_run;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      const double eta = elapsed / epoch * (options.epochs - epoch);
      history.push_back({{"epoch", epoch}, {"train_loss", train_loss}, {"val_loss", val_loss}, {"test_loss", test_loss}});
      if (progress) {
        char line[256];
        std::snprintf(line, sizeof line, "epoch %d/%d  train %.4f  val %.4f  test %.4f  lr %.2e  elapsed %s  eta %s", epoch,
                      options.epochs, train_loss, val_loss, test_loss, schedule.At(global - 1).first,
                      Duration(elapsed).c_str(), Duration(eta).c_str());
        progress(line);
      }
      if (val_loss < best_val) {
        best_val = val_loss;
        stale = 0;
        best.clear();
        for (const auto& t : net->parameters()) best.push_back(t.detach().clone());
      } else if (++stale >= options.patience) {
        stop_reason = "early stopping";
        break;
      }
    }
    {
      torch::NoGradGuard no_grad;
      auto params = net->parameters();
      for (size_t i = 0; i < params.size() && i < best.size(); ++i) params[i].copy_(best[i]);
    }
    net->eval();
    ModelMetadata& md = model->mutable_metadata();
    md.step_seconds = step;
    md.channels = data.channels;
    md.scaler_mean = mean;
    md.scaler_std = sd;
    md.created = FormatIsoUtc(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    md.training = nlohmann::json({{"data", data_name},
                                 {"rows", data.rows()},
                                 {"first", FormatIsoUtc(data.times.front() * 1000)},
                                 {"last", FormatIsoUtc(data.times.back() * 1000)},
                                 {"split", options.split},
                                 {"windows", {{"train", train.size()}, {"val", val.size()}, {"test", test.size()}}},
                                 {"learning_rate", options.learning_rate},
                                 {"batch_size", options.batch_size},
                                 {"epochs_run", epochs_run},
                                 {"stopped_by", stop_reason},
                                 {"seed", options.seed},
                                 {"history", history}})
                      .dump();
    md.metrics = nlohmann::json{{"best_val_mse", best_val}}.dump();
    return model;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("training failed: ") + e.what_without_backtrace());
  }
}

StatusOr<EvalResult> EvaluateTimeMixer(const TimeMixerModel& model, const SeriesTable& data, const std::string& split_kind,
                                       const std::string& part) {
  const TimeMixerConfig& cfg = model.config();
  const ModelMetadata& md = model.metadata();
  if (data.channels != md.channels) {
    std::string want;
    for (const auto& c : md.channels) want += (want.empty() ? "" : ",") + c;
    return Status::InvalidArgument("the data's channels differ from the model's (" + want + ")");
  }
  auto split = MakeSplit(split_kind, data.rows(), cfg.seq_len);
  if (!split.ok()) return split.status();
  const Range r = part == "train" ? split->train : part == "val" ? split->val : split->test;
  const auto starts = WindowStarts(data, r, cfg.seq_len, cfg.pred_len, md.step_seconds);
  if (starts.empty()) return Status::InvalidArgument("no gap-free window in the " + part + " split");
  try {
    const Prepared p = Prepare(data, md.scaler_mean, md.scaler_std);
    torch::NoGradGuard no_grad;
    c10::InferenceMode guard;
    auto& net = TimeMixerTrainer::Net(model);
    const int64_t n = cfg.channels, h = cfg.pred_len;
    Tensor se = torch::zeros({h, n}, torch::kFloat64), ae = torch::zeros({h, n}, torch::kFloat64);
    const Tensor sd = torch::tensor(md.scaler_std, torch::kFloat64);
    for (size_t i = 0; i < starts.size(); i += 256) {
      BatchTensors b = Gather(p, starts, i, std::min(starts.size(), i + 256), cfg.seq_len, cfg.pred_len);
      Tensor out = net->forward(b.x, cfg.time_features > 0 ? b.marks : Tensor());
      Tensor err = (out - b.y).to(torch::kFloat64);
      se += (err * err).sum(0);
      ae += err.abs().sum(0);
    }
    const double count = static_cast<double>(starts.size());
    EvalResult res;
    res.windows = starts.size();
    res.mse = se.sum().item<double>() / (count * h * n);
    res.mae = ae.sum().item<double>() / (count * h * n);
    res.mse_units = (se * sd * sd).sum().item<double>() / (count * h * n);
    res.mae_units = (ae * sd).sum().item<double>() / (count * h * n);
    for (int q = 0; q < 4; ++q) {
      const int64_t from = h * q / 4, to = h * (q + 1) / 4;
      res.mse_by_horizon.push_back(se.slice(0, from, to).sum().item<double>() / (count * (to - from) * n));
    }
    for (int64_t c = 0; c < n; ++c) {
      res.mse_by_channel.push_back(se.select(1, c).sum().item<double>() / (count * h));
      res.mae_units_by_channel.push_back(ae.select(1, c).sum().item<double>() * md.scaler_std[c] / (count * h));
    }
    return res;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("evaluation failed: ") + e.what_without_backtrace());
  }
}

}  // namespace brickcast
