// Configuration: precedence of the four sources, every validation rule,
// --help completeness and the --print-config round trip.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "router/component_options.h"
#include "router/config.h"
#include "router/config_file.h"
#include "router/config_options.h"

using radixmesh::router::Environment;
using radixmesh::router::parse_config;
using radixmesh::router::RouterConfig;
namespace detail = radixmesh::router::config_detail;

namespace {

// A file under the system temp dir, removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content, const std::string& suffix = ".json") {
    char tmpl[] = "/tmp/radixmesh-config-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    std::remove(tmpl);
    path = std::string(tmpl) + suffix;
    std::ofstream(path) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

RouterConfig parse_ok(std::vector<std::string> args, Environment env = {}) {
  auto r = parse_config(args, env);
  if (!r) FAIL("unexpected error: " << r.error().message);
  return r.value();
}

std::string parse_err(std::vector<std::string> args, Environment env = {}) {
  auto r = parse_config(args, env);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("config: port 0 asks for any free port, for both ports at once") {
  RouterConfig c = parse_ok({"--port", "0", "--admin-port", "0", "--port-file", "ports.json"});
  CHECK(c.port == 0);
  CHECK(c.admin_port == 0);
  CHECK(c.port_file == "ports.json");
  // Two fixed equal ports still clash.
  CHECK(contains(parse_err({"--port", "9100", "--admin-port", "9100"}), "must differ"));
}

TEST_CASE("config: defaults are the documented ones and resolve threads and node id") {
  RouterConfig c = parse_ok({});
  CHECK(c.host == "0.0.0.0");
  CHECK(c.port == 8000);
  CHECK(c.admin_host == "127.0.0.1");
  CHECK(c.admin_port == 9000);
  CHECK(c.policy == "cache_aware");
  CHECK(c.block_bytes == 64);
  CHECK(c.max_body_bytes == 8388608);
  CHECK(c.max_retries == 2);
  CHECK(c.mesh_port == 0);
  CHECK(c.threads >= 1);
  CHECK_FALSE(c.node_id.empty());
  // Client deadlines are their own, not --idle-timeout-ms (upstream).
  CHECK(c.client_header_timeout_ms == 10000);
  CHECK(c.client_body_timeout_ms == 60000);
  CHECK(c.client_idle_timeout_ms == 60000);
  const RouterConfig short_idle = parse_ok({"--idle-timeout-ms", "500"});
  CHECK(short_idle.client_header_timeout_ms == 10000);
  CHECK(short_idle.client_idle_timeout_ms == 60000);
  // The body budget is derived from the memory budget, at least one body.
  CHECK(c.max_inflight_body_bytes == c.memory_budget_bytes / 4);
  const RouterConfig small = parse_ok({"--memory-budget-bytes", "2097152"});
  CHECK(small.max_inflight_body_bytes == small.max_body_bytes);
  CHECK(parse_ok({"--max-inflight-body-bytes", "9000000"}).max_inflight_body_bytes == 9000000);
}

TEST_CASE("config: precedence is default < file < env < flag, per field") {
  TempFile file(R"({"port": 8101, "admin-port": 9101, "policy": "round_robin",
                    "log_level": "debug", "worker": ["http://127.0.0.1:7001"]})");
  Environment env{{"RADIXMESH_ADMIN_PORT", "9202"}, {"RADIXMESH_POLICY", "least_load"}};
  RouterConfig c = parse_ok({"--config", file.path, "--policy", "cost"}, env);
  CHECK(c.port == 8101);          // file over default
  CHECK(c.admin_port == 9202);    // env over file
  CHECK(c.policy == "cost");      // flag over env over file
  CHECK(c.log_level == "debug");  // file key with underscores
  CHECK(c.block_bytes == 64);     // default untouched
  CHECK(c.workers == std::vector<std::string>{"http://127.0.0.1:7001"});
  CHECK(c.config_file == file.path);

  SUBCASE("the config file can come from RADIXMESH_CONFIG") {
    RouterConfig d = parse_ok({}, {{"RADIXMESH_CONFIG", file.path}});
    CHECK(d.port == 8101);
  }
  SUBCASE("a repeated flag replaces the list from lower sources") {
    RouterConfig d = parse_ok({"--config", file.path, "--worker", "http://127.0.0.1:7002",
                               "--worker=http://127.0.0.1:7003"},
                              {{"RADIXMESH_WORKER", "http://127.0.0.1:7009"}});
    CHECK(d.workers == std::vector<std::string>{"http://127.0.0.1:7002", "http://127.0.0.1:7003"});
  }
  SUBCASE("env lists are comma-separated and replace the file's") {
    RouterConfig d =
        parse_ok({"--config", file.path},
                 {{"RADIXMESH_WORKER", "http://127.0.0.1:7005, http://127.0.0.1:7006"}});
    CHECK(d.workers == std::vector<std::string>{"http://127.0.0.1:7005", "http://127.0.0.1:7006"});
  }
}

TEST_CASE("config: YAML files are read like JSON ones") {
  TempFile file(
      "# router settings\n"
      "port: 8300\n"
      "policy: \"power_of_two\"   # comment\n"
      "peer:\n"
      "  - 127.0.0.1:7946\n"
      "  - 127.0.0.2:7946\n"
      "worker: [http://127.0.0.1:7001, 'http://127.0.0.1:7002']\n",
      ".yaml");
  RouterConfig c = parse_ok({"--config=" + file.path});
  CHECK(c.port == 8300);
  CHECK(c.policy == "power_of_two");
  CHECK(c.peers == std::vector<std::string>{"127.0.0.1:7946", "127.0.0.2:7946"});
  CHECK(c.workers.size() == 2);

  auto nested = detail::parse_flat_yaml("a:\n  b: 1\n");
  CHECK_FALSE(nested.ok());
  CHECK(contains(nested.error().message, "line 2"));
}

TEST_CASE("config: every validation error is refused with a message naming the flag") {
  struct Case {
    std::vector<std::string> args;
    Environment env;
    std::string needle;
  };
  TempFile empty_token("   \n");
  std::vector<Case> cases = {
      {{"--port", "-1"}, {}, "port"},
      {{"--port", "70000"}, {}, "between 0 and 65535"},
      {{"--port", "80a"}, {}, "not an integer"},
      {{"--admin-port", "-1"}, {}, "admin-port"},
      {{"--port", "9000"}, {}, "must differ"},
      {{"--mesh-port", "8000"}, {}, "mesh-port"},
      {{"--policy", "fastest"}, {}, "unknown policy 'fastest'"},
      {{"--log-level", "loud"}, {}, "unknown level"},
      {{"--admin-host", "0.0.0.0"}, {}, "requires --admin-token-file"},
      {{"--admin-host", "10.0.0.5"}, {}, "not loopback"},
      {{"--admin-token-file", "/nonexistent/token"}, {}, "admin-token-file"},
      {{"--admin-token-file", empty_token.path}, {}, "is empty"},
      {{"--mesh-secret-file", "/nonexistent/secret"}, {}, "mesh-secret-file"},
      {{"--mesh-port", "7946", "--mesh-tls-cert-file", empty_token.path}, {}, "go together"},
      {{"--mesh-port", "7946", "--mesh-tls-key-file", empty_token.path, "--mesh-tls-ca-file",
        empty_token.path},
       {},
       "go together"},
      {{"--mesh-tls-cert-file", empty_token.path, "--mesh-tls-key-file", empty_token.path,
        "--mesh-tls-ca-file", empty_token.path},
       {},
       "needs --mesh-port"},
      {{"--mesh-port", "7946", "--mesh-tls-cert-file", empty_token.path, "--mesh-tls-key-file",
        "/nonexistent/key", "--mesh-tls-ca-file", empty_token.path},
       {},
       "--mesh-tls-key-file: cannot read"},
      {{"--mesh-advertise", "0.0.0.0:7946"}, {}, "not an address peers can dial"},
      {{"--mesh-advertise", "node-a"}, {}, "HOST:PORT"},
      {{"--peer", "127.0.0.1:99999"}, {}, "port"},
      {{"--peers-dns", "routers"}, {}, "peers-dns"},
      {{"--workers-dns", "workers:abc"}, {}, "workers-dns"},
      {{"--worker", "ftp://127.0.0.1:7001"}, {}, "http://"},
      {{"--worker", "http://127.0.0.1:7001/v1"}, {}, "a path is not allowed"},
      {{"--workers-file", "/nonexistent/workers"}, {}, "workers-file"},
      {{"--block-bytes", "0"}, {}, "block-bytes"},
      {{"--cache-threshold", "1.5"}, {}, "cache-threshold"},
      {{"--max-retries", "1000"}, {}, "max-retries"},
      {{"--threads", "many"}, {}, "threads"},
      {{"--memory-budget-bytes", "1024"}, {}, "memory-budget-bytes"},
      {{"--no-such-flag"}, {}, "unknown flag --no-such-flag"},
      {{"--admin_port", "9001"}, {}, "unknown flag"},
      {{"positional"}, {}, "unexpected argument"},
      {{"--port"}, {}, "needs a value"},
      {{"--config", "/nonexistent/radixmesh.json"}, {}, "cannot read config file"},
      {{}, {{"RADIXMESH_PORT", "eighty"}}, "environment RADIXMESH_PORT"},
      {{}, {{"RADIXMESH_POLICY", "nope"}}, "unknown policy"},
      {{"--session-header", ""}, {}, "session-header"},
      {{"--max-inflight-body-bytes", "1000"}, {}, "below --max-body-bytes"},
      {{"--client-header-timeout-ms", "0"}, {}, "client-header-timeout-ms"},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.needle);
    std::string msg = parse_err(tc.args, tc.env);
    CHECK_MESSAGE(contains(msg, tc.needle), msg);
  }
}

