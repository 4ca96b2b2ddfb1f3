// Helpers shared by the tests: where the shared real data lives, temp files.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace brickcast::testing {

inline std::string SharedData(const std::string& rel) { return std::string(BRICKCAST_SHARED_DATA) + "/" + rel; }
inline std::string SourcePath(const std::string& rel) { return std::string(BRICKCAST_SOURCE_DIR) + "/" + rel; }

// Skips the test (with the reason) when ../shared/data is not beside the checkout, as in a
// user's clone; CI always has it.
#define BRICKCAST_REQUIRE_SHARED_DATA()                                                      \
  do {                                                                                       \
    if (!std::filesystem::exists(::brickcast::testing::SharedData("README.md")))             \
      GTEST_SKIP() << "../shared/data is absent (a user's clone): real-data test skipped";   \
  } while (0)

// Polls `done` until it holds or `timeout` passes; for tests that wait on real servers and threads.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Checks a Prometheus text exposition: every sample belongs to a family declared once with HELP
// and TYPE before its samples, and no family is declared twice. Returns "" or the problems.
inline std::string PrometheusTextProblems(const std::string& text) {
  std::string problems;
  std::map<std::string, std::string> type_of;  // family -> type
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      if (!type_of.emplace(name, type).second) problems += "family declared twice: " + name + "\n";
      continue;
    }
    if (line.empty()) continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      if (!type_of.count(family) && name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0)
        family = name.substr(0, name.size() - sfx.size());
    }
    if (!type_of.count(family)) problems += "sample without HELP/TYPE: " + line + "\n";
    if (line.find(' ') == std::string::npos) problems += "sample without a value: " + line + "\n";
  }
  return problems;
}

// A little-endian float32 file (the parity and TorchScript fixtures).
inline std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// A scratch directory removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "brickcast-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& contents) const {
    const std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace brickcast::testing
