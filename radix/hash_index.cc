#include "radix/hash_index.h"

#include <bit>

namespace radixmesh::radix {

namespace {
constexpr size_t kMinCapacity = 16;
}

HashIndex::HashIndex() {
  rehash(kMinCapacity);
}

void HashIndex::rehash(size_t new_capacity) {
  auto old = std::move(slots_);
  const size_t old_cap = old ? mask_ + 1 : 0;
  slots_ = std::make_unique<Slot[]>(new_capacity);  // value-initialised: key 0 = empty
  mask_ = new_capacity - 1;
  shift_ = 64 - std::countr_zero(new_capacity);
  for (size_t i = 0; i < old_cap; ++i) {
    const BlockHash k = old[i].key;
    if (k == 0) continue;
    size_t j = slot(k);
    while (slots_[j].key != 0) j = (j + 1) & mask_;
    slots_[j] = old[i];
  }
}

void HashIndex::put(BlockHash key, uint32_t value) {
  if ((size_ + 1) * 10 > capacity() * 8) rehash(capacity() * 2);
  size_t i = slot(key);
  while (true) {
    const BlockHash k = slots_[i].key;
    if (k == key) {
      slots_[i].value = value;
      return;
    }
    if (k == 0) {
      slots_[i].key = key;
      slots_[i].value = value;
      ++size_;
      return;
    }
    i = (i + 1) & mask_;
  }
}

bool HashIndex::erase(BlockHash key) {
  size_t i = slot(key);
  while (true) {
    const BlockHash k = slots_[i].key;
    if (k == 0) return false;
    if (k == key) break;
    i = (i + 1) & mask_;
  }
  // Backward-shift deletion: move later members of the probe run into the
  // hole when their home slot is not between the hole and themselves.
  size_t hole = i;
  size_t j = i;
  while (true) {
    j = (j + 1) & mask_;
    const BlockHash k = slots_[j].key;
    if (k == 0) break;
    const size_t home = slot(k);
    const bool stays = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole].key = 0;
  --size_;
  if (capacity() > kMinCapacity && size_ * 10 < capacity()) rehash(capacity() / 2);
  return true;
}

}  // namespace radixmesh::radix
