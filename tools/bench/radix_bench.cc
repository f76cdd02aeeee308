// Prefix tree benchmarks (part of radix-bench). Method and figures:
// docs/benchmarks.md, section "radix".
//
//   BM_MatchInsert/<prompt bytes>   one router decision's tree work: match
//       a prompt whose first 90% is already cached, then insert it for the
//       chosen worker. p50/p99 per operation are counters (ns).
//   BM_MatchInsertThreads/32768     the same from 1 and 2 threads on one
//       shared tree: items_per_second = operations/s.
//   BM_Memory1M                     bytes per cached block at ~1M blocks:
//       tree.bytes() / blocks and the process RSS growth / blocks.
//   BM_Snapshot1M                   snapshot size, encode and decode+merge
//       time for the same 1M-block tree.
//
// Chains are XXH3-64 chained over synthetic 64-byte blocks
// (h[i] = chain_step(h[i-1], XXH3_64bits(block i))), as radix/block_hash does.
// Workload inputs are built outside the timed region.
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <xxhash.h>

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "radix/block_hash.h"
#include "radix/prefix_tree.h"
#include "radix/snapshot_codec.h"
#include "radix/worker_directory.h"

namespace {

using radixmesh::radix::BlockHash;
using radixmesh::radix::Hlc;
using radixmesh::radix::PrefixTree;
using radixmesh::radix::WorkerDirectory;
using radixmesh::radix::WorkerId;
using Clock = std::chrono::steady_clock;

constexpr size_t kBlockBytes = 64;

// Appends n chained hashes continuing from `seed`, block contents derived
// from (stream, index).
void extend(std::vector<BlockHash>& out, uint64_t seed, uint64_t stream, size_t n) {
  uint64_t block[kBlockBytes / 8];
  uint64_t h = seed;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < kBlockBytes / 8; ++j) block[j] = stream * 1000003 + i * 131 + j;
    h = radixmesh::radix::chain_step(h, XXH3_64bits(block, sizeof(block)));
    out.push_back(h ? h : 1);
  }
}

// CPU time of the calling thread (ms): wall time on a loaded machine
// includes time other processes ran.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

size_t rss_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

PrefixTree::Options tree_options(const WorkerDirectory* dir) {
  PrefixTree::Options o;
  o.model = std::string("bench");
  o.workers = dir;
  o.max_bytes = size_t{1} << 30;
  return o;
}

// A workload of conversations: each has a 90% prefix cached during setup;
// every operation appends a fresh 10% tail (never seen before), built
// outside the timed region, so each operation really inserts new blocks.
// Per-worker budgets keep the tree at a steady size (eviction included).
struct Workload {
  std::vector<std::vector<BlockHash>> bases;
  size_t tail_blocks = 0;
  Workload(size_t prompt_bytes, size_t conversations) {
    const size_t blocks = prompt_bytes / kBlockBytes;
    const size_t cached = blocks * 9 / 10;
    tail_blocks = blocks - cached;
    std::vector<BlockHash> system;
    extend(system, 1, 0, std::min<size_t>(cached, 16));  // a shared system prompt
    for (size_t c = 0; c < conversations; ++c) {
      std::vector<BlockHash> b = system;
      extend(b, b.back(), 1 + c, cached - b.size());
      bases.push_back(std::move(b));
    }
  }
  // The prompt of operation i (stream ids unique per operation and thread).
  void prompt(uint64_t i, std::vector<BlockHash>& out) const {
    const auto& base = bases[i % bases.size()];
    out.assign(base.begin(), base.end());
    extend(out, base.back(), 1'000'000 + i, tail_blocks);
  }
};

PrefixTree::Options steady_options(const WorkerDirectory* dir) {
  auto o = tree_options(dir);
  o.max_blocks_per_worker = 64 * 1024;  // 8 workers: <= 512K blocks
  return o;
}

void BM_MatchInsert(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  Workload w(bytes, 512);
  WorkerDirectory dir;
  for (int i = 0; i < 8; ++i) (void)dir.intern("http://127.0.0.1:" + std::to_string(9000 + i));
  auto tree = std::make_unique<PrefixTree>(steady_options(&dir), nullptr);
  uint64_t ts = 1;
  for (size_t c = 0; c < w.bases.size(); ++c) {
    tree->insert(w.bases[c], static_cast<WorkerId>(c % 8), Hlc{ts++});
  }
  std::vector<BlockHash> prompt;
  std::vector<uint64_t> lat;
  lat.reserve(1 << 20);
  uint64_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    w.prompt(i++, prompt);
    state.ResumeTiming();
    const auto t0 = Clock::now();
    auto m = tree->match(prompt);
    const WorkerId chosen = m.tenants.empty() ? 0 : m.tenants.front().worker;
    tree->insert(prompt, chosen, Hlc{ts++});
    const auto t1 = Clock::now();
    benchmark::DoNotOptimize(m);
    if (lat.size() < lat.capacity()) {
      lat.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
  }
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    state.counters["p50_ns"] = static_cast<double>(lat[lat.size() / 2]);
    state.counters["p99_ns"] = static_cast<double>(lat[lat.size() * 99 / 100]);
  }
  state.counters["blocks"] = static_cast<double>(bytes / kBlockBytes);
  state.counters["tree_blocks"] = static_cast<double>(tree->stats().blocks);
  state.counters["max_lock_hold_us"] = static_cast<double>(tree->take_max_lock_hold_ns()) / 1e3;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchInsert)->Arg(2048)->Arg(8192)->Arg(32768)->MinTime(0.5);

std::unique_ptr<Workload> g_work;
std::unique_ptr<WorkerDirectory> g_dir;
std::unique_ptr<PrefixTree> g_tree;
std::atomic<uint64_t> g_ts{1};
constexpr int kThreadOps = 4000;

