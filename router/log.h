// Logger: leveled, line-oriented logging to stderr.
//
// One Logger is created by the composition root from --log-level and passed
// (by reference) to the components that log; nothing reaches it through a
// global. Each line is "<UTC time> <level> <message>\n", written with one
// write() so lines from different threads never interleave.
//
// Threads: every method is safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace radixmesh::router {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo) : level_(level) {}
  // "trace|debug|info|warn|error"; unknown -> info.
  static LogLevel parse_level(std::string_view name);

  bool enabled(LogLevel l) const { return l >= level_; }
  void log(LogLevel l, std::string_view message) const;
  void debug(std::string_view m) const { log(LogLevel::kDebug, m); }
  void info(std::string_view m) const { log(LogLevel::kInfo, m); }
  void warn(std::string_view m) const { log(LogLevel::kWarn, m); }
  void error(std::string_view m) const { log(LogLevel::kError, m); }

 private:
  const LogLevel level_;
};

}  // namespace radixmesh::router
