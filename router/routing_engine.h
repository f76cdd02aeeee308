// RoutingEngine: request body -> the worker it should go to.
//
//   prepare():  parse (RequestParser) -> model (or --default-model)
//               -> chained block hashes of the canonical prompt
//   choose():   registry snapshot -> candidates serving the model (cached
//               per thread until the registry publishes a new snapshot)
//               -> live state of each: routable now (healthy, not
//               drained/removed, breaker admits), in-flight, mesh load,
//               tree blocks -> tree match (only if the policy needs it; the
//               tree's own short shard lock) -> policy.choose -> tree.insert
//               for the chosen worker -> breaker admission -> InFlightGuard
//
// Nothing here does I/O and no lock is held when choose() returns: the
// caller talks to the network afterwards. choose() may be called again for
// a retry with the workers already tried excluded.
//
// Cost: a decision allocates nothing once the thread's candidate set is
// built, and reads per candidate only a few atomics of its Worker, one
// counter of the tree and one slot of the mesh load table (no lock, no
// call through a std::function per worker). The policy receives every
// candidate of the model; those not routable now (or excluded) are marked
// `healthy = false`, which every policy treats exactly as if they were
// absent (docs/policies.md), so the span never has to be compacted.
//
// Ownership: the engine borrows the registry, catalog, policy and clock (the
// composition root owns them and outlives the engine). RoutingScratch is the
// per-io-thread state (parser, random source, cached candidate sets); it is
// not thread-safe: one per thread. PreparedRequest is per request.
//
// Threads: prepare/choose are safe from any number of threads at once, each
// with its own scratch.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/policy.h"
#include "policies/random.h"
#include "radix/canonical_prompt.h"
#include "radix/hlc.h"
#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_budgets.h"
#include "router/in_flight_guard.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

struct RoutingOptions {
  std::string default_model;  // used when a request names none
  uint64_t cluster_salt = 0;  // h[-1] derivation, equal on every router
  size_t block_bytes = 64;
  size_t max_blocks_per_worker = 262144;
  // Per-worker budgets (capacity estimates); null: max_blocks_per_worker.
  const radix::WorkerBudgets* budgets = nullptr;
  // Worker-reported load (Worker::load_report) older than this is ignored.
  int64_t load_stale_after_ms = 2000;
  radix::ParseLimits parse_limits;
  // Admission (--max-in-flight-per-worker): a worker with this many of this
  // router's requests in flight is not a candidate (0: no cap). choose()
  // then fails with kUnavailable and names the saturated workers in
  // RoutingScratch::at_cap, so the caller can queue (router/admission_queue.h).
  uint32_t max_in_flight_per_worker = 0;
  // Hears every slot release of a capped guard (null: none).
  std::shared_ptr<SlotListener> slot_listener;
  // Appended to the model's name to name its tree: PD mode's decode pool
  // keeps trees of its own ("<model>@decode", router/pd_routing.h).
  std::string tree_suffix;
  bool operator==(const RoutingOptions&) const = default;
};

// In-flight requests other routers report for workers (the mesh's load
// board), read once per decision for all candidates: out[i] = load of
// ids[i] (ids.size() == out.size()). Called on the hot path: it must not
// lock or allocate (the daemon's reads a table the mesh thread refreshes,
// router/mesh_load_table.h). Empty function: 0 for every worker (no mesh).
using MeshLoadFn =
    std::function<void(std::span<const radix::WorkerId> ids, std::span<uint32_t> out)>;

// The workers that may serve one model in one registry snapshot, with the
// static fields of their policy views (id, url, budget) filled once. Valid
// while that snapshot is alive: the engine rebuilds it when the registry
// publishes a new one (membership or model lists changed), so between those
// rare events a decision only refreshes the live fields in place.
struct CandidateSet {
  std::weak_ptr<const RegistrySnapshot> snapshot;  // identity only (no ABA: it pins the block)
  std::string model;
  bool served = false;                      // false: no worker announces the model (404)
  std::vector<Worker*> workers;             // owned by the snapshot
  std::vector<radix::WorkerId> ids;         // workers[i]->id(), for the mesh read
  std::vector<uint32_t> mesh_load;          // refreshed per decision
  std::vector<policies::WorkerView> views;  // views[i] describes workers[i]
};

