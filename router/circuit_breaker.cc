#include "router/circuit_breaker.h"

#include <algorithm>

namespace radixmesh::router {

namespace {
CircuitBreaker::Options normalized(CircuitBreaker::Options o) {
  o.failure_threshold = std::max<uint32_t>(o.failure_threshold, 1);
  o.cooldown_ms = std::max<int64_t>(o.cooldown_ms, 0);
  return o;
}
}  // namespace

CircuitBreaker::CircuitBreaker(Options options) : options_(normalized(options)) {}

bool CircuitBreaker::allows_slow(State s, int64_t now_ms) const {
  switch (s) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return now_ms >= reopen_at_ms_.load(std::memory_order_relaxed);
    case State::kHalfOpen:
      return !probe_busy_.load(std::memory_order_relaxed);
  }
  return false;
}

bool CircuitBreaker::try_acquire(int64_t now_ms, bool* is_probe) {
  if (is_probe) *is_probe = false;
  if (state_.load(std::memory_order_acquire) == State::kClosed) return true;
  std::lock_guard lock(mu_);
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now_ms < opened_at_ms_ + options_.cooldown_ms) return false;
      state_.store(State::kHalfOpen, std::memory_order_release);
      [[fallthrough]];
    case State::kHalfOpen:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      probe_busy_.store(true, std::memory_order_relaxed);
      if (is_probe) *is_probe = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success(bool was_probe) {
  if (!was_probe && state_.load(std::memory_order_acquire) == State::kClosed) {
    // Hot path: only touch the lock when there is a count to reset.
    if (failures_hint_.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard lock(mu_);
    failures_ = 0;
    failures_hint_.store(0, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mu_);
  failures_ = 0;
  failures_hint_.store(0, std::memory_order_relaxed);
  if (was_probe) {
    probe_in_flight_ = false;
    probe_busy_.store(false, std::memory_order_relaxed);
  }
  // A success seen in any state proves the worker answers: close.
  state_.store(State::kClosed, std::memory_order_release);
}

void CircuitBreaker::on_failure(int64_t now_ms, bool was_probe) {
  std::lock_guard lock(mu_);
  if (was_probe) {
    probe_in_flight_ = false;
    probe_busy_.store(false, std::memory_order_relaxed);
  }
  const State s = state_.load(std::memory_order_relaxed);
  if (s == State::kClosed) {
    failures_ = std::min<uint32_t>(failures_ + 1, options_.failure_threshold);
    failures_hint_.store(failures_, std::memory_order_relaxed);
    if (failures_ < options_.failure_threshold) return;
  } else if (s == State::kOpen && !was_probe) {
    return;  // a late failure of a request sent before it opened: already open
  }
  // Threshold reached, or the half-open probe failed: (re)open.
  opened_at_ms_ = now_ms;
  reopen_at_ms_.store(now_ms + options_.cooldown_ms, std::memory_order_relaxed);
  state_.store(State::kOpen, std::memory_order_release);
}

void CircuitBreaker::on_abandoned(bool was_probe) {
  if (!was_probe) return;
  std::lock_guard lock(mu_);
  probe_in_flight_ = false;
  probe_busy_.store(false, std::memory_order_relaxed);
}

CircuitBreaker::State CircuitBreaker::state(int64_t now_ms) const {
  const State s = state_.load(std::memory_order_acquire);
  if (s == State::kOpen && now_ms >= reopen_at_ms_.load(std::memory_order_relaxed)) {
    return State::kHalfOpen;  // will admit a probe on the next try_acquire
  }
  return s;
}

uint32_t CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::string_view to_string(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
    case CircuitBreaker::State::kOpen:
      return "open";
  }
  return "unknown";
}

}  // namespace radixmesh::router
