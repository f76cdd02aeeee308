// Fuzz target: sequences of mesh records (InsertRecord / EvictRecord) and
// local operations applied to one PrefixTree with small budgets.
//
// The input is read as operations. Block hashes come from a small alphabet
// chained like real prompts, and anchors are picked among hashes already
// seen (or random ones), so records hit existing nodes, split edges, land on
// unknown anchors and race tombstones. Timestamps are small so that stale,
// equal and newer stamps all occur.
// Checked after every operation: check_invariants() is empty (prefix
// property, no empty nodes, canonical form, counts and digest match a
// recount) and no worker holds more blocks than its budget (every insert
// path evicts the worker's LRU entries once it is over budget).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "radix/prefix_tree.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::radix;
using radixmesh::fuzz::fuzz_check;
using radixmesh::fuzz::FuzzInput;

namespace {

constexpr size_t kBudget = 48;
constexpr WorkerId kWorkers = 4;

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x ? x : 1;
}

// A chain of n blocks continuing `from` (0 = a new chain) over a 4-letter
// alphabet, so different operations share prefixes often.
std::vector<BlockHash> extend(FuzzInput& in, BlockHash from, size_t n) {
  std::vector<BlockHash> out;
  uint64_t h = from;
  uint8_t letters = in.u8();
  for (size_t i = 0; i < n; ++i) {
    if (i % 4 == 0 && i) letters = in.u8();
    h = mix(h ^ (uint64_t{(letters >> (2 * (i % 4))) & 3u} * 0xff51afd7ed558ccdull));
    out.push_back(h);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  PrefixTree::Options o;
  o.model = "m";
  o.max_blocks_per_worker = kBudget;
  o.max_bytes = 64 * 1024;
  o.shards = 1 + in.u8() % 4;
  o.max_tombstones = 8;
  o.tombstone_horizon_ms = 50;
  PrefixTree tree(o, nullptr);
  std::vector<BlockHash> seen;

  for (int ops = 0; ops < 256 && !in.empty(); ++ops) {
    const uint8_t op = in.u8();
    const WorkerId w = (op >> 4) % kWorkers;
    const Hlc ts = Hlc::from_parts(in.u8(), in.u8() % 4);
    BlockHash anchor = 0;
    const uint8_t pick = in.u8();
    if (pick & 1 && !seen.empty()) anchor = seen[(pick >> 1) % seen.size()];
    if (pick == 0xff) anchor = in.u64();  // unknown anchor
    const size_t n = in.u8() % 24;
    switch (op % 6) {
      case 0:
      case 1: {  // mesh insert
        InsertRecord r{w, anchor, extend(in, anchor, n), ts};
        (void)tree.apply(r);
        for (BlockHash b : r.blocks) seen.push_back(b);
        break;
      }
      case 2: {  // mesh evict
        tree.apply(EvictRecord{w, anchor, ts});
        break;
      }
      case 3: {  // router insert of a whole chain from the root
        std::vector<BlockHash> chain;
        if (anchor) {
          auto c = tree.chain_to(anchor);
          if (c) chain = *c;
        }
        const auto more = extend(in, chain.empty() ? 0 : chain.back(), n);
        chain.insert(chain.end(), more.begin(), more.end());
        (void)tree.insert(chain, w, ts);
        for (BlockHash b : more) seen.push_back(b);
        break;
      }
      case 4: {  // match and chain lookups
        auto c = extend(in, 0, n);
        (void)tree.match(c);
        if (anchor) {
          auto chain = tree.chain_to(anchor);
          if (chain) {
            fuzz_check(!chain->empty() && chain->back() == anchor, "chain ends at anchor");
            fuzz_check(tree.match(*chain).matched_blocks == chain->size(), "chain matches fully");
          }
        }
        break;
      }
      case 5:
        (void)tree.remove_worker(w);
        break;
    }
    if (seen.size() > 4096) seen.erase(seen.begin(), seen.begin() + 2048);
    fuzz_check(tree.check_invariants().empty(), "tree invariants");
    for (WorkerId k = 0; k < kWorkers; ++k) {
      fuzz_check(tree.worker_blocks(k) <= kBudget, "per-worker budget");
    }
  }
  return 0;
}
