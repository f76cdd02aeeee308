// Scrape-time metrics for state that lives outside the metrics registry:
// prefix trees (bytes, blocks, nodes, per-worker blocks) and the memory
// broker (budget, use, pressure, tier).
//
//   radixmesh_tree_bytes{model}            radixmesh_tree_blocks{model}
//   radixmesh_tree_nodes{model}            radixmesh_tree_worker_blocks{model,worker}
//   radixmesh_tree_evicted_blocks_total{model}
//   radixmesh_memory_budget_bytes  radixmesh_memory_used_bytes
//   radixmesh_memory_pressure      radixmesh_memory_tier (0 normal .. 3 critical)
//   radixmesh_memory_pool_bytes{pool}
//
// and the request body budget (router/body_budget.h), read live:
//
//   radixmesh_request_body_bytes                    held by bodies now
//   radixmesh_request_body_budget_bytes             --max-inflight-body-bytes
//   radixmesh_request_body_budget_exhausted_total   requests refused (503)
//
// The longest tree lock hold is not read here: take_max_lock_hold_ns()
// resets on read and the composition root's broker loop owns it
// (radixmesh_lock_hold_max_seconds{lock="tree_shard"}).
//
// Ownership: the collectors borrow the catalog, directory and broker; they
// must outlive every render() of the registry (the composition root owns
// all four). Threads: render() may run on any thread.
#pragma once

#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/body_budget.h"
#include "router/metrics.h"

namespace radixmesh::router {

void register_state_collectors(MetricsRegistry& registry, radix::TreeCatalog& trees,
                               const radix::WorkerDirectory& directory,
                               const radix::MemoryBroker* broker);
void register_body_budget_collector(MetricsRegistry& registry, const BodyBudget& budget);

}  // namespace radixmesh::router
