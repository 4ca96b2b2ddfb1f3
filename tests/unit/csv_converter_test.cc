#include "brickcast/csv_converter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "brickcast/point_registry.h"
#include "convert/csv.h"
#include "test_support.h"

namespace brickcast {
namespace {

using testing::SharedData;
using testing::SourcePath;
using testing::TempDir;

// Parses every message back (with the registry learning metadata, as the daemon does) and
// returns SI values keyed by (point, time).
std::map<std::pair<std::string, UnixMillis>, Observation> ParseBack(const std::vector<std::string>& messages,
                                                                   size_t* errors) {
  auto classes = ClassHierarchy::BuiltIn();
  PointRegistry registry(classes);
  StreamParser parser(StreamParserOptions{});
  std::map<std::pair<std::string, UnixMillis>, Observation> out;
  for (const std::string& m : messages) {
    ParseResult r = parser.Parse(m, "roundtrip");
    *errors += r.errors.size();
    for (const auto& meta : r.metadata) registry.Apply(meta);
    for (Observation& o : r.observations) {
      IngestError e;
      if (!registry.Normalize(&o, &e)) {
        ADD_FAILURE() << e.ToString();
        ++*errors;
        continue;
      }
      out[{o.point, o.time}] = o;
    }
  }
  return out;
}

void RoundTrip(const std::string& mapping_file, const std::string& csv_file, StreamFormat format, size_t max_rows) {
  auto mapping = LoadCsvMapping(SourcePath(mapping_file));
  ASSERT_TRUE(mapping.ok()) << mapping.status().message();
  mapping->format = format;
  // Build the CSV slice to convert.
  std::ifstream full(SharedData(csv_file), std::ios::binary);
  std::stringstream slice;
  std::string line;
  for (size_t i = 0; i <= max_rows && std::getline(full, line); ++i) slice << line << '\n';
  const std::string csv_text = slice.str();

  std::vector<std::string> messages;
  ConvertStats stats;
  std::istringstream in(csv_text);
  ASSERT_TRUE(ConvertCsv(*mapping, in, [&](ConvertedMessage&& m) { messages.push_back(std::move(m.ttl)); }, &stats).ok());
  ASSERT_EQ(stats.bad_rows, 0u);
  size_t errors = 0;
  auto parsed = ParseBack(messages, &errors);
  EXPECT_EQ(errors, 0u);

  // Independent reading of the CSV: every numeric mapped cell must come back, converted to SI.
  std::istringstream again(csv_text);
  CsvReader reader(again);
  std::vector<std::string> header, row;
  ASSERT_TRUE(reader.Next(&header));
  for (auto& h : header) h = TrimCopy(h);
  size_t checked = 0, rows = 0;
  while (reader.Next(&row)) {
    ++rows;
    const auto t = ParseTimeWithFormat(row[0], mapping->time_format, mapping->zone);
    ASSERT_TRUE(t.ok());
    for (const auto& col : mapping->columns) {
      const size_t i = std::find(header.begin(), header.end(), col.column) - header.begin();
      ASSERT_LT(i, header.size());
      char* end = nullptr;
      const std::string cell = TrimCopy(row[i]);
      const double raw = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0') continue;  // empty or text cells are skipped by design
      double want = raw;
      if (!col.unit.empty()) {
        const UnitInfo* u = FindUnit(col.unit);
        want = raw * u->scale + u->offset;
      }
      auto it = parsed.find({col.point, *t});
      ASSERT_NE(it, parsed.end()) << col.point << " at " << FormatIsoUtc(*t) << " (row " << rows << ")";
      EXPECT_NEAR(it->second.value, want, 1e-9 * std::max(1.0, std::abs(want))) << col.column << " row " << rows;
      ++checked;
    }
  }
  EXPECT_EQ(checked, parsed.size()) << "every parsed observation corresponds to a CSV cell";
  EXPECT_EQ(checked, stats.values);
  EXPECT_GT(checked, rows);
}

TEST(CsvConverterTest, SzvavRoundTripsEveryRowInLastKnownValueFormat) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  RoundTrip("config/mappings/lbnl-szvav.json", "hvac-faults/SZVAV.csv", StreamFormat::kLastKnownValue, 1000000);
}

TEST(CsvConverterTest, SzvavRoundTripsInSosaAndWideFormats) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  RoundTrip("config/mappings/lbnl-szvav.json", "hvac-faults/SZVAV.csv", StreamFormat::kSosa, 2000);
  RoundTrip("config/mappings/lbnl-szvav.json", "hvac-faults/SZVAV.csv", StreamFormat::kWideRow, 2000);
}

