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
  // Data-plane connections (router/connection_gate.h).
  GaugeFamily& client_connections;        // radixmesh_client_connections
  GaugeFamily& client_connections_limit;  // radixmesh_client_connections_limit (--max-connections)
  // reason: max_connections (over the cap: 503 and closed) | accept_error (EMFILE...)
  CounterFamily& connections_refused;  // radixmesh_client_connections_refused_total{reason}
  // reason: client_stall (the client accepted no byte for --client-stall-timeout-ms)
  CounterFamily& stream_aborts;   // radixmesh_stream_aborts_total{reason}
  CounterFamily& stream_usage;    // radixmesh_stream_usage_total{result}
  CounterFamily& pd_legs;         // radixmesh_pd_legs_total{role,outcome}
  GaugeFamily& pool_in_use;       // radixmesh_upstream_pool_in_use{worker}
  GaugeFamily& pool_limit;        // radixmesh_upstream_pool_limit{worker}
  CounterFamily& client_limited;  // radixmesh_client_requests_limited_total (429, per address)
  // Worker-reported load from its /metrics (router/metrics_poller.h); a
  // worker's series are removed while its report is stale or missing.
  GaugeFamily& reported_waiting;   // radixmesh_worker_reported_waiting{worker}
  GaugeFamily& reported_running;   // radixmesh_worker_reported_running{worker}
  GaugeFamily& reported_kv_usage;  // radixmesh_worker_reported_kv_usage{worker} 0..1
  CounterFamily& load_scrapes;     // radixmesh_worker_load_scrapes_total{worker,result}
  CounterFamily&
      load_scrape_malformed_lines;  // radixmesh_worker_load_scrape_malformed_lines_total{worker}
  // Access: API keys, rate limits (router/api_key_store.h) and admission
  // (router/admission_queue.h). Keys are never a label; tenants are.
  CounterFamily& auth_failures;       // radixmesh_auth_failures_total{reason} missing|invalid
  CounterFamily& rate_limited;        // radixmesh_rate_limited_total{tenant}
  GaugeFamily& api_keys;              // radixmesh_api_keys (keys loaded)
  CounterFamily& api_key_reloads;     // radixmesh_api_keys_reloads_total{result} ok|error
  HistogramFamily& admission_wait;    // radixmesh_admission_queue_wait_seconds
  GaugeFamily& admission_depth;       // radixmesh_admission_queue_depth
  CounterFamily& admission_rejected;  // radixmesh_admission_rejected_total{reason}
  // Data-plane TLS (router/tls_acceptor.h).
  CounterFamily& tls_handshakes;          // radixmesh_tls_handshakes_total (completed)
  CounterFamily& tls_handshake_failures;  // radixmesh_tls_handshake_failures_total{reason}
  CounterFamily& tls_reloads;             // radixmesh_tls_reload_total{result} ok|error
};

}  // namespace radixmesh::router
