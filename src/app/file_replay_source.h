// FileReplaySource: replays files of Turtle messages (or stdin) on its own thread, as fast as
// possible or paced by the messages' timestamps (N x real time), into a sink: the Ingestor, or a
// Kafka topic (the demo: file -> embedded broker -> consumer, as in production).
// Start/Stop from one thread; finished() and counters from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <condition_variable>
#include <istream>
#include <mutex>
#include <string>
#include <thread>

#include "app/replay_support.h"
#include "brickcast/config.h"
#include "brickcast/ingestor.h"

namespace brickcast {

// Where replayed messages go. `summarize` reads a message's time (for pacing) and key before it is
// due; `send` delivers it when it is due. Both run on the replay thread only.
struct ReplaySink {
  std::function<MessageSummary(std::string_view message)> summarize;
  std::function<void(std::string&& message, const MessageSummary& summary, const std::string& source)> send;
};

// Flow control: true when the sink may take the next message now. While it says false the replay
// waits (the embedded broker keeps only 5 MiB per partition, so a producer far ahead of its
// consumer would have its oldest messages dropped before they are read).
using ReplayGate = std::function<bool()>;

class FileReplaySource {
 public:
  FileReplaySource(ReplayConfig config, ReplaySink sink, ReplayGate gate = nullptr);
  ~FileReplaySource();
  FileReplaySource(const FileReplaySource&) = delete;
  FileReplaySource& operator=(const FileReplaySource&) = delete;

  Status Start();
  void Stop();  // interrupts pacing sleeps; returns after the thread has exited
  bool finished() const { return finished_.load(); }
  uint64_t messages() const { return messages_.load(); }  // sent so far

 private:
  void Run();
  void ReplayStream(std::istream& in, const std::string& name);
  void Deliver(std::string&& message, const std::string& source);
  bool SleepUntil(std::chrono::steady_clock::time_point t);  // false when stopped

  ReplayConfig config_;
  ReplaySink sink_;
  ReplayGate gate_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> messages_{0};
  Pacer pacer_;
};

}  // namespace brickcast
