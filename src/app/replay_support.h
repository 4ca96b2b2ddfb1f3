// Helpers shared by every replay path (the daemon's file source, `brickcast replay`): pacing by
// message time and finding the Kafka key (equipment) and time of a Turtle message.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "brickcast/brick_model.h"
#include "brickcast/stream_parser.h"
#include "brickcast/time.h"

namespace brickcast {

// Maps message times onto the steady clock at `speed` x real time (speed <= 0: no pacing), so
// the replay follows data time, gaps included (a day without data at 600x is a 144 s pause).
// Data time only moves forward: a message older than the newest one so far (late data, another
// point's backlog) is due at once and never moves the mapping back. A jump forward of more than
// `max_gap` of data time (a bad timestamp, or files months apart) is not waited for: the mapping
// restarts at that message, and Due reports it so the caller can say so.
class Pacer {
 public:
  static constexpr UnixMillis kDefaultMaxGap = 7LL * 24 * 3600 * 1000;
  explicit Pacer(double speed, UnixMillis max_gap = kDefaultMaxGap) : speed_(speed), max_gap_(max_gap) {}
  struct Decision {
    std::optional<std::chrono::steady_clock::time_point> due;  // nullopt: send now
    UnixMillis gap = 0;  // data time since the newest message before this one
    bool jumped = false;  // gap exceeded max_gap: sent at once, the mapping restarts here
  };
  // When the message with this time is due (`now` is injected for tests).
  Decision Due(UnixMillis message_time, std::chrono::steady_clock::time_point now);
  std::optional<std::chrono::steady_clock::time_point> Due(UnixMillis message_time) {
    return Due(message_time, std::chrono::steady_clock::now()).due;
  }
  void Reset() {
    first_time_ = 0;
    newest_ = 0;
  }

 private:
  double speed_;
  UnixMillis max_gap_;
  UnixMillis first_time_ = 0;  // data time mapped to first_wall_
  UnixMillis newest_ = 0;      // newest data time so far
  std::chrono::steady_clock::time_point first_wall_;
};

struct MessageSummary {
  // The air-handling system of the message's first point (BrickModel::SystemOf) when a model knows
  // it, else that point's equipment, else the point; "" if none.
  std::string key;
  UnixMillis time = 0;  // newest observation time; 0 if none
};

// Finds the Kafka key and the time of each message. Remembers the equipment of every point that any message's
// metadata named, so messages without metadata (MetadataMode::kFirst) get the same key, and hence
// the same partition, as the first one. With a Brick model, equipment maps to its air-handling
// system (an AHU and all it feeds share a key). Not thread-safe.
class MessageKeyer {
 public:
  explicit MessageKeyer(const StreamParser& parser, const BrickModel* model = nullptr)
      : parser_(parser), model_(model) {}
  MessageSummary Summarize(std::string_view message);
  // The key for messages of `equipment` (its system when the model knows it).
  std::string KeyOf(const std::string& equipment) const;

 private:
  const StreamParser& parser_;
  const BrickModel* model_;
  std::unordered_map<std::string, std::string> equipment_of_;
};

}  // namespace brickcast
