// PrefixTree: which worker holds which prompt prefix, for one model.
//
// A compressed radix tree over chained block hashes (radix/block_hash.h).
// Because h[i] names the whole prefix up to block i, a hash sits at exactly
// one place in the tree and "h[i] is in the tree" is prefix-closed.
//
//   root ─ [a b c] ─┬─ [d e]        tenants {w1@t5}        (w1 holds a..e)
//   {w1@t5,w2@t3}   └─ [x y z]      tenants {w2@t3}        (w2 holds a..c,x..z)
//
//   insert(a b c d q, w2, t7) splits [d e] after d:
//
//   root ─ [a b c] ─┬─ [d] ─┬─ [e]  {w1@t5}
//   {w1@t5,w2@t7}   │  {w1@t5,w2@t7}
//                   │       └─ [q]  {w2@t7}
//                   └─ [x y z]      {w2@t3}
//
// Node = edge (hashes), parent, children (doubly linked siblings), tenants
// (worker -> last access Hlc). A hash index maps every block to its node, so
// match() binary-searches the longest present prefix with O(log n) probes and
// chain_to() / anchor resolution are one probe plus a walk to the root.
//
// Invariants (checked by check_invariants(), used by tests):
//  1. Prefix property: a tenant of a node is a tenant of all its ancestors,
//     with a timestamp >= the descendant's (inserts stamp the whole path).
//  2. Every node except the root has at least one tenant (empty ones are
//     pruned with their subtrees, which are empty by 1.).
//  3. Canonical form: a node with exactly one child never has the same
//     tenants (workers and stamps) as that child; they are merged. The
//     shape is therefore a function of the (block, worker, stamp) state,
//     not of the order of operations, which makes digest()/stats() of two
//     converged trees equal.
//  4. Per-worker block counts and digest() equal a recount from the nodes.
//
// Convergence (a CRDT; docs/prefix-tree.md): each (block, worker) is a
// last-writer-wins register on the Hlc. apply(InsertRecord) raises the whole
// chain root..last to its stamp; apply(EvictRecord) removes the worker's
// entries at and below `from` whose stamp is <= its own and leaves a
// tombstone so an older insert arriving later cannot resurrect them.
// Tombstones live for tombstone_horizon_ms (physical part of the Hlc,
// measured against the newest stamp the tree has seen) and are bounded in
// number; when one is dropped, the worker's "floor" rises to its stamp and
// later records for that worker not newer than the floor are refused
// (kInvalidArgument, counted). Within the horizon, any permutation and
// duplication of the same records yields the same tree.
//
// Block hash 0 is reserved (it means "root" as an anchor); a chain is cut at
// its first 0.
//
// Thread safety: all public methods may be called concurrently. The tree is
// sharded by the first block of a chain (chains with different first blocks
// are disjoint); each shard has a std::shared_mutex. match/contains/chain_to
// take one shard shared; insert/apply take one shard exclusive. Eviction,
// remove_worker, visit and snapshot encoding lock one shard at a time, never
// two. Per-worker counts, bytes and digest are atomics (approximate while
// writers run, exact when quiescent). The observer is called after every
// lock is released. Budget eviction runs on the inserting thread after its
// insert released the shard; one eviction runs at a time (others skip it),
// so a budget can be exceeded by what concurrent inserts add meanwhile.
// Eviction holds each shard's exclusive lock for bounded steps (about 8,192
// nodes looked at or blocks removed), never for a whole shard.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "radix/block_hash_types.h"
#include "radix/hlc.h"
#include "radix/memory_pool.h"
#include "radix/result.h"
#include "radix/tree_observer.h"

