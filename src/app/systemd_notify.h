// systemd integration (Type=notify): readiness, stopping and watchdog pings. The one adapter
// around libsystemd; every call is a no-op when not started by systemd (NOTIFY_SOCKET unset).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace brickcast::systemd {

void NotifyReady(const std::string& status);
void NotifyStopping();
void NotifyStatus(const std::string& status);
// The interval at which to ping the watchdog (half of WatchdogSec), when enabled.
std::optional<std::chrono::microseconds> WatchdogPingInterval();
void PingWatchdog();

}  // namespace brickcast::systemd
