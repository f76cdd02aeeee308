// Configuration: sources merged in precedence order, validation, help and
// print-config (see config.h). The option rows live in config_options.cc.
#include "router/config.h"

#include "radix/address.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <thread>

#include "policies/policy.h"
#include "router/config_file.h"
#include "router/config_options.h"
#include "router/pd_routing.h"
#include "router/worker.h"

extern char** environ;

namespace radixmesh::router {
namespace {

using config_detail::find_option;
using config_detail::is_list;
using config_detail::is_switch;
using config_detail::option_table;
using config_detail::OptionSpec;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

Error with_source(const Error& e, const std::string& source) {
  return make_error(e.code, source + ": " + e.message);
}

// Finds --config F / --config=F on the command line (the file is read before
// the other flags so that flags override it).
Result<std::string> config_path_from_args(const std::vector<std::string>& args) {
  std::string path;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) return invalid("flag --config needs a value");
      path = args[i + 1];
      ++i;
    } else if (args[i].rfind("--config=", 0) == 0) {
      path = args[i].substr(9);
    }
  }
  return path;
}

Status apply_file(RouterConfig& c, const std::string& path) {
  auto j = config_detail::load_config_file(path);
  if (!j) return j.error();
  for (const auto& [key, value] : j->items()) {
    const OptionSpec* spec = find_option(key);
    if (spec == nullptr || spec->command_line_only) {
      return invalid("config file '" + path + "': unknown key '" + key + "'");
    }
    if (auto s = config_detail::set_from_json(c, *spec, value); !s) {
      return with_source(s.error(), "config file '" + path + "'");
    }
  }
  c.config_file = path;
  return Ok{};
}

Status apply_env(RouterConfig& c, const Environment& env) {
  for (const auto& spec : option_table()) {
    if (spec.command_line_only) continue;
    auto it = env.find(config_detail::env_name(spec));
    if (it == env.end()) continue;
    if (auto s = config_detail::set_from_text(c, spec, it->second, false); !s) {
      return with_source(s.error(), "environment " + it->first);
    }
  }
  return Ok{};
}

Status apply_flags(RouterConfig& c, const std::vector<std::string>& args) {
  std::vector<const OptionSpec*> lists_seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      c.show_help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return invalid("unexpected argument '" + arg + "' (flags start with --; see --help)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    // Flags are spelled exactly as --help shows them (no aliases, no '_').
    const OptionSpec* spec = find_option(name);
    if (spec == nullptr || spec->name != name) {
      return invalid("unknown flag --" + name + " (see --help)");
    }
    if (is_switch(*spec)) {
      if (auto s = config_detail::set_from_text(c, *spec, value.value_or("true"), false); !s) {
        return with_source(s.error(), "flag --" + name);
      }
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return invalid("flag --" + name + " needs a value");
      value = args[++i];
    }
    if (spec->name == "config") continue;  // already read
    bool append = is_list(*spec);
    if (append && std::find(lists_seen.begin(), lists_seen.end(), spec) == lists_seen.end()) {
      // The first occurrence on the command line replaces lower sources.
      lists_seen.push_back(spec);
      (void)config_detail::set_from_text(c, *spec, "", false);
    }
    if (auto s = config_detail::set_from_text(c, *spec, *value, append); !s) {
      return with_source(s.error(), "flag --" + name);
    }
  }
  return Ok{};
}

void resolve_defaults(RouterConfig& c) {
  if (c.max_inflight_body_bytes == 0) {
    c.max_inflight_body_bytes = std::max(c.memory_budget_bytes / 4, c.max_body_bytes);
  }
  if (c.threads == 0)
    c.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (c.node_id.empty()) {
    std::array<char, 256> name{};
    if (gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0') {
      c.node_id = name.data();
    } else {
      c.node_id = "radixmesh";
    }
  }
}

bool is_unspecified_host(const std::string& h) {
  return h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]";
}

Status check_name_port(const std::string& flag, const std::string& value) {
  if (value.empty()) return Ok{};
  auto hp = parse_host_port(value);
  if (!hp) return invalid("flag --" + flag + ": " + hp.error().message);
  return Ok{};
}

Status check_readable(const std::string& flag, const std::string& path) {
  if (path.empty()) return Ok{};
  auto s = read_secret_file(path);
  if (!s) return invalid("flag --" + flag + ": " + s.error().message);
  return Ok{};
}

