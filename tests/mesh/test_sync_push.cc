// Push between gossip rounds: a window's changes leave as one batch per peer
// and land without a round; an outbox that overflows under push is repaired
// by a snapshot; load deltas carry one entry per changed worker; the
// journal wakes the mesh once per window, not once per change.
#include <doctest/doctest.h>

#include "mesh/sync_codec.h"
#include "tests/mesh/sync_cluster.h"

using namespace radixmesh;
using namespace radixmesh::mesh;
using namespace radixmesh::mesh::testing;

namespace {

const std::string kW0 = "http://127.0.0.1:9301";
const std::string kW1 = "http://127.0.0.1:9302";

std::vector<radix::BlockHash> chain(std::mt19937_64& rng, size_t n) {
  std::vector<radix::BlockHash> c(n);
  for (auto& h : c) h = rng() | 1;
  return c;
}

uint64_t sent(const SyncNode& n, FrameType t) {
  return n.engine.stats().frames_sent[static_cast<uint8_t>(t)].load();
}

void register_workers(SyncCluster& c) {
  for (size_t i = 0; i < c.size(); ++i) {
    c.node(i).worker(kW0);
    c.node(i).worker(kW1);
  }
}

}  // namespace

TEST_CASE("a window's inserts leave as one batch per peer and land without a gossip round") {
  SyncCluster c(3, 21);
  register_workers(c);
  c.connect_all();
  c.run_round();
  std::mt19937_64 rng(4);
  std::vector<std::vector<radix::BlockHash>> prompts;
  for (int i = 0; i < 10; ++i) {
    prompts.push_back(chain(rng, 6));
    c.node(0).insert("m", prompts.back(), i % 2 ? kW1 : kW0);
  }
  const uint64_t batches_before = sent(c.node(0), FrameType::kDeltaBatch);
  c.node(0).engine.flush(c.now());
  CHECK(sent(c.node(0), FrameType::kDeltaBatch) - batches_before == 2);  // one per peer
  CHECK(c.node(0).engine.stats().batches_sent.load() == 1);
  c.settle(10);  // the fake network's delay (<= 5 ms): no tick
  for (size_t n = 1; n < c.size(); ++n)
    for (size_t i = 0; i < prompts.size(); ++i)
      CHECK(c.node(n).holders("m", prompts[i]) == std::set<std::string>{i % 2 ? kW1 : kW0});
  // Acknowledged: nothing waits in the outboxes, and a flush with nothing new sends nothing.
  for (const auto& p : c.node(0).engine.peer_info()) CHECK(p.outbox_batches == 0);
  c.node(0).engine.flush(c.now());
  CHECK(sent(c.node(0), FrameType::kDeltaBatch) - batches_before == 2);
  CHECK(c.node(0).engine.stats().batches_resent.load() == 0);
}

TEST_CASE("a flush never resends an unacknowledged batch early; the round after the timeout does") {
  SyncCluster c(2, 22);
  register_workers(c);
  c.connect_all();
  c.run_round();
  c.net().detach(c.node(1).id);  // frames to n1 vanish: no acks
  std::mt19937_64 rng(5);
  c.node(0).insert("m", chain(rng, 4), kW0);
  c.node(0).engine.flush(c.now());
  for (int i = 0; i < 5; ++i) {
    c.settle(2);
    c.node(0).engine.flush(c.now());
  }
  CHECK(c.node(0).engine.stats().batches_resent.load() == 0);
  c.net().attach(c.node(1).id, &c.node(1).engine);
  c.run_rounds(4);  // 4 s > the 3 s resend timeout
  CHECK(c.node(0).engine.stats().batches_resent.load() >= 1);
  CHECK(c.converged("m"));
}

