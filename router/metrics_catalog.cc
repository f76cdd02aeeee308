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
      upstream_errors(
          r.counter("radixmesh_upstream_errors_total",
                    "Upstream failures by worker and kind "
                    "(connect_refused, tls_handshake, reset, timeout, status_5xx, status_429...).",
                    {"worker", "kind"})),
      breaker_state(r.gauge("radixmesh_worker_breaker_state",
                            "Circuit breaker state per worker: 0 closed, 1 half-open, 2 open.",
                            {"worker"})),
      in_flight(r.gauge("radixmesh_worker_in_flight",
                        "Requests in flight from this node to each worker.", {"worker"})),
      worker_healthy(r.gauge("radixmesh_worker_healthy",
                             "1 when the worker is routable (healthy, not drained).", {"worker"})),
      reported_waiting(r.gauge("radixmesh_worker_reported_waiting",
                               "Requests waiting in the worker's queue, as its /metrics says "
                               "(vllm:num_requests_waiting, sglang:num_queue_reqs).",
                               {"worker"})),
      reported_running(r.gauge("radixmesh_worker_reported_running",
                               "Requests running on the worker, as its /metrics says "
                               "(vllm:num_requests_running, sglang:num_running_reqs).",
                               {"worker"})),
      reported_kv_usage(r.gauge("radixmesh_worker_reported_kv_usage",
                                "Fraction of the worker's KV cache in use, as its /metrics says "
                                "(vllm:kv_cache_usage_perc, sglang:token_usage).",
                                {"worker"})),
      load_scrapes(r.counter("radixmesh_worker_load_scrapes_total",
                             "Scrapes of each worker's /metrics by result (ok, no_load_metrics, "
                             "http_error, network_error, too_large).",
                             {"worker", "result"})),
      load_scrape_malformed_lines(r.counter(
          "radixmesh_worker_load_scrape_malformed_lines_total",
          "Exposition lines skipped for breaking the Prometheus text format.", {"worker"})),
      decisions(r.counter("radixmesh_policy_decisions_total",
                          "Routing decisions by policy and reason.", {"policy", "reason"})),
      lock_hold_max(r.gauge("radixmesh_lock_hold_max_seconds",
                            "Longest time any thread held each lock since start.", {"lock"})),
      admin_requests(r.counter("radixmesh_admin_requests_total",
                               "Admin API requests by path and status.", {"path", "status"})),
      client_connections(
          r.gauge("radixmesh_client_connections", "Data-plane client connections open now.", {})),
      client_connections_limit(r.gauge("radixmesh_client_connections_limit",
                                       "The data-plane connection cap (--max-connections).", {})),
      connections_refused(r.counter("radixmesh_client_connections_refused_total",
                                    "Client connections refused: max_connections (answered 503 "
                                    "and closed) or accept_error (accept failed, e.g. EMFILE).",
                                    {"reason"})),
      stream_aborts(r.counter("radixmesh_stream_aborts_total",
                              "Responses cut off by the router mid-body, by reason "
                              "(client_stall: the client accepted no byte in time).",
                              {"reason"})),
      stream_usage(r.counter("radixmesh_stream_usage_total",
                             "Streams the router asked for usage the client did not ask for "
                             "(--stream-usage), by result: dropped (the usage chunk was read and "
                             "kept from the client), not_reported (the worker sent none), "
                             "worker_off (the worker changed other chunks: no longer asked).",
                             {"result"})),
      pd_legs(r.counter("radixmesh_pd_legs_total",
                        "Legs of prefill/decode requests (--pd-mode), by role (prefill, decode) "
                        "and outcome: ok, failed (retried or answered 5xx), refused (a 4xx "
                        "answer, relayed), cancelled (the other leg or the client ended it), "
                        "bypassed (a decode worker served it alone: --pd-bypass-bytes).",
                        {"role", "outcome"})),
      pool_in_use(r.gauge("radixmesh_upstream_pool_in_use",
                          "Upstream connections to each worker lent to exchanges now.",
                          {"worker"})),
      pool_limit(r.gauge("radixmesh_upstream_pool_limit",
                         "Upstream connections per worker at most (--pool-size); in_use at the "
                         "limit means new requests to it get 503 upstream_pool_exhausted.",
                         {"worker"})),
      client_limited(r.counter("radixmesh_client_requests_limited_total",
                               "Requests answered 429 because their client address had "
                               "--max-requests-per-client requests in flight.",
                               {})),
      auth_failures(r.counter("radixmesh_auth_failures_total",
                              "Data-plane requests answered 401 by reason (missing: no bearer "
                              "key; invalid: a key not in --api-keys-file).",
                              {"reason"})),
      rate_limited(r.counter("radixmesh_rate_limited_total",
                             "Requests answered 429 because their API key's token bucket was "
                             "empty, by tenant (the key file's name=).",
                             {"tenant"})),
      api_keys(r.gauge("radixmesh_api_keys", "API keys loaded from --api-keys-file.", {})),
      api_key_reloads(r.counter("radixmesh_api_keys_reloads_total",
                                "Re-reads of a changed --api-keys-file by result (ok, error: the "
                                "previous keys stay in force).",
                                {"result"})),
      admission_wait(r.histogram("radixmesh_admission_queue_wait_seconds",
                                 "Time requests waited in the admission queue for a worker "
                                 "below --max-in-flight-per-worker (whatever the outcome).",
                                 {})),
      admission_depth(r.gauge("radixmesh_admission_queue_depth",
                              "Requests waiting in the admission queue now.", {})),
      admission_rejected(r.counter("radixmesh_admission_rejected_total",
                                   "Requests that left the admission queue without a worker, "
                                   "by reason (queue_full: 503; timeout: 503 after "
                                   "--queue-timeout-ms; client_gone: the client closed).",
                                   {"reason"})),
      tls_handshakes(r.counter("radixmesh_tls_handshakes_total",
                               "TLS handshakes completed on the data-plane port.", {})),
      tls_handshake_failures(r.counter(
          "radixmesh_tls_handshake_failures_total",
          "Data-plane connections closed before their TLS handshake completed, by reason "
          "(plain_http: answered 400 tls_required; timeout: not done within "
          "--client-header-timeout-ms; closed: the client left; certificate_rejected: the "
          "client refused our certificate; protocol_version; protocol: any other TLS error).",
          {"reason"})),
      tls_reloads(r.counter("radixmesh_tls_reload_total",
                            "Reloads of --tls-cert-file / --tls-key-file (file change or "
                            "SIGHUP) by result (error: the previous certificate stays in use).",
                            {"result"})) {}

}  // namespace radixmesh::router
