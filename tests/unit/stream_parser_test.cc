#include "brickcast/stream_parser.h"

#include <gtest/gtest.h>

#include <cmath>

namespace brickcast {
namespace {

constexpr UnixMillis kT = 1795341600000;  // 2026-11-22T10:00:00Z
const std::string kPrefixes =
    "@prefix bldg: <urn:bldg#> .\n@prefix brick: <https://brickschema.org/schema/Brick#> .\n"
    "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n";

ParseResult ParseWith(const std::string& doc, StreamParserOptions opt = {}) {
  StreamParser p(std::move(opt));
  return p.Parse(doc, "test");
}

TEST(StreamParserTest, LastKnownValue) {
  auto r = ParseWith(kPrefixes + R"(
bldg:AHU1_SAT brick:lastKnownValue [ brick:value "13.2"^^xsd:double ;
                                     brick:timestamp "2026-11-22T10:00:00Z"^^xsd:dateTime ] .)");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.observations.size(), 1u);
  EXPECT_EQ(r.observations[0].point, "urn:bldg#AHU1_SAT");
  EXPECT_EQ(r.observations[0].time, kT);
  EXPECT_DOUBLE_EQ(r.observations[0].value, 13.2);
}

TEST(StreamParserTest, SosaSimpleResultAndQudtResult) {
  auto r = ParseWith(kPrefixes + R"(
@prefix sosa: <http://www.w3.org/ns/sosa/> .
@prefix qudt: <http://qudt.org/schema/qudt/> .
@prefix unit: <http://qudt.org/vocab/unit/> .
[] a sosa:Observation ; sosa:madeBySensor bldg:AHU1_SAT ;
   sosa:hasSimpleResult "13.2"^^xsd:double ; sosa:resultTime "2026-11-22T10:00:00Z"^^xsd:dateTime .
[] a sosa:Observation ; sosa:madeBySensor bldg:AHU1_OAT ;
   sosa:hasResult [ qudt:numericValue "50"^^xsd:decimal ; qudt:unit unit:DEG_F ] ;
   sosa:resultTime "2026-11-22T10:00:00Z"^^xsd:dateTime .)");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.observations.size(), 2u);
  EXPECT_EQ(r.observations[0].point, "urn:bldg#AHU1_SAT");
  EXPECT_DOUBLE_EQ(r.observations[0].value, 13.2);
  EXPECT_EQ(r.observations[1].point, "urn:bldg#AHU1_OAT");
  EXPECT_DOUBLE_EQ(r.observations[1].value, 50);
  EXPECT_EQ(r.observations[1].unit, "http://qudt.org/vocab/unit/DEG_F");
}

TEST(StreamParserTest, WideRowWithLabelTime) {
  StreamParserOptions opt;
  opt.format = StreamFormat::kWideRow;
  opt.wide_row.time_property = "http://www.w3.org/2000/01/rdf-schema#label";
  opt.wide_row.point_base = "urn:bldg#";
  opt.wide_row.columns["OA_TEMP"] = WideRowColumn{"urn:bldg#AHU1_OAT", "DEG_F"};
  auto r = ParseWith(R"(
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix col: <urn:csv#> .
<urn:row/1> rdfs:label "2026-11-22_10:00:00" ; col:SA_TEMP 13.2 ; col:OA_TEMP "50" ; col:FAN true .)",
                     opt);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.observations.size(), 3u);
  std::map<std::string, Observation> by_point;
  for (const auto& o : r.observations) by_point[o.point] = o;
  EXPECT_DOUBLE_EQ(by_point.at("urn:bldg#SA_TEMP").value, 13.2);
  EXPECT_EQ(by_point.at("urn:bldg#SA_TEMP").time, kT);
  EXPECT_DOUBLE_EQ(by_point.at("urn:bldg#AHU1_OAT").value, 50);
  EXPECT_EQ(by_point.at("urn:bldg#AHU1_OAT").unit, "DEG_F");
  EXPECT_DOUBLE_EQ(by_point.at("urn:bldg#FAN").value, 1);
}

