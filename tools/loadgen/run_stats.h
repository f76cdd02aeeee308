// RunStats: what one load-generator run measured, and its two renderings:
// a table for people and one JSON object for scripts (schema in
// docs/load-generator.md; keep them in sync).
//
// Every request ends in exactly one record(): ok requests feed the latency
// samples and token sums, failures only their cause counter, so
// ok + failed == sent always holds.
//
// Thread safety: single-threaded (the load generator's one io thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/loadgen_options.h"

namespace radixmesh::tools::loadgen {

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
};

// Nearest-rank percentiles of `samples` (sorted in place).
Percentiles percentiles(std::vector<double>& samples);

class RunStats {
 public:
  void start() { t0_ = std::chrono::steady_clock::now(); }
  void record(const Outcome& o);
  uint64_t sent() const { return ok_ + failed_; }
  uint64_t ok() const { return ok_; }

  std::string to_json(const LoadgenOptions& o, uint64_t planned) const;
  std::string to_table(const LoadgenOptions& o, uint64_t planned) const;

 private:
  double elapsed_s() const;

  std::chrono::steady_clock::time_point t0_{};
  std::chrono::steady_clock::time_point last_{};
  uint64_t ok_ = 0, failed_ = 0;
  std::map<std::string, uint64_t> failed_by_cause_;
  std::string first_error_;
  std::vector<double> ttft_ms_, latency_ms_;
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0;
  uint64_t without_usage_ = 0;
  std::map<std::string, uint64_t> per_worker_;
  std::map<std::string, uint64_t> per_target_;  // every request sent, ok or not
};

}  // namespace radixmesh::tools::loadgen
