// Chained block hashes (contract in radix/block_hash.h).
//
// xxhash is compiled inline here (XXH_INLINE_ALL) so the per-block call is
// not a cross-library call and, with the block size a compile-time
// constant, XXH3 picks its length path at compile time. The leaves of one
// prompt are independent of each other, so the CPU hashes several blocks at
// once; only the short chain step below is serial.
#include "radix/block_hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

namespace radixmesh::radix {
namespace {

// Domain tag of the seed derivation; its suffix names the chain definition.
// Changing it renames every prefix of every cluster: after a release, only
// together with a mesh protocol version (docs/canonical-prompts.md).
constexpr char kSeedTag[] = "radixmesh.chain.v2";

// Hashes go through a small stack batch and are appended with one insert
// per batch: out.resize() would zero-fill first, and push_back per hash
// keeps reloading the vector's end pointer.
constexpr size_t kBatch = 64;

// kBlock > 0: the block size as a compile-time constant, so XXH3 picks its
// length path at compile time; kBlock == 0: `block` at run time.
template <size_t kBlock>
uint64_t hash_batched(const char* p, size_t n, size_t block, uint64_t h,
                      std::vector<BlockHash>& out) {
  const size_t size = kBlock ? kBlock : block;
  BlockHash batch[kBatch];
  while (n > 0) {
    const size_t k = n < kBatch ? n : kBatch;
    for (size_t i = 0; i < k; ++i, p += size) {
      h = chain_step(h, XXH3_64bits(p, kBlock ? kBlock : size));
      batch[i] = h;
    }
    out.insert(out.end(), batch, batch + k);
    n -= k;
  }
  return h;
}

}  // namespace

uint64_t chain_seed(uint64_t cluster_salt, std::string_view model, PromptNamespace ns) {
  // Two steps so no buffer is needed for an arbitrarily long model name:
  // (tag, namespace) keyed by the salt, then the model keyed by that.
  char tag[sizeof(kSeedTag)];
  static_assert(sizeof(kSeedTag) >= 2);
  std::memcpy(tag, kSeedTag, sizeof(kSeedTag));
  tag[sizeof(kSeedTag) - 1] = static_cast<char>(ns);  // replaces the NUL
  const uint64_t ns_seed = XXH3_64bits_withSeed(tag, sizeof(tag), cluster_salt);
  return XXH3_64bits_withSeed(model.data(), model.size(), ns_seed);
}

namespace {

// Names n whole blocks at p continuing the chain from h; returns the last.
uint64_t hash_run(const char* p, size_t n, size_t block_bytes, uint64_t h,
                  std::vector<BlockHash>& out) {
  if (n == 0) return h;
  out.reserve(out.size() + n);
  switch (block_bytes) {
    // Common sizes get a constant length so XXH3 picks its path at compile
    // time; everything else takes the generic loop (same results).
    case 32:
      return hash_batched<32>(p, n, 32, h, out);
    case 64:
      return hash_batched<64>(p, n, 64, h, out);
    case 128:
      return hash_batched<128>(p, n, 128, h, out);
    case 256:
      return hash_batched<256>(p, n, 256, h, out);
    default:
      return hash_batched<0>(p, n, block_bytes, h, out);
  }
}

}  // namespace

void hash_blocks(std::string_view bytes, uint64_t seed, size_t block_bytes,
                 std::vector<BlockHash>& out) {
  if (block_bytes == 0) return;
  hash_run(bytes.data(), bytes.size() / block_bytes, block_bytes, seed, out);
}

void BlockChain::start(uint64_t seed, size_t block_bytes, std::vector<BlockHash>& out) {
  out_ = &out;
  h_ = seed;
  block_ = block_bytes;
  bytes_ = 0;
  partial_.clear();
}

void BlockChain::append(std::string_view bytes) {
  bytes_ += bytes.size();
  if (block_ == 0 || out_ == nullptr) return;
  if (!partial_.empty()) {
    const size_t need = block_ - partial_.size();
    if (bytes.size() < need) {
      partial_.append(bytes);
      return;
    }
    partial_.append(bytes.data(), need);
    bytes.remove_prefix(need);
    h_ = hash_run(partial_.data(), 1, block_, h_, *out_);
    partial_.clear();
  }
  const size_t n = bytes.size() / block_;
  h_ = hash_run(bytes.data(), n, block_, h_, *out_);
  partial_.assign(bytes.data() + n * block_, bytes.size() - n * block_);
}

}  // namespace radixmesh::radix
