// cache_aware: the SGLang algorithm made exact (policies/cache_aware.h).
#include <doctest/doctest.h>

#include <algorithm>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

namespace {

std::unique_ptr<Policy> cache_aware(double threshold = 0.5, size_t abs = 4, double rel = 1.5) {
  PolicyConfig c;
  c.name = "cache_aware";
  c.cache_threshold = threshold;
  c.balance_abs_threshold = abs;
  c.balance_rel_threshold = rel;
  return make(c);
}

}  // namespace

TEST_CASE("cache_aware: no candidates and all unhealthy give no decision") {
  auto p = cache_aware();
  Xoshiro256 rng(1);
  Prompt prompt(10);
  auto m = match_of({{0, 10}});

  Decision d = p->choose(prompt.view(), {}, &m, rng);
  CHECK_FALSE(d.index.has_value());
  CHECK(d.reason == Reason::kNoCandidates);

  Cluster c(3);
  for (auto& w : c.views()) w.healthy = false;
  d = p->choose(prompt.view(), c.span(), &m, rng);
  CHECK_FALSE(d.index.has_value());
  CHECK(d.reason == Reason::kNoCandidates);
}

TEST_CASE("cache_aware: a missing match routes to the least loaded") {
  auto p = cache_aware();
  Xoshiro256 rng(2);
  Cluster c(3);
  c.set_loads({3, 1, 2});
  Prompt prompt(10);
  Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 1);
  CHECK(d.reason == Reason::kCacheMissLeastLoaded);
  CHECK(d.matched_blocks == 0);
}

TEST_CASE("cache_aware: a match at or above the threshold goes to the best match") {
  auto p = cache_aware(0.5);
  Xoshiro256 rng(3);
  Cluster c(3);
  c.set_loads({2, 0, 3});  // balanced enough: max - min = 3 <= abs 4
  Prompt prompt(10);

  // Worker 2 holds 8 of 10 blocks, worker 0 holds 6: worker 2 despite load 3.
  auto m = match_of({{0, 6}, {2, 8}});
  Decision d = p->choose(prompt.view(), c.span(), &m, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kCacheHit);
  CHECK(d.matched_blocks == 8);
  CHECK(d.load == 3);

  // Exactly at the threshold (5 of 10 >= 0.5) is still a hit.
  auto at = match_of({{2, 5}});
  d = p->choose(prompt.view(), c.span(), &at, rng);
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kCacheHit);
}

TEST_CASE("cache_aware: below the threshold goes to the least loaded, not the match") {
  auto p = cache_aware(0.5);
  Xoshiro256 rng(4);
  Cluster c(3);
  c.set_loads({2, 0, 3});
  Prompt prompt(10);
  auto m = match_of({{2, 4}});  // 0.4 < 0.5
  Decision d = p->choose(prompt.view(), c.span(), &m, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 1);
  CHECK(d.reason == Reason::kCacheMissLeastLoaded);
  CHECK(d.matched_blocks == 0);
}

TEST_CASE("cache_aware: under imbalance the least loaded wins even over a full match") {
  auto p = cache_aware(0.5, /*abs=*/4, /*rel=*/1.5);
  Xoshiro256 rng(5);
  Prompt prompt(10);
  auto m = match_of({{0, 10}});

  Cluster c(3);
  c.set_loads({10, 3, 4});  // 10 - 3 = 7 > 4 and 10 > 4.5
  Decision d = p->choose(prompt.view(), c.span(), &m, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 1);
  CHECK(d.reason == Reason::kImbalanceLeastLoaded);

  // Both conditions are needed. Absolute gap only: 100 vs 90 (gap 10 > 4,
  // but 100 < 1.5 * 90): the match still wins.
  c.set_loads({100, 90, 95});
  d = p->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);

  // Relative gap only: 4 vs 1 (4 > 1.5, but the gap 3 <= 4): the match wins.
  c.set_loads({4, 1, 2});
  d = p->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);
}

