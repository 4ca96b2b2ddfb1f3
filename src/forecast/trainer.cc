// The training loop and evaluation. Shares the network with timemixer.cc through
// timemixer_net.h; the second (and last) file that includes LibTorch.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "brickcast/clock.h"
#include "brickcast/time.h"
#include "brickcast/training.h"
#include "config/schema.h"
#include "forecast/timemixer_net.h"

namespace brickcast {

using torch::Tensor;

// Friend of TimeMixerModel: reaches the network for training.
class TimeMixerTrainer {
 public:
  static forecast::TimeMixerNet& Net(TimeMixerModel& m) { return m.impl_->net; }
  // Module calls are not const in LibTorch; evaluation does not change the network.
  static forecast::TimeMixerNet& Net(const TimeMixerModel& m) { return m.impl_->net; }
  // After training: forecasts use the trained weights.
  static Status WeightsChanged(TimeMixerModel& m) { return m.impl_->WeightsChanged(); }
};

namespace {

using Range = RowRange;

// One training/evaluation window: a table and the row it starts at.
struct WindowRef {
  size_t table = 0;
  int64_t start = 0;
};

// Window starts inside `r` whose seq_len + pred_len rows are consecutive steps (no gap).
void AppendWindows(const SeriesTable& d, size_t table, Range r, int seq_len, int pred_len, int64_t step,
                   std::vector<WindowRef>* out) {
  const size_t span = static_cast<size_t>(seq_len + pred_len);
  size_t segment_start = r.begin;
  for (size_t i = r.begin; i < r.end; ++i) {
    if (i > r.begin && d.times[i] - d.times[i - 1] != step) segment_start = i;
    if (i + 1 >= segment_start + span) out->push_back({table, static_cast<int64_t>(i + 1 - span)});
  }
}

// Per-channel mean and standard deviation over the given rows of the given tables.
void FitScaler(const std::vector<const SeriesTable*>& tables, const std::vector<Range>& rows, int n,
               std::vector<double>* mean, std::vector<double>* sd) {
  mean->assign(n, 0);
  sd->assign(n, 0);
  double count = 0;
  for (size_t t = 0; t < tables.size(); ++t)
    for (size_t r = rows[t].begin; r < rows[t].end; ++r, ++count)
      for (int c = 0; c < n; ++c) (*mean)[c] += tables[t]->values[r * n + c];
  for (int c = 0; c < n; ++c) (*mean)[c] /= std::max(1.0, count);
  for (size_t t = 0; t < tables.size(); ++t)
    for (size_t r = rows[t].begin; r < rows[t].end; ++r)
      for (int c = 0; c < n; ++c) (*sd)[c] += std::pow(tables[t]->values[r * n + c] - (*mean)[c], 2);
  for (int c = 0; c < n; ++c) (*sd)[c] = std::max(1e-8, std::sqrt((*sd)[c] / std::max(1.0, count)));
}

// Scaled values and time features of one table as tensors.
struct Prepared {
  Tensor values;  // [rows, N], z-scored
  Tensor marks;   // [rows, 4]
  std::vector<double> mean, sd;
};

Prepared Prepare(const SeriesTable& d, const std::vector<double>& mean, const std::vector<double>& sd) {
  const int64_t rows = static_cast<int64_t>(d.rows()), n = static_cast<int64_t>(d.channels.size());
  Tensor v = torch::from_blob(const_cast<float*>(d.values.data()), {rows, n}, torch::kFloat32).to(torch::kFloat64);
  Tensor m = torch::tensor(mean, torch::kFloat64), s = torch::tensor(sd, torch::kFloat64);
  std::vector<float> marks;
  marks.reserve(static_cast<size_t>(rows) * 4);
  for (int64_t t : d.times) AppendTimeFeatures(t + d.zone.OffsetAtUtc(t), &marks);
  return {((v - m) / s).to(torch::kFloat32), torch::tensor(marks).reshape({rows, 4}), mean, sd};
}

// Everything both training and evaluation need: splits, scalers, prepared tensors, windows.
struct Dataset {
  int64_t step = 0;
  std::vector<Prepared> tables;
  std::vector<double> mean, sd;  // the scaler stored in the model (identity for per_series)
  std::vector<WindowRef> train, val, test;
};

StatusOr<Dataset> BuildDataset(const std::vector<SeriesTable>& data, const std::string& split_kind,
                               const std::string& scaler, const TimeMixerConfig& cfg, int64_t step) {
  if (data.empty()) return Status::InvalidArgument("no training data");
  const int n = static_cast<int>(data[0].channels.size());
  Dataset ds;
  if (step > 0) {
    ds.step = step;
  } else {
    auto inferred = InferStepSeconds(data[0]);
    if (!inferred.ok()) return inferred.status();
    ds.step = *inferred;
  }
  std::vector<DataSplit> splits;
  std::vector<const SeriesTable*> all;
  std::vector<Range> train_rows;
  for (const auto& t : data) {
    if (static_cast<int>(t.channels.size()) != n)
      return Status::InvalidArgument(t.name + ": " + std::to_string(t.channels.size()) + " channels, the first table has " +
                                     std::to_string(n));
    if (scaler == "standard" && t.channels != data[0].channels)
      return Status::InvalidArgument(t.name + ": channels differ from " + data[0].name);
    auto s = SplitTable(t, split_kind, cfg.seq_len);
    if (!s.ok()) return s.status();
    splits.push_back(*s);
    all.push_back(&t);
    train_rows.push_back(s->train);
  }
  if (scaler == "per_series") {
    ds.mean.assign(n, 0.0);
    ds.sd.assign(n, 1.0);
  } else {
    FitScaler(all, train_rows, n, &ds.mean, &ds.sd);
  }
  for (size_t i = 0; i < data.size(); ++i) {
    if (scaler == "per_series") {
      std::vector<double> mean, sd;
      FitScaler({&data[i]}, {splits[i].train}, n, &mean, &sd);
      // A series that barely moves in its training rows (a fan status, a closed valve) would
      // otherwise be divided by a tiny spread, and its first real move later becomes a value of
      // thousands that blows the loss up. Floor the spread at 1e-3 of the series' magnitude.
      for (int c = 0; c < n; ++c) sd[c] = std::max(sd[c], 1e-3 * std::max(1.0, std::abs(mean[c])));
      ds.tables.push_back(Prepare(data[i], mean, sd));
    } else {
      ds.tables.push_back(Prepare(data[i], ds.mean, ds.sd));
    }
    AppendWindows(data[i], i, splits[i].train, cfg.seq_len, cfg.pred_len, ds.step, &ds.train);
    AppendWindows(data[i], i, splits[i].val, cfg.seq_len, cfg.pred_len, ds.step, &ds.val);
    AppendWindows(data[i], i, splits[i].test, cfg.seq_len, cfg.pred_len, ds.step, &ds.test);
  }
  return ds;
}

struct BatchTensors {
  Tensor x, marks, y;
};

BatchTensors Gather(const Dataset& ds, const std::vector<WindowRef>& windows, size_t from, size_t to, int seq, int pred) {
  std::vector<Tensor> xs, ms, ys;
  for (size_t i = from; i < to; ++i) {
    const Prepared& p = ds.tables[windows[i].table];
    const int64_t s = windows[i].start;
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

// The training loss of TrainOptions::loss: squared or absolute error.
Tensor Loss(const std::string& kind, const Tensor& out, const Tensor& y, torch::Reduction::Reduction reduction) {
  return kind == "mae" ? torch::l1_loss(out, y, reduction) : torch::mse_loss(out, y, reduction);
}

// The mean training loss over `windows` (all of them, or only whole batches when drop_last).
double MeanLoss(forecast::TimeMixerNet& net, const Dataset& ds, const std::vector<WindowRef>& windows,
                const TimeMixerConfig& cfg, size_t batch, bool drop_last, const std::string& loss) {
  torch::NoGradGuard no_grad;
  net->eval();
  const size_t n = drop_last ? windows.size() / batch * batch : windows.size();
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i += batch) {
    BatchTensors b = Gather(ds, windows, i, std::min(n, i + batch), cfg.seq_len, cfg.pred_len);
    Tensor out = net->forward(b.x, cfg.time_features > 0 ? b.marks : Tensor());
    sum += Loss(loss, out, b.y, torch::Reduction::Sum).item<double>();
    count += static_cast<size_t>(out.numel());
  }
  return count == 0 ? NAN : sum / static_cast<double>(count);
}

// The resumable training state beside the network and optimiser.
struct LoopState {
  int epoch = 0;  // epochs finished
  int64_t global_step = 0;
  double best_loss = INFINITY;
  int best_epoch = 0, stale = 0;
  std::vector<nlohmann::json> history;
  std::string fingerprint;  // options + data summary: a checkpoint only resumes the same run
};

std::string Fingerprint(const TrainOptions& o, const TimeMixerConfig& cfg, const Dataset& ds) {
  nlohmann::json j = forecast::ConfigToJson(cfg);
  j["lr"] = o.learning_rate;
  j["batch"] = o.batch_size;
  j["epochs"] = o.epochs;
  j["pct_start"] = o.pct_start;
  j["seed"] = o.seed;
  j["split"] = o.split;
  j["scaler"] = o.scaler;
  j["select_by"] = o.select_by;
  j["max_steps"] = o.max_steps_per_epoch;
  j["clip"] = o.clip_grad_norm;
  if (o.loss != "mse") j["loss"] = o.loss;  // absent for mse: checkpoints written before it resume
  j["windows"] = {ds.train.size(), ds.val.size(), ds.test.size()};
  j["mean"] = ds.mean;
  j["sd"] = ds.sd;
  return j.dump();
}

Status SaveCheckpoint(const std::string& path, forecast::TimeMixerNet& net, torch::optim::Adam& opt,
                      const std::vector<Tensor>& best, const LoopState& st, const std::mt19937_64& rng) {
  torch::serialize::OutputArchive archive, net_archive, opt_archive, best_archive;
  net->save(net_archive);
  opt.save(opt_archive);
  for (size_t i = 0; i < best.size(); ++i) best_archive.write(std::to_string(i), best[i]);
  archive.write("net", net_archive);
  archive.write("optimizer", opt_archive);
  archive.write("best", best_archive);
  std::ostringstream rng_text;
  rng_text << rng;
  nlohmann::json state{{"epoch", st.epoch},       {"global_step", st.global_step}, {"best_loss", st.best_loss},
                       {"best_epoch", st.best_epoch}, {"stale", st.stale},          {"history", st.history},
                       {"fingerprint", st.fingerprint}, {"rng", rng_text.str()}};
  archive.write("state", c10::IValue(state.dump()));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("torch_rng", gen.get_state());
  }
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);  // then rename: a crash mid-write never leaves a half checkpoint
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Internal("cannot write checkpoint " + path);
  return Status::Ok();
}

Status LoadCheckpoint(const std::string& path, forecast::TimeMixerNet& net, torch::optim::Adam& opt,
                      std::vector<Tensor>* best, LoopState* st, std::mt19937_64* rng) {
  torch::serialize::InputArchive archive, net_archive, opt_archive, best_archive;
  archive.load_from(path);
  c10::IValue state_value;
  archive.read("state", state_value);
  auto state = nlohmann::json::parse(state_value.toStringRef(), nullptr, false);
  if (!state.is_object()) return Status::InvalidArgument(path + ": damaged checkpoint state");
  if (state.value("fingerprint", "") != st->fingerprint)
    return Status::FailedPrecondition(path + " was written by a run with other options or data; "
                                             "remove it or train without --resume");
  archive.read("net", net_archive);
  net->load(net_archive);
  archive.read("optimizer", opt_archive);
  opt.load(opt_archive);
  archive.read("best", best_archive);
  best->clear();
  for (size_t i = 0; i < net->parameters().size(); ++i) {
    Tensor t;
    if (!best_archive.try_read(std::to_string(i), t)) break;
    best->push_back(t);
  }
  Tensor torch_rng;
  archive.read("torch_rng", torch_rng);
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(torch_rng);
  }
  st->epoch = state["epoch"];
  st->global_step = state["global_step"];
  st->best_loss = state["best_loss"].is_null() ? INFINITY : state["best_loss"].get<double>();
  st->best_epoch = state["best_epoch"];
  st->stale = state["stale"];
  st->history = state["history"].get<std::vector<nlohmann::json>>();
  std::istringstream rng_text(state["rng"].get<std::string>());
  rng_text >> *rng;
  return Status::Ok();
}

}  // namespace

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
      {"norm_center", FieldType::kString, "mean",
       "RevIN's centre: mean (the official code) or last (the window's newest value: the network forecasts the change, zero is persistence)."},
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
      {"split", FieldType::kString, "ett", "ett (12/4/4 months of 30 days from the first row, by time: any step) or ratio (70/10/20 of the rows)."},
      {"threads", FieldType::kInteger, 1, "LibTorch threads."},
      {"max_steps_per_epoch", FieldType::kInteger, 0, "Cap on batches per epoch (0: all)."},
      {"select_by", FieldType::kString, "val",
       "Loss that picks the saved epoch: val, or test (what the official TimeMixer code does; leaks the test set)."},
      {"scaler", FieldType::kString, "standard",
       "standard (one z-score per channel) or per_series (each series its own; single-channel models)."},
      {"step_seconds", FieldType::kInteger, 0, "Resampling step for mapped HVAC data (--mapping)."},
      {"loss", FieldType::kString, "mse",
       "mse (the official recipe) or mae: absolute error, a median forecast; steadier on series that mostly hold and rarely jump."},
      {"clip_grad_norm", FieldType::kNumber, 0,
       "Clip the gradient norm to this (0: off, as the official recipe). Steadies training on data with rare jumps."},
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
  o.select_by = eff["select_by"];
  o.scaler = eff["scaler"];
  o.step_seconds = eff["step_seconds"];
  o.clip_grad_norm = eff["clip_grad_norm"];
  o.loss = eff["loss"];
  if (o.select_by != "val" && o.select_by != "test")
    return Status::InvalidArgument(path + ": /select_by must be val or test");
  if (o.loss != "mse" && o.loss != "mae") return Status::InvalidArgument(path + ": /loss must be mse or mae");
  if (o.scaler != "standard" && o.scaler != "per_series")
    return Status::InvalidArgument(path + ": /scaler must be standard or per_series");
  return o;
}

