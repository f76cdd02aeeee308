// mesh-push-bench: convergence of pushed deltas between real mesh nodes on
// loopback — time from an insert into router A's tree to the moment it is
// visible to lookups in router B's tree, bytes and mesh-thread CPU per
// insert per peer, and the idle cost of a peer pair.
//
// Every node is what MeshGlue builds in the router (trees, journal, load
// board, SyncEngine, MeshNode with real TCP, handshake and SWIM) on its own
// io thread, all in this process on 127.0.0.1. One bench thread inserts at a
// fixed rate into random nodes' trees, extending random conversations by 4
// blocks. Each receiving node's mesh thread, right after the engine applied
// a DeltaBatch, looks every insert record up in the table of insert times
// (steady clock, ns): lag = visible at B - inserted at A.
//
//   mesh-push-bench [--nodes N]... [--rate R]... [--seconds S] [--window-ms W]
//                   [--gossip-ms G] [--idle-seconds S]
//
// Defaults: nodes 3 and 5, rates 1000 and 10000, 5 s each, window 2 ms,
// gossip 1000 ms, idle 20 s (3 nodes). Bounded: every run ends after its
// seconds plus at most 10 s of set-up and drain; loopback only.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mesh/delta_journal.h"
#include "mesh/load_board.h"
#include "mesh/mesh_node.h"
#include "mesh/sync_codec.h"
#include "mesh/sync_engine.h"
#include "radix/hlc.h"
#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"

using namespace radixmesh;
using namespace radixmesh::mesh;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Insert times by the last block hash of the insert (unique: random hashes).
struct InsertLog {
  std::mutex mu;
  std::unordered_map<uint64_t, int64_t> at_ns;
  void put(uint64_t key, int64_t t) {
    std::lock_guard l(mu);
    at_ns[key] = t;
  }
  bool get(uint64_t key, int64_t& t) {
    std::lock_guard l(mu);
    auto it = at_ns.find(key);
    if (it == at_ns.end()) return false;
    t = it->second;
    return true;
  }
};

// Between the wire and the engine: after a batch is applied, records lags.
class Probe : public SyncHandler {
 public:
  Probe(std::unique_ptr<SyncEngine> e, InsertLog* log) : e_(std::move(e)), log_(log) {}
  void on_peer_up(const NodeId& p) override { e_->on_peer_up(p); }
  void on_peer_down(const NodeId& p) override { e_->on_peer_down(p); }
  void tick(uint64_t t) override { e_->tick(t); }
  bool flush(uint64_t t) override { return e_->flush(t); }
  void on_frame(const NodeId& from, FrameType type, std::string_view payload) override {
    e_->on_frame(from, type, payload);
    if (type != FrameType::kDeltaBatch || !measuring.load(std::memory_order_relaxed)) return;
    const int64_t seen = now_ns();
    auto b = decode_delta_batch(payload);
    if (!b.ok()) return;
    for (const auto& m : b->models)
      for (const auto& r : m.records) {
        int64_t at = 0;
        if (!r.blocks.empty() && log_->get(r.blocks.back(), at))
          lags_ms.push_back(static_cast<double>(seen - at) / 1e6);
      }
  }
  SyncEngine& engine() { return *e_; }
  std::atomic<bool> measuring{false};
  std::vector<double> lags_ms;  // mesh thread only while running; read after

 private:
  std::unique_ptr<SyncEngine> e_;
  InsertLog* log_;
};

