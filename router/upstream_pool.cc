#include "router/upstream_pool.h"

#include <boost/asio/connect.hpp>

#include "router/fd_budget.h"
#include "router/upstream_connect.h"

namespace radixmesh::router {

UpstreamPool::Lease::Lease(Lease&& o) noexcept
    : pool_(o.pool_), bucket_(o.bucket_), stream_(std::move(o.stream_)), reused_(o.reused_) {
  o.pool_ = nullptr;
  o.bucket_ = nullptr;
}

UpstreamPool::Lease& UpstreamPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release(false);
    pool_ = o.pool_;
    bucket_ = o.bucket_;
    stream_ = std::move(o.stream_);
    reused_ = o.reused_;
    o.pool_ = nullptr;
    o.bucket_ = nullptr;
  }
  return *this;
}

UpstreamPool::Lease::~Lease() {
  release(false);
}

void UpstreamPool::Lease::release(bool reusable) {
  if (!stream_ || !pool_) return;
  pool_->give_back(*bucket_, std::move(stream_), reusable);
  pool_ = nullptr;
  bucket_ = nullptr;
}

UpstreamPool::UpstreamPool(net::any_io_executor executor, Options options)
    : executor_(executor), options_(options), resolver_(executor) {}

UpstreamPool::~UpstreamPool() = default;

UpstreamPool::Bucket& UpstreamPool::bucket_for(const std::shared_ptr<Worker>& worker) {
  auto& slot = buckets_[worker.get()];
  if (!slot) {
    slot = std::make_unique<Bucket>(executor_);
    slot->worker = worker;
  }
  return *slot;
}

void UpstreamPool::give_back(Bucket& b, std::unique_ptr<ByteStream> stream, bool reusable) {
  leased_.erase(stream.get());
  b.worker->sub_pool_lease();
  if (reusable && !closed_ && !b.worker->removed() && stream->socket().is_open()) {
    stream->expires_never();
    b.idle.push_back(Idle{std::move(stream), Clock::now()});
  } else {
    error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    --b.open;
  }
  if (b.waiting > 0) b.waiters.cancel_one();
}

awaitable<std::pair<error_code, UpstreamPool::Lease>> UpstreamPool::acquire(
    std::shared_ptr<Worker> worker, bool fresh) {
  if (closed_) co_return std::pair{make_error_code(RouterErrc::kShuttingDown), Lease{}};
  Bucket& b = bucket_for(worker);
  const auto wait_deadline = Clock::now() + options_.max_wait;
  Lease lease;
  lease.pool_ = this;
  lease.bucket_ = &b;

  for (;;) {
    // Reuse the most recently used idle connection still within keep-alive.
    while (!b.idle.empty()) {
      Idle idle = std::move(b.idle.back());
      b.idle.pop_back();
      if (fresh || Clock::now() - idle.since > options_.keepalive ||
          !idle.stream->socket().is_open()) {
        idle.stream->close();
        --b.open;
        continue;
      }
      lease.stream_ = std::move(idle.stream);
      lease.reused_ = true;
      leased_.insert(lease.stream_.get());
      worker->add_pool_lease();
      co_return std::pair{error_code{}, std::move(lease)};
    }
    if (b.open < options_.max_per_worker) break;
    if (Clock::now() >= wait_deadline) {
      lease.pool_ = nullptr;
      co_return std::pair{make_error_code(RouterErrc::kPoolExhausted), Lease{}};
    }
    // Wait for a release (cancel_one) or the wait deadline.
    ++b.waiting;
    b.waiters.expires_at(wait_deadline);
    co_await b.waiters.async_wait(use_tuple);
    --b.waiting;
    if (closed_) {
      lease.pool_ = nullptr;
      co_return std::pair{make_error_code(RouterErrc::kShuttingDown), Lease{}};
    }
  }

  // A new connection: count it first so concurrent acquirers respect the cap.
  ++b.open;
  if (b.endpoints.empty() || Clock::now() - b.resolved_at > options_.resolve_ttl) {
    const auto& a = worker->address();
    auto [ec, results] = co_await resolver_.async_resolve(a.host, a.port, use_tuple);
    if (ec) {
      --b.open;
      lease.pool_ = nullptr;
      co_return std::pair{ec, Lease{}};
    }
    b.endpoints = std::move(results);
    b.resolved_at = Clock::now();
  }
  ConnectResult c = co_await connect_worker(executor_, b.endpoints, worker->address(), options_.tls,
                                            options_.connect_timeout);
  if (c.ec) {
    --b.open;
    if (b.waiting > 0) b.waiters.cancel_one();
    lease.pool_ = nullptr;
    // Out of descriptors here: the caller must not blame the worker.
    if (is_local_resource_error(c.ec)) co_return std::pair{c.ec, Lease{}};
    b.resolved_at = {};  // re-resolve next time: the address may have moved
    co_return std::pair{
        c.ec == beast::error::timeout ? make_error_code(RouterErrc::kUpstreamTimeout) : c.ec,
        Lease{}};
  }
  std::unique_ptr<ByteStream> stream = std::move(c.stream);
  lease.stream_ = std::move(stream);
  lease.reused_ = false;
  leased_.insert(lease.stream_.get());
  worker->add_pool_lease();
  co_return std::pair{error_code{}, std::move(lease)};
}

void UpstreamPool::prune() {
  const auto now = Clock::now();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Bucket& b = *it->second;
    const bool gone = b.worker->removed();
    while (!b.idle.empty() && (gone || now - b.idle.front().since > options_.keepalive)) {
      b.idle.front().stream->close();
      b.idle.pop_front();
      --b.open;
    }
    if (gone && b.open == 0 && b.waiting == 0) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

void UpstreamPool::shutdown() {
  closed_ = true;
  for (auto& [w, b] : buckets_) {
    for (auto& idle : b->idle) idle.stream->close();
    b->open -= b->idle.size();
    b->idle.clear();
    b->waiters.cancel();
  }
  for (auto* s : leased_) s->cancel();
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [w, b] : buckets_) n += b->idle.size();
  return n;
}

size_t UpstreamPool::open_count() const {
  size_t n = 0;
  for (const auto& [w, b] : buckets_) n += b->open;
  return n;
}

}  // namespace radixmesh::router
