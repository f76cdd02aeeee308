// Test helpers for the prefix tree: chained hash generation and a reference
// model that states the convergence rules directly (per (block, worker):
// present iff the newest insert covering it is newer than the newest
// eviction covering it), without any of the tree's structure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "radix/prefix_tree.h"

namespace radixmesh::radix::test {

inline uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x ? x : 1;
}

// Chained hashes over tokens: h[i] = mix(h[i-1] ^ token * K).
inline std::vector<BlockHash> chain_of(const std::vector<uint32_t>& tokens, uint64_t seed = 7) {
  std::vector<BlockHash> out;
  uint64_t h = seed;
  for (uint32_t t : tokens) {
    h = mix(h ^ (uint64_t{t} * 0xff51afd7ed558ccdull));
    out.push_back(h);
  }
  return out;
}

// A random forest of chains sharing prefixes (conversations that branch).
inline std::vector<std::vector<BlockHash>> random_chains(std::mt19937_64& rng, size_t count,
                                                         size_t max_extend) {
  std::vector<std::vector<uint32_t>> toks;
  for (size_t i = 0; i < count; ++i) {
    std::vector<uint32_t> t;
    if (!toks.empty() && rng() % 4 != 0) {
      const auto& base = toks[rng() % toks.size()];
      t.assign(base.begin(), base.begin() + static_cast<long>(rng() % (base.size() + 1)));
    }
    const size_t extra = 1 + rng() % max_extend;
    for (size_t j = 0; j < extra; ++j) t.push_back(static_cast<uint32_t>(rng() % 5));
    toks.push_back(std::move(t));
  }
  std::vector<std::vector<BlockHash>> out;
  for (const auto& t : toks) out.push_back(chain_of(t));
  return out;
}

class ReferenceModel {
 public:
  void insert(const std::vector<BlockHash>& chain, WorkerId w, Hlc ts) {
    for (size_t i = 0; i < chain.size(); ++i) {
      parent_[chain[i]] = i ? chain[i - 1] : 0;
      auto& v = ins_[chain[i]][w];
      v = std::max(v, ts.value);
    }
  }
  void evict(WorkerId w, BlockHash from, Hlc ts) {
    auto& v = tomb_[{w, from}];
    v = std::max(v, ts.value);
  }
  void remove_worker(WorkerId w) {
    for (auto& [b, m] : ins_) m.erase(w);
  }
  // Stamp of (b, w) if present.
  std::optional<uint64_t> present(BlockHash b, WorkerId w) const {
    auto it = ins_.find(b);
    if (it == ins_.end()) return std::nullopt;
    auto jt = it->second.find(w);
    if (jt == it->second.end()) return std::nullopt;
    uint64_t t = 0;
    for (BlockHash a = b; a != 0;) {
      auto tt = tomb_.find({w, a});
      if (tt != tomb_.end()) t = std::max(t, tt->second);
      auto p = parent_.find(a);
      a = p == parent_.end() ? 0 : p->second;
    }
    if (jt->second > t) return jt->second;
    return std::nullopt;
  }
  MatchResult match(const std::vector<BlockHash>& q) const {
    MatchResult r;
    std::map<WorkerId, TenantReach> reach;
    for (size_t i = 0; i < q.size(); ++i) {
      auto it = ins_.find(q[i]);
      if (it == ins_.end()) break;
      bool any = false;
      for (const auto& [w, ts] : it->second) {
        if (auto p = present(q[i], w)) {
          any = true;
          reach[w] = TenantReach{w, static_cast<uint32_t>(i + 1), Hlc{*p}};
        }
      }
      if (!any) break;
      r.matched_blocks = static_cast<uint32_t>(i + 1);
    }
    for (const auto& [w, t] : reach) r.tenants.push_back(t);
    std::stable_sort(r.tenants.begin(), r.tenants.end(), [](const auto& a, const auto& b) {
      return a.blocks != b.blocks ? a.blocks > b.blocks : a.worker < b.worker;
    });
    return r;
  }
  std::map<WorkerId, size_t> worker_blocks() const {
    std::map<WorkerId, size_t> out;
    for (const auto& [b, m] : ins_) {
      for (const auto& [w, ts] : m) {
        if (present(b, w)) ++out[w];
      }
    }
    return out;
  }
  size_t blocks() const {
    size_t n = 0;
    for (const auto& [b, m] : ins_) {
      for (const auto& [w, ts] : m) {
        if (present(b, w)) {
          ++n;
          break;
        }
      }
    }
    return n;
  }

 private:
  std::unordered_map<BlockHash, BlockHash> parent_;
  std::unordered_map<BlockHash, std::map<WorkerId, uint64_t>> ins_;
  std::map<std::pair<WorkerId, BlockHash>, uint64_t> tomb_;
};

inline bool same_match(const MatchResult& a, const MatchResult& b) {
  if (a.matched_blocks != b.matched_blocks || a.tenants.size() != b.tenants.size()) return false;
  for (size_t i = 0; i < a.tenants.size(); ++i) {
    if (a.tenants[i].worker != b.tenants[i].worker || a.tenants[i].blocks != b.tenants[i].blocks ||
        a.tenants[i].last_access != b.tenants[i].last_access) {
      return false;
    }
  }
  return true;
}

inline std::map<WorkerId, size_t> as_map(const std::vector<std::pair<WorkerId, size_t>>& v) {
  return {v.begin(), v.end()};
}

}  // namespace radixmesh::radix::test
