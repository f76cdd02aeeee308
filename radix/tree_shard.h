// TreeShard: one shard of a PrefixTree: the nodes of every chain whose first
// block maps to it, its block index, and the algorithms over them.
//
// Layout: nodes live in a slab (std::vector<Node>) addressed by 32-bit ids
// with a free list; node 0 is the shard's root (empty edge, no tenants).
// Children are a doubly linked sibling list, so unlinking is O(1) and no
// per-node child container is needed: a child is found through the block
// index (its first hash), not through its parent.
//
//   slab:  [0 root] [1 a b c] [2 d e] [3 x y z] [4 free] ...
//   index: a->1 b->1 c->1 d->2 e->2 x->3 y->3 z->3
//   links: 1.parent=0, 2.parent=1, 3.parent=1, 1.first_child=3, 3.next=2
//
// The invariants are those of radix/prefix_tree.h (prefix property,
// no empty nodes, canonical merges, counters equal recounts).
//
// Thread safety: none. PrefixTree holds the shard's shared_mutex: shared
// for the const methods, exclusive for the others. Per-worker block counts
// go to the tree's WorkerCounts (atomic); the shard's own totals are
// atomics so the tree can read them without the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "radix/hash_index.h"
#include "radix/prefix_tree.h"

namespace radixmesh::radix {

class WorkerCounts;

class TreeShard {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr uint32_t kRoot = 0;

  struct Node {
    std::vector<BlockHash> edge;
    std::vector<TenantEntry> tenants;  // sorted by worker
    uint32_t parent = kNil;
    uint32_t first_child = kNil;
    uint32_t next = kNil;  // sibling list
    uint32_t prev = kNil;
    uint32_t depth = 0;  // blocks above edge[0]
    bool live = false;
  };

  struct InsertOutcome {
    uint32_t already_known = 0;  // leading blocks present before
    uint32_t new_blocks = 0;     // blocks added to the tree
  };

  // Maps a worker to its stable key (for the digest).
  using KeyFn = std::function<uint64_t(WorkerId)>;

  TreeShard(WorkerCounts* counts, KeyFn key_of);

  // Number of leading blocks of chain present in this shard.
  uint32_t present_prefix(std::span<const BlockHash> chain) const;
  void match(std::span<const BlockHash> chain, MatchResult& out) const;
  // `worker` holds chain (stamped ts, last-writer-wins per node).
  InsertOutcome insert(std::span<const BlockHash> chain, WorkerId worker, Hlc ts);
  // Removes worker's entries at and below `from` stamped <= ts. Returns the
  // worker-blocks removed.
  size_t evict_from(WorkerId worker, BlockHash from, Hlc ts);
  size_t remove_worker(WorkerId worker);
  // (stamp, blocks) of every tenant entry of `worker` (all workers if nullopt).
  void collect_entries(std::optional<WorkerId> worker,
                       std::vector<std::pair<uint64_t, uint32_t>>& out) const;
  // Removes entries (of `worker`, or all) stamped <= cutoff, appending one
  // event per evicted subtree; returns the worker-blocks removed. Works in
  // bounded steps, so the caller can release the lock between them: scans the slab from `cursor`
  // for about `work` units (nodes looked at + blocks removed), sweeping each top-most matching
  // node. `done` once the scan reached the end of the slab.
  size_t evict_older_step(std::optional<WorkerId> worker, Hlc cutoff, uint32_t& cursor, size_t work,
                          std::vector<EvictEvent>* events, bool& done);

  bool contains(BlockHash hash) const { return locate(hash).has_value(); }
  std::optional<std::vector<BlockHash>> chain_to(BlockHash hash) const;
  // Pre-order; decrements `budget` per node; false when stopped.
  bool visit(const std::function<bool(const NodeView&)>& visitor, size_t& budget) const;
  // "" or the first violation; adds per-worker block recounts to `recount`.
  std::string check_invariants(std::unordered_map<WorkerId, size_t>& recount) const;

  size_t nodes() const { return nodes_live_.load(std::memory_order_relaxed); }
  size_t blocks() const { return blocks_.load(std::memory_order_relaxed); }
  uint64_t digest() const { return digest_.load(std::memory_order_relaxed); }
  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  struct Pos {
    uint32_t node;
    uint32_t offset;
  };
  std::optional<Pos> locate(BlockHash hash) const;
  // Node holding `hash` at chain position `depth`, or kNil.
  uint32_t node_at(BlockHash hash, uint32_t depth) const;
  uint32_t alloc();
  void free_node(uint32_t id);
  void link_child(uint32_t parent, uint32_t child);
  void unlink(uint32_t child);
  // Splits node id so that it keeps `at` blocks; returns the new lower node.
  uint32_t split(uint32_t id, uint32_t at);
  // Merges id with its only child when their tenants are equal.
  void try_merge(uint32_t id);
  // Removes tenants matching pred in the subtree of start, prunes empty
  // nodes and restores canonical form. Returns the worker-blocks removed.
  // compact=false keeps node ids stable (for stepwise scans).
  size_t sweep(uint32_t start, const std::function<bool(const TenantEntry&)>& pred,
               std::vector<EvictEvent>* events, bool compact = true);
  uint64_t contribution(const Node& n, WorkerId worker) const;
  static bool has_worker(const Node& n, WorkerId worker);
  static size_t heap_of(const Node& n);
  void publish_bytes();
  // Renumbers live nodes into a fresh slab when most of it is free, so
  // memory returns after large evictions.
  void maybe_compact();

  WorkerCounts* counts_;
  KeyFn key_of_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  HashIndex index_;
  size_t heap_bytes_ = 0;
  std::atomic<size_t> nodes_live_{0};
  std::atomic<size_t> blocks_{0};
  std::atomic<uint64_t> digest_{0};
  std::atomic<size_t> bytes_{0};
};

}  // namespace radixmesh::radix