bool known_policy(const std::string& name) {
  const auto names = policies::policy_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// PD mode: two pools replace --worker (router/pd_routing.h).
Status validate_pd(const RouterConfig& c) {
  const auto mode = parse_pd_mode(c.pd_mode);
  if (!mode) return invalid("flag --pd-mode: unknown mode '" + c.pd_mode + "' (off|sglang|vllm)");
  const bool prefill = !c.prefill.empty() || !c.prefill_dns.empty();
  const bool decode = !c.decode.empty() || !c.decode_dns.empty();
  if (*mode == PdMode::kOff) {
    if (prefill || decode) {
      return invalid(std::string("flag --") + (prefill ? "prefill" : "decode") +
                     ": needs --pd-mode sglang or vllm");
    }
    return Ok{};
  }
  const std::string m = "--pd-mode " + c.pd_mode;
  if (!c.workers.empty() || !c.workers_file.empty() || !c.workers_dns.empty()) {
    return invalid("flag --worker: not used with " + m +
                   ": give prefill workers with --prefill (or --prefill-dns) and decode workers "
                   "with --decode (or --decode-dns)");
  }
  if (!prefill)
    return invalid("flag --prefill: " + m + " needs prefill workers (--prefill or --prefill-dns)");
  if (!decode)
    return invalid("flag --decode: " + m + " needs decode workers (--decode or --decode-dns)");
  if (!known_policy(c.prefill_policy)) {
    return invalid("flag --prefill-policy: unknown policy '" + c.prefill_policy + "'");
  }
  if (!known_policy(c.decode_policy)) {
    return invalid("flag --decode-policy: unknown policy '" + c.decode_policy + "'");
  }
  if (*mode == PdMode::kSglang && c.pd_bypass_bytes > 0) {
    return invalid(
        "flag --pd-bypass-bytes: not with --pd-mode sglang (an SGLang decode worker "
        "cannot prefill a request alone)");
  }
  for (const auto& text : c.prefill) {
    auto p = parse_prefill_url(text);
    if (!p) return invalid("flag --prefill: " + p.error().message);
    if (p->bootstrap_port && *mode != PdMode::kSglang) {
      return invalid("flag --prefill: '" + text + "': bootstrap_port is for --pd-mode sglang");
    }
  }
  for (const auto& url : c.decode) {
    if (auto s = validate_worker_url(url); !s)
      return invalid("flag --decode: " + s.error().message);
  }
  if (auto s = check_name_port("prefill-dns", c.prefill_dns); !s) return s;
  if (auto s = check_name_port("decode-dns", c.decode_dns); !s) return s;
  return Ok{};
}

}  // namespace

Result<RouterConfig> parse_config(const std::vector<std::string>& args, const Environment& env) {
  RouterConfig c;
  // --help and --version answer whatever else is on the command line.
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") c.show_help = true;
    if (a == "--version") c.show_version = true;
  }
  if (c.show_help || c.show_version) {
    resolve_defaults(c);
    return c;
  }
  auto path = config_path_from_args(args);
  if (!path) return path.error();
  std::string file = *path;
  if (file.empty()) {
    if (auto it = env.find("RADIXMESH_CONFIG"); it != env.end()) file = it->second;
  }
  if (!file.empty()) {
    if (auto s = apply_file(c, file); !s) return s.error();
  }
  if (auto s = apply_env(c, env); !s) return s.error();
  if (auto s = apply_flags(c, args); !s) return s.error();
  resolve_defaults(c);
  if (auto s = validate(c); !s) return s.error();
  return c;
}

Result<RouterConfig> parse_config(int argc, const char* const* argv, const Environment& env) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_config(args, env);
}

