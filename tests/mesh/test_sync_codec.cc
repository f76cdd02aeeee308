// Sync payload codec: round trips, byte cost per block, and hostile input.
#include <doctest/doctest.h>

#include <random>

#include "mesh/sync_codec.h"

using namespace radixmesh;
using namespace radixmesh::mesh;

namespace {

DeltaBatch sample_batch() {
  DeltaBatch b;
  b.seq = 42;
  b.events.push_back({WorkerEvent::Kind::kAdded, 0xAAAA, 1000, "http://127.0.0.1:9001"});
  ModelDelta m;
  m.model = "llama";
  m.records.push_back({DeltaRecord::Kind::kInsert, 0x1111, 0, {1, 2, 3}, 5000});
  m.records.push_back(
      {DeltaRecord::Kind::kInsert, 0x2222, 3, {4, 5}, 4990});  // older ts: negative delta
  m.records.push_back({DeltaRecord::Kind::kEvict, 0x1111, 2, {}, 6000});
  b.models.push_back(m);
  b.models.push_back(
      {"mistral", {{DeltaRecord::Kind::kInsert, 0x3333, 0xFFFFFFFFFFFFFFFFull, {}, 7}}});
  return b;
}

bool same(const DeltaRecord& a, const DeltaRecord& b) {
  return a.kind == b.kind && a.worker == b.worker && a.anchor == b.anchor && a.blocks == b.blocks &&
         a.ts == b.ts;
}

}  // namespace

TEST_CASE("delta batch round trip keeps every field, order and negative ts deltas") {
  DeltaBatch in = sample_batch();
  auto out = decode_delta_batch(encode(in));
  REQUIRE(out.ok());
  CHECK(out->seq == 42);
  REQUIRE(out->events.size() == 1);
  CHECK(out->events[0].url == "http://127.0.0.1:9001");
  CHECK(out->events[0].worker == 0xAAAA);
  REQUIRE(out->models.size() == 2);
  CHECK(out->models[0].model == "llama");
  REQUIRE(out->models[0].records.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(same(out->models[0].records[i], in.models[0].records[i]));
  CHECK(same(out->models[1].records[0], in.models[1].records[0]));
}

TEST_CASE("an insert costs 8 bytes per new block plus a small fixed overhead") {
  std::mt19937_64 rng(7);
  DeltaBatch b;
  b.seq = 1;
  ModelDelta m{"m", {}};
  const int inserts = 1000, blocks = 10;
  uint64_t ts = uint64_t{1} << 40;
  for (int i = 0; i < inserts; ++i) {
    DeltaRecord r{
        DeltaRecord::Kind::kInsert, 1 + static_cast<WorkerKey>(i % 8), rng(), {}, ts += 1000};
    for (int k = 0; k < blocks; ++k) r.blocks.push_back(rng());
    m.records.push_back(std::move(r));
  }
  b.models.push_back(std::move(m));
  const double per_insert = static_cast<double>(encode(b).size()) / inserts - 8.0 * blocks;
  CHECK(per_insert <= 16.0);  // tag + ts delta + anchor + count, far under the 48-byte target
}

TEST_CASE("every truncation of a valid batch is rejected, never crashes") {
  std::string bytes = encode(sample_batch());
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK_FALSE(decode_delta_batch(bytes.substr(0, n)).ok());
  CHECK_FALSE(decode_delta_batch(bytes + "x").ok());
}

TEST_CASE("huge claimed counts are refused before allocating") {
  // seq=1, events=2^60
  std::string bytes =
      std::string("\x01", 1) + std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x10", 9);
  CHECK(decode_delta_batch(bytes).error().code == ErrorCode::kCorrupt);
  // anchor reply with a chain of 2^40 hashes
  AnchorReply a{"m", 9, {}, {}};
  std::string ar = encode(a);
  ar.resize(ar.size() - 2);  // drop the two zero counts
  ar += std::string("\x80\x80\x80\x80\x80\x20", 6);
  CHECK_FALSE(decode_anchor_reply(ar).ok());
  CHECK_FALSE(decode_load_report(std::string("\xff\xff\xff\xff\x0f", 5)).ok());
}

TEST_CASE("random garbage never crashes any decoder, and what decodes re-encodes canonically") {
  // Whatever a decoder accepts must be a message: encoding it again gives
  // bytes that decode to the same encoding (a decoder that accepted bytes
  // it cannot represent would break this), and garbage is mostly refused.
  std::mt19937_64 rng(1);
  size_t accepted = 0, tried = 0;
  auto check = [&](auto decode, const std::string& g) {
    ++tried;
    auto d = decode(g);
    if (!d.ok()) return;
    ++accepted;
    const std::string again = encode(*d);
    auto d2 = decode(again);
    REQUIRE(d2.ok());
    CHECK(encode(*d2) == again);
  };
  for (int i = 0; i < 2000; ++i) {
    std::string g(rng() % 64, '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    check(decode_delta_batch, g);
    check(decode_delta_ack, g);
    check(decode_anchor_request, g);
    check(decode_anchor_reply, g);
    check(decode_digest, g);
    check(decode_snapshot_request, g);
    check(decode_snapshot_chunk, g);
    check(decode_load_report, g);
    check(decode_worker_event, g);
  }
  CHECK(tried == 9 * 2000);
  CHECK(accepted < tried / 4);
}

TEST_CASE("small frames round trip") {
  auto ack = decode_delta_ack(encode(DeltaAck{{7, 5, 9}}));
  REQUIRE(ack.ok());
  CHECK(ack->seqs == std::vector<uint64_t>{7, 5, 9});

  AnchorReply a{"m", 9, {1, 2, 9}, {{0x55, 123}, {0x66, 456}}};
  auto ar = decode_anchor_reply(encode(a));
  REQUIRE(ar.ok());
  CHECK(ar->chain == a.chain);
  CHECK(ar->tenants.size() == 2);
  CHECK(ar->tenants[1].ts == 456);

  auto d = decode_digest(encode(Digest{{{"a", 1}, {"b", 2}}}));
  REQUIRE(d.ok());
  CHECK(d->models[1].model == "b");
  CHECK(d->models[1].digest == 2);

  std::string data(1000, 'z');
  SnapshotChunk c{3, "m", 5000, 2, 5, data};
  std::string enc = encode(c);
  auto dc = decode_snapshot_chunk(enc);
  REQUIRE(dc.ok());
  CHECK(dc->data == data);
  CHECK(dc->index == 2);
  CHECK(dc->count == 5);
  CHECK_FALSE(decode_snapshot_chunk(encode(SnapshotChunk{3, "m", 5000, 5, 5, data}))
                  .ok());  // index >= count

  auto lr = decode_load_report(encode(LoadReport{{{1, 3}, {2, 0}}}));
  REQUIRE(lr.ok());
  CHECK(lr->entries[0].in_flight == 3);

  auto we = decode_worker_event(encode(WorkerEvent{WorkerEvent::Kind::kRemoved, 9, 77, ""}));
  REQUIRE(we.ok());
  CHECK(we->kind == WorkerEvent::Kind::kRemoved);
  CHECK_FALSE(
      decode_worker_event(std::string("\x09", 1) + std::string(9, '\0')).ok());  // unknown kind
}
