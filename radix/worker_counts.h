// WorkerCounts: per-worker block counters of one tree, lock-free.
//
// Worker ids are dense (radix/worker_directory.h), so counters live in
// chunks of 1024 atomics allocated on first use (two-level table, up to
// kMaxWorkers ids; ids beyond are counted in one overflow slot). Shards add
// and subtract under their own locks; budget checks read without any lock.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "radix/block_hash_types.h"

namespace radixmesh::radix {

class WorkerCounts {
 public:
  static constexpr size_t kChunk = 1024;
  static constexpr size_t kChunks = 1024;
  static constexpr size_t kMaxWorkers = kChunk * kChunks;

  WorkerCounts() = default;
  ~WorkerCounts() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }
  WorkerCounts(const WorkerCounts&) = delete;
  WorkerCounts& operator=(const WorkerCounts&) = delete;

  void add(WorkerId worker, int64_t delta) {
    cell(worker).fetch_add(delta, std::memory_order_relaxed);
    total_.fetch_add(delta, std::memory_order_relaxed);
  }
  size_t get(WorkerId worker) const {
    const size_t w = worker < kMaxWorkers ? worker : kMaxWorkers - 1;
    const auto* chunk = chunks_[w / kChunk].load(std::memory_order_acquire);
    if (!chunk) return 0;
    const int64_t v = chunk[w % kChunk].load(std::memory_order_relaxed);
    return v > 0 ? static_cast<size_t>(v) : 0;
  }
  size_t total() const {
    const int64_t v = total_.load(std::memory_order_relaxed);
    return v > 0 ? static_cast<size_t>(v) : 0;
  }
  // Non-zero counters, sorted by worker.
  std::vector<std::pair<WorkerId, size_t>> nonzero() const {
    std::vector<std::pair<WorkerId, size_t>> out;
    for (size_t c = 0; c < kChunks; ++c) {
      const auto* chunk = chunks_[c].load(std::memory_order_acquire);
      if (!chunk) continue;
      for (size_t i = 0; i < kChunk; ++i) {
        const int64_t v = chunk[i].load(std::memory_order_relaxed);
        if (v > 0) out.emplace_back(static_cast<WorkerId>(c * kChunk + i), static_cast<size_t>(v));
      }
    }
    return out;
  }
  size_t bytes() const {
    return sizeof(*this) +
           chunks_used_.load(std::memory_order_relaxed) * kChunk * sizeof(std::atomic<int64_t>);
  }

 private:
  std::atomic<int64_t>& cell(WorkerId worker) {
    const size_t w = worker < kMaxWorkers ? worker : kMaxWorkers - 1;
    auto& slot = chunks_[w / kChunk];
    auto* chunk = slot.load(std::memory_order_acquire);
    if (!chunk) {
      auto* fresh = new std::atomic<int64_t>[kChunk]();
      if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
        chunk = fresh;
        chunks_used_.fetch_add(1, std::memory_order_relaxed);
      } else {
        delete[] fresh;  // another thread won; chunk now holds its pointer
      }
    }
    return chunk[w % kChunk];
  }

  std::array<std::atomic<std::atomic<int64_t>*>, kChunks> chunks_{};
  std::atomic<int64_t> total_{0};
  std::atomic<size_t> chunks_used_{0};
};

}  // namespace radixmesh::radix
