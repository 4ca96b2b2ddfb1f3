#include "brickcast/timemixer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <random>

#include "test_support.h"

namespace brickcast {
namespace {

std::string Parity(const std::string& rel) { return std::string(BRICKCAST_SHARED_REFERENCE) + "/timemixer-parity/" + rel; }

using testing::ReadFloats;

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

void CheckParity(const std::string& folder, int batch, bool marks) {
  if (!std::filesystem::exists(Parity(folder + "/y.bin")))
    GTEST_SKIP() << "../shared/reference is absent (a user's clone): parity test skipped";
  TimeMixerConfig c;  // the defaults are the ETTh1 settings of the fixture
  if (!marks) c.time_features = 4;  // the parameters exist; the forward pass just gets no marks
  auto model = TimeMixerModel::Create(c, 1);
  ASSERT_TRUE(model.ok()) << model.status().message();
  Status st = (*model)->ImportOfficialParameters(Parity(folder + "/manifest.json"), Parity(folder + "/weights.bin"));
  ASSERT_TRUE(st.ok()) << st.message();
  const std::vector<float> x = ReadFloats(Parity(folder + "/x_enc.bin"));
  const std::vector<float> m = marks ? ReadFloats(Parity(folder + "/x_mark_enc.bin")) : std::vector<float>{};
  const std::vector<float> want = ReadFloats(Parity(folder + "/y.bin"));
  auto y = (*model)->Forecast(x, m, batch);
  ASSERT_TRUE(y.ok()) << y.status().message();
  const float diff = MaxAbsDiff(*y, want);
  EXPECT_LE(diff, 1e-4f) << folder;
  ::testing::Test::RecordProperty("max_abs_diff", std::to_string(diff));
  std::printf("parity %s: max |delta| = %.3g\n", folder.c_str(), diff);
}

TEST(TimeMixerTest, MatchesTheOfficialImplementationWithTimeMarks) { CheckParity("etth1_h96", 1, true); }
TEST(TimeMixerTest, MatchesTheOfficialImplementationWithoutTimeMarks) { CheckParity("etth1_h96_nomarks", 4, false); }

TEST(TimeMixerTest, ParameterCountMatchesTheReference) {
  // The official model has 75,497 parameters with the ETTh1 settings (counted on thuml/TimeMixer); ours
  // leaves out the two PDM LayerNorms (weight and bias of d_model each) that its forward never uses.
  auto model = TimeMixerModel::Create(TimeMixerConfig{}, 1);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->NumParameters(), 75497 - 2 * (16 + 16));
}

TEST(TimeMixerTest, ForecastsAreBatchInvariant) {
  TimeMixerConfig c;
  c.channels = 3;
  auto model = TimeMixerModel::Create(c, 42);
  ASSERT_TRUE(model.ok());
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 1);
  const int batch = 8;
  std::vector<float> x(static_cast<size_t>(batch) * c.seq_len * c.channels), marks;
  for (float& v : x) v = noise(rng);
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < c.seq_len; ++t) AppendTimeFeatures(1795341600 + b * 86400 * 3 + t * 3600, &marks);
  }
  auto all = (*model)->Forecast(x, marks, batch);
  ASSERT_TRUE(all.ok()) << all.status().message();
  const size_t in_per = static_cast<size_t>(c.seq_len) * c.channels, m_per = static_cast<size_t>(c.seq_len) * 4,
               out_per = static_cast<size_t>(c.pred_len) * c.channels;
  float worst = 0;
  for (int b = 0; b < batch; ++b) {
    std::vector<float> xb(x.begin() + b * in_per, x.begin() + (b + 1) * in_per);
    std::vector<float> mb(marks.begin() + b * m_per, marks.begin() + (b + 1) * m_per);
    auto one = (*model)->Forecast(xb, mb, 1);
    ASSERT_TRUE(one.ok());
    std::vector<float> from_batch(all->begin() + b * out_per, all->begin() + (b + 1) * out_per);
    worst = std::max(worst, MaxAbsDiff(*one, from_batch));
  }
  EXPECT_LT(worst, 1e-5f) << "a sample's forecast must not depend on the rest of the batch";
}

