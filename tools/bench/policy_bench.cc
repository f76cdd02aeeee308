// policy-bench: decision time of the routing policies (docs/benchmarks.md,
// "## policies").
//
// Measures Policy::choose() only: the WorkerView vector and the tree match are
// built before the clock starts, because building them is the router's job
// (from its registry snapshot and the tree) and is measured there. Each
// sample times one call with steady_clock (~20 ns of clock overhead included);
// loads change between samples, outside the timed region, so the decision
// path varies the way it does under traffic.
//
// Usage: policy-bench [--samples N]   (default 20000 per scenario; bounded)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "policies/policy.h"

namespace radixmesh::tools {
namespace {

using policies::Decision;
using policies::PolicyConfig;
using policies::RequestView;
using policies::WorkerView;

struct Scenario {
  const char* policy;
  const char* label;
  size_t workers;
  size_t tenants;  // workers named in the match (0: no match passed)
};

struct Stats {
  double p50_us, p99_us, max_us, mean_us;
};

Stats run(const Scenario& s, size_t samples) {
  PolicyConfig config;
  config.name = s.policy;
  auto made = policies::make_policy(config);
  if (!made.ok()) {
    std::fprintf(stderr, "make_policy(%s): %s\n", s.policy, made.error().message.c_str());
    std::exit(1);
  }
  const auto& policy = *made.value();
  policies::Xoshiro256 rng(12345);

  std::vector<std::string> urls;
  std::vector<WorkerView> workers(s.workers);
  urls.reserve(s.workers);
  for (size_t i = 0; i < s.workers; ++i) {
    urls.push_back("http://10.0.0.1:" + std::to_string(8000 + i));
    workers[i].id = static_cast<radix::WorkerId>(i);
    workers[i].url = urls[i];
    workers[i].budget_blocks = 100000;
    workers[i].tree_blocks = rng.uniform(100000);
    workers[i].local_in_flight = static_cast<uint32_t>(rng.uniform(4));
    workers[i].mesh_in_flight = static_cast<uint32_t>(rng.uniform(4));
  }
  // A 32 KB prompt: 512 blocks of 64 bytes.
  std::vector<radix::BlockHash> blocks(512);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = rng.next();
  radix::MatchResult match;
  for (size_t t = 0; t < s.tenants; ++t) {
    radix::TenantReach r{};
    r.worker = static_cast<radix::WorkerId>((t * 7919) % s.workers);  // unsorted order
    r.blocks = static_cast<uint32_t>(200 + rng.uniform(312));
    match.tenants.push_back(r);
    match.matched_blocks = std::max(match.matched_blocks, r.blocks);
  }
  RequestView request;
  request.model = "bench-model";
  request.blocks = blocks;
  request.prompt_bytes = blocks.size() * 64;
  std::string session = "session-0";

  std::vector<double> us(samples);
  size_t sink = 0;
  for (size_t i = 0; i < samples; ++i) {
    WorkerView& w = workers[rng.uniform(workers.size())];  // traffic moves load around
    w.local_in_flight = static_cast<uint32_t>(rng.uniform(4));
    session = "session-" + std::to_string(i % 1000);
    request.session_key = session;
    const auto t0 = std::chrono::steady_clock::now();
    Decision d = policy.choose(request, workers, s.tenants ? &match : nullptr, rng);
    const auto t1 = std::chrono::steady_clock::now();
    sink += d.index.value_or(0);
    us[i] = std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
  if (sink == static_cast<size_t>(-1)) std::puts("");  // keep the calls alive
  Stats st{};
  double sum = 0;
  for (double v : us) sum += v;
  std::sort(us.begin(), us.end());
  st.p50_us = us[us.size() / 2];
  st.p99_us = us[us.size() * 99 / 100];
  st.max_us = us.back();
  st.mean_us = sum / static_cast<double>(us.size());
  return st;
}

int main_impl(int argc, char** argv) {
  size_t samples = 20000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
      samples = std::clamp<size_t>(std::strtoull(argv[++i], nullptr, 10), 100, 1000000);
    } else {
      std::fprintf(stderr, "usage: policy-bench [--samples N]\n");
      return 2;
    }
  }
  const Scenario scenarios[] = {
      {"cache_aware", "hit, 4 tenants", 8, 4},
      {"cache_aware", "hit, 4 tenants", 100, 4},
      {"cache_aware", "hit, 4 tenants", 1000, 4},
      {"cache_aware", "hit, every worker a tenant", 1000, 1000},
      {"cache_aware", "no match (miss)", 1000, 0},
      {"cost", "4 tenants", 1000, 4},
      {"least_load", "-", 1000, 0},
      {"power_of_two", "-", 1000, 0},
      {"round_robin", "-", 1000, 0},
      {"consistent_hash", "session key", 1000, 0},
  };
  std::printf("%-16s %-28s %8s %9s %9s %9s %9s\n", "policy", "scenario", "workers", "p50_us",
              "p99_us", "max_us", "mean_us");
  for (const Scenario& s : scenarios) {
    const Stats st = run(s, samples);
    std::printf("%-16s %-28s %8zu %9.2f %9.2f %9.2f %9.2f\n", s.policy, s.label, s.workers,
                st.p50_us, st.p99_us, st.max_us, st.mean_us);
  }
  return 0;
}

}  // namespace
}  // namespace radixmesh::tools

int main(int argc, char** argv) {
  return radixmesh::tools::main_impl(argc, argv);
}