namespace radixmesh::radix {

class WorkerDirectory;
class WorkerBudgets;
class TreeShard;
class Tombstones;
class WorkerCounts;

struct TenantReach {
  WorkerId worker;
  uint32_t blocks;  // depth reached on the matched path
  Hlc last_access;  // stamp of the deepest matched node it holds
};

struct MatchResult {
  uint32_t matched_blocks = 0;       // deepest depth any tenant holds
  std::vector<TenantReach> tenants;  // every worker with >= 1 matched block,
                                     // deepest first, then by worker id
  // The prompt goes on past the match and the tree holds a different
  // continuation there: the request branches off a cached path (a new
  // conversation on a shared system prompt, a new question on a shared
  // document) instead of extending one (the next turn of a conversation).
  bool branches = false;
};

// From the mesh: `worker` holds chain(anchor) + blocks, stamped ts.
struct InsertRecord {
  WorkerId worker;
  BlockHash anchor;  // 0 = root
  std::vector<BlockHash> blocks;
  Hlc ts;
};

// From the mesh: `worker` no longer holds `from` and anything below it,
// for entries stamped <= ts.
struct EvictRecord {
  WorkerId worker;
  BlockHash from;
  Hlc ts;
};

struct TreeStats {
  size_t nodes = 0;   // excluding the per-shard roots
  size_t blocks = 0;  // distinct blocks
  size_t bytes = 0;   // every structure, see bytes()
  size_t tombstones = 0;
  std::vector<std::pair<WorkerId, size_t>> blocks_per_worker;  // sorted by worker
  // Counters since construction.
  uint64_t evicted_blocks = 0;    // worker-blocks removed by budget/bytes eviction
  uint64_t refused_records = 0;   // mesh records older than a worker's floor
  uint64_t max_lock_hold_ns = 0;  // longest lock hold since the last take_max_lock_hold_ns()
};

struct TenantEntry {
  WorkerId worker;
  Hlc ts;
};

// One node as the visitor sees it (pre-order, shard by shard).
struct NodeView {
  uint32_t level;                        // number of ancestors below the root (0 = top level)
  uint32_t depth;                        // blocks above this node's edge
  uint32_t edge_len;                     // blocks in this node's edge
  BlockHash first, last;                 // first and last hash of the edge
  std::span<const BlockHash> edge;       // the whole edge
  std::span<const TenantEntry> tenants;  // sorted by worker
  uint32_t children;
};

class PrefixTree : public MemoryPool {
 public:
  struct Options {
    std::string model;
    size_t max_blocks_per_worker = size_t{1} << 20;
    size_t max_bytes = size_t{256} << 20;
    size_t shards = 16;
    // Maps ids to stable keys for digest(); null: the id itself is the key.
    const WorkerDirectory* workers = nullptr;
    // Per-worker budgets below max_blocks_per_worker (the capacity
    // estimator's); null: max_blocks_per_worker for every worker.
    const WorkerBudgets* budgets = nullptr;
    uint64_t tombstone_horizon_ms = 10 * 60 * 1000;
    size_t max_tombstones = size_t{1} << 16;
    // Over a budget, evict down to this fraction of it (amortises eviction).
    double evict_to_fraction = 0.9;
  };

  PrefixTree(Options options, TreeObserver* observer);
  ~PrefixTree() override;
  PrefixTree(const PrefixTree&) = delete;
  PrefixTree& operator=(const PrefixTree&) = delete;

  MatchResult match(std::span<const BlockHash> blocks) const;
  // Router path: `worker` now holds this whole prefix. Stamps the path with
  // ts, evicts the worker's LRU entries if over its budget (and LRU entries
  // of all workers if over max_bytes), then notifies the observer. Returns
  // the number of blocks that were not in the tree before (for any worker).
  uint32_t insert(std::span<const BlockHash> blocks, WorkerId worker, Hlc ts);
  // Mesh path: idempotent and commutative. kNotFound when the anchor is
  // unknown (fetch the chain and retry), kInvalidArgument when refused as
  // older than the worker's tombstone floor. Never notifies the observer.
  Status apply(const InsertRecord& record);
  void apply(const EvictRecord& record);
  // Router path: this node learned that `worker` no longer holds `from` and
  // what lies below it, for entries stamped <= ts (the worker reported fewer
  // cached tokens than the tree predicted). Applied exactly like a mesh
  // EvictRecord (tombstone included), then reported to the observer, so the
  // mesh gossips it as any other eviction. Returns worker-blocks removed.
  size_t evict(WorkerId worker, BlockHash from, Hlc ts);
  // Erases the worker from every node now; returns the blocks it held.
  size_t remove_worker(WorkerId worker);

