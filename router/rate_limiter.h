// Rate limits per API key: a token bucket per key, refilled at rps tokens a
// second up to burst; a request takes one token or gets 429 with a
// Retry-After of the time until the next token (whole seconds, at least 1).
//
// Fleet-wide meaning: N routers behind a Service with no stickiness each see
// about 1/N of a key's traffic, so each enforces rps/N and burst/N (burst at
// least 1), where N is the number of live mesh members (alive or suspect,
// this node included; 1 without a mesh). The fleet then admits about rps for
// the key whatever router each request lands on, without any per-request
// coordination. The price: a client that sticks to one router (keep-alive
// through an L4 balancer) gets rps/N there; docs/configuration.md says so.
// The member count is read at most once a second (it changes at gossip
// speed, not request speed).
//
// Limits per key: rps=/burst= from the key file, else the defaults
// (--rate-limit-rps, --rate-limit-burst; burst 0: one second of rps, at
// least 1). rps 0: no limit for that key.
//
// State: one bucket per key of the current key set (so bounded by
// ApiKeySet::kMaxKeys); the key store hands a reloaded set the buckets of
// the keys it keeps, so a reload neither resets nor leaks buckets.
//
// Threads: any. A bucket's state is one short mutex section per request;
// the member count is two relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

namespace radixmesh::router {

class TokenBucket {
 public:
  struct Verdict {
    bool allowed = true;
    int64_t retry_after_ms = 0;  // when denied: until one token is back
  };
  // rate > 0 tokens/s, burst >= 1. A new bucket starts full. rate and burst
  // may change between calls (the mesh grew): tokens are capped at burst.
  Verdict take(int64_t now_ms, double rate, double burst);

 private:
  std::mutex mu_;
  bool started_ = false;  // guarded by mu_
  double tokens_ = 0;     // guarded by mu_
  int64_t last_ms_ = 0;   // guarded by mu_
};

struct RateLimitDefaults {
  double rps = 0;    // 0: keys without rps= are not limited
  double burst = 0;  // 0: max(1, rps)
  bool operator==(const RateLimitDefaults&) const = default;
};

// The per-router share of a key's limits.
struct RateShare {
  double rate = 0;   // tokens per second on this router (0: unlimited)
  double burst = 0;  // bucket size on this router
};
RateShare share_of(double rps, double burst, size_t members);

// Caches the live member count (members_fn: any thread; null: 1).
class FleetSize {
 public:
  explicit FleetSize(std::function<size_t()> members_fn) : fn_(std::move(members_fn)) {}
  size_t get(int64_t now_ms);

 private:
  std::function<size_t()> fn_;
  std::atomic<int64_t> next_refresh_ms_{0};
  std::atomic<size_t> members_{1};
};

// Retry-After for a denial: whole seconds, rounded up, at least 1.
unsigned retry_after_seconds(int64_t retry_after_ms);

}  // namespace radixmesh::router
