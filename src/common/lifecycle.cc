#include "brickcast/lifecycle.h"

#include <spdlog/spdlog.h>

namespace brickcast {

void Lifecycle::Add(std::string name, StartFn start, StopFn stop) {
  services_.push_back(Service{std::move(name), std::move(start), std::move(stop)});
}

Status Lifecycle::Start() {
  for (; started_ < services_.size(); ++started_) {
    const Service& s = services_[started_];
    Status st = s.start ? s.start() : Status::Ok();
    if (!st.ok()) {
      spdlog::error("start of {} failed; stopping the {} services already started", s.name, started_);
      Stop(std::chrono::seconds(30));
      return st;
    }
  }
  return Status::Ok();
}

void Lifecycle::Stop(std::chrono::milliseconds grace) {
  using Steady = std::chrono::steady_clock;
  const auto begin = Steady::now();
  std::string slow;
  while (started_ > 0) {
    const Service& s = services_[--started_];
    if (!s.stop) continue;
    const auto t0 = Steady::now();
    s.stop();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0).count();
    if (ms >= 100) slow += (slow.empty() ? "" : ", ") + s.name + " " + std::to_string(ms) + " ms";
  }
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - begin);
  if (total > grace) {
    spdlog::warn("shutdown took {} ms, over the grace of {} ms ({})", total.count(), grace.count(), slow);
  }
}

std::vector<std::string> Lifecycle::running() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < started_; ++i) out.push_back(services_[i].name);
  return out;
}

}  // namespace brickcast
