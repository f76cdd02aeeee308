// Fuzz target: snapshot decoding and merging (radix/snapshot_codec.h) into a
// tree with small caps.
//
// Two modes, picked by the first byte:
//   raw    the rest of the input is a whole blob (header, checksum, LZ4
//          payload) as it would arrive from a peer;
//   framed the rest is the *decoded* payload; the target compresses it and
//          writes a valid header and checksum around it, so the fuzzer
//          reaches the payload parser (counts, references, tenants) instead
//          of stopping at the checksum.
// Checked: no crash or unbounded allocation; after any merge, successful or
// not, the tree's invariants hold; a merge that succeeded without budget
// eviction is idempotent (merging again leaves the digest unchanged).
#include <lz4.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "radix/prefix_tree.h"
#include "radix/snapshot_codec.h"
#include "radix/worker_directory.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::radix;
using radixmesh::fuzz::fuzz_check;
using radixmesh::fuzz::FuzzInput;

namespace {

constexpr size_t kMaxDecoded = 64 * 1024;
constexpr size_t kMaxBlocksPerWorker = 256;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A blob with a valid header and checksum around an arbitrary payload.
std::string wrap(std::string_view payload) {
  std::string body(static_cast<size_t>(LZ4_compressBound(static_cast<int>(payload.size()))), '\0');
  const int c = LZ4_compress_default(payload.data(), body.data(), static_cast<int>(payload.size()),
                                     static_cast<int>(body.size()));
  body.resize(c > 0 ? static_cast<size_t>(c) : 0);
  std::string blob;
  put_u64(blob, uint64_t{kSnapshotMagic} | (uint64_t{kSnapshotVersion} << 32));
  put_u64(blob, payload.size());
  put_u64(blob, body.size());
  put_u64(blob, XXH3_64bits(body.data(), body.size()));
  return blob + body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const bool framed = in.u8() & 1;
  const std::string_view rest = in.rest();
  if (rest.size() > kMaxDecoded) return 0;
  const std::string blob = framed ? wrap(rest) : std::string(rest);

  WorkerDirectory dir(16);
  PrefixTree::Options o;
  o.model = "m";
  o.max_blocks_per_worker = kMaxBlocksPerWorker;
  o.max_bytes = 1 << 20;
  o.shards = 4;
  o.workers = &dir;
  PrefixTree tree(o, nullptr);

  (void)inspect_snapshot(blob, kMaxDecoded);
  const radixmesh::Status st = merge_snapshot(blob, tree, dir, kMaxDecoded);
  const std::string inv = tree.check_invariants();
  fuzz_check(inv.empty(), "invariants after merge");
  if (st.ok() && tree.stats().evicted_blocks == 0) {
    const uint64_t d = tree.digest();
    fuzz_check(merge_snapshot(blob, tree, dir, kMaxDecoded).ok(), "second merge succeeds");
    fuzz_check(tree.digest() == d, "merge is idempotent");
    fuzz_check(tree.check_invariants().empty(), "invariants after second merge");
  }
  return 0;
}
