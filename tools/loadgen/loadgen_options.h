// Options of the load generator (radixmesh-loadgen): where to send, which
// workload, how hard, and how the run is bounded.
//
// A plain value filled once by parse_loadgen_options() at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radixmesh::tools::loadgen {

enum class WorkloadKind { kMultiturn, kSharedPrefix, kUnique, kMixed };
enum class ApiKind { kChat, kCompletions, kGenerate };

const char* to_string(WorkloadKind k);
const char* to_string(ApiKind k);

struct LoadgenOptions {
  std::vector<std::string> targets;  // base URLs; default http://127.0.0.1:8000
  bool pinned = false;               // --pin-by-conversation: session s -> targets[s % n]
  WorkloadKind workload = WorkloadKind::kMultiturn;
  ApiKind api = ApiKind::kChat;
  std::string model = "sim-model";

  // Workload shape.
  uint32_t conversations = 32;   // K
  uint32_t system_prompts = 4;   // S
  uint32_t turns = 4;            // T
  uint32_t groups = 8;           // G
  uint32_t questions = 8;        // Q
  uint32_t unique_prompts = 64;  // U
  uint32_t system_bytes = 2000;
  uint32_t prefix_bytes = 8000;
  uint32_t turn_bytes = 300;
  uint32_t max_tokens = 32;
  uint32_t think_ms = 0;  // pause between a reply and the conversation's next turn

  // Load and bounds.
  uint32_t concurrency = 16;  // closed loop
  double rate = 0;            // > 0: open loop, requests per second (Poisson arrivals)
  uint32_t max_in_flight = 1024;
  uint64_t requests = 0;  // 0: the whole workload
  double duration_s = 300;
  uint32_t timeout_ms = 60000;
  uint32_t connect_timeout_ms = 2000;
  bool stream = false;
  // Streamed requests name no stream_options (most clients): the responses
  // then carry no usage (unless a router asks for it on the client's behalf).
  bool no_stream_options = false;
  uint64_t seed = 1;
  std::string session_header;   // when set, carries the session id
  uint32_t expect_workers = 0;  // workers that may receive load (for the spread)

  // Trace replay (tools/loadgen/trace.h): replaces --workload when set.
  std::string trace_path;
  double trace_speedup = 1.0;
  uint32_t trace_block_tokens = 512;

  bool json = false;
  std::string samples_path;  // --samples: one JSON line per request
};

// Parses argv into `out`. Returns true to go on; false when the program should
// stop with `exit_code` (0 after --help/--version, 2 on a bad flag).
bool parse_loadgen_options(int argc, char** argv, LoadgenOptions& out, int& exit_code);

}  // namespace radixmesh::tools::loadgen
