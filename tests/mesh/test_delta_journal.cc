// DeltaJournal: anchored tails, refresh coalescing, batch splitting, byte
// bound and echo suppression.
#include <doctest/doctest.h>

#include "mesh/delta_journal.h"
#include "mesh/sync_codec.h"
#include "radix/worker_directory.h"

using namespace radixmesh;
using namespace radixmesh::mesh;

namespace {
struct Fixture {
  radix::WorkerDirectory dir;
  radix::WorkerId w0 = *dir.intern("http://127.0.0.1:9201");
  radix::WorkerId w1 = *dir.intern("http://127.0.0.1:9202");
};

radix::InsertEvent ins(radix::WorkerId w, const std::vector<radix::BlockHash>& b, uint32_t known,
                       uint64_t ts) {
  return radix::InsertEvent{w, b, known, radix::Hlc{ts}};
}
}  // namespace

TEST_CASE("an insert carries only the blocks after the last known hash") {
  Fixture f;
  DeltaJournal j({}, f.dir);
  std::vector<radix::BlockHash> b{11, 12, 13, 14, 15};
  j.on_insert("m", ins(f.w0, b, 0, 100));
  j.on_insert("m", ins(f.w1, b, 3, 101));
  auto d = j.drain();
  REQUIRE(d.batches.size() == 1);
  REQUIRE(d.batches[0].models.size() == 1);
  const auto& r = d.batches[0].models[0].records;
  REQUIRE(r.size() == 2);
  CHECK(r[0].anchor == 0);
  CHECK(r[0].blocks == b);
  CHECK(r[1].anchor == 13);
  CHECK(r[1].blocks == std::vector<radix::BlockHash>{14, 15});
  CHECK(r[1].worker == f.dir.key_of(f.w1));
  CHECK(d.changes.at("m") == 2);
  CHECK(j.drain().batches.empty());  // drained means gone
}

TEST_CASE("refreshes of a known prefix coalesce to the newest stamp per round") {
  Fixture f;
  DeltaJournal j({}, f.dir);
  std::vector<radix::BlockHash> b{1, 2, 3};
  for (uint64_t ts = 10; ts < 20; ++ts) j.on_insert("m", ins(f.w0, b, 3, ts));
  j.on_insert("m", ins(f.w1, b, 3, 30));
  auto d = j.drain();
  const auto& r = d.batches.at(0).models.at(0).records;
  REQUIRE(r.size() == 2);
  CHECK(r[0].blocks.empty());
  CHECK(r[0].anchor == 3);
  CHECK(r[0].ts == 19);
  CHECK(r[1].worker == f.dir.key_of(f.w1));
}

TEST_CASE("a round larger than a batch is split, every batch under the frame cap") {
  Fixture f;
  DeltaJournalConfig cfg;
  cfg.max_batch_bytes = 4096;
  DeltaJournal j(cfg, f.dir);
  std::vector<radix::BlockHash> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = i + 1;
  j.on_insert("m", ins(f.w0, big, 0, 1));
  for (int i = 0; i < 300; ++i)
    j.on_insert(i % 2 ? "a" : "b", ins(f.w1, {radix::BlockHash(100000 + i)}, 0, 2));
  auto d = j.drain();
  CHECK(d.batches.size() > 5);
  size_t blocks = 0;
  for (auto& b : d.batches) {
    CHECK(encode(b).size() <= 2 * cfg.max_batch_bytes);
    for (auto& m : b.models)
      for (auto& r : m.records)
        if (m.model == "m") blocks += r.blocks.size();
  }
  CHECK(blocks == big.size());
}

TEST_CASE("the journal is bounded in bytes: overflow drops the round and says so") {
  Fixture f;
  DeltaJournalConfig cfg;
  cfg.max_bytes = 10000;
  DeltaJournal j(cfg, f.dir);
  std::vector<radix::BlockHash> b(100, 7);
  for (int i = 0; i < 100; ++i) j.on_insert("m", ins(f.w0, b, 0, i));
  CHECK(j.pending_bytes() <= cfg.max_bytes);
  auto d = j.drain();
  CHECK(d.overflowed);
  CHECK(j.overflows() == 1);
  j.on_insert("m", ins(f.w0, b, 0, 1));
  CHECK_FALSE(j.drain().overflowed);
}

TEST_CASE("changes applied from the mesh are not journalled; removals become one event") {
  Fixture f;
  DeltaJournal j({}, f.dir);
  {
    DeltaJournal::RemoteScope remote;
    j.on_remove_worker("m", f.w0);
    j.on_insert("m", ins(f.w0, {1, 2}, 0, 1));
  }
  CHECK(j.drain().batches.empty());
  j.on_remove_worker("m", f.w0);
  j.on_remove_worker("n", f.w0);
  j.note_worker_event(WorkerEvent::Kind::kAdded, f.w1, 5);
  auto d = j.drain();
  REQUIRE(d.batches.size() == 1);
  REQUIRE(d.batches[0].events.size() == 2);
  CHECK(d.batches[0].events[0].kind == WorkerEvent::Kind::kRemoved);
  CHECK(d.batches[0].events[1].url == "http://127.0.0.1:9202");
}