TEST_CASE("cache_aware: mesh in-flight and reported queue depth count as load") {
  auto p = cache_aware(0.5, 4, 1.5);
  Xoshiro256 rng(6);
  Prompt prompt(10);
  Cluster c(3);
  c[0].mesh_in_flight = 6;
  c[1].queue_depth = 2;
  c[2].local_in_flight = 1;
  Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
  CHECK(*d.index == 2);  // loads 6, 2, 1
  // 0 is now imbalanced against 2 (gap 5 > 4, 6 > 1.5): a full match on 0 loses.
  auto m = match_of({{0, 10}});
  d = p->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kImbalanceLeastLoaded);
}

TEST_CASE("cache_aware: ties between best matches go to the least loaded") {
  auto p = cache_aware(0.5);
  Xoshiro256 rng(7);
  Cluster c(4);
  c.set_loads({3, 0, 2, 1});
  Prompt prompt(10);
  auto m = match_of({{0, 9}, {2, 9}, {3, 5}});
  for (int i = 0; i < 50; ++i) {
    Decision d = p->choose(prompt.view(), c.span(), &m, rng);
    REQUIRE(d.index.has_value());
    CHECK(*d.index == 2);  // 0 and 2 tie on 9 blocks; 2 is less loaded
    CHECK(d.reason == Reason::kCacheHit);
  }
}

TEST_CASE("cache_aware: tenants that are not candidates are ignored") {
  auto p = cache_aware(0.5);
  Xoshiro256 rng(8);
  Cluster c(3);
  c[1].healthy = false;
  c.set_loads({1, 0, 2});
  Prompt prompt(10);
  // Worker 1 (unhealthy) and worker 42 (not in the list) hold the whole
  // prompt; worker 2 holds 3 blocks: the best candidate match is 0.3 < 0.5.
  auto m = match_of({{1, 10}, {42, 10}, {2, 3}});
  Decision d = p->choose(prompt.view(), c.span(), &m, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 0);  // least loaded healthy worker
  CHECK(d.reason == Reason::kCacheMissLeastLoaded);
}

TEST_CASE("cache_aware: a prompt with 0 blocks goes to the least loaded") {
  auto p = cache_aware(0.0);  // even with threshold 0, no blocks means no hit
  Xoshiro256 rng(9);
  Cluster c(3);
  c.set_loads({2, 1, 0});
  Prompt prompt(0);
  auto m = match_of({{0, 4}});
  Decision d = p->choose(prompt.view(), c.span(), &m, rng);
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kCacheMissLeastLoaded);
}

TEST_CASE("cache_aware: a miss among equally loaded workers prefers free budget") {
  auto p = cache_aware();
  Xoshiro256 rng(10);
  Cluster c(3);
  c[0].tree_blocks = 900;
  c[1].tree_blocks = 100;
  c[2].tree_blocks = 500;
  Prompt prompt(10);
  for (int i = 0; i < 20; ++i) {
    CHECK(*p->choose(prompt.view(), c.span(), nullptr, rng).index == 1);
  }
}