StatusOr<std::unique_ptr<TimeMixerModel>> TrainTimeMixer(const std::vector<SeriesTable>& data, const std::string& data_name,
                                                         const TrainOptions& options, const ProgressFn& progress,
                                                         const std::atomic<bool>* stop) {
  if (data.empty()) return Status::InvalidArgument("no training data");
  TimeMixerConfig cfg = options.model;
  cfg.channels = static_cast<int>(data[0].channels.size());
  BRICKCAST_RETURN_IF_ERROR(cfg.Validate());
  if (options.batch_size < 1 || options.epochs < 1) return Status::InvalidArgument("batch_size and epochs must be >= 1");
  if (options.scaler == "per_series" && cfg.channels != 1)
    return Status::InvalidArgument("scaler per_series is for single-channel series (one table per point)");
  if (options.resume && options.checkpoint.empty()) return Status::InvalidArgument("resume needs a checkpoint path");
  try {
    at::set_num_threads(std::max(1, options.threads));
    torch::manual_seed(options.seed);
    auto built = BuildDataset(data, options.split, options.scaler, cfg, options.step_seconds);
    if (!built.ok()) return built.status();
    const Dataset& ds = *built;
    if (ds.train.empty() || ds.val.empty()) return Status::InvalidArgument("no gap-free training or validation window");

    auto created = TimeMixerModel::Create(cfg, options.seed);
    if (!created.ok()) return created.status();
    std::unique_ptr<TimeMixerModel> model = std::move(*created);
    forecast::TimeMixerNet& net = TimeMixerTrainer::Net(*model);
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(options.learning_rate));
    const size_t batch = static_cast<size_t>(options.batch_size);
    // Full batches only (the official loader drops the last partial batch: a one-sample batch at
    // a high learning rate is a noisy step).
    int64_t steps_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(ds.train.size() / batch));
    if (options.max_steps_per_epoch > 0) steps_per_epoch = std::min(steps_per_epoch, options.max_steps_per_epoch);
    const OneCycle schedule{options.learning_rate, options.pct_start, steps_per_epoch * options.epochs};
    const bool by_test = options.select_by == "test";
    if (by_test && ds.test.size() < batch) return Status::InvalidArgument("select_by test needs a whole test batch");

    std::vector<Tensor> best;
    LoopState st;
    st.fingerprint = Fingerprint(options, cfg, ds);
    std::mt19937_64 rng(options.seed);
    if (options.resume) {
      BRICKCAST_RETURN_IF_ERROR(LoadCheckpoint(options.checkpoint, net, opt, &best, &st, &rng));
      if (progress) progress("resuming after epoch " + std::to_string(st.epoch) + " from " + options.checkpoint);
    }
    const auto t_start = std::chrono::steady_clock::now();
    const int first_epoch = st.epoch + 1;
    std::string stop_reason = "max epochs";
    for (int epoch = first_epoch; epoch <= options.epochs; ++epoch) {
      if (st.stale >= options.patience) {
        stop_reason = "early stopping";
        break;
      }
      std::vector<WindowRef> order = ds.train;
      std::shuffle(order.begin(), order.end(), rng);
      net->train();
      double loss_sum = 0;
      const auto t_epoch = std::chrono::steady_clock::now();
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        if (stop && stop->load()) return Status::Cancelled("training interrupted during epoch " + std::to_string(epoch));
        const size_t from = static_cast<size_t>(s) * batch;
        BatchTensors b = Gather(ds, order, from, std::min(order.size(), from + batch), cfg.seq_len, cfg.pred_len);
        auto [lr, beta1] = schedule.At(st.global_step++);
        for (auto& group : opt.param_groups()) {
          auto& o = static_cast<torch::optim::AdamOptions&>(group.options());
          o.lr(lr);
          o.betas(std::make_tuple(beta1, std::get<1>(o.betas())));
        }
        opt.zero_grad();
        Tensor loss = Loss(options.loss, net->forward(b.x, cfg.time_features > 0 ? b.marks : Tensor()), b.y,
                           torch::Reduction::Mean);
        loss.backward();
        if (options.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(net->parameters(), options.clip_grad_norm);
        opt.step();
        loss_sum += loss.item<double>();
      }
      const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
      const double train_loss = loss_sum / static_cast<double>(steps_per_epoch);
      const double val_loss = MeanLoss(net, ds, ds.val, cfg, batch, false, options.loss);
      // The official code evaluates the test loader with drop_last; do the same when selecting by it.
      const double test_loss = ds.test.empty() ? NAN : MeanLoss(net, ds, ds.test, cfg, batch, by_test, options.loss);
      st.epoch = epoch;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      const double eta = elapsed / (epoch - first_epoch + 1) * (options.epochs - epoch);
      const double samples_per_s = static_cast<double>(steps_per_epoch) * batch / train_seconds;
      st.history.push_back({{"epoch", epoch}, {"train_loss", train_loss}, {"val_loss", val_loss}, {"test_loss", test_loss},
                            {"train_samples_per_s", samples_per_s}});
      if (progress) {
        char line[300];
        std::snprintf(line, sizeof line,
                      "epoch %d/%d  train %.4f  val %.4f  test %.4f  lr %.2e  %.0f samples/s  elapsed %s  eta %s", epoch,
                      options.epochs, train_loss, val_loss, test_loss, schedule.At(st.global_step - 1).first, samples_per_s,
                      Duration(elapsed).c_str(), Duration(eta).c_str());
        progress(line);
      }
      const double selection_loss = by_test ? test_loss : val_loss;
      if (selection_loss < st.best_loss) {
        st.best_loss = selection_loss;
        st.best_epoch = epoch;
        st.stale = 0;
        best.clear();
        for (const auto& t : net->parameters()) best.push_back(t.detach().clone());
      } else {
        ++st.stale;
      }
      if (!options.checkpoint.empty()) BRICKCAST_RETURN_IF_ERROR(SaveCheckpoint(options.checkpoint, net, opt, best, st, rng));
      if (st.stale >= options.patience) {
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
    md.step_seconds = ds.step;
    md.channels = options.scaler == "per_series" ? std::vector<std::string>{"value"} : data[0].channels;
    md.scaler_mean = ds.mean;
    md.scaler_std = ds.sd;
    md.created = FormatIsoUtc(Clock::Real().Now());
    size_t rows = 0;
    int64_t first = data[0].times.front(), last = data[0].times.back();
    for (const auto& t : data) {
      rows += t.rows();
      first = std::min(first, t.times.front());
      last = std::max(last, t.times.back());
    }
    nlohmann::json series = nlohmann::json::array();
    if (data.size() > 1)
      for (const auto& t : data) series.push_back({{"name", t.name}, {"rows", t.rows()}, {"unit", t.units.empty() ? "" : t.units[0]}});
    md.training = nlohmann::json({{"data", data_name},
                                 {"series", series},
                                 {"rows", rows},
                                 {"first", FormatIsoUtc(first * 1000)},
                                 {"last", FormatIsoUtc(last * 1000)},
                                 {"split", options.split},
                                 {"scaler", options.scaler},
                                 {"select_by", options.select_by},
                                 {"windows", {{"train", ds.train.size()}, {"val", ds.val.size()}, {"test", ds.test.size()}}},
                                 {"learning_rate", options.learning_rate},
                                 {"batch_size", options.batch_size},
                                 {"epochs_run", st.epoch},
                                 {"best_epoch", st.best_epoch},
                                 {"stopped_by", stop_reason},
                                 {"seed", options.seed},
                                 {"history", st.history}})
                      .dump();
    md.metrics = nlohmann::json{{std::string(by_test ? "best_test_" : "best_val_") + options.loss, st.best_loss}}.dump();
    BRICKCAST_RETURN_IF_ERROR(TimeMixerTrainer::WeightsChanged(*model));
    return model;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("training failed: ") + e.what_without_backtrace());
  }
}

