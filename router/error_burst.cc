#include "router/error_burst.h"

#include <cstdio>

namespace radixmesh::router {
namespace {

std::string seconds(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

std::optional<std::string> ErrorBurst::on_error(TimePoint now, std::string_view detail) {
  if (errors_++ == 0) {
    started_ = last_report_ = now;
    since_report_ = 0;
    return what_ + ": " + std::string(detail) + " (logging once per burst)";
  }
  ++since_report_;
  if (now - last_report_ < report_every_) return std::nullopt;
  std::string line = what_ + ": " + std::to_string(since_report_) + " more errors in the last " +
                     seconds(now - last_report_) + " (" + std::string(detail) + ")";
  last_report_ = now;
  since_report_ = 0;
  return line;
}

std::optional<std::string> ErrorBurst::on_success(TimePoint now) {
  if (errors_ == 0) return std::nullopt;
  std::string line =
      what_ + ": burst over: " + std::to_string(errors_) + " errors in " + seconds(now - started_);
  errors_ = 0;
  since_report_ = 0;
  return line;
}

}  // namespace radixmesh::router
