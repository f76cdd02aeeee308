// Hashing and request-parsing throughput (part of radix-bench).
//
//   BM_HashBlocks/<bytes>       hash_blocks over 64-byte blocks: bytes/s is
//                               the figure compared with the 5 GB/s target
//   BM_ParseChat/<bytes>/<pad>  RequestParser::parse_into of a chat body;
//                               pad=1: the body has RequestParser::kPadding
//                               spare bytes and is parsed in place (no copy)
//   BM_ParseAndHash/<bytes>/<pad>/<one>  parse_into + chain_seed + hash_blocks
//   BM_ParseChained/<bytes>/<pad>/<one>  parse_into naming the blocks itself
//                               (ChainSpec): the router's per-request
//                               prompt cost. one=1: the prompt is one
//                               message (the proxy benchmark's body)
//
// Inputs are built once outside the timed loop; every loop reuses its output
// buffers as the router's threads do. Method and figures: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "radix/block_hash.h"
#include "radix/canonical_prompt.h"

namespace {

using radixmesh::radix::BlockHash;
using radixmesh::radix::chain_seed;
using radixmesh::radix::ChainSpec;
using radixmesh::radix::Endpoint;
using radixmesh::radix::hash_blocks;
using radixmesh::radix::ParsedRequest;
using radixmesh::radix::PromptNamespace;
using radixmesh::radix::RequestParser;

// Printable pseudo-random text (deterministic), like prompt text.
std::string text_of(size_t n, uint32_t seed) {
  static const char kWords[][8] = {"the ",   "cache ", "router ", "prefix ", "of ", "a ",
                                   "model ", "token ", "block ",  "and ",    "is ", "to "};
  std::string s;
  s.reserve(n + 8);
  uint32_t x = seed;
  while (s.size() < n) {
    x = x * 1664525u + 1013904223u;
    s += kWords[(x >> 16) % 12];
  }
  s.resize(n);
  return s;
}

void escape_into(const std::string& text, std::string& out) {
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

// An OpenAI chat body of about `bytes` bytes: one tool, a system prompt and
// alternating user/assistant turns, the shape the router sees most.
std::string chat_body(size_t bytes) {
  std::string body =
      R"({"model":"llama-3-8b-instruct","stream":true,"user":"u-1","tools":[{"type":"function",)"
      R"("function":{"name":"get_weather","description":"Current weather for a city",)"
      R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},)"
      R"("required":["city"]}}}],"messages":[{"role":"system","content":")";
  escape_into(text_of(bytes / 8, 1), body);
  body += "\"}";
  uint32_t turn = 0;
  while (body.size() + 64 < bytes) {
    const size_t len = std::min<size_t>(bytes - body.size() - 40, 400 + 300 * (turn % 3));
    body +=
        turn % 2 == 0 ? R"(,{"role":"user","content":")" : R"(,{"role":"assistant","content":")";
    escape_into(text_of(len, 100 + turn), body);
    body += "\"}";
    ++turn;
  }
  body += "]}";
  return body;
}

// A chat body whose prompt is one user message of about `bytes` bytes (the
// proxy benchmark's 32 KB request).
std::string one_message_body(size_t bytes) {
  std::string body =
      R"({"model":"sim-model","max_tokens":1,"messages":[{"role":"user","content":")";
  escape_into(text_of(bytes, 5), body);
  body += "\"}]}";
  return body;
}

std::string body_for(const benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  return state.range(2) != 0 ? one_message_body(bytes) : chat_body(bytes);
}

void BM_HashBlocks(benchmark::State& state) {
  const std::string input = text_of(static_cast<size_t>(state.range(0)), 7);
  const uint64_t seed = chain_seed(42, "llama-3-8b-instruct", PromptNamespace::kText);
  std::vector<BlockHash> out;
  out.reserve(input.size() / 64 + 1);
  for (auto _ : state) {
    out.clear();
    hash_blocks(input, seed, 64, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HashBlocks)->Arg(2 << 10)->Arg(32 << 10)->Arg(1 << 20)->MinTime(0.2);

void BM_ParseChat(benchmark::State& state) {
  std::string body = chat_body(static_cast<size_t>(state.range(0)));
  const bool padded = state.range(1) != 0;
  body.reserve(body.size() + RequestParser::kPadding);
  RequestParser parser;
  ParsedRequest req;
  for (auto _ : state) {
    if (!parser.parse_into(body, Endpoint::kChatCompletions, req, padded).ok()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(req.canonical.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  state.counters["canonical_bytes"] = static_cast<double>(req.canonical.size());
}
BENCHMARK(BM_ParseChat)->ArgsProduct({{2 << 10, 32 << 10}, {0, 1}})->MinTime(0.2);

// The per-request prompt cost: `step(parser, body, padded, req, hashes)`
// parses one body into hashes (false on error), over a reused parser.
template <typename Step>
void prompt_cost(benchmark::State& state, Step step) {
  std::string body = body_for(state);
  const bool padded = state.range(1) != 0;
  body.reserve(body.size() + RequestParser::kPadding);
  RequestParser parser;
  ParsedRequest req;
  std::vector<BlockHash> hashes;
  hashes.reserve(body.size() / 64 + 1);
  for (auto _ : state) {
    if (!step(parser, body, padded, req, hashes)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(hashes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  state.counters["blocks"] = static_cast<double>(hashes.size());
}

void BM_ParseAndHash(benchmark::State& state) {
  prompt_cost(state, [](RequestParser& parser, const std::string& body, bool padded,
                        ParsedRequest& req, std::vector<BlockHash>& hashes) {
    if (!parser.parse_into(body, Endpoint::kChatCompletions, req, padded).ok()) return false;
    hashes.clear();
    hash_blocks(req.canonical, chain_seed(42, req.model, req.ns), 64, hashes);
    return true;
  });
}
BENCHMARK(BM_ParseAndHash)->ArgsProduct({{2 << 10, 32 << 10}, {0, 1}, {0, 1}})->MinTime(0.2);

// The router's path: the parser names the blocks itself (ChainSpec), the
// canonical bytes are hashed as produced and never gathered.
void BM_ParseChained(benchmark::State& state) {
  const ChainSpec spec{42, "", 64};
  prompt_cost(state, [&spec](RequestParser& parser, const std::string& body, bool padded,
                             ParsedRequest& req, std::vector<BlockHash>& hashes) {
    return parser.parse_into(body, Endpoint::kChatCompletions, req, padded, spec, hashes).ok();
  });
}
BENCHMARK(BM_ParseChained)->ArgsProduct({{2 << 10, 32 << 10}, {0, 1}, {0, 1}})->MinTime(0.2);

}  // namespace
