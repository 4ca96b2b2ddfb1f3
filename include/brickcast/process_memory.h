// Process memory: what /metrics reports of it, and a trimmer that hands the allocator's free pages
// back to the system.
//
// Why a trimmer: glibc gives each thread that allocates its own arena and keeps what is freed
// there for reuse. The daemon's threads (HTTP workers, forecast workers, the Kafka consumer, the
// notifier) free and allocate in different arenas, so in a one-hour soak the resident set crept up
// while the heap in use stayed flat. malloc_trim(0) returns the free pages of every arena; once a
// minute it costs a few milliseconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "brickcast/metrics.h"

namespace brickcast {

struct ProcessMemory {
  uint64_t resident_bytes = 0;  // VmRSS
  uint64_t heap_in_use_bytes = 0;  // allocated and not freed (all arenas, mmapped blocks included)
  uint64_t heap_free_bytes = 0;    // freed but still held by the allocator
};
ProcessMemory ReadProcessMemory();

class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(std::chrono::milliseconds interval = std::chrono::minutes(1));
  ~MemoryTrimmer();  // stops the thread
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  void Start();
  void Stop();
  // Trims now, on the caller's thread; returns the resident bytes it gave back (0 or more).
  uint64_t TrimNow();

  uint64_t trims() const;
  uint64_t released_bytes() const;

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;    // guarded by mu_
  uint64_t trims_ = 0;       // guarded by mu_
  uint64_t released_ = 0;    // guarded by mu_
  std::thread thread_;
};

// process_resident_memory_bytes, the heap figures and the trimmer's counters (trimmer may be null).
void CollectProcessMemoryMetrics(const MemoryTrimmer* trimmer, MetricWriter& w);

}  // namespace brickcast
