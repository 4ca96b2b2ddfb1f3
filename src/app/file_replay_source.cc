#include "app/file_replay_source.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

namespace brickcast {

FileReplaySource::FileReplaySource(ReplayConfig config, ReplaySink sink)
    : config_(std::move(config)), sink_(std::move(sink)), pacer_(config_.speed) {}

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
  const UnixMillis t = sink_(std::move(message), source);
  messages_.fetch_add(1, std::memory_order_relaxed);
  if (auto due = pacer_.Due(t)) SleepUntil(*due);
}

}  // namespace brickcast