TEST_CASE("config: bad config files are refused with the reason") {
  TempFile bad_json("{\"port\": ");
  CHECK(contains(parse_err({"--config", bad_json.path}), "not a valid JSON object"));
  TempFile unknown_key(R"({"prot": 8000})");
  CHECK(contains(parse_err({"--config", unknown_key.path}), "unknown key 'prot'"));
  TempFile bad_value(R"({"port": "x"})");
  CHECK(contains(parse_err({"--config", bad_value.path}), "port"));
  TempFile bad_list(R"({"worker": [1, 2]})");
  CHECK(contains(parse_err({"--config", bad_list.path}), "list of strings"));
  TempFile help_key(R"({"help": true})");
  CHECK(contains(parse_err({"--config", help_key.path}), "unknown key 'help'"));
}

TEST_CASE("config: a token file makes a non-loopback admin host valid; loopback needs none") {
  TempFile token("s3cret\n");
  RouterConfig c = parse_ok({"--admin-host", "0.0.0.0", "--admin-token-file", token.path});
  CHECK(c.admin_host == "0.0.0.0");
  auto t = radixmesh::router::read_secret_file(token.path);
  REQUIRE(t.ok());
  CHECK(*t == "s3cret");
  CHECK(parse_config({"--admin-host", "127.0.0.2"}, {}).ok());
  CHECK(parse_config({"--admin-host", "localhost"}, {}).ok());
  CHECK(parse_config({"--admin-host", "::1"}, {}).ok());
  CHECK_FALSE(radixmesh::router::is_loopback_host("128.0.0.1"));
  CHECK_FALSE(radixmesh::router::is_loopback_host("127.0.0.1.example.com"));
}

