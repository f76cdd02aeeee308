// LoadBoard: in-flight requests per worker across the whole mesh.
//
// Each router counts its own in-flight requests per worker (local) and learns
// every peer's count from kLoadReport frames (complete, every gossip round
// while non-zero) and kLoadDelta frames (only the workers that changed, one
// frame per push window). Policies read the sum, so `least_load` and the
// balance check see cluster-wide load.
//
// Staleness: a peer's report counts fully for `fresh_ms` after it arrived,
// then its weight falls linearly to 0 at `expire_ms`; after that it is
// forgotten. A delta refreshes the age of the peer's whole report (the peer
// is alive and its other counts did not change). A peer that goes silent (crash, partition)
// therefore stops inflating a worker's load within a bounded time. on_peer_down forgets at once.
//
// Threads: every method is thread-safe (one mutex, held for map operations
// only, never across I/O). Router threads call local_* and in_flight*; the
// mesh io thread calls on_peer_report / on_peer_down / local_report.
// The clock is injected (milliseconds, monotonic) so tests control time.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/sync_messages.h"

namespace radixmesh::mesh {

struct LoadBoardConfig {
  uint64_t fresh_ms = 3000;    // full weight for this long (3 gossip rounds)
  uint64_t expire_ms = 10000;  // weight 0 and forgotten after this long
  size_t max_workers_per_peer = 4096;
};

class LoadBoard {
 public:
  using Clock = std::function<uint64_t()>;
  LoadBoard(LoadBoardConfig cfg, Clock now_ms);

  // Local in-flight accounting (router threads).
  void local_started(WorkerKey w);
  void local_finished(WorkerKey w);
  void set_local(WorkerKey w, uint64_t in_flight);
  uint64_t local_in_flight(WorkerKey w) const;

  // Peers' in-flight for w, decayed by report age (rounded to nearest).
  uint64_t mesh_in_flight(WorkerKey w) const;
  // Local + mesh: what policies should use as the worker's load.
  uint64_t total_in_flight(WorkerKey w) const;

  // Mesh io thread: a complete report from `peer` replaces its previous one.
  void on_peer_report(const std::string& peer, const LoadReport& report);
  // A delta from `peer`: these workers' counts replace the previous ones.
  void on_peer_delta(const std::string& peer, const LoadReport& changes);
  void on_peer_down(const std::string& peer);

  // Workers whose mesh count may have changed by a report, delta or peer
  // down since the last call (all = true: too many to list, re-read all).
  struct Changed {
    bool all = false;
    std::vector<WorkerKey> keys;
  };
  Changed take_changed();
  // Drops reports past expire_ms (called every tick; reads also ignore them).
  void expire();

  // The report this node sends: every worker with a non-zero local count.
  LoadReport local_report() const;
  size_t peer_count() const;

 private:
  struct PeerReport {
    uint64_t at_ms = 0;
    std::unordered_map<WorkerKey, uint64_t> in_flight;
  };
  double weight(uint64_t at_ms, uint64_t now) const;

  void mark_changed_locked(WorkerKey w);
  static constexpr size_t kMaxChangedKeys = 1024;

  const LoadBoardConfig cfg_;
  const Clock now_ms_;
  mutable std::mutex mu_;
  Changed changed_;                                    // guarded by mu_
  std::unordered_map<WorkerKey, uint64_t> local_;      // guarded by mu_
  std::unordered_map<std::string, PeerReport> peers_;  // guarded by mu_
};

}  // namespace radixmesh::mesh
