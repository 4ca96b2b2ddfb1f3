// Training data for `brickcast train` / `evaluate`: wide CSVs (ETT-style) and HVAC CSVs read
// through a `convert` mapping. Torch-free, so it lives in brickcast_core.
//
// Mapped CSVs go through the same path as live data: the converter writes Turtle, the stream
// parser reads it, units are normalised to SI and physically impossible values are dropped. So a
// model is trained on exactly the numbers the daemon will later feed it.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "brickcast/csv_converter.h"
#include "brickcast/rdf.h"
#include "brickcast/stream_parser.h"
#include "brickcast/time.h"
#include "brickcast/training.h"
#include "brickcast/units.h"
#include "convert/csv.h"

namespace brickcast {

StatusOr<SeriesTable> LoadSeriesCsv(const std::string& path, const std::vector<std::string>& columns) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  CsvReader reader(in);
  std::vector<std::string> header, row;
  if (!reader.Next(&header) || header.size() < 2) return Status::InvalidArgument(path + ": no header with a time column and channels");
  for (auto& h : header) h = TrimCopy(h);
  std::vector<size_t> pick;
  SeriesTable t;
  t.name = path;
  if (columns.empty()) {
    for (size_t i = 1; i < header.size(); ++i) pick.push_back(i);
  } else {
    for (const auto& c : columns) {
      auto it = std::find(header.begin() + 1, header.end(), c);
      if (it == header.end()) return Status::InvalidArgument(path + ": no column '" + c + "'");
      pick.push_back(static_cast<size_t>(it - header.begin()));
    }
  }
  for (size_t i : pick) t.channels.push_back(header[i]);
  const TimeZone utc = TimeZone::Utc();
  while (reader.Next(&row)) {
    if (row.size() != header.size())
      return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": wrong number of fields");
    auto time = ParseIsoDateTime(row[0], utc);
    if (!time.ok()) return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": " + time.status().message());
    if (!t.times.empty() && *time / 1000 <= t.times.back())
      return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": times must increase");
    t.times.push_back(*time / 1000);
    for (size_t i : pick) {
      char* end = nullptr;
      const std::string cell = TrimCopy(row[i]);
      const double v = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0' || !std::isfinite(v))
        return Status::InvalidArgument(path + ":" + std::to_string(reader.line()) + ": column '" + header[i] +
                                       "' is not a number: '" + cell + "'");
      t.values.push_back(static_cast<float>(v));
    }
  }
  if (t.rows() < 2) return Status::InvalidArgument(path + ": fewer than two rows");
  return t;
}

StatusOr<std::vector<SeriesTable>> LoadMappedSeries(const std::string& csv_path, const std::string& mapping_path,
                                                    int64_t step_seconds, MappedLoadStats* stats) {
  if (step_seconds < 1) return Status::InvalidArgument("a step (seconds) is needed to resample mapped data");
  auto mapping = LoadCsvMapping(mapping_path);
  if (!mapping.ok()) return mapping.status();
  mapping->metadata = MetadataMode::kEvery;  // every value then carries its unit and class
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + csv_path);

  StreamParserOptions popts;
  popts.format = mapping->format;
  popts.site_zone = mapping->zone;
  StreamParser parser(popts);

  struct Point {
    const UnitInfo* source_unit = nullptr;  // from the point's metadata (brick:hasUnit)
    std::string unit;
    Quantity quantity = Quantity::kUnknown;
    std::map<int64_t, std::pair<double, int>> steps;  // step start -> (sum, count)
  };
  std::map<std::string, Point> points;
  MappedLoadStats local;
  MappedLoadStats& st = stats ? *stats : local;
  ConvertStats cstats;
  Status conv = ConvertCsv(*mapping, in, [&](ConvertedMessage&& m) {
    ParseResult r = parser.Parse(m.ttl, csv_path);
    for (const auto& md : r.metadata) {
      Point& p = points[md.point];
      if (!md.brick_class.empty()) p.quantity = QuantityOfClass(LocalName(md.brick_class));
      if (!md.unit.empty()) p.source_unit = FindUnit(md.unit);
    }
    for (const auto& o : r.observations) {
      Point& p = points[o.point];
      const UnitInfo* unit = o.unit.empty() ? p.source_unit : FindUnit(o.unit);
      const double si = unit ? o.value * unit->scale + unit->offset : o.value;
      if (!std::isfinite(si) || (p.quantity != Quantity::kUnknown && !InPhysicalRange(p.quantity, si))) {
        ++st.rejected;
        continue;
      }
      if (unit) p.unit = std::string(unit->si_symbol);
      const int64_t secs = o.time / 1000;
      const int64_t bucket = (secs >= 0 ? secs : secs - step_seconds + 1) / step_seconds * step_seconds;
      auto& cell = p.steps[bucket];
      cell.first += si;
      ++cell.second;
      ++st.values;
    }
    st.rejected += r.errors.size();
  }, &cstats);
  if (!conv.ok()) return conv;
  st.rows = cstats.rows;
  st.bad_cells = cstats.bad_cells;
  std::vector<SeriesTable> out;
  for (auto& [iri, p] : points) {
    if (p.steps.size() < 2) continue;
    SeriesTable t;
    t.name = iri;
    t.zone = mapping->zone;
    t.channels = {iri};
    t.units = {p.unit};
    for (const auto& [time, cell] : p.steps) {
      t.times.push_back(time);
      t.values.push_back(static_cast<float>(cell.first / cell.second));
    }
    out.push_back(std::move(t));
  }
  if (out.empty()) return Status::InvalidArgument(csv_path + ": no point has values under mapping " + mapping_path);
  return out;
}

