// Snapshot transfer: an encoded snapshot blob (radix/snapshot_codec.h) cut
// into kSnapshotChunk frames of <= 1 MiB, and put back together on receipt.
//
// SnapshotSender (outgoing): per peer, a FIFO of blobs being sent. pump()
// sends chunks until the wire refuses one (its bounded send queue is full)
// or a per-pump budget is spent; the rest goes on the next pump. A new blob
// of a model replaces a queued or unfinished one of the same model for the
// same peer (the newer snapshot carries everything the older one did).
//
// SnapshotAssembler (incoming): per (peer, snapshot id), chunks collected
// until complete. Bounded: a claimed size over max_snapshot_bytes is refused
// at the first chunk; the bytes buffered over all transfers never exceed
// max_total_bytes (a chunk that would is refused and its transfer dropped);
// at most max_transfers_per_peer at a time; a transfer idle for timeout_ms
// is dropped; a peer going down drops its transfers at once. Chunks may
// arrive out of order or twice (also after their transfer completed).
//
// Threads: both are used by the sync engine on the mesh io thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mesh/peer_sender.h"
#include "mesh/sync_messages.h"
#include "radix/result.h"

namespace radixmesh::mesh {

class SnapshotSender {
 public:
  using Blob = std::shared_ptr<const std::string>;
  using SendFn = std::function<bool(const NodeId&, FrameType, std::string)>;
  // first_id: transfer ids start here; pass something that differs across
  // restarts (e.g. the wall clock) so a restarted node never reuses an id a
  // receiver still remembers.
  explicit SnapshotSender(size_t chunk_bytes, uint64_t first_id = 1)
      : chunk_bytes_(chunk_bytes), next_id_(first_id) {}

  void start(const NodeId& to, const std::string& model, Blob blob);
  // Returns the number of chunks sent; *completed counts blobs fully sent.
  size_t pump(const SendFn& send, size_t max_chunks, size_t* completed = nullptr);
  void drop_peer(const NodeId& peer);
  size_t queued() const;

 private:
  struct Transfer {
    std::string model;
    Blob blob;
    uint64_t id = 0;
    uint32_t next = 0;
    uint32_t count = 0;
  };
  const size_t chunk_bytes_;
  uint64_t next_id_;
  std::map<NodeId, std::deque<Transfer>> out_;
};

struct SnapshotAssemblerConfig {
  size_t max_snapshot_bytes = size_t{256} << 20;
  size_t max_total_bytes = size_t{512} << 20;
  size_t max_transfers_per_peer = 8;
  uint64_t timeout_ms = 30'000;
};

class SnapshotAssembler {
 public:
  explicit SnapshotAssembler(SnapshotAssemblerConfig cfg) : cfg_(cfg) {}

  struct Complete {
    std::string model;
    std::string blob;
  };
  // A complete blob when this chunk finished one; nullopt while incomplete;
  // an Error (kTooLarge, kCorrupt) when the chunk was refused and its
  // transfer dropped.
  Result<std::optional<Complete>> add(const NodeId& from, const SnapshotChunk& chunk,
                                      uint64_t now_ms);
  void drop_peer(const NodeId& peer);
  // Drops transfers idle for timeout_ms; returns how many.
  size_t expire(uint64_t now_ms);
  size_t buffered_bytes() const { return buffered_; }
  size_t transfers() const { return transfers_.size(); }

 private:
  struct Transfer {
    std::string model;
    uint64_t total = 0;
    uint32_t count = 0;
    uint64_t received = 0;
    uint64_t last_ms = 0;
    std::map<uint32_t, std::string> chunks;
  };
  using Key = std::pair<NodeId, uint64_t>;
  void drop(std::map<Key, Transfer>::iterator it);

  const SnapshotAssemblerConfig cfg_;
  std::map<Key, Transfer> transfers_;
  // Ids of the last few completed transfers per peer: late duplicates of
  // their chunks are ignored instead of starting a new transfer.
  std::map<NodeId, std::deque<uint64_t>> done_;
  size_t buffered_ = 0;
};

}  // namespace radixmesh::mesh