TEST_CASE("config: --help and --version skip validation, and help lists every flag") {
  RouterConfig c = parse_ok({"--help", "--port", "0"});
  CHECK(c.show_help);
  std::ostringstream out;
  auto code = radixmesh::router::handle_informational_flags(c, out, "9.9.9");
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const std::string help = out.str();
  RouterConfig defaults;
  for (const auto& spec : detail::option_table()) {
    CAPTURE(spec.name);
    // Each flag appears once, at the start of its own line.
    std::string flag = "\n  --" + std::string(spec.name) + " ";
    std::string flag_eol = "\n  --" + std::string(spec.name) + "\n";
    CHECK((contains(help, flag) || contains(help, flag_eol)));
    if (detail::is_switch(spec) || spec.name == "config") continue;
    size_t at = help.find(flag);
    REQUIRE(at != std::string::npos);
    std::string line = help.substr(at + 1, help.find('\n', at + 1) - at - 1);
    std::string def = spec.default_note.empty() ? detail::get_text(defaults, spec)
                                                : std::string(spec.default_note);
    if (def.empty()) def = detail::is_list(spec) ? "none" : "unset";
    CHECK_MESSAGE(contains(line, "(default: " + def + ")"), line);
  }
  // The agreed flags of the command-line contract are all there.
  for (const char* f : {"host",
                        "port",
                        "admin-host",
                        "admin-port",
                        "admin-token-file",
                        "threads",
                        "worker",
                        "workers-file",
                        "workers-dns",
                        "policy",
                        "default-model",
                        "block-bytes",
                        "max-body-bytes",
                        "max-blocks-per-worker",
                        "memory-budget-bytes",
                        "session-header",
                        "connect-timeout-ms",
                        "first-byte-timeout-ms",
                        "idle-timeout-ms",
                        "max-retries",
                        "pool-size",
                        "health-interval-ms",
                        "breaker-failures",
                        "breaker-cooldown-ms",
                        "shutdown-grace-ms",
                        "node-id",
                        "mesh-port",
                        "mesh-advertise",
                        "peer",
                        "peers-dns",
                        "mesh-secret-file",
                        "gossip-interval-ms",
                        "log-level",
                        "config",
                        "print-config",
                        "help",
                        "version"}) {
    CAPTURE(f);
    CHECK(contains(help, "\n  --" + std::string(f)));
  }
  CHECK(contains(help, "(default: 8388608)"));

  RouterConfig v = parse_ok({"--version"});
  std::ostringstream vout;
  CHECK(radixmesh::router::handle_informational_flags(v, vout, "9.9.9") == 0);
  CHECK(contains(vout.str(), "9.9.9"));
  CHECK_FALSE(radixmesh::router::handle_informational_flags(parse_ok({}), vout, "x").has_value());
}

