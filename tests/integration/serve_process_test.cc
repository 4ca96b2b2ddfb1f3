// `brickcast serve` as systemd runs it: Type=notify readiness, watchdog pings, graceful SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "test_support.h"

namespace brickcast {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  // Next datagram, "" on timeout.
  std::string Receive() {
    char buf[1024];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(ServeProcessTest, NotifiesReadinessPingsWatchdogAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::string config = dir.File("c.json", R"({"http": {"listen": "127.0.0.1:0"}, "log": {"level": "warn"}})");
  const std::string socket_path = dir.path() + "/notify.sock";
  NotifySocket notify(socket_path);
  ASSERT_TRUE(notify.bound());

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    execl(BRICKCAST_BINARY, BRICKCAST_BINARY, "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string ready = notify.Receive();
  ASSERT_EQ(ready.rfind("READY=1", 0), 0u) << ready;
  const size_t at = ready.find("port ");
  ASSERT_NE(at, std::string::npos) << ready;
  const int port = std::stoi(ready.substr(at + 5));
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  EXPECT_EQ(notify.Receive(), "WATCHDOG=1") << "watchdog pinged at half of WATCHDOG_USEC";

  // The default config serves the shipped model; SIGHUP re-reads it without stopping the daemon.
  auto forecast = client.Get("/api/v1/forecast");
  ASSERT_TRUE(forecast);
  EXPECT_NE(forecast->body.find("timemixer sha256:"), std::string::npos) << forecast->body;
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto after = client.Get("/healthz");
  ASSERT_TRUE(after) << "still serving after SIGHUP";
  EXPECT_EQ(after->status, 200);
  const uint64_t swaps_line = client.Get("/metrics")->body.find("brickcast_forecast_model_swaps_total 2");
  EXPECT_NE(swaps_line, std::string::npos) << "loaded at start, reloaded on SIGHUP";

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::string msg;
  do {
    msg = notify.Receive();
  } while (msg == "WATCHDOG=1");
  EXPECT_EQ(msg, "STOPPING=1");
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "graceful stop exits 0";
}

}  // namespace
}  // namespace brickcast
