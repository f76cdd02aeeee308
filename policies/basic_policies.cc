#include "policies/basic_policies.h"

#include "policies/candidates.h"

namespace radixmesh::policies {

namespace {

// Index of the k-th healthy worker (k < count_healthy(workers)).
size_t nth_healthy(std::span<const WorkerView> workers, size_t k) {
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].healthy) continue;
    if (k == 0) return i;
    --k;
  }
  return workers.size();  // unreachable when k is in range
}

Decision chosen(std::span<const WorkerView> workers, std::optional<size_t> index, Reason reason) {
  Decision d;
  if (!index) return d;  // kNoCandidates
  d.index = index;
  d.reason = reason;
  d.load = load(workers[*index]);
  return d;
}

}  // namespace

Decision RoundRobinPolicy::choose(const RequestView&, std::span<const WorkerView> workers,
                                  const radix::MatchResult*, Random&) const {
  const size_t n = count_healthy(workers);
  if (n == 0) return Decision{};
  const uint64_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
  return chosen(workers, nth_healthy(workers, ticket % n), Reason::kRoundRobin);
}

Decision RandomPolicy::choose(const RequestView&, std::span<const WorkerView> workers,
                              const radix::MatchResult*, Random& rng) const {
  const size_t n = count_healthy(workers);
  if (n == 0) return Decision{};
  return chosen(workers, nth_healthy(workers, rng.uniform(n)), Reason::kRandom);
}

Decision PowerOfTwoPolicy::choose(const RequestView&, std::span<const WorkerView> workers,
                                  const radix::MatchResult*, Random& rng) const {
  const size_t n = count_healthy(workers);
  if (n == 0) return Decision{};
  if (n == 1) return chosen(workers, nth_healthy(workers, 0), Reason::kPowerOfTwo);
  // Two distinct ranks: draw the second from n - 1 and skip over the first.
  const size_t ra = rng.uniform(n);
  size_t rb = rng.uniform(n - 1);
  if (rb >= ra) ++rb;
  const size_t a = nth_healthy(workers, ra);
  const size_t b = nth_healthy(workers, rb);
  const uint64_t la = load(workers[a]);
  const uint64_t lb = load(workers[b]);
  const bool take_b = lb < la || (lb == la && free_budget(workers[b]) > free_budget(workers[a]));
  return chosen(workers, take_b ? b : a, Reason::kPowerOfTwo);
}

Decision LeastLoadPolicy::choose(const RequestView&, std::span<const WorkerView> workers,
                                 const radix::MatchResult*, Random& rng) const {
  return chosen(workers, least_loaded(workers, rng, load_slack_), Reason::kLeastLoad);
}

}  // namespace radixmesh::policies