TEST_CASE("a peer that stops acknowledging pushed batches is repaired by a snapshot") {
  NodeOptions opts;
  opts.engine.outbox.max_batches = 4;
  opts.engine.digest_every_rounds = 2;
  SyncCluster c(2, 23, {}, opts);
  register_workers(c);
  c.connect_all();
  c.run_round();
  c.net().detach(c.node(1).id);
  std::mt19937_64 rng(6);
  std::vector<std::vector<radix::BlockHash>> prompts;
  for (int w = 0; w < 6; ++w) {  // six windows, four batches fit
    prompts.push_back(chain(rng, 5));
    c.node(0).insert("m", prompts.back(), kW0);
    c.node(0).engine.flush(c.now());
    c.settle(3);
  }
  CHECK(c.node(0).engine.stats().outbox_overflows.load() >= 1);
  for (const auto& p : c.node(0).engine.peer_info()) CHECK(p.outbox_batches <= 4);
  c.net().attach(c.node(1).id, &c.node(1).engine);
  c.run_rounds(12);  // the pushed snapshot was lost; the digest mismatch pulls one
  CHECK(c.node(1).engine.stats().snapshots_received.load() >= 1);
  CHECK(c.converged("m"));
  for (const auto& p : prompts) CHECK(c.node(1).holders("m", p) == std::set<std::string>{kW0});
}

TEST_CASE("load changes reach peers in the window, one entry per changed worker") {
  SyncCluster c(2, 24);
  register_workers(c);
  c.connect_all();
  c.run_round();
  const WorkerKey k0 = radix::WorkerDirectory::key_for_url(kW0);
  const WorkerKey k1 = radix::WorkerDirectory::key_for_url(kW1);
  auto& a = c.node(0);
  auto& b = c.node(1);
  // Many requests start within one window: one delta, two entries.
  for (int i = 0; i < 7; ++i) a.load.local_started(k0);
  a.load.local_started(k1);
  const uint64_t bytes_before = c.net().bytes_of(FrameType::kLoadDelta);
  CHECK(a.engine.flush(c.now()));  // load non-zero: keep polling
  CHECK(sent(a, FrameType::kLoadDelta) == 1);
  c.settle(10);
  CHECK(b.load.mesh_in_flight(k0) == 7);
  CHECK(b.load.mesh_in_flight(k1) == 1);
  CHECK(c.net().bytes_of(FrameType::kLoadDelta) - bytes_before ==
        FakeNetwork::kHeaderBytes + encode(LoadReport{{{k0, 7}, {k1, 1}}}).size());
  // Only k0 changes (to zero): the delta names k0 alone.
  for (int i = 0; i < 7; ++i) a.load.local_finished(k0);
  const uint64_t before2 = c.net().bytes_of(FrameType::kLoadDelta);
  CHECK(a.engine.flush(c.now()));
  c.settle(10);
  CHECK(c.net().bytes_of(FrameType::kLoadDelta) - before2 ==
        FakeNetwork::kHeaderBytes + encode(LoadReport{{{k0, 0}}}).size());
  CHECK(b.load.mesh_in_flight(k0) == 0);
  CHECK(b.load.mesh_in_flight(k1) == 1);
  // Nothing changed: no frame; everything back at zero: polling stops.
  a.engine.flush(c.now());
  CHECK(sent(a, FrameType::kLoadDelta) == 2);
  a.load.local_finished(k1);
  CHECK(a.engine.flush(c.now()));
  CHECK_FALSE(a.engine.flush(c.now()));
  c.settle(10);
  CHECK(b.load.mesh_in_flight(k1) == 0);
}

TEST_CASE("a request told only by push and ended between rounds is cleared by the next round") {
  // The end of a request asks for no window of its own (the router's
  // follow-up flush carries it); if no flush carries it, the round must.
  SyncCluster c(2, 26);
  register_workers(c);
  c.connect_all();
  c.run_round();  // both idle: the round says nothing about load
  const WorkerKey k0 = radix::WorkerDirectory::key_for_url(kW0);
  auto& a = c.node(0);
  auto& b = c.node(1);
  a.load.local_started(k0);
  a.engine.flush(c.now());  // the start, by push
  c.settle(10);
  REQUIRE(b.load.mesh_in_flight(k0) == 1);
  a.load.local_finished(k0);  // ended before the next round, no flush
  c.run_round();
  c.settle(10);
  CHECK(b.load.mesh_in_flight(k0) == 0);
  // Then silence: an idle node that told its peers "nothing" says no more.
  const uint64_t reports = sent(a, FrameType::kLoadReport);
  c.run_rounds(3);
  CHECK(sent(a, FrameType::kLoadReport) == reports);
}

