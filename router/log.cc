#include "router/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

namespace radixmesh::router {

LogLevel Logger::parse_level(std::string_view name) {
  if (name == "trace") return LogLevel::kTrace;
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void Logger::log(LogLevel l, std::string_view message) const {
  if (!enabled(l)) return;
  static constexpr const char* kNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(message.size() + 48);
  line.append(stamp, n);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms));
  line += frac;
  line += kNames[static_cast<int>(l)];
  line += ' ';
  line.append(message);
  line += '\n';
  // One write per line: atomic with respect to other threads' lines.
  [[maybe_unused]] ssize_t w = ::write(2, line.data(), line.size());
}

}  // namespace radixmesh::router
