// SyncEngine: replicates tree state and load between router nodes.
//
// A plain class without sockets: the wire layer (MeshNode) calls it through
// SyncHandler and it talks back through PeerSender (mesh/peer_sender.h), so
// an in-process cluster over a fake sender exercises all of it in tests.
//
// Per gossip round (tick):
//   0. acknowledge every batch applied since the last DeltaAck (gathered,
//      riding this node's own flushes between ticks: see ack_gap_ms);
//   1. drain the DeltaJournal into DeltaBatches (seq numbered, encoded once)
//      and queue each in every up peer's PeerOutbox; send what is due
//      (new batches, and unacknowledged ones after a timeout). A batch leaves
//      an outbox only on kDeltaAck. A peer whose outbox overflows, or any
//      peer when the journal overflowed, is sent snapshots instead;
//   2. send the local load report (when it changed, or while non-zero so it
//      does not decay at peers);
//   3. every digest_every_rounds rounds, send a kDigest (tiny: ~20 bytes a
//      model) — an idle cluster sends only this;
//   4. time out anchor requests, snapshot requests and reassemblies; pump
//      outgoing snapshot chunks; build snapshots proactively on change count
//      or staleness with a minimum change count.
//
// Push (flush, between rounds, at most once per push window; MeshNode
// arms the window's timer on the journal's first change): step 1 for the new
// batches only — one batch per window, encoded once, queued in every up
// peer's outbox and sent at once, still acknowledged, resent by later ticks,
// and replaced by snapshots when the outbox overflows — then a kLoadDelta with
// the workers whose local in-flight count changed since peers were last told
// (one entry per worker, however many requests started or ended). The round's
// full kLoadReport stays: it is what keeps a busy peer's counts fresh and what
// a node that does not push relies on.
//
// Receiving a batch: every record applied with PrefixTree::apply (the tree's
// HLC last-writer-wins and tombstones make order and duplicates harmless);
// inserts whose anchor is unknown are retried once the rest of the batch is
// in, then parked and the anchor chain asked for (kAnchorRequest, answered
// with chain_to + the tenants holding it); no reply, an unknown anchor or a
// full parking area fall back to a snapshot request. Nothing is dropped
// silently: every outcome is counted in SyncStats. Every remote timestamp is
// observed by the HybridClock.
//
// Snapshots (per model): pulled by the receiver when digests differ — at
// once in the first digest exchange after a peer comes up (a node joining,
// restarting or returning from a partition: what it missed is not in any
// outbox), otherwise when the same mismatch is seen twice in a row with
// neither side changing (so in-flight deltas never trigger one), with an
// exponential backoff per (peer, model). Pushed by the sender when a peer fell too far behind.
// Requests for one model coalesce into one build; a cached blob is reused
// when nothing changed since, or when the peer was up when it was built
// (everything later reached it as deltas). Merges never overwrite newer
// local knowledge (radix/snapshot_codec.h).
//
// Threads: every method runs on the mesh io thread, except stats() which
// may be read anywhere. The trees, directory, clock, journal and load board
// are thread-safe and shared with router threads. With background_snapshots
// (the default), snapshot encoding and merging run on one extra thread
// (mesh/snapshot_worker.h) that touches only the trees and the directory;
// their completions run on the io thread at the next frame or tick.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "mesh/delta_journal.h"
#include "mesh/load_board.h"
#include "mesh/peer_outbox.h"
#include "mesh/peer_sender.h"
#include "mesh/snapshot_transfer.h"
#include "mesh/snapshot_worker.h"
#include "mesh/sync_codec.h"
#include "mesh/sync_messages.h"
#include "mesh/sync_stats.h"

namespace radixmesh::radix {
class TreeCatalog;
class WorkerDirectory;
class HybridClock;
class PrefixTree;
}  // namespace radixmesh::radix

