#include "policies/consistent_hash.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  const double cap =
      std::ceil(load_factor_ * static_cast<double>(total + 1) / static_cast<double>(n));
  auto within_bound = [&](size_t i) { return static_cast<double>(load(workers[i]) + 1) <= cap; };

  const uint64_t key_hash = hash_bytes(request.session_key);
  auto weight = [&](size_t i) { return rendezvous_weight(key_hash, hash_bytes(workers[i].url)); };

  // Common case: the first choice is within its bound; no allocation.
  size_t first = workers.size();
  uint64_t first_weight = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].healthy) continue;
    const uint64_t w = weight(i);
    if (first == workers.size() || w > first_weight) {
      first = i;
      first_weight = w;
    }
  }
  d.index = first;
  d.reason = Reason::kConsistentHash;
  if (!within_bound(first)) {
    // Walk the key's ring in weight order to the first worker within bound.
    std::vector<std::pair<uint64_t, size_t>> ring;
    ring.reserve(n);
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].healthy) ring.emplace_back(weight(i), i);
    }
    std::sort(ring.begin(), ring.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    d.index = least_loaded(workers, rng);  // guaranteed within bound; used if none is
    for (size_t rank = 1; rank < ring.size(); ++rank) {
      if (within_bound(ring[rank].second)) {
        d.index = ring[rank].second;
        d.score = static_cast<double>(rank);
        break;
      }
    }
    d.reason = Reason::kConsistentHashOverflow;
  }
  d.load = load(workers[*d.index]);
  return d;
}

}  // namespace radixmesh::policies
