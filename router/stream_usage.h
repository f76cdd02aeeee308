// Usage on every stream: the router asks the worker for the usage chunk a
// client did not ask for, reads it (cached-token feedback,
// router/cache_feedback.h) and keeps it from the client.
//
// A streamed chat or completions request without `stream_options` makes a
// worker send no usage at all, so the router could not learn what the
// worker really cached. With --stream-usage (on by default) the router adds
//
//     "stream_options":{"include_usage":true},
//
// right after the body's opening brace (a splice in the gather write: the
// client's bytes are not copied) and the relay drops the one event the
// worker then adds, the usage-only chunk (`"choices":[]` and a `usage`
// object, right before `data: [DONE]`), with UsageChunkFilter. Every other
// byte reaches the client unchanged.
//
// Not touched: a body that names stream_options at all (even null or
// include_usage false: the client decided), non-streamed requests, other
// endpoints (the Responses API and SGLang's /generate report usage anyway).
//
// An engine that changes other chunks when asked for usage (vLLM 0.5 puts
// "usage": null in every chunk; continuous usage stats put it in each) would
// change what the client sees: UsageChunkFilter notices a usage key outside
// the usage-only chunk, and the router stops asking that worker
// (Worker::stream_usage_off). The one stream that showed it is not repaired.
//
// Threads: pure functions and a per-connection filter, no shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace radixmesh::router {

// The member the router splices into a streamed request's body.
inline constexpr std::string_view kIncludeUsageMember =
    "\"stream_options\":{\"include_usage\":true},";

// Where kIncludeUsageMember goes: just after the top-level object's opening
// brace. nullopt when the body does not start (after whitespace) with '{'.
std::optional<size_t> include_usage_offset(std::string_view body);

// Removes the usage-only chunk from an SSE stream as it is relayed.
//
// Pieces arrive as the worker sent them. A piece made of whole events with
// no `"usage"` in it goes out as is (no copy: the common case). Otherwise
// the filter holds the last, incomplete event (a client cannot act on part
// of an event anyway) and copies the complete ones out, minus the usage-only
// chunk. An event longer than kMaxHeldBytes cannot be a usage chunk: it is
// let through as it comes. Events end with a blank line ("\n\n" or
// "\r\n\r\n").
class UsageChunkFilter {
 public:
  static constexpr size_t kMaxHeldBytes = 16 * 1024;

  // Starts a response; a disabled filter passes every piece through.
  void reset(bool enabled);
  bool enabled() const { return enabled_; }

  // One body piece -> the bytes to send for it now (the piece itself, or a
  // view of the filter's own buffer, valid until the next call); `last`:
  // the response ends with it (held bytes are released whatever they are).
  std::string_view filter(std::string_view piece, bool last);

  // The usage-only chunk was seen (and dropped).
  bool dropped_usage() const { return dropped_; }
  // An event other than the usage-only chunk carried a "usage" key: the
  // worker changes its stream when asked for usage.
  bool saw_other_usage() const { return other_usage_; }

 private:
  void take_events(bool last);

  bool enabled_ = false;
  bool dropped_ = false;
  bool other_usage_ = false;
  bool passing_long_event_ = false;  // inside an event too long to hold
  std::string held_;                 // an incomplete event (<= kMaxHeldBytes)
  std::string out_;                  // complete events to send from the slow path
};

// Is `event` (one SSE event, blank line included) the usage-only chunk: a
// `data:` event whose JSON is an object with "choices": [] and a "usage"
// object?
bool is_usage_only_event(std::string_view event);

}  // namespace radixmesh::router
