// The option table and typed access to RouterConfig fields (see config_options.h).
#include "router/config_options.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

namespace radixmesh::router::config_detail {
namespace {

using C = RouterConfig;
constexpr double kMaxI64 = 9.0e15;  // keeps int64 values exact through double bounds

std::vector<OptionSpec> build_table() {
  // clang-format off
  return {
    {"host", "Data plane", "HOST", "data-plane bind address", &C::host},
    {"port", "Data plane", "PORT", "data-plane port (0: any free port; see --port-file)", &C::port, 0, 65535},
    {"max-connections", "Data plane", "N", "open client connections at most; above it a new one gets 503 and is closed (0: derived from the open-files limit)", &C::max_connections, 0, kMaxI64, false, "0 (derived from RLIMIT_NOFILE)"},
    {"max-body-bytes", "Data plane", "N", "request bodies above this get 413", &C::max_body_bytes, 1, kMaxI64},
    {"max-inflight-body-bytes", "Data plane", "N", "memory all request bodies being read or served may hold; past it: 503", &C::max_inflight_body_bytes, 0, kMaxI64, false, "memory-budget-bytes / 4, at least max-body-bytes"},
    {"client-header-timeout-ms", "Data plane", "MS", "a request's header must be complete this long after its first byte, else 408 (a new connection silent this long is closed)", &C::client_header_timeout_ms, 1, kMaxI64},
    {"client-body-timeout-ms", "Data plane", "MS", "a request's body must be complete this long after its header, else 408", &C::client_body_timeout_ms, 1, kMaxI64},
    {"client-idle-timeout-ms", "Data plane", "MS", "keep-alive connections idle this long between requests are closed", &C::client_idle_timeout_ms, 1, kMaxI64},
    {"tls-cert-file", "Data plane", "FILE", "PEM certificate chain: the data-plane port speaks TLS (1.2+, ALPN http/1.1); needs --tls-key-file; re-read on change and on SIGHUP", &C::tls_cert_file},
    {"tls-key-file", "Data plane", "FILE", "PEM private key of --tls-cert-file", &C::tls_key_file},
    {"tls-reload-interval-ms", "Data plane", "MS", "how often --tls-cert-file / --tls-key-file are checked for changes (new connections get the new pair)", &C::tls_reload_interval_ms, 100, kMaxI64},
    {"threads", "Data plane", "N", "io threads", &C::threads, 0, 1024, false, "hardware concurrency"},
    {"shutdown-grace-ms", "Data plane", "MS", "how long shutdown waits for in-flight requests", &C::shutdown_grace_ms, 0, kMaxI64},

    {"admin-host", "Admin API", "HOST", "admin API bind address", &C::admin_host},
    {"admin-port", "Admin API", "PORT", "admin API port (0: any free port; see --port-file)", &C::admin_port, 0, 65535},
    {"admin-token-file", "Admin API", "FILE", "bearer token required on the admin API (required when admin-host is not loopback)", &C::admin_token_file},

    {"worker", "Workers", "URL", "a worker, e.g. http://127.0.0.1:7001", &C::workers, 0, 0, false, "", "workers"},
    {"workers-file", "Workers", "FILE", "file with one worker URL per line ('#' comments)", &C::workers_file},
    {"workers-dns", "Workers", "NAME:PORT", "discover workers from DNS (headless Service), re-resolved", &C::workers_dns},
    {"dns-interval-ms", "Workers", "MS", "how often --workers-dns and --peers-dns are re-resolved", &C::dns_interval_ms, 100, kMaxI64},
    {"upstream-ca-file", "Workers", "FILE", "PEM CA bundle that https:// workers' certificates must chain to (default: the system store)", &C::upstream_ca_file},
    {"upstream-tls-insecure", "Workers", "", "do not verify https:// workers' certificates or names (testing only: anyone on the path can read and change the traffic)", &C::upstream_tls_insecure},
    {"connect-timeout-ms", "Workers", "MS", "upstream connect timeout (for https:// workers: connect and TLS handshake)", &C::connect_timeout_ms, 1, kMaxI64},
    {"first-byte-timeout-ms", "Workers", "MS", "upstream time to first response byte", &C::first_byte_timeout_ms, 1, kMaxI64},
    {"idle-timeout-ms", "Workers", "MS", "upstream idle time between bytes of a response", &C::idle_timeout_ms, 1, kMaxI64},
    {"max-retries", "Workers", "N", "retries on another worker before the first byte", &C::max_retries, 0, 16},
    {"pool-size", "Workers", "N", "keep-alive connections per worker", &C::pool_size, 1, 65536},
    {"pool-wait-ms", "Workers", "MS", "how long a request waits for a connection slot when a worker's pool is full (then another worker, then 503)", &C::pool_wait_ms, 0, kMaxI64},
    {"client-stall-timeout-ms", "Data plane", "MS", "a response is cut off when its client accepts no byte for this long (frees the worker connection)", &C::client_stall_timeout_ms, 1, kMaxI64},
    {"max-stream-duration-ms", "Data plane", "MS", "a proxied response is cut off this long after the request arrived (0: no limit)", &C::max_stream_duration_ms, 0, kMaxI64},
    {"max-response-bytes", "Data plane", "N", "a proxied response body is cut off past this many bytes (0: no limit)", &C::max_response_bytes, 0, kMaxI64},
    {"expose-worker-address", "Data plane", "", "send x-radixmesh-worker (the serving worker's URL) and name workers in error messages", &C::expose_worker_address},
    {"forwarded-headers", "Data plane", "", "append the client address to X-Forwarded-For (and add X-Forwarded-Proto: http) on proxied requests (default on; =false turns it off)", &C::forwarded_headers},
    {"max-requests-per-client", "Data plane", "N", "proxied requests in flight per client address; above it 429 (0: no cap)", &C::max_requests_per_client, 0, kMaxI64},
    {"api-keys-file", "Access", "FILE", "API keys, one per line with optional name=TENANT rps=N burst=N; when set, data-plane requests need 'Authorization: Bearer KEY' (re-read when the file changes)", &C::api_keys_file},
    {"api-keys-poll-ms", "Access", "MS", "how often --api-keys-file is checked for changes", &C::api_keys_poll_ms, 100, kMaxI64},
    {"forward-authorization", "Access", "", "with --api-keys-file: pass the client's Authorization header on to the worker (off: it is removed)", &C::forward_authorization},
    {"rate-limit-rps", "Access", "X", "requests per second per API key across the fleet, for keys without rps= (0: no limit; needs --api-keys-file)", &C::rate_limit_rps, 0, 1e9},
    {"rate-limit-burst", "Access", "X", "token-bucket size per API key, for keys without burst= (0: one second of rps, at least 1)", &C::rate_limit_burst, 0, 1e9},
    {"max-in-flight-per-worker", "Access", "N", "requests this router has in flight to one worker at most; more wait in the admission queue (0: no cap)", &C::max_in_flight_per_worker, 0, 1000000},
    {"max-queue", "Access", "N", "requests waiting for a worker slot at most; above it 503 (with --max-in-flight-per-worker)", &C::max_queue, 0, 1000000},
    {"queue-timeout-ms", "Access", "MS", "a request waiting for a worker slot this long gets 503", &C::queue_timeout_ms, 1, kMaxI64},
    {"health-interval-ms", "Workers", "MS", "active health check period", &C::health_interval_ms, 10, kMaxI64},
    {"metrics-interval-ms", "Workers", "MS", "how often each worker's /metrics is read for its queue and KV usage (0: never)", &C::metrics_interval_ms, 0, kMaxI64},
    {"breaker-failures", "Workers", "N", "consecutive failures that open a worker's breaker", &C::breaker_failures, 1, 1000000},
    {"breaker-cooldown-ms", "Workers", "MS", "open breaker time before a half-open probe", &C::breaker_cooldown_ms, 1, kMaxI64},

    {"pd-mode", "Prefill/decode", "MODE", "off|sglang|vllm: route each request to a prefill and a decode worker (--prefill, --decode) instead of one --worker", &C::pd_mode},
    {"prefill", "Prefill/decode", "URL", "a prefill worker; SGLang: its bootstrap port per worker as URL?bootstrap_port=N", &C::prefill, 0, 0, false, "", "prefills"},
    {"decode", "Prefill/decode", "URL", "a decode worker", &C::decode, 0, 0, false, "", "decodes"},
    {"prefill-dns", "Prefill/decode", "NAME:PORT", "discover prefill workers from DNS (headless Service), re-resolved every --dns-interval-ms", &C::prefill_dns},
    {"decode-dns", "Prefill/decode", "NAME:PORT", "discover decode workers from DNS, re-resolved every --dns-interval-ms", &C::decode_dns},
    {"prefill-bootstrap-port", "Prefill/decode", "PORT", "SGLang: the prefill workers' bootstrap port (KV transfer), unless a --prefill URL names its own", &C::prefill_bootstrap_port, 1, 65535},
    {"prefill-policy", "Prefill/decode", "NAME", "policy of the prefill pool (where the prompt's KV is computed and cached)", &C::prefill_policy},
    {"decode-policy", "Prefill/decode", "NAME", "policy of the decode pool", &C::decode_policy},
    {"pd-bypass-bytes", "Prefill/decode", "N", "vLLM: a request whose uncached part on the chosen prefill worker is below N bytes of prompt goes to a decode worker alone, which prefills it (0: never; SGLang decode workers cannot)", &C::pd_bypass_bytes, 0, kMaxI64},

    {"policy", "Routing", "NAME", "cache_aware|cost|round_robin|random|power_of_two|least_load|consistent_hash", &C::policy},
    {"default-model", "Routing", "NAME", "model used when a request names none", &C::default_model},
    {"block-bytes", "Routing", "N", "prompt block size for hashing", &C::block_bytes, 1, 1048576},
    {"max-blocks-per-worker", "Routing", "N", "tenant budget in blocks (models the worker's KV capacity)", &C::max_blocks_per_worker, 1, kMaxI64},
    {"memory-budget-bytes", "Routing", "N", "process-wide budget for trees and mesh buffers", &C::memory_budget_bytes, 1048576, kMaxI64},
    {"session-header", "Routing", "NAME", "consistent_hash session key header", &C::session_header},
    {"cache-threshold", "Routing", "X", "cache_aware: matched fraction needed to follow the cache", &C::cache_threshold, 0, 1},
    {"balance-abs-threshold", "Routing", "N", "cache_aware: in-flight spread (max-min) that counts as imbalance", &C::balance_abs_threshold, 0, kMaxI64},
    {"balance-rel-threshold", "Routing", "X", "cache_aware: imbalance also needs max > X * min", &C::balance_rel_threshold, 1, 1e9},
    {"branch-slack", "Routing", "N", "cache_aware: a prompt that branches off a cached prefix (a new conversation on a shared system prompt) follows it only to a holder at most N requests above the mean load, while no worker's cache is full", &C::branch_slack, 0, kMaxI64},
    {"cost-overlap-weight", "Routing", "X", "cost policy: weight of the reusable fraction", &C::cost_overlap_weight, 0, 1e9},
    {"cost-load-weight", "Routing", "X", "cost policy: weight of the normalised load", &C::cost_load_weight, 0, 1e9},
    {"cache-feedback", "Routing", "", "trim the tree when a worker reports fewer cached tokens than predicted (on; --cache-feedback=false: off)", &C::cache_feedback},
    {"stream-usage", "Routing", "", "ask a streamed chat/completions request without stream_options for usage, read the worker's cached tokens from it and keep the usage chunk from the client (on; needs --cache-feedback; =false: off)", &C::stream_usage},
    {"capacity-estimate", "Routing", "", "estimate each worker's tenant budget from its reports, with --max-blocks-per-worker as the ceiling (needs --cache-feedback)", &C::capacity_estimate},
    {"consistent-hash-load-factor", "Routing", "X", "consistent_hash: a worker takes at most ceil(X * mean load)", &C::consistent_hash_load_factor, 1, 1e9},

    {"node-id", "Mesh", "NAME", "stable node id (chart: pod name)", &C::node_id, 0, 0, false, "host name"},
    {"mesh-port", "Mesh", "PORT", "enables the mesh when set (0: disabled)", &C::mesh_port, 0, 65535},
    {"mesh-advertise", "Mesh", "HOST:PORT", "address peers dial to reach this node", &C::mesh_advertise},
    {"peer", "Mesh", "HOST:PORT", "seed peer", &C::peers, 0, 0, false, "", "peers"},
    {"peers-dns", "Mesh", "NAME:PORT", "seed peers from DNS (headless Service), re-resolved", &C::peers_dns},
    {"mesh-secret-file", "Mesh", "FILE", "shared secret for cluster authentication", &C::mesh_secret_file},
    {"mesh-tls-cert-file", "Mesh", "FILE", "PEM certificate chain of this node for mesh mutual TLS (with --mesh-tls-key-file and --mesh-tls-ca-file; re-read on change and SIGHUP)", &C::mesh_tls_cert_file},
    {"mesh-tls-key-file", "Mesh", "FILE", "PEM private key of --mesh-tls-cert-file", &C::mesh_tls_key_file},
    {"mesh-tls-ca-file", "Mesh", "FILE", "PEM CA certificate(s) every mesh peer's certificate must chain to", &C::mesh_tls_ca_file},
    {"gossip-interval-ms", "Mesh", "MS", "gossip round period", &C::gossip_interval_ms, 10, kMaxI64},
    {"mesh-push-window-ms", "Mesh", "MS", "tree and load changes reach peers this long after the first change (0: only every gossip round)", &C::mesh_push_window_ms, 0, 1000},
    {"mesh-load-slack", "Mesh", "N", "meshed routers pick the least loaded worker at random among those within N requests of the lowest (anti-herding; 0: exact minimum)", &C::mesh_load_slack, 0, 1000},

    {"log-level", "Process", "LEVEL", "trace|debug|info|warn|error", &C::log_level},
    {"port-file", "Process", "FILE", "once listening, write the bound ports as JSON {\"port\", \"admin_port\", \"mesh_port\"} to FILE (written whole, then renamed into place)", &C::port_file},
    {"config", "Process", "FILE", "JSON or YAML config file (keys are flag names)", &C::config_file, 0, 0, true},
    {"print-config", "Process", "", "print the effective configuration as JSON and exit", &C::print_config, 0, 0, true},
    {"help", "Process", "", "print this help and exit", &C::show_help, 0, 0, true},
    {"version", "Process", "", "print the version and exit", &C::show_version, 0, 0, true},
  };
  // clang-format on
}

std::string normalise(std::string_view name) {
  std::string s(name);
  for (char& ch : s) {
    if (ch == '_') ch = '-';
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

Error bad(const OptionSpec& spec, std::string_view text, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, "invalid value '" + std::string(text) + "' for " +
                                                     std::string(spec.name) + ": " +
                                                     std::string(why));
}

bool bounded(const OptionSpec& spec) {
  return !(spec.min == 0 && spec.max == 0);
}

std::string format_number(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

Status check_range(const OptionSpec& spec, std::string_view text, double v) {
  if (bounded(spec) && (v < spec.min || v > spec.max)) {
    return bad(spec, text,
               "must be between " + format_number(spec.min) + " and " + format_number(spec.max));
  }
  return Ok{};
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

Result<int64_t> parse_int(const OptionSpec& spec, std::string_view text) {
  std::string t = trim(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
    return bad(spec, text, "not an integer");
  }
  if (auto s = check_range(spec, text, static_cast<double>(v)); !s) return s.error();
  return v;
}

Result<double> parse_double(const OptionSpec& spec, std::string_view text) {
  std::string t = trim(text);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    return bad(spec, text, "not a number");
  }
  if (used != t.size() || !std::isfinite(v)) return bad(spec, text, "not a number");
  if (auto s = check_range(spec, text, v); !s) return s.error();
  return v;
}

Result<bool> parse_bool(const OptionSpec& spec, std::string_view text) {
  std::string t = normalise(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return bad(spec, text, "not a boolean");
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string item = trim(text.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = build_table();
  return table;
}

const OptionSpec* find_option(std::string_view name) {
  std::string n = normalise(name);
  for (const auto& spec : option_table()) {
    if (spec.name == n || (!spec.alias.empty() && spec.alias == n)) return &spec;
  }
  return nullptr;
}

std::string env_name(const OptionSpec& spec) {
  std::string s = "RADIXMESH_";
  for (char ch : spec.name) {
    s += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return s;
}

bool is_list(const OptionSpec& spec) {
  return std::holds_alternative<std::vector<std::string> RouterConfig::*>(spec.field);
}
bool is_switch(const OptionSpec& spec) {
  return std::holds_alternative<bool RouterConfig::*>(spec.field);
}

Status set_from_text(RouterConfig& c, const OptionSpec& spec, std::string_view text,
                     bool append_item) {
  return std::visit(
      [&](auto member) -> Status {
        using T = std::remove_reference_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*member = trim(text);
        } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
          auto v = parse_int(spec, text);
          if (!v) return v.error();
          c.*member = static_cast<T>(*v);
        } else if constexpr (std::is_same_v<T, double>) {
          auto v = parse_double(spec, text);
          if (!v) return v.error();
          c.*member = *v;
        } else if constexpr (std::is_same_v<T, bool>) {
          auto v = parse_bool(spec, text);
          if (!v) return v.error();
          c.*member = *v;
        } else {
          if (append_item) {
            std::string item = trim(text);
            if (item.empty()) return bad(spec, text, "empty item");
            (c.*member).push_back(std::move(item));
          } else {
            c.*member = split_commas(text);
          }
        }
        return Ok{};
      },
      spec.field);
}

Status set_from_json(RouterConfig& c, const OptionSpec& spec, const nlohmann::json& v) {
  if (is_list(spec)) {
    auto& list = c.*std::get<std::vector<std::string> RouterConfig::*>(spec.field);
    if (v.is_string()) return set_from_text(c, spec, v.get<std::string>(), false);
    if (!v.is_array()) return bad(spec, v.dump(), "expected a list of strings");
    std::vector<std::string> items;
    for (const auto& item : v) {
      if (!item.is_string()) return bad(spec, v.dump(), "expected a list of strings");
      items.push_back(trim(item.get<std::string>()));
    }
    list = std::move(items);
    return Ok{};
  }
  if (v.is_string()) return set_from_text(c, spec, v.get<std::string>(), false);
  if (v.is_number_integer() || v.is_number_float() || v.is_boolean()) {
    // A number where a string is expected (e.g. node-id: 7) is still accepted.
    return set_from_text(c, spec, v.dump(), false);
  }
  return bad(spec, v.dump(), "expected a string, number or boolean");
}

nlohmann::json get_json(const RouterConfig& c, const OptionSpec& spec) {
  return std::visit([&](auto member) { return nlohmann::json(c.*member); }, spec.field);
}

std::string get_text(const RouterConfig& c, const OptionSpec& spec) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_cvref_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return c.*member;
        } else if constexpr (std::is_same_v<T, bool>) {
          return c.*member ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return format_number(c.*member);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string s;
          for (const auto& item : c.*member) s += (s.empty() ? "" : ",") + item;
          return s;
        } else {
          return std::to_string(c.*member);
        }
      },
      spec.field);
}

}  // namespace radixmesh::router::config_detail
