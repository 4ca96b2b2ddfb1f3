// libFuzzer target: a config file's text through the loader (JSON with comments, the schema,
// every cross-check). A bad config is an error with its JSON pointer, never a crash.
#include <string>

#include "brickcast/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = brickcast::LoadConfigText(text, "/nonexistent-fuzz-dir");
  if (!config.ok() && config.status().message().empty()) __builtin_trap();  // errors say why
  return 0;
}
