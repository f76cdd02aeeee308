// The load generator's workloads, as a deterministic list of sessions.
//
// A session is a sequence of user turns sent in order, each carrying the whole
// history: the system prompt (or shared prefix), earlier user turns and the
// assistant replies the server returned. Kinds:
//   multiturn      K conversations of T turns; conversation c uses system
//                  prompt c % S (S shared system prompts)
//   shared-prefix  G groups x Q one-turn questions over a long prefix per group
//   unique         U one-turn prompts sharing nothing
//   mixed          all three sets together, interleaved
// Texts depend only on (seed, what they are), never on timing, so two runs
// with the same seed send the same prompts (replies aside).
//
// Thread safety: plain values; the runner owns the sessions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/loadgen/loadgen_options.h"

namespace radixmesh::tools::loadgen {

enum class SessionKind { kConversation, kSharedPrefix, kUnique, kTrace };

// A text by its generator key and size: texts are produced when a request is
// built, so a large workload costs memory per request in flight, not per
// prompt planned.
struct TextRef {
  uint64_t key = 0;
  uint32_t bytes = 0;
  bool operator==(const TextRef&) const = default;
};

struct Session {
  uint64_t id = 0;       // position in the workload
  uint64_t pin_key = 0;  // conversation, group or prompt number: chooses a pinned target
  SessionKind kind = SessionKind::kConversation;
  TextRef system;  // system prompt or shared prefix; may be empty
  std::vector<TextRef> user_turns;
  std::vector<std::string> replies;  // one per completed turn
  size_t next_turn = 0;
  // Trace replay (tools/loadgen/trace.h): the prompt is these texts joined,
  // sent at send_at_ms / speedup, with max_tokens (0: the option's).
  std::vector<TextRef> prompt_blocks;
  double send_at_ms = 0;
  uint32_t max_tokens = 0;

  bool done() const { return next_turn >= user_turns.size(); }
};

// Deterministic text of exactly `bytes` bytes (space-separated words).
std::string make_text(uint64_t key, size_t bytes);
inline std::string make_text(TextRef t) {
  return make_text(t.key, t.bytes);
}

std::vector<Session> build_workload(const LoadgenOptions& o);

// URL path of the API (e.g. /v1/chat/completions).
const char* api_path(ApiKind api);

// The JSON body of the session's next turn.
std::string next_request_body(const Session& s, const LoadgenOptions& o);

}  // namespace radixmesh::tools::loadgen
