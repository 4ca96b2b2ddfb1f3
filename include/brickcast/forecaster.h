// Forecaster: what the serving side needs of a trained model, whatever produced it (our native
// TimeMixer model files, or TorchScript modules traced from the official Python code).
// Forecast() is safe from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/status.h"

namespace brickcast {

class Forecaster {
 public:
  virtual ~Forecaster() = default;

  virtual int seq_len() const = 0;
  virtual int pred_len() const = 0;
  virtual int channels() const = 0;
  virtual int time_features() const = 0;  // 0: the model takes no time features
  virtual std::string kind() const = 0;   // "timemixer", "torchscript"
  // Sampling interval the model was trained on; 0 when the model does not say.
  virtual int64_t step_seconds() const { return 0; }
  // Names this exact model in API answers and logs ("timemixer sha256:1a2b3c4d5e6f").
  virtual std::string identity() const { return kind(); }

  // x: [batch, seq_len, channels] row-major; marks: [batch, seq_len, time_features] or empty.
  // Returns [batch, pred_len, channels].
  virtual StatusOr<std::vector<float>> Forecast(const std::vector<float>& x, const std::vector<float>& marks,
                                                int batch) const = 0;
};

// Loads a TorchScript module saved with torch.jit.save, with an extra file "brickcast.json" giving
// {"seq_len", "pred_len", "channels", "time_features"}; its forward takes (x, x_mark) like
// TimeMixer. The module is checked with one forward on zeros before it is returned.
StatusOr<std::unique_ptr<Forecaster>> LoadTorchScriptForecaster(const std::string& path);

// LibTorch intra-op threads for every forward in this process (process-global in LibTorch; set
// once at start). Also makes the system BLAS single-threaded (SingleThreadBlas).
void SetForecastThreads(int threads);

// Makes OpenBLAS single-threaded and stops its idle worker threads, whatever the environment says
// (they otherwise spin in sched_yield after every call). Idempotent; call it first thing in main().
// LibTorch's own pool (SetForecastThreads) does the parallel work instead.
struct BlasThreadsReport {
  bool openblas = false;         // the process's BLAS is OpenBLAS
  int threads_at_load = 0;       // OpenBLAS threads before the call
  bool workers_stopped = false;  // its worker threads were joined
};
BlasThreadsReport SingleThreadBlas();

// A brickcast TimeMixer model file or a TorchScript module, told apart by the file's first bytes.
StatusOr<std::unique_ptr<Forecaster>> LoadForecasterFile(const std::string& path);

}  // namespace brickcast
