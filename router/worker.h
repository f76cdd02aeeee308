// Worker: one upstream inference server as the data plane sees it.
//
// Identity (url, host, port, id) is immutable after construction. Live state
// (health, drain, removal, in-flight count, breaker) is atomic and read by
// every io thread without a lock; the set of models a worker serves lives in
// the registry's snapshot (router/worker_registry.h), not here.
//
// Ownership: the registry creates Workers and hands out shared_ptr<Worker>;
// an exchange in flight keeps its worker alive through its InFlightGuard even
// after the worker is removed from the registry.
//
// Layout: the live state every routing decision reads for every candidate
// (health, drain, removal, in-flight, reported load, the breaker's state) sits
// together at the start of the object, which is cache-line aligned, so a scan
// over 1,000 workers touches one line per worker.
//
// Threads: all members are safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "radix/block_hash_types.h"
#include "radix/result.h"
#include "router/circuit_breaker.h"
#include "router/worker_load.h"

namespace radixmesh::router {

// "http[s]://host:port[/]" split into the parts a connection needs. https:
// the router speaks TLS to the worker (router/upstream_connect.h).
struct WorkerAddress {
  std::string url;          // normalised: http://host:port or https://host:port
  std::string host;         // host name or address (IPv6 without brackets)
  std::string port;         // decimal
  std::string host_header;  // what goes in Host: host:port (IPv6 bracketed)
  bool tls = false;         // https://
};

// Parses and normalises a worker URL: scheme http or https, a host, an
// optional port (default 80 / 443), no path beyond "/". kInvalidArgument
// otherwise. The one worker URL parser: flags, files, discovery and the
// admin API all go through it.
Result<WorkerAddress> parse_worker_url(std::string_view url);

class alignas(64) Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(radix::WorkerId id, WorkerAddress address, CircuitBreaker::Options breaker);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  radix::WorkerId id() const { return id_; }
  const std::string& url() const { return address_.url; }
  const WorkerAddress& address() const { return address_; }

  // Health, from the active checker (and passive connect failures).
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  void set_healthy(bool h) { healthy_.store(h, std::memory_order_relaxed); }
  // Draining: takes no new requests, finishes those in flight.
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  void set_draining(bool d) { draining_.store(d, std::memory_order_relaxed); }
  // Removed from the registry: never routable again; its health loop exits.
  bool removed() const { return removed_.load(std::memory_order_relaxed); }
  void mark_removed() { removed_.store(true, std::memory_order_relaxed); }

  // Routable now: healthy, not drained or removed, breaker admits requests.
  bool routable(int64_t now_ms) const {
    return healthy() && !draining() && !removed() && breaker_.allows(now_ms);
  }

  // Requests this router has in flight to the worker (see InFlightGuard).
  uint32_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  void add_in_flight() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void sub_in_flight() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  // +1 unless `cap` are in flight already (--max-in-flight-per-worker): a
  // compare-exchange, so concurrent threads never take the count over cap.
  bool try_add_in_flight(uint32_t cap) {
    uint32_t n = in_flight_.load(std::memory_order_relaxed);
    while (n < cap) {
      if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  // Upstream connections to the worker lent to exchanges now, over every io
  // thread's pool (router/upstream_pool.h): pool saturation for /readiness
  // and metrics.
  uint32_t pool_leased() const { return pool_leased_.load(std::memory_order_relaxed); }
  void add_pool_lease() { pool_leased_.fetch_add(1, std::memory_order_relaxed); }
  void sub_pool_lease() { pool_leased_.fetch_sub(1, std::memory_order_relaxed); }

  // Worker-reported load from its /metrics (router/metrics_poller.h). One
  // 64-bit word holds waiting, running and KV usage, so a reader never sees
  // parts of two scrapes; the time of the scrape is stored beside it.
  // load_report() answers nullopt when nothing was published or the report is
  // older than `stale_after_ms` at `now_ms` (the poller stopped reaching it).
  void publish_load(const WorkerLoad& load, int64_t at_ms);
  void clear_load() { load_word_.store(0, std::memory_order_release); }
  std::optional<WorkerLoad> load_report(int64_t now_ms, int64_t stale_after_ms) const;
  int64_t load_report_at_ms() const { return load_at_ms_.load(std::memory_order_relaxed); }

  // The cache feedback found that the worker had evicted prompts the tree
  // said it held (router/cache_feedback.h, kTrimmed). A worker that evicts
  // has a full cache: a new shared prefix sent there pushes out someone
  // else's (policies::WorkerView::evicting). It counts as evicting for
  // kEvictingForMs after the last trim: a full cache evicts on most requests,
  // so under pressure the mark never lapses, and a worker whose traffic moved
  // elsewhere takes new prefixes again 10 s later.
  static constexpr int64_t kEvictingForMs = 10'000;
  void note_cache_trim(int64_t at_ms) { trimmed_at_ms_.store(at_ms, std::memory_order_relaxed); }
  bool evicting(int64_t now_ms) const {
    const int64_t t = trimmed_at_ms_.load(std::memory_order_relaxed);
    return t != 0 && now_ms - t < kEvictingForMs;
  }

  CircuitBreaker& breaker() { return breaker_; }
  const CircuitBreaker& breaker() const { return breaker_; }

  // Set once the worker was seen to change its stream when the router asked
  // it for usage (router/stream_usage.h): the router stops asking it.
  bool stream_usage_off() const { return stream_usage_off_.load(std::memory_order_relaxed); }
  // True for the call that turned it off (to log and count it once).
  bool turn_stream_usage_off() {
    return !stream_usage_off_.exchange(true, std::memory_order_relaxed);
  }

 private:
  const radix::WorkerId id_;
  std::atomic<bool> healthy_{false};  // unknown until the first check
  std::atomic<bool> draining_{false};
  std::atomic<bool> removed_{false};
  std::atomic<uint32_t> in_flight_{0};
  std::atomic<uint64_t> load_word_{0};  // 0: nothing reported
  std::atomic<int64_t> load_at_ms_{0};
  std::atomic<int64_t> trimmed_at_ms_{0};
  CircuitBreaker breaker_;  // its hot atomics come first
  std::atomic<uint32_t> pool_leased_{0};
  std::atomic<bool> stream_usage_off_{false};
  const WorkerAddress address_;
};

}  // namespace radixmesh::router
