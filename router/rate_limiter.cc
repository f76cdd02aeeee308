#include "router/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace radixmesh::router {

TokenBucket::Verdict TokenBucket::take(int64_t now_ms, double rate, double burst) {
  std::lock_guard lock(mu_);
  if (!started_) {
    started_ = true;
    tokens_ = burst;
    last_ms_ = now_ms;
  }
  if (now_ms > last_ms_) {
    tokens_ += static_cast<double>(now_ms - last_ms_) * rate / 1000.0;
    last_ms_ = now_ms;
  }
  tokens_ = std::min(tokens_, burst);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return {};
  }
  const double missing = 1.0 - tokens_;
  return {false, static_cast<int64_t>(std::ceil(missing * 1000.0 / rate))};
}

RateShare share_of(double rps, double burst, size_t members) {
  if (rps <= 0) return {};
  const double n = static_cast<double>(std::max<size_t>(members, 1));
  const double full_burst = burst > 0 ? burst : std::max(1.0, rps);
  return {rps / n, std::max(1.0, full_burst / n)};
}

size_t FleetSize::get(int64_t now_ms) {
  if (!fn_) return 1;
  int64_t next = next_refresh_ms_.load(std::memory_order_relaxed);
  if (now_ms >= next &&
      next_refresh_ms_.compare_exchange_strong(next, now_ms + 1000, std::memory_order_relaxed)) {
    members_.store(std::max<size_t>(fn_(), 1), std::memory_order_relaxed);
  }
  return members_.load(std::memory_order_relaxed);
}

unsigned retry_after_seconds(int64_t retry_after_ms) {
  if (retry_after_ms <= 1000) return 1;
  return static_cast<unsigned>(std::min<int64_t>((retry_after_ms + 999) / 1000, 3600));
}

}  // namespace radixmesh::router
