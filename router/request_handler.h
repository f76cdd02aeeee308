// RequestHandler: one parsed client request -> its response.
//
//   GET  /health              200 while the process serves (liveness)
//   GET  /readiness           200 when a healthy worker is known and the
//                             router is not shutting down, else 503
//   GET  /v1/models           the union of the workers' models (OpenAI list)
//   POST /v1/chat/completions, /v1/completions, /generate, /v1/embeddings,
//        /v1/responses        parsed, routed and proxied (router/proxy.h)
//   anything else             404 (unknown path) or 405 (known path, wrong
//                             method), as OpenAI-style JSON errors
//
// With --api-keys-file, every path but /health and /readiness first needs
// "Authorization: Bearer KEY" (401) and a token of the key's rate limit
// (429 + Retry-After); see router/api_key_store.h.
//
// Ownership: borrows everything (the composition root owns it); immutable
// after construction and shared by all io threads. Per-thread state comes in
// through IoThreadState, per-connection state through SessionState.
//
// Threads: handle() runs on the connection's io thread; safe concurrently.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "router/api_key_store.h"
#include "router/body_budget.h"
#include "router/byte_stream.h"
#include "router/client_limiter.h"
#include "router/data_plane_metrics.h"
#include "router/net.h"
#include "router/proxy.h"
#include "router/routing_engine.h"
#include "router/session_set.h"
#include "router/upstream_pool.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

// What one io thread owns. Members are used only on that thread.
struct IoThreadState {
  IoThreadState(net::any_io_executor ex, UpstreamPool::Options pool_options,
                radix::ParseLimits limits, uint64_t seed)
      : pool(ex, pool_options), watches(ex), scratch(limits, seed) {}
  UpstreamPool pool;
  WatchArmer watches;  // client watches armed only for exchanges that wait
  RoutingScratch scratch;
  SessionSet sessions;
};

// Per connection, reused across its keep-alive requests.
struct SessionState {
  explicit SessionState(BodyBudget* budget = nullptr) : body_reservation(budget) {}
  PreparedRequest prepared;
  ExchangeBuffers buffers;
  // A body's storage between requests (http_session.cc): kept at its last
  // size so the next body of similar size is neither allocated nor
  // zero-filled; given back when it grew past kKeepBodyBytes or when the
  // body budget is more than half spent.
  std::string request_body;
  static constexpr size_t kKeepBodyBytes = 64 * 1024;  // per idle connection, at most
  // request_body's storage, reserved in the process-wide body budget; given
  // back when the storage is freed or the connection closes.
  BodyReservation body_reservation;
  std::optional<net::ip::address> peer;  // the client's address, looked up once
  std::string peer_text;                 // the same as text ("" when unknown)
};

struct HandlerOptions {
  std::string session_header = "X-Session-Id";
  // Proxied requests in flight per client address at most (0: no cap); over
  // it 429 too_many_requests_per_client (router/client_limiter.h).
  size_t max_requests_per_client = 0;
  // Upstream connections per worker, process-wide (--pool-size): /readiness
  // answers 503 upstream_pool_exhausted while every routable worker has all
  // of them lent out. 0: not checked.
  size_t pool_limit_per_worker = 0;
  // --api-keys-file (router/api_key_store.h); null: no authentication. With
  // it every data-plane request but /health and /readiness needs a known
  // bearer key (401) and takes a token of its bucket (429).
  const ApiKeyStore* api_keys = nullptr;
  // PD mode: the decode pool (the handler's registry is the prefill pool);
  // /readiness needs a routable worker in both. Null: one pool.
  const WorkerRegistry* decode_registry = nullptr;
  // With api_keys: keep the client's Authorization header on the proxied
  // request (--forward-authorization); else it is removed.
  bool forward_authorization = false;
  bool operator==(const HandlerOptions&) const = default;
};

// Process-wide state the handler reads and the shutdown sequence writes.
struct ServerState {
  std::atomic<bool> draining{false};        // shutting down: readiness 503, no keep-alive
  std::atomic<int64_t> active_requests{0};  // requests between read and response end
};

class RequestHandler {
 public:
  RequestHandler(const RoutingEngine& engine, const Proxy& proxy, const WorkerRegistry& registry,
                 DataPlaneMetrics* metrics, ServerState& state, HandlerOptions options);

  // Writes the response. Returns whether the connection may serve another
  // request (keep-alive and no write error).
  awaitable<bool> handle(ByteStream& stream, http::request<http::string_body>& request,
                         IoThreadState& thread, SessionState& session) const;

  // The /v1/models body: {"object":"list","data":[{"id":..,"object":"model",..}]}.
  static std::string models_body(const RegistrySnapshot& snapshot);
  // True when at least one registered worker is routable now.
  static bool any_routable(const RegistrySnapshot& snapshot, int64_t now_ms);
  // True when some routable worker exists and every one has `pool_limit`
  // upstream connections lent out (pool_limit 0: never).
  static bool all_pools_saturated(const RegistrySnapshot& snapshot, int64_t now_ms,
                                  size_t pool_limit);

 private:
  const RoutingEngine& engine_;
  const Proxy& proxy_;
  const WorkerRegistry& registry_;
  DataPlaneMetrics* metrics_;
  ServerState& state_;
  const HandlerOptions options_;
  std::unique_ptr<ClientLimiter> clients_;  // internally synchronised
};

}  // namespace radixmesh::router
