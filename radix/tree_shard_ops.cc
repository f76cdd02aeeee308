// TreeShard operations: match, insert, evictions, chain_to, visit.
#include <algorithm>

#include "radix/tree_shard.h"
#include "radix/worker_counts.h"

namespace radixmesh::radix {

uint32_t TreeShard::present_prefix(std::span<const BlockHash> chain) const {
  const uint32_t n = static_cast<uint32_t>(chain.size());
  if (n == 0) return 0;
  if (node_at(chain[n - 1], n - 1) != kNil) return n;  // the common full hit
  if (node_at(chain[0], 0) == kNil) return 0;
  // Chained hashes make presence prefix-closed: binary search the boundary.
  // Invariant: chain[lo - 1] present, chain[hi] absent.
  uint32_t lo = 1, hi = n - 1;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    // Both possible next probes start loading while this one resolves.
    index_.prefetch(chain[mid + 1 + (hi - mid - 1) / 2]);
    index_.prefetch(chain[lo + (mid - lo) / 2]);
    if (node_at(chain[mid], mid) != kNil) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void TreeShard::match(std::span<const BlockHash> chain, MatchResult& out) const {
  const uint32_t k = present_prefix(chain);
  out.matched_blocks = k;
  out.tenants.clear();
  out.branches = false;
  if (k == 0) return;
  uint32_t id = node_at(chain[k - 1], k - 1);
  if (k < chain.size()) {
    // Tenants hold whole edges, so a match that stops inside an edge, or at
    // the end of one with children, stops where cached blocks go elsewhere.
    const Node& end = nodes_[id];
    out.branches = k - end.depth < end.edge.size() || end.first_child != kNil;
  }
  uint32_t reach = k;
  // Walking up, a worker first seen at the deepest node it holds; by the
  // prefix property a node's workers include its child's, so only workers
  // missing from the child are new (both lists sorted by worker).
  const std::vector<TenantEntry>* below = nullptr;
  while (id != kRoot && id != kNil) {
    const Node& x = nodes_[id];
    size_t j = 0;
    for (const auto& t : x.tenants) {
      while (below && j < below->size() && (*below)[j].worker < t.worker) ++j;
      if (below && j < below->size() && (*below)[j].worker == t.worker) continue;
      out.tenants.push_back(TenantReach{t.worker, reach, t.ts});
    }
    below = &x.tenants;
    id = x.parent;
    if (id != kNil) reach = nodes_[id].depth + static_cast<uint32_t>(nodes_[id].edge.size());
  }
  // Already deepest first; order ties by worker for determinism.
  std::stable_sort(out.tenants.begin(), out.tenants.end(), [](const auto& a, const auto& b) {
    return a.blocks != b.blocks ? a.blocks > b.blocks : a.worker < b.worker;
  });
}

TreeShard::InsertOutcome TreeShard::insert(std::span<const BlockHash> chain, WorkerId worker,
                                           Hlc ts) {
  InsertOutcome out;
  const uint32_t n = static_cast<uint32_t>(chain.size());
  const uint32_t k = present_prefix(chain);
  out.already_known = k;
  uint32_t attach = kRoot;
  if (k > 0) {
    attach = node_at(chain[k - 1], k - 1);
    const uint32_t off = k - 1 - nodes_[attach].depth;
    if (off + 1 < nodes_[attach].edge.size()) split(attach, off + 1);
  }
  uint32_t end = attach;
  if (n > k) {
    // New blocks; stop early at a hash already indexed elsewhere (only
    // possible for input that is not a hash chain).
    for (uint32_t i = k; i < n; ++i) index_.prefetch(chain[i]);
    uint32_t j = k;
    while (j < n && chain[j] != 0 && index_.find(chain[j]) == HashIndex::kNone) ++j;
    if (j > k) {
      const uint32_t id = alloc();
      Node& m = nodes_[id];
      m.edge.assign(chain.begin() + k, chain.begin() + j);
      m.depth = k;
      heap_bytes_ += heap_of(m);
      link_child(attach, id);
      for (uint32_t i = k; i < j; ++i) index_.put(chain[i], id);
      blocks_.fetch_add(j - k, std::memory_order_relaxed);
      out.new_blocks = j - k;
      end = id;
    }
  }
  // Stamp the path bottom-up; stop where the worker is already as new (the
  // prefix property then holds above).
  uint32_t cur = end;
  while (cur != kRoot) {
    Node& x = nodes_[cur];
    auto it = std::lower_bound(x.tenants.begin(), x.tenants.end(), worker,
                               [](const TenantEntry& t, WorkerId w) { return t.worker < w; });
    if (it != x.tenants.end() && it->worker == worker) {
      if (it->ts >= ts) break;
      it->ts = ts;
    } else {
      const size_t before = heap_of(x);
      x.tenants.insert(it, TenantEntry{worker, ts});
      heap_bytes_ += heap_of(x) - before;
      counts_->add(worker, static_cast<int64_t>(x.edge.size()));
      digest_.fetch_add(contribution(x, worker), std::memory_order_relaxed);
    }
    cur = x.parent;
  }
  // Restore canonical form on the stamped path (and the node above it).
  const uint32_t stop = cur;
  cur = end;
  while (cur != kNil) {
    const uint32_t up = nodes_[cur].parent;
    try_merge(cur);
    if (cur == stop || cur == kRoot) break;
    cur = up;
  }
  publish_bytes();
  return out;
}

size_t TreeShard::evict_from(WorkerId worker, BlockHash from, Hlc ts) {
  const auto pos = locate(from);
  if (!pos) return 0;
  const uint32_t start = pos->offset > 0 ? split(pos->node, pos->offset) : pos->node;
  return sweep(
      start, [&](const TenantEntry& t) { return t.worker == worker && t.ts <= ts; }, nullptr);
}

size_t TreeShard::remove_worker(WorkerId worker) {
  return sweep(
      kRoot, [&](const TenantEntry& t) { return t.worker == worker; }, nullptr);
}

void TreeShard::collect_entries(std::optional<WorkerId> worker,
                                std::vector<std::pair<uint64_t, uint32_t>>& out) const {
  for (uint32_t id = 1; id < nodes_.size(); ++id) {
    const Node& x = nodes_[id];
    if (!x.live) continue;
    for (const auto& t : x.tenants) {
      if (!worker || t.worker == *worker) {
        out.emplace_back(t.ts.value, static_cast<uint32_t>(x.edge.size()));
      }
    }
  }
}

size_t TreeShard::evict_older_step(std::optional<WorkerId> worker, Hlc cutoff, uint32_t& cursor,
                                   size_t work, std::vector<EvictEvent>* events, bool& done) {
  auto pred = [&](const TenantEntry& t) {
    return (!worker || t.worker == *worker) && t.ts <= cutoff;
  };
  size_t removed = 0, spent = 0;
  while (cursor < nodes_.size() && spent < work) {
    const uint32_t id = cursor++;
    ++spent;
    const Node& x = nodes_[id];
    if (id == kRoot || !x.live) continue;
    // Top-most: the parent's entry for that worker survives (or the parent
    // is the root); otherwise the parent's sweep covers this node.
    bool top = false;
    for (const auto& t : x.tenants) {
      if (!pred(t)) continue;
      if (x.parent == kRoot) {
        top = true;
      } else {
        for (const auto& p : nodes_[x.parent].tenants) {
          if (p.worker == t.worker) top |= !pred(p);
        }
      }
      if (top) break;
    }
    if (!top) continue;
    const size_t r = sweep(id, pred, events, /*compact=*/false);
    removed += r;
    spent += r;
  }
  done = cursor >= nodes_.size();
  if (done) {
    maybe_compact();
    publish_bytes();
  }
  return removed;
}

std::optional<std::vector<BlockHash>> TreeShard::chain_to(BlockHash hash) const {
  const auto pos = locate(hash);
  if (!pos) return std::nullopt;
  const Node* x = &nodes_[pos->node];
  std::vector<BlockHash> chain(x->depth + pos->offset + 1);
  std::copy(x->edge.begin(), x->edge.begin() + pos->offset + 1, chain.begin() + x->depth);
  for (uint32_t id = x->parent; id != kRoot && id != kNil; id = nodes_[id].parent) {
    const Node& p = nodes_[id];
    std::copy(p.edge.begin(), p.edge.end(), chain.begin() + p.depth);
  }
  return chain;
}

bool TreeShard::visit(const std::function<bool(const NodeView&)>& visitor, size_t& budget) const {
  std::vector<std::pair<uint32_t, uint32_t>> stack;  // (node, level)
  for (uint32_t c = nodes_[kRoot].first_child; c != kNil; c = nodes_[c].next) {
    stack.emplace_back(c, 0);
  }
  while (!stack.empty()) {
    if (budget == 0) return false;
    --budget;
    const auto [id, level] = stack.back();
    stack.pop_back();
    const Node& x = nodes_[id];
    uint32_t children = 0;
    for (uint32_t c = x.first_child; c != kNil; c = nodes_[c].next) {
      stack.emplace_back(c, level + 1);
      ++children;
    }
    NodeView view{level,          x.depth,       static_cast<uint32_t>(x.edge.size()),
                  x.edge.front(), x.edge.back(), x.edge,
                  x.tenants,      children};
    if (!visitor(view)) return false;
  }
  return true;
}

}  // namespace radixmesh::radix
