// DeltaJournal: what changed on this node since the last gossip round.
//
// The journal is the TreeObserver of every local PrefixTree (handed to the
// TreeCatalog) and the inbox of the router's worker events. Once per round
// the sync engine drains it into DeltaBatch messages.
//
// Anchors: an insert of a later turn carries only the blocks peers were not
// told about. The tree reports how many leading blocks already existed
// (already_known); those are known to peers (they came from peers, or from an
// earlier local insert already journalled — and records keep their order),
// so the record is {anchor = last known hash, blocks = the rest}. An insert of
// nothing new still travels (anchor = its last block, no blocks) to refresh
// the worker's timestamp: LRU order must match across nodes. Repeated
// refreshes of the same (model, worker, anchor) within a round coalesce.
//
// Bounds: pending records are bounded in bytes (max_bytes). On overflow
// everything pending is dropped and drain() reports overflowed = true: the
// engine then sends snapshots instead of an unbounded backlog.
//
// Echo suppression: changes the engine applies from the mesh are not
// journalled. The tree never reports apply()/merges; remove_worker does
// report, so the engine wraps remote removals in a RemoteScope (thread-local
// flag on the applying thread).
//
// Push: set_wake() installs a callback run on the recording thread by the
// first change after a drain — once per push window, not once per change.
// It runs under the journal's mutex (so set_wake({}) is a barrier before the
// callee goes away) and must not block: the mesh node's callback arms the
// window's timer on the mesh executor. Nothing on the request path waits for
// the mesh.
//
// Threads: on_* and note_worker_event are called from router threads and
// are thread-safe (one mutex, held only to append); drain() and the counters
// from the mesh io thread; set_wake() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/sync_messages.h"
#include "radix/tree_observer.h"

namespace radixmesh::radix {
class WorkerDirectory;
}

namespace radixmesh::mesh {

struct DeltaJournalConfig {
  size_t max_bytes = size_t{32} << 20;
  // A drained batch is at most about this many payload bytes (frames cap at 1 MiB).
  size_t max_batch_bytes = size_t{512} << 10;
};

class DeltaJournal : public radix::TreeObserver {
 public:
  DeltaJournal(DeltaJournalConfig cfg, const radix::WorkerDirectory& workers);

  // radix::TreeObserver (router threads).
  void on_insert(std::string_view model, const radix::InsertEvent& event) override;
  void on_evict(std::string_view model, const radix::EvictEvent& event) override;
  void on_remove_worker(std::string_view model, radix::WorkerId worker) override;

  // Worker added / unhealthy / healthy from the router's registry (any thread).
  // kAdded carries the worker's URL so peers can intern it.
  void note_worker_event(WorkerEvent::Kind kind, radix::WorkerId worker, uint64_t ts);

  struct Drained {
    std::vector<DeltaBatch> batches;  // seq left 0: the engine numbers them
    bool overflowed = false;          // records were lost: peers need snapshots
    size_t records = 0;
    std::map<std::string, uint64_t, std::less<>> changes;  // records per model
  };
  // Mesh io thread: everything pending, split into batches of about
  // max_batch_bytes, models and records in the order they happened.
  Drained drain();

  size_t pending_bytes() const;
  uint64_t overflows() const;

  // Called by the first change after each drain (empty: no push, rounds only).
  void set_wake(std::function<void()> wake);

  // While alive on a thread, observer calls on that thread are ignored.
  class RemoteScope {
   public:
    RemoteScope();
    ~RemoteScope();
    RemoteScope(const RemoteScope&) = delete;
    RemoteScope& operator=(const RemoteScope&) = delete;
  };

 private:
  struct ModelPending {
    std::vector<DeltaRecord> records;
    // (worker, anchor) of refresh-only inserts -> index in records.
    std::unordered_map<uint64_t, size_t> refresh_index;
  };
  void append(std::string_view model, DeltaRecord rec, size_t cost);
  void append_locked(std::string_view model, DeltaRecord rec, size_t cost);  // mu_ held
  // Under mu_: runs wake_ on the first change since the drain.
  void wake_locked();

  const DeltaJournalConfig cfg_;
  const radix::WorkerDirectory& workers_;
  mutable std::mutex mu_;
  // guarded by mu_:
  std::vector<std::string> order_;  // models in first-change order this round
  std::map<std::string, ModelPending, std::less<>> pending_;
  std::vector<WorkerEvent> events_;
  size_t bytes_ = 0;
  bool overflowed_ = false;
  uint64_t overflows_ = 0;
  bool wake_armed_ = false;  // a wake ran since the last drain
  std::function<void()> wake_;
};

}  // namespace radixmesh::mesh
