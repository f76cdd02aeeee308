// Routing policies: pick one worker for one request, and say why.
//
// A Policy is a pure function of (request view, worker views, tree match,
// random source): no I/O, no clock, no hidden global state. The router builds
// the views from its registry and load board, computes the tree match only
// when needs_match() is true, and calls choose(). The Decision names the
// chosen worker by its index in the span the router passed in, plus a
// machine-readable Reason, the matched depth and a score for "route explain"
// and the per-reason metrics.
//
// Threads: choose() is const and safe to call from many threads at once on
// one Policy object. The only mutable state a policy may hold is an atomic
// (round_robin's ticket counter). The Random& is owned by the calling thread.
//
// Missing data is explicit, never guessed:
//   - no candidates, or none healthy      -> index nullopt, kNoCandidates
//   - match == nullptr or a prompt with 0 blocks -> treated as "nothing is
//     cached": cache_aware and cost fall back to the least loaded worker
//   - queue_depth / kv_usage unknown      -> load uses the in-flight counts only
//   - tenants in the match that are not among the candidates (unhealthy,
//     removed, serving another model) are ignored
//
// Load (see load() in policies/candidates.h), with routed = local_in_flight +
// mesh_in_flight:
//   running reported:     max(routed, running + queue_depth) + queue_depth
//   otherwise:            routed + queue_depth (0 when not reported)
// The max takes whichever count is larger: the routers' own (fresh, but blind
// to clients that reach the worker directly) or the worker's (the truth, but
// as old as the last scrape). The queue is counted once more on top on
// purpose: a worker with a queue is past its batch limit, and every further
// request waits for a whole slot, so a queued request weighs twice.
// kv_usage breaks ties between equally loaded workers (docs/policies.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/random.h"
#include "radix/block_hash_types.h"
#include "radix/prefix_tree.h"  // radix::MatchResult, the only tree type used here
#include "radix/result.h"

namespace radixmesh::policies {

// What the router extracted from one request. Views borrow the request's
// memory for the duration of choose() only.
struct RequestView {
  std::string_view model;
  std::span<const radix::BlockHash> blocks;  // the prompt's chained block hashes
  size_t prompt_bytes = 0;
  std::string_view session_key;  // header or "user" field; empty if none
};

// One candidate worker: a snapshot taken by the router for this decision.
// The fields every policy reads for every worker come first, so a scan over
// many workers touches as few cache lines as possible.
struct WorkerView {
  radix::WorkerId id = 0;
  bool healthy = true;                  // router passes unroutable ones as false; policies
                                        // treat them exactly as if they were absent
  uint32_t local_in_flight = 0;         // requests this router has in flight to it
  uint32_t mesh_in_flight = 0;          // others' in-flight to it, from the mesh
  std::optional<uint32_t> queue_depth;  // worker-reported requests waiting, if known
  std::optional<uint32_t> running;      // worker-reported requests running, if known
  uint64_t tree_blocks = 0;             // blocks the tree attributes to it
  uint64_t budget_blocks = 0;           // its tenant budget (max-blocks-per-worker)
  std::string_view url;                 // stable identity for hashing (consistent_hash)
  uint64_t url_hash = 0;                // hash_bytes(url) (policies/hashing.h) when the caller
                                        // computed it once; 0: the policy hashes url itself
  std::optional<double> kv_usage;       // worker-reported 0..1, if known: breaks
                                        // ties between equally loaded workers
  bool evicting = false;                // it evicted prompts the tree predicted it held, in
                                        // the last few seconds (cache feedback): its cache is
                                        // full, a new prefix there pushes out another
};

enum class Reason {
  kCacheHit,              // cache_aware: best match >= threshold
  kCacheMissLeastLoaded,  // cache_aware: below threshold, no match or 0 blocks
  kImbalanceLeastLoaded,  // cache_aware: load imbalanced, match ignored
  kBranchLeastLoaded,     // cache_aware: a new branch off a prefix whose holders are busy
  kRoundRobin,
  kRandom,
  kPowerOfTwo,
  kLeastLoad,
  kConsistentHash,           // the session key's first choice on the ring
  kConsistentHashOverflow,   // first choice over its load bound: a later one
  kNoSessionKeyLeastLoaded,  // consistent_hash without a session key
  kCostScore,
  kNoCandidates,  // nothing healthy to route to: the router answers 503
};

// Stable snake_case name, used as a metrics label and in explain output.
std::string_view to_string(Reason reason);

struct Decision {
  std::optional<size_t> index;  // into the workers span; nullopt -> 503
  Reason reason = Reason::kNoCandidates;
  uint32_t matched_blocks = 0;  // blocks of this prompt the chosen worker holds
  double score = 0;             // policy-specific (cost: the winning score)
  uint64_t load = 0;            // combined load of the chosen worker
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // The router computes the tree match only if this is true.
  virtual bool needs_match() const = 0;
  // Thread-safe. match is null when !needs_match() (or the tree has no entry).
  virtual Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                          const radix::MatchResult* match, Random& rng) const = 0;
};

// Configuration for make_policy. Defaults and their reasons: docs/policies.md.
struct PolicyConfig {
  std::string name = "cache_aware";
  // cache_aware: route by the match when matched/len(blocks) >= this.
  double cache_threshold = 0.3;
  // cache_aware: load is imbalanced when max - min > abs AND max > rel * min.
  size_t balance_abs_threshold = 8;
  double balance_rel_threshold = 1.5;
  // cache_aware: a new branch off a cached prefix goes to its holders only
  // if one is at most this many requests above the mean load (and no cache is full).
  uint64_t branch_slack = 2;
  // cost: score = overlap_weight * reusable fraction - load_weight * load/max.
  double cost_overlap_weight = 1.0;
  double cost_load_weight = 0.5;
  // consistent_hash: a worker may take at most ceil(factor * mean load).
  double consistent_hash_load_factor = 1.25;
  // cache_aware, least_load: pick at random among workers within this many
  // requests of the lowest load (anti-herding between meshed routers).
  uint64_t load_slack = 0;
  bool operator==(const PolicyConfig&) const = default;
};

// Unknown name or out-of-range parameter -> ErrorCode::kInvalidArgument.
// Start-up only (allocates); the returned policy is immutable but for atomics.
Result<std::unique_ptr<Policy>> make_policy(const PolicyConfig& config);

// Every name make_policy accepts, default first.
std::vector<std::string_view> policy_names();

}  // namespace radixmesh::policies