Status validate(const RouterConfig& c) {
  static const std::array<std::string_view, 7> kPolicies = {
      "cache_aware",  "cost",       "round_robin",    "random",
      "power_of_two", "least_load", "consistent_hash"};
  static const std::array<std::string_view, 5> kLevels = {"trace", "debug", "info", "warn",
                                                          "error"};
  // Ranges are also checked when a value is set; re-check here so that a
  // RouterConfig built in code gets the same guarantees.
  for (const auto& spec : option_table()) {
    if (is_list(spec) || is_switch(spec) || (spec.min == 0 && spec.max == 0)) continue;
    std::string text = config_detail::get_text(c, spec);
    RouterConfig scratch;
    if (auto s = config_detail::set_from_text(scratch, spec, text, false); !s) return s.error();
  }
  if (c.host.empty()) return invalid("flag --host: must not be empty");
  if (c.admin_host.empty()) return invalid("flag --admin-host: must not be empty");
  if (std::find(kPolicies.begin(), kPolicies.end(), c.policy) == kPolicies.end()) {
    return invalid("flag --policy: unknown policy '" + c.policy +
                   "' (cache_aware|cost|round_robin|random|power_of_two|least_load|"
                   "consistent_hash)");
  }
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
    return invalid("flag --log-level: unknown level '" + c.log_level +
                   "' (trace|debug|info|warn|error)");
  }
  if (c.port != 0 && c.port == c.admin_port) {
    return invalid("flags --port and --admin-port must differ (both are " + std::to_string(c.port) +
                   ")");
  }
  if (c.mesh_port != 0 && (c.mesh_port == c.port || c.mesh_port == c.admin_port)) {  // 0 != any
    return invalid("flag --mesh-port: " + std::to_string(c.mesh_port) +
                   " is already used by --port or --admin-port");
  }
  if (!is_loopback_host(c.admin_host) && c.admin_token_file.empty()) {
    return invalid("flag --admin-host: binding the admin API to '" + c.admin_host +
                   "' (not loopback) requires --admin-token-file");
  }
  if (auto s = check_readable("admin-token-file", c.admin_token_file); !s) return s;
  if (auto s = check_readable("mesh-secret-file", c.mesh_secret_file); !s) return s;
  {
    const int tls_files =
        !c.mesh_tls_cert_file.empty() + !c.mesh_tls_key_file.empty() + !c.mesh_tls_ca_file.empty();
    if (tls_files != 0 && tls_files != 3) {
      return invalid(
          "flags --mesh-tls-cert-file, --mesh-tls-key-file and --mesh-tls-ca-file go together: "
          "set all three for mesh mutual TLS, or none");
    }
    if (tls_files == 3 && c.mesh_port == 0)
      return invalid("flag --mesh-tls-cert-file: needs --mesh-port (the mesh is disabled)");
    // PEM files may exceed the 4 KiB of a secret file (chains, CA bundles):
    // only readability is checked here, their contents when the mesh starts.
    for (const auto& [flag, path] : {std::pair{"mesh-tls-cert-file", &c.mesh_tls_cert_file},
                                     std::pair{"mesh-tls-key-file", &c.mesh_tls_key_file},
                                     std::pair{"mesh-tls-ca-file", &c.mesh_tls_ca_file}}) {
      if (!path->empty() && !std::ifstream(*path))
        return invalid(std::string("flag --") + flag + ": cannot read '" + *path + "'");
    }
  }
  if (auto s = check_readable("api-keys-file", c.api_keys_file); !s) return s;
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return invalid(c.tls_cert_file.empty()
                       ? "flag --tls-key-file: needs --tls-cert-file (both or neither)"
                       : "flag --tls-cert-file: needs --tls-key-file (both or neither)");
  }
  if (auto s = check_readable("tls-cert-file", c.tls_cert_file); !s) return s;
  if (auto s = check_readable("tls-key-file", c.tls_key_file); !s) return s;
  if (auto s = check_readable("upstream-ca-file", c.upstream_ca_file); !s) return s;
  if (c.upstream_tls_insecure && !c.upstream_ca_file.empty()) {
    return invalid(
        "flag --upstream-tls-insecure: contradicts --upstream-ca-file (verification is off)");
  }
  if (c.api_keys_file.empty() && c.rate_limit_rps > 0) {
    return invalid("flag --rate-limit-rps: needs --api-keys-file (limits are per API key)");
  }
  if (auto s = validate_pd(c); !s) return s;
  for (const auto& url : c.workers) {
    if (auto s = validate_worker_url(url); !s)
      return invalid("flag --worker: " + s.error().message);
  }
  if (!c.workers_file.empty()) {
    auto w = read_workers_file(c.workers_file);
    if (!w) return invalid("flag --workers-file: " + w.error().message);
  }
  if (auto s = check_name_port("workers-dns", c.workers_dns); !s) return s;
  if (auto s = check_name_port("peers-dns", c.peers_dns); !s) return s;
  for (const auto& p : c.peers) {
    if (auto s = check_name_port("peer", p); !s) return s;
  }
  if (!c.mesh_advertise.empty()) {
    auto hp = parse_host_port(c.mesh_advertise);
    if (!hp) return invalid("flag --mesh-advertise: " + hp.error().message);
    if (is_unspecified_host(hp->host)) {
      return invalid("flag --mesh-advertise: '" + c.mesh_advertise +
                     "' is not an address peers can dial (use this node's IP or name)");
    }
  }
  if (c.max_inflight_body_bytes != 0 && c.max_inflight_body_bytes < c.max_body_bytes) {
    return invalid("flag --max-inflight-body-bytes: " + std::to_string(c.max_inflight_body_bytes) +
                   " is below --max-body-bytes " + std::to_string(c.max_body_bytes) +
                   " (a body of the allowed size could never be read)");
  }
  if (c.session_header.empty()) return invalid("flag --session-header: must not be empty");
  if (c.node_id.empty()) return invalid("flag --node-id: must not be empty");
  return Ok{};
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("RADIXMESH_", 0) != 0) continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::string help_text() {
  std::ostringstream o;
  o << "Usage: radixmesh [flags]\n\n"
       "A cache-aware router for OpenAI-compatible LLM inference workers.\n"
       "Every flag can also be set as an environment variable RADIXMESH_<FLAG>\n"
       "(e.g. --admin-port: RADIXMESH_ADMIN_PORT; lists comma-separated) or as a key\n"
       "of the --config file. Precedence: defaults < config file < environment < flags.\n";
  RouterConfig defaults;
  std::string_view section;
  for (const auto& spec : option_table()) {
    if (spec.section != section) {
      section = spec.section;
      o << "\n" << section << ":\n";
    }
    std::string left = "  --" + std::string(spec.name);
    if (!spec.value.empty()) left += " " + std::string(spec.value);
    if (left.size() < 34)
      left.resize(34, ' ');
    else
      left += "  ";
    o << left << spec.help;
    if (!is_switch(spec) && spec.name != "config") {
      std::string def = spec.default_note.empty() ? config_detail::get_text(defaults, spec)
                                                  : std::string(spec.default_note);
      if (def.empty()) def = is_list(spec) ? "none" : "unset";
      o << " (default: " << def << ")";
    }
    if (is_list(spec)) o << " [repeatable]";
    o << "\n";
  }
  return o.str();
}

