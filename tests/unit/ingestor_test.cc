#include "brickcast/ingestor.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace brickcast {
namespace {

const char* kModel = R"(
@prefix b: <urn:b#> .
b:AHU a brick:AHU ; brick:hasPoint b:SAT, b:DSP, b:VLV .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_F .
b:DSP a brick:Supply_Air_Static_Pressure_Sensor ; brick:hasUnit unit:IN_H2O .
b:VLV a brick:Valve_Command ; brick:hasUnit unit:PERCENT .
)";

std::string Lkv(const std::string& point, const std::string& value, const std::string& extra = "") {
  return "@prefix b: <urn:b#> .\n" + extra + point + " brick:lastKnownValue [ brick:value " + value +
         " ; brick:timestamp \"2026-11-22T10:00:00Z\" ] .\n";
}

struct Fixture {
  explicit Fixture(bool accept_unknown = true, DeadLetterSink* dl = nullptr)
      : classes(ClassHierarchy::BuiltIn()), model(classes), registry(classes), store(SeriesOptions{}),
        parser(StreamParserOptions{}) {
    EXPECT_TRUE(model.LoadTurtle(kModel, "model").ok());
    registry.LoadModel(model);
    ingestor = std::make_unique<Ingestor>(parser, registry, store, accept_unknown, dl);
  }
  std::shared_ptr<ClassHierarchy> classes;
  BrickModel model;
  PointRegistry registry;
  SeriesStore store;
  StreamParser parser;
  std::unique_ptr<Ingestor> ingestor;
};

TEST(IngestorTest, ConvertsModelUnitsToSi) {
  Fixture f;
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:SAT", "50"), "t").accepted, 1u);
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:DSP", "1.5"), "t").accepted, 1u);
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:VLV", "55"), "t").accepted, 1u);
  EXPECT_DOUBLE_EQ(f.store.Stats("urn:b#SAT")->last_value, 10.0);
  EXPECT_NEAR(f.store.Stats("urn:b#DSP")->last_value, 373.633365, 1e-6);
  EXPECT_DOUBLE_EQ(f.store.Stats("urn:b#VLV")->last_value, 0.55);
}

TEST(IngestorTest, MessageUnitWinsOverModelUnitAndWrongUnitsAreRejected) {
  Fixture f;
  auto r = f.ingestor->IngestMessage(Lkv("b:SAT", "12", "b:SAT brick:hasUnit unit:DEG_C .\n"), "t");
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_DOUBLE_EQ(f.store.Stats("urn:b#SAT")->last_value, 12.0);
  // A pressure unit on a temperature sensor is a mapping mistake, not a value.
  auto bad = f.ingestor->IngestMessage(Lkv("b:X", "12", "b:X a brick:Zone_Air_Temperature_Sensor ; brick:hasUnit unit:PA .\n"), "t");
  EXPECT_EQ(bad.accepted, 0u);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].reason, "unit_mismatch");
  auto unknown = f.ingestor->IngestMessage(Lkv("b:Y", "12", "b:Y brick:hasUnit unit:PARSEC .\n"), "t");
  EXPECT_EQ(unknown.errors.at(0).reason, "unknown_unit");
  auto range = f.ingestor->IngestMessage(Lkv("b:VLV", "5500"), "t");  // 55.00 as a fraction
  EXPECT_EQ(range.errors.at(0).reason, "out_of_range");
}

TEST(IngestorTest, UnknownPointsFollowPolicy) {
  Fixture accept(true);
  EXPECT_EQ(accept.ingestor->IngestMessage(Lkv("b:NEW", "1"), "t").accepted, 1u);
  EXPECT_TRUE(accept.registry.Get("urn:b#NEW"));
  Fixture reject(false);
  auto r = reject.ingestor->IngestMessage(Lkv("b:NEW", "1"), "t");
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_EQ(r.errors.at(0).reason, "unknown_point");
  EXPECT_EQ(reject.ingestor->Counters().errors_by_reason.at("unknown_point"), 1u);
}

TEST(IngestorTest, EquipmentInStreamMetadataIsNotAPoint) {
  Fixture f;
  // What `convert` writes first: the AHU, its parts and its points, then values.
  const std::string meta =
      "b:AHU2 a brick:Air_Handling_Unit .\nb:Fan2 a brick:Supply_Fan ; brick:isPartOf b:AHU2 .\n"
      "b:Room a brick:Room .\nb:SAT2 a brick:Supply_Air_Temperature_Sensor ; brick:isPointOf b:AHU2 .\n";
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:SAT2", "13", meta), "t").accepted, 1u);
  EXPECT_TRUE(f.registry.Get("urn:b#SAT2"));
  EXPECT_EQ(f.registry.Get("urn:b#SAT2")->equipment, "urn:b#AHU2");
  EXPECT_FALSE(f.registry.Get("urn:b#AHU2")) << "equipment is listed under /equipment, not /points";
  EXPECT_FALSE(f.registry.Get("urn:b#Fan2"));
  EXPECT_FALSE(f.registry.Get("urn:b#Room"));
  EXPECT_FALSE(f.registry.Get("urn:b#AHU")) << "the static model's AHU is not a point either";
  // A class the hierarchy does not know may be a site's own point class: kept.
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:Z", "1", "b:Z a <urn:site#Custom_Sensor> .\n"), "t").accepted, 1u);
  EXPECT_TRUE(f.registry.Get("urn:b#Z"));
}

TEST(IngestorTest, BadMessagesAreCountedAndDeadLettered) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/dead.jsonl";
  Status st;
  auto sink = NewJsonlDeadLetterSink(path, &st);
  ASSERT_TRUE(st.ok());
  Fixture f(true, sink.get());
  const std::string huge_garbage = "garbage " + std::string(10000, 'x');
  EXPECT_TRUE(f.ingestor->IngestMessage(huge_garbage, "topic/0@7").message_failed);
  EXPECT_EQ(f.ingestor->IngestMessage(Lkv("b:SAT", "50"), "t").accepted, 1u) << "nothing else is lost";
  auto c = f.ingestor->Counters();
  EXPECT_EQ(c.messages, 2u);
  EXPECT_EQ(c.failed_messages, 1u);
  EXPECT_EQ(c.errors_by_reason.at("syntax"), 1u);
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["reason"], "syntax");
  EXPECT_EQ(j["source"], "topic/0@7");
  EXPECT_EQ(j["payload_bytes"], huge_garbage.size());
  EXPECT_EQ(j["payload"].get<std::string>().size(), 4096u);
  EXPECT_EQ(j["line"], 1);
}

TEST(IngestorTest, RedeliveryIsIdempotent) {
  Fixture f;
  const std::string msg = Lkv("b:SAT", "50");
  EXPECT_EQ(f.ingestor->IngestMessage(msg, "t").accepted, 1u);
  auto again = f.ingestor->IngestMessage(msg, "t");
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 1u);
  EXPECT_TRUE(again.errors.empty()) << "a duplicate is not an error";
  EXPECT_EQ(f.store.Stats("urn:b#SAT")->accepted, 1u);
}

}  // namespace
}  // namespace brickcast