TEST_CASE("config: print-config round trip reproduces the same configuration") {
  TempFile token("tok");
  RouterConfig a = parse_ok(
      {"--port", "8123", "--admin-host", "0.0.0.0", "--admin-token-file", token.path, "--worker",
       "http://127.0.0.1:7001", "--worker", "http://[::1]:7002", "--peer", "127.0.0.1:7946",
       "--cache-threshold", "0.25", "--node-id", "router-0", "--threads", "3", "--print-config"},
      {{"RADIXMESH_MAX_RETRIES", "4"}});
  CHECK(a.print_config);
  std::ostringstream out;
  CHECK(radixmesh::router::handle_informational_flags(a, out, "v") == 0);
  auto printed = nlohmann::json::parse(out.str());
  CHECK(printed["max-retries"] == 4);         // env value shown
  CHECK(printed["port"] == 8123);             // flag value shown
  CHECK(printed["policy"] == "cache_aware");  // default shown
  CHECK_FALSE(printed.contains("help"));

  TempFile file(printed.dump());
  RouterConfig b = parse_ok({"--config", file.path});
  nlohmann::json again = radixmesh::router::to_json(b);
  CHECK(again == printed);
  CHECK(b.workers == a.workers);
  CHECK(b.cache_threshold == doctest::Approx(0.25));
}

TEST_CASE("config: workers file lines are validated and comments skipped") {
  TempFile ok("# workers\nhttp://127.0.0.1:7001\n\n  http://127.0.0.1:7002  # second\n");
  auto urls = radixmesh::router::read_workers_file(ok.path);
  REQUIRE(urls.ok());
  CHECK(*urls == std::vector<std::string>{"http://127.0.0.1:7001", "http://127.0.0.1:7002"});
  TempFile bad("http://127.0.0.1:7001\nnot-a-url\n");
  auto e = radixmesh::router::read_workers_file(bad.path);
  REQUIRE_FALSE(e.ok());
  CHECK(contains(e.error().message, "line 2"));
  CHECK(contains(parse_err({"--workers-file", bad.path}), "line 2"));
}

TEST_CASE("config: host:port parsing") {
  auto hp = radixmesh::router::parse_host_port("[::1]:7946");
  REQUIRE(hp.ok());
  CHECK(hp->host == "::1");
  CHECK(hp->port == 7946);
  CHECK_FALSE(radixmesh::router::parse_host_port("::1:7946").ok());
  CHECK_FALSE(radixmesh::router::parse_host_port(":7946").ok());
  CHECK_FALSE(radixmesh::router::parse_host_port("host:0").ok());
  CHECK(radixmesh::router::parse_host_port("radixmesh-mesh.default.svc:7946").ok());
}

