// Scrape-time collectors for trees and memory (see admin_collectors.h).
#include "router/admin_collectors.h"

namespace radixmesh::router {
namespace {

CollectedFamily family(std::string name, std::string help, std::vector<std::string> labels,
                       MetricType type = MetricType::kGauge) {
  CollectedFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.label_names = std::move(labels);
  f.type = type;
  return f;
}

}  // namespace

void register_state_collectors(MetricsRegistry& registry, radix::TreeCatalog& trees,
                               const radix::WorkerDirectory& directory,
                               const radix::MemoryBroker* broker) {
  registry.add_collector([&trees, &directory] {
    auto bytes =
        family("radixmesh_tree_bytes", "Bytes used by each model's prefix tree.", {"model"});
    auto blocks =
        family("radixmesh_tree_blocks", "Distinct prompt blocks in each tree.", {"model"});
    auto nodes = family("radixmesh_tree_nodes", "Radix nodes in each tree.", {"model"});
    auto per_worker = family("radixmesh_tree_worker_blocks",
                             "Blocks each worker holds in each model's tree.", {"model", "worker"});
    auto evicted = family("radixmesh_tree_evicted_blocks_total",
                          "Worker-blocks evicted by budget or memory pressure.", {"model"},
                          MetricType::kCounter);
    for (const auto& [model, tree] : trees.all()) {
      radix::TreeStats s = tree->stats();
      bytes.samples.push_back({{model}, double(s.bytes)});
      blocks.samples.push_back({{model}, double(s.blocks)});
      nodes.samples.push_back({{model}, double(s.nodes)});
      evicted.samples.push_back({{model}, double(s.evicted_blocks)});
      for (const auto& [id, n] : s.blocks_per_worker) {
        if (n == 0) continue;
        per_worker.samples.push_back({{model, directory.url_of(id)}, double(n)});
      }
    }
    return std::vector<CollectedFamily>{bytes, blocks, nodes, per_worker, evicted};
  });
  if (broker == nullptr) return;
  registry.add_collector([broker] {
    radix::BrokerStats s = broker->stats();
    auto budget = family("radixmesh_memory_budget_bytes", "Process-wide memory budget.", {});
    auto used =
        family("radixmesh_memory_used_bytes", "Bytes used by all pools at the last tick.", {});
    auto pressure = family("radixmesh_memory_pressure", "used / budget at the last tick.", {});
    auto tier = family("radixmesh_memory_tier",
                       "Pressure tier: 0 normal, 1 warning, 2 high, 3 critical.", {});
    auto pools = family("radixmesh_memory_pool_bytes", "Bytes of each memory pool.", {"pool"});
    budget.samples.push_back({{}, double(s.budget_bytes)});
    used.samples.push_back({{}, double(s.used_bytes)});
    pressure.samples.push_back({{}, s.pressure});
    tier.samples.push_back({{}, double(static_cast<int>(s.tier))});
    for (const auto& [name, b] : s.pools) pools.samples.push_back({{name}, double(b)});
    return std::vector<CollectedFamily>{budget, used, pressure, tier, pools};
  });
}

void register_body_budget_collector(MetricsRegistry& registry, const BodyBudget& budget) {
  registry.add_collector([&budget] {
    auto held = family("radixmesh_request_body_bytes",
                       "Bytes held by request bodies being read or served.", {});
    auto limit = family("radixmesh_request_body_budget_bytes",
                        "Cap on radixmesh_request_body_bytes (--max-inflight-body-bytes).", {});
    auto refused = family("radixmesh_request_body_budget_exhausted_total",
                          "Requests answered 503 because request bodies held the whole budget.", {},
                          MetricType::kCounter);
    held.samples.push_back({{}, double(budget.reserved())});
    limit.samples.push_back({{}, double(budget.limit())});
    refused.samples.push_back({{}, double(budget.exhausted())});
    return std::vector<CollectedFamily>{held, limit, refused};
  });
}

}  // namespace radixmesh::router
