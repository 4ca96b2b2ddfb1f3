#include "brickcast/status.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "brickcast/logging.h"

namespace brickcast {
namespace {

TEST(StatusTest, OkCarriesNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ErrorKeepsCodeAndContext) {
  Status s = Status::InvalidArgument("bad thing").WithContext("loading x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "loading x: bad thing");
  EXPECT_EQ(s.ToString(), "invalid_argument: loading x: bad thing");
}

TEST(StatusTest, StatusOrHoldsValueOrError) {
  StatusOr<int> v = 42;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  StatusOr<int> e = Status::NotFound("nope");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  StatusOr<int> from_ok = Status::Ok();  // a bug in the caller: becomes an internal error
  EXPECT_EQ(from_ok.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace brickcast

namespace brickcast {
namespace {

// A reload may set the log level again: setting up logging twice is fine and takes the new level.
TEST(LoggingTest, SetupCanRunAgainWithAnotherLevel) {
  ASSERT_TRUE(SetupLogging("warn").ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  ASSERT_TRUE(SetupLogging("debug").ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_FALSE(SetupLogging("loud").ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug) << "a bad level keeps the running one";
  ASSERT_TRUE(SetupLogging("info").ok());
}

}  // namespace
}  // namespace brickcast
