// CSV -> Brick Turtle messages (`brickcast convert`, `brickcast replay` of CSV files).
// A mapping file (JSON, validated like the config) names the time column and its format, the
// equipment, and for each column the Brick point, class and unit. Output messages are
// self-describing Turtle in one of the stream formats (lkv, sosa, wide). Not thread-safe.
#pragma once

#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "brickcast/rdf.h"
#include "brickcast/status.h"
#include "brickcast/stream_parser.h"
#include "brickcast/time.h"

namespace brickcast {

struct CsvColumnMapping {
  std::string column;         // CSV header (trimmed)
  std::string point;          // IRI template: {equipment}, {equipment_id}
  std::string brick_class;    // class IRI; empty when not stated
  std::string unit;           // QUDT local name ("DEG_F"); empty when not stated
  std::string equipment;      // IRI template; empty: the mapping's equipment
};

enum class MetadataMode { kEvery, kFirst, kNone };

struct CsvMapping {
  std::string path;
  std::string time_column;
  std::string time_format;  // empty: ISO 8601
  TimeZone zone = TimeZone::Utc();
  StreamFormat format = StreamFormat::kLastKnownValue;
  bool message_per_equipment = false;  // false: one message per row
  std::string equipment;               // IRI template of the equipment
  std::string equipment_column;        // long-format files: this column names the equipment
  std::string equipment_class;         // class IRI of the equipment
  MetadataMode metadata = MetadataMode::kEvery;
  std::vector<CsvColumnMapping> columns;
  std::vector<std::string> ignore_columns;
  std::string label_column;  // fault labels (evaluate-faults); also ignored as a point
};

StatusOr<CsvMapping> LoadCsvMapping(const std::string& path);

struct ConvertedMessage {
  std::string key;  // equipment IRI (Kafka message key)
  UnixMillis time = 0;
  std::string ttl;
};

struct ConvertStats {
  size_t rows = 0, messages = 0, values = 0, empty_cells = 0, bad_cells = 0, bad_rows = 0;
  std::vector<std::string> errors;  // first few row-level problems, "line N: why"
};

// Reads `csv` and calls `sink` for every message. Fails only when the header does not match the
// mapping (missing columns, unmapped columns); bad rows and cells are counted and skipped.
Status ConvertCsv(const CsvMapping& mapping, std::istream& csv,
                  const std::function<void(ConvertedMessage&&)>& sink, ConvertStats* stats);

}  // namespace brickcast
