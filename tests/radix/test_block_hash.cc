// Chained block hashes: chain property, partial blocks, seeds, buffer reuse.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include <xxhash.h>

#include "radix/block_hash.h"

namespace {

using radixmesh::radix::BlockHash;
using radixmesh::radix::chain_seed;
using radixmesh::radix::chain_step;
using radixmesh::radix::hash_blocks;
using radixmesh::radix::PromptNamespace;

std::string bytes_of(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::vector<BlockHash> hashes(std::string_view s, uint64_t seed, size_t block = 64) {
  std::vector<BlockHash> out;
  hash_blocks(s, seed, block, out);
  return out;
}

}  // namespace

TEST_CASE("hash_blocks: one hash per whole block; the trailing partial block is not hashed") {
  const uint64_t seed = chain_seed(7, "m", PromptNamespace::kText);
  CHECK(hashes("", seed).empty());
  CHECK(hashes(bytes_of(63), seed).empty());
  CHECK(hashes(bytes_of(64), seed).size() == 1);
  CHECK(hashes(bytes_of(64 * 5 + 17), seed).size() == 5);
  CHECK(hashes(bytes_of(100), seed, 10).size() == 10);
  CHECK(hashes(bytes_of(100), seed, 0).empty());

  // Changing only bytes of the partial tail changes nothing.
  std::string a = bytes_of(64 * 3 + 40);
  std::string b = a;
  b[64 * 3 + 5] ^= 0x55;
  b.back() ^= 0x1;
  CHECK(hashes(a, seed) == hashes(b, seed));
  // A prompt that grows keeps its earlier whole-block hashes.
  std::string longer = a + bytes_of(200, 9);
  auto ha = hashes(a, seed);
  auto hl = hashes(longer, seed);
  REQUIRE(hl.size() > ha.size());
  CHECK(std::equal(ha.begin(), ha.end(), hl.begin()));
}

TEST_CASE("hash_blocks: hash i depends on every earlier block (chain property)") {
  const uint64_t seed = chain_seed(1, "model", PromptNamespace::kText);
  const std::string base = bytes_of(64 * 8);
  const auto h0 = hashes(base, seed);
  REQUIRE(h0.size() == 8);
  for (size_t k = 0; k < 8; ++k) {
    std::string changed = base;
    changed[k * 64 + 31] ^= 0x01;  // flip one bit inside block k
    const auto h1 = hashes(changed, seed);
    for (size_t i = 0; i < 8; ++i) {
      if (i < k)
        CHECK(h1[i] == h0[i]);  // earlier prefixes are untouched
      else
        CHECK(h1[i] != h0[i]);  // block k and everything after renamed
    }
  }
  // Two equal blocks at different positions (or after different prefixes)
  // get different names: a hash names the prefix, not the block.
  const std::string block = bytes_of(64, 3);
  const auto rep = hashes(block + block + block, seed);
  CHECK(rep[0] != rep[1]);
  CHECK(rep[1] != rep[2]);
  const auto other = hashes(bytes_of(64, 4) + block, seed);
  CHECK(other[1] != rep[1]);
}

TEST_CASE("hash_blocks: every supported block size chains the same way as the generic size") {
  // The fixed-size fast paths must give the same names as the generic loop:
  // check the chain definition directly, h[i] = H(block i, seed h[i-1]).
  const std::string s = bytes_of(1024 + 7);
  for (size_t block : {16, 32, 48, 64, 100, 128, 256}) {
    const auto all = hashes(s, 99, block);
    REQUIRE(all.size() == s.size() / block);
    uint64_t prev = 99;
    for (size_t i = 0; i < all.size(); ++i) {
      const auto one = hashes(std::string_view(s).substr(i * block, block), prev, block);
      REQUIRE(one.size() == 1);
      CHECK(one[0] == all[i]);
      prev = all[i];
    }
  }
}

TEST_CASE("hash_blocks follows the documented chain: h[i] = chain_step(h[i-1], XXH3_64(block i))") {
  // The mesh depends on every router naming a prefix the same way: pin the
  // definition against xxhash itself, not against our own code.
  const std::string s = bytes_of(64 * 12 + 5, 21);
  const uint64_t seed = chain_seed(3, "m", PromptNamespace::kText);
  const auto all = hashes(s, seed);
  REQUIRE(all.size() == 12);
  uint64_t h = seed;
  for (size_t i = 0; i < all.size(); ++i) {
    h = chain_step(h, XXH3_64bits(s.data() + i * 64, 64));
    CHECK(all[i] == h);
  }
  // One value of the published formula worked by hand from XXH3's avalanche
  // constant (1 * K, then x ^= x >> 32), so a silent change of chain_step
  // (which would split a cluster of mixed versions) shows here.
  CHECK(chain_step(1, 0) == 0x1656679188611e68ULL);
}

TEST_CASE("chain_step is a bijection of previous xor leaf: distinct inputs never collide") {
  // Sampled: dense low values and spread ones; as many distinct outputs as
  // distinct inputs, and the step depends on the xor only.
  std::set<uint64_t> in, out;
  for (uint64_t x = 0; x < 100000; ++x) {
    for (uint64_t v : {x, uint64_t{x * 0x9E3779B97F4A7C15ULL + 1}, uint64_t{x << 40}}) {
      in.insert(v);
      out.insert(chain_step(v, 0));
    }
  }
  CHECK(in.size() > 250000);
  CHECK(out.size() == in.size());
  CHECK(chain_step(0x1234, 0xff00) == chain_step(0x1234 ^ 0xff00, 0));
}

TEST_CASE("chain_seed: models, salts and namespaces give disjoint chains") {
  const std::string text = bytes_of(64 * 16);
  std::set<BlockHash> seen;
  size_t total = 0;
  for (uint64_t salt : {0ull, 1ull, 0xdeadbeefull}) {
    for (const char* model : {"", "llama-3-8b", "llama-3-8b-instruct", "qwen"}) {
      for (auto ns : {PromptNamespace::kText, PromptNamespace::kTokenIds}) {
        for (BlockHash h : hashes(text, chain_seed(salt, model, ns))) {
          seen.insert(h);
          ++total;
        }
      }
    }
  }
  CHECK(total == 3 * 4 * 2 * 16);
  CHECK(seen.size() == total);  // no hash shared between any two chains
}

TEST_CASE("chain_seed and hash_blocks are deterministic and stable") {
  CHECK(chain_seed(5, "m", PromptNamespace::kText) == chain_seed(5, "m", PromptNamespace::kText));
  CHECK(chain_seed(5, "m", PromptNamespace::kText) !=
        chain_seed(5, "m", PromptNamespace::kTokenIds));
  CHECK(chain_seed(5, "m", PromptNamespace::kText) != chain_seed(6, "m", PromptNamespace::kText));
  CHECK(chain_seed(5, "ab", PromptNamespace::kText) != chain_seed(5, "ba", PromptNamespace::kText));
  const std::string s = bytes_of(64 * 10);
  CHECK(hashes(s, 42) == hashes(s, 42));
  CHECK(hashes(s, 42) != hashes(s, 43));
}

TEST_CASE("hash_blocks appends to and reuses the caller's buffer") {
  const std::string s = bytes_of(64 * 4);
  std::vector<BlockHash> out;
  out.reserve(64);
  const BlockHash* data = out.data();
  out.push_back(123);  // existing content is kept: hash_blocks appends
  hash_blocks(s, 1, 64, out);
  REQUIRE(out.size() == 5);
  CHECK(out[0] == 123);
  CHECK(std::vector<BlockHash>(out.begin() + 1, out.end()) == hashes(s, 1));
  for (int round = 0; round < 10; ++round) {
    out.clear();
    hash_blocks(s, 1, 64, out);
    CHECK(out.size() == 4);
  }
  CHECK(out.data() == data);  // no reallocation while capacity suffices
}
