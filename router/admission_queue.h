// AdmissionQueue: requests wait here for a worker slot instead of piling
// onto saturated workers (--max-in-flight-per-worker, --max-queue,
// --queue-timeout-ms).
//
//   admit():  nobody of this model queued -> choose()
//               routed, or failed for another reason than the cap -> done
//             queue full                  -> 503 admission_queue_full
//             else wait (FIFO per model, at most --queue-timeout-ms):
//               woken by a released slot of a worker it can use, or every
//               kRecheck (a worker came back, a registry change), or by the
//               client leaving (its place is freed at once) -> choose() again
//             out of time                 -> 503 admission_queue_timeout
//
// Cap: the routing engine never takes a worker over the cap
// (Worker::try_add_in_flight); this class only decides who waits and who is
// woken. The cap counts this router's requests (fleet-wide: N routers may
// together send N x cap; docs/configuration.md).
//
// Waiting: no thread blocks and no lock is held across a wait. A waiter is
// a timer on its connection's io thread; slot_freed() (any thread, from the
// InFlightGuard release) picks the oldest waiter that can use that worker
// under the mutex and posts its wake-up to its own executor. The client
// socket is watched with a MSG_PEEK receive while queued: EOF, an error (or a
// TLS close_notify) removes the waiter at once (pipelined bytes end the watch; the
// request is then served when its turn comes).
//
// Fairness: a new request of a model that has waiters queues behind them
// even when a slot is free (the woken waiter would lose the race otherwise).
//
// Bounds: max_queue waiters process-wide; each holds one timer, its model
// name and the ids of the workers it waits for.
//
// Threads: slot_freed() and depth() from any thread; admit() on the
// client connection's io thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "router/in_flight_guard.h"
#include "router/metrics.h"
#include "router/net.h"
#include "router/routing_engine.h"

namespace radixmesh::router {

struct AdmissionOptions {
  size_t max_queue = 256;
  std::chrono::milliseconds timeout{10000};
  // A waiter re-tries this often even without a wake-up.
  std::chrono::milliseconds recheck{100};
  bool operator==(const AdmissionOptions&) const = default;
};

struct AdmissionMetrics {  // any may be null
  std::shared_ptr<Histogram> wait_seconds;
  std::shared_ptr<Gauge> depth;
  std::shared_ptr<Counter> rejected_full;
  std::shared_ptr<Counter> rejected_timeout;
  std::shared_ptr<Counter> client_gone;
};

struct Admission {
  enum class Outcome { kRouted, kQueueFull, kTimeout, kClientGone };
  Outcome outcome = Outcome::kRouted;
  // kRouted: what choose() answered last (a worker, or an error that is not
  // saturation, such as 404 or no healthy worker).
  Result<RouteChoice> choice = make_error(ErrorCode::kUnavailable, "not routed");
  bool queued = false;
  std::chrono::nanoseconds waited{0};
};

class AdmissionQueue final : public SlotListener,
                             public std::enable_shared_from_this<AdmissionQueue> {
 public:
  AdmissionQueue(AdmissionOptions options, AdmissionMetrics metrics = {})
      : options_(options), metrics_(std::move(metrics)) {}

  // client_tls: the socket carries TLS (a close_notify counts as leaving,
  // router/byte_stream.h peek_means_gone).
  awaitable<Admission> admit(tcp::socket& client, const RoutingEngine& engine,
                             RoutingScratch& scratch, const PreparedRequest& request,
                             bool client_tls = false);

  void slot_freed(radix::WorkerId worker) override;

  size_t depth() const { return waiting_.load(std::memory_order_relaxed); }
  const AdmissionOptions& options() const { return options_; }

  struct Waiter;

 private:
  bool has_waiters(const std::string& model) const;
  std::shared_ptr<Waiter> enqueue(const net::any_io_executor& ex, const std::string& model,
                                  const std::vector<radix::WorkerId>& workers);
  void remove(const std::shared_ptr<Waiter>& w);
  void rearm(const std::shared_ptr<Waiter>& w, const std::vector<radix::WorkerId>& workers);

  const AdmissionOptions options_;
  const AdmissionMetrics metrics_;
  std::atomic<size_t> waiting_{0};  // queue_.size(), read without the lock
  mutable std::mutex mu_;
  std::list<std::shared_ptr<Waiter>> queue_;  // guarded by mu_; arrival order
};

}  // namespace radixmesh::router