TEST(CsvConverterTest, MzvavAndCampusMappingsMatchTheirFiles) {
  BRICKCAST_REQUIRE_SHARED_DATA();
  RoundTrip("config/mappings/lbnl-mzvav.json", "hvac-faults/MZVAV-2-2.csv", StreamFormat::kLastKnownValue, 3000);
  auto campus = LoadCsvMapping(SourcePath("config/mappings/campus-ahu.json"));
  ASSERT_TRUE(campus.ok()) << campus.status().message();
  for (const char* f : {"hvac-streams/ahu_train.csv", "hvac-streams/ahu_scr.csv"}) {
    std::ifstream in(SharedData(f));
    ConvertStats stats;
    std::map<std::string, size_t> per_equipment;
    ASSERT_TRUE(ConvertCsv(*campus, in, [&](ConvertedMessage&& m) { ++per_equipment[m.key]; }, &stats).ok()) << f;
    EXPECT_EQ(stats.bad_rows, 0u) << f;
    EXPECT_EQ(per_equipment.size(), 2u) << f << ": two AHUs interleaved";
    for (const auto& [k, n] : per_equipment) EXPECT_EQ(k.rfind("urn:brickcast:campus#AHU_", 0), 0u) << k;
  }
}

TEST(CsvConverterTest, HeaderMismatchIsReportedWholesale) {
  TempDir dir;
  const std::string mapping = dir.File("m.json", R"({"time_column": "t", "columns": {"a": "urn:x#a", "b": "urn:x#b"}})");
  auto m = LoadCsvMapping(mapping);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::istringstream csv("t,a,c\n2026-11-22T10:00:00Z,1,2\n");
  ConvertStats stats;
  Status s = ConvertCsv(*m, csv, [](ConvertedMessage&&) {}, &stats);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("mapped column 'b' not in header"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("column 'c' is neither mapped nor ignored"), std::string::npos) << s.message();
}

TEST(CsvConverterTest, BadRowsAndCellsAreSkippedAndCounted) {
  TempDir dir;
  auto m = LoadCsvMapping(dir.File("m.json", R"({"time_column": "t", "columns": {"a": {"point": "urn:x#a", "unit": "DEG_F"}}})"));
  ASSERT_TRUE(m.ok());
  std::istringstream csv("t,a\r\n2026-11-22T10:00:00Z,50\r\nyesterday,1\r\n2026-11-22T10:01:00Z,#VALUE!\r\n2026-11-22T10:02:00Z,\r\n");
  ConvertStats stats;
  std::vector<std::string> out;
  ASSERT_TRUE(ConvertCsv(*m, csv, [&](ConvertedMessage&& c) { out.push_back(c.ttl); }, &stats).ok());
  EXPECT_EQ(stats.rows, 4u);
  EXPECT_EQ(stats.messages, 1u);
  EXPECT_EQ(stats.bad_rows, 1u);
  EXPECT_EQ(stats.bad_cells, 1u);
  EXPECT_EQ(stats.empty_cells, 1u);
  EXPECT_EQ(stats.errors.size(), 2u);
}

TEST(CsvConverterTest, MappingErrorsCarryPointers) {
  TempDir dir;
  auto m = LoadCsvMapping(dir.File("m.json", R"({"columns": {"a": {"unit": "XX"}}, "format": "csv", "extra": 1})"));
  ASSERT_FALSE(m.ok());
  for (const char* e : {"/time_column: required", "/columns/a/point: required", "/columns/a/unit: unknown unit 'XX'",
                        "/format: must be one of lkv, sosa, wide", "/extra: unknown key"}) {
    EXPECT_NE(m.status().message().find(e), std::string::npos) << e << " in " << m.status().message();
  }
}

}  // namespace
}  // namespace brickcast
