// PrefixTree: behaviour against a reference model, convergence of mesh
// records, budgets, anchors, observer, and concurrent use.
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "radix/prefix_tree.h"
#include "tests/radix/tree_test_util.h"

using namespace radixmesh;
using namespace radixmesh::radix;
using radixmesh::radix::test::chain_of;

namespace {

Hlc at(uint64_t step) {
  return Hlc::from_parts(1'000'000 + step, 0);
}

PrefixTree::Options opts(size_t shards = 4) {
  PrefixTree::Options o;
  o.model = std::string(1, 'm');  // (assigning a literal trips a GCC 12 -Wrestrict false positive)
  o.shards = shards;
  return o;
}

std::vector<BlockHash> slice(const std::vector<BlockHash>& v, size_t n) {
  return {v.begin(), v.begin() + static_cast<long>(std::min(n, v.size()))};
}

struct RecordingObserver : TreeObserver {
  std::vector<std::pair<WorkerId, uint32_t>> inserts;  // worker, already_known
  std::vector<EvictEvent> evicts;
  std::vector<WorkerId> removed;
  void on_insert(std::string_view, const InsertEvent& e) override {
    inserts.emplace_back(e.worker, e.already_known);
  }
  void on_evict(std::string_view, const EvictEvent& e) override { evicts.push_back(e); }
  void on_remove_worker(std::string_view, WorkerId w) override { removed.push_back(w); }
};

}  // namespace

TEST_CASE("prefix tree: insert splits edges and match reports each tenant's depth") {
  PrefixTree tree(opts(), nullptr);
  const auto a = chain_of({1, 2, 3, 4, 5});     // a b c d e
  const auto b = chain_of({1, 2, 3, 9, 9, 9});  // a b c x y z
  CHECK(tree.insert(a, 1, at(5)) == 5);
  CHECK(tree.insert(b, 2, at(3)) == 3);  // a b c were known
  auto m = tree.match(a);
  CHECK(m.matched_blocks == 5);
  REQUIRE(m.tenants.size() == 2);
  CHECK(m.tenants[0].worker == 1);
  CHECK(m.tenants[0].blocks == 5);
  CHECK(m.tenants[0].last_access == at(5));
  CHECK(m.tenants[1].worker == 2);
  CHECK(m.tenants[1].blocks == 3);
  CHECK(m.tenants[1].last_access == at(3));
  // A query diverging inside an edge stops at the divergence.
  m = tree.match(chain_of({1, 2, 7}));
  CHECK(m.matched_blocks == 2);
  CHECK(m.tenants.size() == 2);
  CHECK(tree.match(chain_of({8})).matched_blocks == 0);
  CHECK(tree.stats().nodes == 3);
  CHECK(tree.stats().blocks == 8);
  CHECK(tree.worker_blocks(1) == 5);
  CHECK(tree.worker_blocks(2) == 6);
  // Insert a b c d q for w2: splits [d e] after d.
  CHECK(tree.insert(chain_of({1, 2, 3, 4, 6}), 2, at(7)) == 1);
  CHECK(tree.stats().nodes == 5);
  m = tree.match(a);
  CHECK(m.tenants[1].worker == 2);
  CHECK(m.tenants[1].blocks == 4);
  CHECK(m.tenants[1].last_access == at(7));
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("prefix tree: extending a conversation keeps one node per path") {
  PrefixTree tree(opts(), nullptr);
  std::vector<uint32_t> toks;
  for (int turn = 0; turn < 20; ++turn) {
    for (int i = 0; i < 7; ++i) toks.push_back(static_cast<uint32_t>(turn * 7 + i));
    tree.insert(chain_of(toks), 3, at(static_cast<uint64_t>(turn)));
  }
  CHECK(tree.stats().nodes == 1);
  CHECK(tree.stats().blocks == 140);
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("prefix tree agrees with a reference model under long random operation sequences") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    auto chains = test::random_chains(rng, 60, 12);
    PrefixTree tree(opts(4), nullptr);
    test::ReferenceModel ref;
    uint64_t step = 100;
    for (int op = 0; op < 1500; ++op) {
      const auto& c = chains[rng() % chains.size()];
      const WorkerId w = static_cast<WorkerId>(rng() % 5);
      const int kind = static_cast<int>(rng() % 20);
      if (kind < 14) {
        auto part = slice(c, 1 + rng() % c.size());
        // Stamps mostly increase but sometimes arrive late.
        const Hlc ts = at(rng() % 8 == 0 ? step - rng() % 50 : ++step);
        tree.insert(part, w, ts);
        ref.insert(part, w, ts);
      } else if (kind < 19) {
        const BlockHash from = c[rng() % c.size()];
        const Hlc ts = at(step - rng() % 30);
        tree.apply(EvictRecord{w, from, ts});
        ref.evict(w, from, ts);
      } else {
        tree.remove_worker(w);
        ref.remove_worker(w);
      }
      if (op % 25 == 0 || op == 1499) {
        INFO("seed " << seed << " op " << op);
        REQUIRE(tree.check_invariants() == "");
        for (const auto& q : chains) REQUIRE(test::same_match(tree.match(q), ref.match(q)));
        CHECK(test::as_map(tree.stats().blocks_per_worker) == ref.worker_blocks());
        CHECK(tree.stats().blocks == ref.blocks());
      }
    }
  }
}

