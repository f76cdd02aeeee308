// In-process clusters of SyncEngines over a fault-injecting fake network:
// convergence, late join by snapshot, partitions, reordering and duplicates.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/mesh/sync_cluster.h"

using namespace radixmesh;
using namespace radixmesh::mesh;
using namespace radixmesh::mesh::testing;

namespace {

const std::vector<std::string> kWorkers = {"http://127.0.0.1:9001", "http://127.0.0.1:9002",
                                           "http://127.0.0.1:9003", "http://127.0.0.1:9004"};

std::vector<radix::BlockHash> chain(std::mt19937_64& rng, size_t n) {
  std::vector<radix::BlockHash> c(n);
  for (auto& h : c) h = rng() | 1;  // 0 is reserved
  return c;
}

std::vector<radix::BlockHash> extend(std::vector<radix::BlockHash> c, std::mt19937_64& rng,
                                     size_t n) {
  for (size_t i = 0; i < n; ++i) c.push_back(rng() | 1);
  return c;
}

// Every node interns the workers in a different order: ids differ, keys agree.
void register_workers(SyncCluster& c) {
  for (size_t i = 0; i < c.size(); ++i)
    for (size_t k = 0; k < kWorkers.size(); ++k)
      c.node(i).worker(kWorkers[(k + i) % kWorkers.size()]);
}

}  // namespace

TEST_CASE("inserts on one node appear on all within two rounds") {
  SyncCluster c(3, 1);
  register_workers(c);
  c.connect_all();
  c.run_round();
  std::mt19937_64 rng(5);
  auto a = chain(rng, 12);
  auto b = chain(rng, 7);
  c.node(0).insert("m", a, kWorkers[0]);
  c.node(1).insert("m", b, kWorkers[1]);
  c.run_rounds(2);
  for (size_t i = 0; i < c.size(); ++i) {
    CHECK(c.node(i).holders("m", a) == std::set<std::string>{kWorkers[0]});
    CHECK(c.node(i).holders("m", b) == std::set<std::string>{kWorkers[1]});
  }
  CHECK(c.converged("m"));
  CHECK(c.node(2).engine.stats().inserts_applied.load() == 2);
}

TEST_CASE("a later turn travels as an anchored tail and lands on every node") {
  SyncCluster c(3, 2);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(9);
  auto t1 = chain(rng, 20);
  c.node(0).insert("m", t1, kWorkers[2]);
  c.run_rounds(2);
  const uint64_t before = c.net().bytes_of(FrameType::kDeltaBatch);
  auto t2 = extend(t1, rng, 5);
  c.node(1).insert("m", t2, kWorkers[2]);  // the next turn lands on another router
  c.run_rounds(2);
  const uint64_t after = c.net().bytes_of(FrameType::kDeltaBatch);
  for (size_t i = 0; i < c.size(); ++i)
    CHECK(c.node(i).holders("m", t2) == std::set<std::string>{kWorkers[2]});
  // One batch to each of two peers: 5 new blocks, not 25.
  const uint64_t per_peer = (after - before) / 2 - FakeNetwork::kHeaderBytes;
  CHECK(per_peer < 5 * 8 + 48);
  CHECK(c.node(2).engine.stats().anchors_requested.load() == 0);
}

TEST_CASE("a node joining late converges by snapshot") {
  SyncCluster c(2, 3);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(11);
  std::vector<std::vector<radix::BlockHash>> prompts;
  for (int i = 0; i < 50; ++i) {
    prompts.push_back(chain(rng, 4 + i % 9));
    c.node(i % 2).insert("m", prompts.back(), kWorkers[i % kWorkers.size()]);
  }
  c.run_rounds(2);
  REQUIRE(c.converged("m"));

  size_t late = c.add_node();
  c.node(late).worker(kWorkers[3]);  // knows only one worker: the rest come with the snapshot
  c.link_up(late, 0);
  c.link_up(late, 1);
  c.run_rounds(3);
  CHECK(c.converged("m"));
  CHECK(c.node(late).engine.stats().snapshots_received.load() >= 1);
  for (size_t i = 0; i < prompts.size(); ++i)
    CHECK(c.node(late).holders("m", prompts[i]) == c.node(0).holders("m", prompts[i]));
}

