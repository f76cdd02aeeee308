// RouterMetrics: the named metric families the router exports, in one place
// so the data plane, the admin API and the docs agree on names and labels.
//
// Built once at start-up over a MetricsRegistry the composition root owns;
// holds references into it (the registry must outlive it). Every member is
// safe from any thread (see metrics.h); resolve label sets once and keep the
// handles on hot paths.
//
// Values that live elsewhere (tree bytes/blocks per model, memory tier and
// pressure) are exported by collectors registered by the admin server, not
// listed here.
#pragma once

#include "router/metrics.h"

namespace radixmesh::router {

struct RouterMetrics {
  explicit RouterMetrics(MetricsRegistry& r);

  // endpoint: chat|completions|generate|embeddings|responses|models|health|readiness|other
  // status: the HTTP status code sent to the client, as a string ("200", "503").
  // status: also "incomplete" for a response the worker side cut after its header.
  CounterFamily& requests;  // radixmesh_requests_total{endpoint,status}
  // reason: upstream_reset|upstream_timeout|client_gone (cut after the header)
  CounterFamily& incomplete;       // radixmesh_requests_incomplete_total{endpoint,reason}
  HistogramFamily& latency;        // radixmesh_request_duration_seconds{endpoint}
  HistogramFamily& ttft;           // radixmesh_time_to_first_byte_seconds{endpoint}
  CounterFamily& retries;          // radixmesh_upstream_retries_total{endpoint}
  CounterFamily& upstream_errors;  // radixmesh_upstream_errors_total{worker,kind}
  GaugeFamily& breaker_state;  // radixmesh_worker_breaker_state{worker} 0 closed,1 half-open,2 open
  GaugeFamily& in_flight;      // radixmesh_worker_in_flight{worker}
  GaugeFamily& worker_healthy;    // radixmesh_worker_healthy{worker} 0|1
  CounterFamily& decisions;       // radixmesh_policy_decisions_total{policy,reason}
  GaugeFamily& lock_hold_max;     // radixmesh_lock_hold_max_seconds{lock}
  CounterFamily& admin_requests;  // radixmesh_admin_requests_total{path,status}
};

}  // namespace radixmesh::router
