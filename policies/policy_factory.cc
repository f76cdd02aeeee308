// make_policy, policy_names and to_string(Reason): the catalogue of policies.
#include <cmath>
#include <string>

#include "policies/basic_policies.h"
#include "policies/cache_aware.h"
#include "policies/consistent_hash.h"
#include "policies/cost.h"
#include "policies/policy.h"

namespace radixmesh::policies {

namespace {

bool finite_in(double v, double lo, double hi) {
  return std::isfinite(v) && v >= lo && v <= hi;
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::kCacheHit:
      return "cache_hit";
    case Reason::kCacheMissLeastLoaded:
      return "cache_miss_least_loaded";
    case Reason::kImbalanceLeastLoaded:
      return "imbalance_least_loaded";
    case Reason::kBranchLeastLoaded:
      return "branch_least_loaded";
    case Reason::kRoundRobin:
      return "round_robin";
    case Reason::kRandom:
      return "random";
    case Reason::kPowerOfTwo:
      return "power_of_two";
    case Reason::kLeastLoad:
      return "least_load";
    case Reason::kConsistentHash:
      return "consistent_hash";
    case Reason::kConsistentHashOverflow:
      return "consistent_hash_overflow";
    case Reason::kNoSessionKeyLeastLoaded:
      return "no_session_key_least_loaded";
    case Reason::kCostScore:
      return "cost_score";
    case Reason::kNoCandidates:
      return "no_candidates";
  }
  return "unknown";
}

std::vector<std::string_view> policy_names() {
  return {"cache_aware",  "cost",       "round_robin",    "random",
          "power_of_two", "least_load", "consistent_hash"};
}

Result<std::unique_ptr<Policy>> make_policy(const PolicyConfig& c) {
  const std::string& n = c.name;
  if (n == "cache_aware") {
    if (!finite_in(c.cache_threshold, 0.0, 1.0)) {
      return invalid("cache_threshold must be within [0, 1]");
    }
    if (!finite_in(c.balance_rel_threshold, 1.0, 1e9)) {
      return invalid("balance_rel_threshold must be >= 1");
    }
    return std::unique_ptr<Policy>(std::make_unique<CacheAwarePolicy>(
        CacheAwareParams{c.cache_threshold, static_cast<uint64_t>(c.balance_abs_threshold),
                         c.balance_rel_threshold, c.branch_slack, c.load_slack}));
  }
  if (n == "cost") {
    if (!finite_in(c.cost_overlap_weight, 0.0, 1e9) || !finite_in(c.cost_load_weight, 0.0, 1e9)) {
      return invalid("cost weights must be finite and >= 0");
    }
    if (c.cost_overlap_weight == 0 && c.cost_load_weight == 0) {
      return invalid("cost weights must not both be 0");
    }
    return std::unique_ptr<Policy>(
        std::make_unique<CostPolicy>(CostParams{c.cost_overlap_weight, c.cost_load_weight}));
  }
  if (n == "consistent_hash") {
    if (!finite_in(c.consistent_hash_load_factor, 1.0, 1e9)) {
      return invalid("consistent_hash_load_factor must be >= 1");
    }
    return std::unique_ptr<Policy>(
        std::make_unique<ConsistentHashPolicy>(c.consistent_hash_load_factor));
  }
  if (n == "round_robin") return std::unique_ptr<Policy>(std::make_unique<RoundRobinPolicy>());
  if (n == "random") return std::unique_ptr<Policy>(std::make_unique<RandomPolicy>());
  if (n == "power_of_two") return std::unique_ptr<Policy>(std::make_unique<PowerOfTwoPolicy>());
  if (n == "least_load")
    return std::unique_ptr<Policy>(std::make_unique<LeastLoadPolicy>(c.load_slack));

  std::string known;
  for (std::string_view name : policy_names()) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  return invalid("unknown policy '" + n + "' (known: " + known + ")");
}

}  // namespace radixmesh::policies
