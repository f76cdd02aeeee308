// TreeShard structure: slab, links, split/merge, sweep, invariants.
#include "radix/tree_shard.h"

#include <algorithm>

#include "radix/worker_counts.h"

namespace radixmesh::radix {

namespace {

// Allocator bookkeeping per heap block, counted so bytes() tracks RSS.
constexpr size_t kMallocOverhead = 16;

template <typename T>
size_t vec_bytes(const std::vector<T>& v) {
  return v.capacity() ? v.capacity() * sizeof(T) + kMallocOverhead : 0;
}

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

bool same_tenants(const std::vector<TenantEntry>& a, const std::vector<TenantEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].worker != b[i].worker || a[i].ts != b[i].ts) return false;
  }
  return true;
}

}  // namespace

TreeShard::TreeShard(WorkerCounts* counts, KeyFn key_of)
    : counts_(counts), key_of_(std::move(key_of)) {
  nodes_.emplace_back();
  nodes_[kRoot].live = true;
  publish_bytes();
}

size_t TreeShard::heap_of(const Node& n) {
  return vec_bytes(n.edge) + vec_bytes(n.tenants);
}

void TreeShard::publish_bytes() {
  bytes_.store(sizeof(*this) + nodes_.capacity() * sizeof(Node) +
                   free_.capacity() * sizeof(uint32_t) + heap_bytes_ + index_.bytes(),
               std::memory_order_relaxed);
}

bool TreeShard::has_worker(const Node& n, WorkerId worker) {
  for (const auto& t : n.tenants) {
    if (t.worker == worker) return true;
  }
  return false;
}

uint64_t TreeShard::contribution(const Node& n, WorkerId worker) const {
  const uint64_t k = mix64(key_of_(worker) + 0x9E3779B97F4A7C15ull);
  uint64_t sum = 0;
  for (BlockHash b : n.edge) sum += mix64(b ^ k);
  return sum;
}

std::optional<TreeShard::Pos> TreeShard::locate(BlockHash hash) const {
  if (hash == 0) return std::nullopt;
  const uint32_t id = index_.find(hash);
  if (id == HashIndex::kNone || id >= nodes_.size() || !nodes_[id].live) return std::nullopt;
  const auto& e = nodes_[id].edge;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == hash) return Pos{id, static_cast<uint32_t>(i)};
  }
  return std::nullopt;
}

uint32_t TreeShard::node_at(BlockHash hash, uint32_t depth) const {
  if (hash == 0) return kNil;
  const uint32_t id = index_.find(hash);
  if (id == HashIndex::kNone || id >= nodes_.size()) return kNil;
  // The index holds full 64-bit keys, so a hit means the block is in this
  // node; for chained input its offset is depth - n.depth. The range check
  // keeps non-chain input memory-safe without reading the edge (one cache
  // miss less per probe).
  const Node& n = nodes_[id];
  if (!n.live || depth < n.depth || depth - n.depth >= n.edge.size()) return kNil;
  return id;
}

uint32_t TreeShard::alloc() {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  Node& n = nodes_[id];
  n = Node{};
  n.live = true;
  nodes_live_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void TreeShard::free_node(uint32_t id) {
  Node& n = nodes_[id];
  heap_bytes_ -= heap_of(n);
  blocks_.fetch_sub(n.edge.size(), std::memory_order_relaxed);
  std::vector<BlockHash>().swap(n.edge);
  std::vector<TenantEntry>().swap(n.tenants);
  n.live = false;
  n.parent = n.first_child = n.next = n.prev = kNil;
  free_.push_back(id);
  nodes_live_.fetch_sub(1, std::memory_order_relaxed);
}

void TreeShard::link_child(uint32_t parent, uint32_t child) {
  Node& p = nodes_[parent];
  Node& c = nodes_[child];
  c.parent = parent;
  c.prev = kNil;
  c.next = p.first_child;
  if (p.first_child != kNil) nodes_[p.first_child].prev = child;
  p.first_child = child;
}

void TreeShard::unlink(uint32_t child) {
  Node& c = nodes_[child];
  if (c.prev != kNil) {
    nodes_[c.prev].next = c.next;
  } else if (c.parent != kNil) {
    nodes_[c.parent].first_child = c.next;
  }
  if (c.next != kNil) nodes_[c.next].prev = c.prev;
  c.prev = c.next = kNil;
}

uint32_t TreeShard::split(uint32_t id, uint32_t at) {
  const uint32_t low = alloc();  // may move the slab: take references after
  Node& x = nodes_[id];
  Node& m = nodes_[low];
  heap_bytes_ -= heap_of(x);
  m.edge.assign(x.edge.begin() + at, x.edge.end());
  x.edge.resize(at);
  x.edge.shrink_to_fit();
  m.tenants = x.tenants;
  m.depth = x.depth + at;
  m.parent = id;
  m.first_child = x.first_child;
  x.first_child = low;
  heap_bytes_ += heap_of(x) + heap_of(m);
  for (uint32_t c = m.first_child; c != kNil; c = nodes_[c].next) nodes_[c].parent = low;
  for (BlockHash b : m.edge) index_.put(b, low);
  return low;
}

void TreeShard::try_merge(uint32_t id) {
  if (id == kRoot || id >= nodes_.size() || !nodes_[id].live) return;
  Node& x = nodes_[id];
  const uint32_t cid = x.first_child;
  if (cid == kNil) return;
  Node& c = nodes_[cid];
  if (c.next != kNil || !same_tenants(x.tenants, c.tenants)) return;
  heap_bytes_ -= heap_of(x);
  std::vector<BlockHash> edge;
  edge.reserve(x.edge.size() + c.edge.size());
  edge.insert(edge.end(), x.edge.begin(), x.edge.end());
  edge.insert(edge.end(), c.edge.begin(), c.edge.end());
  x.edge.swap(edge);
  heap_bytes_ += heap_of(x);
  for (BlockHash b : c.edge) index_.put(b, id);
  x.first_child = c.first_child;
  for (uint32_t g = c.first_child; g != kNil; g = nodes_[g].next) nodes_[g].parent = id;
  // The child's blocks now belong to x: keep the block count when freeing.
  blocks_.fetch_add(c.edge.size(), std::memory_order_relaxed);
  c.first_child = kNil;
  free_node(cid);
}

size_t TreeShard::sweep(uint32_t start, const std::function<bool(const TenantEntry&)>& pred,
                        std::vector<EvictEvent>* events, bool compact) {
  size_t removed = 0;
  std::vector<uint32_t> order;
  std::vector<uint32_t> stack{start};
  while (!stack.empty()) {
    const uint32_t id = stack.back();
    stack.pop_back();
    order.push_back(id);
    Node& x = nodes_[id];
    if (id != kRoot && !x.tenants.empty()) {
      const size_t before = heap_of(x);
      auto keep = x.tenants.begin();
      for (auto it = x.tenants.begin(); it != x.tenants.end(); ++it) {
        if (!pred(*it)) {
          *keep++ = *it;
          continue;
        }
        const size_t len = x.edge.size();
        removed += len;
        counts_->add(it->worker, -static_cast<int64_t>(len));
        digest_.fetch_sub(contribution(x, it->worker), std::memory_order_relaxed);
        if (events && (x.parent == kRoot || has_worker(nodes_[x.parent], it->worker))) {
          events->push_back(EvictEvent{it->worker, x.edge.front(), it->ts});
        }
      }
      x.tenants.erase(keep, x.tenants.end());
      heap_bytes_ += heap_of(x) - before;
    }
    for (uint32_t c = x.first_child; c != kNil; c = nodes_[c].next) stack.push_back(c);
  }
  const uint32_t above = start == kRoot ? kNil : nodes_[start].parent;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const uint32_t id = *it;
    if (id == kRoot || !nodes_[id].live) continue;
    Node& x = nodes_[id];
    if (x.tenants.empty() && x.first_child == kNil) {
      for (BlockHash b : x.edge) index_.prefetch(b);
      for (BlockHash b : x.edge) index_.erase(b);
      unlink(id);
      free_node(id);
    } else {
      try_merge(id);
    }
  }
  if (above != kNil) try_merge(above);
  if (compact) maybe_compact();
  publish_bytes();
  return removed;
}

