// TimeMixerModel: the torch-free interface over the network in timemixer_net.h.
#include "brickcast/timemixer.h"

#include <atomic>
#include <cstdio>

#include "brickcast/sha256.h"
#include "brickcast/time.h"
#include "forecast/timemixer_net.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace brickcast {

using torch::Tensor;

Status TimeMixerConfig::Validate() const {
  std::vector<std::string> errors;
  auto need = [&](bool ok, const std::string& why) {
    if (!ok) errors.push_back(why);
  };
  need(seq_len >= 1, "seq_len must be >= 1");
  need(pred_len >= 1, "pred_len must be >= 1");
  need(channels >= 1, "channels must be >= 1");
  need(d_model >= 1 && d_ff >= 1, "d_model and d_ff must be >= 1");
  need(e_layers >= 1, "e_layers must be >= 1");
  need(down_sampling_layers >= 0, "down_sampling_layers must be >= 0");
  need(down_sampling_window >= 2 || down_sampling_layers == 0, "down_sampling_window must be >= 2");
  if (seq_len >= 1 && down_sampling_window >= 1 && down_sampling_layers >= 0) {
    const double div = std::pow(down_sampling_window, down_sampling_layers);
    need(std::fmod(seq_len, div) == 0,
         "seq_len " + std::to_string(seq_len) + " is not divisible by down_sampling_window^down_sampling_layers = " +
             std::to_string(static_cast<int64_t>(div)) + " (every scale needs a whole number of steps)");
  }
  need(down_sampling_method == "avg" || down_sampling_method == "max" || down_sampling_method == "conv",
       "down_sampling_method must be avg, max or conv");
  need(decomposition == "moving_avg" || decomposition == "dft", "decomposition must be moving_avg or dft");
  need(moving_avg >= 1 && moving_avg % 2 == 1, "moving_avg must be an odd number >= 1");
  need(top_k >= 1, "top_k must be >= 1");
  need(norm_center == "mean" || norm_center == "last", "norm_center must be mean or last");
  need(time_features >= 0, "time_features must be >= 0");
  need(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
  if (errors.empty()) return Status::Ok();
  std::string msg = "invalid TimeMixer configuration:";
  for (const auto& e : errors) msg += "\n  " + e;
  return Status::InvalidArgument(msg);
}

namespace {
// Set by SetForecastThreads. LibTorch's OpenMP thread count is a per-thread setting in libgomp, so
// the forecast workers (other threads) would not see it; the plan's row split reads this instead.
std::atomic<int> forecast_threads{0};  // 0: not set, LibTorch's count on the calling thread
}  // namespace

void SetForecastThreads(int threads) {
  SingleThreadBlas();
  forecast_threads = std::max(1, threads);
  at::set_num_threads(std::max(1, threads));
}

double ForwardFlops(const TimeMixerConfig& c) {
  std::vector<double> t;  // steps per scale
  for (int i = 0; i <= c.down_sampling_layers; ++i) t.push_back(c.seq_len / std::pow(c.down_sampling_window, i));
  const double d = c.d_model, f = c.d_ff, h = c.pred_len;
  double per_channel = 0;
  for (double ti : t) {
    per_channel += 2 * ti * d * 3;                     // value embedding: Conv1d(1 -> D, k = 3)
    per_channel += 2 * ti * c.time_features * d;       // time-feature embedding
    per_channel += c.e_layers * 2 * ti * (d * f + f * d);  // PDM residual feed-forward
    per_channel += 2 * d * ti * h + 2 * h * d;         // FMM: predictor per scale, shared projection
  }
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    per_channel += c.e_layers * 2 * d * (t[i] * t[i + 1] + t[i + 1] * t[i + 1]);  // season, bottom-up
    per_channel += c.e_layers * 2 * d * (t[i + 1] * t[i] + t[i] * t[i]);          // trend, top-down
  }
  return per_channel * c.channels;
}

namespace {

constexpr std::string_view kMagic = kTimeMixerFileMagic;

}  // namespace

