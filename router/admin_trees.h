// JSON views of prefix trees for the admin API: stats, hottest prefixes and
// a bounded nested dump.
//
// All three walk the tree with PrefixTree::visit (one shard at a time under
// its shared lock, pre-order) and build their output after the visit, so
// the locks are held only while nodes are copied. Every walk is bounded by
// a node count; a truncated result says so ("truncated": true).
//
// Hotness ("top"): a prefix is hot when many distinct continuations share
// it. Each node is ranked by the number of leaves below it (conversations or
// prompts that extend this prefix), then by its last access (newest first),
// then by depth (longer prefixes first). Leaves rank by last access.
//
// Threads: pure functions over thread-safe trees; call from any thread.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "radix/prefix_tree.h"
#include "radix/worker_directory.h"

namespace radixmesh::router {

// {"model","nodes","blocks","bytes","tombstones","evicted_blocks",
//  "refused_records","digest","workers":[{"url","id","blocks"}]}
nlohmann::json tree_stats_json(const radix::PrefixTree& tree,
                               const radix::WorkerDirectory& workers);

// {"model","truncated","visited","prefixes":[{"prefix","depth","edge_blocks",
//  "leaves_below","tenants","workers":[url],"last_access_ms","age_ms"}]}
// where "prefix" is the hex hash of the prefix's last block (it names the
// whole prefix) and depth counts blocks from the root to the end of the node.
nlohmann::json tree_top_json(const radix::PrefixTree& tree, const radix::WorkerDirectory& workers,
                             size_t n, size_t max_nodes, uint64_t now_ms);

// {"model","truncated","nodes","root":{"children":[node...]}} where node =
// {"first","last","edge_blocks","depth","tenants":[{"url","last_access_ms"}],
//  "children":[node...], "children_omitted": k (only when truncated)}.
nlohmann::json tree_dump_json(const radix::PrefixTree& tree, const radix::WorkerDirectory& workers,
                              size_t max_nodes);

}  // namespace radixmesh::router
