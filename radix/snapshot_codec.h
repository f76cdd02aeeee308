// Snapshot codec: a PrefixTree to and from a self-contained binary blob.
//
// Format (docs/snapshot-format.md): a fixed little-endian header (magic,
// version, sizes, XXH3 checksum of the compressed payload) followed by the
// LZ4-compressed payload: model name, a worker table (stable key + URL, so
// another node maps tenants through its own WorkerDirectory), the nodes
// in pre-order (parent reference, edge hashes, tenants with stamps) and,
// from version 2, the tree's live tombstones.
//
// Decoding trusts nothing: the declared decoded size must be <= the caller's
// max_decoded_bytes before anything is allocated, the checksum must match,
// LZ4 must produce exactly the declared size, and every count and reference
// in the payload is bounds-checked. Bad input yields an Error (kCorrupt,
// kTooLarge, kUnsupported), never a crash.
//
// merge_snapshot merges: the tombstones are applied as evictions first, then
// each (block, worker) entry as a last-writer-wins insert, so newer local
// entries are never replaced, an entry the sender evicted goes on the
// receiver too (a union of entries alone would keep it there for good when
// the eviction never reached the receiver as a delta), and merging the same
// snapshot twice changes nothing. Version 1 blobs (no tombstones) still
// merge.
//
// Thread safety: encode takes the tree's shards shared one at a time (the
// result is per-shard consistent); merge uses the tree's thread-safe apply
// path. Both may run beside router traffic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "radix/result.h"

namespace radixmesh::radix {

class PrefixTree;
class WorkerDirectory;

inline constexpr uint32_t kSnapshotMagic = 0x4e534d52;  // "RMSN" little-endian
inline constexpr uint16_t kSnapshotVersion = 2;         // what encode writes
inline constexpr uint16_t kSnapshotMinVersion = 1;      // oldest decode accepts

struct SnapshotSummary {
  uint16_t version = 0;
  std::string model;
  size_t compressed_bytes = 0;
  size_t decoded_bytes = 0;
  size_t nodes = 0;
  size_t blocks = 0;
  size_t tenant_entries = 0;
  size_t tombstones = 0;
  std::vector<std::string> worker_urls;
};

Result<std::string> encode_snapshot(const PrefixTree& tree, const WorkerDirectory& workers);
Status merge_snapshot(std::string_view blob, PrefixTree& tree, WorkerDirectory& workers,
                      size_t max_decoded_bytes);
Result<SnapshotSummary> inspect_snapshot(std::string_view blob, size_t max_decoded_bytes);

}  // namespace radixmesh::radix