const ModelMetadata& TimeMixerModel::metadata() const { return impl_->metadata; }
std::string TimeMixerModel::identity() const {
  return "timemixer sha256:" + (impl_->metadata.content_hash.empty() ? std::string("unsaved") : impl_->metadata.content_hash.substr(0, 12));
}
ModelMetadata& TimeMixerModel::mutable_metadata() { return impl_->metadata; }

Status TimeMixerModel::Save(const std::string& path) {
  ModelMetadata& m = impl_->metadata;
  std::string weights;
  nlohmann::json params = nlohmann::json::object();
  for (const auto& item : impl_->net->named_parameters()) {
    Tensor t = item.value().detach().contiguous().to(torch::kFloat32);
    params[item.key()] = {{"shape", t.sizes().vec()}, {"offset_floats", weights.size() / sizeof(float)}};
    weights.append(reinterpret_cast<const char*>(t.data_ptr<float>()), t.numel() * sizeof(float));
  }
  m.content_hash = Sha256Hex(weights);
  nlohmann::json header = {{"version", kModelFileVersion},
                           {"architecture", "TimeMixer"},
                           {"config", forecast::ConfigToJson(impl_->config)},
                           {"step_seconds", m.step_seconds},
                           {"channels", m.channels},
                           {"scaler", {{"mean", m.scaler_mean}, {"std", m.scaler_std}}},
                           {"training", nlohmann::json::parse(m.training, nullptr, false)},
                           {"metrics", nlohmann::json::parse(m.metrics, nullptr, false)},
                           {"created", m.created},
                           {"parameters", params},
                           {"weights_bytes", weights.size()},
                           {"sha256", m.content_hash}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Unavailable("cannot write " + tmp);
    out << kMagic << ' ' << kModelFileVersion << '\n' << header.dump() << '\n';
    out.write(weights.data(), static_cast<std::streamsize>(weights.size()));
    if (!out.flush()) return Status::Unavailable("error writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Unavailable("cannot rename " + tmp + " to " + path);
  return Status::Ok();
}

StatusOr<std::unique_ptr<TimeMixerModel>> TimeMixerModel::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("model file " + path + " cannot be opened");
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("model file " + path + ": " + why); };
  std::string first, json_line;
  if (!std::getline(in, first) || first.rfind(std::string(kMagic) + " ", 0) != 0)
    return bad("not a brickcast TimeMixer model (bad header)");
  if (first != std::string(kMagic) + " " + std::to_string(kModelFileVersion))
    return bad("file format version '" + first.substr(kMagic.size() + 1) + "' is not supported (this build reads " +
               std::to_string(kModelFileVersion) + ")");
  if (!std::getline(in, json_line)) return bad("truncated header");
  nlohmann::json h = nlohmann::json::parse(json_line, nullptr, false);
  if (h.is_discarded() || !h.is_object()) return bad("header is not JSON");
  TimeMixerConfig config;
  ModelMetadata m;
  try {
    config = forecast::ConfigFromJson(h.at("config"));
    m.step_seconds = h.at("step_seconds");
    m.channels = h.at("channels").get<std::vector<std::string>>();
    m.scaler_mean = h.at("scaler").at("mean").get<std::vector<double>>();
    m.scaler_std = h.at("scaler").at("std").get<std::vector<double>>();
    m.training = h.value("training", nlohmann::json::object()).dump();
    m.metrics = h.value("metrics", nlohmann::json::object()).dump();
    m.created = h.value("created", "");
    m.content_hash = h.at("sha256");
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("header field missing or mistyped: ") + e.what());
  }
  if (Status st = config.Validate(); !st.ok()) return bad(st.message());
  const size_t n = static_cast<size_t>(config.channels);
  if (m.channels.size() != n || m.scaler_mean.size() != n || m.scaler_std.size() != n)
    return bad("channel names and scaler must have one entry per channel (" + std::to_string(n) + ")");
  std::string weights((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (weights.size() != h.value("weights_bytes", size_t{0}))
    return bad("weights are " + std::to_string(weights.size()) + " bytes, the header says " +
               std::to_string(h.value("weights_bytes", size_t{0})) + " (truncated or corrupted file)");
  if (Sha256Hex(weights) != m.content_hash) return bad("content hash mismatch (corrupted file)");
  auto model = Create(config, 0);
  if (!model.ok()) return model.status();
  const nlohmann::json& params = h.at("parameters");
  std::vector<std::string> errors;
  torch::NoGradGuard no_grad;
  for (const auto& item : (*model)->impl_->net->named_parameters()) {
    if (!params.contains(item.key())) {
      errors.push_back("missing parameter " + item.key());
      continue;
    }
    const auto shape = params[item.key()].at("shape").get<std::vector<int64_t>>();
    const auto offset = params[item.key()].at("offset_floats").get<size_t>();
    if (shape != item.value().sizes().vec() || (offset + item.value().numel()) * sizeof(float) > weights.size()) {
      errors.push_back("parameter " + item.key() + " has the wrong shape or offset");
      continue;
    }
    item.value().copy_(torch::from_blob(weights.data() + offset * sizeof(float), shape, torch::kFloat32));
  }
  if (params.size() != (*model)->impl_->net->named_parameters().size())
    errors.push_back("the file has parameters this architecture does not use");
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += "\n  " + e;
    return bad("parameters do not match the configuration:" + msg);
  }
  (*model)->impl_->metadata = std::move(m);
  BRICKCAST_RETURN_IF_ERROR((*model)->impl_->WeightsChanged());
  return model;
}

