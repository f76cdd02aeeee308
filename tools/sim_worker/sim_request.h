// Parsing of inference request bodies into what the simulated worker needs:
// the model, the canonical prompt bytes, max output tokens and streaming.
//
// Canonical prompt (only its prefix property matters: a later chat turn's
// bytes extend the earlier turn's):
//   chat         ["tools\n" + tools JSON + "\n"] then per message
//                role + "\n" + text content + "\n" (non-text parts: their JSON)
//   completions  prompt (string, array of strings joined, or token ids)
//   /generate    text, or input_ids
//   embeddings   input (string or array)
//   responses    ["system\n" + instructions + "\n"] then input: a string as
//                one user message, or items as chat messages
// Token ids are encoded as 4 little-endian bytes each, so one id is one token
// and a block holds block_tokens ids, in a namespace apart from text.
//
// Thread safety: parse_sim_request() is reentrant; the simdjson parser passed
// in must not be shared between threads (use one per thread).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "radix/result.h"

namespace radixmesh::tools::sim {

enum class Endpoint { kChat, kCompletions, kGenerate, kEmbeddings, kResponses };
inline constexpr int kEndpointCount = 5;

const char* endpoint_name(Endpoint e);

// The prefill/decode fields of a request, as SGLang and vLLM carry them.
struct PdFields {
  // SGLang: top-level bootstrap_host, bootstrap_port, bootstrap_room.
  std::string bootstrap_host;
  std::optional<uint64_t> bootstrap_port;
  std::optional<uint64_t> bootstrap_room;
  // vLLM: the kv_transfer_params object (null members read as absent).
  bool has_kv_params = false;
  bool do_remote_decode = false;
  bool do_remote_prefill = false;
  std::string remote_engine_id;
  std::string remote_host;
  std::optional<uint64_t> remote_port;
  std::vector<uint64_t> remote_block_ids;

  bool has_bootstrap() const { return !bootstrap_host.empty() || bootstrap_port || bootstrap_room; }
};

struct SimRequest {
  std::string model;   // empty when the request names none
  std::string prompt;  // canonical bytes
  bool token_ids = false;
  uint64_t prompt_tokens = 0;
  std::optional<uint64_t> max_tokens;
  bool stream = false;
  // stream_options.include_usage: a stream ends with a usage chunk only when
  // asked (as OpenAI and vLLM do).
  bool include_usage = false;
  uint64_t embedding_inputs = 1;
  bool embedding_base64 = false;  // encoding_format "base64" (the openai client's default)
  PdFields pd;
};

// Errors are kInvalidArgument with a message fit for an OpenAI error body.
Result<SimRequest> parse_sim_request(Endpoint endpoint, std::string_view body,
                                     simdjson::dom::parser& parser);

}  // namespace radixmesh::tools::sim
