// Overload limits: the descriptor budget, burst logging, the connection gate,
// and what a local descriptor shortage means for retries and the breaker.
#include <doctest/doctest.h>

#include "router/client_limiter.h"
#include "router/connection_gate.h"
#include "router/error_burst.h"
#include "router/fd_budget.h"
#include "router/retry_policy.h"

using namespace radixmesh::router;

TEST_CASE("the default connection cap keeps room for upstream and other sockets") {
  CHECK(default_max_connections(256) == 96);
  CHECK(default_max_connections(1024) == 384);
  CHECK(default_max_connections(65536) == 32640);
  CHECK(default_max_connections(0) == 1);
  CHECK(default_max_connections(3) == 1);
  for (uint64_t limit : {16u, 100u, 256u, 1024u, 4096u, 1u << 20}) {
    CAPTURE(limit);
    // Every admitted connection with its upstream connection, plus a reserve.
    CHECK(2 * default_max_connections(limit) + std::min<uint64_t>(256, limit / 4) <= limit);
  }
}

TEST_CASE("descriptor and socket-memory shortages are local resource errors") {
  CHECK(is_local_resource_error(make_error_code(boost::system::errc::too_many_files_open)));
  CHECK(
      is_local_resource_error(make_error_code(boost::system::errc::too_many_files_open_in_system)));
  CHECK(is_local_resource_error(boost::asio::error::no_buffer_space));
  CHECK_FALSE(is_local_resource_error(boost::asio::error::connection_refused));
  CHECK_FALSE(is_local_resource_error(boost::asio::error::timed_out));
  CHECK_FALSE(is_local_resource_error(error_code{}));
}

TEST_CASE("a local shortage is no breaker failure, no unhealthy mark and no retry") {
  const RetryDecision d = decide_retry(AttemptFailure::kLocalResources, 0, 2, false);
  CHECK_FALSE(d.retry);
  CHECK_FALSE(d.breaker_failure);
  CHECK_FALSE(d.mark_unhealthy);
  CHECK(d.final_error == RouterErrc::kLocalResources);
  CHECK(http_status(d.final_error) == 503);
  CHECK(error_code_name(RouterErrc::kConnectionCap) == "too_many_connections");
}

TEST_CASE("ErrorBurst logs the first error, then a count per period, then a summary") {
  using namespace std::chrono_literals;
  ErrorBurst burst("accept", 10s);
  const auto t0 = ErrorBurst::TimePoint{} + 100s;
  CHECK_FALSE(burst.on_success(t0).has_value());  // no burst yet
  auto first = burst.on_error(t0, "Too many open files");
  REQUIRE(first.has_value());
  CHECK(first->find("accept: Too many open files") == 0);
  int logged = 0;
  for (int i = 1; i <= 1000; ++i) {  // 1000 more within 9 s: silent
    if (burst.on_error(t0 + i * 9ms, "Too many open files")) ++logged;
  }
  CHECK(logged == 0);
  auto periodic = burst.on_error(t0 + 10s, "Too many open files");
  REQUIRE(periodic.has_value());
  CHECK(periodic->find("1001 more errors in the last 10.0 s") != std::string::npos);
  auto over = burst.on_success(t0 + 12s);
  REQUIRE(over.has_value());
  CHECK(*over == "accept: burst over: 1002 errors in 12.0 s");
  CHECK_FALSE(burst.in_burst());
  CHECK_FALSE(burst.on_success(t0 + 13s).has_value());
  CHECK(burst.on_error(t0 + 14s, "x").has_value());  // a new burst logs again
}

TEST_CASE("ConnectionGate admits up to its cap and frees a slot per ticket") {
  auto gauge = std::make_shared<Gauge>();
  auto gate = std::make_shared<ConnectionGate>(2, gauge);
  auto a = gate->try_enter();
  auto b = gate->try_enter();
  CHECK(a);
  CHECK(b);
  CHECK_FALSE(gate->try_enter());
  CHECK(gate->open() == 2);
  CHECK(gauge->value() == 2);
  { auto gone = std::move(a); }
  CHECK(gate->open() == 1);
  CHECK(gauge->value() == 1);
  auto c = gate->try_enter();
  CHECK(c);
  int shedding = 0;
  while (gate->try_start_shed() && shedding < 1000) ++shedding;
  CHECK(shedding == ConnectionGate::kMaxShedding);
  gate->end_shed();
  CHECK(gate->try_start_shed());
}

TEST_CASE("ClientLimiter caps requests in flight per address and forgets idle addresses") {
  const auto a = boost::asio::ip::make_address("127.0.0.2");
  const auto b = boost::asio::ip::make_address("::1");
  ClientLimiter limiter(2);
  {
    auto s1 = limiter.acquire(a);
    auto s2 = limiter.acquire(a);
    CHECK(s1.ok());
    CHECK(s2.ok());
    auto over = limiter.acquire(a);
    CHECK_FALSE(over.ok());
    CHECK(limiter.acquire(b).ok());  // another address has its own count
    CHECK(limiter.in_flight(a) == 2);
    ClientLimiter::Slot moved = std::move(s1);
    CHECK(limiter.in_flight(a) == 2);  // a move keeps the one count
  }
  CHECK(limiter.in_flight(a) == 0);
  CHECK(limiter.in_flight(b) == 0);
  CHECK(limiter.acquire(a).ok());

  ClientLimiter unlimited(0);
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.acquire(a).ok());
}