void TreeShard::maybe_compact() {
  if (free_.size() < 64 || free_.size() < nodes_.size() / 2) return;
  std::vector<uint32_t> remap(nodes_.size(), kNil);
  std::vector<Node> fresh;
  fresh.reserve(nodes_.size() - free_.size());
  for (uint32_t id = 0; id < nodes_.size(); ++id) {
    if (!nodes_[id].live) continue;
    remap[id] = static_cast<uint32_t>(fresh.size());
    fresh.push_back(std::move(nodes_[id]));
  }
  auto map = [&](uint32_t id) { return id == kNil ? kNil : remap[id]; };
  for (uint32_t id = 0; id < fresh.size(); ++id) {
    Node& n = fresh[id];
    n.parent = map(n.parent);
    n.first_child = map(n.first_child);
    n.next = map(n.next);
    n.prev = map(n.prev);
    for (BlockHash b : n.edge) index_.put(b, id);
  }
  nodes_.swap(fresh);
  std::vector<uint32_t>().swap(free_);
}

std::string TreeShard::check_invariants(std::unordered_map<WorkerId, size_t>& recount) const {
  size_t live = 0, blocks = 0;
  uint64_t digest = 0;
  for (uint32_t id = 1; id < nodes_.size(); ++id) {
    const Node& x = nodes_[id];
    if (!x.live) continue;
    ++live;
    blocks += x.edge.size();
    const std::string at = "node " + std::to_string(id) + ": ";
    if (x.edge.empty()) return at + "empty edge";
    if (x.tenants.empty()) return at + "no tenants";
    if (x.parent == kNil || !nodes_[x.parent].live) return at + "dead parent";
    const Node& p = nodes_[x.parent];
    if (x.depth != p.depth + p.edge.size()) return at + "depth mismatch";
    for (size_t i = 0; i < x.tenants.size(); ++i) {
      const auto& t = x.tenants[i];
      if (i && x.tenants[i - 1].worker >= t.worker) return at + "tenants unsorted";
      if (x.parent != kRoot) {
        auto pt = std::find_if(p.tenants.begin(), p.tenants.end(),
                               [&](const TenantEntry& e) { return e.worker == t.worker; });
        if (pt == p.tenants.end()) return at + "prefix property: parent lacks worker";
        if (pt->ts < t.ts) return at + "prefix property: parent older";
      }
      recount[t.worker] += x.edge.size();
      digest += contribution(x, t.worker);
    }
    for (BlockHash b : x.edge) {
      if (index_.find(b) != id) return at + "index does not point at node";
    }
    bool found = false;
    for (uint32_t c = p.first_child; c != kNil; c = nodes_[c].next) found |= c == id;
    if (!found) return at + "not in parent's child list";
    if (x.first_child != kNil && nodes_[x.first_child].next == kNil &&
        same_tenants(x.tenants, nodes_[x.first_child].tenants)) {
      return at + "not canonical: mergeable with only child";
    }
  }
  if (live != nodes()) return "node count mismatch";
  if (blocks != this->blocks()) return "block count mismatch";
  if (blocks != index_.size()) return "index size mismatch";
  if (digest != this->digest()) return "digest mismatch";
  return "";
}

}  // namespace radixmesh::radix
