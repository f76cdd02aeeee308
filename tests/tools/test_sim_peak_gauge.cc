// PeakGauge: the simulated worker's count of requests in service and the
// most at once, which admission tests read to prove a router's cap held.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tools/sim_worker/peak_gauge.h"

using radixmesh::tools::sim::PeakGauge;

TEST_CASE("the peak is the most at once, not the total, and never falls") {
  PeakGauge g;
  CHECK(g.peak() == 0);
  {
    PeakGauge::Scope a(g), b(g);
    CHECK(g.active() == 2);
    {
      PeakGauge::Scope c(g);
      CHECK(g.peak() == 3);
    }
    CHECK(g.active() == 2);
  }
  CHECK(g.active() == 0);
  for (int i = 0; i < 10; ++i) PeakGauge::Scope one(g);  // 10 requests, one at a time
  CHECK(g.peak() == 3);
}

TEST_CASE("threads entering together: the peak is exactly how many overlapped") {
  PeakGauge g;
  constexpr int kThreads = 8;
  std::atomic<int> inside{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      PeakGauge::Scope s(g);
      inside.fetch_add(1);
      // Hold the scope until every thread is inside (at most 5 s).
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (inside.load() < kThreads && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    });
  }
  go.store(true);
  for (auto& t : ts) t.join();
  CHECK(inside.load() == kThreads);
  CHECK(g.peak() == kThreads);
  CHECK(g.active() == 0);
}