class RoutingScratch {
 public:
  RoutingScratch(radix::ParseLimits limits, uint64_t seed) : parser(limits), rng(seed) {}
  radix::RequestParser parser;
  policies::Xoshiro256 rng;
  // A few models per thread; the least recently built set is reused first.
  std::array<CandidateSet, 4> sets;
  size_t next_set = 0;
  uint64_t set_builds = 0;  // how often a set was (re)built (tests, benchmarks)
  // After a choose() that failed: the workers left out only for being at
  // --max-in-flight-per-worker (empty: the failure was not saturation).
  std::vector<radix::WorkerId> at_cap;
};

struct PreparedRequest {
  radix::Endpoint endpoint = radix::Endpoint::kChatCompletions;
  radix::ParsedRequest parsed;
  std::string model;  // parsed.model or the default
  std::vector<radix::BlockHash> blocks;
  std::string session_key;  // session header, else the "user" field
};

struct RouteChoice {
  InFlightGuard guard;     // holds the worker; in-flight +1 while alive
  bool probe = false;      // the breaker's half-open probe
  radix::Hlc decision_ts;  // the stamp of this decision's tree insert
  policies::Decision decision;
  std::chrono::nanoseconds decision_time{0};  // match + policy + insert
  size_t candidates = 0;                      // routable workers considered

  Worker& worker() const { return *guard.worker(); }
};

// Per-worker detail of a dry run (admin "route explain").
struct ExplainEntry {
  std::string url;
  radix::WorkerId id = 0;
  bool routable = false;
  uint32_t in_flight = 0;       // this router's requests to it
  uint32_t mesh_in_flight = 0;  // other routers' requests to it, from the mesh
  uint32_t matched_blocks = 0;
  std::optional<WorkerLoad> reported;  // the worker's own /metrics, when fresh
  int64_t reported_age_ms = -1;        // age of that report (-1: none)
};
struct Explanation {
  std::string model;
  size_t total_blocks = 0;
  bool branches = false;        // the prompt branches off a cached path (MatchResult::branches)
  policies::Decision decision;  // index: into `workers` (every candidate, routable or not)
  std::string chosen_url;       // empty when none
  std::vector<ExplainEntry> workers;
};

class RoutingEngine {
 public:
  RoutingEngine(WorkerRegistry& registry, radix::TreeCatalog& trees, const policies::Policy& policy,
                radix::HybridClock& clock, RoutingOptions options, MeshLoadFn mesh_load = {},
                std::shared_ptr<LoadChangeSignal> load_signal = {});

  // Parse + hash. Errors: kInvalidArgument (400), kTooLarge (413).
  // body_padded: radix::RequestParser::kPadding bytes after the body are
  // readable, so it is parsed in place (no copy).
  Status prepare(RoutingScratch& scratch, std::string_view body, radix::Endpoint endpoint,
                 std::string_view session_header_value, PreparedRequest& out,
                 bool body_padded = false) const;

  // Errors: kNotFound (no worker serves the model: 404), kUnavailable (none
  // routable, or all excluded: 503).
  Result<RouteChoice> choose(RoutingScratch& scratch, const PreparedRequest& request,
                             std::span<const radix::WorkerId> exclude) const;

  // Dry run for the admin API: same decision path, no insert, no in-flight.
  Result<Explanation> explain(RoutingScratch& scratch, const PreparedRequest& request) const;

  const policies::Policy& policy() const { return policy_; }
  const RoutingOptions& options() const { return options_; }

 private:
  // The scratch's candidate set for (snapshot, model), built if needed.
  CandidateSet& candidates(RoutingScratch& scratch,
                           const std::shared_ptr<const RegistrySnapshot>& snapshot,
                           const std::string& model) const;
  // The model's tree, created on first use (null when the catalog is full:
  // route without a tree).
  std::shared_ptr<radix::PrefixTree> tree_for(const std::string& model) const;
  std::shared_ptr<radix::PrefixTree> tree_named(const std::string& name) const;
  // Refreshes the live fields of set.views; returns how many are routable
  // (not excluded, routable at `now`); the others get healthy = false.
  size_t refresh(CandidateSet& set, const radix::PrefixTree* tree,
                 std::span<const radix::WorkerId> exclude, int64_t now) const;

  WorkerRegistry& registry_;
  radix::TreeCatalog& trees_;
  const policies::Policy& policy_;
  radix::HybridClock& clock_;
  const RoutingOptions options_;
  const MeshLoadFn mesh_load_;
  // Mesh: notified on every in-flight change (null: no mesh).
  const std::shared_ptr<LoadChangeSignal> load_signal_;
};

}  // namespace radixmesh::router