TEST(StreamParserTest, EveryLiteralForm) {
  StreamParserOptions opt;
  opt.site_zone = *TimeZone::Load("+01:00");
  struct Case {
    std::string value, time;
    double want;
    UnixMillis want_time;
  } cases[] = {
      {R"("13.5"^^xsd:double)", R"("2026-11-22T10:00:00Z"^^xsd:dateTime)", 13.5, kT},
      {R"("13.5"^^xsd:decimal)", R"("2026-11-22T11:00:00+01:00"^^xsd:dateTime)", 13.5, kT},
      {R"("1.35E1"^^xsd:float)", R"("2026-11-22T05:00:00-05:00")", 13.5, kT},
      {R"("-7"^^xsd:integer)", R"("2026-11-22T11:00:00")", -7, kT},  // no zone: site zone +01:00
      {R"("true"^^xsd:boolean)", R"("2026-11-22T10:00:00Z")", 1, kT},
      {R"(false)", R"("2026-11-22T10:00:00Z")", 0, kT},
      {R"(13.5)", R"("2026-11-22T10:00:00Z")", 13.5, kT},
      {R"(1.35e1)", R"("2026-11-22T10:00:00Z")", 13.5, kT},
      {R"(-2)", R"("2026-11-22T10:00:00.5Z")", -2, kT + 500},
      {R"(" 13.5 ")", R"("2026-11-22T10:00:00Z")", 13.5, kT},
      {R"("+4.25")", R"("2026-11-22T10:00:00Z")", 4.25, kT},
  };
  for (const Case& c : cases) {
    const std::string doc = kPrefixes + "bldg:P brick:lastKnownValue [ brick:value " + c.value +
                            " ; brick:timestamp " + c.time + " ] .";
    auto r = ParseWith(doc, opt);
    ASSERT_TRUE(r.ok()) << doc << "\n" << (r.errors.empty() ? "" : r.errors[0].ToString());
    ASSERT_EQ(r.observations.size(), 1u) << doc;
    EXPECT_DOUBLE_EQ(r.observations[0].value, c.want) << c.value;
    EXPECT_EQ(r.observations[0].time, c.want_time) << c.time;
  }
}

TEST(StreamParserTest, SparqlPrefixAndConfiguredDefaultPrefixes) {
  StreamParserOptions opt;
  opt.default_prefixes["site"] = "urn:site#";
  auto r = ParseWith(R"(PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
site:T brick:lastKnownValue [ brick:value 1 ; brick:timestamp "2026-11-22T10:00:00Z"^^xsd:dateTime ] .)",
                     opt);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  EXPECT_EQ(r.observations.at(0).point, "urn:site#T");
}

TEST(StreamParserTest, MetadataTriplesUpdateTheRegistry) {
  auto r = ParseWith(kPrefixes + R"(
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix ref: <https://brickschema.org/schema/Brick/ref#> .
bldg:SAT a brick:Supply_Air_Temperature_Sensor ; brick:isPointOf bldg:AHU1 ; brick:hasUnit unit:DEG_F ;
  ref:hasExternalReference [ ref:hasTimeseriesId "ahu1/sat" ] .
bldg:AHU1 brick:hasPoint bldg:MAT .)");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.observations.empty());
  ASSERT_EQ(r.metadata.size(), 2u);
  EXPECT_EQ(r.metadata[0].point, "urn:bldg#SAT");
  EXPECT_EQ(r.metadata[0].brick_class, "https://brickschema.org/schema/Brick#Supply_Air_Temperature_Sensor");
  EXPECT_EQ(r.metadata[0].equipment, "urn:bldg#AHU1");
  EXPECT_EQ(r.metadata[0].unit, "http://qudt.org/vocab/unit/DEG_F");
  EXPECT_EQ(r.metadata[0].timeseries_id, "ahu1/sat");
  EXPECT_EQ(r.metadata[1].point, "urn:bldg#MAT");
  EXPECT_EQ(r.metadata[1].equipment, "urn:bldg#AHU1");
}

