// The log sink that limits repeats (see SetupLogging in brickcast/logging.h). Internal to
// src/common; the header exists for its test.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "brickcast/logging.h"

namespace brickcast {

// Passes lines to `inner` except repeats beyond the burst of their shape in a window; see
// kLogRepeatBurst. Time is the lines' own (spdlog stamps them), so tests need no clock.
class RepeatLimitingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static std::atomic<uint64_t> suppressed_total;  // every instance's lines left out
  explicit RepeatLimitingSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}
  ~RepeatLimitingSink() override {
    std::lock_guard<std::mutex> lock(mutex_);
    SummarizeEnded(spdlog::log_clock::time_point::max());
  }
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.time >= next_sweep_) {
      SummarizeEnded(msg.time);
      next_sweep_ = msg.time + kWindow;
    }
    Window& w = windows_[{msg.level, Shape(msg.payload)}];
    if (w.count == 0 || msg.time >= w.start + kWindow) {
      if (w.suppressed > 0) Summarize(w, msg.level);
      w = Window{msg.time, 0, 0, {}};
    }
    if (++w.count <= kLogRepeatBurst) {
      const std::string_view ids = CurrentLogIds();  // the line's thread: spdlog logs synchronously
      if (ids.empty()) {
        inner_->log(msg);
        return;
      }
      std::string text(msg.payload.data(), msg.payload.size());
      text.append(" [").append(ids).append("]");
      spdlog::details::log_msg with_ids(msg.time, msg.source, msg.logger_name, msg.level, text);
      inner_->log(with_ids);
      return;
    }
    if (w.suppressed++ == 0) w.example.assign(msg.payload.data(), msg.payload.size());
    suppressed_total.fetch_add(1, std::memory_order_relaxed);
  }
  void flush_() override { inner_->flush(); }
  // The inner sink formats the lines.
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  static constexpr auto kWindow = std::chrono::seconds(kLogRepeatWindowSeconds);
  struct Window {
    spdlog::log_clock::time_point start;
    int count = 0;
    uint64_t suppressed = 0;
    std::string example;  // the first line left out
  };
  using Key = std::pair<spdlog::level::level_enum, std::string>;

  static std::string Shape(spdlog::string_view_t payload) {
    std::string shape;
    for (size_t i = 0; i < payload.size() && shape.size() < 80; ++i) {
      const bool digit = std::isdigit(static_cast<unsigned char>(payload[i])) != 0;
      if (digit && !shape.empty() && shape.back() == '#') continue;
      shape.push_back(digit ? '#' : payload[i]);
    }
    return shape;
  }
  void Summarize(Window& w, spdlog::level::level_enum level) {
    const std::string text = "last " + std::to_string(kLogRepeatWindowSeconds) + " s: " +
                             std::to_string(w.suppressed) + " more lines like this one left out: " + w.example;
    spdlog::details::log_msg summary("brickcast", level, text);
    inner_->log(summary);
    w.suppressed = 0;
  }
  // Reports the windows that ended before `now` with lines left out, and forgets old windows
  // (the map stays as small as the shapes of the last window).
  void SummarizeEnded(spdlog::log_clock::time_point now) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      const bool ended = now == spdlog::log_clock::time_point::max() || now >= it->second.start + kWindow;
      if (ended && it->second.suppressed > 0) Summarize(it->second, it->first.first);
      it = ended ? windows_.erase(it) : std::next(it);
    }
  }

  spdlog::sink_ptr inner_;
  std::map<Key, Window> windows_;
  spdlog::log_clock::time_point next_sweep_{};
};


}  // namespace brickcast