TEST_CASE("a vanished peer's pushed load is forgotten and a late delta does not bring it back") {
  SyncCluster c(2, 25);
  register_workers(c);
  c.connect_all();
  const WorkerKey k0 = radix::WorkerDirectory::key_for_url(kW0);
  for (int i = 0; i < 3; ++i) c.node(0).load.local_started(k0);
  c.node(0).engine.flush(c.now());
  c.settle(10);
  REQUIRE(c.node(1).load.mesh_in_flight(k0) == 3);
  c.node(1).engine.on_peer_down(c.node(0).id);
  CHECK(c.node(1).load.mesh_in_flight(k0) == 0);
  c.node(0).load.local_started(k0);
  c.node(0).engine.flush(c.now());  // in flight when n1 declared n0 down
  c.settle(10);
  CHECK(c.node(1).load.mesh_in_flight(k0) == 0);
}

TEST_CASE("the journal wakes the mesh once per window however many changes arrive") {
  radix::WorkerDirectory dir;
  const auto w = *dir.intern(kW0);
  DeltaJournal j({}, dir);
  int wakes = 0;
  j.set_wake([&] { ++wakes; });
  std::vector<radix::BlockHash> b{1, 2, 3};
  for (uint64_t i = 0; i < 50; ++i)
    j.on_insert("m", radix::InsertEvent{w, b, 0, radix::Hlc{100 + i}});
  j.note_worker_event(WorkerEvent::Kind::kAdded, w, 5);
  CHECK(wakes == 1);
  j.drain();
  j.on_evict("m", radix::EvictEvent{w, 2, radix::Hlc{200}});
  CHECK(wakes == 2);
  j.set_wake({});
  j.drain();
  j.on_insert("m", radix::InsertEvent{w, b, 0, radix::Hlc{300}});
  CHECK(wakes == 2);
}

namespace {

struct FanOut {
  double bytes_per_insert_per_peer = 0;  // batches + acks, frame headers included
  bool converged = false;
  bool fresh_insert_everywhere = false;  // one insert visible on all peers within window + delay
};

// n routers, pushes every 2 ms, 1 insert per simulated ms on a random router
// extending a random conversation by 4 blocks, for `ms` ms.
FanOut fan_out(size_t n, uint64_t ms) {
  SyncCluster c(n, 30 + n);
  register_workers(c);
  c.connect_all();
  c.run_round();
  c.enable_push(2);
  std::mt19937_64 rng(n);
  std::vector<std::vector<radix::BlockHash>> convos(200);
  for (auto& cv : convos) cv = chain(rng, 8);
  const uint64_t before =
      c.net().bytes_of(FrameType::kDeltaBatch) + c.net().bytes_of(FrameType::kDeltaAck);
  for (uint64_t t = 0; t < ms; ++t) {
    auto& cv = convos[rng() % convos.size()];
    for (int i = 0; i < 4; ++i) cv.push_back(rng() | 1);
    c.node(rng() % n).insert("m", cv, rng() % 2 ? kW0 : kW1);
    c.advance(1);
  }
  c.advance(20);
  FanOut f;
  const uint64_t bytes =
      c.net().bytes_of(FrameType::kDeltaBatch) + c.net().bytes_of(FrameType::kDeltaAck) - before;
  f.bytes_per_insert_per_peer = static_cast<double>(bytes) / static_cast<double>(ms * (n - 1));
  f.converged = c.converged("m");
  // Right after a round, so only a push can carry it: window 2 ms + delay <= 5 ms.
  c.advance(1000 - (c.now() - SyncCluster::kStartMs) % 1000 + 1);
  auto fresh = chain(rng, 6);
  c.node(0).insert("m", fresh, kW1);
  c.advance(2 + 5 + 1);
  f.fresh_insert_everywhere = true;
  for (size_t i = 1; i < n; ++i)
    f.fresh_insert_everywhere =
        f.fresh_insert_everywhere && c.node(i).holders("m", fresh) == std::set<std::string>{kW1};
  return f;
}

}  // namespace

