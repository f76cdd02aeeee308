// SyncEngine edge cases driven frame by frame: stale evictions, anchors,
// snapshot bounds, peers vanishing, outbox bounds, hostile payloads.
#include <doctest/doctest.h>

#include "mesh/sync_codec.h"
#include "radix/snapshot_codec.h"
#include "tests/mesh/sync_cluster.h"

using namespace radixmesh;
using namespace radixmesh::mesh;
using namespace radixmesh::mesh::testing;

namespace {

const std::string kW0 = "http://127.0.0.1:9101";
const std::string kW1 = "http://127.0.0.1:9102";

std::vector<radix::BlockHash> chain(std::mt19937_64& rng, size_t n) {
  std::vector<radix::BlockHash> c(n);
  for (auto& h : c) h = rng() | 1;
  return c;
}

uint64_t stamp(uint64_t ms) {
  return radix::Hlc::from_parts(SyncCluster::kStartMs + ms, 0).value;
}

std::string batch(uint64_t seq, std::vector<DeltaRecord> records, const std::string& model = "m") {
  DeltaBatch b;
  b.seq = seq;
  b.models.push_back({model, std::move(records)});
  return encode(b);
}

}  // namespace

TEST_CASE("a stale eviction never removes a newer insert, in either delivery order") {
  std::mt19937_64 rng(1);
  auto c = chain(rng, 6);
  const WorkerKey w = radix::WorkerDirectory::key_for_url(kW0);
  const std::string insert_new = batch(1, {{DeltaRecord::Kind::kInsert, w, 0, c, stamp(200)}});
  const std::string evict_old = batch(2, {{DeltaRecord::Kind::kEvict, w, c[2], {}, stamp(100)}});
  const std::string evict_new = batch(3, {{DeltaRecord::Kind::kEvict, w, c[2], {}, stamp(300)}});

  uint64_t digests[2];
  for (int order = 0; order < 2; ++order) {
    SyncCluster cl(1, 1);
    cl.node(0).worker(kW0);
    auto& e = cl.node(0).engine;
    if (order == 0) {
      e.on_frame("peer", FrameType::kDeltaBatch, insert_new);
      e.on_frame("peer", FrameType::kDeltaBatch, evict_old);
    } else {
      e.on_frame("peer", FrameType::kDeltaBatch, evict_old);
      e.on_frame("peer", FrameType::kDeltaBatch, insert_new);
      e.on_frame("peer", FrameType::kDeltaBatch, insert_new);  // duplicate
    }
    CHECK(cl.node(0).holders("m", c) == std::set<std::string>{kW0});
    digests[order] = cl.node(0).digest("m");
    // A newer eviction does remove it, and an older insert cannot resurrect it.
    e.on_frame("peer", FrameType::kDeltaBatch, evict_new);
    e.on_frame("peer", FrameType::kDeltaBatch, insert_new);
    CHECK(cl.node(0).holders("m", c).empty());
    CHECK(cl.node(0).holders("m", {c[0], c[1]}) == std::set<std::string>{kW0});
  }
  CHECK(digests[0] == digests[1]);
}

TEST_CASE("an unknown anchor is requested from the sender and resolved") {
  SyncCluster c(2, 2);
  for (size_t i = 0; i < 2; ++i) c.node(i).worker(kW0);
  c.connect_all();
  std::mt19937_64 rng(3);
  auto t1 = chain(rng, 10);
  c.node(0).insert("m", t1, kW0);  // node 1 never hears of it (not drained)
  c.node(0).journal.drain();
  auto tail = chain(rng, 3);
  const WorkerKey w = radix::WorkerDirectory::key_for_url(kW0);
  // Node 1 receives the next turn anchored on a hash it does not know.
  c.node(1).engine.on_frame(
      "n0", FrameType::kDeltaBatch,
      batch(77, {{DeltaRecord::Kind::kInsert, w, t1.back(), tail, stamp(50)}}));
  CHECK(c.node(1).engine.stats().anchors_requested.load() == 1);
  CHECK(c.node(1).engine.parked_records() == 1);
  c.settle(50);  // request -> reply
  auto full = t1;
  full.insert(full.end(), tail.begin(), tail.end());
  CHECK(c.node(1).holders("m", full) == std::set<std::string>{kW0});
  CHECK(c.node(1).engine.stats().anchors_resolved.load() == 1);
  CHECK(c.node(1).engine.parked_records() == 0);
  CHECK(c.node(0).engine.stats().anchors_answered.load() == 1);
}

TEST_CASE("an anchor the sender no longer knows falls back to a snapshot") {
  SyncCluster c(2, 3);
  for (size_t i = 0; i < 2; ++i) c.node(i).worker(kW0);
  c.connect_all();
  const WorkerKey w = radix::WorkerDirectory::key_for_url(kW0);
  std::mt19937_64 rng(4);
  auto other = chain(rng, 4);
  c.node(0).insert("m", other, kW0);
  c.run_rounds(2);
  c.node(1).engine.on_frame("n0", FrameType::kDeltaBatch,
                            batch(5, {{DeltaRecord::Kind::kInsert, w, 0xDEAD, {1, 2}, stamp(10)}}));
  c.settle(50);
  CHECK(c.node(1).engine.stats().anchors_fell_back.load() == 1);
  CHECK(c.node(1).engine.stats().snapshots_requested.load() == 1);
  c.run_rounds(1);
  CHECK(c.node(1).engine.stats().snapshots_received.load() == 1);
  CHECK(c.converged("m"));
}

