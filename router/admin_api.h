// AdminApi: the admin endpoints as a function AdminRequest -> AdminResponse.
//
//   GET    /metrics                      Prometheus text 0.0.4
//   GET    /admin/status                 node, version, uptime, policy, models, workers, peers
//   GET    /admin/workers                every worker with health, load, breaker, models
//   POST   /admin/workers                {"url": ...}             add
//   DELETE /admin/workers?url=U                                   remove (erased from trees)
//   POST   /admin/workers/drain          {"url": ..., "drain": true|false}
//   GET    /admin/peers                  mesh peers ([] without a mesh)
//   GET    /admin/trees[?model=M]        stats per model
//   GET    /admin/trees/top?model=M&n=N  hottest prefixes
//   GET    /admin/trees/dump?model=M&max_nodes=K   nested tree, bounded
//   POST   /admin/route/explain?endpoint=chat|completions|generate|responses
//                                        dry run of the routing decision
//   GET    /admin/snapshot?model=M       binary snapshot (application/octet-stream)
//   GET    /admin/memory                 memory broker pressure, tier, pools
// Full shapes: docs/admin-api.md.
//
// Authentication: when a token is configured, every endpoint (including
// /metrics) requires "Authorization: Bearer <token>"; the comparison takes
// the same time whatever the mismatch. Without a token, requests that carry
// an Origin (403) or a non-loopback Host (421, DNS rebinding) are refused;
// POST and DELETE with a body must be application/json (415), so a web page
// cannot drive the API cross-site. Errors: {"error": {...}} with 400, 401,
// 403, 404, 405, 413, 415, 421, 503.
//
// Ownership: borrows everything in AdminContext (the composition root owns
// it and outlives the AdminApi). Threads: handle() is safe from any thread;
// explain serialises on a mutex of its own (one RoutingScratch), every other
// handler relies on the thread safety of what it reads. No handler does I/O.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/admin_http.h"
#include "router/config.h"
#include "router/metrics.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

struct AdminContext {
  const RouterConfig* config = nullptr;  // required
  std::string version;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  WorkerRegistry* registry = nullptr;           // required
  radix::TreeCatalog* trees = nullptr;          // required
  radix::WorkerDirectory* directory = nullptr;  // required
  radix::MemoryBroker* broker = nullptr;        // optional: /admin/memory answers 503
  MetricsRegistry* metrics = nullptr;           // optional: /metrics answers 503
  const RoutingEngine* engine = nullptr;        // optional: explain answers 503
  // PD mode (router/pd_routing.h): `registry` and `engine` are the prefill
  // pool's, these the decode pool's. Null otherwise.
  WorkerRegistry* decode_registry = nullptr;
  const RoutingEngine* decode_engine = nullptr;
  // The mesh's peer list as a JSON array; empty function: no mesh ([]).
  std::function<nlohmann::json()> peers;
  // Runs before /metrics renders: refreshes gauges that are read from live
  // state (in-flight, health, breaker per worker). Optional.
  std::function<void()> before_scrape;
};

class AdminApi {
 public:
  // token: the bearer token required on every request ("" = none).
  AdminApi(AdminContext context, std::string token);
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  AdminResponse handle(const AdminRequest& request) const;

  // Limits of the bounded endpoints.
  static constexpr size_t kDefaultTopN = 20;
  static constexpr size_t kMaxTopN = 1000;
  static constexpr size_t kDefaultDumpNodes = 1000;
  static constexpr size_t kMaxDumpNodes = 100000;
  static constexpr size_t kTopScanNodes = 200000;  // nodes a top query may visit

 private:
  bool authorized(const AdminRequest& request) const;
  // 403 for an Origin and 421 for a non-loopback Host when no token is set
  // (docs/admin-api.md, "Cross-site requests").
  std::optional<AdminResponse> refuse_cross_site(const AdminRequest& request) const;
  // 415 unless a POST (or a DELETE with a body) is application/json; run for
  // known routes only, so wrong methods stay 405 and unknown paths 404.
  static std::optional<AdminResponse> refuse_media_type(const AdminRequest& request);
  AdminResponse dispatch(const AdminRequest& request, const Target& target) const;

  AdminResponse metrics() const;
  AdminResponse status() const;
  AdminResponse peers() const;
  AdminResponse memory() const;
  AdminResponse list_workers() const;
  AdminResponse add_worker(const AdminRequest& request) const;
  AdminResponse remove_worker(const Target& target) const;
  AdminResponse drain_worker(const AdminRequest& request) const;
  AdminResponse trees(const Target& target) const;
  AdminResponse trees_top(const Target& target) const;
  AdminResponse trees_dump(const Target& target) const;
  AdminResponse snapshot(const Target& target) const;
  AdminResponse explain(const AdminRequest& request, const Target& target) const;

  // The model's tree, or a 400/404 response (model required when several exist).
  Result<std::shared_ptr<radix::PrefixTree>> tree_for(const Target& target, bool required) const;
  // tree_for's error as a response: 404 model_not_found or 400 bad_query.
  static AdminResponse tree_error(const Error& e);
  // `pool`: the registry holding `worker`.
  nlohmann::json worker_json(const Worker& worker, const WorkerRegistry& pool, int64_t now) const;
  // "worker" (one pool), "prefill" or "decode".
  std::string_view role_of(const WorkerRegistry& pool) const;
  // The pool holding `url`; null when none does.
  WorkerRegistry* pool_of(const std::string& url) const;
  static nlohmann::json explanation_json(const RoutingEngine& engine, const Explanation& ex);
  // {"waiting", "running", "kv_usage", "age_ms"} of the worker's fresh
  // /metrics report, or null.
  nlohmann::json reported_load_json(const Worker& worker, int64_t now) const;
  // The worker's tenant budget: the capacity estimate, at most the ceiling
  // (--max-blocks-per-worker); 0 without an engine.
  size_t budget_blocks(const Worker& worker) const;

  AdminContext ctx_;
  const std::string token_;
  mutable std::mutex explain_mu_;
  std::unique_ptr<RoutingScratch> scratch_;  // guarded by explain_mu_
};

}  // namespace radixmesh::router
