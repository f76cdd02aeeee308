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
// Mesh: with a LoadChangeSignal each +1 / -1 also notifies it, so the mesh
// pushes the change one window later (router/load_change_signal.h).
#pragma once

#include <memory>
#include <utility>

#include "router/load_change_signal.h"
#include "router/worker.h"

namespace radixmesh::router {

class InFlightGuard {
 public:
  InFlightGuard() = default;
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
      : worker_(std::move(o.worker_)), signal_(std::move(o.signal_)) {}
  InFlightGuard& operator=(InFlightGuard&& o) noexcept {
    if (this != &o) {
      reset();
      worker_ = std::move(o.worker_);
      signal_ = std::move(o.signal_);
    }
    return *this;
  }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

  // Ends the accounting early (idempotent).
  void reset() {
    if (worker_) {
      worker_->sub_in_flight();
      worker_.reset();
      if (signal_) signal_->notify();
      signal_.reset();
    }
  }

  const std::shared_ptr<Worker>& worker() const { return worker_; }
  explicit operator bool() const { return worker_ != nullptr; }

 private:
  std::shared_ptr<Worker> worker_;
  std::shared_ptr<LoadChangeSignal> signal_;
};

}  // namespace radixmesh::router
