#include "radix/hlc.h"

#include <algorithm>
#include <chrono>

namespace radixmesh::radix {

uint64_t system_physical_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

HybridClock::HybridClock(std::function<uint64_t()> physical_ms, uint64_t max_drift_ms)
    : physical_ms_(std::move(physical_ms)), max_drift_ms_(max_drift_ms) {}

Hlc HybridClock::now() {
  const uint64_t floor = Hlc::from_parts(physical_ms_(), 0).value;
  uint64_t old = last_.load(std::memory_order_acquire);
  uint64_t next;
  do {
    next = std::max(old + 1, floor);
  } while (!last_.compare_exchange_weak(old, next, std::memory_order_acq_rel));
  return Hlc{next};
}

Hlc HybridClock::observe(Hlc remote) {
  const uint64_t pt = physical_ms_();
  if (remote.physical_ms() > pt + max_drift_ms_) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return now();
  }
  const uint64_t floor = Hlc::from_parts(pt, 0).value;
  uint64_t old = last_.load(std::memory_order_acquire);
  uint64_t next;
  do {
    next = std::max({old + 1, remote.value + 1, floor});
  } while (!last_.compare_exchange_weak(old, next, std::memory_order_acq_rel));
  return Hlc{next};
}

}  // namespace radixmesh::radix
