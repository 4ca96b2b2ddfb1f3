// Replay pacing: data time mapped onto the steady clock, gaps honoured, late data at once, and a
// jump of months not waited for.
#include <gtest/gtest.h>

#include "app/replay_support.h"
#include "test_support.h"

namespace brickcast {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

constexpr UnixMillis kMinute = 60000, kDay = 86400000, kT0 = 1505088000000;

TEST(PacerTest, FollowsDataTimeAtTheGivenSpeed) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  EXPECT_FALSE(pacer.Due(kT0, w0).due);  // the first message anchors the mapping
  auto d = pacer.Due(kT0 + 10 * kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(1000));  // 10 min of data at 600x
  EXPECT_EQ(d.gap, 10 * kMinute);
  // Sent late (the sender was slow): due now, no catch-up wait.
  EXPECT_FALSE(pacer.Due(kT0 + 11 * kMinute, w0 + milliseconds(5000)).due);
}

TEST(PacerTest, AMissingDayIsAPauseOfADayOfDataTime) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0, w0);
  auto d = pacer.Due(kT0 + kDay + kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds((kDay + kMinute) / 600));  // 144.1 s
  EXPECT_FALSE(d.jumped);
}

TEST(PacerTest, LateMessagesGoAtOnceAndNeverMoveTheMappingBack) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0 + kDay, w0);
  // A message from a day earlier (another point's backlog): at once.
  EXPECT_FALSE(pacer.Due(kT0, w0).due);
  // The next in-order message is due relative to the first anchor, not the late one.
  auto d = pacer.Due(kT0 + kDay + 6 * kMinute, w0);
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(600));
}

TEST(PacerTest, AJumpBeyondTheMaximumGapIsNotWaitedFor) {
  Pacer pacer(600);
  const Steady::time_point w0{};
  pacer.Due(kT0, w0);
  auto jump = pacer.Due(kT0 + 800 * kDay, w0 + milliseconds(10));  // a bad timestamp, or another file
  EXPECT_TRUE(jump.jumped);
  EXPECT_FALSE(jump.due);
  // Pacing restarts at the jump.
  auto d = pacer.Due(kT0 + 800 * kDay + kMinute, w0 + milliseconds(10));
  ASSERT_TRUE(d.due);
  EXPECT_EQ(*d.due - w0, milliseconds(110));
}

TEST(PacerTest, SpeedZeroNeverWaits) {
  Pacer pacer(0);
  EXPECT_FALSE(pacer.Due(kT0).has_value());
  EXPECT_FALSE(pacer.Due(kT0 + kDay).has_value());
}

}  // namespace
}  // namespace brickcast

namespace brickcast {
namespace {

const char* kSystemModel = R"(
@prefix b: <urn:b#> .
b:AHU1 a brick:Air_Handling_Unit ; brick:hasPart b:SF1 ; brick:feeds b:VAV1, b:VAV2 .
b:SF1 a brick:Supply_Fan ; brick:hasPoint b:SF1_Speed .
b:SF1_Speed a brick:Fan_Speed_Command .
b:VAV1 a brick:VAV ; brick:hasPart b:VAV1_Damper ; brick:hasPoint b:VAV1_ZAT .
b:VAV1_Damper a brick:Damper ; brick:hasPoint b:VAV1_DPR .
b:VAV1_DPR a brick:Damper_Position_Command .
b:VAV1_ZAT a brick:Zone_Air_Temperature_Sensor .
b:VAV2 a brick:VAV .
b:CH1 a brick:Chiller ; brick:hasPoint b:CH1_CHWST .
b:CH1_CHWST a brick:Chilled_Water_Supply_Temperature_Sensor .
)";

// Partition key = the air-handling system: an AHU, its parts and everything it feeds.
TEST(SystemKeyTest, EquipmentAndPointsMapToTheAhuThatFeedsThem) {
  BrickModel model(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(model.LoadTurtle(kSystemModel, "model").ok());
  EXPECT_EQ(model.SystemOf("urn:b#AHU1"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#SF1"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#SF1_Speed"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#VAV1"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#VAV1_Damper"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#VAV1_DPR"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#VAV2"), "urn:b#AHU1");
  EXPECT_EQ(model.SystemOf("urn:b#CH1_CHWST"), "urn:b#CH1") << "no AHU upstream: its own equipment";

  StreamParser parser(StreamParserOptions{});
  MessageKeyer keyer(parser, &model);
  const std::string vav_msg = "@prefix b: <urn:b#> .\nb:VAV1_ZAT brick:lastKnownValue [ brick:value 21.5 ; "
                              "brick:timestamp \"2026-11-22T10:00:00Z\" ] .\n";
  const MessageSummary s = keyer.Summarize(vav_msg);
  EXPECT_EQ(s.key, "urn:b#AHU1");
  EXPECT_EQ(s.time, 1795341600000);
  // Without a model (and no metadata in the message), the key is the point itself.
  MessageKeyer plain(parser);
  EXPECT_EQ(plain.Summarize(vav_msg).key, "urn:b#VAV1_ZAT");
}

TEST(SystemKeyTest, G36CombinedModelKeysEveryVavByItsAhu) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  auto classes = ClassHierarchy::BuiltIn();
  BrickModel model(classes);
  ASSERT_TRUE(model.LoadFile(testing::SharedData("brick-models/brickschema_g36-combined-ahu-vav.ttl")).ok());
  const auto ahus = model.InstancesOf(BrickClassIri("Air_Handling_Unit"));
  ASSERT_FALSE(ahus.empty());
  size_t vavs = 0;
  for (const Entity* e : model.InstancesOf(BrickClassIri("Terminal_Unit"))) {
    if (e->fed_by.empty()) continue;
    ++vavs;
    EXPECT_EQ(model.IsA(*model.Find(model.SystemOf(e->iri)), BrickClassIri("Air_Handling_Unit")), true) << e->iri;
  }
  EXPECT_GT(vavs, 0u);
}

}  // namespace
}  // namespace brickcast
