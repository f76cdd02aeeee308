// HashIndex: BlockHash -> node id, the prefix tree's block index.
//
// Open addressing with linear probing and backward-shift deletion, one
// packed 12-byte slot (key, value) so a probe touches one cache line,
// power-of-two capacity,
// grown past 80% load and shrunk below 10%, so memory follows the number of
// blocks both ways. Key 0 marks an empty slot (block hash 0 is reserved).
// Slots are chosen by Fibonacci hashing, so sequential test hashes spread
// as well as real XXH3 output.
//
// Thread safety: none; the owning tree shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "radix/block_hash_types.h"

namespace radixmesh::radix {

class HashIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  HashIndex();
  uint32_t find(BlockHash key) const {
    size_t i = slot(key);
    while (true) {
      const BlockHash k = slots_[i].key;
      if (k == key) return slots_[i].value;
      if (k == 0) return kNone;
      i = (i + 1) & mask_;
    }
  }
  // Starts loading the key's home slot: issuing these for a batch of keys
  // before probing them overlaps their cache misses.
  void prefetch(BlockHash key) const { __builtin_prefetch(&slots_[slot(key)]); }
  // Inserts or overwrites. key must not be 0.
  void put(BlockHash key, uint32_t value);
  // Returns true if the key was present.
  bool erase(BlockHash key);
  size_t size() const { return size_; }
  size_t capacity() const { return mask_ + 1; }
  size_t bytes() const { return capacity() * sizeof(Slot); }

 private:
  size_t slot(BlockHash key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void rehash(size_t new_capacity);

#pragma pack(push, 4)
  struct Slot {
    BlockHash key;
    uint32_t value;
  };
#pragma pack(pop)
  static_assert(sizeof(Slot) == 12);

  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace radixmesh::radix
