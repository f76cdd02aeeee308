// PeerOutbox: the delta batches sent to one peer and not yet acknowledged.
//
// A batch enters when a round is drained and leaves only when the peer
// acknowledges its sequence number (kDeltaAck). Unacknowledged batches are
// sent again after `resend_after_ms`. The outbox is bounded in bytes and in
// batches: when a push would exceed either bound the peer is too far behind,
// so the whole backlog is dropped and the peer is marked for a snapshot
// (cheaper than an unbounded backlog, and a snapshot carries everything the
// backlog did, merged).
//
// Payloads are shared between the outboxes of all peers (one encode per
// round). Threads: owned and used by the sync engine on the mesh io thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace radixmesh::mesh {

struct PeerOutboxConfig {
  size_t max_bytes = size_t{8} << 20;
  // A push window's batch per peer every few ms: 2048 is ~4 s of a peer not
  // acknowledging at 500 batches/s before it is given snapshots instead.
  size_t max_batches = 2048;
  uint64_t resend_after_ms = 3000;
};

class PeerOutbox {
 public:
  using Payload = std::shared_ptr<const std::string>;
  explicit PeerOutbox(PeerOutboxConfig cfg) : cfg_(cfg) {}

  // Adds a batch (not yet sent). Returns false when it did not fit: the
  // backlog was dropped and needs_snapshot() is now true.
  bool push(uint64_t seq, Payload payload);
  // Acknowledged: the batch leaves. Unknown or repeated seqs are ignored.
  void ack(uint64_t seq);

  struct Due {
    uint64_t seq;
    Payload payload;
  };
  // Batches never sent, and (resend) those sent at least resend_after_ms
  // ago, oldest first.
  std::vector<Due> due(uint64_t now_ms, bool resend = true) const;
  void mark_sent(uint64_t seq, uint64_t now_ms);
  // True when seq was sent before (a further send is a resend).
  bool was_sent(uint64_t seq) const {
    auto it = pending_.find(seq);
    return it != pending_.end() && it->second.sent;
  }

  bool needs_snapshot() const { return needs_snapshot_; }
  void mark_needs_snapshot() { needs_snapshot_ = true; }
  void clear_needs_snapshot() { needs_snapshot_ = false; }
  // Drops every batch (the peer is getting a snapshot instead, or is gone).
  void clear();

  size_t bytes() const { return bytes_; }
  size_t batches() const { return pending_.size(); }
  uint64_t dropped_batches() const { return dropped_; }

 private:
  struct Entry {
    Payload payload;
    uint64_t sent_at_ms = 0;
    bool sent = false;
  };
  const PeerOutboxConfig cfg_;
  std::map<uint64_t, Entry> pending_;  // by seq
  size_t bytes_ = 0;
  bool needs_snapshot_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace radixmesh::mesh
