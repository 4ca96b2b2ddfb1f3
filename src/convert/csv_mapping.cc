// Mapping files and the CSV -> Turtle conversion.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "brickcast/csv_converter.h"
#include "brickcast/units.h"
#include "config/schema.h"
#include "convert/csv.h"
#include "convert/ttl_writer.h"

namespace brickcast {
namespace {

using config::Field;
using config::FieldType;
using config::Json;
using config::OneOf;
using config::Schema;

const Schema& MappingSchema() {
  static const Schema* const kColumn = new Schema{{
      {"point", FieldType::kString, Json(), "Point IRI (template: {equipment}, {equipment_id}; CURIEs allowed).",
       nullptr, false, true},
      {"class", FieldType::kString, "", "Brick class of the point (Supply_Air_Temperature_Sensor)."},
      {"equipment", FieldType::kString, "", "Equipment of this column when it differs from the file's."},
      {"unit", FieldType::kString, "", "QUDT unit of the column values (DEG_F, PERCENT, FRACTION).", nullptr,
       false, false, [](const Json& v) -> std::string {
         const std::string u = v.get<std::string>();
         return u.empty() || FindUnit(u) ? "" : "unknown unit '" + u + "'";
       }},
  }, "point"};
  static const Schema* const kRoot = new Schema{{
      {"description", FieldType::kString, "", "What this mapping is for."},
      {"time_column", FieldType::kString, Json(), "Column holding the row time.", nullptr, false, true},
      {"time_format", FieldType::kString, "", "strptime-like format of the time column; empty: ISO 8601."},
      {"timezone", FieldType::kString, "UTC", "Zone of times without one (IANA name or +hh:mm)."},
      {"format", FieldType::kString, "lkv", "Output stream format: lkv, sosa or wide.", nullptr, false, false,
       OneOf({"lkv", "sosa", "wide"})},
      {"message_per", FieldType::kString, "row", "row: one message per row; equipment: one per equipment per row.",
       nullptr, false, false, OneOf({"row", "equipment"})},
      {"prefixes", FieldType::kStringMap, Json::object(), "Prefixes usable in IRIs of this file."},
      {"equipment", FieldType::kString, "", "Equipment IRI template ({equipment_id} = value of equipment_column)."},
      {"equipment_column", FieldType::kString, "", "Column naming the equipment in long-format files."},
      {"equipment_class", FieldType::kString, "", "Brick class of the equipment."},
      {"metadata", FieldType::kString, "every",
       "Metadata triples (class, isPointOf, hasUnit) in every message, the first message only, or none.",
       nullptr, false, false, OneOf({"every", "first", "none"})},
      {"columns", FieldType::kObjectMap, Json(), "CSV column -> {point, class, unit}.", kColumn, false, true},
      {"ignore_columns", FieldType::kStringList, Json::array(), "Columns that carry no point (labels, ids)."},
      {"label_column", FieldType::kString, "",
       "Column of fault labels (1 fault, 0 fault-free, empty: none), read by evaluate-faults; not a point."},
  }};
  return *kRoot;
}

std::string ExpandIri(const std::string& text, const PrefixMap& prefixes) {
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') return text.substr(1, text.size() - 2);
  const size_t colon = text.find(':');
  if (colon != std::string::npos && text.compare(colon, 3, "://") != 0) {
    auto it = prefixes.find(text.substr(0, colon));
    if (it != prefixes.end()) return it->second + text.substr(colon + 1);
  }
  return text;
}

std::string Substitute(std::string s, const std::string& key, const std::string& value) {
  for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + value.size()))
    s.replace(pos, key.size(), value);
  return s;
}

// A cell as a Turtle numeric lexical form; false for text that is not a number.
bool NumericLexical(const std::string& cell, std::string* out) {
  std::string s = TrimCopy(cell);
  if (s.empty()) return false;
  double v;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = s;
  return true;
}

struct Cell {
  const CsvColumnMapping* column;
  std::string point;
  std::string lexical;
  std::string equipment;
};

void WriteMetadata(std::string* ttl, const Cell& c, const std::string& equipment) {
  AppendIri(ttl, c.point);
  bool first = true;
  auto sep = [&] {
    ttl->append(first ? " " : " ;\n    ");
    first = false;
  };
  if (!c.column->brick_class.empty()) {
    sep();
    ttl->append("a ");
    AppendIri(ttl, c.column->brick_class);
  }
  if (!equipment.empty()) {
    sep();
    ttl->append("brick:isPointOf ");
    AppendIri(ttl, equipment);
  }
  if (!c.column->unit.empty()) {
    sep();
    ttl->append("brick:hasUnit unit:");
    ttl->append(c.column->unit);
  }
  if (first) {
    ttl->resize(ttl->size() - c.point.size() - 2);  // nothing to say about this point
    return;
  }
  ttl->append(" .\n");
}

