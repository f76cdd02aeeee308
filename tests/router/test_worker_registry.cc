// WorkerRegistry snapshots, model candidates, removal hooks; worker URLs.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "router/in_flight_guard.h"
#include "router/worker_registry.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {
WorkerRegistry make_registry(size_t max = 16) {
  auto next = std::make_shared<std::atomic<radix::WorkerId>>(0);
  return WorkerRegistry(
      WorkerRegistry::Options{max, {}},
      [next](const std::string&) -> Result<radix::WorkerId> { return next->fetch_add(1); });
}
}  // namespace

TEST_CASE("worker urls are normalised and bad ones refused") {
  auto a = parse_worker_url("http://127.0.0.1:7001/");
  REQUIRE(a.ok());
  CHECK(a->url == "http://127.0.0.1:7001");
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == "7001");
  CHECK(a->host_header == "127.0.0.1:7001");
  auto v6 = parse_worker_url("http://[::1]:80");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->host_header == "[::1]:80");
  auto noport = parse_worker_url("http://gpu-1");
  REQUIRE(noport.ok());
  CHECK(noport->port == "80");
  CHECK_FALSE(noport->tls);
  auto tls = parse_worker_url("https://gpu-1.example/");
  REQUIRE(tls.ok());
  CHECK(tls->tls);
  CHECK(tls->url == "https://gpu-1.example:443");
  CHECK(tls->port == "443");
  CHECK(tls->host_header == "gpu-1.example:443");
  auto tls_port = parse_worker_url("https://[::1]:8443");
  REQUIRE(tls_port.ok());
  CHECK(tls_port->url == "https://[::1]:8443");
  CHECK_FALSE(parse_worker_url("https://x:0").ok());
  CHECK_FALSE(parse_worker_url("httpss://x:1").ok());
  CHECK_FALSE(parse_worker_url("https:/x:1").ok());
  CHECK_FALSE(parse_worker_url("http://x:0").ok());
  CHECK_FALSE(parse_worker_url("http://x:70000").ok());
  CHECK_FALSE(parse_worker_url("http://x:1/v1").ok());
  CHECK_FALSE(parse_worker_url("http://:1").ok());
  CHECK_FALSE(parse_worker_url("ftp://x").ok());
}

TEST_CASE("snapshots are immutable: a reader keeps its view while writers publish") {
  auto reg = make_registry();
  auto w1 = reg.add("http://127.0.0.1:1");
  REQUIRE(w1.ok());
  auto before = reg.snapshot();
  REQUIRE(reg.add("http://127.0.0.1:2").ok());
  CHECK(before->all.size() == 1);
  CHECK(reg.snapshot()->all.size() == 2);
  CHECK(reg.snapshot()->version > before->version);
}

TEST_CASE("candidates follow announced models; unknown-model workers take any model") {
  auto reg = make_registry();
  auto a = reg.add("http://127.0.0.1:1").value();
  auto b = reg.add("http://127.0.0.1:2").value();
  std::vector<Worker*> out;
  // Both unknown: both are wildcard candidates for any model.
  CHECK(reg.snapshot()->candidates("m1", out));
  CHECK(out.size() == 2);
  reg.set_models(a, {"m1", "m2"});
  reg.set_models(b, {"m2"});
  out.clear();
  CHECK(reg.snapshot()->candidates("m1", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0] == a.get());
  out.clear();
  CHECK(reg.snapshot()->candidates("m2", out));
  CHECK(out.size() == 2);
  out.clear();
  CHECK_FALSE(reg.snapshot()->candidates("nope", out));
  CHECK(reg.snapshot()->models() == std::vector<std::string>{"m1", "m2"});
  // Unchanged model lists do not republish.
  const auto v = reg.snapshot()->version;
  reg.set_models(b, {"m2"});
  CHECK(reg.snapshot()->version == v);
}

TEST_CASE("remove takes the worker out, marks it and runs the hook once") {
  auto reg = make_registry();
  int removed_calls = 0;
  radix::WorkerId removed_id = 999;
  reg.set_on_removed([&](const std::shared_ptr<Worker>& w) {
    ++removed_calls;
    removed_id = w->id();
  });
  auto a = reg.add("http://127.0.0.1:1").value();
  REQUIRE(reg.remove("http://127.0.0.1:1/").ok());
  CHECK(removed_calls == 1);
  CHECK(removed_id == a->id());
  CHECK(a->removed());
  CHECK_FALSE(a->routable(0));
  CHECK(reg.snapshot()->all.empty());
  CHECK(reg.remove("http://127.0.0.1:1").error().code == ErrorCode::kNotFound);
  CHECK(removed_calls == 1);
}

