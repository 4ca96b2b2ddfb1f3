#include "brickcast/brick_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "test_support.h"

namespace brickcast {
namespace {

using testing::SharedData;

std::string Ex(const std::string& local) { return "http://example.org#" + local; }

TEST(ClassHierarchyTest, BuiltInTableMatchesSubclasses) {
  auto h = ClassHierarchy::BuiltIn();
  EXPECT_TRUE(h->IsA(BrickClassIri("Supply_Air_Temperature_Sensor"), BrickClassIri("Air_Temperature_Sensor")));
  EXPECT_TRUE(h->IsA(BrickClassIri("Supply_Air_Temperature_Sensor"), BrickClassIri("Point")));
  EXPECT_TRUE(h->IsA(BrickClassIri("Hot_Water_Coil"), BrickClassIri("Equipment")));
  EXPECT_FALSE(h->IsA(BrickClassIri("Air_Temperature_Sensor"), BrickClassIri("Supply_Air_Temperature_Sensor")));
  // Aliases resolve both ways: a rule on AHU matches Air_Handling_Unit instances and vice versa.
  EXPECT_TRUE(h->IsA(BrickClassIri("AHU"), BrickClassIri("Air_Handling_Unit")));
  EXPECT_TRUE(h->IsA(BrickClassIri("Air_Handling_Unit"), BrickClassIri("AHU")));
  EXPECT_TRUE(h->IsA(BrickClassIri("Discharge_Air_Temperature_Sensor"), BrickClassIri("Supply_Air_Temperature_Sensor")));
  // Old 1.0.x namespaces map by name.
  EXPECT_TRUE(h->IsA("https://brickschema.org/schema/1.0.2/Brick#Zone_Air_Temperature_Sensor",
                     BrickClassIri("Temperature_Sensor")));
}

TEST(BrickModelTest, ResolvesStructureOfAnInlineModel) {
  BrickModel m(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(m.LoadTurtle(R"(
    @prefix ex: <http://example.org#> .
    ex:ahu a brick:AHU ; brick:hasPart ex:coil ; brick:feeds ex:vav ; brick:hasPoint ex:sat .
    ex:sat a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C ;
      ref:hasExternalReference [ ref:hasTimeseriesId "ts-sat" ] .
    ex:coil a brick:Hot_Water_Coil ; brick:hasPart ex:valve .
    ex:valve a brick:Heating_Valve ; brick:hasPoint ex:cmd .
    ex:cmd a brick:Valve_Command .
    ex:vav a brick:VAV .
  )", "inline").ok());
  EXPECT_EQ(m.OwnerOf(Ex("sat")), Ex("ahu"));
  EXPECT_EQ(m.RootEquipmentOf(Ex("valve")), Ex("ahu"));
  EXPECT_EQ(m.Find(Ex("sat"))->unit, "http://qudt.org/vocab/unit/DEG_C");
  ASSERT_NE(m.FindByTimeseriesId("ts-sat"), nullptr);
  EXPECT_EQ(m.FindByTimeseriesId("ts-sat")->iri, Ex("sat"));
  EXPECT_EQ(m.Find(Ex("vav"))->fed_by, std::vector<std::string>{Ex("ahu")});
  EXPECT_EQ(m.ResolvePoints(Ex("ahu"), "Valve_Command", {"Hot_Water_Coil", "Heating_Valve"}),
            std::vector<std::string>{Ex("cmd")});
  EXPECT_EQ(m.ResolvePoints(Ex("ahu"), "Temperature_Sensor", {}), std::vector<std::string>{Ex("sat")});
  EXPECT_TRUE(m.ResolvePoints(Ex("ahu"), "Valve_Command", {"Cooling_Valve"}).empty());
}

TEST(BrickModelTest, MalformedModelIsRejectedWithPosition) {
  BrickModel m(ClassHierarchy::BuiltIn());
  Status s = m.LoadTurtle("@prefix ex: <http://example.org#> .\nex:a a brick:AHU ;\n  brick:feeds .\n", "bad.ttl");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad.ttl"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("line 3"), std::string::npos) << s.message();
  EXPECT_EQ(m.size(), 0u) << "a failed model must not be half-loaded";
}

TEST(BrickModelTest, LoadsEveryRealModel) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SharedData("brick-models"))) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".ttl" || path.find("ontology") != std::string::npos) continue;
    BrickModel m(ClassHierarchy::BuiltIn());
    Status s = m.LoadFile(path);
    EXPECT_TRUE(s.ok()) << path << ": " << s.message();
    EXPECT_GT(m.size(), 5u) << path;
    ++files;
  }
  EXPECT_GE(files, 7u);
}

