// The router's metric families (see metrics_catalog.h).
#include "router/metrics_catalog.h"

namespace radixmesh::router {

RouterMetrics::RouterMetrics(MetricsRegistry& r)
    : requests(r.counter("radixmesh_requests_total",
                         "Client requests answered, by endpoint and HTTP status.",
                         {"endpoint", "status"})),
      incomplete(r.counter("radixmesh_requests_incomplete_total",
                           "Responses cut off after their header was sent, by endpoint and "
                           "reason (upstream_reset, upstream_timeout, client_gone).",
                           {"endpoint", "reason"})),
      latency(r.histogram("radixmesh_request_duration_seconds",
                          "Time from request received to response complete.", {"endpoint"})),
      ttft(r.histogram("radixmesh_time_to_first_byte_seconds",
                       "Time from request received to the first response byte sent "
                       "(time to first token for streams).",
                       {"endpoint"})),
      retries(r.counter("radixmesh_upstream_retries_total",
                        "Requests retried on another worker before the first byte.", {"endpoint"})),
      upstream_errors(r.counter("radixmesh_upstream_errors_total",
                                "Upstream failures by worker and kind "
                                "(connect, reset, timeout, status_5xx, status_429).",
                                {"worker", "kind"})),
      breaker_state(r.gauge("radixmesh_worker_breaker_state",
                            "Circuit breaker state per worker: 0 closed, 1 half-open, 2 open.",
                            {"worker"})),
      in_flight(r.gauge("radixmesh_worker_in_flight",
                        "Requests in flight from this node to each worker.", {"worker"})),
      worker_healthy(r.gauge("radixmesh_worker_healthy",
                             "1 when the worker is routable (healthy, not drained).", {"worker"})),
      decisions(r.counter("radixmesh_policy_decisions_total",
                          "Routing decisions by policy and reason.", {"policy", "reason"})),
      lock_hold_max(r.gauge("radixmesh_lock_hold_max_seconds",
                            "Longest time any thread held each lock since start.", {"lock"})),
      admin_requests(r.counter("radixmesh_admin_requests_total",
                               "Admin API requests by path and status.", {"path", "status"})) {}

}  // namespace radixmesh::router
