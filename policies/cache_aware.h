// cache_aware: the default policy, SGLang's cache-aware algorithm made exact.
//
//   candidates = healthy workers                      (none -> kNoCandidates)
//   if max(load) - min(load) > abs  AND  max(load) > rel * min(load):
//       least loaded                                  (kImbalanceLeastLoaded)
//   best = max blocks held by a candidate (tenants outside the candidates are
//          ignored; no match or a 0-block prompt means best = 0)
//   if best > 0 AND best / len(blocks) >= threshold:
//       if the prompt branches off the cached path (match.branches) AND no
//          candidate's cache is full (any_full) AND every holder of best is
//          more than branch_slack above the mean load:
//           least loaded                              (kBranchLeastLoaded)
//       least loaded among the candidates holding best blocks   (kCacheHit)
//   else:
//       least loaded                                  (kCacheMissLeastLoaded)
//
// "Least loaded" breaks ties by most free tenant budget, then uniformly at
// random; with load_slack > 0 (meshed routers) it is a uniform draw among the
// workers within load_slack of the lowest load (anti-herding, docs/policies.md). A miss never goes
// to "the smallest tree": that rule keeps feeding the one worker whose tree is smallest, however
// busy it is.
//
// Thread-safe: immutable after construction.
#pragma once

#include "policies/policy.h"

namespace radixmesh::policies {

struct CacheAwareParams {
  double cache_threshold = 0.3;
  uint64_t balance_abs_threshold = 8;
  double balance_rel_threshold = 1.5;
  // A new branch off a cached prefix (a new conversation on a shared system
  // prompt) follows the prefix only to a holder at most this many requests
  // above the mean load: new conversations spread before they pile up, so the
  // imbalance rule rarely has to move running ones (docs/policies.md).
  uint64_t branch_slack = 2;
  // "Least loaded" takes any worker within this many requests of the lowest
  // load, at random (least_loaded_within). 0: exact minimum, ties by free budget.
  uint64_t load_slack = 0;
};

class CacheAwarePolicy final : public Policy {
 public:
  explicit CacheAwarePolicy(CacheAwareParams params) : p_(params) {}
  std::string_view name() const override { return "cache_aware"; }
  bool needs_match() const override { return true; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;

 private:
  CacheAwareParams p_;
};

}  // namespace radixmesh::policies
