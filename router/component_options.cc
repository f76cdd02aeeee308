#include "router/component_options.h"

#include <algorithm>

namespace radixmesh::router {
namespace {

using std::chrono::milliseconds;

template <typename T>
T at_least(int64_t v, int64_t floor) {
  return static_cast<T>(std::max<int64_t>(v, floor));
}

policies::PolicyConfig policy_config(const RouterConfig& c, const std::string& name) {
  policies::PolicyConfig p;
  p.name = name;
  p.cache_threshold = c.cache_threshold;
  p.balance_abs_threshold = at_least<size_t>(c.balance_abs_threshold, 0);
  p.balance_rel_threshold = c.balance_rel_threshold;
  p.branch_slack = at_least<uint64_t>(c.branch_slack, 0);
  p.cost_overlap_weight = c.cost_overlap_weight;
  p.cost_load_weight = c.cost_load_weight;
  p.consistent_hash_load_factor = c.consistent_hash_load_factor;
  // Only meshed routers decide on the same views at the same time.
  p.load_slack = c.mesh_port > 0 ? at_least<uint64_t>(c.mesh_load_slack, 0) : 0;
  return p;
}

// The load scrape: every --metrics-interval-ms, each exchange bounded by the
// interval itself within [200 ms, 2 s] (a scrape slower than its period is
// useless, and a busy engine renders /metrics in its serving process).
MetricsPoller::Options load_poll_options(const RouterConfig& c) {
  MetricsPoller::Options o;
  const int64_t interval = std::max<int64_t>(c.metrics_interval_ms, 10);
  o.interval = milliseconds(interval);
  o.timeout = milliseconds(std::clamp<int64_t>(interval, 200, 2000));
  o.stale_after = MetricsPoller::stale_window(o.interval, o.timeout);
  return o;
}

// --pool-size is per worker for the whole process: split over the threads.
size_t pool_per_thread(const RouterConfig& c) {
  const size_t threads = at_least<size_t>(c.threads, 1);
  return std::max<size_t>(1, (at_least<size_t>(c.pool_size, 1) + threads - 1) / threads);
}

}  // namespace

ComponentOptions component_options(const RouterConfig& c) {
  ComponentOptions o;
  o.log_level = c.log_level;

  o.listen.host = c.host;
  o.listen.port = static_cast<uint16_t>(c.port);
  o.listen.max_connections = at_least<uint64_t>(c.max_connections, 0);
  o.listen.threads = at_least<size_t>(c.threads, 1);
  o.listen.shutdown_grace = milliseconds(std::max<int64_t>(c.shutdown_grace_ms, 0));
  o.listen.node_id = c.node_id;
  o.listen.port_file = c.port_file;

  o.tls.cert_file = c.tls_cert_file;
  o.tls.key_file = c.tls_key_file;
  o.tls.reload_interval = milliseconds(c.tls_reload_interval_ms);
  o.tls.handshake_timeout = milliseconds(c.client_header_timeout_ms);
  o.tls.upstream_ca_file = c.upstream_ca_file;
  o.tls.upstream_insecure = c.upstream_tls_insecure;

  o.session.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.session.keepalive_timeout = milliseconds(c.client_idle_timeout_ms);
  o.session.header_timeout = milliseconds(c.client_header_timeout_ms);
  o.session.body_timeout = milliseconds(c.client_body_timeout_ms);

  o.workers.urls = c.workers;
  o.workers.file = c.workers_file;
  o.workers.dns = c.workers_dns;
  o.workers.dns_interval = milliseconds(std::max<int64_t>(c.dns_interval_ms, 100));

  o.admin.server.host = c.admin_host;
  o.admin.server.port = static_cast<uint16_t>(c.admin_port);
  o.admin.server.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.admin.server.session_header = c.session_header;
  o.admin.token_file = c.admin_token_file;

  o.trees.max_blocks_per_worker = at_least<size_t>(c.max_blocks_per_worker, 1);
  o.trees.memory_budget_bytes = static_cast<size_t>(c.memory_budget_bytes);
  o.trees.max_inflight_body_bytes = static_cast<size_t>(c.max_inflight_body_bytes);
  // Per-worker capacity estimates: only with the feedback that drives them.
  o.trees.capacity_estimate = c.cache_feedback && c.capacity_estimate;

  o.policy = policy_config(c, c.policy);

  o.routing.default_model = c.default_model;
  o.routing.block_bytes = at_least<size_t>(c.block_bytes, 1);
  o.routing.max_blocks_per_worker = static_cast<size_t>(c.max_blocks_per_worker);
  o.routing.parse_limits.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.routing.parse_limits.max_canonical_bytes = static_cast<size_t>(c.max_body_bytes);
  const MetricsPoller::Options load_poll = load_poll_options(c);
  o.routing.load_stale_after_ms = load_poll.stale_after.count();
  if (c.metrics_interval_ms > 0) o.load_poll = load_poll;

  // Admission: workers capped at --max-in-flight-per-worker, the rest queue.
  if (c.max_in_flight_per_worker > 0) {
    AdmissionOptions admission;
    admission.max_queue = static_cast<size_t>(c.max_queue);
    admission.timeout = milliseconds(c.queue_timeout_ms);
    o.admission = admission;
    o.routing.max_in_flight_per_worker = static_cast<uint32_t>(c.max_in_flight_per_worker);
  }

  o.proxy.first_byte_timeout = milliseconds(c.first_byte_timeout_ms);
  o.proxy.idle_timeout = milliseconds(c.idle_timeout_ms);
  o.proxy.client_stall_timeout = milliseconds(c.client_stall_timeout_ms);
  o.proxy.max_stream_duration = milliseconds(c.max_stream_duration_ms);
  o.proxy.max_response_bytes = static_cast<uint64_t>(c.max_response_bytes);
  o.proxy.expose_worker_address = c.expose_worker_address;
  o.proxy.forwarded_headers = c.forwarded_headers;
  o.proxy.stream_usage = c.stream_usage;
  o.proxy.max_retries = at_least<int>(c.max_retries, 0);
  o.cache_feedback = c.cache_feedback;

  o.handler.session_header = c.session_header;
  o.handler.max_requests_per_client = static_cast<size_t>(c.max_requests_per_client);
  o.handler.pool_limit_per_worker = pool_per_thread(c) * o.listen.threads;
  o.handler.forward_authorization = c.forward_authorization;

  if (!c.api_keys_file.empty()) {
    ApiKeyStoreOptions keys;
    keys.path = c.api_keys_file;
    keys.defaults.rps = c.rate_limit_rps;
    keys.defaults.burst = c.rate_limit_burst;
    o.access.keys = keys;
  }
  o.access.keys_poll = milliseconds(c.api_keys_poll_ms);

  o.pool.max_per_worker = pool_per_thread(c);
  o.pool.connect_timeout = milliseconds(c.connect_timeout_ms);
  o.pool.max_wait = milliseconds(c.pool_wait_ms);
  // Shorter than common worker keep-alive timeouts (uvicorn: 5 s), so the
  // pool rarely hands out a connection the worker is closing.
  o.pool.keepalive = std::min(milliseconds(c.idle_timeout_ms), milliseconds(4000));

  o.health.interval = milliseconds(std::max<int64_t>(c.health_interval_ms, 50));
  o.health.timeout = milliseconds(
      std::min(c.connect_timeout_ms + 1000, std::max<int64_t>(c.health_interval_ms, 1000)));
  o.breaker.failure_threshold = at_least<uint32_t>(c.breaker_failures, 1);
  o.breaker.cooldown_ms = c.breaker_cooldown_ms;

  o.mesh.enabled = c.mesh_port > 0;
  o.mesh.node_id = c.node_id;
  o.mesh.bind_host = c.host;
  o.mesh.port = static_cast<uint16_t>(c.mesh_port);
  o.mesh.advertise = c.mesh_advertise;
  o.mesh.peers = c.peers;
  o.mesh.peers_dns = c.peers_dns;
  o.mesh.dns_interval_ms = at_least<uint64_t>(c.dns_interval_ms, 100);
  o.mesh.secret_file = c.mesh_secret_file;
  o.mesh.gossip_interval_ms = at_least<uint64_t>(c.gossip_interval_ms, 50);
  o.mesh.push_window_ms = at_least<uint64_t>(c.mesh_push_window_ms, 0);
  o.mesh.tls = mesh::TlsFiles{c.mesh_tls_cert_file, c.mesh_tls_key_file, c.mesh_tls_ca_file};

  o.pd.mode = parse_pd_mode(c.pd_mode).value_or(PdMode::kOff);  // validated
  for (const std::string& text : c.prefill) {
    auto p = parse_prefill_url(text);
    if (!p) {  // validated before; kept as given so a bad value is reported at start
      o.pd.prefill_urls.push_back(text);
      continue;
    }
    o.pd.prefill_urls.push_back(p->url);
    if (p->bootstrap_port) o.pd.bootstrap_overrides.emplace_back(p->url, *p->bootstrap_port);
  }
  o.pd.decode_urls = c.decode;
  o.pd.prefill_dns = c.prefill_dns;
  o.pd.decode_dns = c.decode_dns;
  o.pd.bootstrap_port = static_cast<uint16_t>(c.prefill_bootstrap_port);
  o.pd.prefill_policy = policy_config(c, c.prefill_policy);
  o.pd.decode_policy = policy_config(c, c.decode_policy);
  o.pd.bypass_bytes = at_least<uint64_t>(c.pd_bypass_bytes, 0);
  return o;
}

}  // namespace radixmesh::router
