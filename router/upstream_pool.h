// UpstreamPool: keep-alive connections to the workers, for one io thread.
//
// Each io thread owns one pool (connections are bound to that thread's
// io_context, so no locking and no cross-thread socket hand-off). Per worker
// the pool keeps idle connections (newest reused first; older than the
// keep-alive limit are closed) and counts open ones. At most `max_per_worker`
// connections to one worker are open at a time from this thread; acquire()
// waits for a released slot at most `max_wait` (short: a full pool means
// streams hold every slot, and waiting seconds helps nobody), then fails with
// kPoolExhausted (the caller tries another worker, then answers 503 with
// Retry-After). Leased connections are counted on the Worker
// (pool_leased()) across threads, for saturation on /readiness and metrics.
//
// Lease: an open connection lent to one exchange. Give it back with
// release(reusable = true) only after a complete response on a keep-alive
// connection; anything else (destruction, release(false)) closes it and frees
// the slot. A lease never spans more than its one exchange.
//
// Threads: a pool and its leases are used only on the owning io thread.
// The pool must outlive its io_context's coroutines (the composition root
// destroys io_contexts first).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "router/byte_stream.h"
#include "router/errors.h"
#include "router/net.h"
#include "router/worker.h"

namespace radixmesh::router {

class UpstreamPool {
  struct Bucket;

 public:
  struct Options {
    size_t max_per_worker = 64;  // open connections, this thread
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds max_wait{200};       // for a free slot when all are open
    std::chrono::milliseconds keepalive{30000};    // idle connections older are closed
    std::chrono::milliseconds resolve_ttl{30000};  // cache of the worker's addresses
    // Client context for https:// workers (owned by the composition root);
    // null: https workers fail to connect. A pooled TLS connection is reused
    // like a plain one (keep-alive over one handshake).
    ssl::context* tls = nullptr;
    bool operator==(const Options&) const = default;
  };

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) noexcept;
    ~Lease();
    ByteStream& stream() { return *stream_; }
    bool reused() const { return reused_; }
    explicit operator bool() const { return stream_ != nullptr; }
    // Returns the connection to the pool (reusable) or closes it.
    void release(bool reusable);

   private:
    friend class UpstreamPool;
    UpstreamPool* pool_ = nullptr;
    Bucket* bucket_ = nullptr;
    std::unique_ptr<ByteStream> stream_;
    bool reused_ = false;
  };

  UpstreamPool(net::any_io_executor executor, Options options);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // An idle connection to the worker if there is one (fresh = false), else a
  // new one (connected, and for https:// its TLS handshake done, within
  // connect_timeout; router/upstream_connect.h). Errors: kPoolExhausted,
  // kUpstreamTimeout (connect timeout), or the connect / handshake error_code.
  // fresh = true skips idle connections (retry after a stale one).
  awaitable<std::pair<error_code, Lease>> acquire(std::shared_ptr<Worker> worker,
                                                  bool fresh = false);

  // Closes idle connections past keep-alive and forgets removed workers.
  void prune();
  // Shutdown: closes idle connections, cancels leased ones and waiters;
  // acquire() fails from then on. Leases still out close when returned.
  void shutdown();
  size_t idle_count() const;
  size_t open_count() const;

 private:
  struct Idle {
    std::unique_ptr<ByteStream> stream;
    Clock::time_point since;
  };
  struct Bucket {
    explicit Bucket(net::any_io_executor ex) : waiters(ex) {}
    std::shared_ptr<Worker> worker;
    std::deque<Idle> idle;  // back = most recently used
    size_t open = 0;        // idle + leased
    size_t waiting = 0;
    net::steady_timer waiters;  // release() wakes one waiter with cancel_one()
    tcp::resolver::results_type endpoints;
    Clock::time_point resolved_at{};
  };
  Bucket& bucket_for(const std::shared_ptr<Worker>& worker);
  void give_back(Bucket& b, std::unique_ptr<ByteStream> stream, bool reusable);

  net::any_io_executor executor_;
  const Options options_;
  tcp::resolver resolver_;
  std::unordered_map<const Worker*, std::unique_ptr<Bucket>> buckets_;
  std::unordered_set<ByteStream*> leased_;  // for shutdown()
  bool closed_ = false;
};

}  // namespace radixmesh::router
