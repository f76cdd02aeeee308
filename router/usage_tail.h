// UsageTail: the worker's reported token usage, read from the end of a
// relayed response without buffering the response.
//
// The relay hands every body piece to feed() as it passes to the client;
// UsageTail keeps only the last kTailBytes (4 KiB) of the body (one copy of
// at most that many bytes per piece, in a buffer reused per connection). When the
// response is complete, usage() looks in that tail for the last usage object:
//
//   OpenAI / vLLM   "usage": {"prompt_tokens": P, "prompt_tokens_details": {"cached_tokens": C}}
//                   (a non-streamed body ends with it; a stream's final usage
//                   chunk comes right before "data: [DONE]")
//   Responses API   "usage": {"input_tokens": P, "input_tokens_details": {"cached_tokens": C}}
//   SGLang          "meta_info": {"prompt_tokens": P, "cached_tokens": C}
//                   (/generate; in a stream, the last event's)
//
// A key is found as `"usage"` followed by `:` and `{`, not preceded by a
// backslash: inside a JSON string every quote is escaped, so generated text
// cannot fake it. The object is brace-matched (string-aware) within the tail
// and parsed. No cached_tokens field (vLLM without
// --enable-prompt-tokens-details, SGLang without --enable-cache-report) is
// "not reported", never 0.
//
// Threads: one per connection, used by its io thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace radixmesh::router {

struct ReportedUsage {
  uint64_t prompt_tokens = 0;
  std::optional<uint64_t> cached_tokens;  // nullopt: the worker does not report it
};

// The last usage (or meta_info) object in `text`; nullopt when none is
// complete in it or it has no prompt token count.
std::optional<ReportedUsage> find_reported_usage(std::string_view text);

class UsageTail {
 public:
  // A usage object is a few hundred bytes; 4 KiB also holds SGLang's
  // meta_info at the end of a long cumulative-text event. Memory: at most
  // 2 * kTailBytes per connection, allocated on its first response.
  static constexpr size_t kTailBytes = 4 * 1024;

  // Starts a response; a disabled tail ignores feed() (a body the router
  // cannot read, e.g. Content-Encoding: gzip, or an endpoint without usage).
  void reset(bool enabled) {
    enabled_ = enabled;
    tail_.clear();
  }
  void feed(const char* data, size_t n);
  std::optional<ReportedUsage> usage() const {
    return enabled_ ? find_reported_usage(tail_) : std::nullopt;
  }

 private:
  bool enabled_ = false;
  std::string tail_;  // the body's last <= 2 * kTailBytes bytes, at least kTailBytes when longer
};

}  // namespace radixmesh::router
