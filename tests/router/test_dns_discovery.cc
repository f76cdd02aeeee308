// DnsDiscovery: membership follows the DNS answer, only for workers it added.
#include <doctest/doctest.h>

#include <atomic>

#include "router/dns_discovery.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {
WorkerRegistry make_registry() {
  auto next = std::make_shared<std::atomic<radix::WorkerId>>(0);
  return WorkerRegistry(
      WorkerRegistry::Options{64, {}},
      [next](const std::string&) -> Result<radix::WorkerId> { return next->fetch_add(1); });
}
}  // namespace

TEST_CASE("workers-dns spec parsing") {
  auto o = DnsDiscovery::parse("workers.ns.svc:8000", std::chrono::milliseconds(500));
  CHECK(o.name == "workers.ns.svc");
  CHECK(o.port == "8000");
  CHECK_THROWS(DnsDiscovery::parse("no-port", std::chrono::milliseconds(1)));
  CHECK_THROWS(DnsDiscovery::parse("name:", std::chrono::milliseconds(1)));
  CHECK_THROWS(DnsDiscovery::parse("name:99999", std::chrono::milliseconds(1)));
}

TEST_CASE("answers add and remove discovered workers; static workers are untouched") {
  std::vector<radix::WorkerId> removed;
  auto reg = make_registry();
  reg.set_on_removed([&removed](const std::shared_ptr<Worker>& w) { removed.push_back(w->id()); });
  auto fixed = reg.add("http://10.0.0.9:8000").value();
  boost::asio::io_context ioc;
  Logger log(LogLevel::kError);
  DnsDiscovery dns(ioc.get_executor(), reg,
                   DnsDiscovery::parse("w:8000", std::chrono::milliseconds(100)), log);
  dns.apply({"http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.9:8000"});
  CHECK(reg.size() == 3);
  // 10.0.0.2 leaves the answer: removed (and erased from trees by the hook).
  dns.apply({"http://10.0.0.1:8000"});
  CHECK(reg.size() == 2);
  REQUIRE(removed.size() == 1);
  CHECK_FALSE(reg.find("http://10.0.0.2:8000"));
  // The statically configured worker stays although DNS no longer names it.
  CHECK(reg.find("http://10.0.0.9:8000") == fixed);
  // An empty answer (DNS hiccup) does not empty the fleet.
  dns.apply({});
  CHECK(reg.find("http://10.0.0.1:8000"));
}

TEST_CASE("a worker that leaves DNS drains until idle or the grace deadline, then goes") {
  auto reg = make_registry();
  boost::asio::io_context ioc;
  Logger log(LogLevel::kError);
  auto opts = DnsDiscovery::parse("w:8000", std::chrono::milliseconds(100));
  opts.drain_grace = std::chrono::seconds(30);
  DnsDiscovery dns(ioc.get_executor(), reg, opts, log);
  const auto t0 = DnsDiscovery::Clock::now();
  dns.apply({"http://10.0.0.1:8000", "http://10.0.0.2:8000"}, t0);
  auto busy = reg.find("http://10.0.0.2:8000");
  REQUIRE(busy);
  busy->add_in_flight();

  // Gone from DNS while a request is in flight: drained, still registered.
  dns.apply({"http://10.0.0.1:8000"}, t0 + std::chrono::seconds(1));
  REQUIRE(reg.find("http://10.0.0.2:8000"));
  CHECK(busy->draining());

  // Back in the answer before it finished: undrained, kept.
  dns.apply({"http://10.0.0.1:8000", "http://10.0.0.2:8000"}, t0 + std::chrono::seconds(2));
  CHECK_FALSE(busy->draining());

  // Gone again; the request ends: removed at the next answer.
  dns.apply({"http://10.0.0.1:8000"}, t0 + std::chrono::seconds(3));
  CHECK(reg.find("http://10.0.0.2:8000"));
  busy->sub_in_flight();
  dns.apply({"http://10.0.0.1:8000"}, t0 + std::chrono::seconds(4));
  CHECK_FALSE(reg.find("http://10.0.0.2:8000"));

  // A request that never ends does not keep a vanished worker forever.
  auto stuck = reg.find("http://10.0.0.1:8000");
  REQUIRE(stuck);
  stuck->add_in_flight();
  dns.apply({"http://10.0.0.3:8000"}, t0 + std::chrono::seconds(5));
  CHECK(reg.find("http://10.0.0.1:8000"));
  dns.apply({"http://10.0.0.3:8000"}, t0 + std::chrono::seconds(36));
  CHECK_FALSE(reg.find("http://10.0.0.1:8000"));
}
