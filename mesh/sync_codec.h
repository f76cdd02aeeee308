// Sync frame payload codec: mesh/sync_messages.h structs <-> bytes.
//
// Layouts are specified in docs/mesh-protocol.md "## Sync frames". Cost model
// of a delta batch (what the byte targets rest on):
//   - a per-batch worker table (8 bytes per distinct worker), records name a
//     worker by its table index;
//   - timestamps as zigzag varint deltas from the previous record's timestamp
//     (records of one round are close in time: 2-4 bytes);
//   - block hashes 8 bytes each, raw: chained hashes are random, so neither a
//     varint nor a delta of hashes can be smaller;
//   - an insert costs tag(1) + ts(2-4) + anchor(0 or 8) + count(1-2) plus
//     8 bytes per block peers were not told about.
//
// Decoders bound every count by the bytes that remain before allocating, cap
// strings, and reject trailing garbage; they return kCorrupt or kTooLarge,
// never throw. Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "mesh/sync_messages.h"
#include "radix/result.h"

namespace radixmesh::mesh {

inline constexpr size_t kMaxModelNameBytes = 256;
inline constexpr size_t kMaxUrlBytes = 2048;
inline constexpr size_t kMaxWorkersPerBatch = 1 << 16;
// Snapshot chunk data never exceeds 1 MiB, so a chunk frame fits the frame
// layer's payload cap (1 MiB + 4 KiB) with its small header.
inline constexpr size_t kMaxSnapshotChunkData = size_t{1} << 20;

std::string encode(const DeltaBatch& b);
Result<DeltaBatch> decode_delta_batch(std::string_view payload);

std::string encode(const DeltaAck& a);
Result<DeltaAck> decode_delta_ack(std::string_view payload);

std::string encode(const AnchorRequest& r);
Result<AnchorRequest> decode_anchor_request(std::string_view payload);

std::string encode(const AnchorReply& r);
Result<AnchorReply> decode_anchor_reply(std::string_view payload);

std::string encode(const Digest& d);
Result<Digest> decode_digest(std::string_view payload);

std::string encode(const SnapshotRequest& r);
Result<SnapshotRequest> decode_snapshot_request(std::string_view payload);

std::string encode(const SnapshotChunk& c);
// The returned chunk's `data` views into `payload`.
Result<SnapshotChunk> decode_snapshot_chunk(std::string_view payload);

std::string encode(const LoadReport& r);
Result<LoadReport> decode_load_report(std::string_view payload);

std::string encode(const WorkerEvent& e);
Result<WorkerEvent> decode_worker_event(std::string_view payload);

// Bytes a record adds to a batch (upper bound): lets the journal split rounds
// into batches that fit a frame without encoding twice.
size_t encoded_size_bound(const DeltaRecord& r);

}  // namespace radixmesh::mesh