TEST_CASE("cache_aware: a run of misses spreads evenly instead of feeding one worker") {
  auto p = cache_aware();
  Xoshiro256 rng(11);
  const size_t n = 8;

  SUBCASE("load rises with each routed request and falls as requests finish") {
    Cluster c(n);
    std::vector<int> count(n, 0);
    for (int i = 0; i < 1000; ++i) {
      Prompt prompt(10);  // every prompt is new: no match
      Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
      REQUIRE(d.index.has_value());
      ++count[*d.index];
      ++c[*d.index].local_in_flight;
      c[*d.index].tree_blocks += 10;
      if (i % 3 == 2) {  // some request finishes somewhere
        auto& w = c[rng.uniform(n)];
        if (w.local_in_flight > 0) --w.local_in_flight;
      }
    }
    const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
    CHECK(*hi - *lo <= 1000 / n / 5);  // within 20% of the fair share
  }

  SUBCASE("one worker's tree stays the smallest: load still wins (no smallest-tree rule)") {
    Cluster c(n);
    for (size_t w = 1; w < n; ++w) c[w].tree_blocks = 500;  // worker 0: empty tree forever
    std::vector<int> count(n, 0);
    for (int i = 0; i < 1000; ++i) {
      Decision d = p->choose(Prompt(10).view(), c.span(), nullptr, rng);
      ++count[*d.index];
      ++c[*d.index].local_in_flight;  // nothing finishes: load only rises
    }
    const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
    CHECK(*hi - *lo <= 1);  // exact least-loaded: never more than one apart
  }

  SUBCASE("requests finish at once: tree growth and random ties still spread") {
    Cluster c(n);
    std::vector<int> count(n, 0);
    for (int i = 0; i < 1000; ++i) {
      Decision d = p->choose(Prompt(10).view(), c.span(), nullptr, rng);
      ++count[*d.index];
    }
    for (int k : count) CHECK(k > 1000 / n / 2);  // random ties: no worker starves
    for (int k : count) CHECK(k < 1000 / n * 2);  // and none takes it all
  }
}

TEST_CASE("cache_aware: decisions are deterministic for a seeded Random") {
  auto p = cache_aware();
  Cluster c(6);
  Prompt prompt(10);
  auto run = [&](uint64_t seed) {
    Xoshiro256 rng(seed);
    std::vector<size_t> picks;
    for (int i = 0; i < 100; ++i)
      picks.push_back(*p->choose(prompt.view(), c.span(), nullptr, rng).index);
    return picks;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("cache_aware: a new branch off a busy prefix spreads; the next turn stays") {
  PolicyConfig cfg;
  cfg.cache_threshold = 0.5;
  cfg.balance_abs_threshold = 8;
  cfg.branch_slack = 2;
  auto p = make(cfg);
  Xoshiro256 rng(11);
  Prompt prompt(10);
  Cluster c(3);
  // Worker 0 holds 8 of 10 blocks and is 3 requests above the mean load of 2
  // (gap to the least loaded 5 <= 8: not an imbalance).
  c.set_loads({5, 0, 1});
  auto extension = match_of({{0, 8}});
  auto branch = match_of({{0, 8}});
  branch.branches = true;

  Decision d = p->choose(prompt.view(), c.span(), &extension, rng);
  CHECK(*d.index == 0);  // the next turn of a conversation follows its worker
  CHECK(d.reason == Reason::kCacheHit);

  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 1);  // a new conversation goes where it queues least
  CHECK(d.reason == Reason::kBranchLeastLoaded);

  // Within the slack of the mean (3 <= 4/3 + 2) the branch follows the prefix.
  c.set_loads({3, 0, 1});
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);

  // Any holder within the slack will do: the least loaded of them takes it.
  branch = match_of({{0, 8}, {2, 8}});
  branch.branches = true;
  c.set_loads({5, 0, 2});
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kCacheHit);

  // Once any worker's cache is full (it evicts what it was sent, or reports
  // 90 % KV usage), a new copy of a prefix would displace another: branches
  // follow their prefix again.
  branch = match_of({{0, 8}});
  branch.branches = true;
  c.set_loads({5, 0, 0});
  c[2].evicting = true;
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);
  // An unhealthy worker's mark does not count (mean 2.5 of the other two).
  c[2].healthy = false;
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 1);
  CHECK(d.reason == Reason::kBranchLeastLoaded);
  c[2].healthy = true;
  c[2].evicting = false;
  c[0].kv_usage = 0.95;
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);
  c[0].kv_usage = 0.5;
  d = p->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(d.reason == Reason::kBranchLeastLoaded);
  c[0].kv_usage.reset();

  // The slack is a setting: a large one keeps SGLang's rule.
  cfg.branch_slack = 1000;
  c.set_loads({5, 0, 1});
  d = make(cfg)->choose(prompt.view(), c.span(), &branch, rng);
  CHECK(*d.index == 0);
  CHECK(d.reason == Reason::kCacheHit);
}
