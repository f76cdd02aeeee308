// round_robin, random, power_of_two, least_load (policies/basic_policies.h).
#include <doctest/doctest.h>

#include <algorithm>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

TEST_CASE("round_robin: cycles through every healthy worker in turn") {
  auto p = make("round_robin");
  Xoshiro256 rng(1);
  Cluster c(3);
  c.set_loads({9, 0, 5});  // load is irrelevant to round robin
  std::vector<size_t> picks;
  for (int i = 0; i < 300; ++i) {
    Decision d = p->choose(Prompt(4).view(), c.span(), nullptr, rng);
    REQUIRE(d.index.has_value());
    CHECK(d.reason == Reason::kRoundRobin);
    picks.push_back(*d.index);
  }
  for (size_t w = 0; w < 3; ++w) CHECK(std::count(picks.begin(), picks.end(), w) == 100);
  // Every window of 3 consecutive decisions visits all three workers.
  for (size_t i = 0; i + 3 <= picks.size(); ++i) {
    std::vector<size_t> window(picks.begin() + i, picks.begin() + i + 3);
    std::sort(window.begin(), window.end());
    CHECK(window == std::vector<size_t>{0, 1, 2});
  }
}

TEST_CASE("round_robin: skips unhealthy workers and stays even over the rest") {
  auto p = make("round_robin");
  Xoshiro256 rng(2);
  Cluster c(4);
  c[2].healthy = false;
  std::vector<int> count(4, 0);
  for (int i = 0; i < 300; ++i) ++count[*p->choose(Prompt(1).view(), c.span(), nullptr, rng).index];
  CHECK(count == std::vector<int>{100, 100, 0, 100});
}

TEST_CASE("random: uniform over the healthy workers, never an unhealthy one") {
  auto p = make("random");
  Xoshiro256 rng(3);
  Cluster c(4);
  c[0].healthy = false;
  std::vector<int> count(4, 0);
  for (int i = 0; i < 3000; ++i) {
    Decision d = p->choose(Prompt(1).view(), c.span(), nullptr, rng);
    CHECK(d.reason == Reason::kRandom);
    ++count[*d.index];
  }
  CHECK(count[0] == 0);
  for (size_t w = 1; w < 4; ++w) {
    CHECK(count[w] > 800);  // expected 1000 each; 800..1200 is > 6 sigma
    CHECK(count[w] < 1200);
  }
}

TEST_CASE("power_of_two: never picks the most loaded of three with distinct loads") {
  auto p = make("power_of_two");
  Xoshiro256 rng(4);
  Cluster c(3);
  c.set_loads({5, 9, 1});
  std::vector<int> count(3, 0);
  for (int i = 0; i < 1000; ++i) {
    Decision d = p->choose(Prompt(1).view(), c.span(), nullptr, rng);
    CHECK(d.reason == Reason::kPowerOfTwo);
    ++count[*d.index];
  }
  CHECK(count[1] == 0);
  // The least loaded wins both pairs it is drawn in (2/3), the middle one 1/3.
  CHECK(count[2] > count[0]);
  CHECK(count[0] > 200);
}

TEST_CASE("power_of_two: with two workers always the less loaded; one worker is taken") {
  auto p = make("power_of_two");
  Xoshiro256 rng(5);
  Cluster two(2);
  two.set_loads({4, 2});
  for (int i = 0; i < 100; ++i)
    CHECK(*p->choose(Prompt(1).view(), two.span(), nullptr, rng).index == 1);
  Cluster one(3);
  one[0].healthy = false;
  one[2].healthy = false;
  for (int i = 0; i < 10; ++i)
    CHECK(*p->choose(Prompt(1).view(), one.span(), nullptr, rng).index == 1);
}

TEST_CASE("least_load: picks the least loaded and breaks ties at random") {
  auto p = make("least_load");
  Xoshiro256 rng(6);
  Cluster c(4);
  c.set_loads({2, 2, 5, 2});
  std::vector<int> count(4, 0);
  for (int i = 0; i < 3000; ++i) {
    Decision d = p->choose(Prompt(1).view(), c.span(), nullptr, rng);
    CHECK(d.reason == Reason::kLeastLoad);
    CHECK(d.load == 2);
    ++count[*d.index];
  }
  CHECK(count[2] == 0);
  for (size_t w : {0, 1, 3}) {
    CHECK(count[w] > 800);  // not always the first of the tied workers
    CHECK(count[w] < 1200);
  }
}

TEST_CASE("random policies are deterministic for a seeded Random") {
  Cluster c(7);
  c.set_loads({3, 1, 4, 1, 5, 1, 2});
  for (const char* name : {"random", "power_of_two", "least_load"}) {
    CAPTURE(name);
    auto p = make(name);
    auto run = [&](uint64_t seed) {
      Xoshiro256 rng(seed);
      std::vector<size_t> picks;
      for (int i = 0; i < 64; ++i)
        picks.push_back(*p->choose(Prompt(1).view(), c.span(), nullptr, rng).index);
      return picks;
    };
    CHECK(run(7) == run(7));
    CHECK(run(7) != run(8));
  }
}
