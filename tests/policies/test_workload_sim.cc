// A small closed-loop simulation of a multi-turn chat workload: does
// cache_aware keep conversations on the worker that holds their history
// while keeping the load even? (Issue 3's routing-quality target, checked
// here at the policy level with a fake tree; the real benchmark runs the
// binaries.)
//
// Model: 64 conversation slots; a conversation lasts 2..9 turns, then its
// slot starts a new one (a fresh prefix). Each turn's prompt extends the
// previous one by 6 blocks (turn 0: a 10-block opening). A conversation
// sends its next turn only after the previous reply came back. Each tick, a few idle
// conversations send; a request stays in flight for 6..13 ticks. The fake
// tree remembers, per worker and conversation, the longest prompt inserted;
// its match for a turn is exactly what a prefix tree would report.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh;
using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

namespace {

struct SimResult {
  double reuse = 0;          // reused blocks / prompt blocks
  double oracle_reuse = 0;   // same with every conversation pinned to one worker
  double max_over_mean = 0;  // busiest worker's requests / mean requests
};

SimResult simulate(const Policy& policy, uint64_t seed, uint32_t shared_blocks = 0) {
  constexpr size_t kWorkers = 8, kConversations = 64, kTicks = 3000;
  Xoshiro256 rng(seed);
  Cluster cluster(kWorkers, /*budget=*/1 << 20);
  std::vector<std::vector<uint32_t>> held(kWorkers, std::vector<uint32_t>(kConversations, 0));
  std::vector<uint32_t> length(kConversations, 0);  // blocks of the last prompt sent
  std::vector<uint32_t> turns_left(kConversations, 0);
  std::vector<int> busy_until(kConversations, -1);  // tick its reply arrives
  std::vector<int> busy_worker(kConversations, -1);
  std::vector<uint64_t> served(kWorkers, 0);
  std::vector<bool> has_shared(kWorkers, false);  // holds the shared system prompt
  uint64_t blocks = 0, reused = 0, oracle = 0;

  for (int tick = 0; tick < static_cast<int>(kTicks); ++tick) {
    for (size_t c = 0; c < kConversations; ++c) {  // replies that finish now
      if (busy_until[c] == tick) {
        --cluster[busy_worker[c]].local_in_flight;
        busy_until[c] = -1;
      }
    }
    for (int k = 0; k < 3; ++k) {  // a few conversations send a new turn
      const size_t c = rng.uniform(kConversations);
      if (busy_until[c] >= 0) continue;
      if (turns_left[c] == 0) {  // the slot starts a new conversation
        turns_left[c] = 2 + static_cast<uint32_t>(rng.uniform(8));
        length[c] = 0;
        for (auto& h : held) h[c] = 0;
      }
      --turns_left[c];
      const uint32_t prev = length[c];
      const uint32_t len = prev == 0 ? shared_blocks + 10 : prev + 6;
      Prompt prompt(len);
      radix::MatchResult match;
      for (size_t w = 0; w < kWorkers; ++w) {
        const uint32_t have =
            std::max(std::min(held[w][c], len), has_shared[w] ? shared_blocks : 0);
        if (have == 0) continue;
        radix::TenantReach r{};
        r.worker = static_cast<radix::WorkerId>(w);
        r.blocks = have;
        match.tenants.push_back(r);
        match.matched_blocks = std::max(match.matched_blocks, have);
      }
      Decision d = policy.choose(prompt.view(), cluster.span(),
                                 policy.needs_match() ? &match : nullptr, rng);
      REQUIRE(d.index.has_value());
      const size_t w = *d.index;
      reused += std::max(std::min(held[w][c], len), has_shared[w] ? shared_blocks : 0);
      oracle += std::max(prev, shared_blocks);  // pinned: history, else the shared prefix
      has_shared[w] = true;
      blocks += len;
      held[w][c] = std::max(held[w][c], len);
      cluster[w].tree_blocks += len;
      ++cluster[w].local_in_flight;
      ++served[w];
      length[c] = len;
      busy_worker[c] = static_cast<int>(w);
      busy_until[c] = tick + 6 + static_cast<int>(rng.uniform(8));
    }
  }
  SimResult r;
  r.reuse = static_cast<double>(reused) / static_cast<double>(blocks);
  r.oracle_reuse = static_cast<double>(oracle) / static_cast<double>(blocks);
  const double mean = static_cast<double>(std::accumulate(served.begin(), served.end(), 0ull)) /
                      static_cast<double>(kWorkers);
  r.max_over_mean = static_cast<double>(*std::max_element(served.begin(), served.end())) / mean;
  return r;
}

}  // namespace

TEST_CASE("workload sim: cache_aware reuses nearly what pinning would, with even load") {
  auto cache_aware = make("cache_aware");
  auto round_robin = make("round_robin");
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    const SimResult ca = simulate(*cache_aware, seed);
    const SimResult rr = simulate(*round_robin, seed);
    MESSAGE("cache_aware reuse " << ca.reuse << " oracle " << ca.oracle_reuse << " max/mean "
                                 << ca.max_over_mean << "; round_robin reuse " << rr.reuse);
    CHECK(ca.reuse >= 0.9 * ca.oracle_reuse);
    CHECK(ca.max_over_mean <= 1.3);
    CHECK(rr.reuse < 0.5 * rr.oracle_reuse);  // the baseline really is worse
  }
}

TEST_CASE("workload sim: a prefix shared by every conversation does not pile them on one worker") {
  // Every conversation opens with the same 20-block system prompt, so every
  // new conversation "hits" (20 of 30 blocks >= 0.3) on whichever workers
  // already hold it. Ties among holders go to the least loaded and the
  // imbalance rule spreads the prefix, so the load stays even.
  auto cache_aware = make("cache_aware");
  for (uint64_t seed : {4, 5, 6}) {
    CAPTURE(seed);
    const SimResult ca = simulate(*cache_aware, seed, /*shared_blocks=*/20);
    MESSAGE("shared prefix: cache_aware reuse " << ca.reuse << " oracle " << ca.oracle_reuse
                                                << " max/mean " << ca.max_over_mean);
    CHECK(ca.reuse >= 0.9 * ca.oracle_reuse);
    CHECK(ca.max_over_mean <= 1.3);
  }
}
