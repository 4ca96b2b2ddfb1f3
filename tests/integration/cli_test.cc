// The brickcast binary end to end: exit codes and output of check-config, parse, convert, train
// and evaluate.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace brickcast {
namespace {

using testing::SourcePath;
using testing::TempDir;

struct CliRun {
  int status;
  std::string out;
};

CliRun Brickcast(const std::string& args, const std::string& stderr_to = "/dev/null") {
  const std::string cmd = std::string(BRICKCAST_BINARY) + " " + args + " 2>" + stderr_to;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int rc = pclose(p);
  return CliRun{WEXITSTATUS(rc), out};
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CliTest, CheckConfigValidatesAndRedacts) {
  TempDir dir;
  const std::string good = dir.File("good.json", R"({"http": {"tokens": [{"name": "x", "token": "hunter2"}]}})");
  CliRun ok = Brickcast("check-config " + good);
  EXPECT_EQ(ok.status, 0);
  EXPECT_EQ(ok.out.find("hunter2"), std::string::npos);
  EXPECT_NE(ok.out.find("<secret>"), std::string::npos);
  auto effective = nlohmann::json::parse(ok.out);
  EXPECT_EQ(effective["store"]["step_seconds"], 300);

  const std::string bad = dir.File("bad.json", R"({"store": {"step_seconds": 0}, "kafak": 1})");
  const std::string err = dir.path() + "/err.txt";
  CliRun fail = Brickcast("check-config " + bad, err);
  EXPECT_EQ(fail.status, 1);
  const std::string msg = Slurp(err);
  EXPECT_NE(msg.find("/store/step_seconds: must be between 1 and 86400"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/kafak: unknown key"), std::string::npos) << msg;
  EXPECT_EQ(Brickcast("check-config " + SourcePath("config/brickcast.example.json")).status, 0);
}

TEST(CliTest, ParsePrintsJsonLinesAndFailsOnBadMessages) {
  TempDir dir;
  const std::string good = dir.File("good.ttl", R"(@prefix b: <urn:b#> .
b:T a brick:Zone_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_F .
b:T brick:lastKnownValue [ brick:value 68 ; brick:timestamp "2026-11-22T10:00:00Z" ] .
# brickcast:message
@prefix b: <urn:b#> .
b:T brick:lastKnownValue [ brick:value 77 ; brick:timestamp "2026-11-22T10:05:00Z" ] .
)");
  CliRun ok = Brickcast("parse " + good);
  EXPECT_EQ(ok.status, 0);
  std::istringstream lines(ok.out);
  std::string l1, l2;
  ASSERT_TRUE(std::getline(lines, l1));
  ASSERT_TRUE(std::getline(lines, l2));
  auto j1 = nlohmann::json::parse(l1), j2 = nlohmann::json::parse(l2);
  EXPECT_EQ(j1["point"], "urn:b#T");
  EXPECT_NEAR(j1["value"].get<double>(), 20.0, 1e-9);
  EXPECT_EQ(j1["unit"], "DEG_F");
  EXPECT_NEAR(j2["value"].get<double>(), 25.0, 1e-9) << "unit learnt from the first message";

  const std::string bad = dir.File("bad.ttl", "@prefix b: <urn:b#> .\nb:T brick:lastKnownValue [ brick:value 1 \n");
  const std::string err = dir.path() + "/err.txt";
  CliRun fail = Brickcast("parse --format lkv " + bad, err);
  EXPECT_EQ(fail.status, 1);
  EXPECT_NE(Slurp(err).find("syntax at line 3"), std::string::npos) << Slurp(err);
  EXPECT_EQ(Brickcast("parse --format xml " + good).status, 1);
}

TEST(CliTest, ConvertThenParseOnRealData) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  TempDir dir;
  const std::string out = dir.path() + "/szvav.ttl";
  CliRun conv = Brickcast("convert --mapping " + SourcePath("config/mappings/lbnl-szvav.json") + " " +
                       testing::SharedData("hvac-faults/SZVAV.csv") + " -o " + out);
  // The real file has one '#VALUE!' cell: counted and skipped, not a failed row.
  EXPECT_EQ(conv.status, 0);
  CliRun parsed = Brickcast("parse " + out);
  EXPECT_EQ(parsed.status, 0);
  EXPECT_EQ(std::count(parsed.out.begin(), parsed.out.end(), '\n'), 220565);
}

TEST(CliTest, HelpOnEverySubcommand) {
  for (const char* sub : {"serve", "check-config", "parse", "convert", "replay", "train", "evaluate", "forecast", "version"}) {
    CliRun r = Brickcast(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

// `train` on a real HVAC CSV through its mapping (a few batches), then `evaluate` of the written
// model: per-point metrics in each point's SI unit.
TEST(CliTest, TrainsOnMappedHvacDataAndEvaluatesPerPoint) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  TempDir dir;
  const std::string config = dir.File("train.json", R"({
    "model": {"seq_len": 48, "pred_len": 12, "down_sampling_layers": 2},
    "epochs": 2, "batch_size": 32, "max_steps_per_epoch": 3, "split": "ratio",
    "scaler": "per_series", "step_seconds": 300, "threads": 1})");
  const std::string data = testing::SharedData("hvac-faults/SZVAV.csv");
  const std::string mapping = SourcePath("config/mappings/lbnl-szvav.json");
  const std::string model = dir.path() + "/hvac.model", log = dir.path() + "/train.log";
  CliRun train = Brickcast("train --data " + data + " --mapping " + mapping + " --train-config " + config + " --out " + model, log);
  ASSERT_EQ(train.status, 0) << Slurp(log);
  EXPECT_NE(Slurp(log).find("14 points"), std::string::npos) << Slurp(log);
  EXPECT_FALSE(std::filesystem::exists(model + ".ckpt")) << "the checkpoint is removed once the model is written";

  CliRun eval = Brickcast("evaluate --json --model " + model + " --data " + data + " --mapping " + mapping);
  ASSERT_EQ(eval.status, 0) << eval.out;
  auto j = nlohmann::json::parse(eval.out);
  EXPECT_GT(j["windows"].get<int>(), 100);
  EXPECT_TRUE(j["mse_units"].is_null()) << "points in different units have no common unit";
  EXPECT_GT(j["persistence"]["mae"].get<double>(), 0) << "the persistence baseline is reported beside the model";
  const auto& sat = j["channels"]["urn:brickcast:lbnl-flexlab#SAT"];
  EXPECT_EQ(sat["unit"], "degC");
  EXPECT_GT(sat["mae_units"].get<double>(), 0);
  EXPECT_LT(sat["mae_units"].get<double>(), 10) << "a supply-air temperature error in degC";

  // A mismatched mapping count is a clear usage error.
  const std::string err = dir.path() + "/err.txt";
  CliRun bad = Brickcast("evaluate --model " + model + " --data " + data + " --data " + data + " --mapping " + mapping +
                             " --mapping " + mapping + " --mapping " + mapping,
                         err);
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(Slurp(err).find("one --mapping, or one per --data"), std::string::npos) << Slurp(err);
}

}  // namespace
}  // namespace brickcast
