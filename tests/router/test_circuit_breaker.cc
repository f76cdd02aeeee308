// CircuitBreaker state machine, driven by an explicit clock.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "router/circuit_breaker.h"

using radixmesh::router::CircuitBreaker;
using State = CircuitBreaker::State;

namespace {
CircuitBreaker make(uint32_t failures = 3, int64_t cooldown = 1000) {
  return CircuitBreaker(CircuitBreaker::Options{failures, cooldown});
}
}  // namespace

TEST_CASE("breaker opens after N consecutive failures, not after N scattered ones") {
  auto b = make(3);
  b.on_failure(0, false);
  b.on_failure(1, false);
  b.on_success(false);  // resets the streak
  b.on_failure(2, false);
  b.on_failure(3, false);
  CHECK(b.state(3) == State::kClosed);
  CHECK(b.allows(3));
  b.on_failure(4, false);
  CHECK(b.state(4) == State::kOpen);
  CHECK_FALSE(b.allows(4));
  CHECK_FALSE(b.try_acquire(500));
}

TEST_CASE("after the cooldown exactly one probe is admitted") {
  auto b = make(1, 1000);
  b.on_failure(100, false);
  CHECK_FALSE(b.allows(1099));
  CHECK(b.allows(1100));
  CHECK(b.state(1100) == State::kHalfOpen);
  bool probe = false;
  REQUIRE(b.try_acquire(1100, &probe));
  CHECK(probe);
  // While the probe is out nobody else gets through.
  CHECK_FALSE(b.allows(1200));
  bool second = true;
  CHECK_FALSE(b.try_acquire(1200, &second));
}

TEST_CASE("a successful probe closes the breaker") {
  auto b = make(1, 1000);
  b.on_failure(0, false);
  bool probe = false;
  REQUIRE(b.try_acquire(1000, &probe));
  b.on_success(probe);
  CHECK(b.state(1000) == State::kClosed);
  CHECK(b.allows(1000));
  bool p2 = true;
  CHECK(b.try_acquire(1000, &p2));
  CHECK_FALSE(p2);
}

TEST_CASE("a failed probe re-opens for another full cooldown") {
  auto b = make(1, 1000);
  b.on_failure(0, false);
  bool probe = false;
  REQUIRE(b.try_acquire(1000, &probe));
  b.on_failure(1500, probe);
  CHECK(b.state(1500) == State::kOpen);
  CHECK_FALSE(b.allows(2499));
  CHECK(b.allows(2500));
}

TEST_CASE("an abandoned probe frees the slot without changing state") {
  auto b = make(1, 1000);
  b.on_failure(0, false);
  bool probe = false;
  REQUIRE(b.try_acquire(1000, &probe));
  b.on_abandoned(probe);
  CHECK(b.state(1000) == State::kHalfOpen);
  bool again = false;
  CHECK(b.try_acquire(1001, &again));
  CHECK(again);
}

TEST_CASE("late failures of requests sent before opening do not extend the cooldown") {
  auto b = make(1, 1000);
  b.on_failure(0, false);
  b.on_failure(900, false);  // an old request failing late
  CHECK(b.allows(1000));
}

TEST_CASE("concurrent try_acquire on a half-open breaker admits one probe") {
  auto b = make(1, 10);
  b.on_failure(0, false);
  std::atomic<int> probes{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) {
        bool p = false;
        if (b.try_acquire(100, &p) && p) probes.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(probes.load() == 1);
}
