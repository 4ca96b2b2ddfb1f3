// libFuzzer target: a JSON body of POST /api/v1/observations. Each element is an observation or
// an error of its own; the body as a whole fails only when it is not JSON or not a list.
#include <string>
#include <vector>

#include "brickcast/stream_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brickcast;
  static const TimeZone zone = *TimeZone::Load("Europe/Berlin");
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<Observation> obs;
  std::vector<IngestError> errors;
  const Status st = ParseJsonObservations(body, zone, [](const std::string& id) { return id.size() < 3 ? "" : id; },
                                          &obs, &errors);
  if (!st.ok() && (!obs.empty() || !errors.empty())) __builtin_trap();  // all or nothing at body level
  for (const Observation& o : obs) {
    if (o.point.empty()) __builtin_trap();
  }
  return 0;
}
