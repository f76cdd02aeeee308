// The one type policies/ takes from the prefix tree: radix::MatchResult.
//
// It comes from radix/prefix_tree.h. Until that header is in the tree this
// file declares the same shape (matched_blocks: the deepest match over every
// tenant; tenants: each worker holding a prefix of the request and how many
// blocks of it), so policies/ builds on its own. Policies read only
// matched_blocks, tenants[i].worker and tenants[i].blocks.
#pragma once

#if __has_include("radix/prefix_tree.h")
#include "radix/prefix_tree.h"
#else
#include <cstdint>
#include <vector>

#include "radix/block_hash_types.h"

namespace radixmesh::radix {

struct TenantReach {
  WorkerId worker = 0;
  uint32_t blocks = 0;
  uint64_t last_access = 0;
};

struct MatchResult {
  uint32_t matched_blocks = 0;
  std::vector<TenantReach> tenants;
};

}  // namespace radixmesh::radix
#endif
