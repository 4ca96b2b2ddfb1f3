// LiveEvents: the daemon's recent alert transitions and fresh forecasts, numbered, for
// GET /api/v1/events (server-sent events). A bounded ring of the newest events that streams wait
// on. Event ids are "<run>-<n>": a client that reconnects with Last-Event-ID gets what it missed
// while the ring still holds it, and a `reset` (reload your state) when it does not or when the
// id is from an earlier run of the daemon. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "brickcast/events.h"

namespace brickcast {

class LiveEvents {
 public:
  struct Item {
    uint64_t seq = 0;
    std::string type;  // "alert" or "forecast"
    std::string data;  // one line of JSON
  };
  // `run` tells this process's ids from an earlier one's (the start time, say).
  LiveEvents(std::string run, size_t capacity = 4096);

  // Keeps an event of the bus as an item (alert transitions and forecasts; others are ignored).
  void OnEvent(const Event& event);
  void Append(std::string type, std::string data);

  // Where a stream starts: after `last_event_id` when this run's ring still holds everything
  // after it (*reset false), else after the newest event (*reset true: the client missed events
  // and must reload). An empty id starts at the newest event, without a reset.
  uint64_t ResumeAfter(const std::string& last_event_id, bool* reset) const;
  // The events after `after` (oldest first), waiting up to `wait` for one to arrive. When the
  // ring dropped events after `after` meanwhile (a stream too slow), *reset is set.
  std::vector<Item> After(uint64_t after, std::chrono::milliseconds wait, bool* reset) const;
  std::string Id(uint64_t seq) const { return run_ + "-" + std::to_string(seq); }
  // Wakes every waiting stream (shutdown).
  void Close();

 private:
  const std::string run_;
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Item> items_;  // guarded by mu_; seqs consecutive
  uint64_t next_seq_ = 1;   // guarded by mu_
  bool closed_ = false;     // guarded by mu_
};

}  // namespace brickcast