TEST_CASE(
    "pushed deltas at 3, 8 and 16 routers: every peer within the window, bytes per peer flat") {
  const FanOut f3 = fan_out(3, 1000);
  const FanOut f8 = fan_out(8, 1000);
  const FanOut f16 = fan_out(16, 1000);
  MESSAGE("bytes per insert per peer (batches + acks): 3 routers "
          << f3.bytes_per_insert_per_peer << ", 8 routers " << f8.bytes_per_insert_per_peer
          << ", 16 routers " << f16.bytes_per_insert_per_peer);
  for (const FanOut* f : {&f3, &f8, &f16}) {
    CHECK(f->converged);
    CHECK(f->fresh_insert_everywhere);
  }
  // Full-mesh fan-out: every peer gets each insert once; per peer the cost
  // must not grow with the cluster beyond the per-window framing it shares.
  CHECK(f16.bytes_per_insert_per_peer < 1.5 * f3.bytes_per_insert_per_peer);
  CHECK(f8.bytes_per_insert_per_peer < 1.5 * f3.bytes_per_insert_per_peer);
}

TEST_CASE("acknowledgements to a pushing peer are gathered and ride the receiver's own flushes") {
  SyncCluster c(2, 26);
  register_workers(c);
  c.connect_all();
  c.run_round();
  std::mt19937_64 rng(8);
  // n0 pushes a batch every 2 ms for 200 ms; n1, with no traffic of its own,
  // acknowledges the first at once and then waits for its round (or 500 ms):
  // an ack in a frame of its own would wake n0's mesh thread once more.
  for (int w = 0; w < 100; ++w) {
    c.node(0).insert("m", chain(rng, 3), kW0);
    c.node(0).engine.flush(c.now());
    c.settle(2);
  }
  c.settle(10);
  CHECK(c.node(0).engine.stats().batches_sent.load() == 100);
  CHECK(sent(c.node(1), FrameType::kDeltaAck) == 1);
  size_t waiting = 0;
  for (const auto& p : c.node(0).engine.peer_info()) waiting += p.outbox_batches;
  CHECK(waiting == 99);

  // Now n1 flushes too (its own traffic, every 2 ms): the acks leave with
  // those flushes, gathered, at most every 50 ms.
  const uint64_t acks_before = sent(c.node(1), FrameType::kDeltaAck);
  for (int w = 0; w < 100; ++w) {
    c.node(0).insert("m", chain(rng, 3), kW0);
    c.node(0).engine.flush(c.now());
    c.node(1).insert("m", chain(rng, 3), kW1);
    c.node(1).engine.flush(c.now());
    c.settle(2);
  }
  c.settle(10);
  const uint64_t riding = sent(c.node(1), FrameType::kDeltaAck) - acks_before;
  CHECK(riding >= 3);
  CHECK(riding <= 5);  // 200 ms / 50 ms gap
  waiting = 0;
  for (const auto& p : c.node(0).engine.peer_info()) waiting += p.outbox_batches;
  CHECK(waiting < 30);  // at most the last gap's batches

  c.node(1).engine.tick(c.now());  // the round acknowledges the rest
  c.settle(10);
  for (const auto& p : c.node(0).engine.peer_info()) CHECK(p.outbox_batches == 0);
  CHECK(c.node(0).engine.stats().batches_resent.load() == 0);
}