namespace radixmesh::mesh {

struct SyncEngineConfig {
  uint32_t digest_every_rounds = 10;
  // Acknowledgements to one peer are gathered (one DeltaAck listing every
  // seq) and ride this node's own traffic: they leave with its next push
  // flush at most every ack_gap_ms, and with every tick. A DeltaAck of its
  // own on receipt only for the first batch from a peer, when
  // ack_idle_gap_ms passed since the last one (a receiver with no traffic of
  // its own), or when kMaxGatheredAcks are waiting. Why: an ack in a frame
  // of its own wakes the peer's mesh thread once more; riding a batch costs
  // nothing (docs/benchmarks.md, "One wake-up per window"). Both must stay
  // well below outbox.resend_after_ms.
  uint64_t ack_gap_ms = 50;
  uint64_t ack_idle_gap_ms = 500;
  PeerOutboxConfig outbox;
  SnapshotAssemblerConfig assembler;
  size_t snapshot_chunk_bytes = kMaxSnapshotChunkData;
  size_t max_snapshot_chunks_per_pump = 64;
  // Build and merge snapshots on a background thread (completions run on
  // the engine's thread at its next frame or tick). Off: inline, which makes
  // in-process tests deterministic.
  bool background_snapshots = true;
  size_t max_snapshot_jobs = 4;
  size_t max_send_snapshot_bytes = size_t{256} << 20;   // larger blobs are not sent
  size_t max_decoded_snapshot_bytes = size_t{1} << 30;  // merge cap (LZ4 output)
  size_t max_parked_records = 65536;                    // waiting for an anchor
  uint64_t anchor_timeout_ms = 3000;
  uint32_t anchor_attempts = 2;
  uint64_t snapshot_request_timeout_ms = 15000;
  uint64_t snapshot_backoff_ms = 30000;
  uint64_t snapshot_backoff_max_ms = 600000;
  uint64_t snapshot_change_trigger = 500000;  // rebuild after this many changes
  uint64_t snapshot_stale_ms = 300000;        // ... or when this old
  uint64_t snapshot_min_changes = 1000;       // ... and at least this many changes
  // Wall clock (ms since epoch) for convergence lag; default system clock.
  std::function<uint64_t()> wall_ms;
};

struct PeerSyncInfo {
  NodeId peer;
  size_t outbox_batches = 0;
  size_t outbox_bytes = 0;
  bool needs_snapshot = false;
};

class SyncEngine : public SyncHandler {
 public:
  using WorkerEventFn = std::function<void(const NodeId& from, const WorkerEvent&)>;

  SyncEngine(SyncEngineConfig cfg, radix::TreeCatalog& trees, radix::WorkerDirectory& workers,
             radix::HybridClock& clock, DeltaJournal& journal, LoadBoard& load, PeerSender& sender);
  ~SyncEngine() override;

  // SyncHandler (mesh io thread).
  void on_peer_up(const NodeId& peer) override;
  void on_peer_down(const NodeId& peer) override;
  void on_frame(const NodeId& from, FrameType type, std::string_view payload) override;
  void tick(uint64_t now_ms) override;
  // Push (between ticks): new batches to every peer, then the load delta.
  // True while local load is non-zero or just changed: call again one window
  // later, since a request ending changes load without a journal entry.
  bool flush(uint64_t now_ms) override;

  // Remote worker events, after the engine applied them to the trees
  // (removal erases the worker everywhere); the router may update its registry.
  void set_worker_event_handler(WorkerEventFn fn) { on_worker_event_ = std::move(fn); }

  const SyncStats& stats() const { return stats_; }
  std::vector<PeerSyncInfo> peer_info() const;
  size_t parked_records() const { return parked_records_; }
  size_t snapshot_buffer_bytes() const { return assembler_.buffered_bytes(); }
  uint64_t round() const { return round_; }

 private:
  struct PeerState {
    explicit PeerState(PeerOutboxConfig c) : outbox(c) {}
    PeerOutbox outbox;
    uint64_t up_epoch = 0;     // epoch_ when it came up
    bool digest_seen = false;  // a digest arrived since this peer came up
    struct DigestSeen {
      uint64_t remote = 0, local = 0;
      uint32_t streak = 0;
      uint64_t next_request_ms = 0;
      uint64_t backoff_ms = 0;
    };
    std::map<std::string, DigestSeen, std::less<>> digests;
    std::vector<uint64_t> acks;  // batches applied, not yet acknowledged
    uint64_t acked_wall_ms = 0;  // when the last DeltaAck went to this peer
  };
  struct Parked {  // inserts waiting for the chain that ends at an anchor
    std::vector<DeltaRecord> records;
    uint64_t requested_ms = 0;
    uint32_t attempts = 0;
  };
  using ParkKey = std::tuple<NodeId, std::string, BlockHash>;
  struct Wanted {  // a snapshot this node asked for
    NodeId from;
    uint64_t requested_ms = 0;
  };
  struct Cached {
    std::shared_ptr<const std::string> blob;
    uint64_t version = 0;  // version_ of the model when the build started
    uint64_t epoch = 0;    // epoch_ when the build started
    uint64_t built_ms = 0;
  };

