// decision-bench: end-to-end routing decision time (RoutingEngine::choose)
// with many registered workers (docs/benchmarks.md).
//
// Unlike policy-bench, which times Policy::choose() alone, this times the
// whole decision the router makes per request: registry snapshot,
// candidates, per-worker views, tree match, policy, tree insert, breaker
// admission and the in-flight guard. Requests are parsed and hashed before
// the clock starts (prepare() is the parser's cost, measured in radix-bench).
//
// Workload: N workers (loopback URLs, never contacted) on one model; C
// multi-turn conversations whose prompts are a ~24 KB private history plus
// up to 8 turns of ~1 KB (24..32 KB, 380..510 blocks of 64 bytes), sent
// round-robin over the conversations, each turn extending the previous one.
// The last 64 decisions stay in flight, so loads vary as under traffic.
// One warm-up pass fills the tree before timing.
//
// With --mesh-peers P, a LoadBoard holds reports from P peers naming every
// worker, read through the table the daemon's mesh glue refreshes from it
// (router/mesh_load_table.h).
//
// The "checksum" line is a hash of every chosen worker and reason: with the
// same arguments it must not change when the decision path is optimised.
//
// Usage: decision-bench [--samples N] [--workers N] [--conversations N]
//                       [--policy NAME]... [--mesh-peers P]
#include <stdlib.h>  // getloadavg

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "mesh/load_board.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/mesh_load_table.h"
#include "router/routing_engine.h"

namespace radixmesh::tools {
namespace {

using router::PreparedRequest;
using router::RouteChoice;
using router::RoutingEngine;
using router::RoutingScratch;
using router::WorkerRegistry;

struct Args {
  size_t samples = 20000;
  size_t workers = 1000;
  size_t conversations = 48;
  size_t mesh_peers = 0;
  std::vector<std::string> policies;
};

struct Stats {
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
  double hit_share = 0;
  uint64_t checksum = 0;
};

// Deterministic filler text: unique per (seed), so conversations do not share
// blocks by accident.
std::string filler(size_t n, uint64_t seed) {
  std::string s;
  s.reserve(n + 32);
  for (uint64_t i = 0; s.size() < n; ++i) {
    s += "c" + std::to_string(seed) + "w" + std::to_string(i * 2654435761u % 100003) + " ";
  }
  s.resize(n);
  return s;
}

// One chat body: a private history, then `turns` user/assistant pairs.
std::string conversation_body(size_t conversation, size_t turns) {
  std::string body = R"({"model":"bench-model","messages":[{"role":"system","content":")";
  body += filler(24 * 1024, conversation * 1000);
  body += R"("})";
  for (size_t t = 0; t < turns; ++t) {
    body += R"(,{"role":"user","content":")" + filler(512, conversation * 1000 + 2 * t + 1) +
            R"("},{"role":"assistant","content":")" + filler(512, conversation * 1000 + 2 * t + 2) +
            R"("})";
  }
  body += R"(,{"role":"user","content":"next question"}]})";
  return body;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

