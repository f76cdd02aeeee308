// LoadChangeSignal: tells the mesh that this router's in-flight count for a
// worker went up, so the mesh pushes a load delta one window later instead of
// sampling every window while anything is in flight (a timer wake-up every
// few ms per router whatever the traffic).
//
// notify() is called by InFlightGuard on every +1. Only the first change
// since the mesh last sampled the counts runs the wake function
// (MeshNode::request_flush: arms the window's timer); the rest are one atomic
// exchange. The mesh thread calls rearm() right before it samples: a change
// after that wakes again, one before it is in the sample (the exchanges
// order the two threads: acq_rel on both sides).
//
// A -1 (a request ending) does not notify. Every flush that samples load in
// flight here restarts a follow-up flush (MeshNode::arm_follow_up_flush, 10
// push windows: 20 ms at the defaults), and the end rides whichever flush comes
// first: under load the next request's window, within milliseconds; when idle,
// the follow-up. Why: a request's start and end each cost a frame to every
// peer and a wake-up of every peer's mesh thread, and the end was half of the
// mesh's CPU per request (docs/benchmarks.md, "Mesh CPU per request"); a late
// end only overstates a worker's load, for at most the follow-up window, so it
// can make a peer avoid a worker a little longer but never herd onto it. A
// late start is what herds, and a start still asks for its own window.
//
// Threads: notify() from any router thread; rearm() from the mesh thread;
// set_wake() from any thread. set_wake({}) is a barrier: after it returns no
// thread is inside, or will enter, the previous wake function.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

namespace radixmesh::router {

class LoadChangeSignal {
 public:
  void notify() {
    if (pending_.exchange(true, std::memory_order_acq_rel)) return;
    std::lock_guard lock(mu_);
    if (wake_) wake_();
  }
  void rearm() { pending_.exchange(false, std::memory_order_acq_rel); }
  void set_wake(std::function<void()> wake) {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    pending_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> pending_{false};
  std::mutex mu_;  // guards wake_; taken at most once per window
  std::function<void()> wake_;
};

}  // namespace radixmesh::router