TEST_CASE("a snapshot claiming more than the receive cap is refused before buffering") {
  NodeOptions opts;
  opts.engine.assembler.max_snapshot_bytes = 1 << 20;
  SyncCluster c(1, 4, {}, opts);
  SnapshotChunk chunk{1, "m", uint64_t{1} << 40, 0, 1u << 20, "abc"};
  c.node(0).engine.on_frame("p", FrameType::kSnapshotChunk, encode(chunk));
  CHECK(c.node(0).engine.stats().snapshots_rejected.load() == 1);
  CHECK(c.node(0).engine.snapshot_buffer_bytes() == 0);
}

TEST_CASE("an LZ4 payload that decodes past the merge cap is refused and changes nothing") {
  NodeOptions small;
  small.engine.max_decoded_snapshot_bytes = 1024;
  SyncCluster src(1, 5);
  src.node(0).worker(kW0);
  std::mt19937_64 rng(6);
  for (int i = 0; i < 200; ++i) src.node(0).insert("m", chain(rng, 8), kW0);
  auto blob = radix::encode_snapshot(*src.node(0).trees.find("m"), src.node(0).workers);
  REQUIRE(blob.ok());
  SyncCluster dst(1, 6, {}, small);
  SnapshotChunk chunk{9, "m", blob->size(), 0, 1, *blob};
  REQUIRE(blob->size() <= kMaxSnapshotChunkData);
  dst.node(0).engine.on_frame("p", FrameType::kSnapshotChunk, encode(chunk));
  CHECK(dst.node(0).engine.stats().snapshots_rejected.load() == 1);
  CHECK(dst.node(0).engine.stats().snapshots_received.load() == 0);
  CHECK(dst.node(0).digest("m") == 0);
}

TEST_CASE("a peer vanishing mid-snapshot frees its reassembly buffers") {
  SyncCluster c(1, 7);
  std::string data(1000, 'x');
  c.node(0).engine.on_peer_up("p");
  c.node(0).engine.on_frame("p", FrameType::kSnapshotChunk,
                            encode(SnapshotChunk{3, "m", 3000, 0, 3, data}));
  c.node(0).engine.on_frame("p", FrameType::kSnapshotChunk,
                            encode(SnapshotChunk{3, "m", 3000, 2, 3, data}));
  CHECK(c.node(0).engine.snapshot_buffer_bytes() == 2000);
  c.node(0).engine.on_peer_down("p");
  CHECK(c.node(0).engine.snapshot_buffer_bytes() == 0);
}

TEST_CASE("a peer too far behind gets a snapshot instead of an unbounded backlog") {
  NodeOptions opts;
  opts.engine.outbox.max_bytes = 16 << 10;
  opts.engine.digest_every_rounds = 2;
  SyncCluster c(2, 8, {}, opts);
  for (size_t i = 0; i < 2; ++i) c.node(i).worker(kW0);
  c.connect_all();
  c.cut(0, 1);
  std::mt19937_64 rng(9);
  std::vector<std::vector<radix::BlockHash>> prompts;
  for (int r = 0; r < 10; ++r) {
    for (int i = 0; i < 30; ++i) {
      prompts.push_back(chain(rng, 8));
      c.node(0).insert("m", prompts.back(), kW0);
    }
    c.run_round();
    for (const auto& p : c.node(0).engine.peer_info())
      CHECK(p.outbox_bytes <= opts.engine.outbox.max_bytes);
  }
  CHECK(c.node(0).engine.stats().outbox_overflows.load() > 0);
  // The snapshot pushed on overflow was lost in the cut too; once healed, the
  // stable digest mismatch pulls one.
  c.heal();
  c.run_rounds(8);
  CHECK(c.node(1).engine.stats().snapshots_received.load() >= 1);
  CHECK(c.converged("m"));
  for (const auto& p : prompts) CHECK(c.node(1).holders("m", p) == std::set<std::string>{kW0});
}

TEST_CASE("garbage sync payloads are counted and ignored") {
  SyncCluster c(1, 10);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 500; ++i) {
    std::string g(rng() % 40, '\0');
    for (auto& ch : g) ch = static_cast<char>(rng());
    auto type = static_cast<FrameType>(32 + rng() % 9);
    c.node(0).engine.on_frame("p", type, g);
  }
  const auto& s = c.node(0).engine.stats();
  CHECK(s.rejected_corrupt.load() + s.rejected_too_large.load() > 400);
  CHECK(c.node(0).engine.snapshot_buffer_bytes() < (size_t{40} * 8 * 500));
}

TEST_CASE("records for a worker this node never saw pull a snapshot that brings its URL") {
  SyncCluster c(2, 12);
  c.node(0).worker(kW1);
  c.connect_all();
  std::mt19937_64 rng(13);
  auto p = chain(rng, 5);
  c.node(0).insert("m", p, kW1);
  c.run_rounds(2);
  CHECK(c.node(1).engine.stats().records_unknown_worker.load() >= 1);
  c.run_rounds(1);
  CHECK(c.node(1).holders("m", p) == std::set<std::string>{kW1});
}
