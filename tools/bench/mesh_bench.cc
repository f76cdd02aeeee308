// mesh-bench: what the mesh costs on the wire and how fast it converges.
//
// Runs in-process clusters of SyncEngines (tests/mesh/sync_cluster.h) over
// the fake network in simulated time, so the figures are deterministic and
// independent of the machine, except the snapshot timings, which are real
// CPU time (encode, chunk, reassemble, merge) plus a real loopback TCP copy
// of the blob.
//
//   mesh-bench [--quick]
//
// Prints one section per figure of docs/benchmarks.md "## mesh".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mesh/sync_codec.h"
#include "radix/snapshot_codec.h"
#include "tests/mesh/sync_cluster.h"

using namespace radixmesh;
using namespace radixmesh::mesh;
using namespace radixmesh::mesh::testing;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<std::string> worker_urls(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("http://127.0.0.1:" + std::to_string(9000 + i));
  return out;
}

void add_workers(SyncCluster& c, const std::vector<std::string>& urls) {
  for (size_t i = 0; i < c.size(); ++i)
    for (const auto& u : urls) c.node(i).worker(u);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Wraps a node's engine: records, for every insert record delivered, the lag
// between its stamp (the simulated time it was made) and its arrival.
class LagProbe : public SyncHandler {
 public:
  LagProbe(SyncEngine& e, const SyncCluster& c, std::vector<double>* lags)
      : e_(e), c_(c), lags_(lags) {}
  void on_peer_up(const NodeId& p) override { e_.on_peer_up(p); }
  void on_peer_down(const NodeId& p) override { e_.on_peer_down(p); }
  void tick(uint64_t t) override { e_.tick(t); }
  void on_frame(const NodeId& from, FrameType type, std::string_view payload) override {
    if (type == FrameType::kDeltaBatch) {
      if (auto b = decode_delta_batch(payload); b.ok())
        for (const auto& m : b->models)
          for (const auto& r : m.records)
            lags_->push_back(static_cast<double>(c_.now() - radix::Hlc{r.ts}.physical_ms()));
    }
    e_.on_frame(from, type, payload);
  }

 private:
  SyncEngine& e_;
  const SyncCluster& c_;
  std::vector<double>* lags_;
};

// Multi-turn chats: each turn extends the conversation by a user message and
// an assistant reply (~8 blocks of 64 bytes), and lands on a random router.
void bench_multi_turn(int conversations, int turns) {
  SyncCluster c(3, 42);
  auto urls = worker_urls(8);
  add_workers(c, urls);
  c.connect_all();
  c.run_round();
  std::mt19937_64 rng(7);
  struct Convo {
    std::vector<radix::BlockHash> blocks;
    size_t worker;
  };
  std::vector<Convo> convos(static_cast<size_t>(conversations));
  for (auto& cv : convos) {
    for (int i = 0; i < 24; ++i) cv.blocks.push_back(rng() | 1);  // system prompt + first message
    cv.worker = rng() % urls.size();
  }
  const uint64_t before = c.net().bytes_of(FrameType::kDeltaBatch);
  uint64_t inserts = 0, new_blocks = 0;
  for (int t = 0; t < turns; ++t) {
    for (auto& cv : convos) {
      const size_t add = t == 0 ? cv.blocks.size() : 6 + rng() % 5;
      if (t > 0)
        for (size_t i = 0; i < add; ++i) cv.blocks.push_back(rng() | 1);
      c.node(rng() % c.size()).insert("m", cv.blocks, urls[cv.worker]);
      ++inserts;
      new_blocks += add;
    }
    c.run_round();
    c.settle(50);  // a conversation's next turn comes seconds later, not within 5 ms
  }
  c.run_rounds(2);
  const uint64_t bytes = c.net().bytes_of(FrameType::kDeltaBatch) - before;
  const double per_peer = static_cast<double>(bytes) / 2.0;  // each batch goes to the 2 other nodes
  const double per_insert = per_peer / static_cast<double>(inserts);
  const double overhead =
      (per_peer - 8.0 * static_cast<double>(new_blocks)) / static_cast<double>(inserts);
  const uint64_t acks = c.net().bytes_of(FrameType::kDeltaAck);
  std::printf("multi-turn workload: 3 nodes, %d conversations x %d turns, random router per turn\n",
              conversations, turns);
  std::printf("  inserts %llu, new blocks %llu (%.1f per insert), converged %s\n",
              static_cast<unsigned long long>(inserts), static_cast<unsigned long long>(new_blocks),
              static_cast<double>(new_blocks) / static_cast<double>(inserts),
              c.converged("m") ? "yes" : "NO");
  std::printf("  delta bytes per insert per peer (incl. 16-byte frame headers): %.1f\n",
              per_insert);
  std::printf("  of which beyond 8 bytes per new block: %.1f bytes per insert\n", overhead);
  std::printf("  acks: %.2f bytes per insert per peer\n",
              static_cast<double>(acks) / 2.0 / static_cast<double>(inserts));
}

void bench_idle(int rounds) {
  SyncCluster c(3, 43);
  auto urls = worker_urls(8);
  add_workers(c, urls);
  c.connect_all();
  std::mt19937_64 rng(9);
  for (int i = 0; i < 2000; ++i) {
    std::vector<radix::BlockHash> b(20);
    for (auto& h : b) h = rng() | 1;
    c.node(i % 3).insert(i % 2 ? "llama" : "qwen", b, urls[i % urls.size()]);
  }
  c.run_rounds(3);
  const uint64_t before = c.net().link_bytes("n0", "n1") + c.net().link_bytes("n1", "n0");
  c.run_rounds(rounds);
  const uint64_t idle = c.net().link_bytes("n0", "n1") + c.net().link_bytes("n1", "n0") - before;
  std::printf("idle cluster: 3 nodes, 2 models, 1 s rounds, digests every 10 rounds\n");
  std::printf("  sync bytes per peer pair per second (both directions, incl. headers): %.1f\n",
              static_cast<double>(idle) / rounds);
}

void bench_convergence(int seconds, int rate) {
  SyncCluster c(3, 44);
  auto urls = worker_urls(8);
  add_workers(c, urls);
  std::vector<double> lags;
  // The probes sit between the network and each engine.
  std::vector<std::unique_ptr<LagProbe>> probes;
  for (size_t i = 0; i < c.size(); ++i) {
    probes.push_back(std::make_unique<LagProbe>(c.node(i).engine, c, &lags));
    c.net().attach(c.node(i).id, probes.back().get());
  }
  c.connect_all();
  c.run_round();
  std::mt19937_64 rng(11);
  std::vector<std::vector<radix::BlockHash>> convos(500);
  for (auto& cv : convos)
    for (int i = 0; i < 16; ++i) cv.push_back(rng() | 1);
  const uint64_t step =
      1000 / static_cast<uint64_t>(rate) > 0 ? 1000 / static_cast<uint64_t>(rate) : 1;
  const int per_step = rate > 1000 ? rate / 1000 : 1;
  const uint64_t t_end = c.now() + static_cast<uint64_t>(seconds) * 1000;
  uint64_t next_tick = c.now() + 1000;
  while (c.now() < t_end) {
    for (int k = 0; k < per_step; ++k) {
      auto& cv = convos[rng() % convos.size()];
      for (int i = 0; i < 4; ++i) cv.push_back(rng() | 1);
      c.node(rng() % 3).insert("m", cv, urls[rng() % urls.size()]);
    }
    c.net().run_until(c.now() + step);
    if (c.now() >= next_tick) {
      for (size_t i = 0; i < c.size(); ++i) c.node(i).engine.tick(c.now());
      next_tick += 1000;
    }
  }
  c.run_rounds(3);
  std::printf("convergence: 3 nodes, %d inserts/s for %d s, 1 s rounds, 1-5 ms network delay\n",
              rate, seconds);
  std::printf(
      "  lag from insert to arrival at each peer: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%zu "
      "samples)\n",
      percentile(lags, 0.5), percentile(lags, 0.99), percentile(lags, 1.0), lags.size());
  std::printf("  in rounds: p50 %.2f, p99 %.2f; converged after the run: %s\n",
              percentile(lags, 0.5) / 1000, percentile(lags, 0.99) / 1000,
              c.converged("m") ? "yes" : "NO");
}

// Copies `bytes` through a loopback TCP connection; returns milliseconds.
double loopback_copy_ms(const std::string& bytes) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 1) != 0)
    return -1;
  socklen_t len = sizeof addr;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  size_t received = 0;
  std::thread reader([&] {
    int s = ::accept(ls, nullptr, nullptr);
    std::vector<char> buf(1 << 20);
    for (ssize_t n; (n = ::read(s, buf.data(), buf.size())) > 0;)
      received += static_cast<size_t>(n);
    ::close(s);
  });
  const auto t0 = Clock::now();
  int cs = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(cs, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(cs, bytes.data() + off, bytes.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  ::close(cs);
  reader.join();
  ::close(ls);
  const double ms = ms_since(t0);
  return received == bytes.size() ? ms : -1;
}

void bench_snapshot(size_t target_blocks) {
  NodeOptions opts;
  opts.tree.max_blocks_per_worker = target_blocks * 2;
  opts.tree.max_bytes = size_t{4} << 30;
  Faults f;
  f.delay_min_ms = 0;
  f.delay_max_ms = 0;
  SyncCluster c(1, 45, f, opts);
  auto urls = worker_urls(8);
  add_workers(c, urls);
  std::mt19937_64 rng(13);
  size_t blocks = 0;
  // Conversations sharing system prompts: a realistic branching tree.
  std::vector<std::vector<radix::BlockHash>> systems(64);
  for (auto& s : systems)
    for (int i = 0; i < 16; ++i) s.push_back(rng() | 1);
  while (blocks < target_blocks) {
    auto p = systems[rng() % systems.size()];
    for (int i = 0; i < 48; ++i) p.push_back(rng() | 1);
    c.node(0).insert("m", p, urls[rng() % urls.size()]);
    blocks += 48;
  }
  auto tree = c.node(0).trees.find("m");
  const auto st = tree->stats();

  const auto t_enc = Clock::now();
  auto blob = radix::encode_snapshot(*tree, c.node(0).workers);
  const double enc_ms = ms_since(t_enc);
  if (!blob.ok()) {
    std::printf("snapshot: encode failed: %s\n", blob.error().message.c_str());
    return;
  }
  const double tcp_ms = loopback_copy_ms(*blob);

  // A fresh node joins and pulls the snapshot through the engines: chunking,
  // reassembly and merge, in real CPU time.
  size_t late = c.add_node();
  for (const auto& u : urls) c.node(late).worker(u);
  c.node(0).journal.drain();
  const auto t_join = Clock::now();
  c.link_up(0, late);
  for (int i = 0; i < 50 && !c.converged("m"); ++i) c.settle(1);
  const double join_ms = ms_since(t_join);
  std::printf("snapshot: %zu distinct blocks, %zu nodes, %zu tree bytes\n", st.blocks, st.nodes,
              st.bytes);
  std::printf("  blob %.2f MiB (%.2f bytes per block), %zu chunk frames\n",
              static_cast<double>(blob->size()) / (1 << 20),
              static_cast<double>(blob->size()) / st.blocks,
              (blob->size() + kMaxSnapshotChunkData - 1) / kMaxSnapshotChunkData);
  std::printf("  encode %.0f ms; loopback TCP copy %.1f ms\n", enc_ms, tcp_ms);
  std::printf(
      "  join -> converged (build + chunk + reassemble + merge): %.0f ms, digests equal: %s\n",
      join_ms, c.converged("m") ? "yes" : "NO");
  std::printf("  total encode + transfer + merge: %.0f ms\n", join_ms + tcp_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  bench_multi_turn(quick ? 100 : 1000, quick ? 4 : 8);
  bench_idle(quick ? 60 : 300);
  bench_convergence(quick ? 3 : 20, 1000);
  bench_snapshot(quick ? 100'000 : 1'000'000);
  return 0;
}
