// Hybrid logical clock, worker directory, memory broker, tree catalog.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "radix/hlc.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "tests/radix/tree_test_util.h"

using namespace radixmesh;
using namespace radixmesh::radix;

TEST_CASE("hlc: strictly increasing, never behind physical time, past observed stamps") {
  uint64_t phys = 1000;
  HybridClock clock([&] { return phys; });
  Hlc a = clock.now();
  CHECK(a.physical_ms() == 1000);
  Hlc b = clock.now();
  CHECK(b > a);
  CHECK(b.physical_ms() == 1000);
  CHECK(b.logical() == a.logical() + 1);
  phys = 900;  // physical clock steps back: stamps still increase
  CHECK(clock.now() > b);
  const Hlc remote = Hlc::from_parts(5000, 7);
  Hlc c = clock.observe(remote);
  CHECK(c > remote);
  CHECK(clock.now() > c);
  phys = 10'000;
  CHECK(clock.now().physical_ms() == 10'000);
}

TEST_CASE("hlc: remote stamps too far ahead are ignored and counted") {
  uint64_t phys = 1000;
  HybridClock clock([&] { return phys; }, 100);
  Hlc far = Hlc::from_parts(1000 + 101, 0);
  Hlc got = clock.observe(far);
  CHECK(got < far);
  CHECK(clock.rejected_drift() == 1);
  CHECK(clock.observe(Hlc::from_parts(1050, 0)) > Hlc::from_parts(1050, 0));
  CHECK(clock.rejected_drift() == 1);
}

TEST_CASE("hlc: concurrent now() calls never return the same stamp") {
  HybridClock clock([] { return uint64_t{42}; });
  std::vector<std::vector<uint64_t>> seen(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) seen[t].push_back(clock.now().value);
    });
  }
  for (auto& t : ts) t.join();
  std::vector<uint64_t> all;
  for (auto& v : seen) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}

TEST_CASE("worker directory: normalised URLs, stable keys, bounded") {
  WorkerDirectory dir(3);
  auto a = dir.intern("HTTP://Gpu-1:8000/");
  REQUIRE(a.ok());
  CHECK(*dir.intern("http://gpu-1:8000") == *a);
  CHECK(dir.url_of(*a) == "http://gpu-1:8000");
  CHECK(dir.key_of(*a) == WorkerDirectory::key_for_url("http://GPU-1:8000"));
  CHECK(dir.find_key(dir.key_of(*a)) == *a);
  // Paths keep their case; only scheme and host are folded.
  CHECK(WorkerDirectory::normalise("http://H/Path/") == "http://h/Path");
  WorkerDirectory other;
  (void)other.intern("http://x");
  CHECK(other.key_of(*other.intern("http://gpu-1:8000")) == dir.key_of(*a));
  REQUIRE(dir.intern("http://b").ok());
  REQUIRE(dir.intern("http://c").ok());
  auto full = dir.intern("http://d");
  CHECK_FALSE(full.ok());
  CHECK(full.error().code == ErrorCode::kTooLarge);
  CHECK_FALSE(dir.intern("  ").ok());
  CHECK_FALSE(dir.find("http://d"));
}

namespace {

struct FakePool : MemoryPool {
  FakePool(std::string n, size_t b) : name(std::move(n)), size(b) {}
  std::string name;
  size_t size;
  std::vector<size_t> asked;
  size_t bytes() const override { return size; }
  size_t relieve(size_t target) override {
    asked.push_back(target);
    const size_t freed = size > target ? size - target : 0;
    size -= freed;
    return freed;
  }
  std::string_view pool_name() const override { return name; }
};

// Memory that counts but cannot be given back (in-flight request bodies).
struct FixedPool : FakePool {
  using FakePool::FakePool;
  bool relievable() const override { return false; }
};

}  // namespace

TEST_CASE("broker: no action at normal or warning pressure") {
  MemoryBroker broker(1000);
  FakePool a("a", 300), b("b", 200);
  broker.add(&a);
  broker.add(&b);
  CHECK(broker.tick() == PressureTier::kNormal);
  a.size = 500;  // 0.7: warning
  CHECK(broker.tick() == PressureTier::kWarning);
  CHECK(a.asked.empty());
  CHECK(b.asked.empty());
  const auto st = broker.stats();
  CHECK(st.tier_entries[static_cast<size_t>(PressureTier::kWarning)] == 1);
  CHECK(st.relieve_calls == 0);
  CHECK(st.used_bytes == 700);
}

