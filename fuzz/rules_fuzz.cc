// libFuzzer target: a rule file through the rule loader (schema, units, expressions, G36
// parameters), then every rule's condition built. Errors name the file and pointer; no crash.
#include <string>

#include "brickcast/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brickcast;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto rules = ParseRules(text, "fuzz.json");
  if (!rules.ok()) {
    if (rules.status().message().find("fuzz.json") == std::string::npos) __builtin_trap();
    return 0;
  }
  for (const auto& rule : (*rules)->rules) (void)MakeCondition(rule);
  return 0;
}
