// Snapshot<T>: read-mostly shared state (the config, the Brick model, the rule set) that a reload
// replaces whole. Readers take a shared_ptr<const T> and keep using it for as long as they need,
// even while a reload installs the next one; nothing is ever modified in place, so readers need
// no lock and never see a half-applied change.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace brickcast {

template <typename T>
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::shared_ptr<const T> initial) : value_(std::move(initial)) {}
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // The current value (null before the first Set); safe from any thread.
  std::shared_ptr<const T> Get() const { return std::atomic_load(&value_); }
  // Installs `next` for every later Get(); readers holding the previous value keep it alive.
  void Set(std::shared_ptr<const T> next) { std::atomic_store(&value_, std::move(next)); }

 private:
  std::shared_ptr<const T> value_;
};

}  // namespace brickcast
