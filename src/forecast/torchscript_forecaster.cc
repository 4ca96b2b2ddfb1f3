// TorchScript modules behind the Forecaster interface (the third file that includes LibTorch; the
// TorchScript loader lives only here).
#include <torch/script.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <nlohmann/json.hpp>

#include "brickcast/forecaster.h"
#include "brickcast/sha256.h"
#include "brickcast/timemixer.h"

namespace brickcast {
namespace {

class TorchScriptForecaster final : public Forecaster {
 public:
  TorchScriptForecaster(torch::jit::Module module, int seq_len, int pred_len, int channels, int time_features,
                        int64_t step_seconds, std::string identity)
      : module_(std::move(module)), seq_len_(seq_len), pred_len_(pred_len), channels_(channels),
        time_features_(time_features), step_seconds_(step_seconds), identity_(std::move(identity)) {}

  int seq_len() const override { return seq_len_; }
  int pred_len() const override { return pred_len_; }
  int channels() const override { return channels_; }
  int time_features() const override { return time_features_; }
  std::string kind() const override { return "torchscript"; }
  int64_t step_seconds() const override { return step_seconds_; }
  std::string identity() const override { return identity_; }

  StatusOr<std::vector<float>> Forecast(const std::vector<float>& x, const std::vector<float>& marks,
                                        int batch) const override {
    if (batch < 1 || x.size() != static_cast<size_t>(batch) * seq_len_ * channels_)
      return Status::InvalidArgument("forecast input has " + std::to_string(x.size()) + " values, expected batch x " +
                                     std::to_string(seq_len_) + " x " + std::to_string(channels_));
    const size_t want_marks = static_cast<size_t>(batch) * seq_len_ * time_features_;
    if (marks.size() != want_marks)
      return Status::InvalidArgument("this TorchScript model needs " + std::to_string(want_marks) + " time features, got " +
                                     std::to_string(marks.size()));
    try {
      c10::InferenceMode guard;
      std::vector<torch::jit::IValue> inputs;
      inputs.emplace_back(torch::from_blob(const_cast<float*>(x.data()), {batch, seq_len_, channels_}, torch::kFloat32));
      if (time_features_ > 0)
        inputs.emplace_back(
            torch::from_blob(const_cast<float*>(marks.data()), {batch, seq_len_, time_features_}, torch::kFloat32));
      // Module::forward is not const in the API; inference does not mutate a traced module
      // (pytorch/pytorch#51452), so sharing it between threads is safe.
      torch::Tensor y = const_cast<torch::jit::Module&>(module_).forward(inputs).toTensor().contiguous().to(torch::kFloat32);
      if (y.dim() != 3 || y.size(0) != batch || y.size(1) != pred_len_ || y.size(2) != channels_) {
        std::ostringstream os;
        os << "TorchScript model returned shape " << y.sizes() << ", expected [" << batch << ", " << pred_len_ << ", "
           << channels_ << "]";
        return Status::Internal(os.str());
      }
      return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    } catch (const c10::Error& e) {
      return Status::Internal(std::string("TorchScript forward: ") + e.what_without_backtrace());
    }
  }

 private:
  torch::jit::Module module_;
  int seq_len_, pred_len_, channels_, time_features_;
  int64_t step_seconds_;
  std::string identity_;
};

}  // namespace

StatusOr<std::unique_ptr<Forecaster>> LoadTorchScriptForecaster(const std::string& path) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("TorchScript model " + path + ": " + why); };
  torch::jit::ExtraFilesMap extra{{"brickcast.json", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, c10::nullopt, extra);
    module.eval();
  } catch (const c10::Error& e) {
    return bad(std::string("cannot load: ") + e.what_without_backtrace());
  }
  if (extra["brickcast.json"].empty())
    return bad("no brickcast.json extra file; save with torch.jit.save(m, path, _extra_files={\"brickcast.json\": "
               "json.dumps({\"seq_len\": .., \"pred_len\": .., \"channels\": .., \"time_features\": ..})})");
  nlohmann::json meta = nlohmann::json::parse(extra["brickcast.json"], nullptr, false);
  int seq = 0, pred = 0, ch = 0, tf = 0;
  int64_t step = 0;
  try {
    step = meta.value("step_seconds", 0);
    seq = meta.at("seq_len");
    pred = meta.at("pred_len");
    ch = meta.at("channels");
    tf = meta.value("time_features", 0);
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("brickcast.json: ") + e.what());
  }
  if (seq < 1 || pred < 1 || ch < 1 || tf < 0) return bad("brickcast.json: sizes must be positive");
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto f = std::make_unique<TorchScriptForecaster>(std::move(module), seq, pred, ch, tf, step,
                                                   "torchscript sha256:" + Sha256Hex(bytes).substr(0, 12));
  // One forward on zeros proves the module accepts the declared shapes.
  auto probe = f->Forecast(std::vector<float>(static_cast<size_t>(seq) * ch), std::vector<float>(static_cast<size_t>(seq) * tf), 1);
  if (!probe.ok()) return bad("does not run with the declared shapes: " + probe.status().message());
  return std::unique_ptr<Forecaster>(std::move(f));
}

StatusOr<std::unique_ptr<Forecaster>> LoadForecasterFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open model " + path);
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.rfind(kTimeMixerFileMagic, 0) == 0) {
    auto m = TimeMixerModel::Load(path);
    if (!m.ok()) return m.status();
    return std::unique_ptr<Forecaster>(std::move(*m));
  }
  return LoadTorchScriptForecaster(path);
}

}  // namespace brickcast
