// Test helpers for unit_policies: a small cluster of WorkerViews whose URL
// strings outlive the views, requests with N block hashes, and matches.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "policies/policy.h"

namespace radixmesh::policies::testing {

class Cluster {
 public:
  // n healthy workers with ids 0..n-1, zero load, budget 1000 blocks each.
  explicit Cluster(size_t n, uint64_t budget = 1000) {
    for (size_t i = 0; i < n; ++i) add(static_cast<radix::WorkerId>(i), budget);
  }

  WorkerView& add(radix::WorkerId id, uint64_t budget = 1000) {
    urls_.push_back("http://127.0.0.1:" + std::to_string(7000 + id));
    WorkerView w;
    w.id = id;
    w.url = urls_.back();
    w.budget_blocks = budget;
    views_.push_back(w);
    return views_.back();
  }

  WorkerView& operator[](size_t i) { return views_[i]; }
  std::vector<WorkerView>& views() { return views_; }
  std::span<const WorkerView> span() const { return views_; }
  size_t size() const { return views_.size(); }

  void set_loads(std::initializer_list<uint32_t> loads) {
    size_t i = 0;
    for (uint32_t l : loads) views_.at(i++).local_in_flight = l;
  }

 private:
  std::deque<std::string> urls_;  // views point into these: push_back keeps them put
  std::vector<WorkerView> views_;
};

// A request whose prompt has n blocks (hash values are irrelevant to policies).
struct Prompt {
  explicit Prompt(size_t n, std::string session = "") : session_key(std::move(session)) {
    for (size_t i = 0; i < n; ++i) blocks.push_back(0x1000 + i);
  }
  RequestView view() const {
    RequestView r;
    r.model = "m";
    r.blocks = blocks;
    r.prompt_bytes = blocks.size() * 64;
    r.session_key = session_key;
    return r;
  }
  std::vector<radix::BlockHash> blocks;
  std::string session_key;
};

inline radix::MatchResult match_of(std::initializer_list<std::pair<radix::WorkerId, uint32_t>> t) {
  radix::MatchResult m;
  for (auto [worker, blocks] : t) {
    radix::TenantReach r{};
    r.worker = worker;
    r.blocks = blocks;
    m.tenants.push_back(r);
    if (blocks > m.matched_blocks) m.matched_blocks = blocks;
  }
  return m;
}

inline std::unique_ptr<Policy> make(const PolicyConfig& c) {
  auto r = make_policy(c);
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

inline std::unique_ptr<Policy> make(std::string name) {
  PolicyConfig c;
  c.name = std::move(name);
  return make(c);
}

}  // namespace radixmesh::policies::testing
