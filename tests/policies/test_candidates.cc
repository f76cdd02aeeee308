// Shared pieces: combined load, free budget, and the match lookup's two layouts.
#include <doctest/doctest.h>

#include "policies/candidates.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh;
using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

TEST_CASE("load: local + mesh in-flight, plus the reported queue when known") {
  WorkerView w;
  w.local_in_flight = 3;
  w.mesh_in_flight = 4;
  CHECK(load(w) == 7);
  w.queue_depth = 5;
  CHECK(load(w) == 12);
  w.local_in_flight = UINT32_MAX;  // no overflow in the sum
  w.mesh_in_flight = UINT32_MAX;
  CHECK(load(w) == 2ull * UINT32_MAX + 5);
}

TEST_CASE("load: the worker's own running + waiting when larger than the routers' count") {
  WorkerView w;
  w.local_in_flight = 2;
  w.mesh_in_flight = 1;
  w.running = 8;  // clients the routers never saw keep the batch full
  w.queue_depth = 4;
  CHECK(load(w) == 12 + 4);  // max(3, 8 + 4) + the queue once more
  w.running = 0;             // a report older than the routers' own requests
  w.queue_depth = 0;
  CHECK(load(w) == 3);  // the routers' fresh count wins
  w.local_in_flight = 10;
  w.running = 6;
  w.queue_depth = 1;
  CHECK(load(w) == 11 + 1);  // routed 10 + 1 beats reported 6 + 1
}

TEST_CASE("least_loaded: reported KV usage breaks ties before free budget") {
  Xoshiro256 rng(3);
  std::vector<WorkerView> ws(3);
  for (size_t i = 0; i < ws.size(); ++i) {
    ws[i].id = static_cast<radix::WorkerId>(i);
    ws[i].budget_blocks = 100;
  }
  ws[0].kv_usage = 0.95;
  ws[0].tree_blocks = 0;  // most free budget, but its cache is nearly full
  ws[1].kv_usage = 0.30;
  ws[1].tree_blocks = 50;
  ws[2].kv_usage = 0.31;  // same tenth as worker 1: free budget decides
  ws[2].tree_blocks = 60;
  for (int i = 0; i < 20; ++i) CHECK(least_loaded(ws, rng) == 1);
  ws[1].local_in_flight = 1;  // load still comes first
  for (int i = 0; i < 20; ++i) CHECK(least_loaded(ws, rng) == 2);
}

TEST_CASE("free_budget: never negative, 0 when unknown") {
  WorkerView w;
  CHECK(free_budget(w) == 0);
  w.budget_blocks = 100;
  w.tree_blocks = 30;
  CHECK(free_budget(w) == 70);
  w.tree_blocks = 130;  // over budget until the broker evicts
  CHECK(free_budget(w) == 0);
}

TEST_CASE("MatchLookup: dense and sparse worker ids answer the same") {
  for (radix::WorkerId base : {radix::WorkerId{0}, radix::WorkerId{3'000'000'000u}}) {
    CAPTURE(base);
    auto m = match_of({{base + 5, 7}, {base + 1, 3}, {base + 5, 9}, {base + 2, 0}});
    MatchLookup lookup(&m);
    CHECK_FALSE(lookup.empty());
    CHECK(lookup.blocks_for(base + 5) == 9);  // named twice: deepest reach
    CHECK(lookup.blocks_for(base + 1) == 3);
    CHECK(lookup.blocks_for(base + 2) == 0);
    CHECK(lookup.blocks_for(base + 4) == 0);
    CHECK(lookup.blocks_for(base + 1000) == 0);
  }
  MatchLookup none(nullptr);
  CHECK(none.empty());
  CHECK(none.blocks_for(0) == 0);
  auto zeros = match_of({{1, 0}});
  CHECK(MatchLookup(&zeros).empty());
}

TEST_CASE("cache_aware with sparse worker ids still finds the best match") {
  PolicyConfig cfg;
  cfg.cache_threshold = 0.5;
  auto p = make(cfg);
  Xoshiro256 rng(1);
  Cluster c(0);
  c.add(4'000'000'000u);
  c.add(7);
  c.add(2'000'000'000u);
  auto m = match_of({{2'000'000'000u, 8}, {4'000'000'000u, 2}});
  Decision d = p->choose(Prompt(10).view(), c.span(), &m, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 2);
  CHECK(d.reason == Reason::kCacheHit);
  CHECK(d.matched_blocks == 8);
}
