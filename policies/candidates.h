// Shared building blocks of every policy: the combined load of a worker, the
// healthy-candidate filter, least-loaded selection with fair tie-breaking,
// and a per-worker view of a tree match restricted to the candidates.
//
// All functions are pure and thread-safe; they allocate only in MatchLookup
// (one vector of the match's tenants, when they are not already sorted).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "policies/policy.h"

namespace radixmesh::policies {

// The routers' in-flight count or the worker's own (running + waiting),
// whichever is larger, plus the reported queue once more (policy.h says why).
inline uint64_t load(const WorkerView& w) {
  const uint64_t routed = uint64_t{w.local_in_flight} + w.mesh_in_flight;
  const uint64_t queued = w.queue_depth.value_or(0);
  if (!w.running) return routed + queued;
  return std::max(routed, uint64_t{*w.running} + queued) + queued;
}

// KV usage in tenths (0..10), the first tie-breaker after load: coarse, so a
// scrape's noise does not override the tree's free budget between workers
// that are about as full. Not reported: 0 (no evidence against the worker).
inline uint32_t kv_tenths(const WorkerView& w) {
  if (!w.kv_usage) return 0;
  const double v = *w.kv_usage;
  return v >= 1.0 ? 10 : v > 0 ? static_cast<uint32_t>(v * 10.0) : 0;
}

// Blocks of tenant budget not yet used by the tree (0 when over or unknown).
inline uint64_t free_budget(const WorkerView& w) {
  return w.budget_blocks > w.tree_blocks ? w.budget_blocks - w.tree_blocks : 0;
}

size_t count_healthy(std::span<const WorkerView> workers);

// KV usage at which a worker's cache counts as full: what it loses then is
// eviction (also the cache feedback's capacity estimate, router/cache_feedback.h).
inline constexpr double kFullKvUsage = 0.9;

// True when a healthy worker's cache is full: it is evicting
// (WorkerView::evicting) or reports KV usage of kFullKvUsage or more.
bool any_full(std::span<const WorkerView> workers);

// Min and max load over the healthy workers, and how many there are
// ({0, 0, 0} when there are none): one pass for policies that need both.
struct LoadRange {
  uint64_t min = 0;
  uint64_t max = 0;
  uint64_t total = 0;  // sum over the healthy workers
  size_t healthy = 0;
};
LoadRange load_range(std::span<const WorkerView> workers);

// The lowest load among the healthy workers for which keep(i) is true
// (nullopt when there is none).
template <typename Keep>
std::optional<uint64_t> lowest_load_if(std::span<const WorkerView> workers, Keep&& keep) {
  std::optional<uint64_t> lowest;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].healthy || !keep(i)) continue;
    const uint64_t l = load(workers[i]);
    if (!lowest || l < *lowest) lowest = l;
  }
  return lowest;
}

// The healthy worker with the lowest load among those for which keep(i) is
// true; ties -> least KV usage (kv_tenths); then most free budget; remaining
// ties -> uniformly at random
// (reservoir sampling: one draw per tied worker, no allocation).
template <typename Keep>
std::optional<size_t> least_loaded_if(std::span<const WorkerView> workers, Random& rng,
                                      Keep&& keep) {
  std::optional<size_t> best;
  uint64_t best_load = 0;
  uint32_t best_kv = 0;
  uint64_t best_free = 0;
  uint64_t ties = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerView& w = workers[i];
    if (!w.healthy || !keep(i)) continue;
    const uint64_t l = load(w);
    const uint32_t kv = kv_tenths(w);
    const uint64_t f = free_budget(w);
    if (!best || l < best_load || (l == best_load && kv < best_kv) ||
        (l == best_load && kv == best_kv && f > best_free)) {
      best = i;
      best_load = l;
      best_kv = kv;
      best_free = f;
      ties = 1;
    } else if (l == best_load && kv == best_kv && f == best_free) {
      ++ties;
      if (rng.uniform(ties) == 0) best = i;
    }
  }
  return best;
}

// Anti-herding variant for meshed routers: slack == 0 is least_loaded_if;
// slack > 0 picks uniformly at random among the kept healthy workers whose
// load is within `slack` of the lowest (free budget is not consulted: routers
// with converged trees would all prefer the same worker). Routers deciding
// at the same moment on equally fresh views then spread over the near-equal
// workers instead of all taking the one lowest. Two passes, no allocation.
template <typename Keep>
std::optional<size_t> least_loaded_within(std::span<const WorkerView> workers, Random& rng,
                                          uint64_t slack, Keep&& keep) {
  if (slack == 0) return least_loaded_if(workers, rng, keep);
  const std::optional<uint64_t> lowest = lowest_load_if(workers, keep);
  if (!lowest) return std::nullopt;
  std::optional<size_t> best;
  uint64_t seen = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].healthy || !keep(i) || load(workers[i]) > *lowest + slack) continue;
    if (rng.uniform(++seen) == 0) best = i;
  }
  return best;
}

inline std::optional<size_t> least_loaded(std::span<const WorkerView> workers, Random& rng,
                                          uint64_t slack = 0) {
  return least_loaded_within(workers, rng, slack, [](size_t) { return true; });
}

// blocks_for(worker): how many blocks of the prompt that worker holds,
// according to the match (0 for a worker the match does not name).
// WorkerIds are dense process-local numbers (radix/worker_directory.h), so the
// usual layout is a table indexed by id: O(1) lookups, O(tenants + max id) to
// build. Ids far above the tenant count fall back to a sorted vector with
// O(log tenants) lookups, so a sparse id space never costs a huge table.
class MatchLookup {
 public:
  explicit MatchLookup(const radix::MatchResult* match);
  uint32_t blocks_for(radix::WorkerId worker) const {
    if (!sparse_) return worker < dense_.size() ? dense_[worker] : 0;
    return sparse_lookup(worker);
  }
  bool empty() const { return empty_; }

 private:
  struct Entry {
    radix::WorkerId worker;
    uint32_t blocks;
  };
  uint32_t sparse_lookup(radix::WorkerId worker) const;

  bool empty_ = true;
  bool sparse_ = false;
  std::vector<uint32_t> dense_;  // blocks by worker id (dense layout)
  std::vector<Entry> sorted_;    // by worker, one entry per worker (sparse layout)
};

}  // namespace radixmesh::policies
