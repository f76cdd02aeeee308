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
#include <mutex>
#include <span>
#include <string_view>
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

  // Forgets every block (SGLang's POST /flush_cache); returns how many were
  // held. Not counted as evictions.
  uint64_t clear();

  uint64_t size() const;
  uint64_t capacity_blocks() const { return capacity_; }
  uint64_t evictions() const;

 private:
  // Layout: nodes live in a slab (indices, no per-block allocation) linked
  // into the LRU list; an open-addressing table (linear probing, backward-
  // shift deletion, load <= 1/2) maps a hash to its node. Chained xxh3
  // hashes are uniformly distributed, so their low bits index the table.
  static constexpr uint32_t kNil = 0xffffffffu;
  struct Node {
    uint64_t hash;
    uint32_t prev, next;  // towards the head (more recent) / the tail
  };
  uint32_t find(uint64_t hash) const;  // node index or kNil
  void index_insert(uint64_t hash, uint32_t node);
  void index_erase(uint64_t hash);
  void grow_index();
  void unlink(uint32_t n);
  void push_front(uint32_t n);

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::vector<Node> nodes_;      // guarded by mu_; size() == blocks held
  std::vector<uint32_t> table_;  // guarded by mu_; node index or kNil
  uint32_t head_ = kNil;         // guarded by mu_; most recently used
  uint32_t tail_ = kNil;         // guarded by mu_; least recently used
  uint64_t evictions_ = 0;       // guarded by mu_
};

}  // namespace radixmesh::tools::sim
