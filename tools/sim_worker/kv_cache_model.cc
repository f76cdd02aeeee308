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

KvCacheModel::KvCacheModel(uint64_t capacity_blocks)
    : capacity_(capacity_blocks < kNil ? capacity_blocks : kNil - 1) {
  table_.assign(1024, kNil);
}

uint32_t KvCacheModel::find(uint64_t hash) const {
  const size_t mask = table_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint32_t n = table_[i];
    if (n == kNil) return kNil;
    if (nodes_[n].hash == hash) return n;
  }
}

void KvCacheModel::index_insert(uint64_t hash, uint32_t node) {
  if ((nodes_.size() + 1) * 2 > table_.size()) grow_index();
  const size_t mask = table_.size() - 1;
  size_t i = hash & mask;
  while (table_[i] != kNil) i = (i + 1) & mask;
  table_[i] = node;
}

void KvCacheModel::index_erase(uint64_t hash) {
  const size_t mask = table_.size() - 1;
  size_t i = hash & mask;
  while (nodes_[table_[i]].hash != hash) i = (i + 1) & mask;
  // Backward-shift deletion keeps every probe chain unbroken.
  for (size_t j = (i + 1) & mask; table_[j] != kNil; j = (j + 1) & mask) {
    const size_t home = nodes_[table_[j]].hash & mask;
    const bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      table_[i] = table_[j];
      i = j;
    }
  }
  table_[i] = kNil;
}

void KvCacheModel::grow_index() {
  std::vector<uint32_t> old;
  old.swap(table_);
  table_.assign(old.size() * 2, kNil);
  const size_t mask = table_.size() - 1;
  for (uint32_t n : old) {
    if (n == kNil) continue;
    size_t i = nodes_[n].hash & mask;
    while (table_[i] != kNil) i = (i + 1) & mask;
    table_[i] = n;
  }
}

void KvCacheModel::unlink(uint32_t n) {
  Node& node = nodes_[n];
  if (node.prev != kNil)
    nodes_[node.prev].next = node.next;
  else
    head_ = node.next;
  if (node.next != kNil)
    nodes_[node.next].prev = node.prev;
  else
    tail_ = node.prev;
}

void KvCacheModel::push_front(uint32_t n) {
  nodes_[n].prev = kNil;
  nodes_[n].next = head_;
  if (head_ != kNil) nodes_[head_].prev = n;
  head_ = n;
  if (tail_ == kNil) tail_ = n;
}

uint64_t KvCacheModel::lookup_and_insert(std::span<const uint64_t> hashes) {
  if (capacity_ == 0) return 0;
  std::lock_guard lock(mu_);
  uint64_t matched = 0;
  while (matched < hashes.size() && find(hashes[matched]) != kNil) ++matched;
  // Touch from the last block to the first, so the head of the prompt ends
  // most recent; a prompt longer than the cache keeps its first blocks.
  const size_t n = hashes.size() < capacity_ ? hashes.size() : static_cast<size_t>(capacity_);
  for (size_t i = n; i-- > 0;) {
    const uint64_t h = hashes[i];
    if (uint32_t node = find(h); node != kNil) {
      unlink(node);
      push_front(node);
      continue;
    }
    uint32_t node;
    if (nodes_.size() < capacity_) {
      node = static_cast<uint32_t>(nodes_.size());
      index_insert(h, node);  // may grow the table: before the node exists
      nodes_.push_back({h, kNil, kNil});
    } else {
      node = tail_;  // reuse the least recently used node
      unlink(node);
      index_erase(nodes_[node].hash);
      ++evictions_;
      nodes_[node].hash = h;
      index_insert(h, node);
    }
    push_front(node);
  }
  return matched;
}

uint64_t KvCacheModel::size() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

uint64_t KvCacheModel::clear() {
  std::lock_guard lock(mu_);
  const uint64_t dropped = nodes_.size();
  nodes_.clear();
  table_.assign(1024, kNil);
  head_ = tail_ = kNil;
  return dropped;
}

uint64_t KvCacheModel::evictions() const {
  std::lock_guard lock(mu_);
  return evictions_;
}

}  // namespace radixmesh::tools::sim