TEST_CASE("apply: any permutation and duplication of the same records gives the same tree") {
  std::mt19937_64 rng(42);
  auto chains = test::random_chains(rng, 40, 10);
  // Mesh-style records: inserts anchored on a prefix, evictions.
  struct Rec {
    bool insert;
    InsertRecord ins;
    EvictRecord ev;
    std::vector<BlockHash> full;
  };
  std::vector<Rec> recs;
  for (int i = 0; i < 150; ++i) {
    const auto& c = chains[rng() % chains.size()];
    const WorkerId w = static_cast<WorkerId>(rng() % 4);
    const Hlc ts = at(rng() % 200);
    if (rng() % 4) {
      auto full = slice(c, 1 + rng() % c.size());
      const size_t a = rng() % full.size();  // anchor = full[a-1], 0 = root
      InsertRecord r{w, a ? full[a - 1] : 0, {full.begin() + static_cast<long>(a), full.end()}, ts};
      recs.push_back({true, r, {}, full});
    } else {
      recs.push_back({false, {}, EvictRecord{w, c[rng() % c.size()], ts}, {}});
    }
  }
  auto run = [&](uint64_t order_seed) {
    std::mt19937_64 orng(order_seed);
    std::vector<size_t> order;
    for (size_t i = 0; i < recs.size(); ++i) {
      order.push_back(i);
      if (orng() % 3 == 0) order.push_back(i);  // duplicates
    }
    std::shuffle(order.begin(), order.end(), orng);
    auto tree = std::make_unique<PrefixTree>(opts(1 + order_seed % 5), nullptr);
    std::vector<size_t> pending;
    for (size_t i : order) {
      if (recs[i].insert) {
        auto st = tree->apply(recs[i].ins);
        if (!st.ok()) {
          REQUIRE(st.error().code == ErrorCode::kNotFound);
          pending.push_back(i);
        }
      } else {
        tree->apply(recs[i].ev);
      }
    }
    // Retry unknown anchors until nothing changes, then fetch the chain (as
    // the mesh does) and send it whole.
    for (bool progress = true; progress && !pending.empty();) {
      progress = false;
      std::vector<size_t> still;
      for (size_t i : pending) {
        if (tree->apply(recs[i].ins).ok()) {
          progress = true;
        } else {
          still.push_back(i);
        }
      }
      pending.swap(still);
    }
    for (size_t i : pending) {
      REQUIRE(tree->apply(InsertRecord{recs[i].ins.worker, 0, recs[i].full, recs[i].ins.ts}).ok());
    }
    return tree;
  };
  auto base = run(1000);
  REQUIRE(base->check_invariants() == "");
  const auto base_stats = base->stats();
  CHECK(base_stats.blocks > 0);
  for (uint64_t s = 1; s <= 12; ++s) {
    auto other = run(s);
    INFO("order seed " << s);
    REQUIRE(other->check_invariants() == "");
    CHECK(other->digest() == base->digest());
    const auto st = other->stats();
    CHECK(st.nodes == base_stats.nodes);
    CHECK(st.blocks == base_stats.blocks);
    CHECK(st.blocks_per_worker == base_stats.blocks_per_worker);
    for (const auto& q : chains) CHECK(test::same_match(other->match(q), base->match(q)));
  }
}

TEST_CASE("apply: a stale eviction never removes a newer insert, in either order") {
  const auto c = chain_of({1, 2, 3, 4});
  for (bool evict_first : {false, true}) {
    PrefixTree tree(opts(), nullptr);
    const EvictRecord ev{7, c[1], at(10)};
    const InsertRecord ins{7, 0, c, at(20)};
    if (evict_first) tree.apply(ev);
    REQUIRE(tree.apply(ins).ok());
    if (!evict_first) tree.apply(ev);
    auto m = tree.match(c);
    CHECK(m.matched_blocks == 4);
    CHECK(tree.worker_blocks(7) == 4);
  }
  // An older insert arriving after a newer eviction stays evicted below it.
  PrefixTree tree(opts(), nullptr);
  tree.apply(EvictRecord{7, c[2], at(30)});
  REQUIRE(tree.apply(InsertRecord{7, 0, c, at(20)}).ok());
  CHECK(tree.match(c).matched_blocks == 2);
  CHECK(tree.worker_blocks(7) == 2);
  CHECK(tree.stats().tombstones == 1);
}