StatusOr<int64_t> InferStepSeconds(const SeriesTable& t) {
  if (t.rows() < 2) return Status::InvalidArgument(t.name + ": fewer than two rows, no step to infer");
  std::map<int64_t, size_t> gaps;
  const size_t n = std::min<size_t>(t.rows(), 100'001);  // a sample is enough for a regular series
  for (size_t i = 1; i < n; ++i) {
    const int64_t d = t.times[i] - t.times[i - 1];
    if (d <= 0)
      return Status::InvalidArgument(t.name + ": row " + std::to_string(i + 1) + " is not later than the row before");
    ++gaps[d];
  }
  auto common = std::max_element(gaps.begin(), gaps.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  if (2 * common->second < n - 1)
    return Status::InvalidArgument(t.name + ": no regular step (the most common gap, " + std::to_string(common->first) +
                                   " s, separates only " + std::to_string(common->second) + " of " +
                                   std::to_string(n - 1) + " rows); resample the data first");
  return common->first;
}

StatusOr<DataSplit> SplitTable(const SeriesTable& t, const std::string& kind, int seq_len) {
  DataSplit s;
  const size_t early = static_cast<size_t>(std::max(0, seq_len));
  if (kind == "ett") {
    // The ETT protocol counts months of 30 days. By time, not rows, so 15-minute data gets the
    // same months as hourly data (by rows it would train on its first three months only).
    auto step = InferStepSeconds(t);
    if (!step.ok()) return step.status();
    constexpr int64_t kMonth = 30 * 86'400;
    const int64_t t0 = t.times.front();
    const int64_t ends[3] = {t0 + 12 * kMonth, t0 + 16 * kMonth, t0 + 20 * kMonth};
    if (t.times.back() + *step < ends[2])
      return Status::InvalidArgument(t.name + ": the ett split needs 20 months of 30 days (600 days) from " +
                                     FormatIsoUtc(t0 * 1000) + ", the data ends at " +
                                     FormatIsoUtc(t.times.back() * 1000));
    size_t rows[3];
    for (int i = 0; i < 3; ++i)
      rows[i] = static_cast<size_t>(std::lower_bound(t.times.begin(), t.times.end(), ends[i]) - t.times.begin());
    if (rows[0] < early) return Status::InvalidArgument(t.name + ": fewer training rows than the input length");
    s.train = {0, rows[0]};
    s.val = {rows[0] - early, rows[1]};
    s.test = {rows[1] - early, rows[2]};
  } else if (kind == "ratio") {
    const size_t rows = t.rows();
    const size_t n_train = rows * 7 / 10, n_test = rows * 2 / 10, n_val = rows - n_train - n_test;
    if (n_train < early) return Status::InvalidArgument(t.name + ": too few rows for a 70/10/20 split");
    s.train = {0, n_train};
    s.val = {n_train - early, n_train + n_val};
    s.test = {rows - n_test - early, rows};
  } else {
    return Status::InvalidArgument("unknown split '" + kind + "' (ett, ratio)");
  }
  return s;
}

}  // namespace brickcast
