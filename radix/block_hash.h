// Chained block hashes: how a prompt prefix gets a name.
//
// A canonical prompt (radix/canonical_prompt.h) is cut into fixed-size blocks
// (64 bytes by default). Block i is named by
//
//     h[i] = chain_step(h[i-1], XXH3_64bits(block[i]))
//     h[-1] = chain_seed(cluster_salt, model, namespace)
//
// so h[i] identifies the whole prefix block[0..i], not just block i: two
// prompts share h[i] only if they share every byte up to the end of block i
// (up to 64-bit collisions: chain_step is a bijection of h[i-1] xor leaf, so
// two different prefixes collide only if their leaf hashes do).
// The leaf hashes are independent of each other, so a long prompt is hashed
// several blocks at a time; the serial part is one multiply per block
// (docs/canonical-prompts.md has the reasons and the earlier, fully serial
// chain this replaced). Routers and peers can therefore exchange and
// compare prefixes as hash sequences, never as text. The trailing partial
// block is not hashed: a worker's KV cache only reuses whole blocks, and a
// partial block would change name as soon as the prompt grows.
//
// XXH3-64 output is frozen since xxhash 0.8.0, so every router of a cluster
// (and every version of this code) computes the same chain for the same
// input: the mesh depends on it.
//
// Thread safety: pure functions; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "radix/block_hash_types.h"

namespace radixmesh::radix {

// Which kind of bytes a canonical prompt holds. Text and token-id prompts are
// hashed in different chains (their seeds differ), so a token-id prompt whose
// binary encoding happens to equal some text never shares a hash with it.
enum class PromptNamespace : uint8_t { kText = 0, kTokenIds = 1 };

inline constexpr size_t kDefaultBlockBytes = 64;

// One link of the chain: mixes the previous name with the next block's leaf
// hash (XXH3's 64-bit avalanche applied to their xor, a bijection).
inline uint64_t chain_step(uint64_t previous, uint64_t leaf) {
  uint64_t x = previous ^ leaf;
  x ^= x >> 37;
  x *= 0x165667919E3779F9ULL;
  x ^= x >> 32;
  return x;
}

// h[-1]: derived from the cluster salt, the model name and the namespace, so
// the same text under two models, two clusters or as token ids never shares
// hashes. Stable across processes, machines and versions.
uint64_t chain_seed(uint64_t cluster_salt, std::string_view model, PromptNamespace ns);

// Appends one hash per whole block of `bytes` to `out` (bytes.size() /
// block_bytes of them); the trailing partial block is not hashed. `out` is
// not cleared: callers reuse one buffer per thread and clear it themselves;
// nothing is allocated when out.capacity() suffices. block_bytes must be > 0
// (0 appends nothing).
void hash_blocks(std::string_view bytes, uint64_t seed, size_t block_bytes,
                 std::vector<BlockHash>& out);

// hash_blocks for bytes that arrive in pieces: the request parser names a
// prompt's blocks as it produces them, so a 32 KB prompt is never gathered
// into one string first. After start(seed, block_bytes, out), appending
// pieces p1, p2, ... appends to `out` exactly what hash_blocks(p1 p2 ...,
// seed, block_bytes, out) would; the trailing partial block (< block_bytes,
// kept here) is not hashed. Reusable: start() begins a new prompt without
// giving back memory. One per thread.
class BlockChain {
 public:
  void start(uint64_t seed, size_t block_bytes, std::vector<BlockHash>& out);
  void append(std::string_view bytes);
  size_t bytes() const { return bytes_; }  // appended since start()

 private:
  std::vector<BlockHash>* out_ = nullptr;
  uint64_t h_ = 0;
  size_t block_ = 0;
  size_t bytes_ = 0;
  std::string partial_;
};

}  // namespace radixmesh::radix
