// A small leveled logger writing to stderr. The level comes from LOOM_LOG (debug, info, warn,
// error; default info) or SetLogLevel. Thread-safe: each line is written with one fwrite.
#ifndef LOOM_BASE_LOG_H_
#define LOOM_BASE_LOG_H_

#include <string>

#include "base/strings.h"

namespace loom {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError, kSilent };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "silent"; false when unknown.
bool ParseLogLevel(const std::string& name, LogLevel* out);

void LogLine(LogLevel level, const std::string& message);

template <typename... Args>
void Log(LogLevel level, const Args&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, StrCat(args...));
}

}  // namespace loom

#define LOOM_LOG_DEBUG(...) ::loom::Log(::loom::LogLevel::kDebug, __VA_ARGS__)
#define LOOM_LOG_INFO(...) ::loom::Log(::loom::LogLevel::kInfo, __VA_ARGS__)
#define LOOM_LOG_WARN(...) ::loom::Log(::loom::LogLevel::kWarn, __VA_ARGS__)
#define LOOM_LOG_ERROR(...) ::loom::Log(::loom::LogLevel::kError, __VA_ARGS__)

#endif  // LOOM_BASE_LOG_H_
