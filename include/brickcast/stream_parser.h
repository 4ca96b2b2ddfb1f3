// StreamParser: one Brick Turtle message -> observations + point metadata (formats in the README).
// Accepts Brick lastKnownValue (A), SOSA observations (B) and wide rows (C), detected per subject
// in auto mode. Const and stateless after construction: safe to share between threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "brickcast/observation.h"
#include "brickcast/rdf.h"
#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

enum class StreamFormat { kAuto, kLastKnownValue, kSosa, kWideRow };

StatusOr<StreamFormat> ParseStreamFormat(std::string_view name);  // auto | lkv | sosa | wide
std::string_view StreamFormatName(StreamFormat f);

struct WideRowColumn {
  std::string point;  // point IRI
  std::string unit;   // optional QUDT unit of the column ("DEG_F")
};

struct WideRowOptions {
  // Property holding the row's time; brick:timestamp and rdfs:label are the usual choices.
  std::string time_property = std::string(kBrickNs) + "timestamp";
  // strptime-like format for non-ISO times ("%Y-%m-%d_%H:%M:%S"); ISO 8601 is always accepted.
  std::string time_format = "%Y-%m-%d_%H:%M:%S";
  // Point IRI for a column predicate without an entry in `columns`: base + local name of the
  // predicate; when empty, the predicate IRI itself names the point.
  std::string point_base;
  std::map<std::string, WideRowColumn> columns;  // predicate IRI -> point
};

struct StreamParserOptions {
  StreamFormat format = StreamFormat::kAuto;
  PrefixMap default_prefixes;  // in addition to StandardPrefixes()
  TimeZone site_zone = TimeZone::Utc();
  WideRowOptions wide_row;
  size_t max_message_bytes = 1 << 20;
};

class StreamParser {
 public:
  explicit StreamParser(StreamParserOptions options);
  ~StreamParser();
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  // `source` names the message in errors ("topic/3@1042", "file.ttl#12").
  ParseResult Parse(std::string_view payload, std::string_view source = "message") const;

  const StreamParserOptions& options() const { return options_; }

 private:
  StreamParserOptions options_;
  PrefixMap prefixes_;  // StandardPrefixes() + options_.default_prefixes
};

// Splits a file of messages. Messages are separated by lines that are exactly
// "# brickcast:message" (what `convert` writes); a file without such lines is one message.
std::vector<std::string_view> SplitMessages(std::string_view file_contents);

// JSON observations (POST /api/v1/observations): {"observations": [{point, time, value[, unit]}]},
// a bare array, or one object; `time` is ISO 8601 (in `zone` when it has no offset) or epoch
// milliseconds, `value` a number or a boolean. Each element becomes an observation or an error of
// its own ("/observations/3/time: ..."); `resolve` maps a point id (an IRI or a short name) to its
// IRI, "" to keep the id. Fails only when the body is not JSON or its observations are not a list.
Status ParseJsonObservations(std::string_view body, const TimeZone& zone,
                             const std::function<std::string(const std::string&)>& resolve,
                             std::vector<Observation>* observations, std::vector<IngestError>* errors);
inline constexpr std::string_view kMessageSeparator = "# brickcast:message";

}  // namespace brickcast