TEST_CASE("a transient partition heals by resending unacknowledged batches") {
  SyncCluster c(3, 4);
  register_workers(c);
  c.connect_all();
  c.cut(0, 1);
  c.cut(0, 2);
  std::mt19937_64 rng(13);
  auto a = chain(rng, 6), b = chain(rng, 6);
  c.node(0).insert("m", a, kWorkers[0]);
  c.node(2).insert("m", b, kWorkers[1]);
  c.run_rounds(3);
  CHECK(c.node(1).holders("m", a).empty());
  CHECK_FALSE(c.converged("m"));
  CHECK(c.node(0).engine.peer_info().front().outbox_batches > 0);
  c.heal();
  c.run_rounds(5);
  CHECK(c.converged("m"));
  CHECK(c.node(1).holders("m", a) == std::set<std::string>{kWorkers[0]});
  CHECK(c.node(0).holders("m", b) == std::set<std::string>{kWorkers[1]});
  CHECK(c.node(0).engine.stats().batches_resent.load() > 0);
  for (const auto& p : c.node(0).engine.peer_info()) CHECK(p.outbox_batches == 0);
}

TEST_CASE("a partition where peers were declared dead heals through digests and snapshots") {
  NodeOptions opts;
  opts.engine.digest_every_rounds = 2;
  SyncCluster c(3, 5, {}, opts);
  register_workers(c);
  c.connect_all();
  c.run_round();
  c.cut(0, 1);
  c.cut(0, 2);
  c.link_down(0, 1);
  c.link_down(0, 2);
  std::mt19937_64 rng(17);
  std::vector<std::vector<radix::BlockHash>> side0, side12;
  for (int i = 0; i < 20; ++i) {
    side0.push_back(chain(rng, 5));
    c.node(0).insert("m", side0.back(), kWorkers[0]);
    side12.push_back(chain(rng, 5));
    c.node(1 + i % 2).insert("m", side12.back(), kWorkers[1]);
  }
  c.run_rounds(3);
  CHECK(c.node(1).digest("m") == c.node(2).digest("m"));
  CHECK(c.node(0).digest("m") != c.node(1).digest("m"));
  c.heal();
  c.link_up(0, 1);
  c.link_up(0, 2);
  c.run_rounds(8);
  CHECK(c.converged("m"));
  for (const auto& p : side12)
    CHECK(c.node(0).holders("m", p) == std::set<std::string>{kWorkers[1]});
  for (const auto& p : side0)
    CHECK(c.node(2).holders("m", p) == std::set<std::string>{kWorkers[0]});
}

TEST_CASE("drops, duplicates and reordering give identical trees") {
  Faults f;
  f.drop = 0.1;
  f.duplicate = 0.3;
  f.delay_min_ms = 1;
  f.delay_max_ms = 2500;  // frames overtake each other across rounds
  NodeOptions opts;
  opts.engine.outbox.resend_after_ms = 2000;
  opts.engine.digest_every_rounds = 3;
  SyncCluster c(4, 6, f, opts);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(19);
  std::vector<std::vector<radix::BlockHash>> convo(6);
  for (auto& t : convo) t = chain(rng, 3);
  for (int round = 0; round < 10; ++round) {
    for (size_t k = 0; k < convo.size(); ++k) {
      convo[k] = extend(convo[k], rng, 2);  // multi-turn: anchors everywhere
      c.node(rng() % c.size()).insert("m", convo[k], kWorkers[k % kWorkers.size()]);
    }
    c.run_round();
  }
  Faults calm;
  c.net().set_faults(calm);
  c.run_rounds(12);
  CHECK(c.converged("m"));
  for (size_t k = 0; k < convo.size(); ++k) {
    auto want = c.node(0).holders("m", convo[k]);
    CHECK(want == std::set<std::string>{kWorkers[k % kWorkers.size()]});
    for (size_t i = 1; i < c.size(); ++i) CHECK(c.node(i).holders("m", convo[k]) == want);
  }
  for (size_t i = 0; i < c.size(); ++i) CHECK(c.node(i).trees.find("m")->check_invariants() == "");
}

