#include "api/live_events.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "brickcast/forecast_service.h"

namespace brickcast {

LiveEvents::LiveEvents(std::string run, size_t capacity) : run_(std::move(run)), capacity_(capacity == 0 ? 1 : capacity) {}

void LiveEvents::OnEvent(const Event& event) {
  using Json = nlohmann::json;
  if (const auto* a = std::get_if<AlertChanged>(&event)) {
    Append("alert", Json{{"alert", a->alert},
                         {"rule", a->rule},
                         {"equipment", a->equipment},
                         {"severity", a->severity},
                         {"from", a->from},
                         {"to", a->to},
                         {"predicted", a->predicted},
                         {"data_time", FormatIsoUtc(a->data_time)},
                         {"summary", a->summary}}
                        .dump(-1, ' ', false, Json::error_handler_t::replace));
  } else if (const auto* f = std::get_if<ForecastProduced>(&event)) {
    Json j{{"point", f->point}, {"window_end", FormatIsoUtc(f->window_end)}, {"fallback", f->fallback}};
    if (f->forecast) {
      j["model"] = f->forecast->model;
      j["steps"] = f->forecast->steps.size();
    }
    Append("forecast", j.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
}

void LiveEvents::Append(std::string type, std::string data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(Item{next_seq_++, std::move(type), std::move(data)});
    while (items_.size() > capacity_) items_.pop_front();
  }
  cv_.notify_all();
}

uint64_t LiveEvents::ResumeAfter(const std::string& last_event_id, bool* reset) const {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t newest = next_seq_ - 1;
  *reset = false;
  if (last_event_id.empty()) return newest;
  const std::string prefix = run_ + "-";
  uint64_t seq = 0;
  bool parsed = last_event_id.rfind(prefix, 0) == 0 && last_event_id.size() > prefix.size();
  for (size_t i = prefix.size(); parsed && i < last_event_id.size(); ++i) {
    const char c = last_event_id[i];
    if (c < '0' || c > '9' || seq > (UINT64_MAX - 9) / 10) parsed = false;
    else seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t oldest = items_.empty() ? next_seq_ : items_.front().seq;
  // Resumable when nothing after `seq` has left the ring and `seq` is not from the future.
  if (!parsed || seq > newest || seq + 1 < oldest) {
    *reset = true;
    return newest;
  }
  return seq;
}

std::vector<LiveEvents::Item> LiveEvents::After(uint64_t after, std::chrono::milliseconds wait, bool* reset) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return closed_ || next_seq_ - 1 > after; });
  *reset = false;
  std::vector<Item> out;
  if (items_.empty() || items_.back().seq <= after) return out;
  if (items_.front().seq > after + 1) *reset = true;  // dropped while this stream lagged
  for (auto it = items_.rbegin(); it != items_.rend() && it->seq > after; ++it) out.push_back(*it);
  std::reverse(out.begin(), out.end());
  return out;
}

void LiveEvents::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace brickcast
