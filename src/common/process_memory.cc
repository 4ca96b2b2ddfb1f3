#include "brickcast/process_memory.h"

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace brickcast {

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      m.resident_bytes = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;  // "VmRSS:  123 kB"
      break;
    }
  }
  const struct mallinfo2 info = mallinfo2();
  m.heap_in_use_bytes = info.uordblks + info.hblkhd;
  m.heap_free_bytes = info.fordblks;
  return m;
}

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds interval) : interval_(interval) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

void MemoryTrimmer::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void MemoryTrimmer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t MemoryTrimmer::TrimNow() {
  const uint64_t before = ReadProcessMemory().resident_bytes;
  malloc_trim(0);
  const uint64_t after = ReadProcessMemory().resident_bytes;
  const uint64_t released = before > after ? before - after : 0;
  std::lock_guard<std::mutex> lock(mu_);
  ++trims_;
  released_ += released;
  return released;
}

void MemoryTrimmer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    TrimNow();
    lock.lock();
  }
}

uint64_t MemoryTrimmer::trims() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trims_;
}

uint64_t MemoryTrimmer::released_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return released_;
}

void CollectProcessMemoryMetrics(const MemoryTrimmer* trimmer, MetricWriter& w) {
  const ProcessMemory m = ReadProcessMemory();
  w.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", static_cast<double>(m.resident_bytes));
  w.Gauge("brickcast_heap_in_use_bytes", "Heap allocated and not freed (every arena).",
          static_cast<double>(m.heap_in_use_bytes));
  w.Gauge("brickcast_heap_free_bytes", "Heap freed but still held by the allocator (given back by the trims).",
          static_cast<double>(m.heap_free_bytes));
  if (trimmer == nullptr) return;
  w.Counter("brickcast_memory_trims_total", "Times the allocator's free pages were given back to the system.",
            static_cast<double>(trimmer->trims()));
  w.Counter("brickcast_memory_trimmed_bytes_total", "Resident bytes those trims gave back.",
            static_cast<double>(trimmer->released_bytes()));
}

}  // namespace brickcast