TEST_CASE("apply: records older than an expired tombstone are refused") {
  auto o = opts();
  o.max_tombstones = 2;
  PrefixTree tree(o, nullptr);
  const auto c = chain_of({5, 6, 7});
  for (uint32_t i = 0; i < 4; ++i) tree.apply(EvictRecord{1, chain_of({i + 50})[0], at(10 + i)});
  CHECK(tree.stats().tombstones == 2);
  auto st = tree.apply(InsertRecord{1, 0, c, at(10)});
  CHECK_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kInvalidArgument);
  CHECK(tree.stats().refused_records == 1);
  CHECK(tree.apply(InsertRecord{1, 0, c, at(100)}).ok());
  CHECK(tree.apply(InsertRecord{2, 0, c, at(1)}).ok());  // other workers unaffected
}

TEST_CASE("remove_worker erases the worker everywhere and keeps the others") {
  RecordingObserver obs;
  PrefixTree tree(opts(), &obs);
  std::mt19937_64 rng(5);
  auto chains = test::random_chains(rng, 30, 8);
  for (size_t i = 0; i < chains.size(); ++i) tree.insert(chains[i], i % 3, at(i));
  const size_t w1 = tree.worker_blocks(1);
  CHECK(w1 > 0);
  CHECK(tree.remove_worker(1) == w1);
  CHECK(tree.worker_blocks(1) == 0);
  for (const auto& q : chains) {
    for (const auto& t : tree.match(q).tenants) CHECK(t.worker != 1);
  }
  CHECK(tree.check_invariants() == "");
  CHECK(obs.removed == std::vector<WorkerId>{1});
}

