// MetricsPoller: reads each worker's own load from its GET /metrics.
//
// One loop per worker (spawned when the worker is added, ending when it is
// removed or the poller stops), every `interval`: GET /metrics on the loop's
// own keep-alive connection (never the proxy's pool, so a poll never takes a
// slot a request could use, and no lock is held across it), the body bounded
// by `max_body_bytes` and the whole exchange by `timeout`. The body is parsed
// (router/worker_load.h: vLLM and SGLang names, one Prometheus text parser)
// and the result published into the Worker's hot state as one atomic word
// (Worker::publish_load), which routing reads without waiting for anything.
//
// A failed poll (refused, timeout, non-200, body too large, no load gauge)
// publishes nothing: the last report ages, and after `stale_after` the
// routing engine ignores it (load = the routers' in-flight counts again).
// Results are counted per worker in radixmesh_worker_load_scrapes_total.
//
// Threads: the loops run on the executor given at construction. watch() and
// stop() may be called from any thread (they post to it).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <unordered_set>

#include "router/byte_stream.h"
#include "router/data_plane_metrics.h"
#include "router/log.h"
#include "router/net.h"
#include "router/worker.h"

namespace radixmesh::router {

class MetricsPoller {
 public:
  struct Options {
    std::chrono::milliseconds interval{500};
    std::chrono::milliseconds timeout{500};
    size_t max_body_bytes = 4 << 20;
    // A report older than this is ignored (a few missed polls).
    std::chrono::milliseconds stale_after{2000};
    ssl::context* tls = nullptr;  // for https:// workers (router/upstream_connect.h)
    bool operator==(const Options&) const = default;
  };

  // The staleness window the engine should use for `interval`:
  // three missed polls plus one timeout.
  static std::chrono::milliseconds stale_window(std::chrono::milliseconds interval,
                                                std::chrono::milliseconds timeout) {
    return 3 * interval + timeout;
  }

  MetricsPoller(net::any_io_executor executor, Options options, DataPlaneMetrics* metrics,
                const Logger& log);

  void watch(std::shared_ptr<Worker> worker);
  void stop();

 private:
  enum class Outcome { kOk, kNoLoadMetrics, kHttpError, kNetworkError, kTooLarge };
  static std::string_view label(Outcome o);
  awaitable<void> loop(std::shared_ptr<Worker> worker);
  awaitable<Outcome> poll(Worker& worker, std::unique_ptr<ByteStream>& stream,
                          beast::flat_buffer& buffer);

  net::any_io_executor executor_;
  const Options options_;
  DataPlaneMetrics* metrics_;
  const Logger& log_;
  bool stopped_ = false;                           // executor thread only
  std::unordered_set<net::steady_timer*> timers_;  // executor thread only
  std::unordered_set<ByteStream*> connections_;    // executor thread only
};

}  // namespace radixmesh::router
