// The one mapping from flags to components (router/component_options.h):
// every option of the table reaches some component, and the settings that
// were once lost on the way reach theirs.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "policies/policy.h"
#include "router/component_options.h"
#include "router/config.h"
#include "router/config_options.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::router;
namespace cfg = radixmesh::router::config_detail;

namespace {

// Options that are requests to the process, not settings of a component.
const std::set<std::string> kInformational = {"config", "print-config", "help", "version"};

// A configuration with every optional feature on, so that the options that
// only matter with their feature (rate limits with keys, the queue with a
// cap, gossip with a mesh) are checked too.
RouterConfig everything_on() {
  const auto keys = std::filesystem::temp_directory_path() / "radixmesh-test-options-keys.txt";
  std::ofstream(keys) << "sk-test name=t\n";
  auto c = parse_config(
      std::vector<std::string>{"--worker", "http://127.0.0.1:7001", "--mesh-port", "7946",
                               "--api-keys-file", keys.string(), "--max-in-flight-per-worker", "4",
                               "--capacity-estimate"},
      {});
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  return std::move(c).value();
}

// Another valid value for the option, as text.
std::string other_value(const RouterConfig& c, const cfg::OptionSpec& spec) {
  if (cfg::is_switch(spec)) return cfg::get_json(c, spec).get<bool>() ? "false" : "true";
  if (cfg::is_list(spec)) return "127.0.0.1:9";
  const nlohmann::json now = cfg::get_json(c, spec);
  if (now.is_number()) {
    const double v = now.get<double>();
    const bool bounded = !(spec.min == 0 && spec.max == 0);
    const bool integral = now.is_number_integer() || now.is_number_unsigned();
    double next = v + (integral ? 1 : 0.25);
    if (bounded && next > spec.max) next = v - (integral ? 1 : 0.25);
    if (bounded && next < spec.min) next = (spec.min + spec.max) / 2;
    return integral ? std::to_string(static_cast<int64_t>(next)) : std::to_string(next);
  }
  return now.get<std::string>() + "-other";
}

}  // namespace

TEST_CASE("component options: every option changes what some component gets") {
  const RouterConfig base = everything_on();
  const ComponentOptions before = component_options(base);
  size_t checked = 0;
  for (const cfg::OptionSpec& spec : cfg::option_table()) {
    const std::string name(spec.name);
    if (kInformational.count(name)) continue;
    CAPTURE(name);
    RouterConfig changed = base;
    // An enumerated option needs another valid value.
    const std::string text = name == "pd-mode" ? "vllm" : other_value(base, spec);
    CAPTURE(text);
    const auto set = cfg::set_from_text(changed, spec, text, /*append_item=*/true);
    REQUIRE_MESSAGE(set.ok(), set.error().message);
    CHECK_MESSAGE(!(component_options(changed) == before),
                  "--" << name << " reaches no component (router/component_options.cc)");
    ++checked;
  }
  CHECK(checked + kInformational.size() == cfg::option_table().size());
}

TEST_CASE("component options: the consistent_hash load factor reaches the policy") {
  using namespace radixmesh::policies;
  using namespace radixmesh::policies::testing;
  auto parsed = parse_config(
      std::vector<std::string>{"--worker", "http://127.0.0.1:7001", "--policy", "consistent_hash",
                               "--consistent-hash-load-factor", "4"},
      {});
  REQUIRE(parsed.ok());
  const ComponentOptions o = component_options(*parsed);
  CHECK(o.policy.consistent_hash_load_factor == 4.0);
  // Its effect: home carries 10 of 12 in flight. With the default 1.25 the
  // bound is ceil(1.25 * 13 / 4) = 5 and the key overflows; with 4 it is 13
  // and the key stays home.
  auto policy = make_policy(o.policy);
  REQUIRE(policy.ok());
  PolicyConfig defaults = o.policy;
  defaults.consistent_hash_load_factor = 1.25;
  auto default_policy = make_policy(defaults);
  REQUIRE(default_policy.ok());
  Xoshiro256 rng(4);
  Cluster cluster(4);
  Prompt prompt(3, "user-42");
  const auto home = (*policy)->choose(prompt.view(), cluster.span(), nullptr, rng).index;
  REQUIRE(home.has_value());
  cluster[*home].local_in_flight = 10;
  cluster[(*home + 1) % 4].local_in_flight = 2;
  CHECK((*policy)->choose(prompt.view(), cluster.span(), nullptr, rng).index == home);
  CHECK((*default_policy)->choose(prompt.view(), cluster.span(), nullptr, rng).index != home);
}

TEST_CASE("component options: --dns-interval-ms reaches both worker and peer discovery") {
  auto parsed = parse_config(
      std::vector<std::string>{"--workers-dns", "workers:8000", "--mesh-port", "7946",
                               "--peers-dns", "routers:7946", "--dns-interval-ms", "700"},
      {});
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  const ComponentOptions o = component_options(*parsed);
  CHECK(o.workers.dns_interval == std::chrono::milliseconds(700));
  CHECK(o.mesh.dns_interval_ms == 700);
}
