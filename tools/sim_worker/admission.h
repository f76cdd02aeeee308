// Admission: the simulated worker's batch limit with a bounded FIFO queue.
//
// At most `slots` requests hold a slot (generate) at once; up to `max_queue`
// more wait in arrival order; beyond that try_acquire() says kRejected (the
// caller answers 429). A released slot passes straight to the oldest waiter,
// whose timer is then cancelled on the waiter's own executor to wake it.
//
// Waiting protocol (a coroutine on executor E):
//   auto w = std::make_shared<Admission::Waiter>(E);
//   switch (adm.try_acquire(w)) { kGranted: go; kRejected: 429;
//     kQueued: co_await w->timer.async_wait(...) until adm.granted(w);
//              if the client left first: adm.abandon(w) }
// then adm.release() exactly once per granted slot (see SlotGuard).
//
// Thread safety: all methods may be called from any thread; one mutex guards
// the counters and the queue and is never held across I/O or a co_await.
// Invariants: in_flight() <= slots; queued() <= max_queue.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace radixmesh::tools::sim {

class Admission {
 public:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex)
        : timer(ex, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer timer;  // used only on its executor
    bool granted = false;             // guarded by Admission::mu_
  };
  enum class Try { kGranted, kQueued, kRejected };

  Admission(uint32_t slots, uint32_t max_queue) : slots_(slots), max_queue_(max_queue) {}

  Try try_acquire(const std::shared_ptr<Waiter>& w);
  bool granted(const std::shared_ptr<Waiter>& w);
  // The waiter gives up (client gone): dequeues it, or releases the slot it
  // was granted meanwhile.
  void abandon(const std::shared_ptr<Waiter>& w);
  void release();

  uint32_t in_flight() const;
  uint32_t queued() const;

 private:
  const uint32_t slots_;
  const uint32_t max_queue_;
  mutable std::mutex mu_;
  uint32_t in_flight_ = 0;                     // guarded by mu_
  std::deque<std::shared_ptr<Waiter>> queue_;  // guarded by mu_
};

// Releases one granted slot when it goes out of scope.
class SlotGuard {
 public:
  explicit SlotGuard(Admission& a) : a_(&a) {}
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
  ~SlotGuard() { a_->release(); }

 private:
  Admission* a_;
};

}  // namespace radixmesh::tools::sim