TimeMixerModel::TimeMixerModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TimeMixerModel::~TimeMixerModel() = default;

StatusOr<std::unique_ptr<TimeMixerModel>> TimeMixerModel::Create(const TimeMixerConfig& config, uint64_t seed) {
  BRICKCAST_RETURN_IF_ERROR(config.Validate());
  try {
    torch::manual_seed(seed);
    std::unique_ptr<TimeMixerModel> model(new TimeMixerModel(std::make_unique<Impl>(config)));
    BRICKCAST_RETURN_IF_ERROR(model->impl_->WeightsChanged());
    return model;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("creating TimeMixer: ") + e.what_without_backtrace());
  }
}

const TimeMixerConfig& TimeMixerModel::config() const { return impl_->config; }

int64_t TimeMixerModel::NumParameters() const {
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

StatusOr<std::vector<float>> TimeMixerModel::Forecast(const std::vector<float>& x, const std::vector<float>& marks,
                                                       int batch) const {
  return Run(x, marks, batch, /*through_modules=*/false);
}

StatusOr<std::vector<float>> TimeMixerModel::TEST_ForecastThroughModules(const std::vector<float>& x,
                                                                         const std::vector<float>& marks,
                                                                         int batch) const {
  return Run(x, marks, batch, /*through_modules=*/true);
}

StatusOr<std::vector<float>> TimeMixerModel::Run(const std::vector<float>& x, const std::vector<float>& marks,
                                                 int batch, bool through_modules) const {
  const TimeMixerConfig& c = impl_->config;
  const size_t want_x = static_cast<size_t>(batch) * c.seq_len * c.channels;
  if (batch < 1 || x.size() != want_x)
    return Status::InvalidArgument("forecast input has " + std::to_string(x.size()) + " values, expected batch x " +
                                   std::to_string(c.seq_len) + " x " + std::to_string(c.channels));
  const size_t want_m = static_cast<size_t>(batch) * c.seq_len * c.time_features;
  if (!marks.empty() && marks.size() != want_m)
    return Status::InvalidArgument("forecast time features have " + std::to_string(marks.size()) +
                                   " values, expected " + std::to_string(want_m));
  if (auto plan = through_modules ? nullptr : impl_->Plan()) {
    // Rows are independent (channel independence): split across LibTorch's intra-op threads.
    std::vector<float> y(static_cast<size_t>(batch) * c.pred_len * c.channels);
    const int64_t rows = static_cast<int64_t>(batch) * c.channels;
    const int64_t threads = std::max<int64_t>(1, forecast_threads > 0 ? forecast_threads.load() : at::get_num_threads());
    const int64_t grain = (rows + threads - 1) / threads;  // one piece per thread; one thread: no team
    const float* marks_data = marks.empty() ? nullptr : marks.data();
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      plan->ForecastRows(x.data(), marks_data, begin, end, y.data());
    });
    return y;
  }
  try {
    c10::InferenceMode guard;
    Tensor tx = torch::from_blob(const_cast<float*>(x.data()), {batch, c.seq_len, c.channels}, torch::kFloat32);
    Tensor tm;
    if (!marks.empty())
      tm = torch::from_blob(const_cast<float*>(marks.data()), {batch, c.seq_len, c.time_features}, torch::kFloat32);
    Tensor y = impl_->net->forward(tx, tm).contiguous();
    return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("TimeMixer forward: ") + e.what_without_backtrace());
  }
}

