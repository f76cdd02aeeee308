// CircuitBreaker: passive outlier ejection for one upstream worker.
//
//            failures >= threshold                cooldown elapsed
//   kClosed ──────────────────────> kOpen ──────────────────────> kHalfOpen
//      ^                              ^   (next try_acquire takes     │
//      │         probe succeeds       │    the single probe slot)     │
//      └──────────────────────────────┼───────────────────────────────┤
//                                     └────── probe fails ────────────┘
//
// Closed: every request may go; a success resets the consecutive-failure
// count. Open: no request goes until cooldown_ms have passed since it opened.
// Half-open: exactly one probe request is in flight at a time; its outcome
// closes or re-opens the breaker. A probe that ends without a verdict (the
// client went away) releases the slot so the next request probes.
//
// Time is passed in (now_ms, any monotonic milliseconds): tests drive it with
// a fake clock; the router passes steady_clock.
//
// Threads: every method is safe from any thread. allows() is the hot-path
// filter run for every candidate of every request: a relaxed atomic load when
// closed. Transitions take a small mutex (never held across I/O).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace radixmesh::router {

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed = 0, kHalfOpen = 1, kOpen = 2 };

  struct Options {
    uint32_t failure_threshold = 5;  // consecutive failures that open it (>= 1)
    int64_t cooldown_ms = 5000;      // open -> half-open after this
    bool operator==(const Options&) const = default;
  };

  explicit CircuitBreaker(Options options);

  // May a request be routed to this worker now? No state change: closed,
  // or open with the cooldown elapsed, or half-open with the probe slot free.
  // Inline: the closed case is one load, done for every candidate.
  bool allows(int64_t now_ms) const {
    const State s = state_.load(std::memory_order_acquire);
    return s == State::kClosed || allows_slow(s, now_ms);
  }

  // Called once the worker is chosen, before sending. Closed: true. Open and
  // cooled down, or half-open with a free slot: takes the probe slot, true.
  // Otherwise false (another thread took the probe): choose someone else.
  // `is_probe` (optional) says whether this request is the probe.
  bool try_acquire(int64_t now_ms, bool* is_probe = nullptr);

  // Outcome of a request that try_acquire admitted.
  void on_success(bool was_probe);
  void on_failure(int64_t now_ms, bool was_probe);
  // The request ended without telling anything about the worker.
  void on_abandoned(bool was_probe);

  State state(int64_t now_ms) const;
  uint32_t consecutive_failures() const;

 private:
  bool allows_slow(State s, int64_t now_ms) const;  // open or half-open

  // Read by allows() for every candidate of every request: first, so they
  // share the cache line the Worker's own live state sits on.
  std::atomic<State> state_{State::kClosed};  // written under mu_, read lock-free
  std::atomic<bool> probe_busy_{false};       // mirror of probe_in_flight_ for allows()
  std::atomic<int64_t> reopen_at_ms_{0};      // opened_at + cooldown, for allows()
  const Options options_;
  mutable std::mutex mu_;
  uint32_t failures_ = 0;                   // guarded by mu_
  std::atomic<uint32_t> failures_hint_{0};  // mirror of failures_ for on_success
  int64_t opened_at_ms_ = 0;                // guarded by mu_
  bool probe_in_flight_ = false;            // guarded by mu_
};

std::string_view to_string(CircuitBreaker::State s);

}  // namespace radixmesh::router
