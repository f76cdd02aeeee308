// The two identifiers every layer shares.
//
// BlockHash: a chained 64-bit hash that names a whole prompt prefix up to and
// including its block (see radix/block_hash.h), so peers can talk about
// prefixes without sending text. WorkerId: a dense, process-local worker
// number handed out by radix/worker_directory.h; it never leaves the process
// (the wire and snapshots use the worker's stable 64-bit key instead).
#pragma once

#include <cstdint>

namespace radixmesh::radix {

using BlockHash = uint64_t;
using WorkerId = uint32_t;

}  // namespace radixmesh::radix
