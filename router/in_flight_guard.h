// InFlightGuard: the one place a worker's in-flight count changes.
//
// Constructed when a request is routed to a worker (count + 1); destroyed
// when the exchange ends for any reason — response complete, upstream
// failure, retry on another worker, client disconnect, coroutine destroyed at
// shutdown (count - 1). Because the count follows object lifetime, it cannot
// drift and never needs a periodic reset. Holding the shared_ptr also keeps
// a removed worker's object alive until its last exchange ends.
//
// Threads: the guard is owned by one exchange; the count it touches is
// atomic. Movable, not copyable; a moved-from guard does nothing.
//
// Mesh: with a LoadChangeSignal each +1 also notifies it, so the mesh pushes
// the change one window later; a -1 rides the next flush, at most a follow-up
// window later (router/load_change_signal.h).
//
// Admission (--max-in-flight-per-worker): try_acquire() never takes the count
// over the cap, and a SlotListener hears each release.
#pragma once

#include <memory>
#include <utility>

#include "router/load_change_signal.h"
#include "router/worker.h"

namespace radixmesh::router {

// Hears every released slot (router/admission_queue.h): a request waiting
// for a worker below --max-in-flight-per-worker can be woken. Any thread.
class SlotListener {
 public:
  virtual ~SlotListener() = default;
  virtual void slot_freed(radix::WorkerId worker) = 0;
};

class InFlightGuard {
 public:
  InFlightGuard() = default;
  // The count + 1 only while below `cap` (see Worker::try_add_in_flight);
  // an empty guard otherwise. `listener` hears the release.
  static InFlightGuard try_acquire(std::shared_ptr<Worker> worker, uint32_t cap,
                                   std::shared_ptr<LoadChangeSignal> signal,
                                   std::shared_ptr<SlotListener> listener) {
    InFlightGuard g;
    if (!worker || !worker->try_add_in_flight(cap)) return g;
    g.worker_ = std::move(worker);
    g.signal_ = std::move(signal);
    g.listener_ = std::move(listener);
    if (g.signal_) g.signal_->notify();
    return g;
  }
  explicit InFlightGuard(std::shared_ptr<Worker> worker,
                         std::shared_ptr<LoadChangeSignal> signal = {})
      : worker_(std::move(worker)), signal_(std::move(signal)) {
    if (worker_) {
      worker_->add_in_flight();
      if (signal_) signal_->notify();
    }
  }
  ~InFlightGuard() { reset(); }

  InFlightGuard(InFlightGuard&& o) noexcept
      : worker_(std::move(o.worker_)),
        signal_(std::move(o.signal_)),
        listener_(std::move(o.listener_)) {}
  InFlightGuard& operator=(InFlightGuard&& o) noexcept {
    if (this != &o) {
      reset();
      worker_ = std::move(o.worker_);
      signal_ = std::move(o.signal_);
      listener_ = std::move(o.listener_);
    }
    return *this;
  }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

  // Ends the accounting early (idempotent).
  void reset() {
    if (worker_) {
      worker_->sub_in_flight();
      const radix::WorkerId id = worker_->id();
      worker_.reset();
      signal_.reset();  // no wake-up: see router/load_change_signal.h
      if (listener_) listener_->slot_freed(id);
      listener_.reset();
    }
  }

  const std::shared_ptr<Worker>& worker() const { return worker_; }
  explicit operator bool() const { return worker_ != nullptr; }

 private:
  std::shared_ptr<Worker> worker_;
  std::shared_ptr<LoadChangeSignal> signal_;
  std::shared_ptr<SlotListener> listener_;  // admission queue; null: none
};

}  // namespace radixmesh::router