  bool send(const NodeId& to, FrameType type, std::string payload);
  void reject(const Error& e);

  // sync_engine.cc: rounds, peers, digests, load.
  // Drains the journal into batches for every peer; resends only on ticks.
  void send_round_batches(bool resend);
  void send_due(const NodeId& peer, PeerState& ps, bool resend);
  // kLoadDelta of what changed since peers were last told; true while
  // anything is in flight locally or changed.
  bool push_load_delta();
  void note_load_sent(const LoadReport& report);
  void send_digests(const NodeId& peer);
  void handle_digest(const NodeId& from, const Digest& d);
  void handle_ack(const NodeId& from, const DeltaAck& a);
  // Sends the gathered acks to one peer when `when` allows (see ack_gap_ms).
  enum class AckWhen { kReceipt, kFlush, kTick };
  void send_acks(const NodeId& peer, PeerState& ps, AckWhen when);
  uint64_t wall_now() const;

  // sync_apply.cc: deltas, anchors, worker events.
  void handle_batch(const NodeId& from, const DeltaBatch& b);
  void apply_event(const NodeId& from, const WorkerEvent& e);
  // Applies one record; true unless its anchor is unknown.
  bool apply_record(const NodeId& from, radix::PrefixTree& tree, const std::string& model,
                    const DeltaRecord& rec);
  void park(const NodeId& from, const std::string& model, DeltaRecord rec);
  void retry_parked(const NodeId& from, const std::string& model);
  void handle_anchor_request(const NodeId& from, const AnchorRequest& q);
  void handle_anchor_reply(const NodeId& from, const AnchorReply& a);
  void expire_parked();

  // sync_snapshots.cc: building, sending, requesting, merging.
  void want_snapshot(const NodeId& from, const std::string& model);
  void queue_snapshot(const NodeId& to, const std::string& model);
  void queue_all_snapshots(const NodeId& to);
  void flush_snapshots();
  void flush_snapshots_for(const std::string& model);
  void build_snapshot(const std::string& model);
  void start_transfer(const NodeId& to, const std::string& model,
                      const std::shared_ptr<const std::string>& blob);
  void handle_snapshot_request(const NodeId& from, const SnapshotRequest& q);
  void handle_snapshot_chunk(const NodeId& from, const SnapshotChunk& c);
  void snapshot_housekeeping();

  const SyncEngineConfig cfg_;
  radix::TreeCatalog& trees_;
  radix::WorkerDirectory& workers_;
  radix::HybridClock& clock_;
  DeltaJournal& journal_;
  LoadBoard& load_;
  PeerSender& sender_;
  WorkerEventFn on_worker_event_;
  SyncStats stats_;

  uint64_t now_ms_ = 0;
  uint64_t round_ = 0;
  uint64_t next_seq_ = 1;
  std::map<NodeId, PeerState> peers_;
  std::string last_load_payload_;            // empty while idle
  std::map<WorkerKey, uint64_t> load_told_;  // local counts peers were last told (non-zero)

  std::map<ParkKey, Parked> parked_;
  size_t parked_records_ = 0;

  std::map<std::string, uint64_t, std::less<>> version_;  // changes per model
  std::map<std::string, Cached, std::less<>> cache_;
  std::map<std::string, std::set<NodeId>, std::less<>> to_send_;
  std::map<std::string, Wanted, std::less<>> wanted_;
  std::set<std::string, std::less<>> building_;  // models with a build under way
  uint64_t epoch_ = 0;                           // orders peer ups and build starts
  SnapshotSender snapshot_sender_;
  SnapshotAssembler assembler_;
  // Last: destroyed first, so no job outlives the state its completion uses.
  std::unique_ptr<SnapshotWorker> worker_;  // null: builds and merges inline
};

}  // namespace radixmesh::mesh