Status TimeMixerModel::ImportOfficialParameters(const std::string& manifest_path, const std::string& weights_path) {
  nlohmann::json manifest;
  try {
    std::ifstream in(manifest_path);
    if (!in) return Status::NotFound("cannot open " + manifest_path);
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(manifest_path + ": " + e.what());
  }
  std::ifstream win(weights_path, std::ios::binary | std::ios::ate);
  if (!win) return Status::NotFound("cannot open " + weights_path);
  std::vector<float> floats(static_cast<size_t>(win.tellg()) / sizeof(float));  // little-endian float32
  win.seekg(0);
  win.read(reinterpret_cast<char*>(floats.data()), static_cast<std::streamsize>(floats.size() * sizeof(float)));
  if (!win) return Status::Unavailable("error reading " + weights_path);
  const nlohmann::json& params = manifest.contains("parameters") ? manifest["parameters"] : manifest;

  std::vector<std::string> errors;
  std::vector<std::pair<Tensor, Tensor>> assignments;  // (our parameter, imported value)
  for (const auto& item : impl_->net->named_parameters()) {
    const std::string& name = item.key();
    if (!params.contains(name)) {
      errors.push_back("missing parameter " + name);
      continue;
    }
    const auto& p = params[name];
    std::vector<int64_t> shape = p["shape"].get<std::vector<int64_t>>();
    const int64_t offset = p.contains("offset_floats") ? p["offset_floats"].get<int64_t>() : p["offset"].get<int64_t>();
    const Tensor& ours = item.value();
    if (shape != ours.sizes().vec()) {
      std::ostringstream os;
      os << name << ": shape " << c10::IntArrayRef(shape) << " in the file, " << ours.sizes() << " in the model";
      errors.push_back(os.str());
      continue;
    }
    if (offset < 0 || static_cast<size_t>(offset + ours.numel()) > floats.size()) {
      errors.push_back(name + ": offset beyond the end of " + weights_path);
      continue;
    }
    assignments.emplace_back(ours, torch::from_blob(floats.data() + offset, shape, torch::kFloat32).clone());
  }
  if (!errors.empty()) {
    std::string msg = "cannot import " + manifest_path + ":";
    for (const auto& e : errors) msg += "\n  " + e;
    return Status::InvalidArgument(msg);
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& [ours, value] : assignments) ours.copy_(value);
  }
  return impl_->WeightsChanged();
}

void AppendTimeFeatures(int64_t unix_seconds, std::vector<float>* out) {
  int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  const int64_t secs_of_day = unix_seconds - days * 86400;
  const int64_t hour = secs_of_day / 3600;
  const int64_t weekday = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday; Monday = 0
  // Civil date for day of month and day of year.
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy_march + 2) / 153;
  const int64_t day = doy_march - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  const int64_t day_of_year = days - DaysFromCivil(year, 1, 1) + 1;
  out->push_back(static_cast<float>(hour / 23.0 - 0.5));
  out->push_back(static_cast<float>(weekday / 6.0 - 0.5));
  out->push_back(static_cast<float>((day - 1) / 30.0 - 0.5));
  out->push_back(static_cast<float>((day_of_year - 1) / 365.0 - 0.5));
}

}  // namespace brickcast
