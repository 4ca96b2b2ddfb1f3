// Plain value types that flow from the stream parser to the series store.
#pragma once

#include <string>
#include <vector>

#include "brickcast/time.h"

namespace brickcast {

// One measured value of one point.
struct Observation {
  std::string point;  // point IRI
  UnixMillis time = 0;
  double value = 0;   // as sent by the parser; in SI after NormalizeUnits
  std::string unit;   // source unit (QUDT local name, "DEG_F"); empty when neither message nor model says
  std::string si_unit;  // stored unit ("degC"); set by NormalizeUnits
};

// Facts about a point carried by a stream message (they update the point registry).
struct PointMetadata {
  std::string point;
  std::string brick_class;   // class IRI, empty when not stated
  std::string equipment;     // isPointOf / inverse hasPoint
  std::string unit;          // QUDT unit IRI
  std::string timeseries_id;
  std::string label;
};

// Why (part of) a message was rejected. `reason` is a stable category used in counters and the
// dead-letter sink: syntax, undefined_prefix, binary, too_large, no_observations, bad_value,
// bad_timestamp, missing_timestamp, non_finite, unknown_unit, unit_mismatch, out_of_range,
// unknown_point.
struct IngestError {
  std::string reason;
  std::string message;
  unsigned line = 0;
  unsigned column = 0;
  std::string point;  // when the problem concerns one observation

  std::string ToString() const;
};

// Everything one message yields. Observation-level errors leave the other observations intact;
// a message-level error (syntax, binary, too_large) leaves `observations` empty.
struct ParseResult {
  std::vector<Observation> observations;
  std::vector<PointMetadata> metadata;
  std::vector<IngestError> errors;
  bool message_failed = false;  // the whole message was rejected

  bool ok() const { return !message_failed && errors.empty(); }
};

}  // namespace brickcast
