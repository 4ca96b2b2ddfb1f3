// Lifecycle: the daemon's services started in the order they were added and stopped in reverse.
// A start that fails stops the services already started (in reverse) and reports which service
// failed; Stop is idempotent and reports services that ran past the shutdown grace. Start and
// Stop from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "brickcast/status.h"

namespace brickcast {

class Lifecycle {
 public:
  using StartFn = std::function<Status()>;
  using StopFn = std::function<void()>;
  // `stop` may be null (nothing to undo, e.g. a loaded model).
  void Add(std::string name, StartFn start, StopFn stop);

  // Starts every service in order; on the first error stops what started and returns that error
  // with the service's name.
  Status Start();
  // Stops the started services in reverse order. Each stop is waited for (a stop cannot be cut
  // short from outside); those that together exceed `grace` are logged with their durations.
  void Stop(std::chrono::milliseconds grace);
  // Names of the services running now, in start order.
  std::vector<std::string> running() const;

 private:
  struct Service {
    std::string name;
    StartFn start;
    StopFn stop;
  };
  std::vector<Service> services_;
  size_t started_ = 0;  // services_[0, started_) are running
};

}  // namespace brickcast