StatusOr<EvalResult> EvaluateTimeMixer(const TimeMixerModel& model, const std::vector<SeriesTable>& data,
                                       const EvalOptions& options) {
  const TimeMixerConfig& cfg = model.config();
  const ModelMetadata& md = model.metadata();
  auto training = nlohmann::json::parse(md.training, nullptr, false);
  const std::string scaler = training.is_object() ? training.value("scaler", "standard") : "standard";
  for (const auto& t : data) {
    const bool fits = scaler == "per_series" ? t.channels.size() == 1 : t.channels == md.channels;
    if (!fits) {
      std::string want;
      for (const auto& c : md.channels) want += (want.empty() ? "" : ",") + c;
      return Status::InvalidArgument(t.name + ": the data's channels differ from the model's (" + want + ")");
    }
  }
  auto built = BuildDataset(data, options.split, scaler, cfg, md.step_seconds);
  if (!built.ok()) return built.status();
  const Dataset& ds = *built;
  std::vector<WindowRef> windows = options.part == "train" ? ds.train : options.part == "val" ? ds.val : ds.test;
  if (options.drop_last_batch > 0) windows.resize(windows.size() / options.drop_last_batch * options.drop_last_batch);
  if (windows.empty()) return Status::InvalidArgument("no gap-free window in the " + options.part + " split");
  try {
    torch::NoGradGuard no_grad;
    c10::InferenceMode guard;
    auto& net = TimeMixerTrainer::Net(model);
    const int64_t n = cfg.channels, h = cfg.pred_len;
    // Sums per table so that per-series models can report each point in its own unit.
    std::vector<Tensor> se(data.size()), ae(data.size()), pae(data.size());
    double persistence_se = 0, persistence_ae = 0, seasonal_se = 0, seasonal_ae = 0;
    std::vector<Tensor> sae(data.size());
    size_t seasonal_fallback = 0;
    const int64_t day_s = 86'400;
    // Seasonal naive of one window, scaled: each forecast step's value a day earlier, found by
    // time (the series may have gaps); the last input value where there is none.
    auto seasonal_of = [&](size_t table, int64_t start) {
      const std::vector<int64_t>& times = data[table].times;
      const Tensor& v = ds.tables[table].values;
      std::vector<Tensor> rows;
      for (int64_t k = 0; k < h; ++k) {
        const int64_t want = times[static_cast<size_t>(start + cfg.seq_len + k)] - day_s;
        auto it = std::lower_bound(times.begin(), times.end(), want);
        if (it != times.end() && *it == want) {
          rows.push_back(v[it - times.begin()]);
        } else {
          rows.push_back(v[start + cfg.seq_len - 1]);
          ++seasonal_fallback;
        }
      }
      return torch::stack(rows);  // [H, N]
    };
    std::vector<size_t> count(data.size(), 0);
    for (size_t i = 0; i < windows.size(); i += 256) {
      const size_t to = std::min(windows.size(), i + 256);
      BatchTensors b = Gather(ds, windows, i, to, cfg.seq_len, cfg.pred_len);
      Tensor err = (net->forward(b.x, cfg.time_features > 0 ? b.marks : Tensor()) - b.y).to(torch::kFloat64);
      Tensor persistence = (b.x.slice(1, cfg.seq_len - 1, cfg.seq_len) - b.y).to(torch::kFloat64);  // [B, H, N]
      persistence_se += (persistence * persistence).sum().item<double>();
      persistence_ae += persistence.abs().sum().item<double>();
      std::vector<Tensor> seasonal_rows;
      for (size_t k = i; k < to; ++k) seasonal_rows.push_back(seasonal_of(windows[k].table, windows[k].start));
      Tensor seasonal = (torch::stack(seasonal_rows) - b.y).to(torch::kFloat64);  // [B, H, N]
      seasonal_se += (seasonal * seasonal).sum().item<double>();
      seasonal_ae += seasonal.abs().sum().item<double>();
      for (size_t k = i; k < to; ++k) {
        const size_t t = windows[k].table;
        Tensor e = err[static_cast<int64_t>(k - i)];
        if (!se[t].defined()) {
          se[t] = torch::zeros({h, n}, torch::kFloat64);
          ae[t] = torch::zeros({h, n}, torch::kFloat64);
          pae[t] = torch::zeros({n}, torch::kFloat64);
          sae[t] = torch::zeros({n}, torch::kFloat64);
        }
        se[t] += e * e;
        ae[t] += e.abs();
        pae[t] += persistence[static_cast<int64_t>(k - i)].abs().sum(0);
        sae[t] += seasonal[static_cast<int64_t>(k - i)].abs().sum(0);
        ++count[t];
      }
    }
    EvalResult res;
    res.windows = windows.size();
    Tensor se_all = torch::zeros({h, n}, torch::kFloat64), ae_all = torch::zeros({h, n}, torch::kFloat64);
    Tensor se_units = torch::zeros({n}, torch::kFloat64), ae_units = torch::zeros({n}, torch::kFloat64);
    std::map<std::string, size_t> by_name;
    for (size_t t = 0; t < data.size(); ++t) {
      if (count[t] == 0) continue;
      se_all += se[t];
      ae_all += ae[t];
      const Tensor sd = torch::tensor(ds.tables[t].sd, torch::kFloat64);
      se_units += (se[t] * sd * sd).sum(0);
      ae_units += (ae[t] * sd).sum(0);
      for (int64_t c = 0; c < n; ++c) {
        const std::string& name = data[t].channels[c];
        auto [it, fresh] = by_name.emplace(name, res.channels.size());
        if (fresh) res.channels.push_back({name, data[t].units.size() > static_cast<size_t>(c) ? data[t].units[c] : ""});
        ChannelMetrics& m = res.channels[it->second];
        m.windows += count[t];
        m.mse += se[t].select(1, c).sum().item<double>() / h;
        m.mae += ae[t].select(1, c).sum().item<double>() / h;
        m.mae_units += ae[t].select(1, c).sum().item<double>() * ds.tables[t].sd[c] / h;
        m.persistence_mae_units += pae[t][c].item<double>() * ds.tables[t].sd[c] / h;
        m.seasonal_mae_units += sae[t][c].item<double>() * ds.tables[t].sd[c] / h;
      }
    }
    for (auto& m : res.channels) {
      m.mse /= static_cast<double>(m.windows);
      m.mae /= static_cast<double>(m.windows);
      m.mae_units /= static_cast<double>(m.windows);
      m.persistence_mae_units /= static_cast<double>(m.windows);
      m.seasonal_mae_units /= static_cast<double>(m.windows);
    }
    const double cells = static_cast<double>(windows.size()) * h * n;
    res.mse = se_all.sum().item<double>() / cells;
    res.persistence_mse = persistence_se / cells;
    res.persistence_mae = persistence_ae / cells;
    res.seasonal_mse = seasonal_se / cells;
    res.seasonal_mae = seasonal_ae / cells;
    res.seasonal_fallback_steps = seasonal_fallback;
    res.mae = ae_all.sum().item<double>() / cells;
    res.mse_units = scaler == "per_series" ? NAN : se_units.sum().item<double>() / cells;
    res.mae_units = scaler == "per_series" ? NAN : ae_units.sum().item<double>() / cells;
    for (int q = 0; q < 4; ++q) {
      const int64_t from = h * q / 4, to = h * (q + 1) / 4;
      res.mse_by_horizon.push_back(se_all.slice(0, from, to).sum().item<double>() /
                                   (static_cast<double>(windows.size()) * (to - from) * n));
    }
    return res;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("evaluation failed: ") + e.what_without_backtrace());
  }
}

}  // namespace brickcast