TEST_CASE("broker: high pressure relieves only the worst pool toward the 0.6 mark") {
  MemoryBroker broker(1000);
  FakePool a("a", 500), b("b", 200), c("c", 150);  // 0.85: high
  broker.add(&a);
  broker.add(&b);
  broker.add(&c);
  CHECK(broker.tick() == PressureTier::kHigh);
  REQUIRE(a.asked.size() == 1);
  CHECK(a.asked[0] == 250);  // 850 - 600 = 250 excess taken from a
  CHECK(b.asked.empty());
  CHECK(c.asked.empty());
  CHECK(broker.tick() == PressureTier::kWarning);  // 600 / 1000: observed only
  CHECK(a.asked.size() == 1);
  const auto st = broker.stats();
  CHECK(st.bytes_relieved == 250);
  CHECK(st.tier_entries[static_cast<size_t>(PressureTier::kHigh)] == 1);
}

TEST_CASE("broker: critical pressure relieves every pool over its share") {
  MemoryBroker broker(1000);
  FakePool a("a", 450), b("b", 400), c("c", 120);  // 0.97: critical; share 333
  broker.add(&a);
  broker.add(&b);
  broker.add(&c);
  CHECK(broker.tick() == PressureTier::kCritical);
  REQUIRE(a.asked.size() == 1);
  REQUIRE(b.asked.size() == 1);
  CHECK(c.asked.empty());
  CHECK(a.size <= 333);
  CHECK(b.size <= 333);
  broker.remove(&a);
  broker.tick();
  CHECK(a.asked.size() == 1);  // never called after remove
}

TEST_CASE("broker: a pool that cannot be relieved raises pressure, others give way") {
  MemoryBroker broker(1000);
  FakePool tree("tree", 700);
  FixedPool bodies("bodies", 150);  // 0.85: high, only with the bodies counted
  broker.add(&tree);
  broker.add(&bodies);
  CHECK(broker.tick() == PressureTier::kHigh);
  CHECK(bodies.asked.empty());  // the largest excess is the tree's to relieve
  REQUIRE(tree.asked.size() == 1);
  CHECK(tree.asked[0] == 600);  // 850 - 600 = 250 excess; floor 0.6 x 1000 (the one share)
  bodies.size = 900;            // 1.5: critical
  CHECK(broker.tick() == PressureTier::kCritical);
  CHECK(bodies.asked.empty());
  const auto st = broker.stats();
  REQUIRE(st.pools.size() == 2);
  CHECK(st.pools[1].first == "bodies");
  CHECK(st.pools[1].second == 900);
}

TEST_CASE("broker relieves real trees through the MemoryPool interface") {
  PrefixTree::Options o;
  o.shards = 2;
  MemoryBroker broker(1);  // any tree is over budget: critical
  TreeCatalog catalog(o, 4, &broker, nullptr);
  auto tree = catalog.get_or_create("m");
  REQUIRE(tree.ok());
  for (uint32_t i = 0; i < 200; ++i) {
    (*tree)->insert(test::chain_of({i + 1, 1, 2, 3}), i % 3, Hlc{i + 1});
  }
  const size_t before = (*tree)->bytes();
  CHECK(broker.tick() == PressureTier::kCritical);
  CHECK((*tree)->bytes() < before);
  CHECK(broker.stats().bytes_relieved > 0);
}

TEST_CASE("tree catalog: one tree per model, bounded, shared with the observer") {
  struct CountingObserver : TreeObserver {
    std::atomic<int> inserts{0};
    void on_insert(std::string_view model, const InsertEvent&) override {
      CHECK(model == "b");
      ++inserts;
    }
    void on_evict(std::string_view, const EvictEvent&) override {}
    void on_remove_worker(std::string_view, WorkerId) override {}
  } obs;
  PrefixTree::Options o;
  o.shards = 2;
  TreeCatalog catalog(o, 2, nullptr, &obs);
  auto a = catalog.get_or_create("a");
  REQUIRE(a.ok());
  CHECK((*a)->model() == "a");
  CHECK(catalog.get_or_create("a")->get() == a->get());
  auto b = catalog.get_or_create("b");
  REQUIRE(b.ok());
  auto c = catalog.get_or_create("c");
  CHECK_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::kTooLarge);
  CHECK(catalog.find("c") == nullptr);
  CHECK(catalog.all().size() == 2);
  (*b)->insert(test::chain_of({1, 2}), 5, Hlc{10});
  (*a)->apply(InsertRecord{5, 0, test::chain_of({3}), Hlc{11}}).ok();
  CHECK(obs.inserts == 1);
  CHECK(catalog.remove_worker_everywhere(5) == 3);
}
