#include "brickcast/stream_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "brick/turtle_reader.h"
#include "brickcast/units.h"

namespace brickcast {
namespace {

std::string Ns(std::string_view ns, std::string_view local) {
  std::string s(ns);
  s.append(local);
  return s;
}

// The vocabulary the parser looks for, expanded once.
struct Vocab {
  std::string last_known_value = Ns(kBrickNs, "lastKnownValue");
  std::string brick_value = Ns(kBrickNs, "value");
  std::string brick_timestamp = Ns(kBrickNs, "timestamp");
  std::string is_point_of = Ns(kBrickNs, "isPointOf");
  std::string has_point = Ns(kBrickNs, "hasPoint");
  std::string has_unit = Ns(kBrickNs, "hasUnit");
  std::string ext_ref = Ns(kBrickRefNs, "hasExternalReference");
  std::string ts_id = Ns(kBrickRefNs, "hasTimeseriesId");
  std::string sosa_observation = Ns(kSosaNs, "Observation");
  std::string made_by_sensor = Ns(kSosaNs, "madeBySensor");
  std::string simple_result = Ns(kSosaNs, "hasSimpleResult");
  std::string has_result = Ns(kSosaNs, "hasResult");
  std::string result_time = Ns(kSosaNs, "resultTime");
  std::string phenomenon_time = Ns(kSosaNs, "phenomenonTime");
  std::string qudt_numeric_value = Ns(kQudtNs, "numericValue");
  std::string qudt_value = Ns(kQudtNs, "value");
  std::string qudt_unit = Ns(kQudtNs, "unit");
  std::string qudt_has_unit = Ns(kQudtNs, "hasUnit");
  std::string xsd_boolean = Ns(kXsdNs, "boolean");
  std::string xsd_string = Ns(kXsdNs, "string");
};

const Vocab& V() {
  static const Vocab* const kVocab = new Vocab();
  return *kVocab;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Literal -> number. Typed numerics, xsd:boolean, bare numbers and numeric strings.
bool LiteralToNumber(const Term& t, double* out, std::string* why) {
  if (!t.IsLiteral()) {
    *why = "value is a node, not a literal";
    return false;
  }
  std::string_view s = Trim(t.value);
  if (t.datatype == V().xsd_boolean || s == "true" || s == "false") {
    if (s == "true" || s == "1") { *out = 1.0; return true; }
    if (s == "false" || s == "0") { *out = 0.0; return true; }
    *why = "bad boolean '" + std::string(s.substr(0, 32)) + "'";
    return false;
  }
  if (s == "NaN" || s == "nan") { *out = std::nan(""); return true; }
  if (s == "INF" || s == "+INF" || s == "inf") { *out = HUGE_VAL; return true; }
  if (s == "-INF" || s == "-inf") { *out = -HUGE_VAL; return true; }
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  if (s.empty() || ec != std::errc() || ptr != end) {
    *why = "not a number: '" + std::string(Trim(t.value).substr(0, 32)) + "'";
    return false;
  }
  return true;
}

// The triples of one message, indexed by subject: a vector sorted by (hash of subject, position).
// Messages are small; this costs far fewer allocations and string compares than a hash map of
// vectors keyed by long IRIs that share their prefix. One per thread, reused message after
// message (TripleBuffer), so a warm parser allocates nothing per triple.
constexpr size_t kKeptTriples = 4096;  // a thread keeps at most this many triples between messages

struct Graph {
  TripleBuffer buffer;
  std::vector<std::pair<size_t, uint32_t>> by_subject;  // (hash of subject, triple index)

  std::span<const Triple> triples() const { return {buffer.triples.data(), buffer.size}; }

  void Index() {
    const std::span<const Triple> all = triples();
    by_subject.resize(all.size());
    for (uint32_t i = 0; i < all.size(); ++i) by_subject[i] = {std::hash<std::string_view>{}(all[i].subject.value), i};
    std::sort(by_subject.begin(), by_subject.end());
  }

  // Calls f(triple) for the triples of `subject`, in document order.
  template <typename F>
  void ForSubject(const std::string& subject, F&& f) const {
    const size_t h = std::hash<std::string_view>{}(subject);
    auto it = std::lower_bound(by_subject.begin(), by_subject.end(), std::make_pair(h, uint32_t{0}));
    for (; it != by_subject.end() && it->first == h; ++it) {
      const Triple& t = buffer.triples[it->second];
      if (t.subject.value == subject && !f(t)) return;
    }
  }

  const Term* Object(const std::string& subject, const std::string& predicate) const {
    const Term* found = nullptr;
    ForSubject(subject, [&](const Triple& t) {
      if (t.predicate.value != predicate) return true;
      found = &t.object;
      return false;
    });
    return found;
  }
};

class MessageInterpreter {
 public:
  MessageInterpreter(const StreamParserOptions& opt, const Graph& g, ParseResult* out) : opt_(opt), g_(g), out_(out) {}

  void Run() {
    CollectMetadata();
    const StreamFormat f = opt_.format;
    if (f == StreamFormat::kAuto || f == StreamFormat::kLastKnownValue) ExtractLastKnownValues();
    if (f == StreamFormat::kAuto || f == StreamFormat::kSosa) ExtractSosa();
    SkipForecasts();
    if (f == StreamFormat::kAuto || f == StreamFormat::kWideRow) ExtractWideRows();
  }

 private:
  void Error(std::string reason, std::string message, std::string point = {}) {
    out_->errors.push_back(IngestError{std::move(reason), std::move(message), 0, 0, std::move(point)});
  }

  bool ParseTime(const Term* t, const std::string& point, UnixMillis* out, bool allow_format) {
    if (t == nullptr) {
      Error("missing_timestamp", "no timestamp for " + point, point);
      return false;
    }
    if (!t->IsLiteral()) {
      Error("bad_timestamp", "timestamp of " + point + " is not a literal", point);
      return false;
    }
    auto iso = ParseIsoDateTime(t->value, opt_.site_zone);
    if (iso.ok()) {
      *out = *iso;
      return true;
    }
    if (allow_format && !opt_.wide_row.time_format.empty()) {
      auto f = ParseTimeWithFormat(t->value, opt_.wide_row.time_format, opt_.site_zone);
      if (f.ok()) {
        *out = *f;
        return true;
      }
    }
    Error("bad_timestamp", iso.status().message(), point);
    return false;
  }

  void Emit(const std::string& point, const Term& value, UnixMillis time, std::string unit) {
    double v = 0;
    std::string why;
    if (!LiteralToNumber(value, &v, &why)) {
      Error("bad_value", point + ": " + why, point);
      return;
    }
    if (!std::isfinite(v)) {
      Error("non_finite", point + ": value is " + std::string(Trim(value.value)), point);
      return;
    }
    out_->observations.push_back(Observation{point, time, v, std::move(unit), {}});
  }

  PointMetadata& Meta(const std::string& point) {
    auto [it, inserted] = meta_index_.try_emplace(point, out_->metadata.size());
    if (inserted) {
      out_->metadata.emplace_back();
      out_->metadata.back().point = point;
    }
    return out_->metadata[it->second];
  }

  void CollectMetadata() {
    const Vocab& v = V();
    for (const Triple& t : g_.triples()) {
      const std::string& p = t.predicate.value;
      if (!t.subject.IsIri()) continue;
      if (p == kRdfType && t.object.IsIri() && InNamespace(t.object.value, kBrickNs)) {
        Meta(t.subject.value).brick_class = t.object.value;
      } else if (p == v.is_point_of && t.object.IsIri()) {
        Meta(t.subject.value).equipment = t.object.value;
      } else if (p == v.has_point && t.object.IsIri()) {
        Meta(t.object.value).equipment = t.subject.value;
      } else if (p == v.has_unit && t.object.IsIri()) {
        Meta(t.subject.value).unit = t.object.value;
      } else if (p == v.ext_ref && t.object.IsNode()) {
        const Term* id = g_.Object(t.object.value, v.ts_id);
        if (id != nullptr && id->IsLiteral()) Meta(t.subject.value).timeseries_id = id->value;
      }
    }
    for (PointMetadata& m : out_->metadata) {
      if (const Term* label = g_.Object(m.point, std::string(kRdfsLabel)); label && label->IsLiteral())
        m.label = label->value;
    }
  }

  void ExtractLastKnownValues() {
    const Vocab& v = V();
    for (const Triple& t : g_.triples()) {
      if (t.predicate.value != v.last_known_value) continue;
      const std::string& point = t.subject.value;
      value_nodes_.insert(t.object.value);
      const Term* value = g_.Object(t.object.value, v.brick_value);
      if (value == nullptr) {
        Error("bad_value", point + ": lastKnownValue without brick:value", point);
        continue;
      }
      UnixMillis time = 0;
      if (!ParseTime(g_.Object(t.object.value, v.brick_timestamp), point, &time, false)) continue;
      std::string unit;
      if (const Term* u = g_.Object(t.object.value, v.has_unit); u && u->IsIri()) unit = u->value;
      Emit(point, *value, time, std::move(unit));
    }
  }

  void ExtractSosa() {
    const Vocab& v = V();
    std::vector<std::string> observations;
    std::unordered_set<std::string> seen;
    for (const Triple& t : g_.triples()) {
      const bool typed = t.predicate.value == kRdfType && t.object.value == v.sosa_observation;
      if ((typed || t.predicate.value == v.made_by_sensor) && seen.insert(t.subject.value).second)
        observations.push_back(t.subject.value);
    }
    for (const std::string& obs : observations) {
      value_nodes_.insert(obs);
      const Term* sensor = g_.Object(obs, v.made_by_sensor);
      if (sensor == nullptr || !sensor->IsIri()) {
        Error("unknown_point", "sosa:Observation " + obs + " without sosa:madeBySensor");
        continue;
      }
      const std::string& point = sensor->value;
      std::string unit;
      const Term* value = g_.Object(obs, v.simple_result);
      if (value == nullptr) {
        if (const Term* result = g_.Object(obs, v.has_result); result && result->IsNode()) {
          value_nodes_.insert(result->value);
          value = g_.Object(result->value, v.qudt_numeric_value);
          if (value == nullptr) value = g_.Object(result->value, v.qudt_value);
          if (value == nullptr) value = g_.Object(result->value, v.brick_value);
          const Term* u = g_.Object(result->value, v.qudt_unit);
          if (u == nullptr) u = g_.Object(result->value, v.qudt_has_unit);
          if (u != nullptr && u->IsIri()) unit = u->value;
        } else if (result != nullptr) {
          value = result;
        }
      }
      if (value == nullptr) {
        Error("bad_value", point + ": sosa:Observation without a result", point);
        continue;
      }
      const Term* time = g_.Object(obs, v.result_time);
      if (time == nullptr) time = g_.Object(obs, v.phenomenon_time);
      UnixMillis t = 0;
      if (!ParseTime(time, point, &t, false)) continue;
      Emit(point, *value, t, std::move(unit));
    }
  }

  // Forecasts (bc:forecast, as brickcast publishes them) are no observations: their steps look like
  // rows of values with times, so they are marked before the wide-row pass looks for rows.
  void SkipForecasts() {
    static const std::string forecast = "https://brickcast.dev/schema#forecast", step = "https://brickcast.dev/schema#step";
    for (const Triple& t : g_.triples()) {
      if (t.predicate.value == forecast || t.predicate.value == step) value_nodes_.insert(t.object.value);
    }
  }

  static bool IsColumnPredicate(const std::string& p) {
    return !(p == kRdfType || InNamespace(p, kRdfsNs) || InNamespace(p, kOwlNs) || InNamespace(p, kBrickNs) ||
             InNamespace(p, kBrickRefNs) || InNamespace(p, kSosaNs) || InNamespace(p, kRdfNs));
  }

  void ExtractWideRows() {
    const WideRowOptions& w = opt_.wide_row;
    // Rows in document order: the subjects that hold the time property.
    for (const Triple& row : g_.triples()) {
      if (row.predicate.value != w.time_property) continue;
      const std::string& subject = row.subject.value;
      if (value_nodes_.count(subject) > 0) continue;
      UnixMillis time = 0;
      if (!ParseTime(&row.object, subject, &time, true)) continue;
      g_.ForSubject(subject, [&](const Triple& t) {
        const std::string& p = t.predicate.value;
        if (p == w.time_property || !t.object.IsLiteral()) return true;
        std::string point, unit;
        if (auto col = w.columns.find(p); col != w.columns.end()) {
          point = col->second.point;
          unit = col->second.unit;
        } else if (auto by_local = w.columns.find(std::string(LocalName(p))); by_local != w.columns.end()) {
          point = by_local->second.point;
          unit = by_local->second.unit;
        } else if (IsColumnPredicate(p)) {
          point = w.point_base.empty() ? p : w.point_base + std::string(LocalName(p));
        } else {
          return true;
        }
        Emit(point, t.object, time, std::move(unit));
        return true;
      });
    }
  }

  const StreamParserOptions& opt_;
  const Graph& g_;
  ParseResult* out_;
  std::unordered_map<std::string, size_t> meta_index_;
  std::unordered_set<std::string> value_nodes_;  // blank nodes that hold values, not rows
};

}  // namespace

std::string IngestError::ToString() const {
  std::string s = reason;
  if (line > 0) s += " at line " + std::to_string(line) + ", column " + std::to_string(column);
  return s + ": " + message;
}

StatusOr<StreamFormat> ParseStreamFormat(std::string_view name) {
  if (name == "auto") return StreamFormat::kAuto;
  if (name == "lkv" || name == "lastKnownValue") return StreamFormat::kLastKnownValue;
  if (name == "sosa") return StreamFormat::kSosa;
  if (name == "wide" || name == "wide_row") return StreamFormat::kWideRow;
  return Status::InvalidArgument("unknown stream format '" + std::string(name) + "' (auto, lkv, sosa, wide)");
}

std::string_view StreamFormatName(StreamFormat f) {
  switch (f) {
    case StreamFormat::kAuto: return "auto";
    case StreamFormat::kLastKnownValue: return "lkv";
    case StreamFormat::kSosa: return "sosa";
    case StreamFormat::kWideRow: return "wide";
  }
  return "auto";
}

StreamParser::StreamParser(StreamParserOptions options) : options_(std::move(options)) {
  prefixes_ = StandardPrefixes();
  for (const auto& [k, v] : options_.default_prefixes) prefixes_[k] = v;
}

StreamParser::~StreamParser() = default;

ParseResult StreamParser::Parse(std::string_view payload, std::string_view source) const {
  ParseResult result;
  auto fail = [&](std::string reason, std::string message, unsigned line = 0, unsigned col = 0) {
    result.message_failed = true;
    result.observations.clear();
    result.metadata.clear();
    result.errors.push_back(IngestError{std::move(reason), std::move(message), line, col, {}});
    return result;
  };
  if (payload.size() > options_.max_message_bytes) {
    return fail("too_large", "message of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                 std::to_string(options_.max_message_bytes));
  }
  thread_local Graph g;
  // Reused, but not with the memory of an unusually large earlier message (one may be up to
  // max_message_bytes): the thread would hold it for its life.
  if (g.buffer.triples.size() > kKeptTriples) g = Graph();
  TurtleReader reader(&prefixes_);
  TurtleError err;
  if (!reader.Parse(payload, source, &g.buffer, &err)) {
    return fail(err.reason, err.message, err.line, err.column);
  }
  g.Index();
  MessageInterpreter(options_, g, &result).Run();
  if (result.observations.empty() && result.metadata.empty() && result.errors.empty()) {
    return fail("no_observations", "message holds no observation in format " +
                                       std::string(StreamFormatName(options_.format)));
  }
  if (result.observations.empty() && result.metadata.empty()) result.message_failed = true;
  return result;
}

std::vector<std::string_view> SplitMessages(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0, pos = 0;
  bool any_separator = false;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == kMessageSeparator) {
      any_separator = true;
      std::string_view msg = text.substr(start, pos - start);
      if (!Trim(msg).empty()) out.push_back(msg);
      start = eol + 1;
    }
    pos = eol + 1;
  }
  if (start < text.size()) {
    std::string_view msg = text.substr(start);
    if (!any_separator || !Trim(msg).empty()) out.push_back(msg);
  }
  return out;
}

}  // namespace brickcast
