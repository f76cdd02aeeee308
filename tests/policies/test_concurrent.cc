// Policies are called from every router io thread at once on one object.
// CI runs this file under ThreadSanitizer; the counts check the atomics.
#include <doctest/doctest.h>

#include <thread>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

TEST_CASE("concurrent round_robin: 4 threads on one policy keep the counts exact") {
  auto p = make("round_robin");
  Cluster c(4);
  const int per_thread = 10000;
  std::vector<std::vector<int>> counts(4, std::vector<int>(4, 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Xoshiro256 rng(static_cast<uint64_t>(t));  // one Random per thread
      Prompt prompt(4);
      for (int i = 0; i < per_thread; ++i) {
        Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
        ++counts[t][*d.index];
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every call took a distinct ticket: 40000 tickets over 4 workers.
  for (size_t w = 0; w < 4; ++w) {
    int total = 0;
    for (int t = 0; t < 4; ++t) total += counts[t][w];
    CHECK(total == per_thread);
  }
}

TEST_CASE("concurrent choose on every policy shares no mutable state") {
  Cluster c(8);
  c.set_loads({1, 2, 3, 4, 5, 6, 7, 0});
  auto m = match_of({{2, 6}, {5, 8}});
  for (auto n : policy_names()) {
    CAPTURE(n);
    auto p = make(std::string(n));
    std::vector<int> decided(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Xoshiro256 rng(100 + static_cast<uint64_t>(t));
        for (int i = 0; i < 2000; ++i) {
          Prompt prompt(8, "k" + std::to_string(i % 50));
          if (p->choose(prompt.view(), c.span(), &m, rng).index) ++decided[t];
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int k : decided) CHECK(k == 2000);
  }
}