void WriteValues(std::string* ttl, StreamFormat format, const std::vector<Cell>& cells, const std::string& time,
                 const std::string& row_subject) {
  if (format == StreamFormat::kWideRow) {
    AppendIri(ttl, row_subject);
    ttl->append(" brick:timestamp \"" + time + "\"^^xsd:dateTime");
    for (const Cell& c : cells) {
      ttl->append(" ;\n    ");
      AppendIri(ttl, c.point);
      ttl->append(" \"" + c.lexical + "\"^^xsd:double");
    }
    ttl->append(" .\n");
    return;
  }
  for (const Cell& c : cells) {
    if (format == StreamFormat::kSosa) {
      ttl->append("[] a sosa:Observation ; sosa:madeBySensor ");
      AppendIri(ttl, c.point);
      ttl->append(" ;\n   sosa:hasSimpleResult \"" + c.lexical + "\"^^xsd:double ; sosa:resultTime \"" + time +
                  "\"^^xsd:dateTime .\n");
    } else {
      AppendIri(ttl, c.point);
      ttl->append(" brick:lastKnownValue [ brick:value \"" + c.lexical + "\"^^xsd:double ;\n    brick:timestamp \"" +
                  time + "\"^^xsd:dateTime ] .\n");
    }
  }
}

}  // namespace

StatusOr<CsvMapping> LoadCsvMapping(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open mapping file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> errors;
  Json eff;
  config::ParseWithSchema(text.str(), MappingSchema(), &eff, &errors);
  CsvMapping m;
  if (errors.empty()) {
    m.path = path;
    PrefixMap prefixes = StandardPrefixes();
    for (const auto& [k, v] : eff["prefixes"].items()) prefixes[k] = v.get<std::string>();
    m.time_column = eff["time_column"];
    m.time_format = eff["time_format"];
    auto zone = TimeZone::Load(eff["timezone"].get<std::string>());
    if (!zone.ok()) errors.push_back("/timezone: " + zone.status().message());
    else m.zone = *zone;
    m.format = *ParseStreamFormat(eff["format"].get<std::string>());
    m.message_per_equipment = eff["message_per"] == "equipment";
    m.equipment = ExpandIri(eff["equipment"], prefixes);
    m.equipment_column = eff["equipment_column"];
    m.equipment_class = eff["equipment_class"].get<std::string>().empty()
                            ? ""
                            : BrickClassIri(eff["equipment_class"].get<std::string>());
    const std::string meta = eff["metadata"];
    m.metadata = meta == "every" ? MetadataMode::kEvery : meta == "first" ? MetadataMode::kFirst : MetadataMode::kNone;
    for (const auto& [col, spec] : eff["columns"].items()) {
      CsvColumnMapping c;
      c.column = col;
      c.point = ExpandIri(spec["point"], prefixes);
      const std::string cls = spec["class"];
      c.brick_class = cls.empty() ? "" : BrickClassIri(cls);
      c.unit = spec["unit"];
      c.equipment = ExpandIri(spec["equipment"], prefixes);
      if (const UnitInfo* u = FindUnit(c.unit)) c.unit = std::string(u->name);
      m.columns.push_back(std::move(c));
    }
    for (const auto& c : eff["ignore_columns"]) m.ignore_columns.push_back(c);
    m.label_column = eff["label_column"];
    if (!m.label_column.empty() &&
        std::find(m.ignore_columns.begin(), m.ignore_columns.end(), m.label_column) == m.ignore_columns.end())
      m.ignore_columns.push_back(m.label_column);
    if (m.equipment.empty() && !m.equipment_column.empty()) m.equipment = "{equipment_id}";
  }
  BRICKCAST_RETURN_IF_ERROR(config::ErrorsToStatus("mapping " + path, errors));
  return m;
}

