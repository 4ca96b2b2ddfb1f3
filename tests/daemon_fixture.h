// A test fixture that runs the whole daemon in-process from a config text (port 0) with an HTTP
// client on its API; stops it after the test.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "brickcast/daemon.h"
#include "test_support.h"

namespace brickcast::testing {

class DaemonFixture : public ::testing::Test {
 protected:
  // Writes `config_json` to brickcast.json in the scratch directory and starts the daemon.
  void StartDaemonWithConfig(const std::string& config_json) {
    auto config = LoadConfigFile(dir_.File("brickcast.json", config_json));
    ASSERT_TRUE(config.ok()) << config.status().message();
    daemon_ = std::make_unique<Daemon>(std::move(*config));
    ASSERT_TRUE(daemon_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->http_port());
  }
  void TearDown() override {
    if (daemon_) daemon_->Stop();
  }

  TempDir dir_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace brickcast::testing
