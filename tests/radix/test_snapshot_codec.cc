// Snapshot codec: round trip, merge semantics, and hostile input.
#include <doctest/doctest.h>
#include <lz4.h>
#include <xxhash.h>

#include <cstring>
#include <random>

#include "radix/prefix_tree.h"
#include "radix/snapshot_codec.h"
#include "radix/worker_directory.h"
#include "tests/radix/tree_test_util.h"

using namespace radixmesh;
using namespace radixmesh::radix;
using radixmesh::radix::test::chain_of;

namespace {

constexpr size_t kCap = 64 << 20;

Hlc at(uint64_t step) {
  return Hlc::from_parts(2'000'000 + step, 0);
}

PrefixTree::Options opts(const WorkerDirectory* dir, size_t shards = 4) {
  PrefixTree::Options o;
  o.model = std::string("llama");
  o.shards = shards;
  o.workers = dir;
  return o;
}

struct Fixture {
  WorkerDirectory dir;
  std::vector<WorkerId> ids;
  std::vector<std::vector<BlockHash>> chains;
  std::unique_ptr<PrefixTree> tree;

  Fixture() {
    for (int i = 0; i < 5; ++i)
      ids.push_back(*dir.intern("http://10.0.0." + std::to_string(i) + ":8000"));
    tree = std::make_unique<PrefixTree>(opts(&dir), nullptr);
    std::mt19937_64 rng(9);
    chains = test::random_chains(rng, 80, 15);
    for (size_t i = 0; i < chains.size(); ++i) {
      tree->insert(chains[i], ids[rng() % ids.size()], at(i));
    }
  }
};

}  // namespace

TEST_CASE("snapshot round trip into an empty tree gives identical matches and digest") {
  Fixture f;
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  // Another node: its own directory with different ids for the same URLs.
  WorkerDirectory dir2;
  (void)dir2.intern("http://unrelated:1");
  PrefixTree copy(opts(&dir2, 7), nullptr);
  REQUIRE(merge_snapshot(*blob, copy, dir2, kCap).ok());
  CHECK(copy.check_invariants() == "");
  CHECK(copy.digest() == f.tree->digest());
  CHECK(copy.stats().blocks == f.tree->stats().blocks);
  CHECK(copy.stats().nodes == f.tree->stats().nodes);
  for (const auto& q : f.chains) {
    auto a = f.tree->match(q);
    auto b = copy.match(q);
    REQUIRE(a.matched_blocks == b.matched_blocks);
    REQUIRE(a.tenants.size() == b.tenants.size());
    for (size_t i = 0; i < a.tenants.size(); ++i) {
      CHECK(f.dir.url_of(a.tenants[i].worker) == dir2.url_of(b.tenants[i].worker));
      CHECK(a.tenants[i].blocks == b.tenants[i].blocks);
      CHECK(a.tenants[i].last_access == b.tenants[i].last_access);
    }
  }
  auto sum = inspect_snapshot(*blob, kCap);
  REQUIRE(sum.ok());
  CHECK(sum->model == "llama");
  CHECK(sum->blocks == f.tree->stats().blocks);
  CHECK(sum->nodes == f.tree->stats().nodes);
  CHECK(sum->worker_urls.size() <= 5);
  // Merging twice changes nothing.
  REQUIRE(merge_snapshot(*blob, copy, dir2, kCap).ok());
  CHECK(copy.digest() == f.tree->digest());
}

TEST_CASE("snapshot merge keeps newer local entries and adds what is missing") {
  Fixture f;
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  PrefixTree local(opts(&f.dir), nullptr);
  const auto& c = f.chains[3];
  local.insert(c, f.ids[0], at(100000));  // newer than anything in the snapshot
  const auto extra = chain_of({4242, 1, 2});
  local.insert(extra, f.ids[1], at(5));
  REQUIRE(merge_snapshot(*blob, local, f.dir, kCap).ok());
  auto m = local.match(c);
  bool found = false;
  for (const auto& t : m.tenants) {
    if (t.worker == f.ids[0] && t.blocks == c.size()) {
      found = true;
      CHECK(t.last_access == at(100000));
    }
  }
  CHECK(found);
  CHECK(local.match(extra).matched_blocks == 3);
  for (const auto& q : f.chains)
    CHECK(local.match(q).matched_blocks == f.tree->match(q).matched_blocks);
  CHECK(local.check_invariants() == "");
}

