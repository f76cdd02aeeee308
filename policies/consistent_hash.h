// consistent_hash: session affinity by rendezvous hashing with bounded load.
//
// Every healthy worker gets the weight rendezvous_weight(hash(session_key),
// hash(url)); the workers in decreasing weight order are the key's "ring".
// The key goes to the first worker on its ring whose load stays within the
// bound after taking it:
//
//     load + 1 <= max(2, ceil(load_factor * (total_load + 1) / healthy_workers))
//
// (consistent hashing with bounded loads, Mirrokni, Thorup and Zadimoghaddam;
// the floor of 2 keeps sessions home on an idle fleet, see the .cc).
// The least loaded worker always satisfies the bound when load_factor >= 1, so
// a decision is always found. Adding or removing a worker moves only the keys
// whose first choice it is or was: about 1/N of them. URLs must be spelled the
// same on every replica for replicas to agree.
//
//   first choice within bound -> kConsistentHash (score 0)
//   a later worker            -> kConsistentHashOverflow (score = how many
//                                workers were skipped)
//   no session key            -> least loaded, kNoSessionKeyLeastLoaded
//
// Cost: one pass over the workers with one hash each, O(n), no allocation; an
// overflow takes a second pass to report its rank. Thread-safe: immutable.
#pragma once

#include "policies/policy.h"

namespace radixmesh::policies {

class ConsistentHashPolicy final : public Policy {
 public:
  // No worker counts as overloaded below this many requests in flight.
  static constexpr double kMinLoadCap = 2.0;

  explicit ConsistentHashPolicy(double load_factor) : load_factor_(load_factor) {}
  std::string_view name() const override { return "consistent_hash"; }
  bool needs_match() const override { return false; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;

 private:
  double load_factor_;
};

}  // namespace radixmesh::policies
