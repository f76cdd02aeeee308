// AdmissionQueue over a real routing engine, on one io_context with real
// loopback sockets as the clients (router/admission_queue.h): the cap is
// never exceeded, waiters are served in arrival order, a full queue and a
// timeout refuse, and a client that closes while queued frees its place.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/admission_queue.h"
#include "router/routing_engine.h"

using namespace radixmesh;
using namespace radixmesh::router;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBody = R"({"model":"m","messages":[{"role":"user","content":"hello"}]})";

struct Fixture {
  Fixture(uint32_t cap, size_t workers, AdmissionOptions options)
      : broker(size_t{64} << 20),
        trees(radix::PrefixTree::Options{}, 4, &broker, nullptr),
        policy(policies::make_policy(policies::PolicyConfig{}).value()),
        registry(WorkerRegistry::Options{64, {}},
                 [this](const std::string& url) { return directory.intern(url); }),
        clock([] { return uint64_t{1700000000000}; }),
        queue(std::make_shared<AdmissionQueue>(options)),
        engine(registry, trees, *policy, clock, routing(cap, queue)) {
    for (size_t i = 0; i < workers; ++i) {
      auto w = registry.add("http://127.0.0.1:" + std::to_string(11000 + i)).value();
      registry.set_models(w, {"m"});
      w->set_healthy(true);
    }
    auto s = engine.prepare(scratch, kBody, radix::Endpoint::kChatCompletions, "", request);
    REQUIRE(s.ok());
    acceptor.open(tcp::v4());
    acceptor.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
  }
  static RoutingOptions routing(uint32_t cap, std::shared_ptr<AdmissionQueue> q) {
    RoutingOptions r;
    r.max_in_flight_per_worker = cap;
    r.slot_listener = std::move(q);
    return r;
  }

  // One client connection: [router side, client side].
  struct Conn {
    tcp::socket server;
    tcp::socket client;
  };
  std::unique_ptr<Conn> connect() {
    auto c = std::make_unique<Conn>(Conn{tcp::socket(ioc), tcp::socket(ioc)});
    c->client.connect(acceptor.local_endpoint());
    acceptor.accept(c->server);
    return c;
  }
  uint32_t total_in_flight() {
    uint32_t n = 0;
    for (const auto& w : registry.snapshot()->all) n += w->in_flight();
    return n;
  }

  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  radix::WorkerDirectory directory;
  radix::MemoryBroker broker;
  radix::TreeCatalog trees;
  std::unique_ptr<policies::Policy> policy;
  WorkerRegistry registry;
  radix::HybridClock clock;
  std::shared_ptr<AdmissionQueue> queue;
  RoutingEngine engine;
  RoutingScratch scratch{radix::ParseLimits{}, 7};
  PreparedRequest request;
};

// What one admit() produced, kept so the test can hold or release the slot.
struct Outcome {
  std::optional<Admission::Outcome> outcome;
  std::optional<RouteChoice> choice;
  int order = -1;
};

awaitable<void> admit_into(Fixture* f, tcp::socket* server, Outcome* out, int* counter) {
  Admission a = co_await f->queue->admit(*server, f->engine, f->scratch, f->request);
  out->outcome = a.outcome;
  if (a.outcome == Admission::Outcome::kRouted && a.choice.ok()) {
    out->choice.emplace(std::move(a.choice).value());
  }
  out->order = (*counter)++;
}

awaitable<void> after(net::io_context& ioc, std::chrono::milliseconds d, std::function<void()> fn) {
  net::steady_timer t(ioc);
  t.expires_after(d);
  co_await t.async_wait(use_tuple);
  fn();
}

}  // namespace

TEST_CASE("routing never takes a worker over --max-in-flight-per-worker") {
  Fixture f(2, 2, {});
  std::vector<RouteChoice> held;
  for (int i = 0; i < 4; ++i) {
    auto c = f.engine.choose(f.scratch, f.request, {});
    REQUIRE(c.ok());
    held.push_back(std::move(c).value());
  }
  for (const auto& w : f.registry.snapshot()->all) CHECK(w->in_flight() == 2);
  auto full = f.engine.choose(f.scratch, f.request, {});
  CHECK_FALSE(full.ok());
  CHECK(f.scratch.at_cap.size() == 2);
  CHECK(full.error().message.find("--max-in-flight-per-worker") != std::string::npos);
  held.pop_back();
  auto again = f.engine.choose(f.scratch, f.request, {});
  CHECK(again.ok());
  CHECK(f.total_in_flight() == 4);

  // An unhealthy worker is not "saturated": no queueing for it.
  Fixture g(1, 1, {});
  g.registry.snapshot()->all.front()->set_healthy(false);
  CHECK_FALSE(g.engine.choose(g.scratch, g.request, {}).ok());
  CHECK(g.scratch.at_cap.empty());
}