TEST(BrickModelTest, SodaHallAhusFeedItsVavs) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  BrickModel m(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(m.LoadFile(SharedData("brick-models/brickschema_soda_brick.ttl")).ok());
  auto ahus = m.InstancesOf("AHU");
  ASSERT_EQ(ahus.size(), 5u);
  std::set<std::string> fed;
  for (const Entity* ahu : ahus) {
    for (const std::string& v : ahu->feeds) {
      const Entity* e = m.Find(v);
      if (e != nullptr && m.IsA(*e, BrickClassIri("VAV"))) fed.insert(v);
    }
  }
  // The model declares 243 VAVs; its AHUs feed 240 of them (vav_R369 is listed twice), and the
  // three on the first floor (R179, R181, R183) have no AHU in the model at all.
  EXPECT_EQ(m.InstancesOf("VAV").size(), 243u);
  EXPECT_EQ(fed.size(), 240u);
  for (const char* orphan : {"vav_R179", "vav_R181", "vav_R183"}) {
    const Entity* v = m.Find(std::string("https://brickschema.org/schema/1.0.2/building_example#") + orphan);
    ASSERT_NE(v, nullptr) << orphan;
    EXPECT_TRUE(v->fed_by.empty()) << orphan;
  }
  // Each VAV feeds its zone, so the topology reaches rooms: AHU -> VAV -> HVAC_Zone.
  const Entity* c180 = m.Find("https://brickschema.org/schema/1.0.2/building_example#vav_C180");
  ASSERT_NE(c180, nullptr);
  EXPECT_EQ(c180->fed_by.size(), 1u);
  EXPECT_EQ(c180->feeds.size(), 1u);
  // Subclass queries over the real model.
  EXPECT_EQ(m.InstancesOf("Supply_Air_Flow_Sensor").size(), 242u);
  EXPECT_GE(m.InstancesOf("Air_Temperature_Sensor").size(), 232u);
}

TEST(BrickModelTest, G36CombinedResolvesHeatingValveCommandThroughParts) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  BrickModel m(ClassHierarchy::BuiltIn());
  ASSERT_TRUE(m.LoadFile(SharedData("brick-models/brickschema_g36-combined-ahu-vav.ttl")).ok());
  EXPECT_EQ(m.ResolvePoints(Ex("ahu1"), "Valve_Command", {"Hot_Water_Coil", "Heating_Valve"}),
            std::vector<std::string>{Ex("hwvlv_ahu_cmd")});
  EXPECT_EQ(m.ResolvePoints(Ex("ahu1"), "Valve_Command", {"Chilled_Water_Coil", "Cooling_Valve"}),
            std::vector<std::string>{Ex("chwvlv_ahu_cmd")});
  // Without a path, both valve commands (and nothing of the VAV) are found.
  EXPECT_EQ(m.ResolvePoints(Ex("ahu1"), "Valve_Command", {}).size(), 2u);
  EXPECT_EQ(m.Find(Ex("ahu1"))->feeds, std::vector<std::string>{Ex("vav1")});
  EXPECT_EQ(m.RootEquipmentOf(Ex("hwvlv_ahu")), Ex("ahu1"));
}

TEST(BrickModelTest, OntologyExtendsTheBuiltInTable) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  auto h = ClassHierarchy::BuiltIn();
  const std::string cls = BrickClassIri("Chilled_Water_Discharge_Flow_Sensor");
  EXPECT_FALSE(h->Knows(cls));
  ASSERT_TRUE(h->LoadOntology(SharedData("brick-models/Brick_v1.3.0_ontology.ttl")).ok());
  EXPECT_GT(h->size(), 1000u);
  // Brick 1.3 deprecations (SHACL rules) resolve to their replacement.
  EXPECT_EQ(h->Canonical(cls), BrickClassIri("Chilled_Water_Leaving_Flow_Sensor"));
  EXPECT_TRUE(h->IsA(cls, BrickClassIri("Flow_Sensor")));
  EXPECT_TRUE(h->IsA(BrickClassIri("Supply_Air_Temperature_Sensor"), BrickClassIri("Temperature_Sensor")));
}

}  // namespace
}  // namespace brickcast
