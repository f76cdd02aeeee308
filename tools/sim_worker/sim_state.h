// SimState: everything the simulated worker's sessions share: options, the
// KV cache model, the batch limit, counters. Created once in main and passed
// by shared_ptr to every session (no globals).
//
// Thread safety: options are read-only after start; KvCacheModel and
// Admission lock internally; counters are relaxed atomics (monotonic totals
// read by /metrics, no ordering needed between them).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "tools/sim_worker/admission.h"
#include "tools/sim_worker/kv_cache_model.h"
#include "tools/sim_worker/kv_rooms.h"
#include "tools/sim_worker/peak_gauge.h"
#include "tools/sim_worker/sim_options.h"
#include "tools/sim_worker/sim_request.h"

namespace radixmesh::tools::sim {

struct SimCounters {
  std::atomic<uint64_t> requests[kEndpointCount] = {};  // by Endpoint
  std::atomic<uint64_t> status_200{0}, status_400{0}, status_404{0}, status_413{0}, status_429{0},
      status_500{0}, status_502{0}, status_504{0};
  std::atomic<uint64_t> prompt_tokens{0}, cached_tokens{0}, completion_tokens{0};
  std::atomic<uint64_t> streams{0};
  std::atomic<uint64_t> cancelled{0};  // client left before the response ended
  std::atomic<uint64_t> connections{0};
  std::atomic<int64_t> open_connections{0};
  PeakGauge active;
  // PD: rooms a prefill registered, handed to decode workers, asked for in
  // vain (not there, or not yet); a decode's fetches that got KV or failed,
  // and the prompt tokens it got remotely.
  std::atomic<uint64_t> pd_registered{0}, pd_served{0}, pd_misses{0};
  std::atomic<uint64_t> pd_fetched{0}, pd_fetch_failed{0},
      pd_remote_tokens{0};  // inference requests being served, and the most at once

  void count_status(unsigned status);
};

struct SimState {
  explicit SimState(SimOptions o)
      : opts(std::move(o)),
        kv(opts.kv_capacity_blocks()),
        admission(opts.concurrency, opts.max_queue),
        rooms(opts.pd_rooms, std::chrono::milliseconds(opts.pd_room_ttl_ms)) {}

  const SimOptions opts;
  KvCacheModel kv;
  Admission admission;
  KvRoomTable rooms;                    // prefill: KV held for decode workers
  std::atomic<uint64_t> next_block{1};  // prefill (vLLM): block ids handed out
  SimCounters counters;
  std::atomic<uint64_t> inference_started{0};  // numbering for ids, errors, --exit-after
  int64_t started_unix = 0;

  bool serves(const std::string& model) const;
};

// Prometheus text exposition of the counters and gauges.
std::string render_metrics(SimState& s);

}  // namespace radixmesh::tools::sim
