// Training and evaluating TimeMixer (`brickcast train`, `brickcast evaluate`): the official recipe
// (Adam, MSE, one-cycle learning rate stepped per batch, early stopping on validation), the
// standard ETT split or a 70/10/20 split for other data, a StandardScaler fitted on the training
// rows, and windows that never cross a gap in the data. Deterministic for a given seed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/status.h"
#include "brickcast/timemixer.h"

namespace brickcast {

// A multichannel series at a fixed step, rows in time order.
struct SeriesTable {
  std::vector<std::string> channels;
  std::vector<int64_t> times;  // unix seconds, one per row
  std::vector<float> values;   // rows x channels, row-major
  size_t rows() const { return times.size(); }
};

// Reads a CSV whose first column is the time ("2016-07-01 00:00:00", ISO 8601 or unix seconds)
// and the other columns numbers. `columns` selects and orders channels (empty: all).
StatusOr<SeriesTable> LoadSeriesCsv(const std::string& path, const std::vector<std::string>& columns = {});

struct TrainOptions {
  TimeMixerConfig model;
  std::vector<std::string> columns;  // channels to train on (CSV columns); empty: all
  double learning_rate = 0.01;
  int batch_size = 128;
  int epochs = 10;
  int patience = 10;
  double pct_start = 0.2;
  uint64_t seed = 2021;
  std::string split = "ett";   // ett: 12/4/4 months of hourly rows; ratio: 70/10/20
  int threads = 1;             // LibTorch intra-op threads
  int64_t max_steps_per_epoch = 0;  // 0: all batches (a cap keeps CI runs short)
};

// A JSON training configuration (schema-checked: unknown keys are errors).
StatusOr<TrainOptions> LoadTrainOptions(const std::string& path);

struct EvalResult {
  size_t windows = 0;
  double mse = 0, mae = 0;              // on scaled values, as the paper reports
  double mse_units = 0, mae_units = 0;  // in the data's own units
  std::vector<double> mse_by_horizon;   // four equal horizon buckets, scaled
  std::vector<double> mse_by_channel;   // scaled
  std::vector<double> mae_units_by_channel;
};

using ProgressFn = std::function<void(const std::string& line)>;

StatusOr<std::unique_ptr<TimeMixerModel>> TrainTimeMixer(const SeriesTable& data, const std::string& data_name,
                                                         const TrainOptions& options, const ProgressFn& progress);

// Metrics of `model` on one split ("train", "val" or "test") of `data`.
StatusOr<EvalResult> EvaluateTimeMixer(const TimeMixerModel& model, const SeriesTable& data, const std::string& split,
                                       const std::string& part = "test");

}  // namespace brickcast