// The inference plan (timemixer_inference.h) against the LibTorch modules it replaces, on the
// configurations it covers: with and without time features and RevIN, several channels, avg and
// max pooling, other lengths and kernels (a kernel wider than the coarsest scale), batches that
// fill several chunks of rows, and 1 or 2 threads; then the shipped HVAC model's trained weights.
TEST(TimeMixerTest, InferencePlanMatchesTheModules) {
  struct Case {
    std::string name;
    TimeMixerConfig c;
    int batch;
  };
  std::vector<Case> cases;
  TimeMixerConfig ett;  // ETTh1: 7 channels, 96 -> 96, time features
  cases.push_back({"ett", ett, 5});
  TimeMixerConfig hvac;  // the shipped HVAC model's shape: one channel, 96 -> 24, no time features
  hvac.channels = 1;
  hvac.pred_len = 24;
  hvac.time_features = 0;
  cases.push_back({"hvac batch 77", hvac, 77});
  TimeMixerConfig other = hvac;
  other.channels = 2;
  other.seq_len = 288;
  other.pred_len = 48;
  other.down_sampling_layers = 2;
  other.down_sampling_window = 3;
  other.down_sampling_method = "max";
  other.moving_avg = 49;  // wider than the coarsest scale (32 steps)
  other.d_model = 8;
  other.d_ff = 24;
  other.e_layers = 1;
  cases.push_back({"max pooling, 3 scales", other, 3});
  TimeMixerConfig plain = ett;
  plain.use_norm = false;
  plain.channels = 2;
  cases.push_back({"no RevIN", plain, 4});
  TimeMixerConfig anchored = hvac;  // RevIN centred on the newest step (the shipped HVAC model)
  anchored.norm_center = "last";
  anchored.channels = 3;
  cases.push_back({"RevIN centred on the last step", anchored, 9});
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0, 1);
  for (const Case& k : cases) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(k.name + ", threads " + std::to_string(threads));
      SetForecastThreads(threads);
      auto model = TimeMixerModel::Create(k.c, 5);
      ASSERT_TRUE(model.ok());
      std::vector<float> x(static_cast<size_t>(k.batch) * k.c.seq_len * k.c.channels), marks;
      // Scaled like the model's inputs (the dataset scaler's z-scores), as in the parity test.
      for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f + std::sin(0.1f * static_cast<float>(i)) + 0.3f * noise(rng);
      if (k.c.time_features > 0)
        for (int b = 0; b < k.batch; ++b)
          for (int t = 0; t < k.c.seq_len; ++t) AppendTimeFeatures(1795341600 + b * 7200 + t * 3600, &marks);
      auto modules = (*model)->TEST_ForecastThroughModules(x, marks, k.batch);
      auto plan = (*model)->Forecast(x, marks, k.batch);
      ASSERT_TRUE(modules.ok()) << modules.status().message();
      ASSERT_TRUE(plan.ok()) << plan.status().message();
      ASSERT_EQ(plan->size(), modules->size());
      EXPECT_LT(MaxAbsDiff(*plan, *modules), 1e-5f);
    }
  }
  auto shipped = TimeMixerModel::Load(testing::SourcePath("models/hvac-5min.model"));
  ASSERT_TRUE(shipped.ok()) << shipped.status().message();
  const TimeMixerConfig& c = (*shipped)->config();
  const int batch = 40;
  std::vector<float> x(static_cast<size_t>(batch) * c.seq_len * c.channels);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.05f * static_cast<float>(i)) + 0.1f * noise(rng);
  auto modules = (*shipped)->TEST_ForecastThroughModules(x, {}, batch);
  auto plan = (*shipped)->Forecast(x, {}, batch);
  ASSERT_TRUE(modules.ok() && plan.ok());
  EXPECT_LT(MaxAbsDiff(*plan, *modules), 1e-5f) << "the shipped model";
  SetForecastThreads(1);
}

TEST(TimeMixerTest, InvalidConfigurationsAreRejectedWithReasons) {
  TimeMixerConfig c;
  c.seq_len = 100;  // not divisible by 2^3
  c.moving_avg = 24;
  c.decomposition = "fourier";
  c.norm_center = "median";
  auto model = TimeMixerModel::Create(c, 1);
  ASSERT_FALSE(model.ok());
  const std::string& m = model.status().message();
  EXPECT_NE(m.find("seq_len 100 is not divisible by down_sampling_window^down_sampling_layers = 8"), std::string::npos) << m;
  EXPECT_NE(m.find("moving_avg must be an odd number"), std::string::npos) << m;
  EXPECT_NE(m.find("decomposition must be moving_avg or dft"), std::string::npos) << m;
  EXPECT_NE(m.find("norm_center must be mean or last"), std::string::npos) << m;
}

TEST(TimeMixerTest, WrongInputSizesAreErrorsNotCrashes) {
  auto model = TimeMixerModel::Create(TimeMixerConfig{}, 1);
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE((*model)->Forecast(std::vector<float>(10), {}, 1).ok());
  EXPECT_FALSE((*model)->Forecast(std::vector<float>(96 * 7), std::vector<float>(5), 1).ok());
  EXPECT_FALSE((*model)->Forecast(std::vector<float>(96 * 7), {}, 0).ok());
  TimeMixerConfig other;
  other.d_model = 8;
  auto small = TimeMixerModel::Create(other, 1);
  ASSERT_TRUE(small.ok());
  if (std::filesystem::exists(Parity("etth1_h96/manifest.json"))) {
    Status st = (*small)->ImportOfficialParameters(Parity("etth1_h96/manifest.json"), Parity("etth1_h96/weights.bin"));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("shape"), std::string::npos) << st.message();
  }
}

TEST(TimeMixerTest, TimeFeaturesFollowTheTimeFEncoding) {
  std::vector<float> f;
  AppendTimeFeatures(1795341600, &f);  // 2026-11-22T10:00:00Z, a Sunday, day 326 of the year
  ASSERT_EQ(f.size(), 4u);
  EXPECT_NEAR(f[0], 10 / 23.0 - 0.5, 1e-6);
  EXPECT_NEAR(f[1], 6 / 6.0 - 0.5, 1e-6);
  EXPECT_NEAR(f[2], 21 / 30.0 - 0.5, 1e-6);
  EXPECT_NEAR(f[3], 325 / 365.0 - 0.5, 1e-6);
}

}  // namespace
}  // namespace brickcast
