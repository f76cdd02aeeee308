#include "radix/memory_broker.h"

#include <algorithm>

namespace radixmesh::radix {

const char* to_string(PressureTier tier) {
  switch (tier) {
    case PressureTier::kNormal:
      return "normal";
    case PressureTier::kWarning:
      return "warning";
    case PressureTier::kHigh:
      return "high";
    case PressureTier::kCritical:
      return "critical";
  }
  return "unknown";
}

PressureTier tier_for(double pressure) {
  if (pressure >= MemoryBroker::kCritical) return PressureTier::kCritical;
  if (pressure >= MemoryBroker::kHigh) return PressureTier::kHigh;
  if (pressure >= MemoryBroker::kWarning) return PressureTier::kWarning;
  return PressureTier::kNormal;
}

MemoryBroker::MemoryBroker(size_t budget_bytes) : budget_(std::max<size_t>(budget_bytes, 1)) {
  stats_.budget_bytes = budget_;
}

void MemoryBroker::add(MemoryPool* pool) {
  std::lock_guard lock(mu_);
  if (std::find(pools_.begin(), pools_.end(), pool) == pools_.end()) pools_.push_back(pool);
}

void MemoryBroker::remove(MemoryPool* pool) {
  std::lock_guard lock(mu_);
  pools_.erase(std::remove(pools_.begin(), pools_.end(), pool), pools_.end());
}

PressureTier MemoryBroker::tick() {
  std::lock_guard lock(mu_);
  std::vector<size_t> sizes;
  sizes.reserve(pools_.size());
  size_t used = 0;
  stats_.pools.clear();
  for (MemoryPool* p : pools_) {
    sizes.push_back(p->bytes());
    used += sizes.back();
    stats_.pools.emplace_back(std::string(p->pool_name()), sizes.back());
  }
  const double pressure = static_cast<double>(used) / static_cast<double>(budget_);
  const PressureTier tier = tier_for(pressure);
  ++stats_.ticks;
  if (tier != stats_.tier) ++stats_.tier_entries[static_cast<size_t>(tier)];
  stats_.tier = tier;
  stats_.used_bytes = used;
  stats_.pressure = pressure;
  std::vector<size_t> relievable;  // indices into pools_
  for (size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i]->relievable()) relievable.push_back(i);
  }
  if (relievable.empty() || tier < PressureTier::kHigh) return tier;

  const size_t share = budget_ / relievable.size();
  const auto floor_share = static_cast<size_t>(static_cast<double>(share) * kWarning);
  auto relieve = [&](size_t i, size_t target) {
    if (sizes[i] <= target) return;
    ++stats_.relieve_calls;
    stats_.bytes_relieved += pools_[i]->relieve(target);
  };
  if (tier == PressureTier::kHigh) {
    // The single worst pool: furthest above its (equal) fair share, taken
    // down by the excess over the 0.6 mark but not below 0.6 x its share.
    size_t worst = relievable.front();
    for (size_t i : relievable) {
      if (sizes[i] > sizes[worst]) worst = i;
    }
    const auto mark = static_cast<size_t>(static_cast<double>(budget_) * kWarning);
    const size_t excess = used - std::min(used, mark);
    const size_t target = std::max(sizes[worst] - std::min(sizes[worst], excess), floor_share);
    relieve(worst, target);
  } else {
    for (size_t i : relievable) {
      if (sizes[i] > share) relieve(i, floor_share);
    }
  }
  return tier;
}

BrokerStats MemoryBroker::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace radixmesh::radix
