// Helpers shared by every replay path (the daemon's file source, `brickcast replay`): pacing by
// message time and finding the Kafka key (equipment) and time of a Turtle message.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "brickcast/stream_parser.h"
#include "brickcast/time.h"

namespace brickcast {

// Maps message times onto the steady clock at `speed` x real time (speed <= 0: no pacing).
class Pacer {
 public:
  explicit Pacer(double speed) : speed_(speed) {}
  // When the message with this time is due; nullopt when it is due now.
  std::optional<std::chrono::steady_clock::time_point> Due(UnixMillis message_time);
  void Reset() { first_time_ = 0; }

 private:
  double speed_;
  UnixMillis first_time_ = 0;
  std::chrono::steady_clock::time_point first_wall_;
};

struct MessageSummary {
  std::string key;      // equipment of the message's first point, else that point; "" if none
  UnixMillis time = 0;  // newest observation time; 0 if none
};

// Finds the Kafka key of each message. Remembers the equipment of every point that any message's
// metadata named, so messages without metadata (MetadataMode::kFirst) get the same key, and hence
// the same partition, as the first one. Not thread-safe.
class MessageKeyer {
 public:
  explicit MessageKeyer(const StreamParser& parser) : parser_(parser) {}
  MessageSummary Summarize(std::string_view message);

 private:
  const StreamParser& parser_;
  std::unordered_map<std::string, std::string> equipment_of_;
};

}  // namespace brickcast