TEST(StreamParserTest, OneBadObservationKeepsTheOthers) {
  auto r = ParseWith(kPrefixes + R"(
bldg:A brick:lastKnownValue [ brick:value "abc" ; brick:timestamp "2026-11-22T10:00:00Z" ] .
bldg:B brick:lastKnownValue [ brick:value "NaN"^^xsd:double ; brick:timestamp "2026-11-22T10:00:00Z" ] .
bldg:C brick:lastKnownValue [ brick:value 1 ; brick:timestamp "2026-02-30T10:00:00Z" ] .
bldg:D brick:lastKnownValue [ brick:value 2 ] .
bldg:E brick:lastKnownValue [ brick:value 3 ; brick:timestamp "2026-11-22T10:00:00Z" ] .)");
  EXPECT_FALSE(r.message_failed);
  ASSERT_EQ(r.observations.size(), 1u);
  EXPECT_EQ(r.observations[0].point, "urn:bldg#E");
  std::vector<std::string> reasons;
  for (const auto& e : r.errors) reasons.push_back(e.reason);
  EXPECT_EQ(reasons, (std::vector<std::string>{"bad_value", "non_finite", "bad_timestamp", "missing_timestamp"}));
}

// A corpus of malformed documents: each must fail with a reason and, for syntax, a position.
TEST(StreamParserTest, MalformedCorpus) {
  struct Case {
    const char* name;
    std::string doc;
    const char* reason;
    unsigned line;  // 0: no position expected (column 0 means "at the end of input")
  } cases[] = {
      {"unterminated literal", kPrefixes + "bldg:A brick:lastKnownValue [ brick:value \"13.2 ] .", "syntax", 4},
      {"missing dot", kPrefixes + "bldg:A brick:lastKnownValue [ brick:value 1 ]\nbldg:B", "syntax", 5},
      {"unclosed bracket", kPrefixes + "bldg:A brick:lastKnownValue [ brick:value 1 ;\n", "syntax", 5},
      {"undefined prefix", "nope:A <urn:p> 1 .", "undefined_prefix", 0},
      {"bad iri", kPrefixes + "<urn:a b> <urn:p> 1 .", "syntax", 4},
      {"garbage", "this is not turtle at all", "syntax", 1},
      {"json instead", R"({"point": "x", "value": 1})", "syntax", 1},
      {"binary", std::string("\x01\x02\x00\x03", 4), "binary", 0},
      {"empty", "", "no_observations", 0},
      {"only prefixes", kPrefixes, "no_observations", 0},
      {"unrelated triples", "<urn:a> <urn:b> <urn:c> .", "no_observations", 0},
  };
  for (const Case& c : cases) {
    auto r = ParseWith(c.doc);
    EXPECT_TRUE(r.message_failed) << c.name;
    ASSERT_FALSE(r.errors.empty()) << c.name;
    EXPECT_EQ(r.errors[0].reason, c.reason) << c.name << ": " << r.errors[0].ToString();
    if (c.line > 0) {
      EXPECT_EQ(r.errors[0].line, c.line) << c.name << ": " << r.errors[0].ToString();
    }
    EXPECT_TRUE(r.observations.empty()) << c.name;
  }
}

TEST(StreamParserTest, HugeMessageIsRejectedBeforeParsing) {
  StreamParserOptions opt;
  opt.max_message_bytes = 1024;
  auto r = ParseWith(std::string(4096, ' ') + kPrefixes, opt);
  ASSERT_TRUE(r.message_failed);
  EXPECT_EQ(r.errors[0].reason, "too_large");
}

TEST(StreamParserTest, ExplicitFormatIgnoresOtherShapes) {
  StreamParserOptions opt;
  opt.format = StreamFormat::kSosa;
  auto r = ParseWith(kPrefixes + R"(bldg:A brick:lastKnownValue [ brick:value 1 ; brick:timestamp "2026-11-22T10:00:00Z" ] .)",
                     opt);
  EXPECT_TRUE(r.message_failed);
  EXPECT_EQ(r.errors.at(0).reason, "no_observations");
}

TEST(StreamParserTest, SplitMessages) {
  const std::string file = "a\n# brickcast:message\nb\r\n# brickcast:message\r\n\n# brickcast:message\nc";
  auto parts = SplitMessages(file);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "a\n");
  EXPECT_EQ(parts[1], "b\r\n");
  EXPECT_EQ(parts[2], "c");
  EXPECT_EQ(SplitMessages("just one").size(), 1u);
}

}  // namespace
}  // namespace brickcast
