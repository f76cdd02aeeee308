// ConnectionGate: the data-plane cap on open client connections
// (--max-connections), shared by the listener and every session.
//
// The listener takes a Ticket for each accepted connection; the session
// holds it for its whole life and the slot is free again when it ends. Above
// the cap the listener refuses: it answers a short 503 (too_many_connections,
// Retry-After: 1, Connection: close) and closes. Refusals being answered are
// bounded too (kMaxShedding): past that a refused connection is closed at
// once, so a flood of them cannot hold descriptors either.
//
// Why refuse rather than stop accepting: a paused listener leaves every new
// client in the kernel's backlog, legitimate ones queued behind the flood,
// with no answer until their own timeout; a 503 tells a client or a load
// balancer at once to go elsewhere or retry. The price is one accept, one
// small write and one close per refused connection.
//
// Threads: any; the counters are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "router/metrics.h"

namespace radixmesh::router {

class ConnectionGate : public std::enable_shared_from_this<ConnectionGate> {
 public:
  static constexpr int64_t kMaxShedding = 64;

  // open_gauge: radixmesh_client_connections (may be null in tests).
  ConnectionGate(uint64_t max_connections, std::shared_ptr<Gauge> open_gauge)
      : max_(static_cast<int64_t>(max_connections)), open_gauge_(std::move(open_gauge)) {}

  // One admitted connection; the slot is released when the ticket dies.
  class Ticket {
   public:
    Ticket() = default;
    explicit Ticket(std::shared_ptr<ConnectionGate> gate) : gate_(std::move(gate)) {}
    Ticket(Ticket&&) noexcept = default;
    Ticket& operator=(Ticket&& o) noexcept {
      reset();
      gate_ = std::move(o.gate_);
      return *this;
    }
    ~Ticket() { reset(); }
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    void reset() {
      if (gate_) gate_->leave();
      gate_.reset();
    }
    std::shared_ptr<ConnectionGate> gate_;
  };

  // A ticket, or an empty one when max_connections are open.
  Ticket try_enter() {
    if (open_.fetch_add(1, std::memory_order_relaxed) >= max_) {
      open_.fetch_sub(1, std::memory_order_relaxed);
      return Ticket{};
    }
    if (open_gauge_) open_gauge_->add(1);
    return Ticket{shared_from_this()};
  }

  // A refusal may be answered (true: call end_shed() after) or must be a
  // plain close (false).
  bool try_start_shed() {
    if (shedding_.fetch_add(1, std::memory_order_relaxed) >= kMaxShedding) {
      shedding_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void end_shed() { shedding_.fetch_sub(1, std::memory_order_relaxed); }

  int64_t open() const { return open_.load(std::memory_order_relaxed); }
  int64_t limit() const { return max_; }

 private:
  void leave() {
    open_.fetch_sub(1, std::memory_order_relaxed);
    if (open_gauge_) open_gauge_->sub(1);
  }

  const int64_t max_;
  std::shared_ptr<Gauge> open_gauge_;
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> shedding_{0};
};

}  // namespace radixmesh::router
