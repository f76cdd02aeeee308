#include "policies/candidates.h"

#include <algorithm>

namespace radixmesh::policies {

size_t count_healthy(std::span<const WorkerView> workers) {
  return static_cast<size_t>(
      std::count_if(workers.begin(), workers.end(), [](const WorkerView& w) { return w.healthy; }));
}

bool any_full(std::span<const WorkerView> workers) {
  return std::any_of(workers.begin(), workers.end(), [](const WorkerView& w) {
    return w.healthy && (w.evicting || (w.kv_usage && *w.kv_usage >= kFullKvUsage));
  });
}

LoadRange load_range(std::span<const WorkerView> workers) {
  LoadRange r;
  for (const WorkerView& w : workers) {
    if (!w.healthy) continue;
    const uint64_t l = load(w);
    r.total += l;
    if (r.healthy++ == 0) {
      r.min = r.max = l;
    } else {
      r.min = std::min(r.min, l);
      r.max = std::max(r.max, l);
    }
  }
  return r;
}

MatchLookup::MatchLookup(const radix::MatchResult* match) {
  if (match == nullptr || match->tenants.empty()) return;
  radix::WorkerId max_id = 0;
  for (const auto& t : match->tenants) {
    if (t.blocks == 0) continue;
    empty_ = false;
    max_id = std::max(max_id, t.worker);
  }
  if (empty_) return;

  // A worker named twice keeps its deepest reach in both layouts.
  const size_t tenants = match->tenants.size();
  if (max_id < 4 * tenants + 4096) {
    dense_.assign(size_t{max_id} + 1, 0);
    for (const auto& t : match->tenants) dense_[t.worker] = std::max(dense_[t.worker], t.blocks);
    return;
  }
  sparse_ = true;
  sorted_.reserve(tenants);
  for (const auto& t : match->tenants) {
    if (t.blocks > 0) sorted_.push_back({t.worker, t.blocks});
  }
  std::sort(sorted_.begin(), sorted_.end(), [](const Entry& a, const Entry& b) {
    return a.worker < b.worker || (a.worker == b.worker && a.blocks > b.blocks);
  });
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end(),
                            [](const Entry& a, const Entry& b) { return a.worker == b.worker; }),
                sorted_.end());
}

uint32_t MatchLookup::sparse_lookup(radix::WorkerId worker) const {
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), worker,
                             [](const Entry& e, radix::WorkerId w) { return e.worker < w; });
  return (it != sorted_.end() && it->worker == worker) ? it->blocks : 0;
}

}  // namespace radixmesh::policies
