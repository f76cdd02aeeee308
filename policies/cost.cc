#include "policies/cost.h"

#include <algorithm>

#include "policies/candidates.h"

namespace radixmesh::policies {

Decision CostPolicy::choose(const RequestView& request, std::span<const WorkerView> workers,
                            const radix::MatchResult* match, Random& rng) const {
  Decision d;
  const LoadRange range = load_range(workers);
  if (range.healthy == 0) return d;  // kNoCandidates

  const MatchLookup lookup(request.blocks.empty() ? nullptr : match);
  const double len = static_cast<double>(request.blocks.size());
  const double max_load = static_cast<double>(range.max);

  auto score_of = [&](const WorkerView& w) {
    const double reusable =
        len == 0 ? 0.0 : std::min(1.0, static_cast<double>(lookup.blocks_for(w.id)) / len);
    const double norm_load = max_load == 0 ? 0.0 : static_cast<double>(load(w)) / max_load;
    return p_.overlap_weight * reusable - p_.load_weight * norm_load;
  };

  bool have = false;
  double best = 0;
  for (const WorkerView& w : workers) {
    if (!w.healthy) continue;
    const double s = score_of(w);
    if (!have || s > best) best = s;
    have = true;
  }
  // Exact ties only: the scores are computed by the same expression, so equal
  // inputs give bit-identical doubles.
  const auto pick =
      least_loaded_if(workers, rng, [&](size_t i) { return score_of(workers[i]) == best; });
  d.index = pick;
  d.reason = Reason::kCostScore;
  d.score = best;
  d.load = load(workers[*pick]);
  d.matched_blocks = lookup.blocks_for(workers[*pick].id);
  return d;
}

}  // namespace radixmesh::policies