Stats run(const Args& args, const std::string& policy_name) {
  policies::PolicyConfig pc;
  pc.name = policy_name;
  auto made = policies::make_policy(pc);
  if (!made.ok()) {
    std::fprintf(stderr, "make_policy(%s): %s\n", policy_name.c_str(),
                 made.error().message.c_str());
    std::exit(2);
  }
  const policies::Policy& policy = *made.value();

  radix::WorkerDirectory directory(4096);
  radix::MemoryBroker broker(size_t{1} << 30);
  radix::PrefixTree::Options topts;
  topts.max_blocks_per_worker = 262144;
  topts.max_bytes = size_t{1} << 30;
  topts.workers = &directory;
  radix::TreeCatalog trees(topts, 16, &broker, nullptr);
  WorkerRegistry registry(WorkerRegistry::Options{4096, {}},
                          [&](const std::string& url) { return directory.intern(url); });
  // Fixed physical time: stamps (and so the whole run) are deterministic.
  radix::HybridClock clock([] { return uint64_t{1700000000000}; });

  for (size_t i = 0; i < args.workers; ++i) {
    auto w = registry.add("http://127.0.0.1:" + std::to_string(20000 + i));
    if (!w.ok()) {
      std::fprintf(stderr, "add worker: %s\n", w.error().message.c_str());
      std::exit(2);
    }
    registry.set_models(*w, {"bench-model"});
    (*w)->set_healthy(true);
  }

  // Other routers' load, when asked for: every peer reports every worker.
  mesh::LoadBoard board(mesh::LoadBoardConfig{}, [] { return uint64_t{1000}; });
  router::MeshLoadTable mesh_table(directory.max_workers());
  router::MeshLoadFn mesh_load;
  if (args.mesh_peers > 0) {
    policies::Xoshiro256 lrng(7);
    for (size_t p = 0; p < args.mesh_peers; ++p) {
      mesh::LoadReport report;
      for (const auto& w : registry.snapshot()->all) {
        report.entries.push_back({directory.key_of(w->id()), 1 + lrng.uniform(3)});
      }
      board.on_peer_report("peer-" + std::to_string(p), report);
    }
    mesh_table.refresh(board, directory, *registry.snapshot());
    mesh_load = mesh_table.load_fn();
  }

  RoutingEngine engine(registry, trees, policy, clock, router::RoutingOptions{}, mesh_load);
  RoutingScratch scratch(radix::ParseLimits{}, 42);

  constexpr size_t kTurns = 8;
  std::vector<PreparedRequest> requests;  // conversation-major: [c * kTurns + t]
  requests.reserve(args.conversations * kTurns);
  for (size_t c = 0; c < args.conversations; ++c) {
    for (size_t t = 0; t < kTurns; ++t) {
      PreparedRequest p;
      const std::string body = conversation_body(c, t);
      const std::string session = "conversation-" + std::to_string(c);
      auto s = engine.prepare(scratch, body, radix::Endpoint::kChatCompletions, session, p);
      if (!s.ok()) {
        std::fprintf(stderr, "prepare: %s\n", s.error().message.c_str());
        std::exit(2);
      }
      requests.push_back(std::move(p));
    }
  }

  std::deque<RouteChoice> held;  // the last 64 decisions stay in flight
  auto decide = [&](size_t i, double* us, Stats* st) {
    const size_t c = i % args.conversations;
    const size_t t = (i / args.conversations) % kTurns;
    const auto t0 = std::chrono::steady_clock::now();
    auto choice = engine.choose(scratch, requests[c * kTurns + t], {});
    const auto t1 = std::chrono::steady_clock::now();
    if (!choice.ok()) {
      std::fprintf(stderr, "choose: %s\n", choice.error().message.c_str());
      std::exit(1);
    }
    if (us) *us = std::chrono::duration<double, std::micro>(t1 - t0).count();
    if (st) {
      st->checksum = mix(st->checksum, choice->worker().id());
      st->checksum = mix(st->checksum, static_cast<uint64_t>(choice->decision.reason));
      if (choice->decision.reason == policies::Reason::kCacheHit) st->hit_share += 1;
    }
    held.push_back(std::move(choice).value());
    if (held.size() > 64) held.pop_front();
  };

  for (size_t i = 0; i < requests.size(); ++i) decide(i, nullptr, nullptr);  // warm-up

  Stats st;
  std::vector<double> us(args.samples);
  double sum = 0;
  for (size_t i = 0; i < args.samples; ++i) {
    decide(requests.size() + i, &us[i], &st);
    sum += us[i];
  }
  held.clear();
  std::sort(us.begin(), us.end());
  st.p50_us = us[us.size() / 2];
  st.p99_us = us[us.size() * 99 / 100];
  st.p999_us = us[us.size() * 999 / 1000];
  st.max_us = us.back();
  st.mean_us = sum / static_cast<double>(us.size());
  st.hit_share /= static_cast<double>(args.samples);
  return st;
}

int main_impl(int argc, char** argv) {
  Args args;
  auto count = [&](int& i, size_t lo, size_t hi) {
    return std::clamp<size_t>(std::strtoull(argv[++i], nullptr, 10), lo, hi);
  };
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--samples") == 0 && has_value) {
      args.samples = count(i, 100, 1000000);
    } else if (std::strcmp(argv[i], "--workers") == 0 && has_value) {
      args.workers = count(i, 1, 4096);
    } else if (std::strcmp(argv[i], "--conversations") == 0 && has_value) {
      args.conversations = count(i, 1, 1000);
    } else if (std::strcmp(argv[i], "--mesh-peers") == 0 && has_value) {
      args.mesh_peers = count(i, 0, 64);
    } else if (std::strcmp(argv[i], "--policy") == 0 && has_value) {
      args.policies.emplace_back(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: decision-bench [--samples N] [--workers N] [--conversations N]\n"
                   "                      [--policy NAME]... [--mesh-peers P]\n");
      return 2;
    }
  }
  if (args.policies.empty()) args.policies = {"cache_aware", "round_robin", "consistent_hash"};

  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
  std::printf("decision-bench: %zu workers, %zu conversations, %zu samples, %zu mesh peers\n",
              args.workers, args.conversations, args.samples, args.mesh_peers);
  std::printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  std::printf("%-16s %9s %9s %9s %9s %9s %6s  %s\n", "policy", "p50_us", "p99_us", "p999_us",
              "max_us", "mean_us", "hits", "checksum");
  for (const std::string& name : args.policies) {
    const Stats st = run(args, name);
    std::printf("%-16s %9.2f %9.2f %9.2f %9.2f %9.2f %6.3f  %016llx\n", name.c_str(), st.p50_us,
                st.p99_us, st.p999_us, st.max_us, st.mean_us, st.hit_share,
                static_cast<unsigned long long>(st.checksum));
  }
  if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
  std::printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  return 0;
}

}  // namespace
}  // namespace radixmesh::tools

int main(int argc, char** argv) {
  return radixmesh::tools::main_impl(argc, argv);
}