TEST_CASE("adding a known url returns the same worker; the registry is bounded") {
  auto reg = make_registry(2);
  auto a = reg.add("http://127.0.0.1:1").value();
  REQUIRE(reg.drain("http://127.0.0.1:1").ok());
  CHECK(a->draining());
  auto again = reg.add("http://127.0.0.1:1");
  REQUIRE(again.ok());
  CHECK(again->get() == a.get());
  CHECK_FALSE(a->draining());  // re-adding undrains
  REQUIRE(reg.add("http://127.0.0.1:2").ok());
  auto third = reg.add("http://127.0.0.1:3");
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == ErrorCode::kTooLarge);
}

TEST_CASE("routable requires healthy, not drained, breaker closed") {
  auto reg = make_registry();
  auto a = reg.add("http://127.0.0.1:1").value();
  CHECK_FALSE(a->routable(0));  // unknown health until the first check
  a->set_healthy(true);
  CHECK(a->routable(0));
  a->set_draining(true);
  CHECK_FALSE(a->routable(0));
  a->set_draining(false);
  for (int i = 0; i < 5; ++i) a->breaker().on_failure(0, false);
  CHECK_FALSE(a->routable(0));
}

TEST_CASE("in-flight guard: +1 while alive, -1 on every way out, moves transfer") {
  auto reg = make_registry();
  auto a = reg.add("http://127.0.0.1:1").value();
  {
    InFlightGuard g(a);
    CHECK(a->in_flight() == 1);
    InFlightGuard moved(std::move(g));
    CHECK(a->in_flight() == 1);
    InFlightGuard other(a);
    CHECK(a->in_flight() == 2);
    other = std::move(moved);  // other's own count is released first
    CHECK(a->in_flight() == 1);
    other.reset();
    other.reset();  // idempotent
    CHECK(a->in_flight() == 0);
  }
  CHECK(a->in_flight() == 0);
  // The guard keeps a removed worker alive until the exchange ends.
  std::weak_ptr<Worker> weak = a;
  InFlightGuard last(a);
  REQUIRE(reg.remove(a->url()).ok());
  a.reset();
  CHECK_FALSE(weak.expired());
  last.reset();
  CHECK(weak.expired());
}

TEST_CASE("concurrent guards never let the count drift") {
  auto reg = make_registry();
  auto a = reg.add("http://127.0.0.1:1").value();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([a] {
      for (int i = 0; i < 10000; ++i) {
        InFlightGuard g(a);
        InFlightGuard h(std::move(g));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(a->in_flight() == 0);
}

TEST_CASE("in-flight starts wake the mesh once until it samples again; ends never do") {
  auto reg = make_registry();
  auto a = reg.add("http://127.0.0.1:1").value();
  auto signal = std::make_shared<LoadChangeSignal>();
  int wakes = 0;
  uint64_t seen_at_wake = 0;
  signal->set_wake([&] {
    ++wakes;
    seen_at_wake = a->in_flight();  // the change is visible when the wake runs
  });
  {
    InFlightGuard g(a, signal);
    CHECK(wakes == 1);
    CHECK(seen_at_wake == 1);
    InFlightGuard h(a, signal);  // same window: no second wake
    InFlightGuard moved(std::move(g));
    CHECK(wakes == 1);
    signal->rearm();  // the mesh sampled the counts
    h.reset();        // a request ending rides the mesh's follow-up flush
    CHECK(wakes == 1);
    CHECK(a->in_flight() == 1);
    h.reset();  // idempotent
    CHECK(a->in_flight() == 1);
    InFlightGuard k(a, signal);  // a start after the sample wakes again
    CHECK(wakes == 2);
    CHECK(seen_at_wake == 2);
  }  // `moved` and `k` end: no wake
  CHECK(wakes == 2);
  CHECK(a->in_flight() == 0);
  // set_wake({}) stops the wakes (the mesh is stopping).
  signal->rearm();
  signal->set_wake({});
  InFlightGuard late(a, signal);
  CHECK(wakes == 2);
}
