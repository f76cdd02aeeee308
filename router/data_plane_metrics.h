// DataPlaneMetrics: the request path's metric handles, resolved once.
//
// Wraps the RouterMetrics families (router/metrics_catalog.h) with handles
// resolved at start-up for every endpoint and the common statuses, so the
// per-request cost is a few relaxed atomic adds and no family lookup. Adds
// the routing decision-time histogram (radixmesh_routing_decision_seconds:
// hash excluded; match + policy + insert, in seconds, 1 µs .. 100 ms).
//
// Threads: every method is safe from any thread.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "policies/policy.h"
#include "router/metrics_catalog.h"

namespace radixmesh::router {

class Worker;
struct WorkerLoad;

// The endpoint label of a request.
enum class RouteKind : uint8_t {
  kChat,
  kCompletions,
  kGenerate,
  kEmbeddings,
  kResponses,
  kModels,
  kHealth,
  kReadiness,
  kOther,
  kCount,
};
std::string_view to_label(RouteKind kind);

// Why a response ended before its end after its header went out.
enum class Incomplete : uint8_t {
  kNone,
  kUpstreamReset,    // the worker closed or reset mid-body
  kUpstreamTimeout,  // the worker stalled past --idle-timeout-ms mid-body
  kClientGone,       // the client left mid-body
  kCutByRouter,      // --max-stream-duration-ms or --max-response-bytes cut it
  kCount,
};
std::string_view to_label(Incomplete reason);

class DataPlaneMetrics {
 public:
  DataPlaneMetrics(MetricsRegistry& registry, RouterMetrics& families, std::string policy_name);

  // A request answered: radixmesh_requests_total{endpoint,status}. A
  // response cut after its header by the worker side (kUpstreamReset,
  // kUpstreamTimeout) counts as status="incomplete", not as the status its
  // header carried; every cut one also counts in
  // radixmesh_requests_incomplete_total{endpoint,reason}.
  void request_done(RouteKind kind, unsigned status, double seconds,
                    Incomplete incomplete = Incomplete::kNone);
  void first_byte(RouteKind kind, double seconds);
  void retry(RouteKind kind);
  void upstream_error(const Worker& worker, std::string_view kind);
  void decision(policies::Reason reason, double seconds);
  // Per-worker gauges (in flight, healthy, breaker), refreshed by the health
  // checker; forget() drops a removed worker's series.
  void refresh_worker(const Worker& worker, int64_t now_ms);
  void forget_worker(const Worker& worker);
  // Upstream connections per worker at most, process-wide (pool gauges).
  void set_pool_limit(size_t limit) { pool_limit_ = limit; }
  // A response the router cut off mid-body ("client_stall", ...).
  void stream_aborted(std::string_view reason);
  // A stream the router asked for usage (router/stream_usage.h), by result.
  enum class StreamUsage : uint8_t { kDropped, kNotReported, kWorkerOff, kCount };
  void stream_usage(StreamUsage result) { stream_usage_[static_cast<size_t>(result)]->inc(); }
  // One leg of a PD request (router/pd_routing.h).
  enum class PdRole : uint8_t { kPrefill, kDecode, kCount };
  enum class PdOutcome : uint8_t { kOk, kFailed, kRefused, kCancelled, kBypassed, kCount };
  void pd_leg(PdRole role, PdOutcome outcome) {
    pd_legs_[static_cast<size_t>(role)][static_cast<size_t>(outcome)]->inc();
  }
  // A request refused because its client address had too many in flight.
  void client_limited() { client_limited_->inc(); }
  // The worker's reported load gauges (null: remove them, the report is
  // stale or gone), and the outcome of one /metrics scrape.
  void worker_load(const Worker& worker, const WorkerLoad* load);
  void load_scrape(const Worker& worker, std::string_view result);
  void load_scrape_malformed(const Worker& worker, size_t lines);

  RouterMetrics& families() { return families_; }

 private:
  static constexpr unsigned kStatuses[] = {200, 400, 404, 405, 413, 429, 500, 502, 503, 504};
  static constexpr size_t kNumStatuses = std::size(kStatuses);
  static constexpr size_t kKinds = static_cast<size_t>(RouteKind::kCount);
  static constexpr size_t kReasons = static_cast<size_t>(policies::Reason::kNoCandidates) + 1;

  RouterMetrics& families_;
  const std::string policy_;
  std::array<std::array<std::shared_ptr<Counter>, kNumStatuses>, kKinds> requests_;
  std::array<std::shared_ptr<Histogram>, kKinds> latency_;
  std::array<std::shared_ptr<Histogram>, kKinds> ttft_;
  std::array<std::shared_ptr<Counter>, kKinds> retries_;
  static constexpr size_t kIncompleteReasons = static_cast<size_t>(Incomplete::kCount);
  std::array<std::shared_ptr<Counter>, kKinds> requests_incomplete_status_;  // status="incomplete"
  std::array<std::array<std::shared_ptr<Counter>, kIncompleteReasons>, kKinds> incomplete_;
  std::array<std::shared_ptr<Counter>, kReasons> decisions_;
  std::shared_ptr<Histogram> decision_seconds_;
  std::shared_ptr<Counter> client_limited_;
  std::array<std::shared_ptr<Counter>, static_cast<size_t>(StreamUsage::kCount)> stream_usage_;
  std::array<std::array<std::shared_ptr<Counter>, static_cast<size_t>(PdOutcome::kCount)>,
             static_cast<size_t>(PdRole::kCount)>
      pd_legs_;
  size_t pool_limit_ = 0;  // set once at start-up
};

}  // namespace radixmesh::router