TEST_CASE("snapshot decoding rejects corrupt, truncated and oversized input") {
  Fixture f;
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  PrefixTree target(opts(&f.dir), nullptr);
  auto code_of = [&](const std::string& b, size_t cap = kCap) {
    auto st = merge_snapshot(b, target, f.dir, cap);
    return st.ok() ? std::optional<ErrorCode>() : std::optional<ErrorCode>(st.error().code);
  };
  // Truncations at many points, including inside the header.
  for (size_t cut :
       {size_t{0}, size_t{5}, size_t{31}, size_t{32}, blob->size() / 2, blob->size() - 1}) {
    CHECK(code_of(blob->substr(0, cut)) == ErrorCode::kCorrupt);
  }
  // A flipped byte anywhere in the payload fails the checksum.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20; ++i) {
    std::string bad = *blob;
    bad[32 + rng() % (bad.size() - 32)] ^= static_cast<char>(1 + rng() % 255);
    CHECK(code_of(bad) == ErrorCode::kCorrupt);
  }
  // A header claiming 4 GiB is refused before allocating.
  std::string huge = *blob;
  const uint64_t four_gib = uint64_t{4} << 30;
  std::memcpy(huge.data() + 8, &four_gib, 8);
  CHECK(code_of(huge) == ErrorCode::kTooLarge);
  // A real size above the caller's cap is refused too.
  CHECK(code_of(*blob, 100) == ErrorCode::kTooLarge);
  // Wrong magic and future versions.
  std::string magic = *blob;
  magic[0] = 'X';
  CHECK(code_of(magic) == ErrorCode::kCorrupt);
  std::string version = *blob;
  version[4] = 9;
  CHECK(code_of(version) == ErrorCode::kUnsupported);
  CHECK(code_of("garbage that is long enough to hold a header....") == ErrorCode::kCorrupt);
  // Nothing was merged by any of the above.
  CHECK(target.stats().blocks == 0);
  CHECK(inspect_snapshot(blob->substr(0, 40), kCap).error().code == ErrorCode::kCorrupt);
}

TEST_CASE("snapshot of a model is refused by another model's tree") {
  Fixture f;
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  auto o = opts(&f.dir);
  o.model = std::string("other");
  PrefixTree other(o, nullptr);
  auto st = merge_snapshot(*blob, other, f.dir, kCap);
  CHECK_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kInvalidArgument);
}

namespace {

// Wraps an arbitrary payload the way the encoder does (valid header and
// checksum), to reach the payload parser with hostile content.
std::string wrap(const std::string& payload, uint16_t version = kSnapshotVersion) {
  std::string body(static_cast<size_t>(LZ4_compressBound(static_cast<int>(payload.size()))), '\0');
  const int n = LZ4_compress_default(payload.data(), body.data(), static_cast<int>(payload.size()),
                                     static_cast<int>(body.size()));
  body.resize(static_cast<size_t>(n));
  std::string out(32, '\0');
  const uint64_t words[4] = {uint64_t{kSnapshotMagic} | (uint64_t{version} << 32), payload.size(),
                             body.size(), XXH3_64bits(body.data(), body.size())};
  std::memcpy(out.data(), words, sizeof(words));
  return out + body;
}

std::string unwrap(const std::string& blob) {
  uint64_t decoded = 0;
  std::memcpy(&decoded, blob.data() + 8, 8);
  std::string out(decoded, '\0');
  LZ4_decompress_safe(blob.data() + 32, out.data(), static_cast<int>(blob.size() - 32),
                      static_cast<int>(decoded));
  return out;
}

}  // namespace

TEST_CASE("snapshot payloads with valid checksums but hostile content are rejected cleanly") {
  Fixture f;
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  const std::string payload = unwrap(*blob);
  REQUIRE(wrap(payload).size() > 32);
  REQUIRE(inspect_snapshot(wrap(payload), kCap).ok());
  std::mt19937_64 rng(11);
  int rejected = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string p = payload;
    switch (rng() % 4) {
      case 0:  // flip bytes
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
          p[rng() % p.size()] ^= static_cast<char>(1 + rng() % 255);
        }
        break;
      case 1:  // truncate
        p.resize(rng() % p.size());
        break;
      case 2:  // huge varint counts
        p.insert(rng() % p.size(), std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9));
        break;
      default:  // garbage tail
        p += std::string(1 + rng() % 16, static_cast<char>(rng()));
        break;
    }
    WorkerDirectory dir(8);
    PrefixTree scratch(opts(&dir), nullptr);
    auto sum = inspect_snapshot(wrap(p), kCap);
    auto st = merge_snapshot(wrap(p), scratch, dir, kCap);
    if (!st.ok()) {
      ++rejected;
      // Corrupt structure, or well-formed but for another model / with an
      // unusable worker URL.
      const bool expected =
          st.error().code == ErrorCode::kCorrupt || st.error().code == ErrorCode::kInvalidArgument;
      CHECK(expected);
      CHECK(sum.ok() == (st.error().code != ErrorCode::kCorrupt));
      CHECK(scratch.stats().blocks == 0);  // validated before merging
    } else {
      CHECK(scratch.check_invariants() == "");
    }
  }
  CHECK(rejected > 1000);
}

