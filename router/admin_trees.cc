// Tree views for the admin API (see admin_trees.h).
#include "router/admin_trees.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "router/admin_http.h"

namespace radixmesh::router {
namespace {

// What a walk copies out of one node while its shard is locked.
struct NodeCopy {
  int64_t parent = -1;  // index into the walk, -1 for top level
  uint32_t depth = 0;   // blocks above the edge
  uint32_t edge_len = 0;
  radix::BlockHash first = 0, last = 0;
  uint32_t children = 0;  // in the tree (visited or not)
  std::vector<radix::TenantEntry> tenants;
};

struct Walk {
  std::vector<NodeCopy> nodes;
  bool truncated = false;
};

Walk walk(const radix::PrefixTree& tree, size_t max_nodes) {
  Walk w;
  std::vector<int64_t> path;  // indices of the current node's ancestors
  size_t seen = 0;
  tree.visit(
      [&](const radix::NodeView& v) {
        if (seen++ >= max_nodes) {
          w.truncated = true;
          return false;
        }
        if (path.size() > v.level) path.resize(v.level);
        NodeCopy c;
        c.parent = path.empty() ? -1 : path.back();
        c.depth = v.depth;
        c.edge_len = v.edge_len;
        c.first = v.first;
        c.last = v.last;
        c.children = v.children;
        c.tenants.assign(v.tenants.begin(), v.tenants.end());
        path.push_back(static_cast<int64_t>(w.nodes.size()));
        w.nodes.push_back(std::move(c));
        return true;
      },
      max_nodes + 1);
  return w;
}

// URL per worker id, looked up once per walk (the directory has its own lock).
class UrlCache {
 public:
  explicit UrlCache(const radix::WorkerDirectory& d) : d_(d) {}
  const std::string& url(radix::WorkerId id) {
    auto it = cache_.find(id);
    if (it == cache_.end()) {
      std::string u = d_.url_of(id);
      if (u.empty()) u = "worker#" + std::to_string(id);
      it = cache_.emplace(id, std::move(u)).first;
    }
    return it->second;
  }

 private:
  const radix::WorkerDirectory& d_;
  std::unordered_map<radix::WorkerId, std::string> cache_;
};

uint64_t newest(const std::vector<radix::TenantEntry>& tenants) {
  uint64_t ms = 0;
  for (const auto& t : tenants) ms = std::max(ms, t.ts.physical_ms());
  return ms;
}

}  // namespace

nlohmann::json tree_stats_json(const radix::PrefixTree& tree,
                               const radix::WorkerDirectory& workers) {
  radix::TreeStats s = tree.stats();
  nlohmann::json per_worker = nlohmann::json::array();
  for (const auto& [id, blocks] : s.blocks_per_worker) {
    if (blocks == 0) continue;
    per_worker.push_back({{"url", workers.url_of(id)}, {"id", id}, {"blocks", blocks}});
  }
  return {{"model", std::string(tree.model())},
          {"nodes", s.nodes},
          {"blocks", s.blocks},
          {"bytes", s.bytes},
          {"tombstones", s.tombstones},
          {"evicted_blocks", s.evicted_blocks},
          {"refused_records", s.refused_records},
          {"digest", hex64(tree.digest())},
          {"workers", std::move(per_worker)}};
}

nlohmann::json tree_top_json(const radix::PrefixTree& tree, const radix::WorkerDirectory& workers,
                             size_t n, size_t max_nodes, uint64_t now_ms) {
  Walk w = walk(tree, max_nodes);
  const size_t count = w.nodes.size();
  std::vector<uint64_t> leaves(count, 0);
  for (size_t i = 0; i < count; ++i) leaves[i] = w.nodes[i].children == 0 ? 1 : 0;
  // Children come after their parent in pre-order: one reverse pass sums up.
  for (size_t i = count; i-- > 0;) {
    if (w.nodes[i].parent >= 0) leaves[static_cast<size_t>(w.nodes[i].parent)] += leaves[i];
  }
  std::vector<size_t> order(count);
  std::vector<uint64_t> last(count);
  for (size_t i = 0; i < count; ++i) {
    order[i] = i;
    last[i] = newest(w.nodes[i].tenants);
  }
  auto hotter = [&](size_t a, size_t b) {
    if (leaves[a] != leaves[b]) return leaves[a] > leaves[b];
    if (last[a] != last[b]) return last[a] > last[b];
    uint32_t da = w.nodes[a].depth + w.nodes[a].edge_len;
    uint32_t db = w.nodes[b].depth + w.nodes[b].edge_len;
    if (da != db) return da > db;
    return a < b;
  };
  size_t k = std::min(n, count);
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(), hotter);
  UrlCache urls(workers);
  nlohmann::json prefixes = nlohmann::json::array();
  for (size_t r = 0; r < k; ++r) {
    const NodeCopy& c = w.nodes[order[r]];
    nlohmann::json names = nlohmann::json::array();
    for (const auto& t : c.tenants) names.push_back(urls.url(t.worker));
    uint64_t l = last[order[r]];
    prefixes.push_back({{"prefix", hex64(c.last)},
                        {"depth", c.depth + c.edge_len},
                        {"edge_blocks", c.edge_len},
                        {"leaves_below", leaves[order[r]]},
                        {"tenants", c.tenants.size()},
                        {"workers", std::move(names)},
                        {"last_access_ms", l},
                        {"age_ms", now_ms > l ? now_ms - l : 0}});
  }
  return {{"model", std::string(tree.model())},
          {"truncated", w.truncated},
          {"visited", count},
          {"prefixes", std::move(prefixes)}};
}

nlohmann::json tree_dump_json(const radix::PrefixTree& tree, const radix::WorkerDirectory& workers,
                              size_t max_nodes) {
  Walk w = walk(tree, max_nodes);
  const size_t count = w.nodes.size();
  UrlCache urls(workers);
  std::vector<nlohmann::json> built(count);
  std::vector<std::vector<size_t>> kids(count);
  std::vector<size_t> top;
  for (size_t i = 0; i < count; ++i) {
    if (w.nodes[i].parent >= 0) {
      kids[static_cast<size_t>(w.nodes[i].parent)].push_back(i);
    } else {
      top.push_back(i);
    }
  }
  // Reverse pre-order: every child is complete before its parent takes it,
  // and no recursion (a deep tree cannot overflow the stack).
  for (size_t i = count; i-- > 0;) {
    const NodeCopy& c = w.nodes[i];
    nlohmann::json tenants = nlohmann::json::array();
    for (const auto& t : c.tenants) {
      tenants.push_back({{"url", urls.url(t.worker)}, {"last_access_ms", t.ts.physical_ms()}});
    }
    nlohmann::json children = nlohmann::json::array();
    for (size_t k : kids[i]) children.push_back(std::move(built[k]));
    nlohmann::json node = {{"first", hex64(c.first)},       {"last", hex64(c.last)},
                           {"edge_blocks", c.edge_len},     {"depth", c.depth},
                           {"tenants", std::move(tenants)}, {"children", std::move(children)}};
    if (kids[i].size() < c.children) node["children_omitted"] = c.children - kids[i].size();
    built[i] = std::move(node);
  }
  nlohmann::json roots = nlohmann::json::array();
  for (size_t i : top) roots.push_back(std::move(built[i]));
  return {{"model", std::string(tree.model())},
          {"truncated", w.truncated},
          {"nodes", count},
          {"root", {{"children", std::move(roots)}}}};
}

}  // namespace radixmesh::router
