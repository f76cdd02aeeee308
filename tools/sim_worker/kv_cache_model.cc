#include "tools/sim_worker/kv_cache_model.h"

#include <xxhash.h>

namespace radixmesh::tools::sim {

std::vector<uint64_t> chain_block_hashes(std::string_view ns, std::string_view bytes,
                                         size_t block_bytes) {
  std::vector<uint64_t> out;
  if (block_bytes == 0) return out;
  const size_t n = bytes.size() / block_bytes;
  out.reserve(n);
  uint64_t h = XXH3_64bits(ns.data(), ns.size());
  for (size_t i = 0; i < n; ++i) {
    h = XXH3_64bits_withSeed(bytes.data() + i * block_bytes, block_bytes, h);
    out.push_back(h);
  }
  return out;
}

KvCacheModel::KvCacheModel(uint64_t capacity_blocks) : capacity_(capacity_blocks) {
  index_.reserve(static_cast<size_t>(capacity_blocks < (1u << 20) ? capacity_blocks : 1u << 20));
}

uint64_t KvCacheModel::lookup_and_insert(std::span<const uint64_t> hashes) {
  if (capacity_ == 0) return 0;
  std::lock_guard lock(mu_);
  uint64_t matched = 0;
  while (matched < hashes.size() && index_.count(hashes[matched])) ++matched;
  // Touch from the last block to the first; a prompt longer than the cache
  // keeps only its first capacity_ blocks.
  size_t n = hashes.size() < capacity_ ? hashes.size() : static_cast<size_t>(capacity_);
  for (size_t i = n; i-- > 0;) {
    auto it = index_.find(hashes[i]);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
    } else {
      lru_.push_front(hashes[i]);
      index_.emplace(hashes[i], lru_.begin());
    }
  }
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back());
    lru_.pop_back();
    ++evictions_;
  }
  return matched;
}

uint64_t KvCacheModel::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

uint64_t KvCacheModel::evictions() const {
  std::lock_guard lock(mu_);
  return evictions_;
}

}  // namespace radixmesh::tools::sim
