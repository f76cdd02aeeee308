#include "tools/loadgen/workload.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

namespace radixmesh::tools::loadgen {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t key(uint64_t seed, uint64_t what, uint64_t a, uint64_t b = 0) {
  return mix(seed ^ mix(what ^ mix(a ^ mix(b))));
}

enum : uint64_t { kSystem = 1, kTurn, kPrefix, kQuestion, kUniqueSystem, kUniqueTurn, kOrder };

}  // namespace

std::string make_text(uint64_t k, size_t bytes) {
  static constexpr std::string_view kWords[32] = {
      "alpha", "bravo", "cache",  "delta",  "echo",  "fetch",  "gamma",  "hotel",
      "index", "join",  "kernel", "lambda", "merge", "node",   "order",  "prefix",
      "query", "radix", "shard",  "token",  "union", "vector", "worker", "yield",
      "zone",  "block", "route",  "mesh",   "tree",  "gossip", "peer",   "model"};
  std::string out;
  out.reserve(bytes + 8);
  uint64_t state = k;
  while (out.size() < bytes) {
    state = mix(state);
    if (!out.empty()) out.push_back(' ');
    out += kWords[state & 31];
    if ((state >> 5) % 7 == 0) out += std::to_string((state >> 8) % 1000);  // fewer repeats
  }
  out.resize(bytes);
  return out;
}

std::vector<Session> build_workload(const LoadgenOptions& o) {
  std::vector<Session> conv, shared, uniq;
  const bool all = o.workload == WorkloadKind::kMixed;
  if (all || o.workload == WorkloadKind::kMultiturn) {
    for (uint32_t c = 0; c < o.conversations; ++c) {
      Session s;
      s.kind = SessionKind::kConversation;
      s.pin_key = c;
      s.system = {key(o.seed, kSystem, c % o.system_prompts), o.system_bytes};
      for (uint32_t t = 0; t < o.turns; ++t)
        s.user_turns.push_back({key(o.seed, kTurn, c, t), o.turn_bytes});
      conv.push_back(std::move(s));
    }
  }
  if (all || o.workload == WorkloadKind::kSharedPrefix) {
    for (uint32_t g = 0; g < o.groups; ++g) {
      const TextRef prefix{key(o.seed, kPrefix, g), o.prefix_bytes};
      for (uint32_t q = 0; q < o.questions; ++q) {
        Session s;
        s.kind = SessionKind::kSharedPrefix;
        s.pin_key = g;
        s.system = prefix;
        s.user_turns.push_back({key(o.seed, kQuestion, g, q), o.turn_bytes});
        shared.push_back(std::move(s));
      }
    }
  }
  if (all || o.workload == WorkloadKind::kUnique) {
    for (uint32_t u = 0; u < o.unique_prompts; ++u) {
      Session s;
      s.kind = SessionKind::kUnique;
      s.pin_key = u;
      s.system = {key(o.seed, kUniqueSystem, u), o.system_bytes};
      s.user_turns.push_back({key(o.seed, kUniqueTurn, u), o.turn_bytes});
      uniq.push_back(std::move(s));
    }
  }
  // Conversations start in order (the runner rotates them); one-turn sessions
  // are shuffled so that groups interleave as independent users would.
  std::mt19937_64 rng(key(o.seed, kOrder, 0));
  std::shuffle(shared.begin(), shared.end(), rng);
  std::vector<Session> out = std::move(conv);
  for (auto* v : {&shared, &uniq})
    for (auto& s : *v) out.push_back(std::move(s));
  if (all) std::shuffle(out.begin(), out.end(), rng);
  for (size_t i = 0; i < out.size(); ++i) out[i].id = i;
  return out;
}

const char* api_path(ApiKind api) {
  switch (api) {
    case ApiKind::kChat:
      return "/v1/chat/completions";
    case ApiKind::kCompletions:
      return "/v1/completions";
    case ApiKind::kGenerate:
      return "/generate";
  }
  return "/";
}

std::string next_request_body(const Session& s, const LoadgenOptions& o) {
  using nlohmann::json;
  json body;
  body["model"] = o.model;
  const uint32_t max_tokens = s.max_tokens > 0 ? s.max_tokens : o.max_tokens;
  if (!s.prompt_blocks.empty()) {
    std::string prompt;
    for (const TextRef& b : s.prompt_blocks) prompt += make_text(b);
    if (o.api == ApiKind::kChat) {
      body["messages"] = json::array({{{"role", "user"}, {"content", std::move(prompt)}}});
    } else if (o.api == ApiKind::kCompletions) {
      body["prompt"] = std::move(prompt);
    } else {
      body["text"] = std::move(prompt);
      body["sampling_params"] = {{"max_new_tokens", max_tokens}};
    }
  } else if (o.api == ApiKind::kChat) {
    json messages = json::array();
    if (s.system.bytes > 0)
      messages.push_back({{"role", "system"}, {"content", make_text(s.system)}});
    for (size_t t = 0; t <= s.next_turn && t < s.user_turns.size(); ++t) {
      messages.push_back({{"role", "user"}, {"content", make_text(s.user_turns[t])}});
      if (t < s.next_turn && t < s.replies.size())
        messages.push_back({{"role", "assistant"}, {"content", s.replies[t]}});
    }
    body["messages"] = std::move(messages);
  } else {
    // A plain-text transcript that each later turn extends.
    std::string prompt = s.system.bytes > 0 ? make_text(s.system) + "\n\n" : "";
    for (size_t t = 0; t <= s.next_turn && t < s.user_turns.size(); ++t) {
      prompt += "User: " + make_text(s.user_turns[t]) + "\nAssistant:";
      if (t < s.next_turn && t < s.replies.size()) prompt += s.replies[t] + "\n";
    }
    if (o.api == ApiKind::kCompletions) {
      body["prompt"] = std::move(prompt);
    } else {
      body["text"] = std::move(prompt);
      body["sampling_params"] = {{"max_new_tokens", max_tokens}};
    }
  }
  if (o.api != ApiKind::kGenerate) body["max_tokens"] = max_tokens;
  if (o.stream) {
    body["stream"] = true;
    if (o.api != ApiKind::kGenerate && !o.no_stream_options) {
      body["stream_options"] = {{"include_usage", true}};
    }
  }
  return body.dump();
}

}  // namespace radixmesh::tools::loadgen
