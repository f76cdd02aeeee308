#include "policies/cache_aware.h"

#include <algorithm>

#include "policies/candidates.h"

namespace radixmesh::policies {

namespace {

Decision decide(std::span<const WorkerView> workers, std::optional<size_t> index, Reason reason,
                const MatchLookup& lookup) {
  Decision d;
  if (!index) return d;  // kNoCandidates
  d.index = index;
  d.reason = reason;
  d.load = load(workers[*index]);
  d.matched_blocks = lookup.blocks_for(workers[*index].id);
  return d;
}

}  // namespace

Decision CacheAwarePolicy::choose(const RequestView& request, std::span<const WorkerView> workers,
                                  const radix::MatchResult* match, Random& rng) const {
  const LoadRange range = load_range(workers);
  if (range.healthy == 0) return Decision{};

  const MatchLookup lookup(request.blocks.empty() ? nullptr : match);

  const bool imbalanced =
      range.max - range.min > p_.balance_abs_threshold &&
      static_cast<double>(range.max) > p_.balance_rel_threshold * static_cast<double>(range.min);
  if (imbalanced) {
    return decide(workers, least_loaded(workers, rng, p_.load_slack), Reason::kImbalanceLeastLoaded,
                  lookup);
  }

  uint32_t best = 0;
  if (!lookup.empty()) {
    for (const WorkerView& w : workers) {
      if (w.healthy) best = std::max(best, lookup.blocks_for(w.id));
    }
  }
  // A match longer than the prompt (a stale or foreign match) counts as full.
  const double fraction =
      request.blocks.empty()
          ? 0.0
          : std::min(1.0, static_cast<double>(best) / static_cast<double>(request.blocks.size()));
  if (best > 0 && fraction >= p_.cache_threshold) {
    const auto holds_best = [&](size_t i) { return lookup.blocks_for(workers[i].id) == best; };
    // A new copy of the prefix is worth its prefill only while the caches
    // have room: once any worker is full, a copy displaces another prefix.
    if (match->branches && !any_full(workers) &&
        lowest_load_if(workers, holds_best).value_or(0) * range.healthy >
            range.total + p_.branch_slack * range.healthy) {
      return decide(workers, least_loaded(workers, rng, p_.load_slack), Reason::kBranchLeastLoaded,
                    lookup);
    }
    auto pick = least_loaded_within(workers, rng, p_.load_slack, holds_best);
    return decide(workers, pick, Reason::kCacheHit, lookup);
  }
  return decide(workers, least_loaded(workers, rng, p_.load_slack), Reason::kCacheMissLeastLoaded,
                lookup);
}

}  // namespace radixmesh::policies
