#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "brickcast/forecaster.h"
#include "test_support.h"

namespace brickcast {
namespace {

std::string Fixture(const std::string& name) { return testing::SourcePath("tests/testdata/torchscript/" + name); }

using testing::ReadFloats;

// The fixture was traced with Debian's python3-torch by scripts/make_torchscript_fixture.py.
TEST(TorchScriptTest, TracedModuleRunsBehindTheForecasterInterface) {
  auto f = LoadTorchScriptForecaster(Fixture("tiny_forecaster.pt"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->kind(), "torchscript");
  EXPECT_EQ((*f)->seq_len(), 16);
  EXPECT_EQ((*f)->pred_len(), 8);
  EXPECT_EQ((*f)->channels(), 3);
  auto y = (*f)->Forecast(ReadFloats(Fixture("x.bin")), ReadFloats(Fixture("marks.bin")), 2);
  ASSERT_TRUE(y.ok()) << y.status().message();
  const std::vector<float> want = ReadFloats(Fixture("y.bin"));
  ASSERT_EQ(y->size(), want.size());
  float worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs((*y)[i] - want[i]));
  EXPECT_LT(worst, 1e-6f) << "the same numbers as Python";
}

TEST(TorchScriptTest, BadFilesAndInputsGiveClearErrors) {
  auto no_meta = LoadTorchScriptForecaster(Fixture("no_metadata.pt"));
  ASSERT_FALSE(no_meta.ok());
  EXPECT_NE(no_meta.status().message().find("no brickcast.json"), std::string::npos) << no_meta.status().message();
  testing::TempDir dir;
  auto junk = LoadTorchScriptForecaster(dir.File("junk.pt", "not a zip"));
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("cannot load"), std::string::npos) << junk.status().message();
  auto f = LoadTorchScriptForecaster(Fixture("tiny_forecaster.pt"));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE((*f)->Forecast(std::vector<float>(5), {}, 1).ok());
  EXPECT_FALSE((*f)->Forecast(std::vector<float>(16 * 3), {}, 1).ok()) << "the module needs time features";
}

}  // namespace
}  // namespace brickcast
