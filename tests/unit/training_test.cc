#include "brickcast/training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "test_support.h"

namespace brickcast {
namespace {

// Two hourly channels: a daily cycle and a slower trend, with noise.
SeriesTable Synthetic(size_t rows) {
  SeriesTable t;
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

TEST(TrainingTest, LossFallsAndTheSavedModelReloadsToIdenticalOutputs) {
  const SeriesTable data = Synthetic(1200);
  auto model = TrainTimeMixer(data, "synthetic", SmallOptions(), nullptr);
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

  auto eval = EvaluateTimeMixer(**loaded, data, "ratio", "test");
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_GT(eval->windows, 0u);
  EXPECT_EQ(eval->mse_by_channel.size(), 2u);
  EXPECT_EQ(eval->mse_by_horizon.size(), 4u);
}

TEST(TrainingTest, TrainingIsReproducibleForASeed) {
  const SeriesTable data = Synthetic(800);
  TrainOptions o = SmallOptions();
  o.epochs = 1;
  auto a = TrainTimeMixer(data, "s", o, nullptr), b = TrainTimeMixer(data, "s", o, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->metadata().metrics, (*b)->metadata().metrics);
}

TEST(TrainingTest, WindowsNeverCrossAGap) {
  SeriesTable data = Synthetic(1200);
  // A one-day hole in the middle of the training part: no window may span it.
  for (size_t i = 400; i < data.rows(); ++i) data.times[i] += 24 * 3600;
  auto model = TrainTimeMixer(data, "gappy", SmallOptions(), nullptr);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto windows = nlohmann::json::parse((*model)->metadata().training)["windows"];
  const size_t train_rows = 1200 * 7 / 10, span = 48 + 24;
  EXPECT_EQ(windows["train"].get<size_t>(), (400 - span + 1) + (train_rows - 400 - span + 1));
}

TEST(TrainingTest, DamagedModelFilesAreRejectedClearly) {
  auto model = TrainTimeMixer(Synthetic(600), "s", [] {
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
}

}  // namespace
}  // namespace brickcast
