// libFuzzer target: one Kafka message through the stream parser (every format, units), as the
// ingest path sees it. It must never crash, hang or leak; whatever it accepts has a point and a
// finite value.
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "brickcast/stream_parser.h"
#include "brickcast/units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brickcast;
  static const StreamParser parser(StreamParserOptions{});
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  ParseResult r = parser.Parse(message, "fuzz");
  for (Observation& ob : r.observations) {
    if (ob.point.empty() || !std::isfinite(ob.value)) std::abort();
  }
  // Units as the ingestor looks them up; a unit it does not know is an error, not a crash.
  for (const Observation& ob : r.observations) (void)FindUnit(ob.unit);
  for (const PointMetadata& m : r.metadata) (void)FindUnit(m.unit);
  for (const std::string_view m : SplitMessages(message)) (void)parser.Parse(m, "fuzz-split");
  return 0;
}
