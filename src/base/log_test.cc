#include "base/log.h"

#include <gtest/gtest.h>

namespace loom {
namespace {

TEST(LogTest, LevelsParseAndFilter) {
  LogLevel l;
  EXPECT_TRUE(ParseLogLevel("warn", &l));
  EXPECT_EQ(l, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud", &l));
  LogLevel saved = GetLogLevel();
  SetLogLevel(LogLevel::kError);
  testing::internal::CaptureStderr();
  LOOM_LOG_INFO("hidden ", 1);
  LOOM_LOG_ERROR("shown ", 2);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "loom error: shown 2\n");
  SetLogLevel(saved);
}

}  // namespace
}  // namespace loom
