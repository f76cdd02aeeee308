// MeshLoadTable: other routers' in-flight count for every worker, as a dense
// table indexed by WorkerId that routing decisions read without a lock.
//
// Why: mesh::LoadBoard answers one worker at a time under its mutex, after a
// WorkerDirectory lookup (a shared lock) for the worker's key. Asking it for
// every candidate of every request cost more than the rest of the decision
// at 1,000 workers (decision-bench --mesh-peers 3). Instead the mesh thread
// copies the board into this table (refresh()) every gossip round and when
// load reports arrive, and a decision reads one relaxed atomic per candidate
// through load_fn().
//
// Freshness: a value is what the board answered at the last refresh; the
// mesh glue refreshes every worker after each gossip round (the report decay
// advances then) and the workers a peer's report or delta named when it
// arrives, so a pushed change is visible to decisions as soon as it lands.
//
// Bounds: one 32-bit slot per possible WorkerId (the directory's
// max_workers); ids beyond it read 0.
//
// Threads: refresh() from one thread at a time (the mesh thread); get(),
// fill() and the function load_fn() returns from any thread. The table must
// outlive that function.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "mesh/load_board.h"
#include "radix/worker_directory.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

class MeshLoadTable {
 public:
  explicit MeshLoadTable(size_t max_workers)
      : size_(max_workers), slots_(new std::atomic<uint32_t>[max_workers]()) {}
  MeshLoadTable(const MeshLoadTable&) = delete;
  MeshLoadTable& operator=(const MeshLoadTable&) = delete;

  // Copies the board's mesh in-flight count of every registered worker.
  void refresh(const mesh::LoadBoard& board, const radix::WorkerDirectory& directory,
               const RegistrySnapshot& workers) {
    for (const auto& w : workers.all) {
      if (w->id() >= size_) continue;
      const uint64_t n = board.mesh_in_flight(directory.key_of(w->id()));
      slots_[w->id()].store(static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)),
                            std::memory_order_relaxed);
    }
  }

  // Copies only the named workers (keys the directory does not know are skipped).
  void refresh_keys(const mesh::LoadBoard& board, const radix::WorkerDirectory& directory,
                    std::span<const mesh::WorkerKey> keys) {
    for (const mesh::WorkerKey k : keys) {
      const auto id = directory.find_key(k);
      if (!id || *id >= size_) continue;
      const uint64_t n = board.mesh_in_flight(k);
      slots_[*id].store(static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)),
                        std::memory_order_relaxed);
    }
  }

  uint32_t get(radix::WorkerId id) const {
    return id < size_ ? slots_[id].load(std::memory_order_relaxed) : 0;
  }
  void fill(std::span<const radix::WorkerId> ids, std::span<uint32_t> out) const {
    const size_t n = std::min(ids.size(), out.size());
    for (size_t i = 0; i < n; ++i) out[i] = get(ids[i]);
  }
  MeshLoadFn load_fn() const {
    return
        [this](std::span<const radix::WorkerId> ids, std::span<uint32_t> out) { fill(ids, out); };
  }

 private:
  const size_t size_;
  const std::unique_ptr<std::atomic<uint32_t>[]> slots_;
};

}  // namespace radixmesh::router
