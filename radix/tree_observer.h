// TreeObserver: how the mesh hears about changes made on this node.
//
// The prefix tree calls the observer for changes that originate locally:
// router inserts (PrefixTree::insert), evictions the tree decides itself
// (per-worker budget, per-tree byte cap, memory broker relief) and
// remove_worker. Changes applied from the mesh (PrefixTree::apply, snapshot
// merges) are never reported, so deltas do not echo around the cluster.
//
// Calls happen AFTER the tree released its locks, on the thread that made
// the change; the observer may call back into the tree (e.g. chain_to) but
// must be cheap: it runs on the request path. The spans in events are valid
// only during the call; copy what you keep.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "radix/block_hash_types.h"
#include "radix/hlc.h"

namespace radixmesh::radix {

struct InsertEvent {
  WorkerId worker;
  std::span<const BlockHash> blocks;  // the whole prefix, root first
  uint32_t already_known;             // leading blocks that already existed in
                                      // the tree (for any worker) before it
  Hlc ts;
};

struct EvictEvent {
  WorkerId worker;
  BlockHash from;  // first evicted block: it and everything below it, for this worker
  Hlc ts;          // entries of this worker not newer than ts are gone
};

class TreeObserver {
 public:
  virtual ~TreeObserver() = default;
  virtual void on_insert(std::string_view model, const InsertEvent& event) = 0;
  virtual void on_evict(std::string_view model, const EvictEvent& event) = 0;
  virtual void on_remove_worker(std::string_view model, WorkerId worker) = 0;
};

}  // namespace radixmesh::radix
