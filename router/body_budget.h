// BodyBudget: the process-wide cap on memory held by client request bodies.
//
// Every request body the data plane reads lives in a std::string whose
// capacity grows as bytes arrive (router/body_reader.h), never to the
// declared Content-Length up front. Before a body's storage grows, its
// session reserves the extra capacity here; when the reservation would pass
// the limit the request is refused (503 request_body_budget_exhausted) and
// counted. The reservation is given back when the storage is freed (the
// request ends or the connection closes), so the budget bounds the bytes
// that bodies actually occupy, whatever their declared lengths.
//
// It is a radix::MemoryPool registered with the MemoryBroker: its bytes
// count toward the process's memory pressure (so a burst of large bodies
// makes the broker relieve the trees) and it is listed in /admin/memory and
// radixmesh_memory_pool_bytes{pool="request_bodies"}. It cannot be relieved
// (a body being read or served cannot be dropped): relievable() is false,
// and the broker leaves it out of fair shares and relief.
//
// Threads: every method is thread-safe (atomics); BodyReservation is owned
// by one session and used on its io thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "radix/memory_pool.h"

namespace radixmesh::router {

class BodyBudget final : public radix::MemoryPool {
 public:
  explicit BodyBudget(size_t limit_bytes) : limit_(limit_bytes) {}

  // Adds n to the reserved bytes if the total stays within the limit.
  bool try_reserve(size_t n);
  void release(size_t n);
  // One refused request (try_reserve failed and the request was answered 503).
  void count_exhausted() { exhausted_.fetch_add(1, std::memory_order_relaxed); }

  size_t limit() const { return limit_; }
  size_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
  uint64_t exhausted() const { return exhausted_.load(std::memory_order_relaxed); }

  // radix::MemoryPool
  size_t bytes() const override { return reserved(); }
  size_t relieve(size_t) override { return 0; }
  bool relievable() const override { return false; }
  std::string_view pool_name() const override { return "request_bodies"; }

 private:
  const size_t limit_;
  std::atomic<size_t> reserved_{0};
  std::atomic<uint64_t> exhausted_{0};
};

// One session's share of the budget: the bytes its body storage holds.
// Grows with the storage, shrinks when it is freed, gives everything back
// when destroyed (the connection closed). budget == nullptr: unlimited.
class BodyReservation {
 public:
  explicit BodyReservation(BodyBudget* budget) : budget_(budget) {}
  ~BodyReservation() { set(0); }
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;

  // Makes the reservation exactly `bytes`. Growing may fail (budget spent:
  // nothing changes, returns false); shrinking always succeeds.
  bool set(size_t bytes);
  size_t bytes() const { return bytes_; }
  BodyBudget* budget() const { return budget_; }

 private:
  BodyBudget* const budget_;
  size_t bytes_ = 0;
};

}  // namespace radixmesh::router