  // The chain root..hash (inclusive), or nullopt if hash is not in the tree.
  std::optional<std::vector<BlockHash>> chain_to(BlockHash hash) const;
  bool contains(BlockHash hash) const;
  // Order-independent hash of the set of (block, worker key) pairs,
  // maintained incrementally: equal trees give equal digests.
  uint64_t digest() const;
  TreeStats stats() const;
  size_t worker_blocks(WorkerId worker) const;
  // Longest hold of any shard lock (ns) since the previous call; resets it.
  uint64_t take_max_lock_hold_ns();

  // Pre-order over every node, one shard at a time under its shared lock:
  // keep the visitor cheap (and copy what it keeps: the spans in NodeView
  // are valid only during the call). Return false to stop. At most
  // max_nodes visits.
  void visit(const std::function<bool(const NodeView&)>& visitor,
             size_t max_nodes = SIZE_MAX) const;

  // Test support: verifies invariants 1-4; returns a description of the
  // first violation, or "" when all hold. Takes each shard shared.
  std::string check_invariants() const;

  // Snapshot encode support: the live tombstones, as the evictions that made
  // them (at most Options::max_tombstones).
  std::vector<EvictRecord> tombstones() const;
  // Snapshot merge support (radix/snapshot_codec.cc): apply() of a full
  // chain from the root (anchor already resolved); no observer.
  Status merge_chain(std::span<const BlockHash> chain, WorkerId worker, Hlc ts);

  const Options& options() const { return options_; }
  std::string_view model() const { return options_.model; }

  // MemoryPool
  size_t bytes() const override;
  size_t relieve(size_t target_bytes) override;
  std::string_view pool_name() const override { return pool_name_; }

 private:
  struct Slot;

  Slot& slot_for_first(BlockHash first) const;
  // Finds the shard holding `hash`, or nullptr.
  Slot* slot_holding(BlockHash hash) const;
  // Inserts chain for worker under the slot's exclusive lock (cut at the
  // first tombstone that voids it); returns blocks new to the tree, or an
  // error for records older than the worker's floor.
  Result<uint32_t> insert_locked(Slot& slot, std::span<const BlockHash> chain, WorkerId worker,
                                 Hlc ts, uint32_t* already_known, size_t* inserted_len);
  // Enforces the worker's block budget and the tree's byte cap (evictions
  // made here are this node's own decisions and are reported).
  void after_insert(WorkerId worker);
  // Evicts entries with the oldest stamps (of `worker`, or of every worker
  // when worker is nullopt) until about `blocks_to_free` worker-blocks are
  // gone; reports evictions to the observer. Returns worker-blocks removed.
  size_t evict_lru(std::optional<WorkerId> worker, size_t blocks_to_free);
  void note_ts(Hlc ts);
  void record_hold(uint64_t ns) const;
  uint64_t worker_key(WorkerId worker) const;
  void notify_evictions(const std::vector<EvictEvent>& events);

  Options options_;
  TreeObserver* observer_;
  std::string pool_name_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Tombstones> tombstones_;
  std::unique_ptr<WorkerCounts> counts_;
  std::atomic<uint64_t> newest_ts_{0};
  std::atomic<bool> evicting_{false};
  std::atomic<uint64_t> evicted_blocks_{0};
  std::atomic<uint64_t> refused_records_{0};
  mutable std::atomic<uint64_t> max_hold_ns_{0};
};

}  // namespace radixmesh::radix
