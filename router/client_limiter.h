// ClientLimiter: at most N proxied requests in flight per client address
// (--max-requests-per-client), process-wide.
//
// A client that opens streams and never reads them holds an upstream
// connection per stream until the stall deadline; without a per-address cap
// one host can take every pooled connection to every worker. The cap counts
// every proxied request (streamed or not: a response the client does not
// read holds its connection just the same) from routing to response end.
// Over it the request gets 429 too_many_requests_per_client. Keyed by the
// TCP peer address, never by X-Forwarded-For (which the client writes).
//
// Behind an L7 load balancer every request has the balancer's address: raise
// the cap or turn it off (0) there.
//
// Memory: one map entry per address with a request in flight (removed at
// zero), so entries <= requests in flight <= --max-connections.
//
// Threads: any; one short mutex section per acquire and per release (never
// held across I/O).
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "router/net.h"

namespace radixmesh::router {

class ClientLimiter {
 public:
  // max_per_client 0: no cap (acquire always succeeds, no bookkeeping).
  explicit ClientLimiter(size_t max_per_client) : max_(max_per_client) {}
  ClientLimiter(const ClientLimiter&) = delete;
  ClientLimiter& operator=(const ClientLimiter&) = delete;

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept
        : limiter_(o.limiter_), address_(o.address_), held_(o.held_), ok_(o.ok_) {
      o.held_ = false;
    }
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        if (held_ && limiter_) limiter_->release(address_);
        limiter_ = o.limiter_;
        address_ = o.address_;
        held_ = o.held_;
        ok_ = o.ok_;
        o.held_ = false;
      }
      return *this;
    }
    ~Slot() {
      if (held_ && limiter_) limiter_->release(address_);
    }
    // False when the client was over its cap.
    bool ok() const { return ok_; }

   private:
    friend class ClientLimiter;
    ClientLimiter* limiter_ = nullptr;
    net::ip::address address_;
    bool held_ = false;  // counted: release on destruction
    bool ok_ = true;
  };

  Slot acquire(const net::ip::address& address);
  size_t in_flight(const net::ip::address& address) const;
  size_t max_per_client() const { return max_; }

 private:
  void release(const net::ip::address& address);

  struct Hash {
    size_t operator()(const net::ip::address& a) const;
  };
  const size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<net::ip::address, size_t, Hash> counts_;  // guarded by mu_
};

}  // namespace radixmesh::router
