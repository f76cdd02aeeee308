// cost: score = overlap_weight * reusable - load_weight * load / max_load.
#include <doctest/doctest.h>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

namespace {

std::unique_ptr<Policy> cost(double overlap, double load) {
  PolicyConfig c;
  c.name = "cost";
  c.cost_overlap_weight = overlap;
  c.cost_load_weight = load;
  return make(c);
}

}  // namespace

TEST_CASE("cost: the weights decide between reuse and load") {
  Xoshiro256 rng(1);
  Cluster c(2);
  c.set_loads({8, 0});  // worker 0 is the most loaded, worker 1 idle
  Prompt prompt(10);
  auto m = match_of({{0, 10}});  // worker 0 holds the whole prompt

  // Reuse worth more than the whole load range: 1*1 - 0.5*1 = 0.5 > 0.
  Decision d = cost(1.0, 0.5)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCostScore);
  CHECK(d.score == doctest::Approx(0.5));
  CHECK(d.matched_blocks == 10);

  // Load worth more: 1*1 - 2*1 = -1 < 0 (the idle worker's score).
  d = cost(1.0, 2.0)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 1);
  CHECK(d.score == doctest::Approx(0.0));
  CHECK(d.matched_blocks == 0);
}

TEST_CASE("cost: partial reuse has to pay for the load it adds") {
  Xoshiro256 rng(2);
  Cluster c(3);
  c.set_loads({10, 5, 0});
  Prompt prompt(10);
  // worker 0: 0.9 - 0.5*1.0 = 0.4; worker 1: 0.6 - 0.5*0.5 = 0.35; worker 2: 0.
  auto m = match_of({{0, 9}, {1, 6}});
  Decision d = cost(1.0, 0.5)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 0);
  CHECK(d.score == doctest::Approx(0.4));
  // Raise the load weight to 1: 0.9-1 = -0.1, 0.6-0.5 = 0.1, 0: worker 1.
  d = cost(1.0, 1.0)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 1);
  CHECK(d.score == doctest::Approx(0.1));
}

TEST_CASE("cost: without a match or with zero load weight it degrades predictably") {
  Xoshiro256 rng(3);
  Cluster c(3);
  c.set_loads({4, 1, 3});
  Prompt prompt(10);
  // No match: pure load, least loaded wins.
  CHECK(*cost(1.0, 0.5)->choose(prompt.view(), c.span(), nullptr, rng).index == 1);
  // Load weight 0: pure reuse, best match wins whatever its load.
  auto m = match_of({{0, 7}, {2, 3}});
  CHECK(*cost(1.0, 0.0)->choose(prompt.view(), c.span(), &m, rng).index == 0);
}

TEST_CASE("cost: equal scores go to the least loaded; unhealthy tenants are ignored") {
  Xoshiro256 rng(4);
  Cluster c(3);
  // All idle: every score is the reuse term; 1 and 2 tie on 5 blocks but
  // all loads are 0, so the tie then goes to free budget.
  c[1].tree_blocks = 800;
  c[2].tree_blocks = 100;
  c[0].healthy = false;
  Prompt prompt(10);
  auto m = match_of({{0, 10}, {1, 5}, {2, 5}});
  Decision d = cost(1.0, 0.0)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 2);
  CHECK(d.score == doctest::Approx(0.5));

  // Same reuse, different loads, load not weighed: the less loaded wins.
  c.set_loads({0, 1, 3});
  d = cost(1.0, 0.0)->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 1);
}