struct Node {
  Node(std::string id, const std::vector<std::string>& urls, InsertLog* log, uint64_t window_ms,
       uint64_t gossip_ms, const std::string& seed)
      : journal(DeltaJournalConfig{}, workers),
        trees(tree_options(), 64, nullptr, &journal),
        load(LoadBoardConfig{}, [] { return static_cast<uint64_t>(now_ns() / 1000000); }),
        clock(radix::system_physical_ms) {
    for (const auto& u : urls) (void)workers.intern(u);
    MeshNodeConfig cfg;
    cfg.node_id = std::move(id);
    cfg.bind_host = "127.0.0.1";
    cfg.port = 0;
    cfg.gossip_interval_ms = gossip_ms;
    cfg.push_window_ms = window_ms;
    if (!seed.empty()) cfg.seeds = {seed};
    node = std::make_unique<MeshNode>(cfg, [this, log](PeerSender& sender) {
      SyncEngineConfig sc;
      auto engine = std::make_unique<SyncEngine>(sc, trees, workers, clock, journal, load, sender);
      auto p = std::make_unique<Probe>(std::move(engine), log);
      probe = p.get();
      return p;
    });
    node->start(io);
    if (window_ms > 0) journal.set_wake([n = node.get()] { n->request_flush(); });
    work.emplace(asio::make_work_guard(io));
    thread = std::thread([this] { io.run(); });
  }
  ~Node() {
    journal.set_wake({});
    node->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  radix::PrefixTree::Options tree_options() {
    radix::PrefixTree::Options o;
    o.workers = &workers;
    o.max_bytes = size_t{1} << 30;
    return o;
  }
  // CPU time of the mesh thread so far (runs on it, waits for it).
  double mesh_cpu_ms() {
    std::promise<double> p;
    auto f = p.get_future();
    asio::post(io, [&p] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      p.set_value(static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6);
    });
    return f.wait_for(std::chrono::seconds(5)) == std::future_status::ready ? f.get() : -1;
  }
  uint64_t bytes_sent() const {
    uint64_t n = 0;
    for (const auto& b : node->stats().bytes_sent) n += b.load();
    return n;
  }
  uint64_t sync_bytes_sent() const {
    uint64_t n = 0;
    for (int t = 32; t < kFrameTypeSlots; ++t) n += node->stats().bytes_sent[t].load();
    return n;
  }

