#include "app/file_replay_source.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

namespace brickcast {

FileReplaySource::FileReplaySource(ReplayConfig config, ReplaySink sink, ReplayGate gate)
    : config_(std::move(config)), sink_(std::move(sink)), gate_(std::move(gate)), pacer_(config_.speed) {}

FileReplaySource::~FileReplaySource() { Stop(); }

Status FileReplaySource::Start() {
  for (const std::string& f : config_.files) {
    if (f != "-" && !std::ifstream(f)) return Status::NotFound("replay file " + f + " cannot be opened");
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void FileReplaySource::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool FileReplaySource::SleepUntil(std::chrono::steady_clock::time_point t) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, t, [this] { return stop_; });
  return !stop_;
}

void FileReplaySource::Run() {
  do {
    for (const std::string& f : config_.files) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;
      }
      if (f == "-") {
        ReplayStream(std::cin, "stdin");
      } else {
        std::ifstream in(f, std::ios::binary);
        ReplayStream(in, f);
      }
    }
    pacer_.Reset();
  } while (config_.loop && [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return !stop_;
  }());
  finished_ = true;
  spdlog::info("replay finished messages={}", messages_.load());
}

void FileReplaySource::ReplayStream(std::istream& in, const std::string& name) {
  std::string message, line;
  size_t line_no = 0, message_line = 1;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view l(line);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l == kMessageSeparator) {
      if (message.find_first_not_of(" \t\r\n") != std::string::npos)
        Deliver(std::move(message), name + ":" + std::to_string(message_line));
      message.clear();
      message_line = line_no + 1;
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      continue;
    }
    message += line;
    message += '\n';
  }
  if (message.find_first_not_of(" \t\r\n") != std::string::npos)
    Deliver(std::move(message), name + ":" + std::to_string(message_line));
}

void FileReplaySource::Deliver(std::string&& message, const std::string& source) {
  // Flow control first, so time spent waiting for the sink is not taken for data time.
  if (gate_) {
    while (!gate_()) {
      if (!SleepUntil(std::chrono::steady_clock::now() + std::chrono::milliseconds(5))) return;
    }
  }
  const MessageSummary summary = sink_.summarize ? sink_.summarize(message) : MessageSummary{};
  // Pace first, then send: a message goes out when its data time is due, not before.
  const Pacer::Decision d = pacer_.Due(summary.time, std::chrono::steady_clock::now());
  if (d.jumped) {
    spdlog::warn("replay: data time jumps {:.1f} days at {}; sent at once, pacing restarts there",
                 static_cast<double>(d.gap) / 86400000.0, source);
  } else if (d.due && *d.due - std::chrono::steady_clock::now() > std::chrono::seconds(10)) {
    spdlog::info("replay: {:.1f} h without data before {} ({}); next message in {} s at {}x",
                 static_cast<double>(d.gap) / 3600000.0, FormatIsoUtc(summary.time), source,
                 std::chrono::duration_cast<std::chrono::seconds>(*d.due - std::chrono::steady_clock::now()).count(),
                 config_.speed);
  }
  if (d.due && !SleepUntil(*d.due)) return;
  sink_.send(std::move(message), summary, source);
  messages_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace brickcast
