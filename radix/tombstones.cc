#include "radix/tombstones.h"

#include <algorithm>

namespace radixmesh::radix {

Tombstones::Tombstones(size_t max_entries, uint64_t horizon_ms)
    : max_entries_(std::max<size_t>(max_entries, 1)), horizon_ms_(horizon_ms) {}

void Tombstones::add(WorkerId worker, BlockHash from, Hlc ts, Hlc newest) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = entries_.try_emplace(Key{worker, from}, ts.value);
  if (!fresh) {
    if (it->second >= ts.value) return;
    by_age_.erase({it->second, {worker, from}});
    it->second = ts.value;
  } else {
    ++workers_[worker].count;
  }
  by_age_.insert({ts.value, {worker, from}});
  auto& pw = workers_[worker];
  pw.max_ts = std::max(pw.max_ts, ts.value);
  // Expire by age, then by count.
  const uint64_t newest_ms = newest.physical_ms();
  while (!by_age_.empty()) {
    const Hlc oldest{by_age_.begin()->first};
    const bool expired = oldest.physical_ms() + horizon_ms_ < newest_ms;
    if (!expired && entries_.size() <= max_entries_) break;
    drop_oldest_locked();
  }
  publish_locked();
}

void Tombstones::drop_oldest_locked() {
  auto first = by_age_.begin();
  const uint64_t ts = first->first;
  const Key key{first->second.first, first->second.second};
  by_age_.erase(first);
  entries_.erase(key);
  auto& pw = workers_[key.worker];
  if (pw.floor == 0) floors_.fetch_add(1, std::memory_order_relaxed);
  pw.floor = std::max(pw.floor, ts);
  if (pw.count > 0) --pw.count;
}

size_t Tombstones::cut(WorkerId worker, std::span<const BlockHash> chain, Hlc ts) const {
  if (size_.load(std::memory_order_relaxed) == 0) return chain.size();
  std::lock_guard lock(mu_);
  auto pw = workers_.find(worker);
  if (pw == workers_.end() || pw->second.count == 0 || pw->second.max_ts < ts.value) {
    return chain.size();
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    auto it = entries_.find(Key{worker, chain[i]});
    if (it != entries_.end() && it->second >= ts.value) return i;
  }
  return chain.size();
}

std::vector<Tombstones::Entry> Tombstones::entries() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& [key, ts] : entries_) out.push_back(Entry{key.worker, key.from, Hlc{ts}});
  return out;
}

Hlc Tombstones::floor(WorkerId worker) const {
  if (floors_.load(std::memory_order_relaxed) == 0) return Hlc{0};
  std::lock_guard lock(mu_);
  auto it = workers_.find(worker);
  return it == workers_.end() ? Hlc{0} : Hlc{it->second.floor};
}

void Tombstones::publish_locked() {
  size_.store(entries_.size(), std::memory_order_relaxed);
  // Hash node + ordered-set node + bucket pointers + per-worker rows.
  bytes_.store(entries_.size() * (32 + 16 + 48 + 8) + entries_.bucket_count() * sizeof(void*) +
                   workers_.size() * 48,
               std::memory_order_relaxed);
}

}  // namespace radixmesh::radix