TEST_CASE("config: PD mode takes two pools, per-pool policies and per-worker bootstrap ports") {
  auto c = parse_ok({"--pd-mode", "sglang", "--prefill", "http://p1:30000?bootstrap_port=9001",
                     "--prefill", "http://p2:30000", "--decode", "http://d1:30000",
                     "--prefill-bootstrap-port", "9100", "--decode-policy", "round_robin"});
  CHECK(c.pd_mode == "sglang");
  CHECK(c.prefill.size() == 2);
  CHECK(c.prefill_policy == "cache_aware");  // the defaults
  CHECK(c.decode_policy == "round_robin");
  const auto o = radixmesh::router::component_options(c);
  CHECK(o.pd.mode == radixmesh::router::PdMode::kSglang);
  CHECK(o.pd.prefill_urls == std::vector<std::string>{"http://p1:30000", "http://p2:30000"});
  REQUIRE(o.pd.bootstrap_overrides.size() == 1);
  CHECK(o.pd.bootstrap_overrides[0].first == "http://p1:30000");
  CHECK(o.pd.bootstrap_overrides[0].second == 9001);
  CHECK(o.pd.bootstrap_port == 9100);
  CHECK(o.pd.decode_policy.name == "round_robin");

  // From the environment, as lists.
  auto e = parse_ok({}, {{"RADIXMESH_PD_MODE", "vllm"},
                         {"RADIXMESH_PREFILL", "http://p1:1,http://p2:2"},
                         {"RADIXMESH_DECODE_DNS", "decode.ns.svc:8000"}});
  CHECK(e.prefill.size() == 2);
  CHECK(e.decode_dns == "decode.ns.svc:8000");
}

TEST_CASE("config: PD mode refuses what it cannot route") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pd-mode", "nixl"}, "unknown mode 'nixl'"},
      {{"--prefill", "http://p:1", "--decode", "http://d:1"}, "needs --pd-mode"},
      {{"--pd-mode", "sglang", "--worker", "http://w:1", "--prefill", "http://p:1", "--decode",
        "http://d:1"},
       "--worker: not used with --pd-mode sglang"},
      {{"--pd-mode", "vllm", "--workers-dns", "w:1", "--prefill", "http://p:1", "--decode",
        "http://d:1"},
       "--worker: not used"},
      {{"--pd-mode", "sglang", "--decode", "http://d:1"}, "needs prefill workers"},
      {{"--pd-mode", "vllm", "--prefill-dns", "p:1"}, "needs decode workers"},
      {{"--pd-mode", "sglang", "--prefill", "http://p:1?bootstrap_port=x", "--decode",
        "http://d:1"},
       "bootstrap_port must be 1..65535"},
      {{"--pd-mode", "sglang", "--prefill", "http://p:1?port=3", "--decode", "http://d:1"},
       "the only query is ?bootstrap_port=N"},
      {{"--pd-mode", "vllm", "--prefill", "http://p:1?bootstrap_port=3", "--decode", "http://d:1"},
       "bootstrap_port is for --pd-mode sglang"},
      {{"--pd-mode", "sglang", "--prefill", "ftp://p:1", "--decode", "http://d:1"}, "--prefill"},
      {{"--pd-mode", "sglang", "--prefill", "http://p:1", "--decode", "http://d:1/v1"}, "--decode"},
      {{"--pd-mode", "sglang", "--prefill", "http://p:1", "--decode", "http://d:1",
        "--pd-bypass-bytes", "64"},
       "--pd-bypass-bytes: not with --pd-mode sglang"},
      {{"--pd-mode", "vllm", "--prefill", "http://p:1", "--decode", "http://d:1", "--decode-policy",
        "fastest"},
       "--decode-policy: unknown policy"},
  };
  for (const auto& c : cases) {
    const std::string& needle = c.second;  // not a structured binding: CAPTURE's lambda takes it
    CAPTURE(needle);
    const std::string message = parse_err(c.first);
    CHECK_MESSAGE(contains(message, needle), message);
  }
}
