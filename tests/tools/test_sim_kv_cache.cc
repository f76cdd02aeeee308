// KvCacheModel: prefix matching over chained block hashes, LRU eviction order
// (tails of cold prompts first), the capacity bound, and the hash index under
// heavy churn (compared against a simple reference model).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <string>

#include "tools/sim_worker/kv_cache_model.h"

using radixmesh::tools::sim::chain_block_hashes;
using radixmesh::tools::sim::KvCacheModel;

namespace {

std::string text(size_t bytes, char seed) {
  std::string s;
  for (size_t i = 0; i < bytes; ++i) s.push_back(static_cast<char>('a' + (seed + i * 7) % 26));
  return s;
}

}  // namespace

TEST_CASE("chained hashes: a shared prefix shares its hashes, a change breaks the rest") {
  std::string a = text(640, 1);
  std::string b = a;
  b[300] = '#';  // inside block 4 (64-byte blocks)
  auto ha = chain_block_hashes("m", a, 64);
  auto hb = chain_block_hashes("m", b, 64);
  REQUIRE(ha.size() == 10);
  CHECK(std::equal(ha.begin(), ha.begin() + 4, hb.begin()));
  for (size_t i = 4; i < 10; ++i) CHECK(ha[i] != hb[i]);
  CHECK(chain_block_hashes("m", a.substr(0, 100), 64).size() == 1);  // partial block dropped
  CHECK(chain_block_hashes("other", a, 64)[0] != ha[0]);             // namespaces differ
}

TEST_CASE("a repeated prompt matches all its blocks; an extension matches the old prefix") {
  KvCacheModel kv(1000);
  std::string a = text(64 * 20, 2);
  auto h = chain_block_hashes("m", a, 64);
  CHECK(kv.lookup_and_insert(h) == 0);
  CHECK(kv.lookup_and_insert(h) == 20);
  auto longer = chain_block_hashes("m", a + text(64 * 5, 3), 64);
  CHECK(kv.lookup_and_insert(longer) == 20);
  CHECK(kv.size() == 25);
}

TEST_CASE("capacity is honoured and the least recently used prompt goes first") {
  KvCacheModel kv(100);
  auto p0 = chain_block_hashes("m", text(64 * 40, 10), 64);
  auto p1 = chain_block_hashes("m", text(64 * 40, 11), 64);
  auto p2 = chain_block_hashes("m", text(64 * 40, 12), 64);
  kv.lookup_and_insert(p0);
  kv.lookup_and_insert(p1);
  kv.lookup_and_insert(p2);  // 120 blocks asked, 100 fit
  CHECK(kv.size() == 100);
  CHECK(kv.evictions() == 20);
  // p0 lost its 20 tail blocks, its head survives: a prefix match of 20.
  CHECK(kv.lookup_and_insert(p0) == 20);
  CHECK(kv.size() <= 100);
}

TEST_CASE("a prompt longer than the cache keeps its first blocks") {
  KvCacheModel kv(10);
  auto p = chain_block_hashes("m", text(64 * 30, 4), 64);
  CHECK(kv.lookup_and_insert(p) == 0);
  CHECK(kv.size() == 10);
  CHECK(kv.lookup_and_insert(p) == 10);
}

TEST_CASE("zero capacity caches nothing") {
  KvCacheModel kv(0);
  auto p = chain_block_hashes("m", text(640, 5), 64);
  kv.lookup_and_insert(p);
  CHECK(kv.lookup_and_insert(p) == 0);
  CHECK(kv.size() == 0);
}

TEST_CASE("the hash index agrees with a reference LRU under churn") {
  // Small capacity, many distinct single-block prompts with colliding low
  // bits: exercises probing, backward-shift deletion and table growth.
  const uint64_t cap = 700;
  KvCacheModel kv(cap);
  std::deque<uint64_t> ref;  // front = most recent
  std::mt19937_64 rng(42);
  for (int step = 0; step < 20000; ++step) {
    uint64_t h = (rng() % 1500) << 12 | 0x5;  // identical low 12 bits
    std::vector<uint64_t> one{h};
    auto it = std::find(ref.begin(), ref.end(), h);
    const uint64_t expect = it != ref.end() ? 1 : 0;
    if (it != ref.end()) ref.erase(it);
    ref.push_front(h);
    if (ref.size() > cap) ref.pop_back();
    REQUIRE(kv.lookup_and_insert(one) == expect);
  }
  CHECK(kv.size() == ref.size());
}
