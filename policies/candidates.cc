#include "policies/candidates.h"

#include <algorithm>

namespace radixmesh::policies {

size_t count_healthy(std::span<const WorkerView> workers) {
  return static_cast<size_t>(
      std::count_if(workers.begin(), workers.end(), [](const WorkerView& w) { return w.healthy; }));
}

LoadRange load_range(std::span<const WorkerView> workers) {
  LoadRange r;
  bool first = true;
  for (const WorkerView& w : workers) {
    if (!w.healthy) continue;
    const uint64_t l = load(w);
    if (first) {
      r.min = r.max = l;
      first = false;
    } else {
      r.min = std::min(r.min, l);
      r.max = std::max(r.max, l);
    }
  }
  return r;
}

MatchLookup::MatchLookup(const radix::MatchResult* match) {
  if (match == nullptr || match->tenants.empty()) return;
  tenants_.reserve(match->tenants.size());
  for (const auto& t : match->tenants) {
    if (t.blocks > 0) tenants_.push_back({t.worker, t.blocks});
  }
  std::sort(tenants_.begin(), tenants_.end(), [](const Entry& a, const Entry& b) {
    return a.worker < b.worker || (a.worker == b.worker && a.blocks > b.blocks);
  });
  // A worker named twice keeps its deepest reach (the first after sorting).
  tenants_.erase(std::unique(tenants_.begin(), tenants_.end(),
                             [](const Entry& a, const Entry& b) { return a.worker == b.worker; }),
                 tenants_.end());
}

uint32_t MatchLookup::blocks_for(radix::WorkerId worker) const {
  auto it = std::lower_bound(tenants_.begin(), tenants_.end(), worker,
                             [](const Entry& e, radix::WorkerId w) { return e.worker < w; });
  return (it != tenants_.end() && it->worker == worker) ? it->blocks : 0;
}

}  // namespace radixmesh::policies
