// RoutingEngine over a real registry, tree catalog and policy (no sockets).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/routing_engine.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {

struct Fixture {
  explicit Fixture(const std::string& policy_name = "cache_aware", size_t workers = 3)
      : broker(size_t{256} << 20),
        trees(tree_options(), 16, &broker, nullptr),
        policy(make(policy_name)),
        registry(WorkerRegistry::Options{4096, {}},
                 [this](const std::string& url) { return directory.intern(url); }),
        clock([] { return uint64_t{1700000000000}; }),
        engine(registry, trees, *policy, clock, routing_options()) {
    for (size_t i = 0; i < workers; ++i) {
      auto w = registry.add("http://127.0.0.1:" + std::to_string(10000 + i)).value();
      registry.set_models(w, {"m"});
      w->set_healthy(true);
    }
  }
  static radix::PrefixTree::Options tree_options() {
    radix::PrefixTree::Options o;
    o.max_blocks_per_worker = 1 << 20;
    return o;
  }
  static RoutingOptions routing_options() {
    RoutingOptions r;
    r.block_bytes = 64;
    return r;
  }
  static std::unique_ptr<policies::Policy> make(const std::string& name) {
    policies::PolicyConfig c;
    c.name = name;
    return policies::make_policy(c).value();
  }
  PreparedRequest prepare(const std::string& body) {
    PreparedRequest p;
    auto s = engine.prepare(scratch, body, radix::Endpoint::kChatCompletions, "", p);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return p;
  }

  radix::WorkerDirectory directory;
  radix::MemoryBroker broker;
  radix::TreeCatalog trees;
  std::unique_ptr<policies::Policy> policy;
  WorkerRegistry registry;
  radix::HybridClock clock;
  RoutingEngine engine;
  RoutingScratch scratch{radix::ParseLimits{}, 42};
};

std::string chat(const std::string& system, const std::string& user,
                 const std::string& model = "m") {
  return R"({"model":")" + model + R"(","messages":[{"role":"system","content":")" + system +
         R"("},{"role":"user","content":")" + user + R"("}]})";
}

std::string text(size_t n, int seed) {
  std::string s;
  for (int i = 0; s.size() < n; ++i)
    s += "w" + std::to_string(seed) + "x" + std::to_string(i) + " ";
  s.resize(n);
  return s;
}

}  // namespace

TEST_CASE("a later turn follows the worker that holds the earlier turn's prefix") {
  Fixture f;
  const std::string sys = text(2000, 1);
  auto first = f.prepare(chat(sys, "first question"));
  CHECK(first.blocks.size() > 10);
  auto c1 = f.engine.choose(f.scratch, first, {});
  REQUIRE(c1.ok());
  const auto chosen = c1->worker().id();
  CHECK(c1->worker().in_flight() == 1);
  c1 = make_error(ErrorCode::kInternal, "released");  // ends the exchange
  auto second = f.prepare(chat(sys, "first question and a follow-up"));
  auto c2 = f.engine.choose(f.scratch, second, {});
  REQUIRE(c2.ok());
  CHECK(c2->worker().id() == chosen);
  CHECK(c2->decision.reason == policies::Reason::kCacheHit);
  CHECK(c2->decision.matched_blocks > 10);
}

TEST_CASE("exclusions, drained, removed and unhealthy workers are never chosen") {
  Fixture f("round_robin", 3);
  auto snap = f.registry.snapshot();
  auto req = f.prepare(chat("s", "u"));
  std::vector<radix::WorkerId> exclude{snap->all[0]->id()};
  snap->all[1]->set_draining(true);
  for (int i = 0; i < 20; ++i) {
    auto c = f.engine.choose(f.scratch, req, exclude);
    REQUIRE(c.ok());
    CHECK(c->worker().id() == snap->all[2]->id());
  }
  snap->all[2]->set_healthy(false);
  auto none = f.engine.choose(f.scratch, req, exclude);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kUnavailable);
  REQUIRE(f.registry.remove(snap->all[0]->url()).ok());
  auto c = f.engine.choose(f.scratch, req, {});
  CHECK_FALSE(c.ok());  // 1 drained, 2 unhealthy, 0 removed
}

TEST_CASE("an unknown model is kNotFound, a bad body kInvalidArgument") {
  Fixture f;
  auto req = f.prepare(chat("s", "u", "other"));
  auto c = f.engine.choose(f.scratch, req, {});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::kNotFound);
  PreparedRequest p;
  auto bad = f.engine.prepare(f.scratch, "{nope", radix::Endpoint::kChatCompletions, "", p);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("removing a worker erases it from the tree: its conversations move") {
  Fixture f;
  f.registry.set_on_removed(
      [&](const std::shared_ptr<Worker>& w) { f.trees.remove_worker_everywhere(w->id()); });
  const std::string sys = text(3000, 7);
  auto req = f.prepare(chat(sys, "q"));
  std::string url;
  {
    auto c = f.engine.choose(f.scratch, req, {});
    REQUIRE(c.ok());
    url = c->worker().url();
  }
  REQUIRE(f.registry.remove(url).ok());
  auto tree = f.trees.find("m");
  REQUIRE(tree);
  auto match = tree->match(req.blocks);
  for (const auto& t : match.tenants) CHECK(f.directory.url_of(t.worker) != url);
  auto c = f.engine.choose(f.scratch, req, {});
  REQUIRE(c.ok());
  CHECK(c->worker().url() != url);
}

TEST_CASE("a half-open breaker admits one probe; others route elsewhere meanwhile") {
  Fixture f("round_robin", 2);
  auto snap = f.registry.snapshot();
  Worker& w0 = *snap->all[0];
  for (int i = 0; i < 5; ++i) w0.breaker().on_failure(0, false);  // open since t=0
  // Cooldown (5 s default) is long over on the steady clock: half-open.
  auto req = f.prepare(chat("s", "u"));
  std::vector<RouteChoice> held;
  int probes = 0;
  for (int i = 0; i < 10; ++i) {
    auto c = f.engine.choose(f.scratch, req, {});
    REQUIRE(c.ok());
    if (c->worker().id() == w0.id()) {
      CHECK(c->probe);
      ++probes;
    }
    held.push_back(std::move(c).value());
  }
  CHECK(probes == 1);
}

TEST_CASE("decision time with 1000 registered workers (cache_aware)") {
  Fixture f("cache_aware", 1000);
  std::vector<PreparedRequest> reqs;
  for (int i = 0; i < 200; ++i)
    reqs.push_back(f.prepare(chat(text(4000, i % 50), "q" + std::to_string(i))));
  std::vector<double> us;
  for (int round = 0; round < 5; ++round) {
    for (auto& r : reqs) {
      auto c = f.engine.choose(f.scratch, r, {});
      REQUIRE(c.ok());
      us.push_back(std::chrono::duration<double, std::micro>(c->decision_time).count());
    }
  }
  std::sort(us.begin(), us.end());
  const double p50 = us[us.size() / 2], p99 = us[us.size() * 99 / 100];
  std::printf("routing decision, 1000 workers: p50 %.1f us, p99 %.1f us\n", p50, p99);
  // Generous bound (shared CI machine); the target (50 us p99) is measured
  // in docs/benchmarks.md.
  CHECK(p99 < 5000);
}
