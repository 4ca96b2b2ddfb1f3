// Training and evaluating TimeMixer (`brickcast train`, `brickcast evaluate`): the official recipe
// (Adam, MSE, one-cycle learning rate stepped per batch, early stopping on validation), the
// standard ETT split or a 70/10/20 split for other data, a StandardScaler fitted on the training
// rows, and windows that never cross a gap in the data. Deterministic for a given seed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "brickcast/status.h"
#include "brickcast/time.h"
#include "brickcast/timemixer.h"

namespace brickcast {

// A multichannel series at a fixed step, rows in time order. A missing step is a gap: training
// and evaluation windows never cross one.
struct SeriesTable {
  std::string name;                   // file or point IRI; shown in logs and reports
  std::vector<std::string> channels;
  std::vector<std::string> units;     // SI unit per channel when known (mapped data)
  std::vector<int64_t> times;  // unix seconds, one per row
  // Time features are computed on this zone's wall clock, as `serve` computes them on the site's.
  TimeZone zone = TimeZone::Utc();
  std::vector<float> values;   // rows x channels, row-major
  size_t rows() const { return times.size(); }
};

// Reads a CSV whose first column is the time ("2016-07-01 00:00:00", ISO 8601 or unix seconds)
// and the other columns numbers. `columns` selects and orders channels (empty: all).
StatusOr<SeriesTable> LoadSeriesCsv(const std::string& path, const std::vector<std::string>& columns = {});

// The step of a table's rows in seconds: the most common gap between consecutive rows (gaps in
// the data are rarer). InvalidArgument when it cannot be told: fewer than two rows, times not
// increasing, or no gap shared by at least half of the rows (irregular sampling).
StatusOr<int64_t> InferStepSeconds(const SeriesTable& t);

// Rows [begin, end) of a table.
struct RowRange {
  size_t begin = 0, end = 0;
};
struct DataSplit {
  RowRange train, val, test;
};
// Splits a table by time, whatever its step. "ett": the ETT protocol's 12/4/4 months of 30 days
// from the first row (on hourly data the paper's rows 8,640 / 11,520 / 14,400; on 15-minute data
// the ETTm rows 34,560 / 46,080 / 57,600); "ratio": 70/10/20 of the rows. The validation and test
// parts start `seq_len` rows early, so their first windows see the end of the part before.
StatusOr<DataSplit> SplitTable(const SeriesTable& t, const std::string& kind, int seq_len);

struct MappedLoadStats {
  size_t rows = 0, values = 0, rejected = 0, bad_cells = 0;
};

// Reads an HVAC CSV through a `convert` mapping (config/mappings/): every mapped column becomes one
// single-channel series per point, in SI units, averaged into steps of `step_seconds`. Values the
// live ingest path would reject (unknown units, physically impossible values) are dropped and
// counted; steps without data are gaps.
StatusOr<std::vector<SeriesTable>> LoadMappedSeries(const std::string& csv_path, const std::string& mapping_path,
                                                    int64_t step_seconds, MappedLoadStats* stats = nullptr);

struct TrainOptions {
  TimeMixerConfig model;
  std::vector<std::string> columns;  // channels to train on (CSV columns); empty: all
  double learning_rate = 0.01;
  int batch_size = 128;
  int epochs = 10;
  int patience = 10;
  double pct_start = 0.2;
  uint64_t seed = 2021;
  std::string split = "ett";   // ett: 12/4/4 months of 30 days by time (SplitTable); ratio: 70/10/20
  int threads = 1;             // LibTorch intra-op threads
  int64_t max_steps_per_epoch = 0;  // 0: all batches (a cap keeps CI runs short)
  // Which loss picks the saved epoch. "val" is the sound choice. "test" is what the official
  // TimeMixer code does (its EarlyStopping is fed the test loss); it exists only to reproduce the
  // paper's protocol and leaks the test set into model selection.
  std::string select_by = "val";
  // "standard": one z-score per channel over all training rows (the paper's protocol).
  // "per_series": each series is z-scored by its own training rows; for single-channel models
  // trained on many points, so that no unit dominates the loss. RevIN makes the model itself
  // insensitive to that scaling, so the saved model takes raw SI values.
  std::string scaler = "standard";
  int64_t step_seconds = 0;  // mapped HVAC data: resampling step (required there)
  double clip_grad_norm = 0;  // 0: no clipping (the official recipe)
  // "mse" (the official recipe) or "mae": trained and selected on absolute error, the model
  // forecasts the median; on series that mostly hold and rarely jump (commands, set points) the
  // mean-seeking MSE forecast drifts toward jumps that seldom come.
  std::string loss = "mse";
  // After every epoch the whole training state (weights, optimiser, schedule position, random
  // generators, best epoch) is written here; `resume` continues from it bit for bit.
  std::string checkpoint;
  bool resume = false;
};

// A JSON training configuration (schema-checked: unknown keys are errors).
StatusOr<TrainOptions> LoadTrainOptions(const std::string& path);

struct ChannelMetrics {
  std::string name, unit;
  size_t windows = 0;
  double mse = 0, mae = 0;  // scaled
  double mae_units = 0;     // in the channel's own unit
  double persistence_mae_units = 0;
  double seasonal_mae_units = 0;
};

struct EvalResult {
  size_t windows = 0;
  double mse = 0, mae = 0;              // on scaled values, as the paper reports
  double mse_units = 0, mae_units = 0;  // in the data's units; NaN when channels differ in unit
  std::vector<double> mse_by_horizon;   // four equal horizon buckets, scaled
  std::vector<ChannelMetrics> channels;  // per channel name (per point for per-series models)
  // Persistence (the last input value repeated) on the same windows: the bar a model must beat.
  double persistence_mse = 0, persistence_mae = 0;  // scaled
  // Seasonal naive (the value a day before each forecast step; persistence where the series has
  // no such step, counted in seasonal_fallback_steps) on the same windows: the other bar.
  double seasonal_mse = 0, seasonal_mae = 0;  // scaled
  size_t seasonal_fallback_steps = 0;
};

using ProgressFn = std::function<void(const std::string& line)>;

// Trains on one or more tables with the same channels (files, or points for single-channel
// models); windows never span two tables. `stop` (may be null) is polled between batches: when set,
// training ends with kCancelled after writing the checkpoint of the last finished epoch.
StatusOr<std::unique_ptr<TimeMixerModel>> TrainTimeMixer(const std::vector<SeriesTable>& data, const std::string& data_name,
                                                         const TrainOptions& options, const ProgressFn& progress,
                                                         const std::atomic<bool>* stop = nullptr);

struct EvalOptions {
  std::string split = "ratio";  // ett | ratio
  std::string part = "test";    // train | val | test
  // Evaluate only whole batches of this many windows, dropping the rest as the official test
  // loader does (drop_last=True); 0 evaluates every window.
  size_t drop_last_batch = 0;
};

StatusOr<EvalResult> EvaluateTimeMixer(const TimeMixerModel& model, const std::vector<SeriesTable>& data,
                                       const EvalOptions& options);

}  // namespace brickcast
