#include "brickcast/training.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "brickcast/status.h"
#include "test_support.h"

namespace brickcast {
namespace {

// Two hourly channels: a daily cycle and a slower trend, with noise.
SeriesTable Synthetic(size_t rows) {
  SeriesTable t;
  t.name = "synthetic";
  t.channels = {"supply_temp", "outside_temp"};
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 0.1f);
  for (size_t i = 0; i < rows; ++i) {
    t.times.push_back(1700000000 + static_cast<int64_t>(i) * 3600);
    t.values.push_back(static_cast<float>(13 + 2 * std::sin(2 * M_PI * i / 24.0)) + noise(rng));
    t.values.push_back(static_cast<float>(10 + 8 * std::sin(2 * M_PI * i / 24.0 + 1) + i * 0.002) + noise(rng));
  }
  return t;
}

TrainOptions SmallOptions() {
  TrainOptions o;
  o.model.seq_len = 48;
  o.model.pred_len = 24;
  o.model.down_sampling_layers = 2;
  o.split = "ratio";
  o.epochs = 4;
  o.batch_size = 32;
  o.max_steps_per_epoch = 6;
  o.learning_rate = 0.01;
  o.threads = 1;
  return o;
}

// A single-channel series of `days` at `step` seconds from 2016-07-01 (as ETT starts).
SeriesTable Regular(int64_t step, int days) {
  SeriesTable t;
  t.name = "regular";
  t.channels = {"OT"};
  for (int64_t at = 0; at < int64_t{days} * 86'400; at += step) {
    t.times.push_back(1'467'331'200 + at);
    t.values.push_back(static_cast<float>(at % 86'400) / 3600.0f);
  }
  return t;
}

// The ETT split is 12/4/4 months of 30 days by time: the paper's rows on hourly data, the ETTm
// rows on 15-minute data (by rows, 15-minute data trained on its first three months).
TEST(TrainingSplitTest, TheEttSplitCountsMonthsInTimeWhateverTheStep) {
  const SeriesTable hourly = Regular(3600, 725);  // ETTh1's length, about
  auto h = SplitTable(hourly, "ett", 96);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->train.begin, 0u);
  EXPECT_EQ(h->train.end, 8640u);
  EXPECT_EQ(h->val.begin, 8640u - 96);
  EXPECT_EQ(h->val.end, 11520u);
  EXPECT_EQ(h->test.begin, 11520u - 96);
  EXPECT_EQ(h->test.end, 14400u);

  const SeriesTable quarter = Regular(900, 725);
  auto q = SplitTable(quarter, "ett", 96);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->train.end, 34560u);
  EXPECT_EQ(q->val.end, 46080u);
  EXPECT_EQ(q->test.end, 57600u);
  EXPECT_EQ(quarter.times[q->train.end] - quarter.times[0], 360 * 86'400) << "twelve months of 30 days";
  EXPECT_EQ(quarter.times[q->test.begin + 96] - quarter.times[0], 480 * 86'400);

  // A day missing from the training months moves no boundary in time (it would by rows).
  SeriesTable gap = Regular(900, 725);
  gap.times.erase(gap.times.begin() + 1000, gap.times.begin() + 1096);
  gap.values.erase(gap.values.begin() + 1000, gap.values.begin() + 1096);
  auto g = SplitTable(gap, "ett", 96);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(gap.times[g->train.end] - gap.times[0], 360 * 86'400);
  EXPECT_EQ(g->train.end, 34560u - 96);

  auto short_data = SplitTable(Regular(900, 500), "ett", 96);
  ASSERT_FALSE(short_data.ok());
  EXPECT_NE(short_data.status().message().find("600 days"), std::string::npos) << short_data.status().message();
  EXPECT_FALSE(SplitTable(hourly, "months", 96).ok());
}

TEST(TrainingSplitTest, DataWithoutARegularStepIsRefused) {
  EXPECT_EQ(*InferStepSeconds(Regular(900, 2)), 900);
  SeriesTable odd = Regular(900, 2);
  for (size_t i = 0; i < odd.times.size(); ++i) odd.times[i] = 1'467'331'200 + static_cast<int64_t>(i * i) * 7;
  auto step = InferStepSeconds(odd);
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.status().message().find("no regular step"), std::string::npos) << step.status().message();
  SeriesTable backwards = Regular(900, 2);
  std::swap(backwards.times[3], backwards.times[4]);
  EXPECT_FALSE(InferStepSeconds(backwards).ok());
  SeriesTable one = Regular(900, 2);
  one.times.resize(1);
  one.values.resize(1);
  EXPECT_FALSE(InferStepSeconds(one).ok());
  // Training refuses it with the reason, before anything is trained.
  TrainOptions o = SmallOptions();
  o.model.channels = 1;
  auto trained = TrainTimeMixer({odd}, "odd", o, nullptr);
  ASSERT_FALSE(trained.ok());
  EXPECT_NE(trained.status().message().find("no regular step"), std::string::npos) << trained.status().message();
}

TEST(TrainingTest, LossFallsAndTheSavedModelReloadsToIdenticalOutputs) {
  const SeriesTable data = Synthetic(1200);
  auto model = TrainTimeMixer({data}, "synthetic", SmallOptions(), nullptr);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto history = nlohmann::json::parse((*model)->metadata().training)["history"];
  ASSERT_EQ(history.size(), 4u);
  EXPECT_LT(history[3]["train_loss"].get<double>(), history[0]["train_loss"].get<double>());
  EXPECT_LT(history[3]["val_loss"].get<double>(), history[0]["val_loss"].get<double>());

  testing::TempDir dir;
  const std::string path = dir.path() + "/m.model";
  ASSERT_TRUE((*model)->Save(path).ok());
  auto loaded = TimeMixerModel::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->metadata().channels, data.channels);
  EXPECT_EQ((*loaded)->metadata().scaler_mean, (*model)->metadata().scaler_mean);
  EXPECT_EQ((*loaded)->metadata().step_seconds, 3600);
  std::vector<float> x(48 * 2), marks;
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(i * 0.1));
  for (int t = 0; t < 48; ++t) AppendTimeFeatures(1700000000 + t * 3600, &marks);
  auto a = (*model)->Forecast(x, marks, 1), b = (*loaded)->Forecast(x, marks, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b) << "the reloaded model must produce identical outputs";

  auto eval = EvaluateTimeMixer(**loaded, {data}, EvalOptions{});
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_EQ(eval->windows, 1200u * 2 / 10 - 24 + 1);
  ASSERT_EQ(eval->channels.size(), 2u);
  EXPECT_EQ(eval->channels[0].name, "supply_temp");
  EXPECT_EQ(eval->mse_by_horizon.size(), 4u);
  // The paper's loader drops the last partial batch: whole batches of 32 only.
  EvalOptions drop;
  drop.drop_last_batch = 32;
  auto dropped = EvaluateTimeMixer(**loaded, {data}, drop);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->windows, eval->windows / 32 * 32);
}

TEST(TrainingTest, TrainingIsReproducibleForASeed) {
  const SeriesTable data = Synthetic(800);
  TrainOptions o = SmallOptions();
  o.epochs = 1;
  auto a = TrainTimeMixer({data}, "s", o, nullptr), b = TrainTimeMixer({data}, "s", o, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->metadata().metrics, (*b)->metadata().metrics);
}

TEST(TrainingTest, WindowsNeverCrossAGap) {
  SeriesTable data = Synthetic(1200);
  // A one-day hole in the middle of the training part: no window may span it.
  for (size_t i = 400; i < data.rows(); ++i) data.times[i] += 24 * 3600;
  auto model = TrainTimeMixer({data}, "gappy", SmallOptions(), nullptr);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto windows = nlohmann::json::parse((*model)->metadata().training)["windows"];
  const size_t train_rows = 1200 * 7 / 10, span = 48 + 24;
  EXPECT_EQ(windows["train"].get<size_t>(), (400 - span + 1) + (train_rows - 400 - span + 1));
}

// Stopping after an epoch and resuming from the checkpoint gives the same model, bit for bit, as
// one uninterrupted run (weights, optimiser moments, schedule, shuffling and dropout all restored).
TEST(TrainingTest, AnInterruptedRunResumesToTheSameModel) {
  const SeriesTable data = Synthetic(800);
  testing::TempDir dir;
  TrainOptions o = SmallOptions();
  o.epochs = 3;
  o.max_steps_per_epoch = 3;
  auto straight = TrainTimeMixer({data}, "s", o, nullptr);
  ASSERT_TRUE(straight.ok()) << straight.status().message();

  o.checkpoint = dir.path() + "/run.ckpt";
  std::atomic<bool> stop{false};
  int epochs_seen = 0;
  auto interrupted = TrainTimeMixer({data}, "s", o, [&](const std::string&) {
    if (++epochs_seen == 1) stop = true;  // as if Ctrl-C arrived during epoch 2
  }, &stop);
  ASSERT_FALSE(interrupted.ok());
  EXPECT_EQ(interrupted.status().code(), StatusCode::kCancelled);

  o.resume = true;
  auto resumed = TrainTimeMixer({data}, "s", o, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ((*resumed)->metadata().metrics, (*straight)->metadata().metrics);
  const std::string a = dir.path() + "/a.model", b = dir.path() + "/b.model";
  ASSERT_TRUE((*straight)->Save(a).ok());
  ASSERT_TRUE((*resumed)->Save(b).ok());
  EXPECT_EQ((*straight)->metadata().content_hash, (*resumed)->metadata().content_hash);
  auto history = nlohmann::json::parse((*resumed)->metadata().training)["history"];
  EXPECT_EQ(history.size(), 3u);

  // A checkpoint from other options is refused, not silently mixed in.
  o.learning_rate = 0.02;
  auto mismatch = TrainTimeMixer({data}, "s", o, nullptr);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("other options or data"), std::string::npos) << mismatch.status().message();
}

// A single-channel model trained on many series at once (one per point), each z-scored by itself.
TEST(TrainingTest, PerSeriesTrainingTakesManyPointsInTheirOwnUnits) {
  const SeriesTable both = Synthetic(900);
  std::vector<SeriesTable> points(2);
  for (int c = 0; c < 2; ++c) {
    points[c].name = both.channels[c];
    points[c].channels = {both.channels[c]};
    points[c].units = {c == 0 ? "degC" : "Pa"};
    points[c].times = both.times;
    for (size_t r = 0; r < both.rows(); ++r) points[c].values.push_back(both.values[r * 2 + c] * (c == 0 ? 1 : 100));
  }
  // A status point: flat at 1 through training, then it moves (a fan trips). Its tiny training
  // spread must not turn that move into a loss of thousands.
  SeriesTable status;
  status.name = status.channels.emplace_back("fan_status");
  status.units = {"1"};
  status.times = both.times;
  for (size_t r = 0; r < both.rows(); ++r) status.values.push_back(r < 700 ? 1.0f + 1e-7f * (r % 2) : 0.0f);
  points.push_back(status);
  TrainOptions o = SmallOptions();
  o.scaler = "per_series";
  auto model = TrainTimeMixer(points, "points", o, nullptr);
  ASSERT_TRUE(model.ok()) << model.status().message();
  for (const auto& epoch : nlohmann::json::parse((*model)->metadata().training)["history"]) {
    EXPECT_LT(epoch["train_loss"].get<double>(), 10) << epoch.dump();
    EXPECT_LT(epoch["test_loss"].get<double>(), 1e4) << epoch.dump();
  }
  points.pop_back();
  EXPECT_EQ((*model)->metadata().channels, std::vector<std::string>{"value"});
  EXPECT_EQ((*model)->metadata().scaler_std, std::vector<double>{1.0});
  auto eval = EvaluateTimeMixer(**model, points, EvalOptions{});
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  ASSERT_EQ(eval->channels.size(), 2u);
  EXPECT_EQ(eval->channels[1].unit, "Pa");
  EXPECT_TRUE(std::isnan(eval->mse_units)) << "no single unit across points";
  // The Pa series is 100x larger, yet scaled errors are comparable: per-series scaling works.
  EXPECT_LT(eval->channels[1].mse, 10 * eval->channels[0].mse + 1);
  EXPECT_GT(eval->channels[1].mae_units, 10 * eval->channels[0].mae_units);
}

// HVAC CSVs are read through the convert mapping and the live parser: SI units, one series per
// point, resampled to the step, with the days missing between the LBNL test days left as gaps.
TEST(TrainingTest, MappedHvacDataBecomesOneSeriesPerPointInSiUnits) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  MappedLoadStats stats;
  auto series = LoadMappedSeries(testing::SharedData("hvac-faults/SZVAV.csv"),
                                 testing::SourcePath("config/mappings/lbnl-szvav.json"), 300, &stats);
  ASSERT_TRUE(series.ok()) << series.status().message();
  EXPECT_EQ(stats.rows, 15839u);
  EXPECT_EQ(series->size(), 14u);
  const SeriesTable* sat = nullptr;
  for (const auto& s : *series)
    if (s.name == "urn:brickcast:lbnl-flexlab#SAT") sat = &s;
  ASSERT_NE(sat, nullptr);
  EXPECT_EQ(sat->units, std::vector<std::string>{"degC"});
  // Time features follow the site's wall clock, as in serve.
  EXPECT_EQ(sat->zone.name(), "America/Los_Angeles");
  // 11 days of 1-minute rows -> at most 11 x 288 five-minute steps, all at step boundaries.
  EXPECT_LE(sat->rows(), 11u * 288);
  EXPECT_GT(sat->rows(), 10u * 288);
  size_t gaps = 0;
  for (size_t i = 0; i < sat->rows(); ++i) {
    EXPECT_EQ(sat->times[i] % 300, 0);
    EXPECT_GT(sat->values[i], 5.f);   // a supply-air temperature in degC, not degF
    EXPECT_LT(sat->values[i], 45.f);
    if (i > 0 && sat->times[i] - sat->times[i - 1] != 300) ++gaps;
  }
  // The test days run 09-11..12, 09-14..15 and 09-18..24: two holes (09-13, 09-16..17).
  EXPECT_EQ(gaps, 2u);
  // The one '#VALUE!' cell of the file is counted, not trained on.
  EXPECT_EQ(stats.bad_cells, 1u);
}