TEST_CASE("removing a worker erases it from every tree on every node, without echo") {
  SyncCluster c(3, 7);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(23);
  auto a = chain(rng, 8);
  c.node(0).insert("m", a, kWorkers[0]);
  c.node(0).insert("other", a, kWorkers[0]);
  c.node(1).insert("m", a, kWorkers[1]);
  c.run_rounds(2);
  REQUIRE(c.node(2).holders("m", a).size() == 2);
  c.node(1).trees.remove_worker_everywhere(*c.node(1).workers.find(kWorkers[0]));
  c.run_rounds(2);
  for (size_t i = 0; i < c.size(); ++i) {
    CHECK(c.node(i).holders("m", a) == std::set<std::string>{kWorkers[1]});
    CHECK(c.node(i).holders("other", a).empty());
  }
  const uint64_t events = c.node(1).engine.stats().worker_events_applied.load();
  c.run_rounds(3);
  CHECK(c.node(1).engine.stats().worker_events_applied.load() == events);  // nothing echoed back
}

TEST_CASE("load reports travel each round and decay when a peer goes silent") {
  SyncCluster c(2, 8);
  register_workers(c);
  c.connect_all();
  const WorkerKey w = radix::WorkerDirectory::key_for_url(kWorkers[0]);
  c.node(0).load.local_started(w);
  c.node(0).load.local_started(w);
  c.run_round();
  c.settle(10);
  CHECK(c.node(1).load.mesh_in_flight(w) == 2);
  CHECK(c.node(1).load.total_in_flight(w) == 2);
  c.node(0).load.local_finished(w);
  c.run_round();
  c.settle(10);
  CHECK(c.node(1).load.mesh_in_flight(w) == 1);
  c.cut(0, 1);  // silent from now on
  c.run_rounds(12);
  CHECK(c.node(1).load.mesh_in_flight(w) == 0);
}

TEST_CASE("an idle cluster sends only tiny digests") {
  SyncCluster c(3, 9);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(29);
  for (int i = 0; i < 100; ++i) c.node(i % 3).insert("m", chain(rng, 10), kWorkers[i % 4]);
  c.run_rounds(3);
  REQUIRE(c.converged("m"));
  const uint64_t before = c.net().link_bytes("n0", "n1") + c.net().link_bytes("n1", "n0");
  const uint64_t load_before = c.net().bytes_of(FrameType::kLoadReport);
  c.run_rounds(100);
  CHECK(c.net().bytes_of(FrameType::kLoadReport) == load_before);  // nothing in flight: silence
  const uint64_t idle = c.net().link_bytes("n0", "n1") + c.net().link_bytes("n1", "n0") - before;
  CHECK(idle / 100.0 <= 200.0);  // the target: bytes per second per peer pair (1 s rounds)
  CHECK(idle / 100.0 <= 20.0);   // what it is: one ~27-byte digest each way per 10 rounds
  CHECK(c.node(0).engine.stats().snapshots_requested.load() == 0);
}

