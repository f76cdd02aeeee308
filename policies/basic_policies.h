// The load-balancing baselines: round_robin, random, power_of_two, least_load.
// None of them reads the tree (needs_match() is false).
//
//   round_robin   the n-th call takes the (n mod healthy)-th healthy worker;
//                 the ticket is one relaxed atomic fetch_add, so concurrent
//                 callers each get a distinct ticket and the counts stay exact.
//   random        uniformly among the healthy workers.
//   power_of_two  two distinct healthy workers at random; the less loaded wins
//                 (ties -> more free budget -> the first drawn). Never the most
//                 loaded of three with distinct loads.
//   least_load    the least loaded; ties -> more free budget -> random, so equal
//                 workers share the traffic instead of the first taking it all.
//
// Thread-safe: all are immutable except round_robin's atomic counter.
#pragma once

#include <atomic>

#include "policies/policy.h"

namespace radixmesh::policies {

class RoundRobinPolicy final : public Policy {
 public:
  std::string_view name() const override { return "round_robin"; }
  bool needs_match() const override { return false; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;

 private:
  mutable std::atomic<uint64_t> next_{0};  // the only mutable state
};

class RandomPolicy final : public Policy {
 public:
  std::string_view name() const override { return "random"; }
  bool needs_match() const override { return false; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;
};

class PowerOfTwoPolicy final : public Policy {
 public:
  std::string_view name() const override { return "power_of_two"; }
  bool needs_match() const override { return false; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;
};

class LeastLoadPolicy final : public Policy {
 public:
  explicit LeastLoadPolicy(uint64_t load_slack = 0) : load_slack_(load_slack) {}
  std::string_view name() const override { return "least_load"; }
  bool needs_match() const override { return false; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;

 private:
  uint64_t load_slack_;  // see least_loaded_within
};

}  // namespace radixmesh::policies