TEST_CASE("per-worker budget evicts the least recently used entries of that worker only") {
  RecordingObserver obs;
  auto o = opts();
  o.max_blocks_per_worker = 100;
  PrefixTree tree(o, &obs);
  std::vector<std::vector<BlockHash>> convs;
  for (uint32_t i = 0; i < 30; ++i)
    convs.push_back(chain_of({i + 1000, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  tree.insert(convs[0], 9, at(0));  // another worker, old
  for (uint32_t i = 0; i < 30; ++i) {
    tree.insert(convs[i], 1, at(10 + i));
    CHECK(tree.worker_blocks(1) <= 100);
  }
  CHECK(tree.worker_blocks(9) == 10);  // untouched: its own budget is fine
  CHECK(tree.stats().evicted_blocks > 0);
  CHECK(tree.match(convs[29]).matched_blocks == 10);  // newest kept
  bool oldest_gone = true;
  for (const auto& t : tree.match(convs[1]).tenants) oldest_gone &= t.worker != 1;
  CHECK(oldest_gone);
  REQUIRE_FALSE(obs.evicts.empty());
  for (const auto& e : obs.evicts) CHECK(e.worker == 1);
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("per-tree byte cap is enforced across workers") {
  auto o = opts();
  o.max_bytes = 64 * 1024;
  PrefixTree tree(o, nullptr);
  for (uint32_t i = 0; i < 2000; ++i) {
    std::vector<uint32_t> toks{i + 7000};
    for (uint32_t j = 0; j < 20; ++j) toks.push_back(j);
    tree.insert(chain_of(toks), i % 7, at(i));
  }
  CHECK(tree.bytes() <= o.max_bytes);
  CHECK(tree.stats().evicted_blocks > 0);
  CHECK(tree.stats().blocks > 0);
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("relieve frees bytes down to the target, oldest first") {
  PrefixTree tree(opts(), nullptr);
  std::vector<std::vector<BlockHash>> convs;
  for (uint32_t i = 0; i < 400; ++i) {
    convs.push_back(chain_of({i + 1, 2, 3, 4, 5, 6, 7, 8}));
    tree.insert(convs.back(), i % 4, at(i));
  }
  const size_t before = tree.bytes();
  const size_t freed = tree.relieve(before / 2);
  CHECK(freed > 0);
  CHECK(tree.bytes() <= before / 2);
  CHECK(tree.match(convs.back()).matched_blocks == 8);
  CHECK(tree.match(convs.front()).matched_blocks == 0);
}

TEST_CASE("chain_to resolves anchors; apply with an unknown anchor says kNotFound") {
  PrefixTree tree(opts(), nullptr);
  const auto c = chain_of({1, 2, 3, 4, 5, 6});
  tree.insert(c, 1, at(1));
  auto chain = tree.chain_to(c[3]);
  REQUIRE(chain);
  CHECK(*chain == slice(c, 4));
  CHECK_FALSE(tree.chain_to(chain_of({9})[0]));
  CHECK(tree.contains(c[5]));
  const auto longer = chain_of({1, 2, 3, 4, 5, 6, 7, 8});
  REQUIRE(tree.apply(InsertRecord{2, c[5], {longer[6], longer[7]}, at(2)}).ok());
  auto m = tree.match(longer);
  CHECK(m.matched_blocks == 8);
  CHECK(m.tenants[0].worker == 2);
  CHECK(m.tenants[0].blocks == 8);
  auto st = tree.apply(InsertRecord{2, chain_of({4, 4})[1], {123}, at(3)});
  CHECK_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kNotFound);
}

TEST_CASE("observer hears local inserts with the known prefix, never mesh records") {
  RecordingObserver obs;
  PrefixTree tree(opts(), &obs);
  const auto c = chain_of({1, 2, 3, 4});
  tree.insert(slice(c, 2), 1, at(1));
  tree.insert(c, 2, at(2));
  REQUIRE(obs.inserts.size() == 2);
  CHECK(obs.inserts[0].second == 0);
  CHECK(obs.inserts[1].second == 2);
  REQUIRE(tree.apply(InsertRecord{3, 0, c, at(3)}).ok());
  tree.apply(EvictRecord{3, c[0], at(4)});
  CHECK(obs.inserts.size() == 2);
  CHECK(obs.evicts.empty());
}

TEST_CASE("digest: equal contents give equal digests whatever the insertion order") {
  const auto a = chain_of({1, 2, 3});
  const auto b = chain_of({1, 2, 5, 6});
  PrefixTree t1(opts(2), nullptr), t2(opts(7), nullptr);
  t1.insert(a, 1, at(1));
  t1.insert(b, 2, at(2));
  t2.insert(b, 2, at(2));
  t2.insert(a, 1, at(1));
  CHECK(t1.digest() == t2.digest());
  t2.insert(a, 2, at(3));
  CHECK(t1.digest() != t2.digest());
}

TEST_CASE("prefix tree: match tells a branch off a cached path from an extension of one") {
  PrefixTree tree(opts(), nullptr);
  const auto conversation = chain_of({1, 2, 3, 4, 5});  // system prompt a b c, turn d e
  tree.insert(conversation, 1, at(1));
  // The next turn extends the cached path: it ends where the cache ends.
  auto m = tree.match(chain_of({1, 2, 3, 4, 5, 6, 7}));
  CHECK(m.matched_blocks == 5);
  CHECK_FALSE(m.branches);
  // A new conversation on the system prompt leaves it inside the edge.
  m = tree.match(chain_of({1, 2, 3, 8, 9}));
  CHECK(m.matched_blocks == 3);
  CHECK(m.branches);
  // Once split there, it stops at a node with children: still a branch.
  tree.insert(chain_of({1, 2, 3, 8, 9}), 2, at(2));
  m = tree.match(chain_of({1, 2, 3, 7}));
  CHECK(m.matched_blocks == 3);
  CHECK(m.branches);
  // A prompt the tree holds whole, or one sharing nothing, branches off nothing.
  CHECK_FALSE(tree.match(chain_of({1, 2, 3})).branches);
  CHECK_FALSE(tree.match(chain_of({1, 2, 3, 4, 5})).branches);
  CHECK_FALSE(tree.match(chain_of({6, 7})).branches);
}

TEST_CASE("concurrent match and insert from 4 threads stay consistent") {
  auto o = opts(8);
  o.max_blocks_per_worker = 3000;
  PrefixTree tree(o, nullptr);
  std::atomic<uint64_t> clock{1};
  std::vector<std::vector<BlockHash>> system_prompts;
  for (uint32_t s = 0; s < 6; ++s) system_prompts.push_back(chain_of({s, s, s, s, s, s}));
  std::atomic<bool> bad{false};
  auto worker = [&](uint32_t id) {
    std::mt19937_64 rng(id);
    for (int i = 0; i < 3000; ++i) {
      std::vector<uint32_t> toks{static_cast<uint32_t>(rng() % 6)};
      for (int j = 0; j < 5; ++j) toks.push_back(toks[0]);
      const int len = static_cast<int>(rng() % 20);
      for (int j = 0; j < len; ++j) toks.push_back(static_cast<uint32_t>(rng() % 3));
      const auto c = chain_of(toks);
      const auto m = tree.match(c);
      if (m.matched_blocks > c.size()) bad = true;
      for (const auto& t : m.tenants) {
        if (t.blocks == 0 || t.blocks > m.matched_blocks) bad = true;
      }
      tree.insert(c, static_cast<WorkerId>(rng() % 4), at(clock.fetch_add(1)));
      if (i % 500 == 0) tree.remove_worker(static_cast<WorkerId>(4 + id));
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  CHECK_FALSE(bad.load());
  CHECK(tree.check_invariants() == "");
  size_t sum = 0;
  for (const auto& [w, n] : tree.stats().blocks_per_worker) {
    CHECK(n <= o.max_blocks_per_worker + 200);
    sum += n;
  }
  CHECK(sum >= tree.stats().blocks);
  for (const auto& s : system_prompts) CHECK(tree.match(s).matched_blocks == 6);
  CHECK(tree.take_max_lock_hold_ns() > 0);
}

TEST_CASE("a peer replaying the observer's events as records converges to the same tree") {
  // How the mesh uses the observer: InsertEvent -> InsertRecord anchored on
  // the last already-known block, EvictEvent -> EvictRecord.
  struct Replay : TreeObserver {
    PrefixTree* peer = nullptr;
    void on_insert(std::string_view, const InsertEvent& e) override {
      const size_t k = e.already_known;
      InsertRecord r{
          e.worker, k ? e.blocks[k - 1] : 0, {e.blocks.begin() + k, e.blocks.end()}, e.ts};
      REQUIRE(peer->apply(r).ok());
    }
    void on_evict(std::string_view, const EvictEvent& e) override {
      peer->apply(EvictRecord{e.worker, e.from, e.ts});
    }
    void on_remove_worker(std::string_view, WorkerId w) override { peer->remove_worker(w); }
  } replay;
  auto o = opts(3);
  o.max_blocks_per_worker = 150;  // evictions happen all the time
  auto peer_opts = opts(5);
  peer_opts.max_blocks_per_worker = 1 << 20;  // the peer only follows
  PrefixTree peer(peer_opts, nullptr);
  replay.peer = &peer;
  PrefixTree tree(o, &replay);
  std::mt19937_64 rng(77);
  auto chains = test::random_chains(rng, 80, 12);
  for (int i = 0; i < 1500; ++i) {
    const auto& c = chains[rng() % chains.size()];
    if (rng() % 50 == 0) {
      tree.remove_worker(static_cast<WorkerId>(rng() % 4));
    } else {
      tree.insert(slice(c, 1 + rng() % c.size()), static_cast<WorkerId>(rng() % 4),
                  at(static_cast<uint64_t>(i)));
    }
  }
  CHECK(tree.stats().evicted_blocks > 0);
  CHECK(peer.digest() == tree.digest());
  CHECK(peer.stats().blocks_per_worker == tree.stats().blocks_per_worker);
  CHECK(peer.stats().nodes == tree.stats().nodes);
  for (const auto& q : chains) CHECK(test::same_match(peer.match(q), tree.match(q)));
}

TEST_CASE("visit walks every node in pre-order with its tenants, and stops on request") {
  PrefixTree tree(opts(1), nullptr);
  tree.insert(chain_of({1, 2, 3, 4, 5}), 1, at(5));
  tree.insert(chain_of({1, 2, 3, 9}), 2, at(6));
  std::vector<NodeView> seen;
  std::vector<std::vector<TenantEntry>> tenants;
  tree.visit([&](const NodeView& v) {
    seen.push_back(v);
    tenants.emplace_back(v.tenants.begin(), v.tenants.end());
    return true;
  });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].level == 0);
  CHECK(seen[0].depth == 0);
  CHECK(seen[0].edge_len == 3);
  CHECK(seen[0].children == 2);
  CHECK(seen[0].first == chain_of({1})[0]);
  CHECK(seen[0].last == chain_of({1, 2, 3})[2]);
  CHECK(tenants[0].size() == 2);
  for (size_t i = 1; i < 3; ++i) {
    CHECK(seen[i].level == 1);
    CHECK(seen[i].depth == 3);
    CHECK(tenants[i].size() == 1);
  }
  size_t n = 0;
  tree.visit([&](const NodeView&) { return ++n < 2; });
  CHECK(n == 2);
  n = 0;
  tree.visit([&](const NodeView&) { return ++n > 0; }, 1);
  CHECK(n == 1);
}
