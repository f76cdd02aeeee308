// What the router learns from a request body: the types RequestParser fills.
//
// ParsedRequest is a plain value owned by the caller. `canonical` holds the
// deterministic prompt bytes of docs/canonical-prompts.md: the same
// conversation gives the same bytes on every router, and a later turn's bytes
// extend the earlier turn's as a prefix, so the prefix tree sees the earlier
// turn as a prefix of the later one.
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "radix/block_hash.h"

namespace radixmesh::radix {

// The proxied POST endpoints whose bodies carry a prompt.
enum class Endpoint { kChatCompletions, kCompletions, kGenerate, kResponses, kEmbeddings };

// "/v1/chat/completions" -> kChatCompletions, ... ; nullopt for other paths.
// A query string ("?...") is ignored.
std::optional<Endpoint> endpoint_for_path(std::string_view path);
const char* to_string(Endpoint endpoint);

struct ParsedRequest {
  std::string model;  // "" when absent (the router then uses its default)
  PromptNamespace ns = PromptNamespace::kText;
  std::string canonical;       // deterministic bytes; a later chat turn extends the earlier
                               // (left empty when the parser names blocks itself: ChainSpec)
  size_t canonical_bytes = 0;  // size of the canonical prompt, in both modes
  bool stream = false;
  bool has_stream_options = false;  // the body names stream_options (any value, even null)
  std::string user;         // "user" field if a string (session key for consistent_hash)
  size_t prompt_chars = 0;  // size of the prompt content, for load estimates
                            // (text bytes; 4 per token id)
};

// Asks RequestParser::parse_into to name the prompt's blocks itself, as
// hash_blocks(canonical, chain_seed(cluster_salt, model or default_model,
// ns), block_bytes) would, hashing the canonical bytes as they are produced
// instead of keeping them (the router's hot path: no 32 KB copy).
struct ChainSpec {
  uint64_t cluster_salt = 0;
  std::string_view default_model;  // the model when the body names none
  size_t block_bytes = kDefaultBlockBytes;
};

// Every bound the parser enforces. Exceeding one is ErrorCode::kTooLarge,
// except max_depth: nesting is a shape error (kInvalidArgument, a 400).
struct ParseLimits {
  size_t max_body_bytes = 8 << 20;       // before any parsing
  size_t max_depth = 64;                 // JSON nesting (arrays + objects)
  size_t max_array_items = 100000;       // any array the parser walks
  size_t max_canonical_bytes = 8 << 20;  // the canonical output
  bool operator==(const ParseLimits&) const = default;
};

}  // namespace radixmesh::radix
