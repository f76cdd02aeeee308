// ErrorBurst: log a repeating error once per burst, with a count.
//
// A listener that runs out of descriptors fails every accept until one is
// freed: thousands of identical errors a second. ErrorBurst turns them into
// a line when the burst starts, a line every `report_every` while it lasts
// (with the count since the last line), and a summary when it is over (the
// next success after at least one error):
//
//   accept: Too many open files (logging once per burst)
//   accept: 1532 more errors in the last 10.0 s (Too many open files)
//   accept: burst over: 1533 errors in 12.4 s
//
// Shared by the data-plane listener and the health checker; the admin
// listener can adopt it the same way (on_error on a failed accept,
// on_success on the next good one).
//
// Threads: not thread-safe; each owner calls it from its one thread. Time
// is passed in, so tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace radixmesh::router {

class ErrorBurst {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit ErrorBurst(std::string what,
                      std::chrono::milliseconds report_every = std::chrono::seconds(10))
      : what_(std::move(what)), report_every_(report_every) {}

  // One error. Returns the line to log, if this one should be logged.
  std::optional<std::string> on_error(TimePoint now, std::string_view detail);
  // The operation succeeded. Returns the burst's summary when one just ended.
  std::optional<std::string> on_success(TimePoint now);

  bool in_burst() const { return errors_ > 0; }
  uint64_t errors_in_burst() const { return errors_; }

 private:
  const std::string what_;
  const std::chrono::milliseconds report_every_;
  uint64_t errors_ = 0;        // in the current burst
  uint64_t since_report_ = 0;  // errors not yet in a logged line
  TimePoint started_{};
  TimePoint last_report_{};
};

}  // namespace radixmesh::router