nlohmann::json to_json(const RouterConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& spec : option_table()) {
    if (spec.command_line_only) continue;
    j[std::string(spec.name)] = config_detail::get_json(c, spec);
  }
  return j;
}

std::optional<int> handle_informational_flags(const RouterConfig& c, std::ostream& out,
                                              const std::string& version) {
  if (c.show_help) {
    out << help_text();
    return 0;
  }
  if (c.show_version) {
    out << "radixmesh " << version << "\n";
    return 0;
  }
  if (c.print_config) {
    out << to_json(c).dump(2) << "\n";
    return 0;
  }
  return std::nullopt;
}

Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot read '" + path + "'");
  std::string text(4097, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > 4096) {
    return make_error(ErrorCode::kTooLarge, "'" + path + "' is larger than 4 KiB");
  }
  size_t b = text.find_first_not_of(" \t\r\n");
  size_t e = text.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "'" + path + "' is empty");
  }
  return text.substr(b, e - b + 1);
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char ch : host) {
    if (ch == '.')
      ++dots;
    else if (ch < '0' || ch > '9')
      return false;
  }
  return dots == 3;
}

Result<HostPort> parse_host_port(const std::string& text) {
  auto hp = radix::parse_host_port(text);
  if (!hp) return invalid(hp.error().message);
  return HostPort{hp->host, hp->port};
}

Status validate_worker_url(const std::string& url) {
  auto a = parse_worker_url(url);
  if (!a) return invalid(a.error().message);
  return Ok{};
}

Result<std::vector<std::string>> read_workers_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot read workers file '" + path + "'");
  std::vector<std::string> urls;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    if (++n > 100000)
      return make_error(ErrorCode::kTooLarge, "workers file '" + path + "' too long");
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    size_t e = line.find_last_not_of(" \t\r");
    std::string url = line.substr(b, e - b + 1);
    if (auto s = validate_worker_url(url); !s) {
      return invalid("workers file '" + path + "' line " + std::to_string(n) + ": " +
                     s.error().message);
    }
    urls.push_back(std::move(url));
  }
  return urls;
}

}  // namespace radixmesh::router
