#include "brickcast/process_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace brickcast {
namespace {

constexpr size_t kBlock = 1024;                // small: from an arena, not mmapped on its own
constexpr size_t kBlocks = 64 * 1024;          // 64 MiB in all
constexpr uint64_t kMiB = 1024 * 1024;

TEST(ProcessMemoryTest, ReportsTheResidentSetAndTheHeap) {
  const ProcessMemory before = ReadProcessMemory();
  EXPECT_GT(before.resident_bytes, 1 * kMiB);
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[kBlock]);
    std::memset(blocks.back().get(), 1, kBlock);  // touched: resident
  }
  const ProcessMemory after = ReadProcessMemory();
  EXPECT_GE(after.heap_in_use_bytes, before.heap_in_use_bytes + 60 * kMiB);
  EXPECT_GE(after.resident_bytes, before.resident_bytes + 60 * kMiB);
}

// What the daemon's soak showed: memory freed by a thread stays resident in the allocator until
// trimmed, here because one block allocated after it pins the top of the arena.
TEST(ProcessMemoryTest, TrimGivesFreedPagesBack) {
  MemoryTrimmer trimmer(std::chrono::hours(1));  // not started: TrimNow only
  std::thread([&] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (size_t i = 0; i < kBlocks; ++i) {
      blocks.emplace_back(new char[kBlock]);
      std::memset(blocks.back().get(), 1, kBlock);
    }
    std::unique_ptr<char[]> pin(new char[kBlock]);
    blocks.clear();  // freed, but below `pin`: free() alone cannot shrink the arena
    const ProcessMemory freed = ReadProcessMemory();
    EXPECT_GE(freed.heap_free_bytes, 60 * kMiB);
    const uint64_t released = trimmer.TrimNow();
    EXPECT_GE(released, 48 * kMiB) << "resident before the trim: " << freed.resident_bytes;
  }).join();
  EXPECT_EQ(trimmer.trims(), 1u);
  EXPECT_GE(trimmer.released_bytes(), 48 * kMiB);
}

TEST(ProcessMemoryTest, TheTrimmerThreadStopsAtOnce) {
  MemoryTrimmer trimmer(std::chrono::hours(1));
  trimmer.Start();
  trimmer.Stop();  // does not wait out the hour
  EXPECT_EQ(trimmer.trims(), 0u);
}

TEST(ProcessMemoryTest, MetricsNameTheResidentSetTheHeapAndTheTrims) {
  MemoryTrimmer trimmer(std::chrono::hours(1));
  trimmer.TrimNow();
  MetricWriter w;
  CollectProcessMemoryMetrics(&trimmer, w);
  const std::string text = w.Text();
  for (const char* name : {"process_resident_memory_bytes ", "brickcast_heap_in_use_bytes ", "brickcast_heap_free_bytes ",
                           "brickcast_memory_trims_total 1\n", "brickcast_memory_trimmed_bytes_total "})
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
}

}  // namespace
}  // namespace brickcast
