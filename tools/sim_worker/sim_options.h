// Options of the simulated worker (radixmesh-sim-worker): what it serves, how
// its KV cache and timing are modelled, and which faults it injects.
//
// A plain value filled once by parse_sim_options() at start-up, then shared
// read-only by every thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radixmesh::tools::sim {

// Prefill/decode disaggregation: which half of the work this worker does, and
// whose wire protocol it speaks (docs/simulated-worker.md, "PD").
enum class PdRole { kNone, kPrefill, kDecode };
enum class PdProtocol { kSglang, kVllm };

struct SimOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7001;
  std::vector<std::string> models;  // defaults to {"sim-model"}
  std::string id;                   // defaults to host:port

  // KV cache model: capacity in tokens, block granularity in tokens, and the
  // bytes of prompt text per token (fixed at 4).
  uint64_t kv_capacity_tokens = 200000;
  uint32_t block_tokens = 16;
  static constexpr uint32_t kBytesPerToken = 4;

  // Timing: TTFT = queue wait + uncached prompt tokens * prefill; then one
  // decode step per output token.
  double prefill_us_per_token = 20;
  double decode_us_per_token = 2000;
  uint32_t tokens_per_chunk = 1;
  uint32_t max_tokens_default = 16;
  uint32_t max_tokens_limit = 16384;

  // Batch limit and its bounded queue.
  uint32_t concurrency = 8;
  uint32_t max_queue = 256;

  // Fault injection.
  double error_rate = 0.0;
  uint64_t seed = 1;
  uint32_t stall_after_chunks = 0;  // 0: never stall
  uint32_t stall_ms = 0;
  uint64_t exit_after = 0;  // 0: never exit

  uint32_t threads = 1;
  uint32_t idle_timeout_ms = 120000;
  uint64_t max_body_bytes = 64ull << 20;
  uint32_t embedding_dim = 8;

  // PD. A prefill worker serves its KV on bootstrap_port (SGLang's bootstrap
  // server; vLLM's side channel) and names advertise_host (default: host) in
  // a vLLM kv_transfer_params; a decode worker waits at most pd_wait_ms for
  // the KV of its request, polling every pd_poll_ms.
  PdRole role = PdRole::kNone;
  PdProtocol pd_protocol = PdProtocol::kSglang;
  uint16_t bootstrap_port = 8998;
  std::string advertise_host;
  uint32_t pd_wait_ms = 5000;
  uint32_t pd_poll_ms = 10;
  uint32_t pd_rooms = 4096;         // rooms a prefill holds at most
  uint32_t pd_room_ttl_ms = 30000;  // and for how long
  bool pd_local_prefill = false;    // decode: serve a request without PD fields itself
  // Which engine's gauge names /metrics carries besides the sim_* ones.
  bool metrics_vllm = true;
  bool metrics_sglang = true;

  uint64_t block_bytes() const { return uint64_t{block_tokens} * kBytesPerToken; }
  uint64_t kv_capacity_blocks() const { return kv_capacity_tokens / block_tokens; }
};

// Parses argv into `out`. Returns true to go on; false when the program should
// stop with `exit_code` (0 after --help/--version, 2 on a bad flag).
bool parse_sim_options(int argc, char** argv, SimOptions& out, int& exit_code);

}  // namespace radixmesh::tools::sim
