// KvCacheModel: the simulated worker's prefix KV cache, an LRU set of block
// hashes with a capacity in blocks.
//
// A prompt is split into fixed-size blocks with chained hashes
// (h[i] = XXH3_64(block[i], seed = h[i-1]), h[-1] = XXH3_64(namespace)), so a
// hash stands for the whole prefix up to its block, as in vLLM's prefix
// caching. The trailing partial block is never cached.
//
// lookup_and_insert() counts the leading blocks already cached, then touches
// every block of the prompt. Blocks are touched from the last to the first so
// that the first blocks are the most recently used: eviction then removes the
// tails of cold prompts before their heads, like a real paged KV cache that
// frees a sequence's blocks in reverse order.
//
//    LRU list (front = most recent):  [p0] [p1] [p2] ... [q3] [q4]  -> evict from back
//
// Thread safety: every public method may be called from any thread; one mutex
// guards the list and index, held only for the in-memory update (never across
// I/O). Invariant: size() <= capacity_blocks() after every call.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace radixmesh::tools::sim {

// Chained hashes of the full blocks of `bytes`; `ns` separates namespaces
// (model name, text vs token ids).
std::vector<uint64_t> chain_block_hashes(std::string_view ns, std::string_view bytes,
                                         size_t block_bytes);

class KvCacheModel {
 public:
  explicit KvCacheModel(uint64_t capacity_blocks);

  // Returns how many leading hashes were cached before the call, then makes
  // all of them the most recently used, evicting beyond capacity.
  uint64_t lookup_and_insert(std::span<const uint64_t> hashes);

  uint64_t size() const;
  uint64_t capacity_blocks() const { return capacity_; }
  uint64_t evictions() const;

 private:
  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<uint64_t> lru_;  // guarded by mu_; front = most recently used
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;  // guarded by mu_
  uint64_t evictions_ = 0;                                             // guarded by mu_
};

}  // namespace radixmesh::tools::sim
