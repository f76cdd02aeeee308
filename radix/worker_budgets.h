// WorkerBudgets: a tenant budget per worker, below the tree-wide ceiling.
//
// `--max-blocks-per-worker` is a ceiling; the router's capacity estimator
// (router/cache_feedback.h) lowers and raises each worker's budget from what
// the worker reports. Every PrefixTree given this table (Options::budgets)
// evicts a worker's LRU entries when it holds more than get(worker) blocks.
// Ids are dense process-local numbers (radix/worker_directory.h); an id
// beyond the table, or one never set, gets the ceiling.
//
// Threads: get/set are one relaxed atomic each, safe from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "radix/block_hash_types.h"

namespace radixmesh::radix {

class WorkerBudgets {
 public:
  WorkerBudgets(size_t max_workers, size_t ceiling)
      : ceiling_(std::max<size_t>(ceiling, 1)),
        n_(max_workers),
        v_(std::make_unique<std::atomic<uint64_t>[]>(max_workers)) {
    for (size_t i = 0; i < n_; ++i) v_[i].store(ceiling_, std::memory_order_relaxed);
  }

  size_t ceiling() const { return ceiling_; }
  size_t get(WorkerId w) const {
    return w < n_ ? static_cast<size_t>(v_[w].load(std::memory_order_relaxed)) : ceiling_;
  }
  // Clamped to [1, ceiling]; ignored for an id beyond the table.
  void set(WorkerId w, size_t blocks) {
    if (w < n_) v_[w].store(std::clamp<size_t>(blocks, 1, ceiling_), std::memory_order_relaxed);
  }
  void reset(WorkerId w) { set(w, ceiling_); }

 private:
  const size_t ceiling_;
  const size_t n_;
  std::unique_ptr<std::atomic<uint64_t>[]> v_;
};

}  // namespace radixmesh::radix
