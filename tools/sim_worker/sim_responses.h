// OpenAI-shaped (and SGLang-shaped for /generate) response bodies of the
// simulated worker, built by appending to strings (no DOM on the hot path).
//
// Shapes follow what the official `openai` client parses: id, object,
// created, model, system_fingerprint (the worker id), choices[].index,
// message/delta/text, finish_reason, and usage with
// prompt_tokens_details.cached_tokens. Streams asked for it
// (stream_options.include_usage) end with a usage chunk (choices: []), as
// OpenAI sends it.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sim_worker/sim_request.h"

namespace radixmesh::tools::sim {

void append_json_string(std::string& out, std::string_view s);

// One generated token: 4 bytes (" " + a 3-letter word), deterministic.
std::string_view token_text(uint64_t seed, uint64_t request_no, uint64_t index);

struct Usage {
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t cached_tokens = 0;
};

// Identity of one response, shared by all its chunks.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::kChat;
  std::string id;  // e.g. chatcmpl-...
  std::string model;
  std::string worker_id;
  int64_t created = 0;  // unix seconds
};

std::string error_body(std::string_view message, std::string_view type, std::string_view code);

// Whole non-streaming response; `extra_member` (e.g. a vLLM prefill's
// "kv_transfer_params":{...}) is added to the top-level object when not empty.
std::string completion_body(const ResponseMeta& m, std::string_view text, const Usage& u,
                            const char* finish_reason, std::string_view extra_member = {});

// One streamed event payload (without "data: " framing). `text` is the new
// text of this chunk; for /generate `cumulative` is all text so far.
std::string stream_chunk(const ResponseMeta& m, std::string_view text, std::string_view cumulative,
                         bool first, const char* finish_reason, const Usage& u);

// The final streamed event carrying usage (choices: []); nothing for /generate,
// whose chunks carry meta_info themselves.
std::string usage_chunk(const ResponseMeta& m, const Usage& u);

std::string models_body(const std::vector<std::string>& models, int64_t created);

// Vectors as float arrays, or base64 of little-endian float32 when `base64`.
std::string embeddings_body(std::string_view model, uint64_t inputs, uint32_t dim,
                            uint64_t prompt_tokens, uint64_t seed, bool base64);

}  // namespace radixmesh::tools::sim
