// Anti-herding (load_slack): meshed routers deciding at the same moment on
// the same view must not all take the same worker. Deterministic: every
// "router" has its own seeded generator.
#include <doctest/doctest.h>

#include <array>
#include <random>
#include <set>

#include "fixtures.h"
#include "policies/candidates.h"

using namespace radixmesh;
using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

namespace {

PolicyConfig cache_aware(uint64_t slack) {
  PolicyConfig c;
  c.load_slack = slack;
  return c;
}

struct Herding {
  double all_same = 0;   // share of moments where every router chose the same worker
  double pair_same = 0;  // share of router pairs that chose the same worker
};

// `moments` simultaneous decisions of `routers` routers on one shared view:
// 8 workers, loads 0..3, tree sizes (so free budgets) all different, no
// cache match (new conversations: the case that herds).
Herding simulate(uint64_t slack, int moments, size_t routers) {
  auto policy = make(cache_aware(slack));
  REQUIRE(policy);
  std::vector<Xoshiro256> rngs;
  for (size_t r = 0; r < routers; ++r) rngs.emplace_back(0xA11CE + 977 * r);
  std::mt19937_64 views(7);
  Prompt prompt(16);
  int all_same = 0, pair_same = 0, pairs = 0;
  for (int m = 0; m < moments; ++m) {
    Cluster c(8, 100000);
    for (size_t i = 0; i < c.size(); ++i) {
      c[i].local_in_flight = static_cast<uint32_t>(views() % 4);
      c[i].tree_blocks = 1000 + views() % 50000;
    }
    std::vector<size_t> picks;
    for (auto& rng : rngs) {
      auto d = policy->choose(prompt.view(), c.span(), nullptr, rng);
      REQUIRE(d.index);
      picks.push_back(*d.index);
    }
    all_same += std::set<size_t>(picks.begin(), picks.end()).size() == 1;
    for (size_t a = 0; a < picks.size(); ++a)
      for (size_t b = a + 1; b < picks.size(); ++b) {
        ++pairs;
        pair_same += picks[a] == picks[b];
      }
  }
  return {static_cast<double>(all_same) / moments, static_cast<double>(pair_same) / pairs};
}

}  // namespace

TEST_CASE("slack 0 keeps the exact minimum and the free-budget tie-break") {
  Cluster c(4);
  c.set_loads({2, 1, 1, 3});
  c[1].tree_blocks = 10;
  c[2].tree_blocks = 500;  // less free budget
  Xoshiro256 rng(1);
  for (int i = 0; i < 50; ++i) CHECK(least_loaded(c.span(), rng, 0) == std::optional<size_t>{1});
}

TEST_CASE("slack draws uniformly among workers within it of the lowest, never beyond") {
  Cluster c(5);
  c.set_loads({2, 1, 1, 3, 5});
  Xoshiro256 rng(2);
  std::array<int, 5> hits{};
  for (int i = 0; i < 600; ++i) {
    auto pick = least_loaded(c.span(), rng, 1);
    REQUIRE(pick);
    ++hits[*pick];
  }
  CHECK(hits[3] == 0);
  CHECK(hits[4] == 0);
  for (int i = 0; i < 3; ++i) CHECK(hits[i] > 120);  // ~200 each
  // Unhealthy and filtered-out workers never count, even at the lowest load.
  c[1].healthy = false;
  std::set<size_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto pick = least_loaded_within(c.span(), rng, 1, [](size_t k) { return k != 2; });
    REQUIRE(pick);
    seen.insert(*pick);
  }
  CHECK(seen == std::set<size_t>{0, 3});  // lowest left is 2 (worker 0); 3 is within slack
}

TEST_CASE("meshed routers deciding at once on one view spread instead of herding") {
  const Herding exact = simulate(0, 2000, 3);
  const Herding slack = simulate(1, 2000, 3);
  MESSAGE("3 routers, slack 0: all same " << exact.all_same << ", pairs same " << exact.pair_same);
  MESSAGE("3 routers, slack 1: all same " << slack.all_same << ", pairs same " << slack.pair_same);
  CHECK(exact.all_same > 0.95);  // the free-budget tie-break: everyone takes the same worker
  CHECK(slack.all_same < 0.25);
  CHECK(slack.pair_same < 0.5);
}

TEST_CASE("a cache hit is followed with slack too: only among the holders") {
  auto policy = make(cache_aware(1));
  Cluster c(4);
  c.set_loads({0, 0, 1, 0});
  Prompt p(10);
  auto m = match_of({{1, 10}, {2, 10}});
  Xoshiro256 rng(3);
  std::set<size_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto d = policy->choose(p.view(), c.span(), &m, rng);
    REQUIRE(d.index);
    CHECK(d.reason == Reason::kCacheHit);
    seen.insert(*d.index);
  }
  CHECK(seen == std::set<size_t>{1, 2});
}