Status ConvertCsv(const CsvMapping& m, std::istream& csv, const std::function<void(ConvertedMessage&&)>& sink,
                  ConvertStats* stats) {
  CsvReader reader(csv);
  std::vector<std::string> header;
  if (!reader.Next(&header)) return Status::InvalidArgument("empty CSV: no header");
  for (auto& h : header) h = TrimCopy(h);
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);  // BOM

  auto index_of = [&](const std::string& name) -> int {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  std::vector<std::string> problems;
  const int time_idx = index_of(m.time_column);
  if (time_idx < 0) problems.push_back("time column '" + m.time_column + "' not in header");
  const int equip_idx = m.equipment_column.empty() ? -1 : index_of(m.equipment_column);
  if (!m.equipment_column.empty() && equip_idx < 0)
    problems.push_back("equipment column '" + m.equipment_column + "' not in header");
  std::vector<std::pair<int, const CsvColumnMapping*>> mapped;
  for (const auto& c : m.columns) {
    const int i = index_of(c.column);
    if (i < 0) problems.push_back("mapped column '" + c.column + "' not in header");
    else mapped.emplace_back(i, &c);
  }
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& h = header[i];
    const bool known = static_cast<int>(i) == time_idx || static_cast<int>(i) == equip_idx ||
                       std::any_of(m.columns.begin(), m.columns.end(), [&](const auto& c) { return c.column == h; }) ||
                       std::find(m.ignore_columns.begin(), m.ignore_columns.end(), h) != m.ignore_columns.end();
    if (!known) problems.push_back("column '" + h + "' is neither mapped nor ignored");
  }
  if (!problems.empty()) {
    std::string msg = "CSV header does not match mapping " + m.path + ":";
    for (const auto& p : problems) msg += "\n  " + p;
    return Status::InvalidArgument(msg);
  }

  std::map<std::string, bool> metadata_sent;  // equipment or point IRI -> metadata already written
  std::vector<std::string> row;
  auto note = [&](const std::string& why) {
    if (stats->errors.size() < 20) stats->errors.push_back("line " + std::to_string(reader.line()) + ": " + why);
  };
  while (reader.Next(&row)) {
    ++stats->rows;
    if (row.size() != header.size()) {
      ++stats->bad_rows;
      note("expected " + std::to_string(header.size()) + " fields, got " + std::to_string(row.size()));
      continue;
    }
    auto t = m.time_format.empty() ? ParseIsoDateTime(row[time_idx], m.zone)
                                   : ParseTimeWithFormat(row[time_idx], m.time_format, m.zone);
    if (!t.ok()) {
      ++stats->bad_rows;
      note(t.status().message());
      continue;
    }
    const std::string time = FormatIsoUtc(*t);
    const std::string equipment_id = equip_idx >= 0 ? TrimCopy(row[equip_idx]) : "";
    const std::string equipment = Substitute(m.equipment, "{equipment_id}", equipment_id);

    std::vector<Cell> cells;
    for (const auto& [i, col] : mapped) {
      const std::string equip =
          col->equipment.empty() ? equipment : Substitute(col->equipment, "{equipment_id}", equipment_id);
      Cell c{col, Substitute(Substitute(col->point, "{equipment}", equip), "{equipment_id}", equipment_id), "", equip};
      if (TrimCopy(row[i]).empty()) {
        ++stats->empty_cells;
        continue;
      }
      if (!NumericLexical(row[i], &c.lexical)) {
        ++stats->bad_cells;
        note("column '" + col->column + "': not a number: '" + row[i].substr(0, 32) + "'");
        continue;
      }
      cells.push_back(std::move(c));
    }
    if (cells.empty()) continue;
    stats->values += cells.size();

    // Group the row's cells into messages: all in one, or one group per equipment.
    std::vector<std::pair<std::string, std::vector<Cell>>> groups;
    for (Cell& c : cells) {
      const std::string key = m.message_per_equipment ? c.equipment : equipment;
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
      if (it == groups.end()) it = groups.insert(groups.end(), {key, {}});
      it->second.push_back(std::move(c));
    }
    for (auto& [key, group] : groups) {
      std::string ttl(TurtlePrefixHeader());
      // Metadata says what a point is and in which unit it is sent: with "first", each point's
      // metadata goes out with the first message that carries a value of that point.
      if (m.metadata != MetadataMode::kNone) {
        if (!key.empty() && !m.equipment_class.empty() && key == equipment &&
            (m.metadata == MetadataMode::kEvery || !metadata_sent[key])) {
          metadata_sent[key] = true;
          AppendIri(&ttl, key);
          ttl.append(" a ");
          AppendIri(&ttl, m.equipment_class);
          ttl.append(" .\n");
        }
        for (const Cell& c : group) {
          if (m.metadata == MetadataMode::kFirst && metadata_sent[c.point]) continue;
          metadata_sent[c.point] = true;
          WriteMetadata(&ttl, c, c.equipment);
        }
      }
      const std::string row_subject = (key.empty() ? std::string("urn:brickcast:row") : key) + "/row/" + time;
      WriteValues(&ttl, m.format, group, time, row_subject);
      ++stats->messages;
      sink(ConvertedMessage{key, *t, std::move(ttl)});
    }
  }
  return Status::Ok();
}

}  // namespace brickcast
