// In-process sync cluster for tests and the mesh benchmark: N SyncEngines,
// each with its own trees, worker directory, clock, journal and load board,
// wired through a fault-injecting fake network.
//
// FakeNetwork stands in for the wire layer. Deterministic by construction
// (seeded std::mt19937_64, simulated milliseconds): every frame gets a delay
// drawn from [delay_min_ms, delay_max_ms] (a wide range reorders), may be
// dropped or duplicated, and never crosses a cut link (partition). Each
// directed link has a bounded queue in bytes: send() returns false when it is
// full, like the real transport.
//
// Threads: single-threaded; run_until() delivers frames in time order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "mesh/delta_journal.h"
#include "mesh/load_board.h"
#include "mesh/sync_engine.h"
#include "radix/hlc.h"
#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"

namespace radixmesh::mesh::testing {

struct Faults {
  double drop = 0.0;
  double duplicate = 0.0;
  uint64_t delay_min_ms = 1;
  uint64_t delay_max_ms = 5;
  size_t link_queue_bytes = size_t{64} << 20;
};

class FakeNetwork {
 public:
  FakeNetwork(uint64_t seed, Faults f, uint64_t* now) : rng_(seed), faults_(f), now_(now) {}

  void attach(const NodeId& id, SyncHandler* h) { handlers_[id] = h; }
  void detach(const NodeId& id) { handlers_.erase(id); }
  void set_faults(Faults f) { faults_ = f; }
  void cut(const NodeId& a, const NodeId& b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void heal() { cut_.clear(); }
  bool is_cut(const NodeId& a, const NodeId& b) const { return cut_.count({a, b}) != 0; }

  bool send(const NodeId& from, const NodeId& to, FrameType type, std::string payload) {
    auto& q = queued_[{from, to}];
    if (q + payload.size() > faults_.link_queue_bytes) return false;
    const auto t = static_cast<uint8_t>(type);
    bytes_by_type_[t] += payload.size() + kHeaderBytes;
    total_bytes_ += payload.size() + kHeaderBytes;
    link_bytes_[{from, to}] += payload.size() + kHeaderBytes;
    if (is_cut(from, to) || chance(faults_.drop)) {
      ++dropped_;
      return true;  // accepted by the queue, lost on the way
    }
    int copies = chance(faults_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const uint64_t d =
          faults_.delay_min_ms + (faults_.delay_max_ms > faults_.delay_min_ms
                                      ? rng_() % (faults_.delay_max_ms - faults_.delay_min_ms + 1)
                                      : 0);
      q += payload.size();
      queue_.push(Msg{*now_ + d, seq_++, from, to, type, payload});
    }
    return true;
  }

  // Delivers every frame due at or before t, in time order, then sets now = t.
  void run_until(uint64_t t) {
    while (!queue_.empty() && queue_.top().at <= t) {
      Msg m = queue_.top();
      queue_.pop();
      queued_[{m.from, m.to}] -= m.payload.size();
      *now_ = std::max(*now_, m.at);
      if (is_cut(m.from, m.to)) continue;  // cut while in flight
      auto it = handlers_.find(m.to);
      if (it != handlers_.end()) it->second->on_frame(m.from, m.type, m.payload);
    }
    *now_ = std::max(*now_, t);
  }

  uint64_t total_bytes() const { return total_bytes_; }
  uint64_t bytes_of(FrameType t) const { return bytes_by_type_.at(static_cast<uint8_t>(t)); }
  uint64_t link_bytes(const NodeId& a, const NodeId& b) const {
    auto it = link_bytes_.find({a, b});
    return it == link_bytes_.end() ? 0 : it->second;
  }
  uint64_t dropped() const { return dropped_; }
  size_t in_flight() const { return queue_.size(); }

  // What the real frame header adds to every payload (mesh/frame.h).
  static constexpr size_t kHeaderBytes = 16;

 private:
  struct Msg {
    uint64_t at, order;
    NodeId from, to;
    FrameType type;
    std::string payload;
    bool operator>(const Msg& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::mt19937_64 rng_;
  Faults faults_;
  uint64_t* now_;
  uint64_t seq_ = 0;
  std::priority_queue<Msg, std::vector<Msg>, std::greater<>> queue_;
  std::map<NodeId, SyncHandler*> handlers_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::map<std::pair<NodeId, NodeId>, size_t> queued_;
  std::map<std::pair<NodeId, NodeId>, uint64_t> link_bytes_;
  std::array<uint64_t, kFrameTypeSlots> bytes_by_type_{};
  uint64_t total_bytes_ = 0;
  uint64_t dropped_ = 0;
};

class NodeSender : public PeerSender {
 public:
  NodeSender(FakeNetwork& net, NodeId self) : net_(net), self_(std::move(self)) {}
  bool send(const NodeId& to, FrameType type, std::string payload) override {
    return net_.send(self_, to, type, std::move(payload));
  }

 private:
  FakeNetwork& net_;
  NodeId self_;
};

// Snapshots are built and merged inline unless a test asks for the
// background worker: inline keeps runs deterministic.
inline SyncEngineConfig inline_engine_config() {
  SyncEngineConfig c;
  c.background_snapshots = false;
  return c;
}

struct NodeOptions {
  SyncEngineConfig engine = inline_engine_config();
  DeltaJournalConfig journal;
  radix::PrefixTree::Options tree;
};

// One router's worth of state, without the router.
struct SyncNode {
  SyncNode(NodeId id_, FakeNetwork& net, uint64_t* now, NodeOptions opts)
      : id(std::move(id_)),
        clock([now] { return *now; }),
        journal(opts.journal, workers),
        trees(tree_options(opts.tree), 64, nullptr, &journal),
        load(LoadBoardConfig{}, [now] { return *now; }),
        sender(net, id),
        engine(engine_options(opts.engine, now), trees, workers, clock, journal, load, sender) {}

  radix::WorkerId worker(const std::string& url) { return *workers.intern(url); }
  // The router path: insert a prompt's blocks for a worker, stamped now.
  void insert(const std::string& model, const std::vector<radix::BlockHash>& blocks,
              const std::string& url) {
    auto tree = *trees.get_or_create(model);
    tree->insert(blocks, worker(url), clock.now());
  }
  uint64_t digest(const std::string& model) const {
    auto t = trees.find(model);
    return t ? t->digest() : 0;
  }
  // Worker URLs holding the whole prefix (order-independent, comparable across nodes).
  std::set<std::string> holders(const std::string& model,
                                const std::vector<radix::BlockHash>& blocks) const {
    std::set<std::string> out;
    auto t = trees.find(model);
    if (!t) return out;
    auto m = t->match(blocks);
    for (const auto& r : m.tenants)
      if (r.blocks == blocks.size()) out.insert(workers.url_of(r.worker));
    return out;
  }

  NodeId id;
  radix::WorkerDirectory workers;
  radix::HybridClock clock;
  DeltaJournal journal;
  radix::TreeCatalog trees;
  LoadBoard load;
  NodeSender sender;
  SyncEngine engine;

 private:
  radix::PrefixTree::Options tree_options(radix::PrefixTree::Options o) {
    o.workers = &workers;
    return o;
  }
  static SyncEngineConfig engine_options(SyncEngineConfig c, uint64_t* now) {
    if (!c.wall_ms) c.wall_ms = [now] { return *now; };
    return c;
  }
};

class SyncCluster {
 public:
  static constexpr uint64_t kStartMs = 1'700'000'000'000ull;

  SyncCluster(size_t n, uint64_t seed, Faults faults = {}, NodeOptions opts = {},
              uint64_t round_ms = 1000)
      : net_(seed, faults, &now_), opts_(std::move(opts)), round_ms_(round_ms) {
    for (size_t i = 0; i < n; ++i) add_node();
  }

  SyncNode& node(size_t i) { return *nodes_.at(i); }
  size_t size() const { return nodes_.size(); }
  FakeNetwork& net() { return net_; }
  uint64_t now() const { return now_; }

  size_t add_node() {
    nodes_.push_back(std::make_unique<SyncNode>(node_name(nodes_.size()), net_, &now_, opts_));
    net_.attach(nodes_.back()->id, &nodes_.back()->engine);
    if (push_window_ > 0) arm_push(nodes_.size() - 1);
    return nodes_.size() - 1;
  }

  // Push as MeshNode does it: a journal's first change after a flush arms
  // that node's flush window_ms later; a flush that returns true (local load
  // moving) re-arms itself. Only advance() runs the flushes.
  void enable_push(uint64_t window_ms) {
    push_window_ = window_ms;
    for (size_t i = 0; i < size(); ++i) arm_push(i);
  }
  // Advances simulated time by ms in 1 ms steps: frames are delivered, due
  // flushes run, and every node ticks each round_ms (rounds keep their pace).
  void advance(uint64_t ms) {
    const uint64_t end = now_ + ms;
    if (next_round_ == 0) next_round_ = now_ + round_ms_;
    while (now_ < end) {
      net_.run_until(now_ + 1);
      for (size_t i = 0; i < flush_at_.size(); ++i) {
        if (flush_at_[i] == 0 || flush_at_[i] > now_) continue;
        flush_at_[i] = 0;
        if (node(i).engine.flush(now_) && flush_at_[i] == 0) flush_at_[i] = now_ + push_window_;
      }
      if (now_ >= next_round_) {
        for (auto& n : nodes_) n->engine.tick(now_);
        next_round_ += round_ms_;
      }
    }
  }
  // Membership says a and b see each other (both directions).
  void link_up(size_t a, size_t b) {
    node(a).engine.on_peer_up(node(b).id);
    node(b).engine.on_peer_up(node(a).id);
  }
  void link_down(size_t a, size_t b) {
    node(a).engine.on_peer_down(node(b).id);
    node(b).engine.on_peer_down(node(a).id);
  }
  void connect_all() {
    for (size_t a = 0; a < size(); ++a)
      for (size_t b = a + 1; b < size(); ++b) link_up(a, b);
  }
  void cut(size_t a, size_t b) { net_.cut(node(a).id, node(b).id); }
  void heal() { net_.heal(); }

  // One gossip round: deliver for round_ms, then tick every node.
  void run_round() {
    net_.run_until(now_ + round_ms_);
    for (auto& n : nodes_) n->engine.tick(now_);
  }
  void run_rounds(int k) {
    for (int i = 0; i < k; ++i) run_round();
  }
  // Delivers without ticking (to let in-flight frames land).
  void settle(uint64_t ms) { net_.run_until(now_ + ms); }

  static std::string node_name(size_t i) {
    std::string id = "n";  // not "n" + to_string(i): GCC 12 -Wrestrict false positive
    id += std::to_string(i);
    return id;
  }

  bool converged(const std::string& model) {
    const uint64_t d = node(0).digest(model);
    for (auto& n : nodes_)
      if (n->digest(model) != d) return false;
    return true;
  }

 private:
  void arm_push(size_t i) {
    if (flush_at_.size() <= i) flush_at_.resize(i + 1, 0);
    node(i).journal.set_wake([this, i] {
      if (flush_at_[i] == 0) flush_at_[i] = now_ + push_window_;
    });
  }

  uint64_t now_ = kStartMs;
  FakeNetwork net_;
  NodeOptions opts_;
  uint64_t round_ms_;
  uint64_t push_window_ = 0;        // 0: no push (rounds only)
  std::vector<uint64_t> flush_at_;  // per node: simulated ms of its armed flush, 0 = none
  uint64_t next_round_ = 0;
  std::vector<std::unique_ptr<SyncNode>> nodes_;
};

}  // namespace radixmesh::mesh::testing
