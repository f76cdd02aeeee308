// The decoded form of every sync frame payload (frame types 32..40).
//
// These are plain structs exchanged between mesh/sync_codec.h (bytes <-> struct)
// and mesh/sync_engine.h (struct <-> tree). Workers are named on the wire by
// their stable 64-bit key (radix WorkerDirectory::key_of), never by the
// process-local WorkerId. Timestamps are hybrid-logical-clock values
// (radix/hlc.h) and are carried exactly.
//
// Wire layouts: docs/mesh-protocol.md "## Sync frames".
// Thread safety: plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "radix/block_hash_types.h"

namespace radixmesh::mesh {

using radix::BlockHash;
using WorkerKey = uint64_t;

// One tree change. kInsert: `worker` holds the prefix ending at `anchor`
// (0 = the root: blocks start a chain) extended by `blocks`. kEvict: `worker`
// no longer holds `from` nor anything below it (unless newer than `ts`).
struct DeltaRecord {
  enum class Kind : uint8_t { kInsert = 0, kEvict = 1 };
  Kind kind = Kind::kInsert;
  WorkerKey worker = 0;
  BlockHash anchor = 0;           // kInsert: last hash peers already know; kEvict: `from`
  std::vector<BlockHash> blocks;  // kInsert only: hashes after the anchor
  uint64_t ts = 0;                // HLC
};

struct ModelDelta {
  std::string model;
  std::vector<DeltaRecord> records;  // in the order they happened locally
};

// Worker added / removed / health change (also travels alone as kWorkerEvent).
struct WorkerEvent {
  enum class Kind : uint8_t { kAdded = 0, kRemoved = 1, kUnhealthy = 2, kHealthy = 3 };
  Kind kind = Kind::kAdded;
  WorkerKey worker = 0;
  uint64_t ts = 0;
  std::string url;  // kAdded: lets a receiver intern a worker it has not seen
};

// kDeltaBatch: one gossip round's changes, acknowledged by sequence number.
struct DeltaBatch {
  uint64_t seq = 0;  // per sender, increasing by one per batch
  std::vector<WorkerEvent> events;
  std::vector<ModelDelta> models;
};

// kDeltaAck: the sequence numbers of the batches processed.
struct DeltaAck {
  std::vector<uint64_t> seqs;
};

// kAnchorRequest: "send me the chain that ends at `anchor` in `model`".
struct AnchorRequest {
  std::string model;
  BlockHash anchor = 0;
};

// kAnchorReply: the chain root..anchor (empty = unknown to the replier) and the
// tenants that hold all of it with their timestamps.
struct AnchorReply {
  std::string model;
  BlockHash anchor = 0;
  std::vector<BlockHash> chain;
  struct Tenant {
    WorkerKey worker = 0;
    uint64_t ts = 0;
  };
  std::vector<Tenant> tenants;
};

// kDigest: per model a 64-bit digest of the tree (radix PrefixTree::digest).
struct Digest {
  struct Entry {
    std::string model;
    uint64_t digest = 0;
  };
  std::vector<Entry> models;
};

// kSnapshotRequest: ask for one model's snapshot (empty model = every model).
struct SnapshotRequest {
  std::string model;
};

// kSnapshotChunk: one piece (<= 1 MiB) of an encoded snapshot blob.
struct SnapshotChunk {
  uint64_t snapshot_id = 0;  // per sender; chunks of one blob share it
  std::string model;
  uint64_t total_bytes = 0;  // size of the whole blob
  uint32_t index = 0;
  uint32_t count = 0;
  std::string_view data;  // view into the frame payload
};

// kLoadReport: the sender's in-flight requests per worker. Complete: a worker
// absent from the list has 0 at the sender. kLoadDelta carries the same
// encoding but only the workers whose count changed (0 = none in flight now).
struct LoadReport {
  struct Entry {
    WorkerKey worker = 0;
    uint64_t in_flight = 0;
  };
  std::vector<Entry> entries;
};

}  // namespace radixmesh::mesh
