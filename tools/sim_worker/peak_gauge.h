// PeakGauge: how many inference requests the simulated worker is serving now,
// and the most it has served at once since it started.
//
// Why: a router's admission cap (--max-in-flight-per-worker) is a claim about
// the worker's side of the connection; tests read the peak from /metrics
// (sim_active_requests_peak) to show no worker ever saw more than the cap.
// A request counts from the moment its body has been read until its handler
// returns (queued for a batch slot, generating, or answering an error), the
// same span as the router's in-flight count for that worker.
//
// Threads: any; the counters are atomics and the peak only grows (a
// compare-and-swap loop, bounded by the number of concurrent enter() calls).
#pragma once

#include <atomic>
#include <cstdint>

namespace radixmesh::tools::sim {

class PeakGauge {
 public:
  void enter() {
    const int64_t now = active_.fetch_add(1, std::memory_order_acq_rel) + 1;
    int64_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void leave() { active_.fetch_sub(1, std::memory_order_acq_rel); }

  int64_t active() const { return active_.load(std::memory_order_relaxed); }
  int64_t peak() const { return peak_.load(std::memory_order_relaxed); }

  // enter() now, leave() at the end of the scope.
  class Scope {
   public:
    explicit Scope(PeakGauge& g) : g_(&g) { g_->enter(); }
    ~Scope() { g_->leave(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PeakGauge* g_;
  };

 private:
  std::atomic<int64_t> active_{0};
  std::atomic<int64_t> peak_{0};
};

}  // namespace radixmesh::tools::sim
