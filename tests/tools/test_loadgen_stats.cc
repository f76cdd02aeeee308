// Load generator statistics: nearest-rank percentiles, ok + failed == sent,
// failure causes, hit ratio and load spread in the JSON report.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "tools/loadgen/run_stats.h"

using namespace radixmesh::tools::loadgen;

TEST_CASE("nearest-rank percentiles") {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  Percentiles p = percentiles(v);
  CHECK(p.p50 == 50);
  CHECK(p.p90 == 90);
  CHECK(p.p99 == 99);
  CHECK(p.max == 100);
  CHECK(p.mean == doctest::Approx(50.5));
  std::vector<double> one{3.0};
  CHECK(percentiles(one).p99 == 3.0);
  std::vector<double> none;
  CHECK(percentiles(none).p50 == 0);
}

TEST_CASE("the JSON report adds up") {
  RunStats s;
  s.start();
  auto ok = [](const char* worker, uint64_t prompt, uint64_t cached) {
    Outcome o;
    o.worker_id = worker;
    o.has_usage = true;
    o.prompt_tokens = prompt;
    o.cached_tokens = cached;
    o.completion_tokens = 4;
    o.ttft_ms = 1;
    o.latency_ms = 2;
    return o;
  };
  s.record(ok("a", 100, 50));
  s.record(ok("a", 100, 100));
  s.record(ok("b", 200, 0));
  Outcome bad;
  bad.cause = Cause::kHttpStatus;
  bad.status = 503;
  s.record(bad);
  bad.cause = Cause::kTimeout;
  s.record(bad);
  LoadgenOptions o;
  o.expect_workers = 3;  // one worker received nothing
  auto j = nlohmann::json::parse(s.to_json(o, 10));
  CHECK(j["requests"]["sent"] == 5);
  CHECK(j["requests"]["ok"] == 3);
  CHECK(j["requests"]["failed"] == 2);
  CHECK(j["requests"]["failed_by_cause"]["http_503"] == 1);
  CHECK(j["requests"]["failed_by_cause"]["timeout"] == 1);
  CHECK(j["cache_hit_ratio"].get<double>() == doctest::Approx(150.0 / 400.0));
  CHECK(j["tokens"]["completion"] == 12);
  CHECK(j["workers"]["max"] == 2);
  CHECK(j["workers"]["max_over_mean"].get<double>() == doctest::Approx(2.0));
}
