// WorkerLoad: what a worker reports about its own load in GET /metrics, and
// how one scrape becomes one report.
//
// Both engine dialects are read from the same scrape:
//
//   | quantity       | vLLM                                            | SGLang (`sglang:` or
//   `sglang_`) |
//   |----------------|-------------------------------------------------|---------------------------------|
//   | waiting        | vllm:num_requests_waiting                       | num_queue_reqs | | running
//   | vllm:num_requests_running                       | num_running_reqs                | | KV
//   usage (0..1)| vllm:kv_cache_usage_perc, else the older        | token_usage | | |
//   vllm:gpu_cache_usage_perc                       |                                 |
//
// Labels: a series per model_name (LoRA adapters share their base model's
// GPU) or per engine (vLLM data-parallel ranks) is one part of the same
// worker, so waiting and running are summed over all series of the chosen
// dialect and KV usage is the mean over its series (each engine has its own
// cache; the mean is the fraction of the worker's total KV in use). Only one
// dialect counts per scrape (vLLM first, then `sglang:`, then `sglang_`), so
// an exporter that publishes both spellings is not counted twice.
// NaN and infinite samples are ignored; negatives count as 0; KV usage is
// clamped to [0, 1].
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "router/prometheus_text.h"

namespace radixmesh::router {

struct WorkerLoad {
  uint32_t waiting = 0;            // requests queued for a batch slot
  uint32_t running = 0;            // requests in the running batch
  std::optional<double> kv_usage;  // fraction of KV cache in use, 0..1
};

enum class MetricsDialect : uint8_t { kNone, kVllm, kSglang };
std::string_view to_string(MetricsDialect d);

struct LoadExtraction {
  std::optional<WorkerLoad> load;  // nullopt: no load gauge of either dialect
  MetricsDialect dialect = MetricsDialect::kNone;
  PromStats stats;
};

LoadExtraction extract_worker_load(std::string_view exposition, const PromLimits& limits = {});

}  // namespace radixmesh::router
