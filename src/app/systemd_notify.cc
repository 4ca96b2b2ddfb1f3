#include "app/systemd_notify.h"

#include <systemd/sd-daemon.h>

namespace brickcast::systemd {

void NotifyReady(const std::string& status) { sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str()); }
void NotifyStopping() { sd_notify(0, "STOPPING=1"); }
void NotifyStatus(const std::string& status) { sd_notifyf(0, "STATUS=%s", status.c_str()); }

std::optional<std::chrono::microseconds> WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

void PingWatchdog() { sd_notify(0, "WATCHDOG=1"); }

}  // namespace brickcast::systemd
