#include "tools/sim_worker/sim_options.h"

#include <cstdio>

#include "tools/sim_worker/cli_flags.h"

namespace radixmesh::tools::sim {

bool parse_sim_options(int argc, char** argv, SimOptions& o, int& exit_code) {
  FlagSet f("radixmesh-sim-worker",
            "An OpenAI-compatible simulated inference worker with a prefix KV-cache model,\n"
            "prefill/decode timing, a batch limit and fault injection. No GPU needed.");
  f.add("host", o.host, "bind address", [&](std::string_view v) { o.host = v; });
  f.add("port", std::to_string(o.port), "listen port (0: pick a free one and print it)",
        [&](std::string_view v) { o.port = static_cast<uint16_t>(parse_u64_in(v, 0, 65535)); });
  f.add("model", "sim-model", "model name served (repeatable)",
        [&](std::string_view v) { o.models.emplace_back(v); });
  f.add("id", "HOST:PORT", "worker id: x-worker-id header and system_fingerprint",
        [&](std::string_view v) { o.id = v; });
  f.add("kv-capacity-tokens", std::to_string(o.kv_capacity_tokens),
        "prefix KV cache capacity in tokens (LRU, block granularity; 0 disables caching)",
        [&](std::string_view v) { o.kv_capacity_tokens = parse_u64(v); });
  f.add("block-tokens", std::to_string(o.block_tokens),
        "tokens per KV block (4 bytes of prompt text per token)",
        [&](std::string_view v) { o.block_tokens = parse_u64_in(v, 1, 1 << 16); });
  f.add("prefill-us-per-token", "20", "prefill time per uncached prompt token (microseconds)",
        [&](std::string_view v) { o.prefill_us_per_token = parse_double_in(v, 0, 1e7); });
  f.add("decode-us-per-token", "2000", "decode time per output token (microseconds)",
        [&](std::string_view v) { o.decode_us_per_token = parse_double_in(v, 0, 1e8); });
  f.add("tokens-per-chunk", std::to_string(o.tokens_per_chunk), "output tokens per streamed chunk",
        [&](std::string_view v) { o.tokens_per_chunk = parse_u64_in(v, 1, 1 << 20); });
  f.add("max-tokens-default", std::to_string(o.max_tokens_default),
        "output tokens when the request sets no max_tokens",
        [&](std::string_view v) { o.max_tokens_default = parse_u64_in(v, 1, 1 << 20); });
  f.add("max-tokens-limit", std::to_string(o.max_tokens_limit),
        "upper bound on output tokens of one request",
        [&](std::string_view v) { o.max_tokens_limit = parse_u64_in(v, 1, 1 << 24); });
  f.add("concurrency", std::to_string(o.concurrency),
        "batch limit: requests generating at once; more wait in the queue",
        [&](std::string_view v) { o.concurrency = parse_u64_in(v, 1, 1 << 20); });
  f.add("max-queue", std::to_string(o.max_queue), "queued requests beyond which the answer is 429",
        [&](std::string_view v) { o.max_queue = parse_u64_in(v, 0, 1 << 24); });
  f.add("error-rate", "0.0", "fraction of requests answered 500 (deterministic from --seed)",
        [&](std::string_view v) { o.error_rate = parse_double_in(v, 0, 1); });
  f.add("seed", std::to_string(o.seed), "seed for the error draw and generated text",
        [&](std::string_view v) { o.seed = parse_u64(v); });
  f.add("stall-after-chunks", std::to_string(o.stall_after_chunks),
        "stall every response after this many chunks (0: never)",
        [&](std::string_view v) { o.stall_after_chunks = parse_u64_in(v, 0, 1u << 30); });
  f.add("stall-ms", std::to_string(o.stall_ms), "length of the stall (milliseconds)",
        [&](std::string_view v) { o.stall_ms = parse_u64_in(v, 0, 3600000); });
  f.add("exit-after", std::to_string(o.exit_after),
        "serve N inference requests, then _exit(3) when request N+1 arrives (0: never)",
        [&](std::string_view v) { o.exit_after = parse_u64(v); });
  f.add("threads", std::to_string(o.threads), "io threads",
        [&](std::string_view v) { o.threads = parse_u64_in(v, 1, 256); });
  f.add("idle-timeout-ms", std::to_string(o.idle_timeout_ms),
        "close a keep-alive connection idle this long",
        [&](std::string_view v) { o.idle_timeout_ms = parse_u64_in(v, 1, 86400000); });
  f.add("max-body-bytes", std::to_string(o.max_body_bytes), "413 above this request body size",
        [&](std::string_view v) { o.max_body_bytes = parse_u64_in(v, 1, 1ull << 32); });
  f.add("metrics-dialect", "both",
        "engine gauge names in /metrics besides sim_*: vllm, sglang, both or none",
        [&](std::string_view v) {
          if (v != "vllm" && v != "sglang" && v != "both" && v != "none")
            throw std::invalid_argument("expected vllm, sglang, both or none");
          o.metrics_vllm = v == "vllm" || v == "both";
          o.metrics_sglang = v == "sglang" || v == "both";
        });
  f.add("embedding-dim", std::to_string(o.embedding_dim), "length of /v1/embeddings vectors",
        [&](std::string_view v) { o.embedding_dim = parse_u64_in(v, 1, 65536); });

  f.add("role", "none", "prefill/decode disaggregation: prefill, decode or none",
        [&](std::string_view v) {
          if (v == "prefill")
            o.role = PdRole::kPrefill;
          else if (v == "decode")
            o.role = PdRole::kDecode;
          else if (v == "none")
            o.role = PdRole::kNone;
          else
            throw std::invalid_argument("expected prefill, decode or none");
        });
  f.add("pd-protocol", "sglang",
        "with --role: sglang (bootstrap_host/port/room) or vllm (kv_transfer_params)",
        [&](std::string_view v) {
          if (v == "sglang")
            o.pd_protocol = PdProtocol::kSglang;
          else if (v == "vllm")
            o.pd_protocol = PdProtocol::kVllm;
          else
            throw std::invalid_argument("expected sglang or vllm");
        });
  f.add("bootstrap-port", std::to_string(o.bootstrap_port),
        "prefill: port of the KV endpoint decode workers fetch from (0: pick a free one)",
        [&](std::string_view v) {
          o.bootstrap_port = static_cast<uint16_t>(parse_u64_in(v, 0, 65535));
        });
  f.add("advertise-host", "HOST", "prefill: host a vLLM kv_transfer_params names as remote_host",
        [&](std::string_view v) { o.advertise_host = v; });
  f.add("pd-wait-ms", std::to_string(o.pd_wait_ms),
        "decode: longest wait for the prefill's KV before a 504",
        [&](std::string_view v) { o.pd_wait_ms = parse_u64_in(v, 1, 600000); });
  f.add("pd-poll-ms", std::to_string(o.pd_poll_ms),
        "decode: pause between two asks to the prefill's KV endpoint",
        [&](std::string_view v) { o.pd_poll_ms = parse_u64_in(v, 1, 10000); });
  f.add("pd-rooms", std::to_string(o.pd_rooms),
        "prefill: most KV rooms held for decode workers (oldest dropped first)",
        [&](std::string_view v) { o.pd_rooms = parse_u64_in(v, 1, 1u << 24); });
  f.add("pd-room-ttl-ms", std::to_string(o.pd_room_ttl_ms),
        "prefill: how long a room waits for its decode worker",
        [&](std::string_view v) { o.pd_room_ttl_ms = parse_u64_in(v, 1, 86400000); });
  f.add_switch("pd-local-prefill",
               "decode: serve a request without PD fields with a local prefill (vLLM-style "
               "bypass) instead of a 400",
               &o.pd_local_prefill);

  std::string err = f.parse(argc, argv);
  if (!err.empty()) {
    std::fprintf(stderr, "radixmesh-sim-worker: %s (see --help)\n", err.c_str());
    exit_code = 2;
    return false;
  }
  if (f.help_requested()) {
    std::fputs(f.help().c_str(), stdout);
    exit_code = 0;
    return false;
  }
  if (f.version_requested()) {
    std::puts("radixmesh-sim-worker 0.1.0");
    exit_code = 0;
    return false;
  }
  if (o.models.empty()) o.models.push_back("sim-model");
  if (o.advertise_host.empty()) o.advertise_host = o.host;
  return true;
}

}  // namespace radixmesh::tools::sim
