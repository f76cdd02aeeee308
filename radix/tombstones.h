// Tombstones: recent evictions from the mesh, so that an insert older than
// an eviction, arriving after it, cannot resurrect what was evicted.
//
// An entry (worker, from, ts) says: the worker's registers at `from` and
// below are "absent" as of ts. Only the newest ts per (worker, from) is
// kept. Entries expire once their physical time is more than horizon_ms
// behind the newest stamp the tree has seen, and the table holds at most
// max_entries (the oldest go first). Dropping an entry raises the worker's
// floor to its ts: records for that worker not newer than the floor are
// refused from then on, which keeps evictions effective after their
// tombstone is gone (at the price of refusing very old records).
//
// Thread safety: all methods are thread-safe (one mutex; the prefix tree
// takes it with or without a shard lock held, never the other way round).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "radix/block_hash_types.h"
#include "radix/hlc.h"

namespace radixmesh::radix {

class Tombstones {
 public:
  Tombstones(size_t max_entries, uint64_t horizon_ms);

  // Records the eviction (keeps the max ts) and expires old entries
  // relative to `newest`.
  void add(WorkerId worker, BlockHash from, Hlc ts, Hlc newest);
  // Index of the first block of `chain` at or below a tombstone of `worker`
  // whose ts >= `ts` (an insert stamped ts is void from there on), or
  // chain.size() when none applies.
  size_t cut(WorkerId worker, std::span<const BlockHash> chain, Hlc ts) const;
  // Records for `worker` stamped <= floor(worker) are refused.
  Hlc floor(WorkerId worker) const;
  // A copy of every live entry (snapshots carry them: radix/snapshot_codec.h).
  struct Entry {
    WorkerId worker;
    BlockHash from;
    Hlc ts;
  };
  std::vector<Entry> entries() const;
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Estimate from the container layouts; lock-free (read on every insert).
  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  struct Key {
    WorkerId worker;
    BlockHash from;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return k.from ^ (uint64_t{k.worker} * 0x9E3779B97F4A7C15ull);
    }
  };
  struct PerWorker {
    size_t count = 0;
    uint64_t max_ts = 0;  // max over the worker's live entries (upper bound)
    uint64_t floor = 0;
  };
  void drop_oldest_locked();
  void publish_locked();

  const size_t max_entries_;
  const uint64_t horizon_ms_;
  mutable std::mutex mu_;
  std::unordered_map<Key, uint64_t, KeyHash> entries_;                    // guarded by mu_
  std::set<std::pair<uint64_t, std::pair<WorkerId, BlockHash>>> by_age_;  // guarded by mu_
  std::unordered_map<WorkerId, PerWorker> workers_;                       // guarded by mu_
  std::atomic<size_t> size_{0};
  std::atomic<size_t> bytes_{0};
  std::atomic<size_t> floors_{0};  // workers with a non-zero floor
};

}  // namespace radixmesh::radix