TEST(TrainingTest, DamagedModelFilesAreRejectedClearly) {
  auto model = TrainTimeMixer({Synthetic(600)}, "s", [] {
    TrainOptions o = SmallOptions();
    o.epochs = 1;
    o.max_steps_per_epoch = 1;
    return o;
  }(), nullptr);
  ASSERT_TRUE(model.ok()) << model.status().message();
  testing::TempDir dir;
  const std::string path = dir.path() + "/m.model";
  ASSERT_TRUE((*model)->Save(path).ok());
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x55;
  auto corrupt = TimeMixerModel::Load(dir.File("corrupt.model", flipped));
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("content hash mismatch"), std::string::npos) << corrupt.status().message();

  auto truncated = TimeMixerModel::Load(dir.File("short.model", bytes.substr(0, bytes.size() - 100)));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos) << truncated.status().message();

  auto version = TimeMixerModel::Load(dir.File("v9.model", "brickcast-timemixer 9\n{}\n"));
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.status().message().find("version '9' is not supported"), std::string::npos);

  auto other = TimeMixerModel::Load(dir.File("x.model", "PK\x03\x04 a zip"));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not a brickcast TimeMixer model"), std::string::npos);
}

TEST(TrainingTest, TrainConfigurationIsSchemaChecked) {
  testing::TempDir dir;
  auto bad = LoadTrainOptions(dir.File("t.json", R"({"model": {"seq_len": "long", "layers": 3}, "epochz": 2})"));
  ASSERT_FALSE(bad.ok());
  for (const char* e : {"/model/seq_len: expected integer", "/model/layers: unknown key", "/epochz: unknown key"})
    EXPECT_NE(bad.status().message().find(e), std::string::npos) << e << " in " << bad.status().message();
  auto ok = LoadTrainOptions(testing::SourcePath("bench/configs/etth1_96.json"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->model.pred_len, 96);
  EXPECT_EQ(ok->batch_size, 128);
  EXPECT_EQ(ok->loss, "mse") << "the official recipe by default";
  EXPECT_EQ(ok->model.norm_center, "mean");
  // The shipped HVAC model's recipe: a day of input, RevIN centred on the newest step, absolute error.
  auto hvac = LoadTrainOptions(testing::SourcePath("config/training/hvac-5min.json"));
  ASSERT_TRUE(hvac.ok()) << hvac.status().message();
  EXPECT_EQ(hvac->model.seq_len, 288);
  EXPECT_EQ(hvac->model.norm_center, "last");
  EXPECT_EQ(hvac->loss, "mae");
  auto wrong_loss = LoadTrainOptions(dir.File("l.json", R"({"loss": "median"})"));
  ASSERT_FALSE(wrong_loss.ok());
  EXPECT_NE(wrong_loss.status().message().find("/loss must be mse or mae"), std::string::npos) << wrong_loss.status().message();
}

}  // namespace
}  // namespace brickcast
