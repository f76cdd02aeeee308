#include "tools/loadgen/loadgen_options.h"

#include <cstdio>

#include "tools/sim_worker/cli_flags.h"

namespace radixmesh::tools::loadgen {

const char* to_string(WorkloadKind k) {
  switch (k) {
    case WorkloadKind::kMultiturn:
      return "multiturn";
    case WorkloadKind::kSharedPrefix:
      return "shared-prefix";
    case WorkloadKind::kUnique:
      return "unique";
    case WorkloadKind::kMixed:
      return "mixed";
  }
  return "?";
}

const char* to_string(ApiKind k) {
  switch (k) {
    case ApiKind::kChat:
      return "chat";
    case ApiKind::kCompletions:
      return "completions";
    case ApiKind::kGenerate:
      return "generate";
  }
  return "?";
}

namespace {

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto c = s.find(',');
    std::string_view part = s.substr(0, c);
    if (!part.empty()) out.emplace_back(part);
    if (c == std::string_view::npos) break;
    s = s.substr(c + 1);
  }
  return out;
}

uint32_t u32(std::string_view v, uint64_t lo, uint64_t hi) {
  return static_cast<uint32_t>(parse_u64_in(v, lo, hi));
}

}  // namespace

bool parse_loadgen_options(int argc, char** argv, LoadgenOptions& o, int& exit_code) {
  FlagSet f("radixmesh-loadgen",
            "Load generator for OpenAI-compatible routers and workers: multi-turn\n"
            "conversations, shared-prefix groups and unique prompts, open or closed loop.\n"
            "Reports throughput, TTFT and latency percentiles, the workers' cache hit\n"
            "ratio (from usage.prompt_tokens_details.cached_tokens) and load spread.");
  std::vector<std::string> pins;
  f.add("target", "http://127.0.0.1:8000", "base URL to send to (repeatable; random per turn)",
        [&](std::string_view v) { o.targets.emplace_back(v); });
  f.add("pin-by-conversation", "URL1,URL2,...",
        "oracle: every turn of conversation c goes to URL[c % n] (replaces --target)",
        [&](std::string_view v) { pins = split_commas(v); });
  f.add("workload", "multiturn", "multiturn | shared-prefix | unique | mixed",
        [&](std::string_view v) {
          if (v == "multiturn")
            o.workload = WorkloadKind::kMultiturn;
          else if (v == "shared-prefix")
            o.workload = WorkloadKind::kSharedPrefix;
          else if (v == "unique")
            o.workload = WorkloadKind::kUnique;
          else if (v == "mixed")
            o.workload = WorkloadKind::kMixed;
          else
            throw std::invalid_argument("unknown workload '" + std::string(v) + "'");
        });
  f.add("endpoint", "chat", "chat | completions | generate", [&](std::string_view v) {
    if (v == "chat")
      o.api = ApiKind::kChat;
    else if (v == "completions")
      o.api = ApiKind::kCompletions;
    else if (v == "generate")
      o.api = ApiKind::kGenerate;
    else
      throw std::invalid_argument("unknown endpoint '" + std::string(v) + "'");
  });
  f.add("model", o.model, "model name in requests", [&](std::string_view v) { o.model = v; });
  f.add("conversations", std::to_string(o.conversations), "multiturn: conversations (K)",
        [&](std::string_view v) { o.conversations = u32(v, 1, 1 << 24); });
  f.add("system-prompts", std::to_string(o.system_prompts),
        "multiturn: distinct system prompts shared by the conversations (S)",
        [&](std::string_view v) { o.system_prompts = u32(v, 1, 1 << 24); });
  f.add("turns", std::to_string(o.turns), "multiturn: turns per conversation (T)",
        [&](std::string_view v) { o.turns = u32(v, 1, 10000); });
  f.add("groups", std::to_string(o.groups), "shared-prefix: groups (G)",
        [&](std::string_view v) { o.groups = u32(v, 1, 1 << 24); });
  f.add("questions", std::to_string(o.questions), "shared-prefix: questions per group (Q)",
        [&](std::string_view v) { o.questions = u32(v, 1, 1 << 24); });
  f.add("unique-prompts", std::to_string(o.unique_prompts), "unique: prompts (U)",
        [&](std::string_view v) { o.unique_prompts = u32(v, 1, 1 << 24); });
  f.add("system-bytes", std::to_string(o.system_bytes),
        "bytes of a system prompt (multiturn, unique)",
        [&](std::string_view v) { o.system_bytes = u32(v, 0, 64 << 20); });
  f.add("prefix-bytes", std::to_string(o.prefix_bytes), "bytes of a shared prefix (shared-prefix)",
        [&](std::string_view v) { o.prefix_bytes = u32(v, 0, 64 << 20); });
  f.add("turn-bytes", std::to_string(o.turn_bytes), "bytes of a user turn or question",
        [&](std::string_view v) { o.turn_bytes = u32(v, 1, 64 << 20); });
  f.add("max-tokens", std::to_string(o.max_tokens), "max_tokens of every request",
        [&](std::string_view v) { o.max_tokens = u32(v, 1, 1 << 20); });
  f.add("think-ms", "0", "pause between a reply and the same conversation's next turn",
        [&](std::string_view v) { o.think_ms = u32(v, 0, 600000); });
  f.add("concurrency", std::to_string(o.concurrency), "closed loop: requests in flight",
        [&](std::string_view v) { o.concurrency = u32(v, 1, 1 << 16); });
  f.add("rate", "0", "open loop: Poisson arrivals per second (0: closed loop)",
        [&](std::string_view v) { o.rate = parse_double_in(v, 0, 1e7); });
  f.add("max-in-flight", std::to_string(o.max_in_flight), "open loop: bound on requests in flight",
        [&](std::string_view v) { o.max_in_flight = u32(v, 1, 1 << 20); });
  f.add("requests", "0", "stop after sending this many requests (0: the whole workload)",
        [&](std::string_view v) { o.requests = parse_u64(v); });
  f.add("duration", "300", "stop sending after this many seconds",
        [&](std::string_view v) { o.duration_s = parse_double_in(v, 0.001, 86400); });
  f.add("timeout-ms", std::to_string(o.timeout_ms), "deadline of one request, end to end",
        [&](std::string_view v) { o.timeout_ms = u32(v, 1, 3600000); });
  f.add("connect-timeout-ms", std::to_string(o.connect_timeout_ms), "deadline of one connect",
        [&](std::string_view v) { o.connect_timeout_ms = u32(v, 1, 600000); });
  f.add_switch("stream", "stream responses (SSE); TTFT is the first data event", &o.stream);
  f.add_switch("no-stream-options",
               "streamed requests name no stream_options.include_usage, as most clients (no "
               "usage in the responses: read the hit ratio off the workers)",
               &o.no_stream_options);
  f.add("seed", std::to_string(o.seed), "seed of texts, order and target choice",
        [&](std::string_view v) { o.seed = parse_u64(v); });
  f.add("session-header", "(none)", "header carrying the conversation id, e.g. X-Session-Id",
        [&](std::string_view v) { o.session_header = v; });
  f.add("expect-workers", "0",
        "workers that should share the load (the spread counts idle ones; 0: those seen)",
        [&](std::string_view v) { o.expect_workers = u32(v, 0, 1 << 20); });
  f.add("samples", "(none)", "also write one JSON line per request to this file",
        [&](std::string_view v) { o.samples_path = v; });
  f.add("trace", "(none)",
        "replay a Mooncake JSONL trace (timestamp, input_length, output_length, hash_ids) "
        "open loop instead of --workload",
        [&](std::string_view v) { o.trace_path = v; });
  f.add("trace-speedup", "1", "trace replay: send line i at timestamp_i / X",
        [&](std::string_view v) { o.trace_speedup = parse_double_in(v, 1e-3, 1e6); });
  f.add("trace-block-tokens", std::to_string(o.trace_block_tokens),
        "trace replay: tokens per hash id (Mooncake: 512)",
        [&](std::string_view v) { o.trace_block_tokens = u32(v, 1, 1 << 20); });
  f.add_switch("json", "print one JSON object (schema: docs/load-generator.md)", &o.json);

  std::string err = f.parse(argc, argv);
  if (err.empty() && !pins.empty() && !o.targets.empty())
    err = "--pin-by-conversation replaces --target: give one or the other";
  if (!err.empty()) {
    std::fprintf(stderr, "radixmesh-loadgen: %s (see --help)\n", err.c_str());
    exit_code = 2;
    return false;
  }
  if (f.help_requested()) {
    std::fputs(f.help().c_str(), stdout);
    exit_code = 0;
    return false;
  }
  if (f.version_requested()) {
    std::puts("radixmesh-loadgen 0.1.0");
    exit_code = 0;
    return false;
  }
  if (!pins.empty()) {
    o.targets = pins;
    o.pinned = true;
  }
  if (o.targets.empty()) o.targets.push_back("http://127.0.0.1:8000");
  return true;
}

}  // namespace radixmesh::tools::loadgen
