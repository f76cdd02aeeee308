// HealthChecker: active health checks and model discovery for every worker.
//
// One loop per worker (spawned when the worker is added, ending when it is
// removed or the checker stops), every interval: GET /health on a fresh
// connection (status 200 = healthy), then, when healthy, GET /v1/models to
// refresh the models it serves (a 404 there makes it a wildcard worker that
// takes any model). The first check runs immediately, so a router is ready as
// soon as one worker answers. Health changes are logged once per transition.
// Passive failures (connect refused while proxying) mark a worker unhealthy
// at once; the next passing check brings it back. The circuit breaker is
// separate: only real requests open and close it.
//
// A check that cannot even open its socket (EMFILE, ENFILE: this process is
// out of descriptors) leaves the worker's health unchanged: a local shortage
// is never blamed on the workers. Such skipped checks are logged once per
// burst.
//
// Each check is bounded by `timeout` (connect + request + response, response
// body at most 1 MiB). Checks never use the proxy's connection pool.
//
// Threads: the loops run on the executor given at construction. watch() and
// stop() may be called from any thread (they post to it).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "router/byte_stream.h"
#include "router/data_plane_metrics.h"
#include "router/error_burst.h"
#include "router/log.h"
#include "router/net.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

// The model ids in an OpenAI /v1/models body; nullopt-like false when the
// body is not that shape.
bool parse_models_body(std::string_view body, std::vector<std::string>& out);

class HealthChecker {
 public:
  struct Options {
    std::chrono::milliseconds interval{2000};
    std::chrono::milliseconds timeout{2000};
    ssl::context* tls = nullptr;  // for https:// workers (router/upstream_connect.h)
    bool operator==(const Options&) const = default;
  };

  HealthChecker(net::any_io_executor executor, WorkerRegistry& registry, Options options,
                DataPlaneMetrics* metrics, const Logger& log);

  void watch(std::shared_ptr<Worker> worker);
  void stop();

 private:
  awaitable<void> loop(std::shared_ptr<Worker> worker);
  awaitable<void> check(std::shared_ptr<Worker> worker);

  net::any_io_executor executor_;
  WorkerRegistry& registry_;
  const Options options_;
  DataPlaneMetrics* metrics_;
  const Logger& log_;
  bool stopped_ = false;                           // executor thread only
  std::unordered_set<net::steady_timer*> timers_;  // executor thread only
  ErrorBurst local_errors_{"health checks skipped (local descriptor shortage)"};  // executor thread
};

}  // namespace radixmesh::router