// Each thread builds its kThreadOps fresh prompts before the timed loop,
// which then runs exactly kThreadOps operations (tree work only).
// items_per_second is the aggregate over the threads.
void BM_MatchInsertThreads(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  if (state.thread_index() == 0) {
    g_work = std::make_unique<Workload>(bytes, 512);
    g_dir = std::make_unique<WorkerDirectory>();
    for (int i = 0; i < 8; ++i) (void)g_dir->intern("http://127.0.0.1:" + std::to_string(9000 + i));
    g_tree = std::make_unique<PrefixTree>(steady_options(g_dir.get()), nullptr);
    for (size_t c = 0; c < g_work->bases.size(); ++c) {
      g_tree->insert(g_work->bases[c], static_cast<WorkerId>(c % 8), Hlc{g_ts++});
    }
  }
  std::vector<std::vector<BlockHash>> prompts(kThreadOps);
  const uint64_t stream = static_cast<uint64_t>(state.thread_index()) << 40;
  size_t i = 0;
  for (auto _ : state) {
    if (i == 0) {
      state.PauseTiming();
      for (size_t k = 0; k < prompts.size(); ++k) g_work->prompt(stream + k, prompts[k]);
      state.ResumeTiming();
    }
    const auto& prompt = prompts[i++];
    auto m = g_tree->match(prompt);
    const WorkerId chosen = m.tenants.empty() ? 0 : m.tenants.front().worker;
    g_tree->insert(prompt, chosen, Hlc{g_ts.fetch_add(1, std::memory_order_relaxed)});
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["max_lock_hold_us"] = static_cast<double>(g_tree->take_max_lock_hold_ns()) / 1e3;
    g_tree.reset();
    g_work.reset();
    g_dir.reset();
  }
}
BENCHMARK(BM_MatchInsertThreads)
    ->Arg(32768)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Iterations(kThreadOps);

// ~1M blocks shaped like chat traffic: 8 system prompts (32 blocks), 4000
// conversations of 1-8 turns (~32 blocks each), each conversation on one of
// 16 workers, some continued on a second worker.
struct BigTree {
  WorkerDirectory dir;
  std::unique_ptr<PrefixTree> tree;
  size_t blocks = 0;
  explicit BigTree(size_t target_blocks) {
    for (int i = 0; i < 16; ++i) (void)dir.intern("http://127.0.0.1:" + std::to_string(9000 + i));
    auto o = tree_options(&dir);
    o.max_blocks_per_worker = target_blocks;
    tree = std::make_unique<PrefixTree>(o, nullptr);
    std::mt19937_64 rng(1);
    std::vector<std::vector<BlockHash>> systems(8);
    for (size_t s = 0; s < systems.size(); ++s) extend(systems[s], 1 + s, s, 32);
    uint64_t ts = 1;
    for (uint64_t c = 0; tree->stats().blocks < target_blocks; ++c) {
      std::vector<BlockHash> conv = systems[c % systems.size()];
      const WorkerId w = static_cast<WorkerId>(rng() % 16);
      const int turns = 1 + static_cast<int>(rng() % 8);
      for (int t = 0; t < turns; ++t) {
        extend(conv, conv.back(), (c << 8) + static_cast<uint64_t>(t) + 100, 16 + rng() % 32);
        tree->insert(conv, w, Hlc{ts++});
        if (rng() % 8 == 0) tree->insert(conv, static_cast<WorkerId>((w + 1) % 16), Hlc{ts++});
      }
    }
    blocks = tree->stats().blocks;
  }
};

void BM_Memory1M(benchmark::State& state) {
  for (auto _ : state) {
    malloc_trim(0);  // return freed heap first, so the RSS delta is this tree's
    const size_t rss0 = rss_bytes();
    BigTree big(1'000'000);
    const size_t rss1 = rss_bytes();
    const auto st = big.tree->stats();
    state.counters["blocks"] = static_cast<double>(st.blocks);
    state.counters["nodes"] = static_cast<double>(st.nodes);
    state.counters["tree_bytes_per_block"] =
        static_cast<double>(big.tree->bytes()) / static_cast<double>(st.blocks);
    state.counters["rss_bytes_per_block"] =
        static_cast<double>(rss1 - std::min(rss0, rss1)) / static_cast<double>(st.blocks);
  }
}
BENCHMARK(BM_Memory1M)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_Snapshot1M(benchmark::State& state) {
  BigTree big(1'000'000);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ms();
    auto blob = radixmesh::radix::encode_snapshot(*big.tree, big.dir);
    const auto t1 = Clock::now();
    const double c1 = thread_cpu_ms();
    WorkerDirectory dir2;
    PrefixTree copy(tree_options(&dir2), nullptr);
    auto st = radixmesh::radix::merge_snapshot(*blob, copy, dir2, size_t{256} << 20);
    const auto t2 = Clock::now();
    const double c2 = thread_cpu_ms();
    if (!blob.ok() || !st.ok() || copy.digest() != big.tree->digest()) {
      state.SkipWithError("snapshot round trip failed");
      return;
    }
    using ms = std::chrono::duration<double, std::milli>;
    state.counters["blocks"] = static_cast<double>(big.blocks);
    state.counters["snapshot_MB"] = static_cast<double>(blob->size()) / 1e6;
    state.counters["encode_ms"] = ms(t1 - t0).count();
    state.counters["decode_merge_ms"] = ms(t2 - t1).count();
    state.counters["encode_cpu_ms"] = c1 - c0;
    state.counters["decode_merge_cpu_ms"] = c2 - c1;
  }
}
BENCHMARK(BM_Snapshot1M)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
