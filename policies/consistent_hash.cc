#include "policies/consistent_hash.h"

#include <algorithm>
#include <cmath>

#include "policies/candidates.h"
#include "policies/hashing.h"

namespace radixmesh::policies {

Decision ConsistentHashPolicy::choose(const RequestView& request,
                                      std::span<const WorkerView> workers,
                                      const radix::MatchResult*, Random& rng) const {
  Decision d;
  const size_t n = count_healthy(workers);
  if (n == 0) return d;  // kNoCandidates

  if (request.session_key.empty()) {
    d.index = least_loaded(workers, rng);
    d.reason = Reason::kNoSessionKeyLeastLoaded;
    d.load = load(workers[*d.index]);
    return d;
  }

  uint64_t total = 0;
  for (const WorkerView& w : workers) {
    if (w.healthy) total += load(w);
  }
  // Bounded load (ceil(c * (m + 1) / n)), with a floor: on an idle fleet the
  // bound is 1, and a session would move merely because its own previous
  // request is still counted in the instant between the client reading the
  // response and the router releasing it. Below kMinLoadCap nothing overflows.
  const double cap = std::max(kMinLoadCap, std::ceil(load_factor_ * static_cast<double>(total + 1) /
                                                     static_cast<double>(n)));
  auto within_bound = [&](size_t i) { return static_cast<double>(load(workers[i]) + 1) <= cap; };

  const uint64_t key_hash = hash_bytes(request.session_key);
  auto weight = [&](size_t i) {
    const WorkerView& w = workers[i];
    return rendezvous_weight(key_hash, w.url_hash != 0 ? w.url_hash : hash_bytes(w.url));
  };

  // One pass finds both the key's first choice and the heaviest worker within
  // bound, which is the first one within bound in the ring's weight order.
  // Equal weights (equal URLs) go to the lower index, a stable order.
  const size_t none = workers.size();
  size_t first = none, fit = none;
  uint64_t first_weight = 0, fit_weight = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].healthy) continue;
    const uint64_t w = weight(i);
    if (first == none || w > first_weight) {
      first = i;
      first_weight = w;
    }
    if ((fit == none || w > fit_weight) && within_bound(i)) {
      fit = i;
      fit_weight = w;
    }
  }

  if (fit == first) {
    d.index = first;
    d.reason = Reason::kConsistentHash;
  } else if (fit != none) {
    d.index = fit;
    d.reason = Reason::kConsistentHashOverflow;
    size_t skipped = 0;  // workers ahead of the chosen one on the key's ring
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].healthy && weight(i) > fit_weight) ++skipped;
    }
    d.score = static_cast<double>(skipped);
  } else {
    // Unreachable for load_factor >= 1 (the least loaded always fits); a
    // defined answer anyway.
    d.index = least_loaded(workers, rng);
    d.reason = Reason::kConsistentHashOverflow;
  }
  d.load = load(workers[*d.index]);
  return d;
}

}  // namespace radixmesh::policies
