// RouterConfig: the daemon's whole configuration, and how it is read.
//
// Sources, lowest precedence first:
//   1. built-in defaults (the values below; `--help` prints them),
//   2. a config file named by --config F (or RADIXMESH_CONFIG): a JSON object
//      whose keys are the flag names ("admin-port" or "admin_port"),
//      or a flat YAML mapping of the same keys (lists as `- item` lines or [a, b]),
//   3. environment variables RADIXMESH_<FLAG_UPPER_SNAKE> (lists comma-separated),
//   4. command-line flags (`--flag value` or `--flag=value`; a repeatable
//      flag given on the command line replaces the list from lower sources).
// One table of option descriptors (config_options.cc) drives all four sources,
// `--help` and `--print-config`, so every flag is listed exactly once.
//
// Threads: parse_config and the helpers are pure functions of their
// arguments (plus reading the named files); call them at start-up. The
// resulting RouterConfig is a plain value, read-only after start-up.
//
// Invariant: a RouterConfig returned by parse_config has passed validate():
// ports in range, known policy and log level, a token file whenever the admin
// API binds a non-loopback address, a routable mesh advertise address.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "radix/result.h"

namespace radixmesh::router {

struct RouterConfig {
  // Data plane.
  std::string host = "0.0.0.0";
  int port = 8000;
  int64_t max_connections = 0;  // open client connections at most; 0: derived from RLIMIT_NOFILE
  // Data-plane TLS (both or neither; router/tls_acceptor.h, router/tls_reloading_context.h).
  std::string tls_cert_file;              // PEM chain; empty: plain HTTP
  std::string tls_key_file;               // PEM private key
  int64_t tls_reload_interval_ms = 5000;  // how often the pair is checked for changes
  // Admin API.
  std::string admin_host = "127.0.0.1";
  int admin_port = 9000;
  std::string admin_token_file;  // empty: no token (only allowed on loopback)
  int threads = 0;               // 0 in a source means "hardware concurrency"; resolved >= 1
  // Workers.
  std::vector<std::string> workers;  // http://host:port
  std::string workers_file;          // one URL per line, '#' comments
  std::string workers_dns;           // NAME:PORT, re-resolved every dns_interval_ms
  int64_t dns_interval_ms = 5000;
  // Prefill/decode disaggregation (router/pd_routing.h): two pools instead
  // of --worker.
  std::string pd_mode = "off";          // off|sglang|vllm
  std::vector<std::string> prefill;     // URL or URL?bootstrap_port=N
  std::vector<std::string> decode;      // URL
  std::string prefill_dns, decode_dns;  // NAME:PORT, re-resolved every dns_interval_ms
  int prefill_bootstrap_port = 8998;    // SGLang's default bootstrap port
  std::string prefill_policy = "cache_aware";
  std::string decode_policy = "least_load";
  int64_t pd_bypass_bytes = 0;  // vLLM: uncached bytes below this go to decode alone; 0: never
  // Routing.
  std::string policy = "cache_aware";
  std::string default_model;
  int64_t block_bytes = 64;
  int64_t max_body_bytes = 8388608;
  // Process-wide cap on memory held by request bodies being read or served.
  // 0 in a source means "derived": max(memory_budget_bytes / 4, max_body_bytes).
  int64_t max_inflight_body_bytes = 0;
  // Client deadlines (the upstream ones are under "Upstream").
  int64_t client_header_timeout_ms = 10000;  // first byte -> end of header: 408
  int64_t client_body_timeout_ms = 60000;    // end of header -> end of body: 408
  int64_t client_idle_timeout_ms = 60000;    // keep-alive idle between requests: closed
  int64_t max_blocks_per_worker = 262144;
  int64_t memory_budget_bytes = 536870912;
  std::string session_header = "X-Session-Id";
  double cache_threshold = 0.3;        // cache_aware: matched/len needed to follow the cache
  int64_t balance_abs_threshold = 8;   // cache_aware: max-min in-flight to call it imbalanced
  double balance_rel_threshold = 1.5;  // ... and max > rel * min
  int64_t branch_slack = 2;            // cache_aware: branch follows its prefix up to N above mean
  double cost_overlap_weight = 1.0;    // cost policy weights
  double cost_load_weight = 0.5;
  double consistent_hash_load_factor = 1.25;  // bounded load: ceil(f * mean)
  bool cache_feedback = true;                 // trim trees by the workers' reported cached tokens
  bool stream_usage = true;                   // ask streams for usage (router/stream_usage.h)
  bool capacity_estimate = false;  // per-worker budgets from the feedback, below the ceiling
  // Upstream.
  std::string upstream_ca_file;        // CA bundle for https:// workers; empty: system store
  bool upstream_tls_insecure = false;  // https:// workers unverified (testing only)
  int64_t connect_timeout_ms = 2000;
  int64_t first_byte_timeout_ms = 60000;
  int64_t idle_timeout_ms = 60000;
  int64_t max_retries = 2;
  int64_t pool_size = 64;
  int64_t pool_wait_ms = 200;                // wait for a free pool slot at most this
  int64_t client_stall_timeout_ms = 15000;   // a client accepting no byte this long is cut off
  int64_t max_requests_per_client = 128;     // proxied requests in flight per client address
  int64_t max_stream_duration_ms = 7200000;  // a response ends by then (0: no limit)
  int64_t max_response_bytes = 1073741824;   // response body bytes at most (0: no limit)
  bool expose_worker_address = false;        // x-radixmesh-worker, worker URLs in errors
  bool forwarded_headers = true;             // add X-Forwarded-For / -Proto upstream
  // Access: API keys, rate limits, admission (router/api_key_store.h,
  // router/admission_queue.h).
  std::string api_keys_file;             // empty: no authentication
  int64_t api_keys_poll_ms = 1000;       // how often the key file is checked for changes
  bool forward_authorization = false;    // with keys: send Authorization on to workers
  double rate_limit_rps = 0;             // per key unless the file says; 0: none
  double rate_limit_burst = 0;           // 0: one second of rps (at least 1)
  int64_t max_in_flight_per_worker = 0;  // this router's requests per worker; 0: no cap
  int64_t max_queue = 256;               // requests waiting for a worker slot at most
  int64_t queue_timeout_ms = 10000;      // a queued request gets 503 after this
  int64_t health_interval_ms = 2000;
  int64_t metrics_interval_ms = 500;  // worker /metrics load scrape; 0: off
  int64_t breaker_failures = 5;
  int64_t breaker_cooldown_ms = 5000;
  int64_t shutdown_grace_ms = 10000;
  // Mesh.
  std::string node_id;             // empty in a source means "the host name"; resolved non-empty
  int mesh_port = 0;               // 0: mesh disabled
  std::string mesh_advertise;      // HOST:PORT peers dial; empty: derived by the mesh
  std::vector<std::string> peers;  // HOST:PORT seeds
  std::string peers_dns;           // NAME:PORT
  std::string mesh_secret_file;
  // Mesh mutual TLS: all three or none (none: plain TCP).
  std::string mesh_tls_cert_file, mesh_tls_key_file, mesh_tls_ca_file;
  int64_t gossip_interval_ms = 1000;
  int64_t mesh_push_window_ms = 2;  // 0: changes wait for the next round
  int64_t mesh_load_slack = 1;      // meshed: least loaded = random within this of the lowest
  // Process.
  std::string log_level = "info";  // trace|debug|info|warn|error
  std::string port_file;           // the bound ports as JSON, once listening
  std::string config_file;         // the file that was read, if any

