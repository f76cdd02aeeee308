// SyncStats: counters of the sync engine, for /metrics and benchmarks.
//
// Written by the sync engine on the mesh io thread, read from any thread
// (relaxed atomics: each counter is exact, a set of them is not a snapshot).
// Names follow the observability list: frames and bytes by type,
// deltas applied, anchors requested/resolved/fell back, snapshots sent/
// received/bytes, rejected frames by reason, convergence lag.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "mesh/frame_type.h"

namespace radixmesh::mesh {

struct SyncStats {
  using Counter = std::atomic<uint64_t>;

  // Per frame type (index = FrameType value), sync frames only.
  std::array<Counter, kFrameTypeSlots> frames_sent{};
  std::array<Counter, kFrameTypeSlots> bytes_sent{};  // payload bytes
  std::array<Counter, kFrameTypeSlots> frames_received{};
  std::array<Counter, kFrameTypeSlots> bytes_received{};
  Counter send_refused{0};  // PeerSender::send returned false

  Counter batches_sent{0};  // distinct batches (a resend is not counted again)
  Counter flushes{0};       // push windows flushed between rounds
  Counter load_deltas_sent{0};
  Counter batches_resent{0};
  Counter batches_applied{0};
  Counter inserts_applied{0};
  Counter evictions_applied{0};
  Counter blocks_applied{0};
  Counter records_refused{0};         // older than a worker's tombstone floor
  Counter records_unknown_worker{0};  // fell back to a snapshot
  Counter worker_events_applied{0};

  Counter anchors_requested{0};
  Counter anchors_resolved{0};
  Counter anchors_fell_back{0};  // to a snapshot request
  Counter anchors_answered{0};
  Counter anchors_abandoned{0};  // the peer went down before replying

  Counter snapshots_built{0};
  Counter snapshots_sent{0};
  Counter snapshot_bytes_sent{0};
  Counter snapshots_requested{0};
  Counter snapshots_received{0};
  Counter snapshot_bytes_received{0};
  Counter snapshots_rejected{0};  // size caps, corrupt blobs, reassembly bounds
  Counter snapshots_expired{0};

  Counter outbox_overflows{0};  // peers marked for a snapshot instead of a backlog
  Counter journal_overflows{0};

  // Rejected sync payloads by reason.
  Counter rejected_corrupt{0};
  Counter rejected_too_large{0};

  // Convergence lag (receive time - record HLC physical time), in ms.
  static constexpr std::array<uint64_t, 12> kLagBucketsMs{1,   5,   10,   25,   50,   100,
                                                          250, 500, 1000, 2000, 5000, 10000};
  std::array<Counter, kLagBucketsMs.size() + 1> lag_buckets{};  // last = +Inf
  Counter lag_sum_ms{0};
  Counter lag_count{0};

  void observe_lag(uint64_t ms) {
    size_t i = 0;
    while (i < kLagBucketsMs.size() && ms > kLagBucketsMs[i]) ++i;
    lag_buckets[i].fetch_add(1, std::memory_order_relaxed);
    lag_sum_ms.fetch_add(ms, std::memory_order_relaxed);
    lag_count.fetch_add(1, std::memory_order_relaxed);
  }
  static void bump(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace radixmesh::mesh
