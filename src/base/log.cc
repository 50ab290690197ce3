#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace loom {
namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("LOOM_LOG");
  LogLevel level = LogLevel::kInfo;
  if (env != nullptr) ParseLogLevel(env, &level);
  return level;
}

std::atomic<int>& LevelStorage() {
  static std::atomic<int> level(static_cast<int>(InitialLevel()));
  return level;
}

}  // namespace

void SetLogLevel(LogLevel level) { LevelStorage().store(static_cast<int>(level)); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(LevelStorage().load()); }

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  if (name == "debug")
    *out = LogLevel::kDebug;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "error")
    *out = LogLevel::kError;
  else if (name == "silent")
    *out = LogLevel::kSilent;
  else
    return false;
  return true;
}

void LogLine(LogLevel level, const std::string& message) {
  static const char* kTags[] = {"debug", "info", "warn", "error", ""};
  std::string line = StrCat("loom ", kTags[static_cast<int>(level)], ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace loom