  radix::WorkerDirectory workers;
  DeltaJournal journal;
  radix::TreeCatalog trees;
  LoadBoard load;
  radix::HybridClock clock;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  Probe* probe = nullptr;
  std::unique_ptr<MeshNode> node;
  std::thread thread;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::vector<std::string> worker_urls() {
  std::vector<std::string> out;
  for (int i = 0; i < 8; ++i) out.push_back("http://127.0.0.1:" + std::to_string(9100 + i));
  return out;
}

std::vector<std::unique_ptr<Node>> start_cluster(size_t n, InsertLog* log, uint64_t window,
                                                 uint64_t gossip) {
  std::vector<std::unique_ptr<Node>> nodes;
  const auto urls = worker_urls();
  nodes.push_back(std::make_unique<Node>("n0", urls, log, window, gossip, ""));
  const std::string seed = "127.0.0.1:" + std::to_string(nodes[0]->node->port());
  for (size_t i = 1; i < n; ++i) {
    std::string id = "n";  // not "n" + to_string(i): GCC 12 -Wrestrict false positive
    id += std::to_string(i);
    nodes.push_back(std::make_unique<Node>(id, urls, log, window, gossip, seed));
  }
  // Every node connected to every other and sees it alive (at most 10 s).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    bool all = true;
    for (auto& nd : nodes) {
      size_t up = 0;
      for (const auto& p : nd->node->peers()) up += p.connected && p.state == MemberState::kAlive;
      all = all && up == n - 1;
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return nodes;
}

void run_rate(size_t n, int rate, int seconds, uint64_t window, uint64_t gossip) {
  InsertLog log;
  auto nodes = start_cluster(n, &log, window, gossip);
  const auto urls = worker_urls();
  std::vector<radix::WorkerId> ids;
  for (const auto& u : urls) ids.push_back(*nodes[0]->workers.find(u));
  std::mt19937_64 rng(static_cast<uint64_t>(rate) * 31 + n);
  std::vector<std::vector<radix::BlockHash>> convos(2000);
  for (auto& c : convos)
    for (int i = 0; i < 8; ++i) c.push_back(rng() | 1);

  std::vector<double> cpu0;
  std::vector<uint64_t> bytes0;
  for (auto& nd : nodes) {
    nd->probe->measuring = true;
    cpu0.push_back(nd->mesh_cpu_ms());
    bytes0.push_back(nd->sync_bytes_sent());
  }
  const int per_ms = std::max(1, rate / 1000);
  const auto step = std::chrono::microseconds(std::max(1, 1000 * per_ms * 1000 / rate));
  const auto t0 = Clock::now();
  const auto t_end = t0 + std::chrono::seconds(seconds);
  uint64_t inserts = 0;
  auto next = t0;
  while (Clock::now() < t_end) {
    for (int k = 0; k < per_ms; ++k) {
      auto& c = convos[rng() % convos.size()];
      if (c.size() > 400) c.resize(8);  // bounded conversations
      for (int i = 0; i < 4; ++i) c.push_back(rng() | 1);
      auto& nd = *nodes[rng() % n];
      // Directories intern in the same order everywhere: ids agree across nodes.
      auto tree = *nd.trees.get_or_create("m");
      log.put(c.back(), now_ns());
      tree->insert(c, ids[rng() % ids.size()], nd.clock.now());
      ++inserts;
    }
    next += step;
    std::this_thread::sleep_until(next);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the last windows land
  double cpu = 0;
  uint64_t bytes = 0;
  std::vector<double> lags;
  for (size_t i = 0; i < n; ++i) {
    nodes[i]->probe->measuring = false;
    // The post runs after any frame in progress on that thread: the vector is ours after it.
    cpu += nodes[i]->mesh_cpu_ms() - cpu0[i];
    bytes += nodes[i]->sync_bytes_sent() - bytes0[i];
    lags.insert(lags.end(), nodes[i]->probe->lags_ms.begin(), nodes[i]->probe->lags_ms.end());
  }
  const double pairs = static_cast<double>(inserts) * static_cast<double>(n - 1);
  std::printf(
      "%zu nodes, %6.0f inserts/s (%llu in %.1f s), window %llu ms: lag p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms (%zu of %.0f (insert, peer) pairs seen); sync bytes/insert/peer %.1f; "
      "mesh CPU/insert/peer %.1f us\n",
      n, static_cast<double>(inserts) / elapsed, static_cast<unsigned long long>(inserts), elapsed,
      static_cast<unsigned long long>(window), percentile(lags, 0.5), percentile(lags, 0.99),
      percentile(lags, 1.0), lags.size(), pairs, static_cast<double>(bytes) / pairs,
      cpu * 1000.0 / pairs);
}

void run_idle(size_t n, int seconds, uint64_t window, uint64_t gossip) {
  InsertLog log;
  auto nodes = start_cluster(n, &log, window, gossip);
  // Some state to digest, then quiet.
  std::mt19937_64 rng(5);
  const auto urls = worker_urls();
  for (int i = 0; i < 500; ++i) {
    std::vector<radix::BlockHash> c(12);
    for (auto& h : c) h = rng() | 1;
    auto& nd = *nodes[static_cast<size_t>(i) % n];
    (*nd.trees.get_or_create("m"))->insert(c, *nd.workers.find(urls[i % 8]), nd.clock.now());
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::vector<uint64_t> all0, sync0;
  for (auto& nd : nodes) {
    all0.push_back(nd->bytes_sent());
    sync0.push_back(nd->sync_bytes_sent());
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  uint64_t all = 0, sync = 0;
  for (size_t i = 0; i < n; ++i) {
    all += nodes[i]->bytes_sent() - all0[i];
    sync += nodes[i]->sync_bytes_sent() - sync0[i];
  }
  const double pairs = static_cast<double>(n * (n - 1) / 2);
  std::printf(
      "idle: %zu nodes, %d s, gossip %llu ms: %.1f B/s per peer pair (both directions, headers "
      "included), of which sync frames %.1f B/s\n",
      n, seconds, static_cast<unsigned long long>(gossip),
      static_cast<double>(all) / pairs / seconds, static_cast<double>(sync) / pairs / seconds);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> node_counts;
  std::vector<int> rates;
  int seconds = 5, idle_seconds = 20;
  uint64_t window = 2, gossip = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (a == "--nodes")
      node_counts.push_back(static_cast<size_t>(std::clamp(v, 2L, 16L)));
    else if (a == "--rate")
      rates.push_back(static_cast<int>(std::clamp(v, 1L, 50000L)));
    else if (a == "--seconds")
      seconds = static_cast<int>(std::clamp(v, 1L, 60L));
    else if (a == "--window-ms")
      window = static_cast<uint64_t>(std::clamp(v, 0L, 1000L));
    else if (a == "--gossip-ms")
      gossip = static_cast<uint64_t>(std::clamp(v, 50L, 10000L));
    else if (a == "--idle-seconds")
      idle_seconds = static_cast<int>(std::clamp(v, 0L, 120L));
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (node_counts.empty()) node_counts = {3, 5};
  if (rates.empty()) rates = {1000, 10000};
  for (size_t n : node_counts)
    for (int r : rates) run_rate(n, r, seconds, window, gossip);
  if (idle_seconds > 0) run_idle(3, idle_seconds, window, gossip);
  return 0;
}