  // Informational requests from the command line (never from file or env).
  bool show_help = false;
  bool show_version = false;
  bool print_config = false;
};

using Environment = std::map<std::string, std::string>;

// Parses argv (argv[0] is skipped) over env and the optional config file,
// then resolves threads/node_id and validates. Errors carry a one-line
// message naming the flag and the source ("flag --port: ...").
Result<RouterConfig> parse_config(int argc, const char* const* argv, const Environment& env);
Result<RouterConfig> parse_config(const std::vector<std::string>& args, const Environment& env);

// Checks every cross-field rule; parse_config already calls it.
Status validate(const RouterConfig& config);

// The RADIXMESH_* variables of this process (for parse_config).
Environment process_environment();

// Every flag, its default and a one-line description.
std::string help_text();

// The effective configuration; keys are flag names, so the output is itself a
// valid config file (round trip: parse(to_json(c)) == c).
nlohmann::json to_json(const RouterConfig& config);

// Handles --help / --version / --print-config: writes to out and returns the
// exit code when the process should stop, nullopt when it should run.
std::optional<int> handle_informational_flags(const RouterConfig& config, std::ostream& out,
                                              const std::string& version);

// Reads a secret file (admin token, mesh secret): trimmed of surrounding
// whitespace; an empty or unreadable file is an error.
Result<std::string> read_secret_file(const std::string& path);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

struct HostPort {
  std::string host;
  int port = 0;
};
// "host:port" or "[v6]:port" with a port in 1..65535.
Result<HostPort> parse_host_port(const std::string& text);

// Checks a worker URL with parse_worker_url (router/worker.h): http:// or
// https://host[:port][/], no other scheme, no path.
Status validate_worker_url(const std::string& url);

// The URLs of a workers file: one per line, blank lines and '#' comments
// skipped, each validated. Bounded to 100,000 lines.
Result<std::vector<std::string>> read_workers_file(const std::string& path);

}  // namespace radixmesh::router