TEST_CASE("waiters are served in arrival order as slots are released") {
  Fixture f(1, 1, {8, 5000ms, 1000ms});
  auto held = f.engine.choose(f.scratch, f.request, {});
  REQUIRE(held.ok());
  auto c1 = f.connect(), c2 = f.connect(), c3 = f.connect();
  Outcome o1, o2, o3;
  int counter = 0;
  net::co_spawn(f.ioc, admit_into(&f, &c1->server, &o1, &counter), net::detached);
  net::co_spawn(f.ioc, admit_into(&f, &c2->server, &o2, &counter), net::detached);
  net::co_spawn(f.ioc, admit_into(&f, &c3->server, &o3, &counter), net::detached);
  std::optional<RouteChoice> first = std::move(held).value();
  std::vector<size_t> depth_seen;
  // Release the slot, then each admitted waiter's slot in turn.
  net::co_spawn(f.ioc, after(f.ioc, 30ms, [&] {
                  depth_seen.push_back(f.queue->depth());
                  first.reset();
                }),
                net::detached);
  net::co_spawn(f.ioc, after(f.ioc, 60ms, [&] {
                  depth_seen.push_back(f.queue->depth());
                  CHECK(f.total_in_flight() == 1);
                  o1.choice.reset();
                }),
                net::detached);
  net::co_spawn(f.ioc, after(f.ioc, 90ms, [&] {
                  depth_seen.push_back(f.queue->depth());
                  o2.choice.reset();
                }),
                net::detached);
  f.ioc.run_for(3s);
  REQUIRE(o1.outcome);
  REQUIRE(o2.outcome);
  REQUIRE(o3.outcome);
  CHECK(*o1.outcome == Admission::Outcome::kRouted);
  CHECK(*o2.outcome == Admission::Outcome::kRouted);
  CHECK(*o3.outcome == Admission::Outcome::kRouted);
  CHECK(o1.order == 0);
  CHECK(o2.order == 1);
  CHECK(o3.order == 2);
  CHECK(depth_seen == std::vector<size_t>{3, 2, 1});
  CHECK(f.queue->depth() == 0);
  CHECK(f.total_in_flight() == 1);  // o3 still holds its slot
}

TEST_CASE("a full queue refuses at once; a waiter times out") {
  Fixture f(1, 1, {1, 80ms, 20ms});
  auto held = f.engine.choose(f.scratch, f.request, {});
  REQUIRE(held.ok());
  auto c1 = f.connect(), c2 = f.connect();
  Outcome o1, o2;
  int counter = 0;
  net::co_spawn(f.ioc, admit_into(&f, &c1->server, &o1, &counter), net::detached);
  net::co_spawn(f.ioc, admit_into(&f, &c2->server, &o2, &counter), net::detached);
  f.ioc.run_for(2s);
  REQUIRE(o1.outcome);
  REQUIRE(o2.outcome);
  CHECK(*o2.outcome == Admission::Outcome::kQueueFull);
  CHECK(o2.order == 0);  // refused before the first waiter's timeout
  CHECK(*o1.outcome == Admission::Outcome::kTimeout);
  CHECK(f.queue->depth() == 0);
  CHECK(f.total_in_flight() == 1);
}

TEST_CASE("a client that closes while queued frees its place at once") {
  Fixture f(1, 1, {1, 5000ms, 1000ms});
  auto held = f.engine.choose(f.scratch, f.request, {});
  REQUIRE(held.ok());
  auto c1 = f.connect(), c2 = f.connect();
  Outcome o1, o2;
  int counter = 0;
  net::co_spawn(f.ioc, admit_into(&f, &c1->server, &o1, &counter), net::detached);
  net::co_spawn(f.ioc, after(f.ioc, 30ms, [&] { c1->client.close(); }), net::detached);
  // After the close, the single queue place is free again for another request,
  // which gets the slot when it is released.
  net::co_spawn(f.ioc, after(f.ioc, 200ms, [&] {
                  CHECK(o1.outcome.has_value());
                  CHECK(f.queue->depth() == 0);
                  net::co_spawn(f.ioc, admit_into(&f, &c2->server, &o2, &counter), net::detached);
                }),
                net::detached);
  std::optional<RouteChoice> first = std::move(held).value();
  net::co_spawn(f.ioc, after(f.ioc, 300ms, [&] { first.reset(); }), net::detached);
  f.ioc.run_for(3s);
  REQUIRE(o1.outcome);
  CHECK(*o1.outcome == Admission::Outcome::kClientGone);
  REQUIRE(o2.outcome);
  CHECK(*o2.outcome == Admission::Outcome::kRouted);
  CHECK(f.queue->depth() == 0);
}

TEST_CASE("no waiter: a free slot is taken without queueing; a non-cap failure is not queued") {
  Fixture f(1, 2, {4, 1000ms, 100ms});
  auto c = f.connect();
  Outcome o;
  int counter = 0;
  net::co_spawn(f.ioc, admit_into(&f, &c->server, &o, &counter), net::detached);
  f.ioc.run_for(1s);
  REQUIRE(o.outcome);
  CHECK(*o.outcome == Admission::Outcome::kRouted);
  CHECK(o.choice.has_value());

  Fixture g(1, 1, {4, 1000ms, 100ms});
  g.registry.snapshot()->all.front()->set_healthy(false);
  auto gc = g.connect();
  Outcome go;
  net::co_spawn(g.ioc, admit_into(&g, &gc->server, &go, &counter), net::detached);
  g.ioc.run_for(1s);
  REQUIRE(go.outcome);
  CHECK(*go.outcome == Admission::Outcome::kRouted);
  CHECK_FALSE(go.choice.has_value());  // the engine's error: no healthy worker
}