TEST_CASE(
    "after a partition with peers declared dead, the first digests pull what was missed, even "
    "under traffic") {
  SyncCluster c(3, 10);  // default digest interval (10 rounds)
  register_workers(c);
  c.connect_all();
  c.run_round();
  c.cut(0, 1);
  c.cut(0, 2);
  c.link_down(0, 1);
  c.link_down(0, 2);
  std::mt19937_64 rng(31);
  std::vector<std::vector<radix::BlockHash>> side0;
  for (int i = 0; i < 10; ++i) {
    side0.push_back(chain(rng, 5));
    c.node(0).insert("m", side0.back(), kWorkers[0]);
    c.node(1).insert("m", chain(rng, 5), kWorkers[1]);
  }
  c.run_rounds(2);
  c.heal();
  c.link_up(0, 1);
  c.link_up(0, 2);
  for (int r = 0; r < 3; ++r) {  // traffic keeps digests moving
    c.node(2).insert("m", chain(rng, 4), kWorkers[2]);
    c.run_round();
  }
  c.settle(50);
  CHECK(c.converged("m"));
  for (const auto& p : side0)
    CHECK(c.node(2).holders("m", p) == std::set<std::string>{kWorkers[0]});
}

TEST_CASE("with background snapshot builds and merges, a late node still converges") {
  NodeOptions opts;
  opts.engine.background_snapshots = true;
  SyncCluster c(2, 11, {}, opts);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(37);
  std::vector<std::vector<radix::BlockHash>> prompts;
  for (int i = 0; i < 200; ++i) {
    prompts.push_back(chain(rng, 6));
    c.node(i % 2).insert("m", prompts.back(), kWorkers[i % kWorkers.size()]);
  }
  c.run_rounds(2);
  size_t late = c.add_node();
  c.link_up(late, 0);
  c.link_up(late, 1);
  // Completions run at the next frame or tick: poll in bounded real time.
  // The merge fills the tree on the worker thread and its completion (which
  // counts the snapshot) runs at a later tick, so wait for both.
  const auto snapshots = [&] { return c.node(late).engine.stats().snapshots_received.load(); };
  for (int i = 0; i < 200 && !(c.converged("m") && snapshots() >= 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    c.run_round();
  }
  CHECK(c.converged("m"));
  CHECK(snapshots() >= 1);
  for (const auto& p : prompts) CHECK(c.node(late).holders("m", p) == c.node(0).holders("m", p));
}

// A restarted node is up with some peers before others. n1 evicts a prefix
// while n3 is up only with n0, and n0 builds n3's snapshot before n1's
// eviction reaches it: n3 gets the entry by snapshot and never the eviction
// as a delta (n3 was not up for n1 when it left). Snapshots carry
// tombstones, so the next repair removes the entry on n3; a union of
// entries alone never would, and the trees would stay apart for good.
TEST_CASE("an eviction a restarted node missed reaches it through a snapshot's tombstones") {
  SyncCluster c(3, 31);
  register_workers(c);
  c.connect_all();
  std::mt19937_64 rng(37);
  auto gone = chain(rng, 6), kept = chain(rng, 6);
  c.node(1).insert("m", gone, kWorkers[0]);
  c.node(1).insert("m", kept, kWorkers[1]);
  c.run_rounds(2);
  REQUIRE(c.converged("m"));

  c.cut(0, 1);  // n1's eviction reaches n0 only after n3's snapshot is built
  size_t restarted = c.add_node();
  c.link_up(restarted, 0);
  c.run_rounds(3);
  REQUIRE(c.node(restarted).holders("m", gone) == std::set<std::string>{kWorkers[0]});
  auto tree = *c.node(1).trees.get_or_create("m");
  REQUIRE(tree->evict(c.node(1).worker(kWorkers[0]), gone.front(), c.node(1).clock.now()) > 0);
  c.run_rounds(2);
  c.heal();
  c.run_rounds(3);  // the eviction is resent to n0
  CHECK(c.node(0).holders("m", gone).empty());
  CHECK(c.node(restarted).holders("m", gone) == std::set<std::string>{kWorkers[0]});

  c.link_up(restarted, 1);
  c.link_up(restarted, 2);
  c.run_rounds(8);
  CHECK(c.converged("m"));
  for (size_t i = 0; i < c.size(); ++i) {
    CHECK(c.node(i).holders("m", gone).empty());
    CHECK(c.node(i).holders("m", kept) == std::set<std::string>{kWorkers[1]});
  }
}