TEST_CASE("a snapshot carries the sender's tombstones: what it evicted goes on the receiver too") {
  Fixture f;
  // The receiver still holds a chain the sender's worker has since dropped,
  // plus one the worker cached again after the eviction (a newer stamp).
  const auto& gone = f.chains[3];
  const auto& again = f.chains[4];
  const WorkerId w = f.ids[0];
  WorkerDirectory dir2;
  PrefixTree receiver(opts(&dir2), nullptr);
  const WorkerId w2 = *dir2.intern(f.dir.url_of(w));
  receiver.insert(gone, w2, at(100));
  receiver.insert(again, w2, at(100));
  f.tree->insert(gone, w, at(100));
  f.tree->insert(again, w, at(100));
  REQUIRE(f.tree->evict(w, gone.front(), at(101)) > 0);
  REQUIRE(f.tree->evict(w, again.front(), at(101)) > 0);
  f.tree->insert(again, w, at(102));

  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  auto sum = inspect_snapshot(*blob, kCap);
  REQUIRE(sum.ok());
  CHECK(sum->version == kSnapshotVersion);
  CHECK(sum->tombstones == 2);
  // Blocks of `chain` the receiver's tree says w2 holds.
  auto held = [&](const std::vector<BlockHash>& chain) {
    for (const auto& t : receiver.match(chain).tenants)
      if (t.worker == w2) return t.blocks;
    return uint32_t{0};
  };
  REQUIRE(held(gone) == gone.size());
  REQUIRE(merge_snapshot(*blob, receiver, dir2, kCap).ok());
  CHECK(receiver.check_invariants() == "");
  CHECK(held(gone) == 0);
  CHECK(held(again) == again.size());
  // Merging the same snapshot again changes nothing.
  const uint64_t d = receiver.digest();
  REQUIRE(merge_snapshot(*blob, receiver, dir2, kCap).ok());
  CHECK(receiver.digest() == d);
  // The whole tree now agrees with the sender's, and the receiver keeps the
  // tombstones: an old insert of the evicted chain arriving later is void.
  CHECK(receiver.digest() == f.tree->digest());
  CHECK(receiver.stats().tombstones >= 2);
  CHECK(receiver.apply(InsertRecord{w2, 0, gone, at(100)}).ok());
  CHECK(held(gone) == 0);
}

TEST_CASE("a version 1 snapshot (no tombstones) still merges; bad tombstones are refused") {
  Fixture f;
  const WorkerId w = f.ids[1];
  f.tree->insert(f.chains[0], w, at(200));
  REQUIRE(f.tree->evict(w, f.chains[0].front(), at(201)) > 0);
  auto blob = encode_snapshot(*f.tree, f.dir);
  REQUIRE(blob.ok());
  std::string payload = unwrap(*blob);
  // The v2 payload ends with: varint 1, varint worker index, u64 from, u64 ts.
  REQUIRE(payload.size() > 18);
  REQUIRE(payload[payload.size() - 18] == 1);
  const std::string nodes_only = payload.substr(0, payload.size() - 18);

  WorkerDirectory dir2;
  PrefixTree v1(opts(&dir2), nullptr);
  REQUIRE(merge_snapshot(wrap(nodes_only + std::string(1, '\0')), v1, dir2, kCap).ok());
  const uint64_t v2_digest = v1.digest();
  PrefixTree old(opts(&dir2), nullptr);
  auto sum = inspect_snapshot(wrap(nodes_only, 1), kCap);
  REQUIRE(sum.ok());
  CHECK(sum->version == 1);
  CHECK(sum->tombstones == 0);
  REQUIRE(merge_snapshot(wrap(nodes_only, 1), old, dir2, kCap).ok());
  CHECK(old.digest() == v2_digest);
  CHECK(old.stats().tombstones == 0);
  // Version 1 has no tombstone section: the v2 payload is trailing bytes.
  CHECK(merge_snapshot(wrap(payload, 1), old, dir2, kCap).error().code == ErrorCode::kCorrupt);

  auto code_with_tail = [&](const std::string& tail) {
    WorkerDirectory d(8);
    PrefixTree t(opts(&d), nullptr);
    auto st = merge_snapshot(wrap(nodes_only + tail), t, d, kCap);
    CHECK(t.stats().blocks == 0);  // nothing merged from a refused blob
    CHECK(t.stats().tombstones == 0);
    return st.ok() ? ErrorCode::kInternal : st.error().code;
  };
  std::string u64s(16, '\x01');
  CHECK(code_with_tail(std::string("\x01\x7f", 2) + u64s) == ErrorCode::kCorrupt);  // worker index
  CHECK(code_with_tail(std::string("\x01\x00", 2) + std::string(8, '\0') + u64s.substr(8)) ==
        ErrorCode::kCorrupt);                                                       // block hash 0
  CHECK(code_with_tail(std::string("\x05\x00", 2) + u64s) == ErrorCode::kCorrupt);  // count
  CHECK(code_with_tail(std::string("\x01\x00", 2) + u64s.substr(4)) == ErrorCode::kCorrupt);
}
